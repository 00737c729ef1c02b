"""The AdaptLLM reading-comprehension transform: splitter, miners, templates, wrapper, files."""

from __future__ import annotations

import json
import os
import string
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from datamodules.transforms.rc_templates import INTROS, POOLS
from datamodules.transforms.reading_comprehension import (
    CONTEXT_COLUMN,
    FAMILIES,
    STATS_KEYS,
    SUBCATEGORIES,
    ReadingComprehension,
    aggregate_stats,
    convert_file,
    corpus_keywords,
    domain_keywords,
    mine_tasks,
    split_sentences,
    stats_table,
    truncate_words,
)
from zoo.errors import ZooError

# Sentences of >= 50 characters (the pair minimum) and a short one.
A = "The new compound was tested on a large group of adult volunteers."
B = "the researchers recorded fewer side effects than with the older drug."
B_CAP = "The researchers recorded fewer side effects than with the older drug."
SHORT = "It worked well."
EFFECT = "Many patients in the northern clinics stopped the treatment early"
CAUSE = "the severe headaches that appeared during the first two weeks of use."
KEYWORDS = ["bioavailability", "clearance", "metabolite", "pharmacokinetics"]


def mined(text: str, keywords=(), patterns: str = "upstream") -> dict:
    return mine_tasks(split_sentences(text), frozenset(keywords), patterns=patterns)


def transform(**kwargs) -> ReadingComprehension:
    return ReadingComprehension(**{"keywords": [], **kwargs})


def convert(rc: ReadingComprehension, text: str, title: str = "", doc_id: str = "doc") -> tuple[str, dict]:
    out = rc({"id": [doc_id], "title": [title], "text": [text]})
    return out["text"][0], out["rc_stats"][0]


# --------------------------------------------------------------------------- sentence splitting
@pytest.mark.parametrize("text, expected", [
    ("It rained. Then it stopped.", ["It rained.", "Then it stopped."]),
    ("Use a buffer, e.g. a list. Or not.", ["Use a buffer, e.g. a list.", "Or not."]),
    ("Pick one, i.e. the first. Done.", ["Pick one, i.e. the first.", "Done."]),
    ("Dr. Smith saw J. Doe today. Fine.", ["Dr. Smith saw J. Doe today.", "Fine."]),
    ("She moved to the U.S. Army base. Good.", ["She moved to the U.S. Army base.", "Good."]),
    ("The dose was 2.5 mg per day. It helped.", ["The dose was 2.5 mg per day.", "It helped."]),
    ("See Fig. 3 and No. 5 there. The answer was no. Then we left.",
     ["See Fig. 3 and No. 5 there.", "The answer was no.", "Then we left."]),
    ("Apples, pears, etc. are fruit. Cats etc. The end.", ["Apples, pears, etc. are fruit.", "Cats etc.", "The end."]),
    ('Really?! Yes. He said "stop." Then left.', ["Really?!", "Yes.", 'He said "stop."', "Then left."]),
    ("  Heading line\nFirst body sentence.  \n\n Second. ", ["Heading line", "First body sentence.", "Second."]),
    ("lower case start. therefore, also split.", ["lower case start.", "therefore, also split."]),
    ("", []),
])
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_truncate_words_keeps_a_prefix_of_whole_words():
    text = "one two  three\nfour five"
    assert truncate_words(text, 3) == "one two  three"
    assert truncate_words(text, 10) == text
    long = "word " * 5000
    assert len(truncate_words(long, 1848).split()) == 1848 and long.startswith(truncate_words(long, 1848))


