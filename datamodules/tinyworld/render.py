"""Rendering one entity's facts into a varied, human-like document."""

import random

from .domain import Attribute, Domain

# Ways to present one fact besides a plain statement. Each document presents a
# random two or three of them, so every connector shows up in a good share of
# documents without every document reading the same.
CONNECTOR_KINDS = ("restate", "therefore", "however", "define", "cause")

# kind -> (Attribute field holding the sentences, connector that introduces them;
# None for sentences that stand alone and carry their own marker).
_FOLLOW_UPS = {
    "therefore": ("consequences", "Therefore,"),
    "however": ("contrasts", "However,"),
    "define": ("definitions", None),
    "cause": ("causes", None),
}

# Probability that a document gets one fact-free filler sentence.
_FILLER_RATE = 0.5


def fill(template: str, lower_first: bool = False, **fields: str) -> str:
    """Fills a template, optionally lower-casing its first letter.

    Args:
        template: a ``str.format`` template.
        lower_first: lower-case the first letter because a connector such as
            "Therefore," precedes it; a leading placeholder (a name) is kept.
        **fields: placeholder values.

    Returns:
        The rendered sentence.
    """
    if lower_first and not template.startswith("{"):
        template = template[0].lower() + template[1:]
    return template.format(**fields)


def supports(attribute: Attribute, kind: str, n_paraphrases: int) -> bool:
    """Tells whether an attribute has the templates a presentation kind needs.

    Args:
        attribute: the attribute to present.
        kind: one of :data:`CONNECTOR_KINDS`.
        n_paraphrases: how many of the attribute's statements are in use.
    """
    if kind == "restate":
        return len(attribute.statements[:n_paraphrases]) >= 2
    return bool(getattr(attribute, _FOLLOW_UPS[kind][0]))


def _present(attribute: Attribute, kind: str, name: str, value: str, n_paraphrases: int, rng: random.Random) -> str:
    """Renders one fact with a discourse connector (one or two sentences)."""
    statements = attribute.statements[:n_paraphrases]
    if kind == "restate":
        first, second = rng.sample(statements, 2)
        return f"{fill(first, name=name, value=value)} In other words, {fill(second, True, name=name, value=value)}"
    field, connector = _FOLLOW_UPS[kind]
    follow_up = rng.choice(getattr(attribute, field))
    if connector is None:
        return fill(follow_up, name=name, value=value)
    lead = fill(rng.choice(statements), name=name, value=value)
    return f"{lead} {connector} {fill(follow_up, True, name=name, value=value)}"


def render_document(
    domain: Domain,
    entity: dict,
    stated: list[Attribute],
    n_paraphrases: int,
    rng: random.Random,
) -> tuple[str, str]:
    """Renders one document about an entity.

    The document opens with an intro sentence ("... is about ..."), then states
    every attribute in ``stated`` once (two or three of them with a connector:
    "In other words,", "Therefore,", "However,", "... is defined as ...",
    "... due to ..."; the plain ones paired with "Moreover,"), every relation,
    and sometimes a filler sentence, in random order.

    Args:
        domain: the domain providing the templates.
        entity: the entity dict (name, attributes, relations).
        stated: the attributes this document states.
        n_paraphrases: how many statement templates per attribute to use.
        rng: the random stream of this document.

    Returns:
        (title, text).
    """
    name = entity["name"]
    values = entity["attributes"]
    plain = list(stated)
    units = []
    for kind in rng.sample(CONNECTOR_KINDS, rng.choice((2, 3))):
        candidates = [a for a in plain if supports(a, kind, n_paraphrases)]
        if candidates:
            attribute = rng.choice(candidates)
            plain.remove(attribute)
            units.append(_present(attribute, kind, name, values[attribute.name], n_paraphrases, rng))
    rng.shuffle(plain)
    for index in range(0, len(plain), 2):
        pair = plain[index : index + 2]
        sentences = [
            fill(rng.choice(a.statements[:n_paraphrases]), position > 0, name=name, value=values[a.name])
            for position, a in enumerate(pair)
        ]
        units.append(" Moreover, ".join(sentences))
    for relation in domain.relations:
        units.append(fill(rng.choice(relation.statements), name=name, other=entity["relations"][relation.name]))
    if domain.fillers and rng.random() < _FILLER_RATE:
        units.append(fill(rng.choice(domain.fillers), name=name))
    rng.shuffle(units)
    title = fill(rng.choice(domain.titles), name=name)
    intro = fill(rng.choice(domain.intros), name=name)
    return title, " ".join([intro, *units])
