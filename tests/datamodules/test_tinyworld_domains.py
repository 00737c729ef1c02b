"""Every registered tinyworld domain keeps the generator's guarantees; the general instruction set."""

import re
import string

import pytest

from datamodules.tinyworld import DOMAINS, general_instructions, generate_world, world_fingerprint
from datamodules.tinyworld.instructions import (
    ANTONYMS,
    CATEGORIES,
    DAYS,
    MONTHS,
    SKILLS,
    SYNONYMS,
    instruction_documents,
)
from tests.datamodules import test_tinyworld as guarantees

ALL_DOMAINS = sorted(DOMAINS)
NEW_DOMAINS = ("finance", "law")

# Fingerprints of the domains that existed before finance and law, recorded before they were added:
# registering a domain (and the NameStyle separator that law needs) must leave these worlds byte-identical.
PINNED_FINGERPRINTS = {
    ("general", 0, 200): "1b75415719cfc72c807486d128a6dbf50a410a35ad3c6154e88786d0cd311031",
    ("biomed", 0, 200): "a1237cb44d6fcc8f00a0ff81bd4d61662cd55942d8080dad99e951ea45b4ab5a",
    ("general", 3, 40): "5f7ee7c10219b2c5281affe71a43b88f04d953baa778138747efe155a98d0020",
    ("biomed", 3, 40): "2c673341e8256c1acbaa7a84bef3bd23aedd83267323d2ec61933f1e4765ce61",
}

# The per-world guarantees of test_tinyworld.py, which pins them to general and biomed only.
WORLD_GUARANTEES = (
    guarantees.test_eval_items_are_grounded_in_the_entity_documents,
    guarantees.test_every_fact_and_relation_is_stated_in_two_documents,
    guarantees.test_splits_are_disjoint_and_route_the_items,
    guarantees.test_question_wording_differs_from_documents,
    guarantees.test_gold_index_is_not_degenerate,
    guarantees.test_names_are_unique_and_never_collide_with_values,
)

# AdaptLLM's miners in their strictest reading: sentences of >= 50 characters around a connector, with
# no comma for the NLI and cause-effect kinds (as upstream), >= 50 characters on both sides of "due to"
# within a sentence, a one-word term of >= 10 characters before "is defined as", and >= 20 characters
# before "is about".
_PLAIN_SENTENCE = r"[^.!?\n,]{50,}[.!?]"
MINER_PATTERNS = {
    "entail": re.compile(rf"[.!?]\s+{_PLAIN_SENTENCE}\s+Therefore,\s+{_PLAIN_SENTENCE}"),
    "contradict": re.compile(rf"[.!?]\s+{_PLAIN_SENTENCE}\s+However,\s+{_PLAIN_SENTENCE}"),
    "neutral": re.compile(rf"[.!?]\s+{_PLAIN_SENTENCE}\s+Moreover,\s+{_PLAIN_SENTENCE}"),
    "effect_cause": re.compile(r"[^.!?\n]{50,}\s+due to\s+[^.!?\n]{50,}[.!?]"),
    "paraphrase": re.compile(r"[.!?]\s+[^.!?\n]{50,}[.!?]\s+In other words,\s+[^.!?\n]{50,}[.!?]"),
    "definition": re.compile(r"\s[^.!?,;\s\"]{10,}\s+is defined as\s+[^.!?\n]{20,}[.!?]"),
    "topic": re.compile(r"[^.!?,;\n]{20,}\s+is about\s+[^.!?\n]{20,}[.!?]"),
}


@pytest.fixture(scope="module", params=ALL_DOMAINS)
def world(request):
    """The default-size world of each registered domain."""
    return generate_world(domain=request.param)


@pytest.mark.parametrize(("domain", "seed", "n_entities"), sorted(PINNED_FINGERPRINTS))
def test_existing_worlds_are_unchanged(domain, seed, n_entities):
    fingerprint = world_fingerprint(domain=domain, seed=seed, n_entities=n_entities)
    assert fingerprint == PINNED_FINGERPRINTS[(domain, seed, n_entities)]


@pytest.mark.parametrize("guarantee", WORLD_GUARANTEES, ids=lambda check: check.__name__.removeprefix("test_"))
def test_world_guarantees_hold_in_every_domain(world, guarantee):
    guarantee(world)


@pytest.mark.parametrize("domain", ALL_DOMAINS)
@pytest.mark.parametrize("seed", [0, 7])
def test_connectors_and_sentence_lengths_hold_in_every_domain(domain, seed):
    guarantees.test_documents_use_discourse_connectors_between_long_sentences(domain, seed)


@pytest.mark.parametrize("domain", ALL_DOMAINS)
def test_same_config_gives_identical_bytes_in_every_domain(domain, tmp_path):
    first, second = generate_world(domain=domain, n_entities=30), generate_world(domain=domain, n_entities=30)
    assert first.fingerprint() == second.fingerprint()
    paths_a, paths_b = first.write_jsonl(tmp_path / "a"), second.write_jsonl(tmp_path / "b")
    for kind, path in paths_a.items():
        assert path.read_bytes() == paths_b[kind].read_bytes(), kind
    other = generate_world(domain=domain, n_entities=30, seed=1)
    assert [e["name"] for e in other.entities] != [e["name"] for e in first.entities]


