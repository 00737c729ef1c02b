"""Behaviour of the tinyworld generator: determinism, held-out facts, wording, connectors."""

import dataclasses
import json
import re
from collections import Counter, defaultdict

import pytest

from datamodules.tinyworld import (
    DOMAINS,
    Attribute,
    Domain,
    NameStyle,
    Relation,
    WorldConfig,
    generate_world,
    open_book_items,
    world_fingerprint,
)

CONNECTORS = ("Therefore, ", "However, ", "In other words, ", " is defined as ")
# Sentence boundary in rendered documents: templates are single sentences ending in ".".
SENTENCE_SPLIT = re.compile(r"(?<=\.) (?=[A-Z])")


@pytest.fixture(scope="module", params=["general", "biomed"])
def world(request):
    """The default-size world of each built-in domain."""
    return generate_world(domain=request.param)


def docs_by_entity(world):
    grouped = defaultdict(list)
    for doc in world.documents:
        grouped[doc["entity"]].append(doc["text"])
    return grouped


def toy_domain(name="toy"):
    """A minimal valid domain, as a later module would register it."""
    return Domain(
        name=name,
        entity_type="robot",
        names=NameStyle(syllables=("zor", "bik", "tal", "mun", "pex", "rod", "gil", "vat"), words=1),
        attributes=(
            Attribute(
                name="colour",
                pool=("crimson", "teal", "amber", "violet", "ochre"),
                statements=(
                    "{name} has a shiny outer shell painted {value} by the factory workers.",
                    "{name} leaves the assembly line with a coat of {value} paint on every panel.",
                ),
                questions=("Which hue is {name}?",),
                consequences=("{name} is easy to spot in the warehouse because of the {value} paint.",),
            ),
            Attribute(
                name="task",
                pool=("welding", "sorting", "painting", "cleaning", "lifting"),
                statements=(
                    "{name} spends the whole working day on {value} in the big factory hall.",
                    "{name} was programmed for {value} and does little else during each shift.",
                ),
                questions=("What job was {name} built to do?",),
            ),
        ),
        relations=(Relation(name="twin", statements=("{name} was built on the same production line as {other} last spring.",)),),
        titles=("{name}", "Robot {name}"),
        intros=("This maintenance note is about {name}, a robot in the north factory hall.",),
    )


def test_same_config_gives_identical_bytes(tmp_path):
    first, second = generate_world(n_entities=40), generate_world(WorldConfig(n_entities=40))
    assert first.fingerprint() == second.fingerprint() == world_fingerprint(n_entities=40)
    paths_a, paths_b = first.write_jsonl(tmp_path / "a"), second.write_jsonl(tmp_path / "b")
    assert sorted(paths_a) == ["cloze", "documents", "entities", "qa_pairs", "qa_text", "questions", "world"]
    for kind, path in paths_a.items():
        assert path.read_bytes() == paths_b[kind].read_bytes(), kind
    other = generate_world(n_entities=40, seed=1)
    assert other.fingerprint() != first.fingerprint()
    assert [e["name"] for e in other.entities] != [e["name"] for e in first.entities]


def test_fingerprint_changes_with_every_config_field():
    base = WorldConfig(n_entities=20)
    changes = {
        "domain": "biomed",
        "seed": 1,
        "n_entities": 21,
        "n_values": 9,
        "docs_per_entity": 2,
        "eval_fraction": 0.25,
        "n_attributes": 4,
        "n_paraphrases": 3,
        "fresh_values": 0.5,
    }
    assert set(changes) == {field.name for field in dataclasses.fields(WorldConfig)}
    prints = {world_fingerprint(base)} | {world_fingerprint(base, **{k: v}) for k, v in changes.items()}
    assert len(prints) == len(changes) + 1
    assert re.fullmatch(r"[0-9a-f]{64}", world_fingerprint(base))


def test_document_count_does_not_reshuffle_entities():
    assert generate_world(n_entities=30, docs_per_entity=2).entities == generate_world(n_entities=30, docs_per_entity=5).entities


def test_eval_items_are_grounded_in_the_entity_documents(world):
    texts = docs_by_entity(world)
    entities = {e["name"]: e for e in world.entities}
    pools = defaultdict(set)
    for entity in world.entities:
        for attribute, value in entity["attributes"].items():
            pools[attribute].add(value)
    all_text = " ".join(doc["text"] for doc in world.documents)
    for item in world.cloze + world.questions:
        gold = item["answer"]
        assert entities[item["entity"]]["attributes"][item["attribute"]] == gold
        assert any(gold in text for text in texts[item["entity"]])
        options = item["options"]
        assert len(set(options)) == 4 and options[item["answer_index"]] == " " + gold
        assert all(option.startswith(" ") and option[1:] in pools[item["attribute"]] for option in options)
    for item in world.cloze:
        # Document wording: the prompt minus the name occurs in the corpus.
        assert item["prompt"].startswith(item["entity"]) and item["prompt"][len(item["entity"]) :] in all_text
    # Cloze and question for the same fact share their options.
    cloze_options = {(i["entity"], i["attribute"]): (i["options"], i["answer_index"]) for i in world.cloze}
    assert {(i["entity"], i["attribute"]): (i["options"], i["answer_index"]) for i in world.questions} == cloze_options


