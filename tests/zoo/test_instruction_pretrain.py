"""Instruction Pre-Training: the synthesizer's data and loss, synthesis (sharded, multi-round), augmentation."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from datamodules.instruction import (
    IGNORE_INDEX,
    SynthesizerDataModule,
    context_ids,
    example_row,
    few_shot_prompt,
    pack_examples,
    synthesizer_examples,
)
from datamodules.synthesis import SynthesisDataModule, read_shards
from datamodules.tinyworld import generate_world
from datamodules.tinyworld.domain import DOMAINS
from datamodules.transforms.instruction_format import CON_END, QAPair, render_pairs, synthesizer_example
from tests.conftest import TINY
from zoo.errors import ZooError


def synth_data(**kwargs) -> SynthesizerDataModule:
    dm = SynthesizerDataModule(**{"world": {"n_entities": 24}, "max_length": 256, "batch_size": 4, **kwargs})
    dm.setup()
    return dm


def test_examples_come_from_synthesizer_entities_only():
    from datamodules.tinyworld import generate_world

    world = generate_world(n_entities=24)
    evaluated = {e["name"] for e in world.entities if e["split"] == "eval"}
    examples = synthesizer_examples("tinyworld:general", {"n_entities": 24})
    entity_of = {p["id"]: p["entity"] for p in world.qa_pairs}
    assert examples and all(entity_of[e["id"]] not in evaluated for e in examples)
    # Documents mention related entities, but no question asks about an evaluated one.
    assert not any(name in pair["question"] for e in examples for pair in e["pairs"] for name in evaluated)


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_the_synthesizer_never_asks_in_the_evaluations_wordings(domain):
    """The evaluation's question templates (``Attribute.questions``, tinyworld's question task) and the
    synthesizer's share none, by the contamination check's rule: words normalised, entity and answer cut out,
    the task's prompt format dropped, a cut-out standing for 1 to 4 words."""
    from benchmarks.contamination import ItemIndex, item_template
    from datamodules.tinyworld import generate_world
    from datamodules.tinyworld.instructions import SYNTHESIZER_QUESTIONS

    name, answer = "Vela Orsino", "Port Ambry"
    attributes = DOMAINS[domain].attributes
    # Every wording an evaluation item can take, as world.py writes its question items.
    evaluation = {item_template(f"Question: {q.format(name=name)}\nAnswer: {answer}", [name, answer])
                  for a in attributes for q in a.questions}
    wordings = [w for a in attributes for w in SYNTHESIZER_QUESTIONS[domain][a.name]]
    assert not {item_template(w.format(name=name), [name]) for w in wordings} & \
        {item_template(q.format(name=name), [name]) for a in attributes for q in a.questions}
    index = ItemIndex()
    index.add_templates(domain, evaluation)
    written = [render_pairs([QAPair(w.format(name=name), answer)]) for w in wordings]
    examples = synthesizer_examples(f"tinyworld:{domain}", {"n_entities": 24, "n_attributes": len(attributes)})
    trained = ["".join(synthesizer_example(e["context"], e["pairs"])) for e in examples]
    assert index.scan(written + trained)[1] == set()
    # The check has teeth: the world's own pairs (the evaluation's wordings) hold its templates.
    world = generate_world(domain=domain, n_entities=24)
    assert index.scan("".join(synthesizer_example(p["context"], p["pairs"])) for p in world.qa_pairs)[1]


