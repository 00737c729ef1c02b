"""The zoo registry: one small YAML per entry in ``zoo/entries/`` (timm / open_clip style).

An entry is data: its name, system, where the weights come from (``recipe`` = built here by a
config under ``configs/``; ``hf-hub:org/name`` = an upstream release), the suites it is judged
on, and the paper. Names never resolve to other weights: an unknown name is an error that
lists the close ones.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from zoo.errors import ZooError
from zoo.paths import PROJECT_ROOT

ENTRIES_DIR = Path(__file__).with_name("entries")


@dataclass(frozen=True)
class Entry:
    """A registry entry.

    Args:
        name: Registry name (``base-lm-tiny``).
        system: The system it belongs to (``causal_lm``, ``adaptllm``, ...).
        description: One sentence on what the model is.
        source: ``recipe`` (built by ``zoo build``) or ``hf-hub:org/name`` (an upstream release).
        recipe: Config under the project root that builds it (``recipe`` sources).
        base: The entry the recipe needs built first: the weights it continues from (``init_from``), or a
            model its data comes from (a prior, a generator, an instruction synthesizer).
        baseline_of: The method entry this one is the baseline of, if any.
        suites: Benchmark suites it is evaluated on.
        paper: Citation of the method.
        tags: Free-form labels for filtering.
        study: The study whose figure plots the entry (``collapse``).
        study_x: Where the entry sits on that figure's x axis (the collapse study: synthetic share).
    """

    name: str
    system: str
    description: str
    source: str = "recipe"
    recipe: str | None = None
    base: str | None = None
    baseline_of: str | None = None
    suites: tuple[str, ...] = ()
    paper: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    study: str | None = None
    study_x: float | None = None

    @property
    def recipe_path(self) -> Path:
        """Absolute path of the recipe config."""
        if not self.recipe:
            raise ZooError(f"'{self.name}' is an upstream release ({self.source}), not built here; "
                           f"load it with zoo.load('{self.name}') where the hub is reachable")
        return PROJECT_ROOT / self.recipe


@lru_cache(maxsize=1)
def entries() -> dict[str, Entry]:
    """All registry entries by name."""
    found: dict[str, Entry] = {}
    for path in sorted(ENTRIES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for key in ("suites", "tags"):
            data[key] = tuple(data.get(key) or ())
        entry = Entry(**data)
        if entry.name != path.stem:
            raise ValueError(f"registry file {path.name} holds entry '{entry.name}'; name the file after the entry")
        found[entry.name] = entry
    return found


def list_models(pattern: str = "*") -> list[str]:
    """Sorted registry names matching a shell pattern, e.g. ``list_models("adaptllm*")``."""
    return sorted(name for name in entries() if fnmatch.fnmatchcase(name, pattern))


def get_entry(name: str) -> Entry:
    """The entry of ``name``; an unknown name raises ``ZooError`` naming close matches."""
    try:
        return entries()[name]
    except KeyError:
        close = difflib.get_close_matches(name, entries(), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "see `zoo list`"
        raise ZooError(f"unknown model '{name}': {hint}") from None
