"""The zoo tokenizer: reproducible BPE on tinyworld text, a fast tokenizer with bos/eos/pad."""

from __future__ import annotations

from datamodules.tokenizer import load_tokenizer, tinyworld_corpus, tokenizer_json, train_bpe


def test_rebuilding_gives_the_same_file():
    corpus = tinyworld_corpus(["general", "biomed"], seed=0)
    assert train_bpe(corpus, vocab_size=1536) == train_bpe(corpus, vocab_size=1536)


def test_tinyworld_tokenizer_is_cached_and_special_tokens_are_set(zoo_home):
    first = load_tokenizer("tinyworld")
    cached = list((zoo_home / "cache" / "tokenizers").rglob("tokenizer.json"))
    assert len(cached) == 1
    assert tokenizer_json(load_tokenizer("tinyworld")) == tokenizer_json(first)
    assert len(first) == 1536
    assert (first.bos_token, first.eos_token, first.pad_token) == ("<|bos|>", "<|eos|>", "<|pad|>")
    assert first.pad_token_id != first.eos_token_id


def test_round_trip_and_domain_words_are_single_tokens():
    tokenizer = load_tokenizer("tinyworld")
    text = "Question: Which protein does the drug act on?\nAnswer: HER2 — café"
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text
    # Frequent world words compress: BPE learned them, it is not a byte tokenizer.
    assert len(tokenizer(" profile", add_special_tokens=False)["input_ids"]) == 1


def test_saved_tokenizer_loads_from_its_folder(tmp_path):
    tokenizer = load_tokenizer("tinyworld")
    tokenizer.save_pretrained(tmp_path)
    again = load_tokenizer(f"local-dir:{tmp_path}")
    assert again.get_vocab() == tokenizer.get_vocab()
    assert again.bos_token == tokenizer.bos_token