def test_few_shot_training_sequences_and_the_multi_round_prompt_are_one_format():
    from datamodules.tokenizer import load_tokenizer

    tok = load_tokenizer("tinyworld")
    first = ("Ann was born in Oslo.", [QAPair("Where was Ann born?", "Oslo")])
    second = ("Bo works as a baker.", [QAPair("What job does Bo have?", "baker"), QAPair("Who is Bo?", "a baker")])
    rows = [example_row(tok, context, pairs, 512) for context, pairs in (first, second)]
    (ids, labels), = pack_examples(rows, 512)
    examples = ("<|bos|> <CON> Ann was born in Oslo. </CON>\n\n<QUE> Where was Ann born? <ANS> Oslo </END><|eos|>"
                "<|bos|> <CON> Bo works as a baker. </CON>\n\n<QUE> What job does Bo have? <ANS> baker </END>\n\n"
                "<QUE> Who is Bo? <ANS> a baker </END><|eos|>")
    assert tok.decode(ids) == examples
    assert tok.decode([t for t in labels if t != IGNORE_INDEX]) == (
        "<QUE> Where was Ann born? <ANS> Oslo </END><|eos|>"
        "<QUE> What job does Bo have? <ANS> baker </END>\n\n<QUE> Who is Bo? <ANS> a baker </END><|eos|>")
    assert pack_examples(rows, len(ids) - 1) == rows, "an example that does not fit starts the next sequence"
    # Round 3 of a multi-round synthesis: the text after its chain, the training sequence continued.
    prompt, used = few_shot_prompt(tok, "Cy lives in Rome.", [first, second], budget=512)
    assert tok.decode(prompt) == examples + "<|bos|> <CON> Cy lives in Rome. </CON>\n\n" and used == [first, second]
    assert prompt[:len(ids)] == ids
    plain, used = few_shot_prompt(tok, "Cy lives in Rome.", [first, second], budget=len(prompt) - 1)
    assert tok.decode(plain) == "<|bos|> <CON> Cy lives in Rome. </CON>\n\n" and used == [], "all or none"


def test_training_sequences_hold_several_examples_within_the_window():
    dm = synth_data(max_length=1024)
    tok = dm.tokenizer
    rows = dm.splits["train"].rows
    assert all(len(ids) <= 1024 for ids, _ in rows) and max(ids.count(tok.bos_token_id) for ids, _ in rows) > 1
    for ids, labels in rows:
        assert ids[0] == tok.bos_token_id and labels[-1] == ids[-1] == tok.eos_token_id
        # Every example's labels are its pairs and eos: what follows its closing marker.
        for example in tok.decode(ids).split("<|bos|>")[1:]:
            assert example.endswith("</END><|eos|>") and f"{CON_END}\n\n<QUE>" in example
        assert tok.decode([t for t in labels if t != IGNORE_INDEX]).count("<|eos|>") == ids.count(tok.bos_token_id)


def test_the_split_is_fixed_by_split_seed_and_seed_orders_the_examples():
    def examples(dm: SynthesizerDataModule, split: str) -> list[str]:
        return sorted(dm.decoded_documents(np.array([i for ids, _ in dm.splits[split].rows for i in ids])))

    base, reordered, resplit = synth_data(), synth_data(seed=1), synth_data(split_seed=1)
    assert reordered.splits["train"].rows != base.splits["train"].rows, "seed orders (and so packs) the examples"
    assert all(examples(reordered, split) == examples(base, split) for split in ("train", "val", "test"))
    assert examples(resplit, "train") != examples(base, "train"), "split_seed moves examples between splits"


def test_long_examples_keep_their_closing_marker_and_fit_the_window():
    dm = synth_data(max_length=64)
    for ids, labels in dm.splits["train"]:
        assert len(ids) <= 64
        start = next(i for i, label in enumerate(labels) if label != IGNORE_INDEX)
        assert dm.tokenizer.decode(ids[:start]).endswith(f"{CON_END}\n\n")
    tok = dm.tokenizer
    assert len(context_ids(tok, "word " * 500, 40)) == 40
    with pytest.raises(ZooError, match="max_length"):
        SynthesizerDataModule(max_length=16)
    with pytest.raises(ZooError, match="unknown synthesizer data source"):
        synthesizer_examples("nowhere")