# --------------------------------------------------------------------------- pair families
@pytest.mark.parametrize("connector, expected", [
    ("Yes", {"nli_entail"}),
    ("Therefore", {"nli_entail", "commonsense_cause_effect"}),
    ("For this reason", {"nli_entail", "commonsense_cause_effect"}),
    ("Hence", {"nli_entail", "commonsense_cause_effect"}),
    ("However", {"nli_contradict", "paraphrase_different"}),
    ("On the contrary", {"nli_contradict", "paraphrase_different"}),
    ("Whereas", {"nli_contradict", "paraphrase_different"}),
    ("Moreover", {"nli_neutral"}),
    ("In addition", {"nli_neutral"}),
    ("In other words", {"paraphrase_similar"}),
    ("i.e.", {"paraphrase_similar"}),
    ("That is to say", {"paraphrase_similar"}),
    ("THEREFORE", {"nli_entail", "commonsense_cause_effect"}),  # case-insensitive
    ("for THIS reason", {"nli_entail", "commonsense_cause_effect"}),
    ("ſimilarly", {"paraphrase_similar"}),  # long s: matches "s" case-insensitively, lower-cases to itself
])
def test_connector_pairs_feed_their_subcategories(connector, expected):
    found = mined(f"Intro. {A} {connector}, {B} Outro.")
    assert set(found) == expected
    for key in expected:
        (first, second, canonical), = found[key]
        assert (first, second) == (A, B_CAP) and canonical.lower() == connector.lower().replace("ſ", "s")


@pytest.mark.parametrize("text", [
    f"{SHORT} Therefore, {B}",                                   # sentence A too short
    f"{A} Therefore, the side effects were rare.",               # sentence B too short
    f"{A} Therefore {B}",                                        # no comma
    f"The first trial of the compound ended early. {SHORT} Therefore, {B}",  # 50 chars only across a sentence end
    f"{A[:-1]}, therefore, {B}",                                 # connector inside a sentence
    f"{A} Therefore, {B[:-1]}",                                  # B never ends
    f"{A} Thereforex, {B}",                                      # not a connector
])
def test_connector_pairs_reject(text):
    assert mined(text) == {}


@pytest.mark.parametrize("connector", ["due to", "on account of", "owing to", "DUE TO"])
def test_effect_cause_inside_a_sentence(connector):
    (effect, cause, canonical), = mined(f"{A} {EFFECT} {connector} {CAUSE}")["commonsense_effect_cause"]
    assert effect == EFFECT + "." and cause == CAUSE[0].upper() + CAUSE[1:] and canonical == connector.lower()


@pytest.mark.parametrize("text", [
    f"{EFFECT} due to headaches.",                      # cause too short
    f"Patients stopped due to {CAUSE}",                 # effect too short
    f"Due to {CAUSE[:-1]}, {EFFECT}.",                  # no effect before the connector
    f"{EFFECT} due to, {CAUSE}",                        # joined by a comma, not whitespace
])
def test_effect_cause_rejects(text):
    assert "commonsense_effect_cause" not in mined(text)


# A comma (or a sentence end) inside a sentence: upstream's regexes do not mine it, the loose reading does.
A_COMMA = "The new compound, a small molecule, was tested on a large group of adults."
B_COMMA = "the researchers recorded fewer side effects, and fewer dropouts, than before."
A_DECIMAL = "The dose of 2.5 mg per day was tested on a large group of adult volunteers."


@pytest.mark.parametrize("text, upstream, loose", [
    (f"{A_COMMA} Therefore, {B}", set(), {"nli_entail", "commonsense_cause_effect"}),
    (f"{A} Therefore, {B_COMMA}", set(), {"nli_entail", "commonsense_cause_effect"}),
    (f"{A_DECIMAL} Therefore, {B}", set(), {"nli_entail", "commonsense_cause_effect"}),
    (f"{A_COMMA} However, {B}", {"paraphrase_different"}, {"nli_contradict", "paraphrase_different"}),
    (f"{A_COMMA} In other words, {B}", {"paraphrase_similar"}, {"paraphrase_similar"}),
    (f"{A_DECIMAL} In other words, {B}", set(), {"paraphrase_similar"}),
    (f"{A} Therefore, {B}", {"nli_entail", "commonsense_cause_effect"}, {"nli_entail", "commonsense_cause_effect"}),
    (f"Many patients in the northern clinics, and in the south, stopped early due to {CAUSE}", set(),
     {"commonsense_effect_cause"}),
    (f"{EFFECT} due to {CAUSE[:-1]}, mostly at night.", set(), {"commonsense_effect_cause"}),
    ("The following short review, written last year, is about the side effects of heart drugs.", set(),
     {"word2text_topic"}),
    ("The following short review is about the side effects of heart drugs, old and new.", {"word2text_topic"},
     {"word2text_topic"}),
    ("In this field pharmacokinetics is defined as the study of how the body clears a drug, e.g. by the kidney.",
     set(), {"word2text_definition"}),
])
def test_upstream_character_rules_are_the_default_and_loose_mines_more(text, upstream, loose):
    assert set(mined(text)) == upstream
    assert set(mined(text, patterns="loose")) == loose
    assert set(ReadingComprehension(keywords=[]).mine(split_sentences(text), None)) == upstream


