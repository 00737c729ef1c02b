"""Domains as data: value pools and sentence templates, plus the registry.

The generator never names a domain. A new domain is one module that builds a
:class:`Domain` and stores it in :data:`DOMAINS` (see ``domains/general.py``);
:class:`Domain` validates its templates on construction so that every world
generated from it keeps the guarantees the tests check.

Template placeholders: ``{name}`` (the entity), ``{value}`` (an attribute
value) and ``{other}`` (the target entity of a relation).
"""

import re
import string
from dataclasses import dataclass

from .names import NameStyle

# The reading-comprehension miner wants connector-joined sentences of at least
# 50 characters; 42 characters of fixed text plus a name (>= 5 characters) and a
# value (>= 3 characters) guarantees that for every rendered sentence.
MIN_FIXED_CHARS = 42
# Question fragments shorter than this (e.g. "born?") are too generic to count
# as copied document wording.
MIN_SHARED_FRAGMENT = 8

_FORMATTER = string.Formatter()
_SENTENCE_END = re.compile(r"[.!?]")


def template_fields(template: str) -> set[str]:
    """Returns the placeholder names used by a template.

    Args:
        template: a ``str.format`` template.

    Returns:
        The set of field names, e.g. ``{"name", "value"}``.
    """
    return {field for _, field, _, _ in _FORMATTER.parse(template) if field is not None}


def fixed_text(template: str) -> str:
    """Returns a template with its placeholders removed.

    Args:
        template: a ``str.format`` template.

    Returns:
        The literal text of the template.
    """
    return "".join(literal for literal, _, _, _ in _FORMATTER.parse(template))


def question_fragments(template: str) -> list[str]:
    """Splits a question template around ``{name}`` into its distinctive wording.

    Args:
        template: a question template such as "In which city was {name} born?".

    Returns:
        The stripped fragments long enough to identify copied wording.
    """
    parts = (part.strip(" ?,") for part in template.split("{name}"))
    return [part for part in parts if len(part) >= MIN_SHARED_FRAGMENT]


@dataclass(frozen=True)
class Attribute:
    """One attribute of an entity type, e.g. the birth city of a person.

    Attributes:
        name: key in ``entity["attributes"]``.
        pool: candidate values; a world uses ``n_values`` of them.
        statements: paraphrases that state the fact ({name}, {value}). The
            first ``n_paraphrases`` are used; ``statements[0]`` must start with
            "{name}" and have " {value}" after it, so it yields a cloze prompt.
        questions: question templates ({name}) worded unlike any document text.
        consequences: follow-ups introduced by "Therefore, ".
        contrasts: follow-ups introduced by "However, ".
        definitions: stand-alone sentences "{name} is defined as ... {value} ...".
        causes: stand-alone sentences containing " due to ".
    """

    name: str
    pool: tuple[str, ...]
    statements: tuple[str, ...]
    questions: tuple[str, ...]
    consequences: tuple[str, ...] = ()
    contrasts: tuple[str, ...] = ()
    definitions: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()

    def fact_templates(self) -> tuple[str, ...]:
        """Returns every template that states this attribute's value."""
        return self.statements + self.consequences + self.contrasts + self.definitions + self.causes


@dataclass(frozen=True)
class Relation:
    """A relation from an entity to another entity of the same world.

    Attributes:
        name: key in ``entity["relations"]``.
        statements: sentences with {name} and {other}.
    """

    name: str
    statements: tuple[str, ...]


@dataclass(frozen=True)
class Domain:
    """Everything needed to generate worlds about one kind of entity.

    Attributes:
        name: registry key, e.g. "biomed".
        entity_type: stored as ``entity["type"]``, e.g. "drug".
        names: how entity names are built.
        attributes: the attributes in priority order; a world uses the first
            ``n_attributes``.
        relations: relation types; each entity gets one target per type.
        titles: document title templates ({name}).
        intros: opening sentences ({name}) that contain " is about ".
        fillers: optional fact-free sentences ({name}) that add variety.
    """

    name: str
    entity_type: str
    names: NameStyle
    attributes: tuple[Attribute, ...]
    relations: tuple[Relation, ...]
    titles: tuple[str, ...]
    intros: tuple[str, ...]
    fillers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _validate(self)

    def document_templates(self) -> list[str]:
        """Returns every template whose text can appear in a document."""
        templates = [*self.titles, *self.intros, *self.fillers]
        for attribute in self.attributes:
            templates.extend(attribute.fact_templates())
        for relation in self.relations:
            templates.extend(relation.statements)
        return templates