def test_several_sources_pool_their_examples_and_each_is_checked():
    one = {domain: synth_data(source=f"tinyworld:{domain}") for domain in ("general", "biomed")}
    pooled = synth_data(source=["tinyworld:general", "tinyworld:biomed"])
    rows = lambda dm: sorted(tuple(ids) for split in dm.splits.values() for ids, _ in split.rows)
    examples = lambda dm: sum(ids.count(dm.tokenizer.bos_token_id) for ids in rows(dm))
    assert examples(pooled) == examples(one["general"]) + examples(one["biomed"]) > 0
    text = pooled.tokenizer.decode([i for ids in rows(pooled) for i in ids])
    assert any(e["name"] in text for e in generate_world(domain="biomed", n_entities=24).entities)
    with pytest.raises(ZooError, match="tinyworld source 'tinyworld:nowhere'"):
        SynthesizerDataModule(source=["tinyworld:general", "tinyworld:nowhere"])
    with pytest.raises(ZooError, match="empty list"):
        SynthesizerDataModule(source=[])


def test_pair_loss_ignores_the_prompt(tiny_synthesizer):
    import zoo

    module = zoo.load(f"local-dir:{tiny_synthesizer}")
    dm = synth_data()
    batch = next(iter(dm.val_dataloader() if len(dm.splits["val"]) else dm.train_dataloader()))
    loss, logits, targets = module.pair_loss(batch)
    labels = batch["labels"]
    manual = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1),
                             ignore_index=IGNORE_INDEX)
    torch.testing.assert_close(loss, manual)
    # Training's loss applies the output layer at the pairs' tokens only: the same value.
    torch.testing.assert_close(module.target_loss(batch["input_ids"], module.batch_targets(batch)), manual)
    # Changing a prompt token changes the logits after it, but no prompt position is a target.
    assert ((targets != IGNORE_INDEX).sum(1) == (labels != IGNORE_INDEX).sum(1)).all()


def test_synthesis_is_batched_deterministic_and_parsed(tiny_synthesizer):
    import zoo

    module = zoo.load(f"local-dir:{tiny_synthesizer}")
    texts = ["Rora Elna is a native of Lisbon.", "Turo Marten works as a baker in Oslo.", "A third text."]
    together = module.synthesize(texts)
    assert len(together) == 3 and all(isinstance(p, QAPair) for written in together for p in written.pairs)
    assert all(written.history == [] for written in together), "no history: plain prompts"
    assert module.synthesize(texts[1:2]) == together[1:2], "left padding does not change a row's greedy text"


def test_a_text_is_prompted_after_its_chain_only_when_it_fits(tiny_synthesizer, monkeypatch):
    import zoo

    module = zoo.load(f"local-dir:{tiny_synthesizer}")
    history = [("An earlier text.", [QAPair("What is it?", "An earlier text")])]
    [(plain, none)], [(chained, used)] = module.prompts(["This text."]), module.prompts(["This text."], [history])
    budget = module.window - module.hparams.max_new_tokens
    assert (chained, used) == few_shot_prompt(module.tokenizer, "This text.", history, budget) and used == history
    assert none == [] and chained[-len(plain):] == plain
    too_long = [("word " * 2000, history[0][1])]
    assert module.prompts(["This text."], [too_long]) == [(plain, [])], "a history that does not fit is dropped"
    # predict_step (zoo synth instruct): each row carries the chain the next round's row at its index continues.
    completion = "<QUE> What is it about? <ANS> Lisbon </END>"
    monkeypatch.setattr(module, "complete", lambda texts, histories=None: torch.tensor(
        module.tokenizer([completion] * len(texts), add_special_tokens=False)["input_ids"]))
    older, old = ({"text": text, "pairs": [{"question": "Q?", "answer": "A"}]} for text in ("Older.", "Old."))
    items = [{"text": "New.", "previous": {**old, "history": [older, old]}}, {"text": "First."},
             {"text": "Again.", "previous": old}]
    rows = module.predict_step([{"id": "d", "index": 0, "shard": 0, "title": "", **item} for item in items], 0)
    written = {"pairs": [{"question": "What is it about?", "answer": "Lisbon"}]}
    assert [row["history"] for row in rows] == [
        [older, old, {"text": "New.", **written}], [{"text": "First.", **written}],
        # A previous row without a history (an older version's) is its own chain.
        [old, {"text": "Again.", **written}]]
    assert rows[0]["pairs"] == written["pairs"]