def test_unknown_patterns_are_refused():
    with pytest.raises(ZooError, match="patterns='strict' is not a reading.*upstream, loose"):
        ReadingComprehension(patterns="strict")


# --------------------------------------------------------------------------- word-to-text
@pytest.mark.parametrize("sentence, term, definition, lead", [
    ("In this field pharmacokinetics is defined as the study of how the body clears a drug.", "pharmacokinetics",
     "the study of how the body clears a drug.", "pharmacokinetics is defined as"),
    ("Bioavailability's definition is the share of a dose that reaches the blood.", "Bioavailability",
     "the share of a dose that reaches the blood.", "Bioavailability's definition is"),
])
def test_definition(sentence, term, definition, lead):
    (found,) = mined(sentence)["word2text_definition"]
    assert found[0] == term and found[1] == definition and found[3] == lead


@pytest.mark.parametrize("sentence", [
    "Insulin is defined as a hormone that lowers the level of sugar in blood.",  # term under 10 characters
    "Pharmacokinetics is defined as drug motion.",                                 # definition under 20
    "Pharmacokinetics is defined by many authors in many different ways.",         # no marker
])
def test_definition_rejects(sentence):
    assert "word2text_definition" not in mined(sentence)


@pytest.mark.parametrize("sentence, subject, topic", [
    ("The following short review is about the side effects of heart drugs.", "The following short review",
     "the side effects of heart drugs."),
    ("The second lecture of the course talks about the history of vaccination.", "The second lecture of the course",
     "the history of vaccination."),
    ("The second lecture of the course's topic is the history of vaccination.", "The second lecture of the course",
     "the history of vaccination."),
])
def test_topic(sentence, subject, topic):
    (found,) = mined(sentence)["word2text_topic"]
    assert found[:2] == (subject, topic)


@pytest.mark.parametrize("sentence", [
    "This entry is about the side effects of common heart drugs.",  # subject under 20 characters
    "The following short review is about drugs.",                 # topic under 20
])
def test_topic_rejects(sentence):
    assert "word2text_topic" not in mined(sentence)


def test_keywords_need_three_per_sentence_and_keep_two_sentences():
    three = "The clearance of each metabolite shapes bioavailability in older patients."
    two = "The clearance of each metabolite was measured in older patients."
    (found,) = mined(f"{three} {two}", KEYWORDS)["word2text_keywords"]
    assert found == ("clearance, metabolite, bioavailability", three)
    assert "word2text_keywords" not in mined(three)  # no keywords, no task
    many = " ".join([three] * 5)
    assert len(mined(many, KEYWORDS)["word2text_keywords"]) == 2
    # Upstream bounds the sentence's distinct pieces (a set), not its length.
    repetitive = three[:-1] + " and" + " more" * 100 + "."
    assert mined(repetitive, KEYWORDS)["word2text_keywords"] == [("clearance, metabolite, bioavailability", repetitive)]
    too_varied = three[:-1] + "".join(f" w{i}" for i in range(100)) + "."
    assert "word2text_keywords" not in mined(too_varied, KEYWORDS)


# "metabolite" has 10 letters, "clearance" 9: upstream keeps sentencepiece pieces longer than 10 with the word mark.
KEYWORD_DOMAIN = ["The clearance of the metabolite sets the bioavailability and the pharmacokinetics of the drug."] * 20
KEYWORD_DOMAIN.append("Several metabolites appeared.")
KEYWORD_GENERAL = ["The weather in the town was mild and the market was busy with people."] * 20


