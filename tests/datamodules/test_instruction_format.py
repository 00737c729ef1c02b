"""Instruction Pre-Training: the synthesizer's format and the instruction-augmented pre-training text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datamodules.instruction import is_answerable
from datamodules.transforms.instruction_format import (
    MARKERS,
    QAPair,
    Synthesized,
    dedup_pairs,
    next_history,
    parse_pairs,
    render_context,
    render_pairs,
    round_slices,
    synthesize_in_rounds,
    synthesizer_example,
)
from datamodules.transforms.instruction_templates import (
    CHAIN_SEPARATORS,
    INTROS,
    POOLS,
    InstructionAugmentation,
    OptionStyle,
    QualityGate,
    chain_examples,
    pair_pool,
    render_example,
    render_pair,
    seeded_rng,
)
from zoo.errors import ZooError

REPO = Path(__file__).resolve().parents[2]

OPTIONS_PAIR = {"question": "Which city hosts the Vantor Institute?", "answer": "Brellin",
                "options": ["Osk", "Brellin", "Tamaro", "Quist"]}
RATIONALE_PAIR = {"question": "Why was the trial stopped?", "answer": "Severe headaches",
                  "rationale": "The text says the headaches appeared in the first two weeks."}
BOTH_PAIR = {**OPTIONS_PAIR, "rationale": "The second paragraph names Brellin as its seat."}
PLAIN_PAIR = {"question": "Who discovered Quiceranib?", "answer": "The Holloway Laboratories"}


def words(text: str) -> int:
    return len(text.split())


# --------------------------------------------------------------------------- synthesizer format
def test_render_golden():
    pairs = [QAPair("What is X?", "A drug."), QAPair("Who made it?", "Holloway")]
    assert render_context("X is a drug.") == " <CON> X is a drug. </CON>\n\n"
    assert render_pairs(pairs) == "<QUE> What is X? <ANS> A drug. </END>\n\n<QUE> Who made it? <ANS> Holloway </END>"
    # Mappings (tinyworld's qa_pairs) render the same as QAPair objects.
    assert render_pairs([{"question": "What is X?", "answer": "A drug."}]) == "<QUE> What is X? <ANS> A drug. </END>"
    assert render_pairs([]) == ""
    assert synthesizer_example("X is a drug.", pairs) == (render_context("X is a drug."), render_pairs(pairs))


_marker_free = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40).map(str.strip).filter(
    lambda text: text and not any(marker in text for marker in MARKERS))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.builds(QAPair, _marker_free, _marker_free), max_size=6))
def test_render_parse_round_trip(pairs):
    assert parse_pairs(render_pairs(pairs)) == dedup_pairs(pairs)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.builds(QAPair, _marker_free, _marker_free), min_size=1, max_size=4), st.integers(0, 10**6))
def test_parse_drops_truncated_tail(pairs, cut):
    """A generation cut off by the token budget anywhere in its last pair loses that pair only."""
    text, last = render_pairs(pairs), render_pairs(pairs[-1:])
    truncated = text[: len(text) - 1 - cut % len(last)]
    assert parse_pairs(truncated) == dedup_pairs(pairs[:-1])


@pytest.mark.parametrize("generated, expected", [
    # Missing </END> at the end: the incomplete last pair is dropped.
    ("<QUE> q1 <ANS> a1 </END>\n\n<QUE> q2 <ANS> a2", [("q1", "a1")]),
    ("<QUE> q1 <ANS> a1 </END>\n\n<QUE> q2 <ANS> a2 </EN", [("q1", "a1")]),
    # Trailing whitespace or a newline after the last </END> is no pair.
    ("<QUE> q1 <ANS> a1 </END>\n\n", [("q1", "a1")]),
    # Missing <ANS>, missing <QUE>, empty question or answer: that chunk only is dropped.
    ("<QUE> q1 a1 </END>\n\n<QUE> q2 <ANS> a2 </END>", [("q2", "a2")]),
    ("q1 <ANS> a1 </END><QUE> q2 <ANS> a2 </END>", [("q2", "a2")]),
    ("<QUE> q1 <ANS>   </END>\n\n<QUE>  <ANS> a2 </END>\n\n<QUE> q3 <ANS> a3 </END>", [("q3", "a3")]),
    # Two pairs run together without </END>: neither is trusted.
    ("<QUE> q1 <ANS> a1 <QUE> q2 <ANS> a2 </END>\n\n<QUE> q3 <ANS> a3 </END>", [("q3", "a3")]),
    ("<QUE> q1 <ANS> a1 <QUE> q2 </END>", []),
    # Extra whitespace around and inside the markers is stripped; inner whitespace is kept.
    ("  \n<QUE>\n  What is  X?  <ANS>\tA drug.\n </END>  \n\n\n<QUE>Who?<ANS>Bob</END>",
     [("What is  X?", "A drug."), ("Who?", "Bob")]),
    # Text before the first <QUE> belongs to no pair.
    ("Sure, here are questions: <QUE> q1 <ANS> a1 </END>", []),
    ("", []),
    ("no markers at all", []),
])
def test_parse_malformed(generated, expected):
    assert parse_pairs(generated) == [QAPair(q, a) for q, a in expected]


def test_dedup_case_insensitive_keeps_first():
    pairs = [QAPair("What is X?", "first"), QAPair("Who?", "Bob"), QAPair("what  IS x?", "second"),
             QAPair(" What is X? ", "third"), QAPair("What is Y?", "other")]
    assert dedup_pairs(pairs) == [QAPair("What is X?", "first"), QAPair("Who?", "Bob"), QAPair("What is Y?", "other")]
    generated = "<QUE> Who? <ANS> Bob </END>\n\n<QUE> WHO? <ANS> Alice </END>\n\n<QUE> Why? <ANS> So. </END>"
    assert parse_pairs(generated) == [QAPair("Who?", "Bob"), QAPair("Why?", "So.")]


# --------------------------------------------------------------------------- multi-round synthesis
def test_next_history_extends_the_chain_until_a_text_gets_no_pairs():
    first = Synthesized([QAPair("Q one?", "A one")], [])
    assert next_history("Old text.", first) == [("Old text.", [QAPair("Q one?", "A one")])]
    second = Synthesized([QAPair("Q two?", "A two")], next_history("Old text.", first))
    assert next_history("New text.", second) == [("Old text.", [QAPair("Q one?", "A one")]),
                                                     ("New text.", [QAPair("Q two?", "A two")])]
    assert next_history("Empty text.", Synthesized([], second.history)) == []


class StubSynthesizer:
    """A stand-in pair writer (the data layer needs ``synthesize``, ``identity`` and ``model``) with a known
    answerable share: per text ``grounded`` pairs answered with its first word and ``made_up`` ones answered
    "Atlantis" (in no text), none for a text saying "empty". It takes the history it is offered unless the text
    says "long" (as if that did not fit the window), and records each call's texts and histories' texts."""

    model = "stub"

    def __init__(self, grounded: int = 1, made_up: int = 0):
        self.grounded, self.made_up = grounded, made_up
        self.calls: list[tuple[list[str], list[list[str]]]] = []

    def identity(self) -> str:
        return f"stub-{self.grounded}-{self.made_up}"

    def synthesize(self, texts, histories=None):
        histories = histories or [[]] * len(texts)
        self.calls.append((list(texts), [[text for text, _ in history] for history in histories]))
        return [Synthesized([] if "empty" in text else
                            [QAPair(f"Q{k} on {text}?", text.split()[0] if k < self.grounded else "Atlantis")
                             for k in range(self.grounded + self.made_up)],
                            [] if "long" in text else list(history)) for text, history in zip(texts, histories)]


def test_rounds_prompt_each_text_after_its_chain_and_group_what_was_synthesized_together():
    texts = ["a0", "b0 empty", "c0", "a1", "b1", "c1 long", "a2", "b2", "c2"]
    synthesizer = StubSynthesizer()
    written, chains = synthesize_in_rounds(texts, 3, synthesizer.synthesize)
    # Round r holds slice r; position j is offered the chain of position j so far.
    assert synthesizer.calls == [
        (["a0", "b0 empty", "c0"], [[], [], []]),
        (["a1", "b1", "c1 long"], [["a0"], [], ["c0"]]),  # b0 got no pairs: b1 starts over
        (["a2", "b2", "c2"], [["a0", "a1"], ["b1"], ["c1 long"]]),  # c1 did not take c0: its chain is c1 alone
    ]
    assert [w.pairs for w in written] == [[] if "empty" in t else [QAPair(f"Q0 on {t}?", t.split()[0])] for t in texts]
    assert [w.history for w in written][6] == [("a0", written[0].pairs), ("a1", written[3].pairs)]
    assert chains == [[0, 3, 6], [1], [2], [4, 7], [5, 8]]
    assert synthesize_in_rounds(texts[:2], 4, StubSynthesizer().synthesize)[1] == [[0], [1]], "no empty rounds"
    assert synthesize_in_rounds(texts, 1, StubSynthesizer().synthesize)[1] == [[i] for i in range(9)]


@pytest.mark.parametrize("n, rounds, sizes", [
    (10, 3, [4, 3, 3]), (9, 3, [3, 3, 3]), (2, 4, [1, 1, 0, 0]), (0, 2, [0, 0]), (7, 1, [7]), (5, 5, [1] * 5),
])
def test_round_slices(n, rounds, sizes):
    slices = round_slices(n, rounds)
    assert [len(s) for s in slices] == sizes
    assert [i for s in slices for i in s] == list(range(n))  # contiguous, in order, each index once
    # Every item of round r has an item at the same position in round r - 1 (its demonstration).
    assert all(len(slices[r]) <= len(slices[r - 1]) for r in range(1, rounds))


@pytest.mark.parametrize("n, rounds", [(5, 0), (-1, 2)])
def test_round_slices_bad(n, rounds):
    with pytest.raises(ValueError, match="rounds >= 1"):
        round_slices(n, rounds)


# --------------------------------------------------------------------------- template pools
def test_pool_sizes():
    assert set(POOLS) == {"plain", "options", "rationale", "options_rationale"}
    assert all(len(pool) >= 8 for pool in POOLS.values())
    assert sum(len(pool) for pool in POOLS.values()) >= 40
    assert all(len(set(pool)) == len(pool) for pool in POOLS.values())
    # Option markers and inline/newline lists vary.
    styles = {p.style for name in ("options", "options_rationale") for p in POOLS[name]}
    assert {s.marker for s in styles} >= {"A.", "(A)", "a)", "1.", "-", ""}
    assert {s.joiner for s in styles} >= {"\n", ", "}


_PAIR_OF_POOL = {"plain": PLAIN_PAIR, "options": OPTIONS_PAIR, "rationale": RATIONALE_PAIR,
                 "options_rationale": BOTH_PAIR}


@pytest.mark.parametrize("pool, index", [(name, i) for name, pool in POOLS.items() for i in range(len(pool))])
def test_every_pattern_renders(pool, index):
    pair = _PAIR_OF_POOL[pool]
    assert pair_pool(pair) == pool
    text = render_pair(pair, POOLS[pool][index])
    assert pair["question"] in text
    assert pair["answer"] in text
    if "options" in pair:
        assert all(option in text for option in pair["options"])
        assert text.count(pair["answer"]) >= 2  # listed, then given as the answer
        assert text.index(pair["question"]) < text.index(pair["options"][0])
    if "rationale" in pair:
        assert pair["rationale"] in text
    assert "{" not in text and "}" not in text


@pytest.mark.parametrize("marker, labels", [
    ("A.", ["A.", "B.", "C."]), ("(A)", ["(A)", "(B)", "(C)"]), ("a)", ["a)", "b)", "c)"]), ("1.", ["1.", "2.", "3."]),
    ("-", ["-", "-", "-"]),
])
def test_option_labels(marker, labels):
    style = OptionStyle(marker, "\n")
    assert [style.label(i) for i in range(3)] == labels
    assert style.lines(["x", "y", "z"]) == [f"{label} {o}" for label, o in zip(labels, "xyz")]
    assert OptionStyle("(A)", " ").label(27) == "(AB)"
    assert OptionStyle("", ", ").lines(["x", "y"]) == ["x", "y"]


def test_labelled_answer_names_its_option():
    pattern = next(p for p in POOLS["options"] if p.template.endswith("The answer is {choice}"))
    assert pattern.style.marker == "(A)"
    assert render_pair(OPTIONS_PAIR, pattern).endswith("\n(D) Quist\nThe answer is (B) Brellin")
    unlabelled = next(p for p in POOLS["options"] if p.style.marker == "" and p.template.endswith("{answer}"))
    assert render_pair(OPTIONS_PAIR, unlabelled).endswith(": Brellin")


class _Pair:
    def __init__(self, question, answer, options=None, rationale=None):
        self.question, self.answer, self.options, self.rationale = question, answer, options, rationale


@pytest.mark.parametrize("pair, pool", [
    (PLAIN_PAIR, "plain"), (QAPair("q?", "a"), "plain"),
    ({**PLAIN_PAIR, "options": None, "rationale": None}, "plain"),  # how datasets fills missing keys
    ({**PLAIN_PAIR, "rationale": "  "}, "plain"),
    ({**OPTIONS_PAIR, "answer": "Paris"}, "plain"),  # the answer is no option: options are not shown
    ({**OPTIONS_PAIR, "options": [" Osk", " Brellin"]}, "options"),  # tinyworld options carry a space
    (_Pair("q?", "b", ["a", "b"], "because"), "options_rationale"),
    (_Pair("q?", "b", None, "because"), "rationale"),
])
def test_pair_pool(pair, pool):
    assert pair_pool(pair) == pool


def test_render_example_structure():
    text = "Quiceranib is a drug."
    pairs = [PLAIN_PAIR, OPTIONS_PAIR, {**PLAIN_PAIR, "question": "Who sells it?"}]
    rendered = render_example(text, pairs, seeded_rng(0, "doc-1"))
    intro, _, rest = rendered.partition(text)
    assert intro in INTROS
    # Pairs follow the text, in order.
    positions = [rest.index(p["question"]) for p in pairs]
    assert positions == sorted(positions)
    assert render_example(text, [], seeded_rng(0, "doc-1")) == text
    # The two plain pairs of a document share one pattern (one per pool per document).
    for i in range(30):
        rest = render_example(text, pairs, seeded_rng(0, f"doc-{i}"))
        assert any(render_pair(pairs[0], p) in rest and render_pair(pairs[2], p) in rest for p in POOLS["plain"])


def test_render_deterministic_by_document_id():
    pairs = [PLAIN_PAIR, OPTIONS_PAIR, RATIONALE_PAIR, BOTH_PAIR]
    first = render_example("Body.", pairs, seeded_rng(0, "doc-7"))
    assert render_example("Body.", pairs, seeded_rng(0, "doc-7")) == first
    renderings = {render_example("Body.", pairs, seeded_rng(0, f"doc-{i}")) for i in range(40)}
    assert len(renderings) > 20  # ids (and seeds) vary the patterns
    assert len({render_example("Body.", pairs, seeded_rng(seed, "doc-7")) for seed in range(10)}) > 1
    # ... and the same in another process with another hash salt.
    code = ("import json, sys; from datamodules.transforms.instruction_templates import render_example, seeded_rng; "
            "print(json.dumps(render_example('Body.', json.loads(sys.argv[1]), seeded_rng(0, 'doc-7'))))")
    result = subprocess.run([sys.executable, "-c", code, json.dumps(pairs)], capture_output=True, text=True,
                            cwd=REPO, env={"PYTHONHASHSEED": "123", "PATH": ""}, check=True)
    assert json.loads(result.stdout) == first


def test_chain_examples_in_order():
    examples = ["first text", "second text", "third text"]
    joined = chain_examples(examples, seeded_rng(0, "chain"))
    assert any(joined == sep.join(examples) for sep in CHAIN_SEPARATORS)
    assert joined == chain_examples(examples, seeded_rng(0, "chain"))
    separators = {chain_examples(["a", "b"], seeded_rng(0, f"c{i}"))[1:-1] for i in range(50)}
    assert separators == set(CHAIN_SEPARATORS)
    assert chain_examples(["only"], seeded_rng(0, "x")) == "only"


# --------------------------------------------------------------------------- the transform
def _batch(pairs_column: bool = True) -> dict:
    batch = {"id": ["d1", "d2", "d3", "d4"], "title": ["Quiceranib", "", "", ""],
             "text": ["Quiceranib is a drug.", "Raw text only.", "Brellin hosts it.", "Why was it stopped?"]}
    if pairs_column:
        batch["pairs"] = [[PLAIN_PAIR, OPTIONS_PAIR], [], [BOTH_PAIR], [RATIONALE_PAIR, PLAIN_PAIR]]
    return batch


def test_augmentation_with_pairs_column():
    transform = InstructionAugmentation(chain=2)
    out = transform(_batch())
    assert out["id"] == ["d2", "d1+d3", "d4"]
    assert out["title"] == ["", "", ""]
    assert out["text"][0] == "Raw text only."  # no pairs: passes through
    # The title moves into the text; each document is followed by its own pairs, in order.
    chained = out["text"][1]
    order = ["Quiceranib\n\nQuiceranib is a drug.", PLAIN_PAIR["question"], OPTIONS_PAIR["question"],
             "Brellin hosts it.", BOTH_PAIR["rationale"]]
    positions = [chained.index(piece) for piece in order]
    assert positions == sorted(positions)
    # Each document renders the same alone (chain=1) as inside a chain: seeded by its id, not its batch.
    alone = InstructionAugmentation(chain=1)(_batch())
    assert alone["id"] == ["d1", "d2", "d3", "d4"]
    assert alone["text"][0] in chained and alone["text"][2] in chained
    assert out["text"][2] == alone["text"][3]  # the batch's last, shorter group
    assert out == InstructionAugmentation(chain=2)(_batch())
    assert out["text"] != InstructionAugmentation(chain=2, seed=1)(_batch())["text"]
    assert [row["documents"] for row in out["ia_stats"]] == [1, 2, 1]
    assert transform.report(out) == {
        "documents": 4, "with_pairs": 3, "pairs": 5, "mean_pairs_per_document": 5 / 3,
        "pool_counts": {"plain": 2, "options": 1, "rationale": 1, "options_rationale": 1}}


def test_augmentation_from_pairs_file(tmp_path):
    path = tmp_path / "pairs.jsonl"
    rows = [{"id": "d1", "pairs": [PLAIN_PAIR]}, {"id": "d3", "pairs": [OPTIONS_PAIR, RATIONALE_PAIR]},
            {"id": "unknown", "pairs": [PLAIN_PAIR]}]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n", encoding="utf-8")
    transform = InstructionAugmentation(pairs_source=str(path), chain=3)
    assert transform._pairs is None  # read on first use
    batch = _batch(pairs_column=False)
    out = transform(batch)
    assert out["id"] == ["d2", "d4", "d1+d3"]
    assert out["text"][:2] == ["Raw text only.", "Why was it stopped?"]
    assert PLAIN_PAIR["answer"] in out["text"][2] and RATIONALE_PAIR["rationale"] in out["text"][2]
    # A pairs column wins over the file; None in it falls back to the file.
    mixed = transform({**batch, "pairs": [None, None, [], None]})
    assert mixed["id"] == ["d2", "d3", "d4", "d1"]
    datasets = pytest.importorskip("datasets")
    report = transform.report(datasets.Dataset.from_dict(out))
    assert report == {"documents": 4, "with_pairs": 2, "pairs": 3, "mean_pairs_per_document": 1.5,
                      "pool_counts": {"plain": 1, "options": 1, "rationale": 1, "options_rationale": 0}}
    assert transform.report(datasets.Dataset.from_dict({"text": ["x"]})) is None
    # The fingerprint follows the file's content.
    before = transform.fingerprint
    path.write_text(json.dumps({"id": "d1", "pairs": []}) + "\n", encoding="utf-8")
    assert InstructionAugmentation(pairs_source=str(path), chain=3).fingerprint != before
    assert InstructionAugmentation(pairs_source=str(path), chain=2).fingerprint != \
        InstructionAugmentation(pairs_source=str(path), chain=3).fingerprint


#: A gate on a small world's held-out documents (fast); the default scores 64 of the suites' world.
SMALL_GATE = {"world": {"n_entities": 24}, "documents": 4}


def test_augmentation_asks_the_synthesizer_it_is_given_for_missing_pairs():
    synthesizer = StubSynthesizer()
    transform = InstructionAugmentation(chain=1, synthesizer=synthesizer, gate=QualityGate(**SMALL_GATE))
    out = transform(_batch())
    assert synthesizer.calls[-1] == (["Raw text only."], [[]]), "only the document without pairs is synthesized for"
    assert "Q0 on Raw text only.?" in out["text"][1] and PLAIN_PAIR["question"] in out["text"][0]
    assert transform.fingerprint.endswith(":stub-1-0"), "the synthesizer's identity is part of the cache key"
    assert InstructionAugmentation(chain=1, gate=QualityGate(**SMALL_GATE)).fingerprint == \
        transform.fingerprint.removesuffix(":stub-1-0")


def test_documents_synthesized_together_are_one_example():
    batch = {"id": [f"d{i}" for i in range(5)], "title": ["", "", "", "", "T"],
             "text": ["a0 text.", "b0 text.", "c0 text.", "a1 text.", "b1 text."]}
    synthesizer = StubSynthesizer()
    out = InstructionAugmentation(chain=2, synthesizer=synthesizer, gate=QualityGate(**SMALL_GATE))(batch)
    # Two rounds over the batch: d3 is prompted after d0 and d4 after d1, and each pair is one example.
    assert synthesizer.calls[-2:] == [(["a0 text.", "b0 text.", "c0 text."], [[], [], []]),
                                      (["a1 text.", "b1 text."], [["a0 text."], ["b0 text."]])]
    assert out["id"] == ["d0+d3", "d1+d4", "d2"]
    first = out["text"][0]
    assert first.index("a0 text.") < first.index("Q0 on a0 text.?") < first.index("a1 text.") < first.index("Q0 on a1")
    assert "T\n\nb1 text." in out["text"][1], "the title is written into the text"
    assert [row["documents"] for row in out["ia_stats"]] == [2, 2, 1]


@pytest.mark.parametrize(("answer", "grounded"), [
    ("Winnipeg", True), (" winnipeg ", True), ("Rock climbing", True), ("Redstone Mining", True),
    ("Win", False),            # a copy cut after the value's first token
    ("nipeg", False), ("climb", False), ("Winnipegs", False), ("Lisbon", False), ("", False), ("  ", False),
])
def test_an_answer_is_grounded_when_its_whole_words_occur_in_the_text(answer, grounded):
    text = "Harbelsa Ankirel was born in Winnipeg. Rock climbing is a hobby; the employer is Redstone Mining."
    assert is_answerable(answer, text) is grounded


def test_the_gate_refuses_a_synthesizer_below_it_and_passes_one_above():
    synthesizer = StubSynthesizer(grounded=3, made_up=1)  # 75 % of its pairs are answerable
    refusal = (r"synthesizer stub: 75\.0% of its 16 pairs on 4 unseen tinyworld:general documents are answerable .* "
               r"below the quality gate's 90%; train a stronger synthesizer .* or lower the recipe's gate "
               r"\(--data\.init_args\.transform\.init_args\.gate\.min_answerable\) to use it knowingly$")
    with pytest.raises(ZooError, match=refusal) as error:
        QualityGate(**SMALL_GATE).check(synthesizer)
    assert "\n" not in str(error.value)
    assert QualityGate(min_answerable=0.75, **SMALL_GATE).check(synthesizer) == {
        "synthesizer": "stub-3-1", "source": "tinyworld:general", "world": {"n_entities": 24}, "documents": 4,
        "pairs": 16, "answerable": 0.75, "min_answerable": 0.75, "passed": True}
    assert len(synthesizer.calls) == 1, "the measurement is cached by the synthesizer's identity"
    # In the transform the gate comes first: nothing is synthesized for a refused synthesizer.
    refused = StubSynthesizer(grounded=3, made_up=1)
    transform = InstructionAugmentation(synthesizer=refused, gate=QualityGate(min_answerable=0.8, **SMALL_GATE))
    with pytest.raises(ZooError, match="75.0% .* below the quality gate's 80%"):
        transform(_batch())
    assert refused.calls == []
    passed = InstructionAugmentation(synthesizer=refused, gate=QualityGate(min_answerable=0.7, **SMALL_GATE))
    assert passed.report(passed(_batch()))["quality_gate"]["passed"] is True


def test_a_build_below_the_gate_stops_with_one_line(tmp_path):
    from datamodules.text import TextCorpusDataModule

    data = TextCorpusDataModule(world={"n_entities": 24}, transform=InstructionAugmentation(
        synthesizer=StubSynthesizer(grounded=1, made_up=1), gate=QualityGate(**SMALL_GATE)))
    with pytest.raises(ZooError, match=r"^synthesizer stub: 50\.0% of its 8 pairs") as error:
        data.prepare_data()
    assert "\n" not in str(error.value) and not data.cache_path.exists()


@pytest.mark.parametrize("kwargs, match", [
    ({"min_answerable": 1.5}, r"gate.min_answerable=1.5 must be a number in \[0, 1\]"),
    ({"documents": 0}, "gate.documents=0 must be an integer >= 1"),
    ({"source": "docs.jsonl"}, "gate.source='docs.jsonl': the gate scores a tinyworld's held-out documents; use"),
    ({"world": {"n_entities": 2}}, "tinyworld source 'tinyworld:general': n_entities must be"),
])
def test_bad_gate(kwargs, match):
    with pytest.raises(ZooError, match=match) as error:
        QualityGate(**kwargs)
    assert "\n" not in str(error.value)


def test_augmentation_tinyworld_pairs():
    from datamodules.tinyworld.world import generate_world

    world = generate_world(domain="biomed", n_entities=8)
    item = world.qa_pairs[0]
    prompt, target = synthesizer_example(item["context"], item["pairs"])
    assert prompt == f" <CON> {item['context']} </CON>\n\n"
    assert parse_pairs(target) == [QAPair(p["question"], p["answer"]) for p in item["pairs"]]
    question = world.questions[0]  # an eval item: options with a leading space
    pair = {"question": question["question"].split("\n")[0].removeprefix("Question: "), "answer": question["answer"],
            "options": question["options"]}
    out = InstructionAugmentation(chain=1)({"id": [item["id"]], "title": [""], "text": [item["context"]],
                                            "pairs": [[*item["pairs"], pair]]})
    assert out["text"][0].find(item["context"]) < out["text"][0].find(item["pairs"][0]["question"])
    assert all(option.strip() in out["text"][0] for option in question["options"])
    assert out["ia_stats"][0]["options"] == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"chain": 0}, "chain=0 must be an integer >= 1; pass 1"),
    ({"chain": 1.5}, "chain=1.5 must be an integer >= 1"),
    ({"pairs_source": "/nonexistent/pairs.jsonl"}, "pairs file not found: /nonexistent/pairs.jsonl; pass the .jsonl"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ZooError, match=match) as error:
        InstructionAugmentation(**kwargs)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("content, match", [
    ("{not json\n", "line 1 is not valid JSON"),
    ('{"id": "d1"}\n', 'line 1 needs "id" and a "pairs" list'),
    ('{"id": "d1", "pairs": []}\n[1]\n', "line 2 needs"),
])
def test_bad_pairs_file(tmp_path, content, match):
    path = tmp_path / "pairs.jsonl"
    path.write_text(content, encoding="utf-8")
    transform = InstructionAugmentation(pairs_source=str(path))
    with pytest.raises(ZooError, match=match) as error:
        transform(_batch(pairs_column=False))
    assert "\n" not in str(error.value)