@pytest.mark.parametrize("domain", ALL_DOMAINS)
def test_sizes_follow_the_parameters_in_every_domain(domain):
    attributes = DOMAINS[domain].attributes
    world = generate_world(domain=domain, n_entities=30, docs_per_entity=2, n_attributes=len(attributes),
                           n_values=5, eval_fraction=0.2, n_paraphrases=2)
    assert len(world.entities) == 30 and sum(e["split"] == "eval" for e in world.entities) == 6
    assert len(world.documents) == 60 and len(world.qa_pairs) == 24 * 2
    assert len(world.cloze) == len(world.questions) == 6 * len(attributes)
    assert len(world.qa_text) == 24 * sum(len(a.questions) for a in attributes)
    for attribute in attributes:
        assert len({e["attributes"][attribute.name] for e in world.entities}) <= 5
    # Only the first two statement templates are in use, so every cloze prompt comes from them.
    prompts = {a.name: [s.split(" {value}")[0] for s in a.statements[:2]] for a in attributes}
    for item in world.cloze:
        assert item["prompt"] in [p.format(name=item["entity"]) for p in prompts[item["attribute"]]]


@pytest.mark.parametrize("domain", NEW_DOMAINS)
def test_new_domains_have_the_designed_shape(domain):
    spec = DOMAINS[domain]
    assert len(spec.attributes) == 6 and len(spec.relations) == 1
    assert all(len(a.pool) == 14 and len(a.statements) == 4 and len(a.questions) == 2 for a in spec.attributes)
    names = [e["name"] for e in generate_world(domain=domain).entities]
    shape = r"[A-Z][a-z]+ v [A-Z][a-z]+" if domain == "law" else r"[A-Z][a-z]+"
    assert all(re.fullmatch(shape, name) for name in names)
    # The miner's definition term is the one word before "is defined as".
    assert min(len(name.split()[-1]) for name in names) >= 10


@pytest.mark.parametrize("domain", NEW_DOMAINS)
def test_new_domains_feed_every_reading_comprehension_miner(domain):
    docs = [doc["text"] for doc in generate_world(domain=domain, n_entities=60).documents]
    for kind, pattern in MINER_PATTERNS.items():
        assert sum(bool(pattern.search(text)) for text in docs) >= 0.3 * len(docs), kind


# The instruction set.


def _numbers(text):
    return [int(item) for item in text.split(", ")]


def _partner(pairs, word):
    return next(b if a == word else a for a, b in pairs if word in (a, b))


def _group_of(word):
    return next(group for group, words in CATEGORIES.items() if word in words)


def _odd_one_out(items):
    words = items.split(", ")
    groups = [_group_of(word) for word in words]
    odd = next(word for word, group in zip(words, groups) if groups.count(group) == 1)
    majority = next(group for group in groups if groups.count(group) > 1)
    return f"{odd}. The others are {majority}."


def _next_of(sequence, item, offset):
    return sequence[(sequence.index(item) + offset) % len(sequence)]


