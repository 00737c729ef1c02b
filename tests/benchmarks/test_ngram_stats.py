"""N-gram statistics: hand-computed counts and divergences, deterministic report files, the CLI."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest

from benchmarks import ngram_stats
from benchmarks.ngram_stats import compare, corpus_statistics, ngram_counts, read_texts, tokenize_corpus, write_report
from zoo.errors import ZooError

KEYS = {"corpus", "order", "coverage", "kl", "js", "top_mass", "types", "tokens", "distinct"}


@pytest.fixture(scope="module")
def tokenizer():
    from datamodules.tokenizer import load_tokenizer

    return load_tokenizer("tinyworld")


def test_counts_stay_within_documents():
    docs = [[1, 2, 3], [3, 1]]
    assert ngram_counts(docs, 1) == Counter({(1,): 2, (2,): 1, (3,): 2})
    # (3, 3) would join the two documents: it must not appear.
    assert ngram_counts(docs, 2) == Counter({(1, 2): 1, (2, 3): 1, (3, 1): 1})
    assert ngram_counts(docs, 3) == Counter({(1, 2, 3): 1})
    assert ngram_counts([["the", "cat"], ["the"]], 1) == Counter({("the",): 2, ("cat",): 1})
    assert ngram_counts([], 2) == Counter()
    with pytest.raises(ValueError):
        ngram_counts(docs, 0)


def test_identical_distributions():
    counts = Counter({"a": 2, "b": 1, "c": 1})
    stats = compare(counts, counts)
    assert stats == {"coverage": 1.0, "kl": 0.0, "js": 0.0, "top_mass": 0.5, "types": 3.0, "tokens": 4.0,
                     "distinct": 0.75}
    assert all(type(value) is float for value in stats.values())
    # Same distribution at twice the size: the (tiny) smoothing leaves KL practically 0.
    doubled = compare(counts, Counter({"a": 4, "b": 2, "c": 2}))
    assert doubled["kl"] == pytest.approx(0.0, abs=1e-6)
    assert doubled["js"] == pytest.approx(0.0, abs=1e-12)
    assert doubled["coverage"] == 1.0 and doubled["distinct"] == 3 / 8


def test_disjoint_distributions():
    stats = compare(Counter({"a": 1, "b": 1}), Counter({"c": 3}), smoothing=1.0)
    assert stats["coverage"] == 0.0
    assert stats["js"] == pytest.approx(1.0)
    # Laplace over the union {a, b, c}: reference (2/5, 2/5, 1/5), other (1/6, 1/6, 4/6).
    assert stats["kl"] == pytest.approx(0.8 * math.log(2.4) + 0.2 * math.log(0.3))
    assert stats["top_mass"] == 1.0 and stats["distinct"] == 1 / 3


def test_partial_overlap_by_hand():
    reference, other = Counter({"a": 2, "b": 2}), Counter({"a": 3, "c": 1})
    stats = compare(reference, other, top_share=0.5, smoothing=1.0)
    assert stats["coverage"] == 0.5
    # p = (.5, .5, 0), q = (.75, 0, .25), mixture m = (.625, .25, .125).
    kl_p_m = 0.5 * math.log2(0.5 / 0.625) + 0.5 * math.log2(0.5 / 0.25)
    kl_q_m = 0.75 * math.log2(0.75 / 0.625) + 0.25 * math.log2(0.25 / 0.125)
    assert stats["js"] == pytest.approx((kl_p_m + kl_q_m) / 2)
    # Laplace over {a, b, c}: reference (3/7, 3/7, 1/7), other (4/7, 1/7, 2/7).
    assert stats["kl"] == pytest.approx(3 / 7 * math.log(3 / 4) + 3 / 7 * math.log(3) + 1 / 7 * math.log(1 / 2))
    assert stats["top_mass"] == 0.75  # half of 2 types = the single most frequent one, 3 of 4 n-grams
    assert compare(reference, other, top_share=1.0)["top_mass"] == 1.0
    assert stats["types"] == 2.0 and stats["tokens"] == 4.0 and stats["distinct"] == 0.5
    # The default smoothing is tiny: the missing reference type "b" costs about log(tokens / 1e-6) nats.
    assert compare(reference, other)["kl"] > 5.0
    with pytest.raises(ValueError):
        compare(reference, Counter())


def test_top_mass_takes_the_top_share_of_types():
    # 200 types: the top 1% is 2 types, holding 10 + 5 of 213 n-grams.
    other = Counter({0: 10, 1: 5, **{i: 1 for i in range(2, 200)}})
    assert compare(other, other)["top_mass"] == pytest.approx(15 / 213)


def test_concentrated_corpus_has_more_top_mass_and_fewer_distinct():
    spread = [list(range(i, i + 50)) for i in range(0, 200, 50)]
    concentrated = [[1, 1, 2, 1, 1, 3] * 8 + [i, i + 1] for i in range(0, 200, 50)]
    rows = corpus_statistics({"human": spread, "synthetic": concentrated}, orders=(1,))
    human, synthetic = rows
    assert synthetic["top_mass"] > human["top_mass"] and synthetic["distinct"] < human["distinct"]
    assert synthetic["coverage"] < 1.0 and synthetic["js"] > 0.0 and synthetic["kl"] > 0.0


def test_corpus_statistics_rows():
    corpora = {"synthetic": [[1, 2, 1, 2]], "human": [[1, 2, 3], [4, 5]], "edited": [[1, 2, 3], [4, 6]]}
    rows = corpus_statistics(corpora, reference="human", orders=(1, 2))
    assert [(row["order"], row["corpus"]) for row in rows] == [
        (1, "synthetic"), (1, "human"), (1, "edited"), (2, "synthetic"), (2, "human"), (2, "edited")]
    assert all(set(row) == KEYS for row in rows)
    for row in rows:
        if row["corpus"] == "human":
            assert (row["coverage"], row["kl"], row["js"]) == (1.0, 0.0, 0.0)
    # Edited text keeps 4 of the 5 human unigrams and 2 of the 3 human bigrams ((4, 5) became (4, 6)).
    assert rows[2]["coverage"] == 4 / 5 and rows[5]["coverage"] == 2 / 3
    assert rows[3]["tokens"] == 3.0 and rows[3]["types"] == 2.0
    with pytest.raises(ZooError, match="reference corpus 'web'"):
        corpus_statistics(corpora, reference="web")
    with pytest.raises(ZooError, match="corpus 'short' has no 2-grams"):
        corpus_statistics({"human": [[1, 2]], "short": [[1], [2]]})
    with pytest.raises(ZooError, match="orders"):
        corpus_statistics(corpora, orders=(0,))


def test_tokenize_corpus_leaves_out_special_tokens(tokenizer):
    texts = ["The river floods in spring.", "Rates rose."]
    ids = tokenize_corpus(texts, tokenizer)
    assert ids == [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    assert tokenizer.bos_token_id not in ids[0]
    assert tokenize_corpus([], tokenizer) == []


def test_report_files_are_deterministic(tmp_path):
    rows = corpus_statistics({"human": [[1, 2, 3, 4], [2, 3]], "synthetic": [[1, 1, 1, 2]]})
    first = write_report(rows, tmp_path / "a")
    second = write_report(rows, tmp_path / "b")
    write_report(rows, tmp_path / "a")  # rewriting in place leaves no temporary files behind
    assert set(first) == {"json", "md", "png"}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["ngram_stats.json", "ngram_stats.md",
                                                                  "ngram_stats.png"]
    for kind in first:
        assert first[kind].read_bytes() == second[kind].read_bytes(), kind
    assert json.loads(first["json"].read_text()) == rows
    assert first["json"].read_text().startswith('[\n {\n  "corpus": "human",')
    assert first["png"].read_bytes().startswith(b"\x89PNG")
    md = first["md"].read_text()
    assert "| corpus | n | coverage | KL | JS | top-1% mass | distinct-n |" in md
    assert "| human | 1 | 1.0000 | 0.0000 | 0.0000 | 0.3333 | 0.6667 |" in md


def write_jsonl(path, texts):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts), encoding="utf-8")


@pytest.fixture
def corpus_files(tmp_path):
    human = ["The river floods in spring and the farmers plant rice.", "Rates rose and the bank lent less."]
    write_jsonl(tmp_path / "human.jsonl", human)
    write_jsonl(tmp_path / "synthetic" / "shard-001.jsonl", ["The river is a river."])
    write_jsonl(tmp_path / "synthetic" / "shard-000.jsonl", ["The river is a river. The river is a river."])
    (tmp_path / "synthetic" / "notes.txt").write_text("not a shard")
    write_jsonl(tmp_path / "edited.jsonl", ["The river floods in May and the farmers plant rice.", human[1]])
    return tmp_path


def test_read_texts_reads_shards_in_name_order(corpus_files):
    assert read_texts(corpus_files / "synthetic") == ["The river is a river. The river is a river.",
                                                      "The river is a river."]
    (corpus_files / "blank.jsonl").write_text('\n{"text": "a"}\n\n')
    assert read_texts(corpus_files / "blank.jsonl") == ["a"]


def test_cli_writes_the_report(corpus_files, tokenizer, capsys):
    out = corpus_files / "out"
    code = ngram_stats.main(["--corpus", f"human={corpus_files / 'human.jsonl'}",
                             "--corpus", f"synthetic={corpus_files / 'synthetic'}",
                             "--corpus", f"edited={corpus_files / 'edited.jsonl'}", "--out", str(out)])
    assert code == 0
    rows = json.loads((out / "ngram_stats.json").read_text())
    assert [(row["order"], row["corpus"]) for row in rows] == [
        (n, name) for n in (1, 2) for name in ("human", "synthetic", "edited")]
    by_name = {(row["corpus"], row["order"]): row for row in rows}
    assert by_name["human", 2]["kl"] == 0.0 and by_name["human", 2]["coverage"] == 1.0
    # Repetitive synthetic text covers less of the human text and is more concentrated than edited text.
    assert by_name["synthetic", 2]["coverage"] < by_name["edited", 2]["coverage"]
    assert by_name["synthetic", 1]["distinct"] < by_name["edited", 1]["distinct"]
    assert (out / "ngram_stats.png").is_file() and (out / "ngram_stats.md").is_file()
    assert "| synthetic | 2 |" in capsys.readouterr().out


@pytest.mark.parametrize("corpus_args, extra, message", [
    (["human=missing.jsonl"], [], "corpus not found"),
    (["human=human.jsonl", "edited=edited.jsonl"], ["--reference", "web"], "reference corpus 'web'"),
    (["human"], [], "malformed --corpus 'human'"),
    (["human=human.jsonl", "human=edited.jsonl"], [], "given twice"),
    (["human=human.jsonl", "bad=bad.jsonl"], [], "bad.jsonl:2: not a JSON line"),
    (["human=human.jsonl", "bad=notext.jsonl"], [], "no string \"text\" field"),
    (["human=human.jsonl", "empty=empty"], [], "no .jsonl shards"),
])
def test_cli_bad_inputs_exit_2_with_one_line(corpus_files, capsys, corpus_args, extra, message):
    (corpus_files / "bad.jsonl").write_text('{"text": "fine"}\n{oops\n')
    (corpus_files / "notext.jsonl").write_text('{"body": "x"}\n')
    (corpus_files / "empty").mkdir()
    argv = [arg for spec in corpus_args for arg in ("--corpus", spec.replace("=", f"={corpus_files}/", 1))]
    code = ngram_stats.main([*argv, *extra, "--out", str(corpus_files / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not (corpus_files / "out").exists()
