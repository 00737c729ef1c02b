"""The zoo registry: one small YAML per entry in ``zoo/entries/`` (timm / open_clip style).

An entry is data: its name, kind, system, where the weights come from (``recipe`` = built here by
a config under ``configs/``; ``hf-hub:org/name`` = an upstream release; ``package:module/folder`` =
a model a Python package ships, such as the offline MiniLM), the suites it is judged on, and the
paper. What an entry needs built first is read from its recipe, never copied by hand. Names never
resolve to other weights: an unknown name is an error that lists the close ones.
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
#: The model kinds the spine knows, with the libraries each kind's folder opens in besides ``zoo.load``.
KINDS: dict[str, str] = {
    "causal-lm": "transformers AutoModelForCausalLM, lm_eval --model hf",
    "encoder": "transformers AutoModelForMaskedLM",
    "bi-encoder": "two transformers/sentence-transformers encoder folders (query/, prompt/)",
    "vision-lm": "timm local-dir: encoder (vision/), projector (projector/), transformers causal LM (lm/)",
}
SOURCE_PREFIXES = ("hf-hub:", "package:")


@dataclass(frozen=True)
class Entry:
    """A registry entry.

    Args:
        name: Registry name (``base-lm-tiny``).
        kind: The model kind: ``causal-lm``, ``encoder``, ``bi-encoder`` or ``vision-lm``.
        system: The system it belongs to (``causal_lm``, ``adaptllm``, ...).
        description: One sentence on what the model is.
        source: ``recipe`` (built by ``zoo build``), ``hf-hub:org/name`` (an upstream release) or
            ``package:module/folder`` (a model an installed Python package ships).
        recipe: Config under the project root that builds it (``recipe`` sources).
        baseline_of: The method entry this one is the baseline of, if any.
        suites: Benchmark suites it is evaluated on.
        paper: Citation of the method.
        tags: Free-form labels for filtering.
        study: The study whose figure plots the entry (``collapse``).
        study_x: Where the entry sits on that figure's x axis (the collapse study: synthetic share).
        loads_as: For an upstream release (a plain transformers folder): the zoo module it loads as and that
            module's init arguments, e.g. ``{"class": "DiffusionPLM", "init_args": {"score_timesteps": [600]}}``
            (without it, a plain folder loads as the module of its architecture).
        smoke: What ``--preset smoke`` shrinks besides the steps (``configs/trainer/smoke.yaml``): a config
            layered on the recipe, for the work that steps do not bound (synthesised corpora, scored candidates,
            world sizes), e.g. ``{"data": {"init_args": {"n_candidates": 4}}}``. A class's ``init_args`` and a
            settings dataclass (UPRISE's ``clusters``) merge field by field; a plain mapping (a ``world``
            dict) replaces the recipe's whole, so it restates every key it keeps.
    """

    name: str
    kind: str
    system: str
    description: str
    source: str = "recipe"
    recipe: str | None = None
    baseline_of: str | None = None
    suites: tuple[str, ...] = ()
    paper: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    study: str | None = None
    study_x: float | None = None
    loads_as: dict | None = None
    smoke: dict | None = None

    @property
    def recipe_path(self) -> Path:
        """Absolute path of the recipe config."""
        if not self.recipe:
            raise ZooError(f"'{self.name}' is an upstream release ({self.source}), not built here; "
                           f"load it with zoo.load('{self.name}') where the hub is reachable")
        return PROJECT_ROOT / self.recipe

    @property
    def needs_hub(self) -> bool:
        """Whether building or loading it needs the hub: an upstream release, or a recipe that names a hub model
        (UPRISE's real-cluster retriever scores with a hub LM)."""
        if self.source.startswith("hf-hub:"):
            return True
        if not self.recipe:
            return False
        recipe = yaml.safe_load(self.recipe_path.read_text(encoding="utf-8"))
        return any(text.startswith("hf-hub:") for text in _strings(recipe))

    @property
    def depends_on(self) -> tuple[str, ...]:
        """The entries the recipe names (``init_from``, a prior, a generator, a synthesizer, a scorer,
        ``sampled:N:NAME`` data...): every string in it, or a ``:``-separated part of one, that is
        another buildable entry's name. They must be built before this one."""
        if not self.recipe:
            return ()
        return recipe_dependencies(yaml.safe_load(self.recipe_path.read_text(encoding="utf-8")), self.name)


def _strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def recipe_dependencies(recipe, own_name: str) -> tuple[str, ...]:
    """The buildable registry names (other than ``own_name``) a parsed recipe, or any parsed YAML, mentions, in
    order of first mention."""
    buildable = {name for name, entry in entries().items() if entry.recipe and name != own_name}
    found: dict[str, None] = {}
    for text in _strings(recipe):
        for part in text.split(":"):
            if part in buildable:
                found[part] = None
    return tuple(found)


def _check(entry: Entry, path: Path) -> None:
    """Refuse an entry that could not be built or loaded, naming the file to fix."""
    if entry.name != path.stem:
        raise ZooError(f"registry file {path.name} holds entry '{entry.name}'; name the file after the entry")
    if entry.kind not in KINDS:
        raise ZooError(f"{path}: kind '{entry.kind}' is not one of {', '.join(KINDS)}")
    if entry.source == "recipe":
        if not entry.recipe or not (PROJECT_ROOT / entry.recipe).is_file():
            raise ZooError(f"{path}: recipe {entry.recipe!r} not found; point it at a config under configs/")
    elif not entry.source.startswith(SOURCE_PREFIXES):
        raise ZooError(f"{path}: source {entry.source!r} is not 'recipe' or one of {', '.join(SOURCE_PREFIXES)}...")
    if entry.loads_as is not None and (entry.source == "recipe" or not isinstance(entry.loads_as, dict)
                                       or set(entry.loads_as) - {"class", "init_args"} or "class" not in entry.loads_as):
        raise ZooError(f"{path}: loads_as is for upstream releases, a mapping with 'class' (a zoo.modules class) and "
                       "optionally 'init_args'")
    if entry.smoke is not None and (entry.source != "recipe" or not isinstance(entry.smoke, dict)):
        raise ZooError(f"{path}: smoke is a config mapping layered on the recipe by --preset smoke "
                       "(e.g. {data: {init_args: {n_candidates: 4}}}); only recipe entries have one")


@lru_cache(maxsize=1)
def entries() -> dict[str, Entry]:
    """All registry entries by name."""
    found: dict[str, Entry] = {}
    for path in sorted(ENTRIES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for key in ("suites", "tags"):
            data[key] = tuple(data.get(key) or ())
        try:
            entry = Entry(**data)
        except TypeError as error:
            raise ZooError(f"{path}: {error}; the fields are those of zoo.registry.Entry") from None
        _check(entry, path)
        found[entry.name] = entry
    return found


def list_models(pattern: str = "*") -> list[str]:
    """Sorted registry names matching a shell pattern, e.g. ``list_models("adaptllm*")``."""
    if not isinstance(pattern, str):
        raise ZooError(f"list_models takes a shell pattern such as 'adaptllm*', not {pattern!r}")
    return sorted(name for name in entries() if fnmatch.fnmatchcase(name, pattern))


def get_entry(name: str) -> Entry:
    """The entry of ``name``; an unknown name raises ``ZooError`` naming close matches."""
    if not isinstance(name, str):
        raise ZooError(f"a model name is a string such as 'base-lm-tiny', not {name!r}; `zoo list` shows them")
    try:
        return entries()[name]
    except KeyError:
        close = difflib.get_close_matches(name, entries(), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "see `zoo list`"
        raise ZooError(f"unknown model '{name}': {hint}") from None
