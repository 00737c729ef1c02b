"""TextCorpusDataModule: sources, splits, packing, caching, transforms, evaluation items."""

from __future__ import annotations

import json

import pytest
import torch

from datamodules import TextCorpusDataModule
from datamodules.text import IGNORE_INDEX, document_windows, pack_whole
from datamodules.tinyworld import open_book_items
from datamodules.transforms import DocumentTransform
from datamodules.transforms.rc_templates import INTROS
from datamodules.transforms.reading_comprehension import ReadingComprehension
from zoo.errors import ZooError

SMALL_WORLD = {"n_entities": 12}


def small(**kwargs) -> TextCorpusDataModule:
    return TextCorpusDataModule(**{"world": SMALL_WORLD, "block_size": 32, "batch_size": 4, "val_fraction": 0.1,
                                   "test_fraction": 0.1, **kwargs})


def test_blocks_are_packed_documents_with_separators():
    dm = small()
    dm.setup("fit")
    train = dm.blocks["train"]
    assert train.shape[1] == 32 and train.dtype == torch.long
    tok = dm.tokenizer
    flat = train.flatten().tolist()
    assert flat[0] == tok.bos_token_id and tok.eos_token_id in flat
    assert tok.pad_token_id not in flat, "packed blocks never need padding"
    # Every split is non-empty and splits are disjoint by document.
    assert all(len(dm.blocks[s]) > 0 for s in ("train", "val", "test"))


def test_splits_are_by_document_and_seeded():
    from datamodules.base import split_of

    ids = [f"doc{i}" for i in range(2000)]
    splits = [split_of(i, 0.1, 0.1, seed=0) for i in ids]
    assert 0.07 < splits.count("test") / len(ids) < 0.13
    assert splits == [split_of(i, 0.1, 0.1, seed=0) for i in ids]
    assert splits != [split_of(i, 0.1, 0.1, seed=1) for i in ids]


def test_seed_orders_the_data_and_split_seed_splits_it():
    base, reseeded, resplit = small(), small(seed=1), small(split_seed=1)
    for dm in (base, reseeded, resplit):
        dm.setup()
    assert len({base.fingerprint, reseeded.fingerprint, resplit.fingerprint}) == 3
    # Another seed keeps the split (the same sequences in every split) and changes the training order.
    assert all(torch.equal(base.blocks[s], reseeded.blocks[s]) for s in ("train", "val", "test"))
    first = [next(iter(dm.train_dataloader()))["input_ids"] for dm in (base, reseeded)]
    assert not torch.equal(*first)
    # Another split seed holds out other documents.
    assert not torch.equal(base.blocks["test"], resplit.blocks["test"])


def test_cache_is_keyed_by_fingerprint(zoo_home):
    a, b = small(), small(block_size=48)
    a.setup(), b.setup()
    assert a.fingerprint != b.fingerprint
    assert (a.cache_path / "meta.json").exists() and a.cache_path.parent == zoo_home / "cache" / "datasets"
    again = small()
    again.setup()
    assert torch.equal(again.blocks["train"], a.blocks["train"])


def test_local_jsonl_txt_and_parquet_sources(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"text": f"Document number {i} talks about rivers, hills and the weather in town. " * 3} for i in range(40)]
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (tmp_path / "c.txt").write_text("\n".join(r["text"] for r in rows))
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "c.parquet")
    blocks = {}
    for name in ("c.jsonl", "c.txt", "c.parquet"):
        dm = small(source=str(tmp_path / name))
        dm.setup()
        blocks[name] = dm.blocks["train"]
    assert torch.equal(blocks["c.jsonl"], blocks["c.parquet"])
    assert torch.equal(blocks["c.jsonl"], blocks["c.txt"])


def test_text_field_and_missing_column(tmp_path):
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps({"body": "some words here " * 20}) for _ in range(30)))
    with pytest.raises(ZooError, match="no 'text' column.*--data.text_field"):
        small(source=str(tmp_path / "c.jsonl")).setup()
    small(source=str(tmp_path / "c.jsonl"), text_field="body").setup()


def test_too_small_corpus_names_the_split(tmp_path):
    (tmp_path / "c.jsonl").write_text(json.dumps({"text": "tiny"}))
    with pytest.raises(ZooError, match="split has no full 32-token block"):
        small(source=str(tmp_path / "c.jsonl")).setup()


def test_hub_source_fails_fast_offline():
    with pytest.raises(ZooError, match="cannot load dataset hf-hub:nobody/nothing.*offline"):
        small(source="hf-hub:nobody/nothing").setup()


