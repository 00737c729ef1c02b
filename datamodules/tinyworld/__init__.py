"""tinyworld: seeded synthetic worlds for studying knowledge acquisition in tiny LMs.

A world is a closed set of entities (people, drugs, ...) with attributes and
relations, rendered as varied documents, plus held-out evaluation items about
the facts (cloze prompts in document wording, questions in new wording) and
question-answer training data for the other half of the entities; in the
spirit of Allen-Zhu & Li, "Physics of Language Models: Part 3.1".

Example:
    >>> from datamodules.tinyworld import generate_world
    >>> world = generate_world(domain="biomed", seed=1, n_entities=50)
    >>> paths = world.write_jsonl("data/tinyworld/biomed-1")
"""

from . import domains  # noqa: F401  (registers the built-in domains)
from .domain import DOMAINS, Attribute, Domain, Relation
from .instructions import general_instructions
from .names import NameStyle
from .world import World, WorldConfig, generate_world, open_book_items, world_fingerprint

__all__ = [
    "DOMAINS",
    "Attribute",
    "Domain",
    "NameStyle",
    "Relation",
    "World",
    "WorldConfig",
    "general_instructions",
    "generate_world",
    "open_book_items",
    "world_fingerprint",
]
