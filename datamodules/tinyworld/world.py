"""World generation: entities, documents, evaluation items and QA training data."""

import hashlib
import json
import os
import random
import re
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

from zoo.paths import atomic_file, atomic_write_text

from .domain import DOMAINS, Attribute, Domain
from .names import generate_names
from .render import render_document

# Distractors per multiple-choice item (4 options in all).
N_DISTRACTORS = 3
# Open-book items come from the world of this seed offset: entities no training world (seeds 0, 1, ...) has.
OPEN_BOOK_SEED_OFFSET = 1_000_000
# Open-book items per world: over 300 (the study protocol's minimum), each a document-long prompt.
OPEN_BOOK_ITEMS = 400
# The record kinds of a world, in the order they are written.
RECORD_KINDS = ("documents", "cloze", "questions", "qa_pairs", "qa_text", "entities")


def _check_int(field: str, value: object, low: int, high: int | None = None, where: str = "") -> None:
    """Raises a one-line ValueError unless ``low <= value <= high`` (no upper bound if high is None)."""
    if isinstance(value, int) and not isinstance(value, bool) and low <= value and (high is None or value <= high):
        return
    allowed = f">= {low}" if high is None else f"between {low} and {high}"
    raise ValueError(f"{field} must be an integer {allowed}{where} (got {value!r})")


@dataclass(frozen=True)
class WorldConfig:
    """Parameters of one generated world; equal configs give identical worlds.

    Attributes:
        domain: registered domain name (see ``DOMAINS``).
        seed: world seed.
        n_entities: number of entities (>= 4).
        n_values: values used per attribute (4 .. the domain's pool size).
        docs_per_entity: documents rendered per entity (>= 1).
        eval_fraction: share of entities whose facts are held out for evaluation.
        n_attributes: attributes per entity (1 .. the domain's attribute count).
        n_paraphrases: statement templates per attribute (1 .. the domain's count).
        fresh_values: share of the entities' attribute values, in [0, 1], that are fresh words made
            from the domain's name syllables, one per entity and attribute, instead of pool values:
            an open vocabulary, as the answers of extractive QA data are, so a model trained on the
            world's QA pairs cannot answer them from a prior over a small pool and must read them
            from the text (the instruction synthesizer's world).
    """

    domain: str = "general"
    seed: int = 0
    n_entities: int = 200
    n_values: int = 8
    docs_per_entity: int = 3
    eval_fraction: float = 0.5
    n_attributes: int = 5
    n_paraphrases: int = 4
    fresh_values: float = 0.0

    def __post_init__(self) -> None:
        domain = self.resolve_domain()
        where = f" for domain {self.domain!r}"
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed must be an integer (got {self.seed!r})")
        _check_int("n_entities", self.n_entities, 4)
        _check_int("n_attributes", self.n_attributes, 1, len(domain.attributes), where)
        attributes = domain.attributes[: self.n_attributes]
        _check_int("n_values", self.n_values, 4, min(len(a.pool) for a in attributes), where)
        _check_int("docs_per_entity", self.docs_per_entity, 1)
        _check_int("n_paraphrases", self.n_paraphrases, 1, min(len(a.statements) for a in attributes), where)
        fraction = self.eval_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
            raise ValueError(f"eval_fraction must be strictly between 0 and 1 (got {fraction!r})")
        fresh = self.fresh_values
        if isinstance(fresh, bool) or not isinstance(fresh, (int, float)) or not 0 <= fresh <= 1:
            raise ValueError(f"fresh_values must be a share between 0 and 1 (got {fresh!r})")

    def fingerprint_fields(self) -> dict:
        """The fields a world's fingerprint covers: all of them, except ``fresh_values`` at its default,
        so the worlds that existed before that field keep their fingerprints (and every cache keyed by them)."""
        fields = asdict(self)
        if not self.fresh_values:
            del fields["fresh_values"]
        return fields

    def resolve_domain(self) -> Domain:
        """Returns the registered Domain of this config.

        Raises:
            ValueError: if the domain is not registered.
        """
        if self.domain not in DOMAINS:
            raise ValueError(f"unknown tinyworld domain {self.domain!r}; choose one of: {', '.join(sorted(DOMAINS))}")
        return DOMAINS[self.domain]