def test_synth_instruct_shards_rounds_and_pairs_file(run_zoo, tiny_synthesizer, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": f"d{i}", "title": "", "text": f"Text number {i} is about Lisbon."}) + "\n"
                            for i in range(7)))
    code, _, err = run_zoo("synth", "instruct", "--model", f"local-dir:{tiny_synthesizer}", "--in", docs,
                           "--out", tmp_path / "one", "--shard-size", "3", "--max-new-tokens", "16",
                           "--", "--trainer.enable_progress_bar=false")
    assert code == 0, err
    rows = read_shards(tmp_path / "one")
    assert [r["id"] for r in rows] == [f"d{i}" for i in range(7)] and all("pairs" in r for r in rows)
    pairs_file = [json.loads(line) for line in (tmp_path / "one" / "pairs.jsonl").read_text().splitlines()]
    assert [p["id"] for p in pairs_file] == [f"d{i}" for i in range(7)]
    code, _, err = run_zoo("synth", "instruct", "--model", f"local-dir:{tiny_synthesizer}", "--in", docs,
                           "--out", tmp_path / "two", "--rounds", "2", "--max-new-tokens", "16",
                           "--", "--trainer.enable_progress_bar=false")
    assert code == 0, err
    assert [len(read_shards(tmp_path / "two" / f"round-{r}")) for r in (0, 1)] == [4, 3]
    assert all("history" in row for row in read_shards(tmp_path / "two" / "round-0")), "what round 1 continues"
    assert len((tmp_path / "two" / "pairs.jsonl").read_text().splitlines()) == 7
    code, _, err = run_zoo("synth", "instruct", "--in", docs, "--out", tmp_path / "bad", "--rounds", "0")
    assert code == 2 and "--rounds=0" in err and not (tmp_path / "bad").exists()


def test_later_rounds_carry_the_previous_round(tmp_path):
    previous = tmp_path / "round-0"
    previous.mkdir()
    (previous / "shard-00000.jsonl").write_text("".join(
        json.dumps({"index": i, "id": f"d{i}", "text": f"old {i}", "pairs": [{"question": "q", "answer": "a"}]}) + "\n"
        for i in range(2)))
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": f"d{i}", "title": "", "text": f"new {i}"}) + "\n" for i in range(5)))
    plan = SynthesisDataModule(str(tmp_path / "round-1"), source=str(docs), first=2, count=3,
                               previous_dir=str(previous))
    items = plan.items
    assert [i["text"] for i in items] == ["new 2", "new 3", "new 4"]
    assert [i.get("previous", {}).get("text") for i in items] == ["old 0", "old 1", None]


def test_augmentation_asks_the_synthesizer_for_missing_pairs(tiny_synthesizer):
    import pickle

    from datamodules.transforms.instruction_templates import InstructionAugmentation, QualityGate
    from zoo.modules.instruction_synthesizer import PretrainedSynthesizer
    from zoo.resolve import model_identity

    synthesizer = PretrainedSynthesizer(f"local-dir:{tiny_synthesizer}", batch_size=1)
    # The briefly trained synthesizer is far below any useful gate: measured and recorded, not stopped.
    gate = QualityGate(min_answerable=0.0, world={"n_entities": 24}, documents=2)
    transform = InstructionAugmentation(synthesizer=synthesizer, chain=1, gate=gate)
    batch = {"id": ["a", "b"], "title": ["", ""], "text": ["Rora Elna is a native of Lisbon.", "Another text."],
             "pairs": [[{"question": "Where is Rora from?", "answer": "Lisbon"}], None]}
    out = transform(batch)
    assert "Where is Rora from?" in out["text"][0] and len(out["text"]) == 2
    [written] = synthesizer.synthesize([batch["text"][1]])
    assert all(p.question in out["text"][1] for p in written.pairs)
    identity = model_identity(f"local-dir:{tiny_synthesizer}")
    assert transform.fingerprint.endswith(":" + identity), "the synthesizer's files are part of the cache key"
    assert transform.report(out)["quality_gate"] == {**gate.measure(synthesizer), "min_answerable": 0.0,
                                                     "passed": True} and gate.measure(synthesizer)["documents"] == 2
    assert InstructionAugmentation().fingerprint != transform.fingerprint
    assert len(pickle.dumps(transform)) < 10_000, "hashing the transform does not pickle the synthesizer's weights"
    texts = ["Rora Elna is a native of Lisbon.", "Turo Marten works as a baker in Oslo.", "A third text."]
    assert synthesizer.synthesize(texts) == PretrainedSynthesizer(f"local-dir:{tiny_synthesizer}").synthesize(texts)