def test_domain_keywords_are_long_domain_only_pieces_and_cached(zoo_home):
    keywords = domain_keywords(KEYWORD_DOMAIN, KEYWORD_GENERAL, vocab_size=400)
    assert {"metabolite", "bioavailability", "pharmacokinetics"} <= keywords
    assert not keywords & {"clearance", "drug"}, "shorter than 10 characters"
    assert "metabolites" not in keywords, "seen once: no piece of its own"
    assert not keywords & {"The", "the", "weather"}, "words of the general corpus are not domain-specific"
    cached = list((zoo_home / "cache" / "rc_keywords").glob("*/keywords.json"))
    assert cached and domain_keywords(KEYWORD_DOMAIN, KEYWORD_GENERAL, vocab_size=400) == keywords


def test_keywords_are_found_as_the_domain_tokenizers_word_pieces(tmp_path):
    corpora = []
    for name, texts in (("domain", KEYWORD_DOMAIN), ("general", KEYWORD_GENERAL)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
        corpora.append(str(tmp_path / f"{name}.jsonl"))
    rc = ReadingComprehension(keyword_corpora=tuple(corpora), keyword_vocab_size=400)
    keywords = rc.keyword_set()
    assert keywords == domain_keywords(KEYWORD_DOMAIN, KEYWORD_GENERAL, vocab_size=400)
    assert rc.word_pieces("metabolites")[0] == "\u2581metabolite"
    sentence = "Several metabolites change the bioavailability and pharmacokinetics of this drug."
    # "metabolites" starts with the piece "▁metabolite", so the sentence holds that keyword (as upstream's does).
    assert rc.mine([sentence], None)["word2text_keywords"] == [("metabolite, bioavailability, pharmacokinetics",
                                                                sentence)]
    assert "word2text_keywords" not in mine_tasks([sentence], keywords), "as whole words it holds two"
    shuffled = "Several metabolites change this drug (bioavailability and pharmacokinetics)."
    assert "word2text_keywords" not in rc.mine([shuffled], None), "a word after a bracket has no word-start piece"


def test_tinyworld_keywords_name_the_domain():
    keywords = corpus_keywords("tinyworld:biomed", "tinyworld:general", world={"n_entities": 40})
    assert {"Pharmacists", "pharmacology"} & keywords and not {"person", "Therefore"} & keywords
    assert min(len(word) for word in keywords) >= 10


# --------------------------------------------------------------------------- templates
def test_template_pool_sizes():
    sizes = Counter()
    for name, pool in POOLS.items():
        family = next(sub.family for sub in SUBCATEGORIES if name in dict(sub.pools))
        sizes[family] += len(pool)
    assert sizes == {"nli": 62, "commonsense": 55, "paraphrase": 23, "word2text": 56, "summarization": 20,
                     "completion": 10}
    assert len(INTROS) == 18 and len(set(INTROS)) == 18
    all_templates = [template for pool in POOLS.values() for template in pool]
    assert len(set(all_templates)) == len(all_templates), "no duplicated template"


def test_every_template_renders_with_its_fields():
    used = set()
    for sub in SUBCATEGORIES:
        fields = {"domain": "biomed", **dict(sub.answers), **{role: f"<{role}>" for role in sub.roles}}
        for pool, _ in sub.pools:
            used.add(pool)
            for question, answer in POOLS[pool]:
                names = {f for text in (question, answer) for _, f, _, _ in string.Formatter().parse(text) if f}
                assert names <= set(fields), (pool, question)
                assert question.format_map(fields) and answer.format_map(fields).strip()
                # The answer is what was mined (or a label), never a constant the question gives away.
                assert any(f"{{{name}}}" in answer for name in (*sub.roles, *dict(sub.answers))), (pool, answer)
    assert used == set(POOLS)
    # A completion example prints the article once: its first part in the question, the rest as the answer.
    assert all("{first}" in question and answer == "{rest}" for question, answer in POOLS["completion"])


def test_nli_chooses_generate_templates_one_time_in_five():
    rc = transform()
    answers = Counter()
    for i in range(2000):
        text, _ = convert(rc, f"{A} Yes, {B}", doc_id=f"d{i}")  # one NLI example and nothing else
        answers["generate" if text.endswith(B_CAP) else "classify"] += 1
    assert abs(answers["generate"] / 2000 - 0.2) < 0.03


# --------------------------------------------------------------------------- assembly
def test_output_starts_with_the_raw_body_and_keeps_columns():
    rc = transform()
    body = f"{A} Therefore, {B} {EFFECT} due to {CAUSE}"
    out = rc({"id": ["x"], "title": ["A title"], "text": [body], "extra": [7]})
    assert out["text"][0].startswith(body + "\n\n") and out["id"] == ["x"] and out["title"] == ["A title"]
    assert out["extra"] == [7] and out[CONTEXT_COLUMN] == [len(body)]


def test_at_most_two_examples_per_subcategory():
    body = " ".join(f"{A[:-1]} number {i}. Therefore, {B[:-1]} in round {i}." for i in range(6))
    text, stats = convert(transform(), body)
    assert stats["nli_entail"] == 2 and stats["commonsense_cause_effect"] == 2
    tasks = text[len(body):]
    assert sum(f"round {i}." in tasks for i in range(6)) <= 4  # each kept pair can feed both subcategories


def test_blocks_group_one_family_each_behind_an_intro():
    rc = transform()
    mined_parts = {
        "nli_entail": [("P-nli-1.", "H-nli-1.", "Therefore")], "nli_neutral": [("P-nli-2.", "H-nli-2.", "Moreover")],
        "paraphrase_similar": [("S-para-1.", "S-para-2.", "Namely")],
        "commonsense_effect_cause": [("E-comm-1.", "C-comm-1.", "due to")],
        "word2text_definition": [("T-word-1", "D-word-1.", "is defined as", "T-word-1 is defined as")],
        "word2text_topic": [("S-word-2", "T-word-2.", "is about", "S-word-2 is about")],
    }
    orders = set()
    for i in range(40):
        text, stats, _ = rc.render("", "Body.", ["Body."], [0], mined_parts, rc.document_rng(f"doc{i}"))
        assert text.startswith("Body.\n\n") and sum(stats.values()) == 6
        blocks: list[list[str]] = []
        for chunk in text[len("Body.\n\n"):].split("\n\n"):
            first_line, _, rest = chunk.partition("\n")
            if first_line in INTROS:
                blocks.append([rest])
            else:
                assert blocks, "the tasks open with an intro"
                blocks[-1].append(chunk)
        families = []
        for examples in blocks:
            tags = {tag for example in examples for tag in ("nli", "para", "comm", "word") if f"-{tag}-" in example}
            assert len(tags) == 1, f"one family per block: {examples}"
            families.append(tags.pop())
        assert sorted(families) == ["comm", "nli", "para", "word"], "one block per family"
        intros = [chunk.partition("\n")[0] for chunk in text.split("\n\n") if chunk.partition("\n")[0] in INTROS]
        assert len(set(intros)) == 4, "each block has its own intro"
        orders.add(tuple(families))
    assert len(orders) > 5, "blocks are shuffled"


@pytest.mark.parametrize("title, n_sentences, expected", [
    ("Title", 5, {"summarize": 0.4, "complete": 0.1, "both": 0.4, "neither": 0.1}),
    ("Title", 2, {"summarize": 0.5, "neither": 0.5}),
    ("", 5, {"complete": 0.5, "neither": 0.5}),
    ("", 2, {"neither": 1.0}),
])
def test_wrapper_probabilities(title, n_sentences, expected):
    rc = transform()
    body = " ".join(f"This is short sentence number {i}." for i in range(n_sentences))
    n = 4000
    out = rc({"id": [f"doc-{i}" for i in range(n)], "title": [title] * n, "text": [body] * n})
    names = {(1, 0): "summarize", (0, 1): "complete", (1, 1): "both", (0, 0): "neither"}
    counts = Counter(names[s["summarization_title"], s["completion_continuation"]] for s in out["rc_stats"])
    assert set(counts) == set(expected)
    for name, p in expected.items():
        assert abs(counts[name] / n - p) < 0.03, (name, counts)
    if title:
        assert any(t.endswith(f" {title}") for t in out["text"]), "the title is the summarization answer"


def test_completion_prints_the_body_once_with_the_rest_as_the_answer():
    rc = transform()
    sentences = [f"This is short sentence number {i}." for i in range(6)]
    body = " ".join(sentences)
    cuts = set()
    for i in range(200):
        out = rc({"id": [f"c{i}"], "title": [""], "text": [body]})
        text, stats, context = out["text"][0], out["rc_stats"][0], out[CONTEXT_COLUMN][0]
        if not stats["completion_continuation"]:
            assert text == body and context == len(body), "no title, short sentences: completion or nothing"
            continue
        # The text is one completion example: the body's first part inside the question, the rest as the answer.
        fits = {k for k in range(1, 6) for question, _ in POOLS["completion"]
                if text == question.format(domain="biomed", first=" ".join(sentences[:k])) + " "
                + " ".join(sentences[k:])}
        assert fits and context == len(text) and all(text.count(sentence) == 1 for sentence in sentences)
        if len(fits) == 1:  # a question that ends with the first part hides where the cut is
            cuts |= fits
    assert len(cuts) >= 3, "the cut point is drawn per document"


def test_same_id_same_text_other_id_other_choices():
    body = " ".join(f"{A[:-1]} number {i}. Therefore, {B[:-1]} in round {i}. {EFFECT} due to {CAUSE}" for i in range(4))
    first = ReadingComprehension(keywords=[])
    again = ReadingComprehension(keywords=[])
    assert convert(first, body, "T", "doc-1") == convert(again, body, "T", "doc-1")
    others = {convert(first, body, "T", f"doc-{i}")[0] for i in range(20)}
    assert len(others) > 15
    assert convert(ReadingComprehension(keywords=[], seed=1), body, "T", "doc-1") != convert(first, body, "T", "doc-1")


def test_same_text_in_another_process_with_another_hash_seed():
    """Seeds come from blake2b of the id, never from ``hash()`` (salted per process)."""
    body = f"{A} Therefore, {B} {EFFECT} due to {CAUSE} {A} However, {B}"
    expected = convert(transform(), body, "T", "doc-7")[0]
    root = Path(__file__).resolve().parents[2]
    # Skip the datamodules package __init__ (it imports torch); the transform needs none of it.
    script = ("import sys, types; pkg = types.ModuleType('datamodules'); "
              f"pkg.__path__ = [{str(root / 'datamodules')!r}]; sys.modules['datamodules'] = pkg\n"
              "from datamodules.transforms.reading_comprehension import ReadingComprehension\n"
              f"out = ReadingComprehension(keywords=[])({{'id': ['doc-7'], 'title': ['T'], 'text': [{body!r}]}})\n"
              "sys.stdout.write(out['text'][0])")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root, check=True,
                            env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert result.stdout == expected


def test_stats_column_and_aggregation():
    rc = transform()
    out = rc({"id": ["a", "b"], "title": ["", ""], "text": [f"{A} Therefore, {B}", "Nothing here."]})
    assert list(out["rc_stats"][0]) == list(STATS_KEYS)
    assert out["rc_stats"][0]["nli_entail"] == 1 and sum(out["rc_stats"][1].values()) == 0
    summary = aggregate_stats([out["rc_stats"][0], json.dumps(out["rc_stats"][1])])
    assert summary["documents"] == 2 and summary["documents_with_tasks"] == 1
    assert summary["subcategories"]["nli_entail"] == {"examples": 1, "documents": 1}
    assert summary["families"]["commonsense"] == {"examples": 1, "documents": 1}
    assert set(summary["families"]) == set(FAMILIES) and "| nli_entail | 1 | 50.0% |" in stats_table(summary)
    assert "rc_stats" not in transform(stats_column=None)({"id": ["a"], "title": [""], "text": ["x"]})


def test_fingerprint_tracks_settings():
    assert transform().fingerprint == transform().fingerprint
    assert transform().fingerprint != transform(max_tokens=100).fingerprint
    assert transform().fingerprint != transform(keywords=["metabolite"]).fingerprint
    assert transform().fingerprint != transform(patterns="loose").fingerprint
    assert "version" in transform().fingerprint


def test_datasets_map_in_two_processes_matches_a_plain_call():
    import datasets

    rc = transform()
    texts = [f"{A} Therefore, {B} Doc {i}." for i in range(40)]
    data = datasets.Dataset.from_dict({"id": [str(i) for i in range(40)], "title": ["T"] * 40, "text": texts})
    mapped = data.map(rc, batched=True, batch_size=8, num_proc=2, load_from_cache_file=False)
    assert mapped["text"] == rc(data[:])["text"]
    assert aggregate_stats(mapped["rc_stats"])["subcategories"]["nli_entail"]["examples"] == 40


def test_tinyworld_biomed_documents_mine_most_families():
    from datamodules.tinyworld import generate_world

    world = generate_world(domain="biomed", n_entities=40)
    rc = ReadingComprehension(domain="biomed")
    docs = world.documents
    out = rc({key: [d[key] for d in docs] for key in ("id", "title", "text")})
    summary = aggregate_stats(out["rc_stats"])
    share = {family: entry["documents"] / summary["documents"] for family, entry in summary["families"].items()}
    # Commonsense is the rarest: upstream's rules mine cause->effect only from comma-free "Therefore," pairs (~29 %).
    assert all(share[family] > 0.25 for family in FAMILIES), share
    for key in ("nli_entail", "nli_contradict", "nli_neutral", "commonsense_cause_effect", "paraphrase_similar",
                "paraphrase_different", "word2text_definition", "word2text_topic", "word2text_keywords"):
        assert summary["subcategories"][key]["examples"] > 0, key
    for text, doc, stats, context in zip(out["text"], docs, out["rc_stats"], out[CONTEXT_COLUMN]):
        # The document comes first: the body verbatim, or printed once around the completion question.
        assert text.startswith(doc["text"]) != bool(stats["completion_continuation"])
        assert all(sentence in text[:context] for sentence in split_sentences(doc["text"]))


# --------------------------------------------------------------------------- files
def test_convert_file_jsonl_and_txt_folder(tmp_path):
    rows = [{"id": "a1", "title": "First", "text": f"{A} Therefore, {B}"}, {"text": f"{A} However, {B}"}]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    out = tmp_path / "out" / "rc.jsonl"
    summary = convert_file(source, out, domain="biomed", keyword_corpora=None)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["a1", "doc00000001"] and records[0]["title"] == "First"
    assert all(r["text"].startswith(row["text"]) for r, row in zip(records, rows))
    assert summary["documents"] == 2 and records[1]["rc_stats"]["nli_contradict"] == 1
    assert [p.name for p in out.parent.iterdir()] == ["rc.jsonl"], "no temporary file left"

    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "one.txt").write_text(f"Title one\n{A} Moreover, {B}", encoding="utf-8")
    (folder / "sub" / "two.txt").write_text(f"Title two\n{A}", encoding="utf-8")
    convert_file(folder, out)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["title"]) for r in records] == [("one", "Title one"), ("sub/two", "Title two")]
    assert records[0]["text"].startswith(f"{A} Moreover, {B}")