def _canonical_json(payload: object) -> str:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _jsonl_line(record: dict) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class World:
    """A generated world: entities and every record derived from them.

    Attributes:
        config: the config the world was generated from.
        entities: {"name", "type", "attributes", "relations", "split"} dicts.
        documents: {"id", "entity", "title", "text", "domain"} for all entities.
        cloze: document-wording completion items for eval entities; ``options``
            carry a leading space and ``options[answer_index] == " " + answer``.
        questions: new-wording "Question: ...\\nAnswer:" items for eval entities,
            with the same options as the matching cloze item.
        qa_pairs: {"id", "entity", "context", "pairs"} per synth-entity document.
        qa_text: "Question: ...\\nAnswer: value" training texts for synth entities.
    """

    config: WorldConfig
    entities: list[dict]
    documents: list[dict]
    cloze: list[dict]
    questions: list[dict]
    qa_pairs: list[dict]
    qa_text: list[dict]

    def records(self) -> dict[str, list[dict]]:
        """Returns every record list keyed by kind (see ``RECORD_KINDS``)."""
        return {kind: getattr(self, kind) for kind in RECORD_KINDS}

    def fingerprint(self) -> str:
        """Returns the sha256 hex digest of the canonical JSON of config and records."""
        payload = {"config": self.config.fingerprint_fields(), **self.records()}
        return hashlib.sha256(_canonical_json(payload).encode("utf-8")).hexdigest()

    def texts(self, kind: str = "documents") -> list[str]:
        """Returns plain training texts, e.g. for tokenizer training.

        Args:
            kind: "documents" ("title\\n\\ntext"), "qa_text", "questions" or
                "cloze" (the latter two completed with the gold option).

        Returns:
            One string per record.

        Raises:
            ValueError: for an unknown kind.
        """
        if kind == "documents":
            return [f"{doc['title']}\n\n{doc['text']}" for doc in self.documents]
        if kind == "qa_text":
            return [item["text"] for item in self.qa_text]
        if kind in ("questions", "cloze"):
            field = "question" if kind == "questions" else "prompt"
            return [item[field] + item["options"][item["answer_index"]] for item in getattr(self, kind)]
        raise ValueError(f"unknown text kind {kind!r}; choose one of: cloze, documents, qa_text, questions")

    def write_jsonl(self, out_dir: str | os.PathLike) -> dict[str, Path]:
        """Writes the world as JSON lines plus a world.json summary.

        Each file is written to a temporary file named after this process and
        moved into place (``zoo.paths.atomic_file``), so a crash never leaves a
        truncated file, and the next write removes what a killed one left.
        Other files in ``out_dir`` stay as they are.

        Args:
            out_dir: directory to write into (created if missing).

        Returns:
            Paths keyed by record kind, plus "world" for world.json.

        Raises:
            ZooError: if ``out_dir`` is a file, lies under a file or is read-only,
                or one of the files to write is a folder.
        """
        out = Path(out_dir)
        records = self.records()
        paths = {kind: out / f"{kind}.jsonl" for kind in records}
        for kind, items in records.items():
            with atomic_file(paths[kind]) as handle:
                handle.writelines(_jsonl_line(item) for item in items)
        summary = {
            "config": asdict(self.config),
            "fingerprint": self.fingerprint(),
            "counts": {kind: len(items) for kind, items in records.items()},
        }
        paths["world"] = out / "world.json"
        atomic_write_text(paths["world"], json.dumps(summary, sort_keys=True, ensure_ascii=False, indent=2) + "\n")
        return paths