class Shout(DocumentTransform):
    """Upper-cases documents and appends a copy: a transform that changes text and count."""

    def __init__(self, copies: int = 1):
        self.copies = copies

    def __call__(self, batch):
        return {key: [v for v in values for _ in range(1 + self.copies)] if key != "text" else
                [t.upper() for t in values for _ in range(1 + self.copies)] for key, values in batch.items()}


def test_transform_applies_to_train_only_and_joins_the_fingerprint():
    plain, shouted = small(), small(transform=Shout())
    plain.setup(), shouted.setup()
    assert plain.fingerprint != shouted.fingerprint != small(transform=Shout(copies=2)).fingerprint
    assert len(shouted.blocks["train"]) > 1.8 * len(plain.blocks["train"])
    assert torch.equal(shouted.blocks["test"], plain.blocks["test"]), "held-out text stays raw"


def test_qa_text_part_adds_question_answer_texts():
    docs_only, with_qa = small(), small(world_parts=["documents", "qa_text"])
    docs_only.setup(), with_qa.setup()
    assert len(with_qa.blocks["train"]) > len(docs_only.blocks["train"])
    with pytest.raises(ZooError, match="unknown parts"):
        small(world_parts=["questions"])


def test_test_loaders_score_stored_and_extractable_facts():
    dm = small()
    dm.setup("test")
    loaders = dm.test_dataloader()
    assert dm.test_loader_names() == ["test", "cloze", "question", "open_book"] and len(loaders) == 4
    batch = next(iter(loaders[2]))
    n_items = batch["gold"].numel()
    assert batch["input_ids"].shape[0] == n_items * int(batch["n_choices"])
    # The continuation mask covers exactly each option's tokens.
    question = dm.tinyworld.questions[0]
    option_ids = dm.tokenizer(question["options"][0], add_special_tokens=False)["input_ids"]
    row = batch["input_ids"][0][batch["continuation_mask"][0]].tolist()
    assert row == option_ids
    # Open book: the whole unseen document stands in the prompt, uncut, before the question.
    open_book = next(iter(loaders[3]))
    item = open_book_items(dm.tinyworld)[0]
    prompt_ids = dm.tokenizer(item["prompt"], add_special_tokens=False)["input_ids"]
    first_row = open_book["input_ids"][0][open_book["attention_mask"][0].bool()].tolist()
    assert first_row[0] == dm.tokenizer.bos_token_id and first_row[1:1 + len(prompt_ids)] == prompt_ids
    assert open_book["gold"][0].item() == item["answer_index"]


def test_bad_arguments_are_clear():
    with pytest.raises(ZooError, match="val_fraction"):
        small(val_fraction=0.7)
    with pytest.raises(ZooError, match="packing='whole' is not a packing; use one of blocks, documents"):
        small(packing="whole")
    with pytest.raises(ZooError, match="block_size"):
        small(block_size=2)
    with pytest.raises(ZooError, match="n_entities"):
        small(world={"n_entities": 1}).setup()


def test_reading_comprehension_transform_reports_and_never_leaks_titles():
    from datamodules.transforms.reading_comprehension import ReadingComprehension

    dm = small(source="tinyworld:biomed", transform=ReadingComprehension(domain="biomed"))
    dm.setup()
    report = dm.report["transform_report"]
    assert report["documents"] > 0 and report["examples"] > report["documents"]
    assert report["families"]["nli"]["examples"] > 0
    train = dm.tokenizer.decode(dm.blocks["train"].flatten().tolist())
    # The title is the answer of the summarization task: it appears after a question, never as a heading.
    titles = {d["title"] for d in dm.tinyworld.documents}
    assert not any(f"<|bos|>{title}\n\n" in train for title in titles)
    assert any(title in train for title in titles)


# --------------------------------------------------------------------------- packing by documents
def test_windows_cut_at_paragraphs_then_sentences_and_repeat_the_head():
    ids = list(range(20))
    # The head (bos and a 3-token document) opens every later window: each next paragraph fits beside it.
    assert document_windows(ids, 10, paragraph_cuts=[4, 8, 11, 15, 18], sentence_cuts=[], head=4) == [
        ([0, 1, 2, 3, 4, 5, 6, 7], 0),                 # up to the last paragraph start that fits
        ([0, 1, 2, 3, 8, 9, 10], 4),
        ([0, 1, 2, 3, 11, 12, 13, 14], 4),
        ([0, 1, 2, 3, 15, 16, 17, 18, 19], 4)]
    # A paragraph too long to sit beside the head: no head, cut at a sentence start, else where the window is full.
    assert document_windows(ids, 8, paragraph_cuts=[4, 6], sentence_cuts=[10, 13], head=4) == [
        ([0, 1, 2, 3, 4, 5], 0), ([6, 7, 8, 9, 10, 11, 12], 0), ([13, 14, 15, 16, 17, 18, 19], 0)]
    assert document_windows(ids, 8, [], []) == [(ids[:8], 0), (ids[8:16], 0), (ids[16:], 0)]


