"""Task clusters of tinyworld for prompt retrieval (UPRISE, Cheng et al., EMNLP 2023).

UPRISE tunes a retriever on some task clusters and tests it on a held-out one: the prompts it
finds there come from the other clusters' training examples, so they help only where a
demonstration of one task carries something another task can use. Here that something is the
world's facts and the relation asked: every cluster asks about the same (entity, attribute,
value) facts in its own format, so a demonstration about the right entity and attribute, in any
cluster's format, states the answer of a held-out question; one about another fact only shows
the format, and a false claim states a wrong value.

Clusters (each one task, whose examples word every fact several ways: upstream draws a training
input's candidate prompts from its own task, so a task must hold other examples about the same fact
for any candidate to carry it; every item is multiple choice, scored by the options' likelihood):

- ``closed_qa``: ``Question: In which city was X born?\\nAnswer:`` -> the value (4 options).
- ``completion``: a statement of the fact cut before its value -> the value (4 options).
- ``verification``: ``Claim: <a statement, true or with a wrong value>\\nTrue or false?`` -> `` true`` / `` false``.
- ``topic``: a follow-up sentence of the fact (definition, consequence, cause...) ``\\nTopic:`` -> the
  attribute's words (`` birth city``; one option per attribute of the world).

A demonstration is the item's input followed by its gold option, as upstream renders a training
example ("input + answer"). Same world config, same items, in the same order.

Example:
    >>> from datamodules.tinyworld import WorldConfig
    >>> from datamodules.tinyworld.clusters import cluster_items
    >>> items = cluster_items(WorldConfig(seed=11, n_entities=30))
    >>> sorted({item.cluster for item in items})
    ['closed_qa', 'completion', 'topic', 'verification']
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass, replace

from .domain import Attribute
from .world import N_DISTRACTORS, WorldConfig, _cloze_prompts, _make_entities

CLUSTERS = ("closed_qa", "completion", "verification", "topic")
#: The separator between a demonstration and what follows it (upstream's ``" \\n "``).
DEMO_SEPARATOR = " \n "


@dataclass(frozen=True)
class ClusterItem:
    """One multiple-choice example of a cluster's task.

    Attributes:
        id: ``<cluster>-<task>-<index>``, unique in its world.
        cluster: One of ``CLUSTERS``.
        task: The task within the cluster.
        entity: The entity asked about.
        attribute: The attribute asked about.
        input: The text before the answer.
        options: Continuations, each with its leading space.
        answer_index: The gold option.
    """

    id: str
    cluster: str
    task: str
    entity: str
    attribute: str
    input: str
    options: tuple[str, ...]
    answer_index: int

    @property
    def demonstration(self) -> str:
        """The example as a prompt: its input followed by its gold option."""
        return self.input + self.options[self.answer_index]

    def to_dict(self) -> dict:
        return {**asdict(self), "options": list(self.options)}

    @classmethod
    def from_dict(cls, fields: dict) -> "ClusterItem":
        return cls(**{**fields, "options": tuple(fields["options"])})


def _rng(config: WorldConfig, purpose: str) -> random.Random:
    digest = hashlib.sha256(f"tinyworld-clusters:{config.domain}:{config.seed}:{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _label(attribute: Attribute) -> str:
    return " " + attribute.name.replace("_", " ")


def _value_options(rng: random.Random, answer: str, values: list[str]) -> tuple[tuple[str, ...], int]:
    options = [answer, *rng.sample([v for v in values if v != answer], N_DISTRACTORS)]
    rng.shuffle(options)
    return tuple(f" {option}" for option in options), options.index(answer)


def cluster_items(config: WorldConfig) -> list[ClusterItem]:
    """Every cluster's items about every fact of the world ``config`` describes (both entity splits).

    Args:
        config: The world; its entities, values and names are those of ``generate_world(config)``.

    Returns:
        Items in cluster, entity, attribute, template order.
    """
    domain = config.resolve_domain()
    attributes = domain.attributes[: config.n_attributes]
    entities, active = _make_entities(config, domain, attributes)
    labels = tuple(_label(attribute) for attribute in attributes)
    items: list[ClusterItem] = []

    def add(cluster: str, task: str, entity: dict, attribute: Attribute, text: str, options, answer_index: int):
        items.append(ClusterItem(f"{cluster}-{task}-{len(items):06d}", cluster, task, entity["name"], attribute.name,
                                 text, tuple(options), answer_index))

    for cluster in CLUSTERS:
        rng = _rng(config, cluster)
        for entity in entities:
            name = entity["name"]
            for attribute in attributes:
                value, values = entity["attributes"][attribute.name], active[attribute.name]
                if cluster == "closed_qa":
                    for template in attribute.questions:
                        options, gold = _value_options(rng, value, values)
                        add(cluster, "questions", entity, attribute,
                            f"Question: {template.format(name=name)}\nAnswer:", options, gold)
                elif cluster == "completion":
                    for prompt in _cloze_prompts(attribute, config.n_paraphrases):
                        options, gold = _value_options(rng, value, values)
                        add(cluster, "statements", entity, attribute, prompt.format(name=name), options, gold)
                elif cluster == "verification":
                    for statement in attribute.statements[: config.n_paraphrases]:
                        true = rng.random() < 0.5
                        stated = value if true else rng.choice([v for v in values if v != value])
                        add(cluster, "claims", entity, attribute,
                            f"Claim: {statement.format(name=name, value=stated)}\nTrue or false?",
                            (" true", " false"), 0 if true else 1)
                else:
                    follow_ups = attribute.consequences + attribute.definitions + attribute.causes + attribute.contrasts
                    for sentence in follow_ups:
                        add(cluster, "topics", entity, attribute,
                            f"{sentence.format(name=name, value=value)}\nTopic:", labels,
                            labels.index(_label(attribute)))
    return items


#: Seeds of the scoring LM's small worlds start here, far from any world a study or suite scores.
SCORER_SEED_BASE = 10_000_000


def scorer_texts(config: WorldConfig, n_texts: int, seed: int = 0, facts_per_text: int = 3,
                 texts_per_world: int = 8) -> list[str]:
    """Training texts for a scoring LM that can use a demonstration: runs of demonstrations joined by
    ``DEMO_SEPARATOR``, ``facts_per_text`` facts each told twice in two formats, in a shuffled order.

    UPRISE scores candidates with an LLM that already learns from a prompt; a tiny LM does so only
    if it has seen text where an earlier passage answers a later one, and only if copying is the one
    way to predict it: trained on one world, it memorises the world's facts instead (measured: a
    same-fact demonstration left its accuracy at chance). So every ``texts_per_world`` texts come from
    a fresh small world (``config`` with its own seed, from ``SCORER_SEED_BASE`` on), whose names and
    values it cannot have seen, and each fact's second telling can only be predicted from its first
    (or, after a false claim, not from it): it learns to read a fact from its context, not the facts.

    Args:
        config: The worlds' settings (domain, entities per world, ...); its seed offsets theirs.
        n_texts: Texts to draw.
        seed: Seed of the draw.
        facts_per_text: Facts per text, each told by two items (at least 1).
        texts_per_world: Texts drawn from each world.

    Returns:
        ``n_texts`` strings; same arguments, same strings.
    """
    if facts_per_text < 1:
        raise ValueError(f"facts_per_text must be >= 1 (got {facts_per_text})")
    if texts_per_world < 1:
        raise ValueError(f"texts_per_world must be >= 1 (got {texts_per_world})")
    rng = random.Random(f"tinyworld-clusters:scorer:{config.domain}:{config.seed}:{seed}")
    texts: list[str] = []
    for world in range(-(-n_texts // texts_per_world)):
        world_seed = SCORER_SEED_BASE + config.seed * 1_000_000 + world
        by_fact: dict[tuple[str, str], list[ClusterItem]] = {}
        for item in cluster_items(replace(config, seed=world_seed)):
            by_fact.setdefault((item.entity, item.attribute), []).append(item)
        facts = sorted(by_fact)
        for _ in range(min(texts_per_world, n_texts - len(texts))):
            run = [item for fact in rng.sample(facts, min(facts_per_text, len(facts)))
                   for item in rng.sample(by_fact[fact], 2)]
            rng.shuffle(run)
            texts.append(DEMO_SEPARATOR.join(item.demonstration for item in run))
    return texts