def test_the_recipe_hands_the_synthesizer_to_its_data_unloaded(tiny_synthesizer):
    from datamodules.transforms.instruction_templates import InstructionAugmentation, QualityGate
    from zoo.cli import lightning_cli
    from zoo.modules.instruction_synthesizer import PretrainedSynthesizer
    from zoo.paths import PROJECT_ROOT

    recipe = PROJECT_ROOT / "configs" / "instruction_pretrain" / "instruct-lm-tiny.yaml"
    cli = lightning_cli(["-c", str(recipe), "--data.init_args.transform.init_args.synthesizer.init_args.model",
                         f"local-dir:{tiny_synthesizer}"], run=False)
    transform = cli.datamodule.transform
    assert isinstance(transform, InstructionAugmentation)
    synthesizer = transform._synthesizer
    assert isinstance(synthesizer, PretrainedSynthesizer) and synthesizer._module is None, "read on first use"
    assert transform.gate == QualityGate(min_answerable=0.9, source="tinyworld:general", documents=64)


def test_a_synthesizer_must_be_one(tiny_folder):
    from zoo.modules.instruction_synthesizer import PretrainedSynthesizer

    with pytest.raises(ZooError, match="not an instruction synthesizer"):
        PretrainedSynthesizer(f"local-dir:{tiny_folder}").synthesize(["A text."])
    with pytest.raises(ZooError, match="batch_size=0"):
        PretrainedSynthesizer("instruct-synth-tiny", batch_size=0)


def test_synthesis_quality_scores_pairs_against_the_world(tiny_synthesizer):
    import zoo
    from benchmarks.evaluators import get_evaluator

    module = zoo.load(f"local-dir:{tiny_synthesizer}")
    scores = {s.metric: s.value for s in get_evaluator("synthesis_quality")(
        module, {"domain": "general", "world": {"n_entities": 24}, "n_documents": 4, "batch_size": 2}, None)}
    assert set(scores) == {"fact_exact_match", "answerable", "pairs_per_document", "parsed", "fact_questions"}
    assert all(0 <= v for v in scores.values()) and scores["parsed"] <= 1


@pytest.mark.parametrize("recipe, module", [("configs/adaptllm/adaptllm-biomed-tiny.yaml", "DomainRCLM"),
                                            ("configs/instruction_pretrain/instruct-lm-tiny.yaml",
                                             "InstructionPretrainedLM")])
def test_a_method_without_its_data_is_one_line(run_zoo, tmp_path, tiny_folder, recipe, module):
    from zoo.paths import PROJECT_ROOT

    base = ["--model.init_args.init_from", f"local-dir:{tiny_folder}"] if module == "DomainRCLM" else []
    code, _, err = run_zoo("fit", "-c", PROJECT_ROOT / recipe, *TINY[2:] if base else TINY, *base,
                           "--data.init_args.transform", "null", "--data.init_args.mix_source", "null",
                           "--trainer.default_root_dir", tmp_path)
    assert code == 2 and "Traceback" not in err
    assert f"zoo: error: {module} trains on the data its method writes" in err


def test_pubmedqa_examples_leave_out_the_test_questions():
    examples = synthesizer_examples("zoo-data:pubmedqa-qa")
    test = set(json.loads((Path(os.environ["ZOO_DATA_DIR"]) / "pubmedqa" / "test_ground_truth.json").read_text()))
    assert len(examples) == 500 and not {e["id"].removeprefix("pubmedqa-") for e in examples} & test
    assert all(len(e["pairs"]) == 1 and e["pairs"][0]["answer"] for e in examples)
