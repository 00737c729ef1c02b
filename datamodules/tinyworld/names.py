"""Seeded generation of unique, pronounceable entity names from syllables."""

import random
from dataclasses import dataclass

from zoo.errors import ZooError

# Give up after this many rejected candidates per requested name: a small
# syllable inventory cannot produce arbitrarily many unique names.
_MAX_ATTEMPTS_PER_NAME = 200


@dataclass(frozen=True)
class NameStyle:
    """How the names of one domain's entities are built.

    Attributes:
        syllables: lower-case syllables that are concatenated into words.
        words: number of words per name (2 gives "Given Surname").
        min_syllables: fewest syllables per word.
        max_syllables: most syllables per word.
        suffixes: optional endings appended to the last word, e.g. drug stems
            such as "tinib" that make "Velotinib".
        separator: text between the words, e.g. " v " for case names such as
            "Halgar v Penlinworth".
    """

    syllables: tuple[str, ...]
    words: int = 1
    min_syllables: int = 2
    max_syllables: int = 3
    suffixes: tuple[str, ...] = ()
    separator: str = " "

    def sample(self, rng: random.Random) -> str:
        """Draws one (not necessarily unique) name.

        Args:
            rng: the random stream to draw from.

        Returns:
            A capitalised name such as "Marel Tovin", "Velotinib" or
            "Halgar v Penlinworth".
        """
        words = []
        for index in range(self.words):
            n = rng.randint(self.min_syllables, self.max_syllables)
            parts = [rng.choice(self.syllables)]
            while len(parts) < n:
                # No syllable twice in a row: "Borbor" reads like a stutter.
                parts.append(rng.choice([s for s in self.syllables if s != parts[-1]]))
            word = "".join(parts)
            if self.suffixes and index == self.words - 1:
                word += rng.choice(self.suffixes)
            words.append(word.capitalize())
        return self.separator.join(words)


def generate_names(style: NameStyle, count: int, rng: random.Random, reserved: list[str]) -> list[str]:
    """Generates ``count`` unique names in a seeded, reproducible order.

    A candidate is rejected when it overlaps (as a case-insensitive substring,
    either way round) an earlier name or a reserved string. That keeps literal
    checks such as "the answer appears in the document" or "the document
    mentions entity X" unambiguous.

    Args:
        style: how to build a name.
        count: how many names to return.
        rng: the random stream to draw from.
        reserved: strings that names must not overlap, e.g. attribute values.

    Returns:
        The names, in generation order.

    Raises:
        ZooError: if the syllable inventory cannot supply enough names (a world asked for too many entities).
    """
    reserved_lower = [text.lower() for text in reserved]
    names: list[str] = []
    taken: list[str] = []
    for _ in range(_MAX_ATTEMPTS_PER_NAME * count):
        if len(names) == count:
            break
        candidate = style.sample(rng)
        low = candidate.lower()
        if any(low in other or other in low for other in taken + reserved_lower):
            continue
        names.append(candidate)
        taken.append(low)
    if len(names) < count:
        raise ZooError(f"could only generate {len(names)} of {count} unique names in this world's name style; ask for "
                       "fewer entities (n_entities, times n_worlds for picture worlds), or for picture worlds set "
                       "fresh_names: true, whose style holds many more")
    return names