@pytest.mark.parametrize("content, message", [
    (b'{"text": "caf\xe9"}\n', "line 1 is not UTF-8"),
    (b'{"text": "ok"}\n{"text": \n', "line 2 is not valid JSON"),
    (b'{"title": "no text"}\n', 'has no "text"'),
    (b'{"text": "ok"}\n{"text": "half \\ud83d pair"}\n', r'line 2: "text" holds the lone surrogate escape \\ud83d'),
    (b"\n\n", "no documents"),
])
def test_convert_file_bad_input_raises_one_line(tmp_path, content, message):
    source = tmp_path / "in.jsonl"
    source.write_bytes(content)
    out = tmp_path / "out.jsonl"
    with pytest.raises(ZooError, match=message) as error:
        convert_file(source, out)
    assert "\n" not in str(error.value) and not out.exists() and list(tmp_path.iterdir()) == [source]


def test_convert_file_non_utf8_txt_and_missing_input(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "bad.txt").write_bytes(b"Title\ncaf\xe9 au lait")
    with pytest.raises(ZooError, match="bad.txt is not UTF-8"):
        convert_file(folder, tmp_path / "out.jsonl")
    with pytest.raises(ZooError, match="not found"):
        convert_file(tmp_path / "missing.jsonl", tmp_path / "out.jsonl")