def _stream(config: WorldConfig, purpose: str) -> random.Random:
    """Returns a random stream for one purpose of one world.

    Separate streams keep parts independent: e.g. changing docs_per_entity
    leaves names and attribute values untouched. The seed is derived with
    sha256 because Python's hash() of strings changes between processes.
    """
    digest = hashlib.sha256(f"tinyworld:{config.domain}:{config.seed}:{purpose}".encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _cloze_prompts(attribute: Attribute, n_paraphrases: int) -> list[str]:
    """Returns the prompt templates (text before " {value}") of statements that start with the name."""
    statements = attribute.statements[:n_paraphrases]
    return [s.split(" {value}")[0] for s in statements if s.startswith("{name}") and " {value}" in s]


def _make_entities(
    config: WorldConfig, domain: Domain, attributes: tuple[Attribute, ...]
) -> tuple[list[dict], dict[str, list[str]]]:
    """Draws names, attribute values, relation targets and the eval/synth split.

    Returns:
        (entities, the values in use per attribute name).
    """
    active = {a.name: _stream(config, f"values:{a.name}").sample(a.pool, config.n_values) for a in attributes}
    reserved = [value for attribute in domain.attributes for value in attribute.pool]
    names = generate_names(domain.names, config.n_entities, _stream(config, "names"), reserved)
    entities = []
    for index, name in enumerate(names):
        rng = _stream(config, f"entity:{index}")
        values = {a.name: rng.choice(active[a.name]) for a in attributes}
        entity = {"name": name, "type": domain.entity_type, "attributes": values, "relations": {}, "split": "synth"}
        entities.append(entity)
    if config.fresh_values:
        _freshen_values(config, domain, entities, reserved + names)
    rng = _stream(config, "relations")
    for index, entity in enumerate(entities):
        for relation in domain.relations:
            other = rng.randrange(len(entities) - 1)
            entity["relations"][relation.name] = entities[other + (other >= index)]["name"]
    order = list(range(len(entities)))
    _stream(config, "split").shuffle(order)
    # Both splits stay non-empty whatever the fraction.
    n_eval = min(len(entities) - 1, max(1, round(len(entities) * config.eval_fraction)))
    for index in order[:n_eval]:
        entities[index]["split"] = "eval"
    return entities, active


def _freshen_values(config: WorldConfig, domain: Domain, entities: list[dict], reserved: list[str]) -> None:
    """Replaces a ``fresh_values`` share of the entities' attribute values by fresh words, in place.

    A fresh value is one or two words of the domain's name syllables (pool values have one to three
    tokens' worth of words too), unique and overlapping no name or pool value, so finding it in a text
    is finding that fact. Its own stream: the pool values and everything else stay as without it.
    """
    rng = _stream(config, "fresh-values")
    chosen = [(entity, name) for entity in entities for name in entity["attributes"]
              if rng.random() < config.fresh_values]
    one_word = replace(domain.names, words=1, max_syllables=4, suffixes=(), separator=" ")
    two_words = replace(one_word, words=2, max_syllables=3)
    styles = [two_words if rng.random() < 0.5 else one_word for _ in chosen]
    single = generate_names(one_word, sum(style is one_word for style in styles), rng, reserved)
    words, phrases = iter(single), iter(generate_names(two_words, len(chosen) - len(single), rng, reserved + single))
    for (entity, name), style in zip(chosen, styles):
        entity["attributes"][name] = next(words) if style is one_word else next(phrases)


def generate_world(config: WorldConfig | None = None, **overrides) -> World:
    """Generates a world deterministically from its config.

    Args:
        config: the world parameters; defaults to ``WorldConfig()``.
        **overrides: WorldConfig fields to set or replace, e.g.
            ``generate_world(domain="biomed", seed=1, n_entities=50)``.

    Returns:
        The generated World.

    Raises:
        ValueError: for an unknown domain or an out-of-range parameter.
    """
    config = replace(config, **overrides) if config is not None else WorldConfig(**overrides)
    domain = config.resolve_domain()
    attributes = domain.attributes[: config.n_attributes]
    entities, active = _make_entities(config, domain, attributes)
    prefix = config.domain
    documents, cloze, questions, qa_pairs, qa_text = [], [], [], [], []
    for index, entity in enumerate(entities):
        name, gold = entity["name"], entity["attributes"]
        # With >= 3 documents each document may omit one attribute, each
        # attribute at most once, so every fact is still stated in >= 2 documents.
        omitted = []
        if config.docs_per_entity >= 3:
            n_omitted = min(config.docs_per_entity, len(attributes))
            omitted = _stream(config, f"plan:{index}").sample([a.name for a in attributes], n_omitted)
        for k in range(config.docs_per_entity):
            stated = [a for a in attributes if k >= len(omitted) or a.name != omitted[k]]
            rng = _stream(config, f"doc:{index}:{k}")
            title, text = render_document(domain, entity, stated, config.n_paraphrases, rng)
            doc_id = f"{prefix}-d{len(documents):06d}"
            documents.append({"id": doc_id, "entity": name, "title": title, "text": text, "domain": prefix})
            if entity["split"] == "synth" and stated:
                pairs = [
                    {"question": rng.choice(a.questions).format(name=name), "answer": gold[a.name]} for a in stated
                ]
                pair_id = f"{prefix}-p{len(qa_pairs):06d}"
                qa_pairs.append({"id": pair_id, "entity": name, "context": text, "pairs": pairs})
        rng = _stream(config, f"items:{index}")
        for attribute in attributes:
            answer = gold[attribute.name]
            if entity["split"] == "synth":
                for template in attribute.questions:
                    line = f"Question: {template.format(name=name)}\nAnswer: {answer}"
                    qa_text.append({"id": f"{prefix}-t{len(qa_text):06d}", "entity": name, "text": line})
                continue
            options = [answer, *rng.sample([v for v in active[attribute.name] if v != answer], N_DISTRACTORS)]
            rng.shuffle(options)
            item = {
                "entity": name,
                "attribute": attribute.name,
                "options": [f" {option}" for option in options],
                "answer_index": options.index(answer),
                "answer": answer,
            }
            prompt = rng.choice(_cloze_prompts(attribute, config.n_paraphrases)).format(name=name)
            cloze.append({"id": f"{prefix}-c{len(cloze):06d}", "prompt": prompt, **item})
            question = rng.choice(attribute.questions).format(name=name)
            question_id = f"{prefix}-q{len(questions):06d}"
            questions.append({"id": question_id, "question": f"Question: {question}\nAnswer:", **item})
    return World(config, entities, documents, cloze, questions, qa_pairs, qa_text)


def open_book_items(world: World, limit: int = OPEN_BOOK_ITEMS) -> list[dict]:
    """Reading-comprehension items on documents no model has seen: the document, then a question on it.

    The documents are those of the world with the same settings at seed ``seed +
    OPEN_BOOK_SEED_OFFSET``: new entities (and values drawn afresh; an entity whose name the training
    world also has is skipped), so the answer can only be read from the prompt, not recalled. Each item is ``"{title}\n\n{text}\n\nQuestion: ...\nAnswer:"``
    with the 4 options of that world's held-out question about an attribute the document states;
    items where the document names no option, or more than one, are left out (so exactly one
    option can be read from it). This is the tinyworld stand-in for AdaptLLM's prompted domain
    tasks: the fact is in the context, the skill asked is to use it.

    Args:
        world: The training world (its config's seed is offset; nothing else changes).
        limit: Items kept, in document order.

    Returns:
        Dicts with ``id``, ``document``, ``entity``, ``attribute``, ``prompt``, ``options``,
        ``answer_index`` and ``answer``.
    """
    config = world.config
    unseen = generate_world(config, seed=config.seed + OPEN_BOOK_SEED_OFFSET)
    trained = {entity["name"] for entity in world.entities}
    questions: dict[str, list[dict]] = {}
    for item in unseen.questions:
        if item["entity"] not in trained:
            questions.setdefault(item["entity"], []).append(item)
    items = []
    for doc in unseen.documents:
        for question in questions.get(doc["entity"], []):
            named = [o for o in question["options"] if re.search(rf"\b{re.escape(o.strip())}\b", doc["text"])]
            if named != [question["options"][question["answer_index"]]]:
                continue
            prompt = f"{doc['title']}\n\n{doc['text']}\n\n{question['question']}"
            items.append({"id": f"{config.domain}-o{len(items):06d}", "document": doc["id"], "prompt": prompt,
                          **{k: question[k] for k in ("entity", "attribute", "options", "answer_index", "answer")}})
            if len(items) == limit:
                return items
    return items


def world_fingerprint(config: WorldConfig | None = None, **overrides) -> str:
    """Generates a world and returns its fingerprint.

    Args:
        config: the world parameters; defaults to ``WorldConfig()``.
        **overrides: WorldConfig fields to set or replace.

    Returns:
        The sha256 hex digest of the world's canonical JSON.
    """
    config = replace(config, **overrides) if config is not None else WorldConfig(**overrides)
    return _fingerprint(config, config.resolve_domain())


@lru_cache(maxsize=256)
def _fingerprint(config: WorldConfig, domain: Domain) -> str:
    """A world's fingerprint, generated once per process for a config and its domain's definition: every build
    of a sweep asks for the same few (the shared tokenizer's worlds, its DataModule's), each a full generation."""
    return generate_world(config).fingerprint()