def test_every_fact_and_relation_is_stated_in_two_documents(world):
    texts = docs_by_entity(world)
    for entity in world.entities:
        docs = texts[entity["name"]]
        assert len(docs) == 3
        for value in [*entity["attributes"].values(), *entity["relations"].values()]:
            assert sum(value in doc for doc in docs) >= 2, (entity["name"], value)


def test_splits_are_disjoint_and_route_the_items(world):
    split = {e["name"]: e["split"] for e in world.entities}
    evals = {name for name, s in split.items() if s == "eval"}
    synths = {name for name, s in split.items() if s == "synth"}
    assert evals.isdisjoint(synths) and len(evals) == len(synths) == 100
    assert {d["entity"] for d in world.documents} == evals | synths
    assert {i["entity"] for i in world.cloze} == {i["entity"] for i in world.questions} == evals
    assert {i["entity"] for i in world.qa_pairs} == {i["entity"] for i in world.qa_text} == synths
    entities = {e["name"]: e for e in world.entities}
    for item in world.qa_pairs:
        values = entities[item["entity"]]["attributes"].values()
        # The pairs cover exactly the facts the context states, and only those.
        assert {p["answer"] for p in item["pairs"]} == {v for v in values if v in item["context"]}
        assert all(p["answer"] in item["context"] and item["entity"] in p["question"] for p in item["pairs"])
        assert all(not p["question"].startswith("Question:") and p["question"].endswith("?") for p in item["pairs"])
    for item in world.qa_text:
        question, answer = item["text"].split("\nAnswer: ")
        assert question.startswith("Question: ") and answer in entities[item["entity"]]["attributes"].values()


def test_question_wording_differs_from_documents(world):
    # Fragments never span a newline, so one joined string stands for all documents.
    corpus = "\n".join(doc["text"] for doc in world.documents)
    bodies = [(i["entity"], i["question"].removeprefix("Question: ").removesuffix("\nAnswer:")) for i in world.questions]
    bodies += [(i["entity"], i["text"].split("\n")[0].removeprefix("Question: ")) for i in world.qa_text]
    assert all(body.endswith("?") for _, body in bodies)
    fragments = {fragment.strip(" ?") for entity, body in bodies for fragment in body.split(entity)}
    assert len(fragments) > 10
    for fragment in fragments:
        if len(fragment) >= 8:
            assert fragment not in corpus, fragment


@pytest.mark.parametrize("domain", ["general", "biomed"])
@pytest.mark.parametrize("seed", [0, 7])
def test_documents_use_discourse_connectors_between_long_sentences(domain, seed):
    world = generate_world(domain=domain, seed=seed, n_entities=60)
    docs = [doc["text"] for doc in world.documents]
    for marker in (*CONNECTORS, "Moreover, ", " due to ", " is about "):
        assert sum(marker in text for text in docs) >= 0.3 * len(docs), marker
    for doc in world.documents:
        sentences = SENTENCE_SPLIT.split(doc["text"])
        assert min(len(sentence) for sentence in sentences) >= 50
        # A connector is followed by a lower-case word or by the entity's name.
        for match in re.finditer(r"(?:Therefore|However|In other words|Moreover), (\S+)", doc["text"]):
            assert match.group(1)[0].islower() or doc["entity"].startswith(match.group(1)), match.group(0)