def test_pieces_are_packed_whole_longest_first_with_padding_and_repeated_heads_masked():
    input_ids, labels = pack_whole([([1, 2, 3], 0), ([4, 5], 0), ([6, 7, 8, 9, 10], 1)], size=6, pad_id=0)
    assert input_ids.tolist() == [[6, 7, 8, 9, 10, 0], [1, 2, 3, 4, 5, 0]]
    x = IGNORE_INDEX
    assert labels.tolist() == [[x, 7, 8, 9, 10, x], [1, 2, 3, 4, 5, x]]


def rc_documents(block_size: int) -> TextCorpusDataModule:
    return small(source="tinyworld:biomed", block_size=block_size, packing="documents",
                 transform=ReadingComprehension(domain="biomed"))


def segments(dm: TextCorpusDataModule, row: torch.Tensor) -> list[str]:
    """The texts of a sequence, cut before each bos (where documents and windows that repeat their head start)."""
    tok = dm.tokenizer
    starts = [0, *(row == tok.bos_token_id).nonzero().flatten().tolist()]
    return [tok.decode(row[a:b].tolist(), skip_special_tokens=True)
            for a, b in zip(starts, [*starts[1:], len(row)]) if b > a]


@pytest.mark.parametrize("block_size", [2048, 512])
def test_documents_packing_reads_every_task_with_its_document(block_size):
    dm = rc_documents(block_size)
    dm.setup()
    rows = dm._split_rows()[0]["train"]
    documents = {text[:context] for text, context in rows}
    assert min(len(d) for d in documents) > 100
    cut = dm.report["packing"]["train"]["documents_cut"]
    assert (cut == 0) == (block_size == 2048), "512 tokens are too few for some RC texts, 2048 hold every one"
    tok, with_tasks = dm.tokenizer, 0
    assert bool((dm.blocks["train"][:, 0] == tok.bos_token_id).all()), "every piece starts with bos and a document"
    for row in dm.blocks["train"]:
        for segment in segments(dm, row):
            if any(intro in segment for intro in INTROS):
                with_tasks += 1
                assert any(segment.startswith(document) for document in documents), segment[:200]
    assert with_tasks > len(rows) // 2
    # Each document ends once (eos); sequences end in padding only, which the labels skip.
    train, labels = dm.blocks["train"], dm.labels["train"]
    assert int((train == tok.eos_token_id).sum()) == len(rows)
    padding = train == tok.pad_token_id
    assert padding.any() and bool((labels[padding] == IGNORE_INDEX).all())
    real = ~padding
    assert bool((real.cumsum(1) == real.sum(1, keepdim=True)).logical_or(real).all()), "padding only at the end"
    masked = (labels == IGNORE_INDEX) & real
    assert bool(masked.any()) == (block_size == 512), "only repeated documents are masked besides padding"
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"input_ids", "labels"} and batch["labels"].shape == batch["input_ids"].shape
    assert "<|pad|>" not in "".join(dm.training_texts())


def test_documents_packing_never_cuts_a_document_that_fits():
    blocks, documents = small(block_size=256), small(block_size=256, packing="documents")
    blocks.setup(), documents.setup()
    assert blocks.fingerprint != documents.fingerprint and "labels" not in blocks._blocks("train").columns
    tok = documents.tokenizer
    texts = [text for text, _ in documents._split_rows()[0]["train"]]
    fitting = [t for t in texts if len(tok(t, add_special_tokens=False)["input_ids"]) + 2 <= 256]
    assert len(fitting) > 10
    pieces = [segment for row in documents.blocks["train"] for segment in segments(documents, row)]
    # (A window of a longer document, which starts without bos, may follow a whole one in its sequence.)
    assert all(any(piece.startswith(t) for piece in pieces) for t in fitting), "a document that fits is never cut"
    rows = [tok.decode(row.tolist(), skip_special_tokens=True) for row in blocks.blocks["train"]]
    assert sum(not any(t in row for row in rows) for t in fitting) > len(fitting) // 3, "blocks cut many of them"