def _validate(domain: Domain) -> None:
    """Raises ValueError naming the first template or value that breaks a guarantee."""

    def check(condition: bool, message: str) -> None:
        if not condition:
            raise ValueError(f"tinyworld domain {domain.name!r}: {message}")

    def check_sentence(template: str, fields: set[str]) -> None:
        check(
            template_fields(template) == fields,
            f"template {template!r} must use exactly the fields {sorted(fields)}",
        )
        check(not template.startswith("{value}"), f"template {template!r} must not start with a (lower-case) value")
        # One sentence per template, so the miner's sentence splitter sees it whole.
        check(
            template.endswith(".") and not _SENTENCE_END.search(template[:-1]),
            f"{template!r} must be one sentence ending in '.'",
        )
        check(
            len(fixed_text(template)) >= MIN_FIXED_CHARS,
            f"template {template!r} needs >= {MIN_FIXED_CHARS} characters of fixed text",
        )

    check(domain.attributes, "needs at least one attribute")
    check(domain.titles and domain.intros, "needs titles and intros")
    check(len({a.name for a in domain.attributes}) == len(domain.attributes), "attribute names must be unique")
    for title in domain.titles:
        check(template_fields(title) == {"name"}, f"title {title!r} must use exactly {{name}}")
    for intro in domain.intros:
        check_sentence(intro, {"name"})
        check(" is about " in intro, f"intro {intro!r} must contain ' is about '")
    for filler in domain.fillers:
        check_sentence(filler, {"name"})
    for relation in domain.relations:
        check(relation.statements, f"relation {relation.name!r} needs statements")
        for template in relation.statements:
            check_sentence(template, {"name", "other"})

    document_text = [fixed_text(t).lower() for t in domain.document_templates()]
    values: list[str] = []
    for attribute in domain.attributes:
        where = f"attribute {attribute.name!r}"
        check(len(set(attribute.pool)) == len(attribute.pool) >= 4, f"{where} needs >= 4 distinct values")
        check(attribute.statements and attribute.questions, f"{where} needs statements and questions")
        first = attribute.statements[0]
        check(
            first.startswith("{name}") and " {value}" in first,
            f"{where}: statements[0] must start with {{name}} and contain ' {{value}}'",
        )
        for template in attribute.fact_templates():
            check_sentence(template, {"name", "value"})
        for template in attribute.definitions:
            check(
                template.startswith("{name} is defined as "),
                f"{where}: definition {template!r} must start with '{{name}} is defined as '",
            )
        for template in attribute.causes:
            check(" due to " in template, f"{where}: cause {template!r} must contain ' due to '")
        for question in attribute.questions:
            check(
                template_fields(question) == {"name"} and question.endswith("?"),
                f"{where}: question {question!r} must use {{name}} and end in '?'",
            )
            for fragment in question_fragments(question):
                check(
                    not any(fragment.lower() in text for text in document_text),
                    f"{where}: question wording {fragment!r} also occurs in a document template",
                )
        for value in attribute.pool:
            check(
                value == value.strip() and not _SENTENCE_END.search(value),
                f"{where}: value {value!r} must be trimmed and contain no '.', '!' or '?'",
            )
            # A value that also occurs in template text would make "the answer appears in the document" vacuous.
            pattern = re.compile(rf"\b{re.escape(value.lower())}\b")
            check(
                not any(pattern.search(text) for text in document_text),
                f"{where}: value {value!r} occurs in template text",
            )
        values.extend(attribute.pool)
    lowered = [value.lower() for value in values]
    for i, value in enumerate(lowered):
        for other in lowered[i + 1 :]:
            check(value not in other and other not in value, f"values {value!r} and {other!r} overlap")


# Registry of domains by name; domain modules add themselves on import.
DOMAINS: dict[str, Domain] = {}