def test_sizes_follow_the_parameters():
    world = generate_world(domain="biomed", n_entities=30, docs_per_entity=2, n_attributes=3, n_values=5, eval_fraction=0.2)
    attributes = DOMAINS["biomed"].attributes[:3]
    n_eval = sum(e["split"] == "eval" for e in world.entities)
    assert len(world.entities) == 30 and n_eval == 6
    assert len(world.documents) == 60 and len(world.qa_pairs) == 24 * 2
    assert len(world.cloze) == len(world.questions) == 6 * 3
    assert len(world.qa_text) == 24 * sum(len(a.questions) for a in attributes)
    assert all(list(e["attributes"]) == [a.name for a in attributes] for e in world.entities)
    for attribute in attributes:
        assert len({e["attributes"][attribute.name] for e in world.entities}) <= 5
    # With fewer than three documents each one states every fact.
    assert all(len(item["pairs"]) == 3 for item in world.qa_pairs)
    assert len(generate_world(n_entities=4, docs_per_entity=1).documents) == 4
    # One attribute over three documents: one document states no fact and yields no QA pairs.
    single = generate_world(n_entities=4, n_attributes=1)
    assert len(single.qa_pairs) == 2 * 2 and all(item["pairs"] for item in single.qa_pairs)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"n_entities": 3}, "n_entities must be an integer >= 4 (got 3)"),
        ({"n_values": 3}, "n_values must be an integer between 4 and 14 for domain 'general'"),
        ({"n_values": 15}, "n_values must be an integer between 4 and 14 for domain 'general'"),
        ({"docs_per_entity": 0}, "docs_per_entity must be an integer >= 1"),
        ({"eval_fraction": 0.0}, "eval_fraction must be strictly between 0 and 1"),
        ({"eval_fraction": 1}, "eval_fraction must be strictly between 0 and 1"),
        ({"n_attributes": 7}, "n_attributes must be an integer between 1 and 6"),
        ({"n_paraphrases": 5}, "n_paraphrases must be an integer between 1 and 4"),
        ({"seed": "0"}, "seed must be an integer"),
        ({"fresh_values": 1.5}, "fresh_values must be a share between 0 and 1 (got 1.5)"),
        ({"fresh_values": True}, "fresh_values must be a share between 0 and 1 (got True)"),
    ],
)
def test_config_validation_names_field_and_range(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        generate_world(**overrides)
    assert "\n" not in str(error.value)


def test_unknown_domain_lists_the_choices():
    expected = f"unknown tinyworld domain 'x'; choose one of: {', '.join(sorted(DOMAINS))}"
    with pytest.raises(ValueError) as error:
        generate_world(domain="x")
    assert str(error.value) == expected and "biomed" in expected and "general" in expected


def test_new_domain_can_be_registered_and_generated(monkeypatch):
    monkeypatch.setitem(DOMAINS, "toy", toy_domain())
    world = generate_world(domain="toy", n_entities=8, n_attributes=2, n_values=4, n_paraphrases=2)
    assert len(world.documents) == 24 and {e["type"] for e in world.entities} == {"robot"}
    assert all(doc["id"].startswith("toy-d") for doc in world.documents)
    assert len(world.cloze) == 4 * 2 and world.cloze[0]["prompt"].startswith(world.cloze[0]["entity"] + " ")


def test_fingerprint_is_remembered_per_config_and_domain_definition(monkeypatch):
    # The process keeps each fingerprint; a domain redefined under the same name is another world.
    monkeypatch.setitem(DOMAINS, "toy", toy_domain())
    config = WorldConfig(domain="toy", n_entities=8, n_attributes=2, n_values=4, n_paraphrases=2)
    first = world_fingerprint(config)
    assert first == generate_world(config).fingerprint() == world_fingerprint(config)
    renamed = dataclasses.replace(toy_domain(), entity_type="droid")
    monkeypatch.setitem(DOMAINS, "toy", renamed)
    assert world_fingerprint(config) == generate_world(config).fingerprint() != first


@pytest.mark.parametrize(
    ("attribute_changes", "message"),
    [
        ({"questions": ("What has {name} a shiny outer shell painted?",)}, "also occurs in a document template"),
        ({"statements": ("{name} is {value}.",)}, "characters of fixed text"),
        ({"pool": ("crimson", "teal", "amber", "crimson red")}, "overlap"),
    ],
)
def test_domain_rejects_templates_that_break_guarantees(attribute_changes, message):
    base = toy_domain()
    broken = dataclasses.replace(base.attributes[0], **attribute_changes)
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(base, attributes=(broken, base.attributes[1]))


def test_gold_index_is_not_degenerate(world):
    counts = Counter(item["answer_index"] for item in world.cloze)
    assert set(counts) == {0, 1, 2, 3}
    assert min(counts.values()) >= 0.15 * len(world.cloze)


def test_names_are_unique_and_never_collide_with_values(world):
    names = [e["name"].lower() for e in world.entities]
    values = [v.lower() for a in DOMAINS[world.config.domain].attributes for v in a.pool]
    assert len(set(names)) == len(names)
    for i, name in enumerate(names):
        assert not any(name in other or other in name for other in names[:i] + names[i + 1 :] + values)
    known = set(e["name"] for e in world.entities)
    assert all(target in known and target != e["name"] for e in world.entities for target in e["relations"].values())


@pytest.mark.parametrize("domain", ["general", "biomed"])
def test_fresh_values_replace_a_share_of_values_and_nothing_else(domain):
    plain = generate_world(domain=domain, n_entities=300)
    fresh = generate_world(domain=domain, n_entities=300, fresh_values=0.5)
    pool = {v for a in DOMAINS[domain].attributes for v in a.pool}
    names = [e["name"] for e in fresh.entities]
    assert names == [e["name"] for e in plain.entities]
    assert [e["relations"] for e in fresh.entities] == [e["relations"] for e in plain.entities]
    pairs = [(kept[a], value) for old, new in zip(plain.entities, fresh.entities)
             for a, value in new["attributes"].items() for kept in [old["attributes"]]]
    new_values = [value for old, value in pairs if value != old]
    # The unchanged values are the plain world's; the share replaced is about half (1,500 values).
    assert 0.45 < len(new_values) / len(pairs) < 0.55 and not set(new_values) & pool
    assert {len(value.split()) for value in new_values} == {1, 2}
    # Unique, and no fresh value overlaps a name, a pool value or another fresh value: finding it in a text
    # is finding that fact.
    lowered = [value.lower() for value in new_values]
    assert len(set(lowered)) == len(lowered)
    for i, value in enumerate(lowered):
        others = lowered[:i] + lowered[i + 1:] + [n.lower() for n in names] + [v.lower() for v in pool]
        assert not any(value in other or other in value for other in others)
    # Every record follows the entities: documents state the fresh values, QA pairs and items ask for them.
    texts = docs_by_entity(fresh)
    entities = {e["name"]: e for e in fresh.entities}
    assert all(pair["answer"] in item["context"] for item in fresh.qa_pairs for pair in item["pairs"])
    for item in fresh.questions:
        assert item["answer"] == entities[item["entity"]]["attributes"][item["attribute"]]
        assert any(item["answer"] in text for text in texts[item["entity"]])
        assert len(set(item["options"])) == 4


def test_fresh_values_enter_the_fingerprint_only_when_set():
    assert WorldConfig(n_entities=20).fingerprint_fields() == {
        field.name: getattr(WorldConfig(n_entities=20), field.name)
        for field in dataclasses.fields(WorldConfig) if field.name != "fresh_values"}
    assert world_fingerprint(n_entities=20, fresh_values=0.0) == world_fingerprint(n_entities=20)
    assert WorldConfig(fresh_values=0.25).fingerprint_fields()["fresh_values"] == 0.25


def test_write_jsonl_round_trips(tmp_path):
    world = generate_world(domain="biomed", n_entities=12)
    paths = world.write_jsonl(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())
    summary = json.loads(paths["world"].read_text(encoding="utf-8"))
    assert summary["fingerprint"] == world.fingerprint() and summary["config"]["domain"] == "biomed"
    for kind, records in world.records().items():
        lines = paths[kind].read_text(encoding="utf-8").splitlines()
        assert [json.loads(line) for line in lines] == records
        assert lines == [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in records]
        assert summary["counts"][kind] == len(records)


def test_texts_render_each_kind():
    world = generate_world(n_entities=10)
    docs = world.texts("documents")
    assert docs[0] == f"{world.documents[0]['title']}\n\n{world.documents[0]['text']}"
    assert world.texts("qa_text")[0].startswith("Question: ")
    item = world.questions[0]
    assert world.texts("questions")[0] == f"{item['question']} {item['answer']}"
    assert world.texts("cloze")[0].endswith(" " + world.cloze[0]["answer"])
    with pytest.raises(ValueError, match="unknown text kind"):
        world.texts("nope")


@pytest.mark.parametrize("domain", ["general", "biomed", "finance", "law"])
def test_open_book_items_are_answerable_from_unseen_documents_only(domain):
    config = WorldConfig(domain=domain, n_entities=120)
    trained = generate_world(config)
    items = open_book_items(trained)
    assert len(items) == 400, "over 300 items per task, as the study protocol asks"
    assert items == open_book_items(generate_world(config)), "generated deterministically"
    unseen = generate_world(config, seed=config.seed + 1_000_000)
    texts = {doc["id"]: doc["text"] for doc in unseen.documents}
    trained_names = {entity["name"] for entity in trained.entities}
    for item in items:
        document, question = texts[item["document"]], item["prompt"].rsplit("\n\n", 1)[1]
        assert item["prompt"].endswith("\nAnswer:") and question.startswith("Question: ") and document in item["prompt"]
        assert item["entity"] not in trained_names, "the entity is new to every model trained on the world"
        named = [option for option in item["options"] if re.search(rf"\b{re.escape(option.strip())}\b", document)]
        assert named == [" " + item["answer"]] == [item["options"][item["answer_index"]]]
    # Every attribute is asked, and the gold option is not always at one place.
    assert {item["attribute"] for item in items} == {a.name for a in DOMAINS[domain].attributes[:5]}
    assert len({item["answer_index"] for item in items}) == 4
    assert len(open_book_items(trained, limit=7)) == 7