# Independent solutions per skill, from the fields parsed out of the instruction.
SOLVERS = {
    "add": lambda f: int(f["a"]) + int(f["b"]),
    "subtract": lambda f: int(f["a"]) - int(f["b"]),
    "multiply": lambda f: int(f["a"]) * int(f["b"]),
    "double": lambda f: 2 * int(f["n"]),
    "half": lambda f: int(f["n"]) // 2,
    "greater": lambda f: "Yes" if int(f["a"]) > int(f["b"]) else "No",
    "less": lambda f: "Yes" if int(f["a"]) < int(f["b"]) else "No",
    "bigger": lambda f: max(int(f["a"]), int(f["b"])),
    "smaller": lambda f: min(int(f["a"]), int(f["b"])),
    "even": lambda f: "Yes" if int(f["n"]) % 2 == 0 else "No",
    "odd": lambda f: "Yes" if int(f["n"]) % 2 else "No",
    "largest": lambda f: max(_numbers(f["items"])),
    "smallest": lambda f: min(_numbers(f["items"])),
    "sum_list": lambda f: sum(_numbers(f["items"])),
    "count_letters": lambda f: len(f["w"]),
    "count_letter": lambda f: f["w"].count(f["c"]),
    "count_words": lambda f: len(f["s"].split()),
    "count_items": lambda f: len(f["items"].split(", ")),
    "first_letter": lambda f: f["w"][0],
    "last_letter": lambda f: f["w"][-1],
    "reverse_word": lambda f: "".join(reversed(f["w"])),
    "reverse_list": lambda f: ", ".join(f["items"].split(", ")[::-1]),
    "sort_words": lambda f: ", ".join(sorted(f["items"].split(", "))),
    "sort_ascending": lambda f: ", ".join(map(str, sorted(_numbers(f["items"])))),
    "sort_descending": lambda f: ", ".join(map(str, sorted(_numbers(f["items"]), reverse=True))),
    "odd_one_out": lambda f: _odd_one_out(f["items"]),
    "common_group": lambda f: f"They are all {_group_of(f['items'].split(', ')[0])}.",
    "upper_word": lambda f: f["w"].upper(),
    "upper_text": lambda f: f["s"].upper(),
    "lower_text": lambda f: f["s"].lower(),
    "copy": lambda f: f["s"],
    "antonym": lambda f: _partner(ANTONYMS, f["w"]),
    "synonym": lambda f: _partner(SYNONYMS, f["w"]),
    "next_number": lambda f: 2 * _numbers(f["items"])[-1] - _numbers(f["items"])[-2],
    "count_up": lambda f: ", ".join(map(str, range(int(f["a"]), int(f["b"]) + 1))),
    "count_down": lambda f: ", ".join(map(str, range(int(f["b"]), int(f["a"]) - 1, -1))),
    "letter_after": lambda f: _next_of(string.ascii_lowercase, f["x"], 1),
    "letter_before": lambda f: _next_of(string.ascii_lowercase, f["x"], -1),
    "day_after": lambda f: _next_of(DAYS, f["x"], 1),
    "month_after": lambda f: _next_of(MONTHS, f["x"], 1),
    "numbered_list": lambda f: "\n".join(f"{k}. {w}" for k, w in enumerate(f["items"].split(", "), 1)),
    "bulleted_list": lambda f: "\n".join(f"- {w}" for w in f["items"].split(", ")),
    "comma_join": lambda f: ", ".join(f["items"].split()),
    "longer_word": lambda f: f["a"] if len(f["a"]) > len(f["b"]) else f["b"],
    "alphabetical_first": lambda f: min(f["a"], f["b"]),
}


def _phrasing_pattern(phrasing):
    """Turns an instruction template into a regex with one named group per field.

    Lists ("items") and sentences ("s") span several words; every other field is one word or number.
    """

    def group(match):
        field = match.group(1)
        body = ".+" if field in ("items", "s") else r"\w+"
        return f"(?P<{field}>{body})"

    return re.compile(re.sub(r"\\\{(\w+)\\\}", group, re.escape(phrasing)))


PHRASING_PATTERNS = [(skill.name, _phrasing_pattern(p)) for skill in SKILLS for p in skill.phrasings]


def _readings(instruction):
    """Returns (skill name, match) for every phrasing that matches the instruction."""
    return [(name, match) for name, pattern in PHRASING_PATTERNS if (match := pattern.fullmatch(instruction))]


def _masked(instruction):
    """Masks an instruction's variable parts (quoted text, numbers, anything after a colon)."""
    return re.sub(r"\d+", "N", re.sub(r'"[^"]*"', "Q", instruction.split(":")[0]))


@pytest.fixture(scope="module")
def instructions():
    return general_instructions(2000, seed=0)


def test_instructions_are_deterministic(instructions):
    again = general_instructions(2000, seed=0)
    assert again == instructions and general_instructions(100, seed=0) == instructions[:100]
    assert [r["text"] for r in general_instructions(2000, seed=1)] != [r["text"] for r in instructions]
    assert len({r["id"] for r in instructions}) == 2000 and all(set(r) == {"id", "text"} for r in instructions)
    ids, texts = [r["id"] for r in instructions], [r["text"] for r in instructions]
    assert instruction_documents(2000, seed=0) == {"id": ids, "title": [""] * 2000, "text": texts}
    with pytest.raises(ValueError, match="n must be >= 0"):
        general_instructions(-1)


def test_every_instruction_response_is_correct(instructions):
    assert set(SOLVERS) == {skill.name for skill in SKILLS}
    for record in instructions:
        instruction, response = record["text"].split("\n", 1)
        readings = _readings(instruction)
        # Each phrasing means one thing: no instruction reads as two different skills.
        assert len({name for name, _ in readings}) == 1, instruction
        name, match = readings[0]
        assert response == str(SOLVERS[name](match.groupdict())), record["text"]


def test_instructions_are_varied(instructions):
    skills_seen = {_readings(record["text"].split("\n")[0])[0][0] for record in instructions}
    assert skills_seen == {skill.name for skill in SKILLS}
    templates = {_masked(record["text"].split("\n")[0]) for record in instructions}
    assert len(templates) >= 80
    assert len({record["text"] for record in instructions}) >= 0.85 * len(instructions)


def test_instructions_leak_no_tinyworld_fact(instructions):
    facts = {value for domain in DOMAINS.values() for attribute in domain.attributes for value in attribute.pool}
    for domain in ALL_DOMAINS:
        facts |= {entity["name"] for entity in generate_world(domain=domain).entities}
    alternatives = "|".join(map(re.escape, sorted(facts, key=len, reverse=True)))
    pattern = re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)
    texts = "\n".join(record["text"] for record in instructions + general_instructions(2000, seed=1))
    assert pattern.search(texts) is None, pattern.search(texts)
