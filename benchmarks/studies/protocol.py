"""Studies as data: ``benchmarks/studies/<name>.yaml`` says what a study compares, over which seeds, and why.

The protocol every study follows: one fixed train/validation/test split (the DataModules' ``split_seed``,
left at 0), seeds that vary the initialisation and the data order only (``--seed_everything`` and
``--data.init_args.seed``), at least :data:`MIN_SEEDS` seeds, and per pair of arms the paired difference
with its 95 % interval and a paired test (:mod:`benchmarks.studies.paired`).

A study file holds:

- ``description``: what the arms train, in a few sentences;
- ``paper``: the paper whose claim the study checks;
- ``claim``: that paper's headline claim, in words;
- ``headline``: the test metric that stands for the claim here (one of ``metrics``);
- ``arms``: name -> recipe (a path under the project root, or absolute);
- ``method``: the arm the claim is about, and ``baselines``: the arms it is claimed to beat;
- ``contrasts`` (optional): further claimed orders as ``[better, worse]`` pairs of arms (the collapse
  study's human text over synthetic text);
- ``seeds`` (default 0-4), ``allow_fewer_seeds`` (default false: fewer than 5 seeds is refused);
- ``metrics`` (default :data:`STUDY_METRICS`), ``overrides``: LightningCLI arguments of every run;
- ``base_from`` (optional): a recipe whose run with no training step tests the starting weights (arm ``base``);
- ``arm_overrides`` (optional): arm -> LightningCLI arguments of that arm's runs only (arms that share a
  recipe and differ in a setting: UPRISE's prompt sources).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from zoo.errors import ZooError
from zoo.paths import PROJECT_ROOT

#: The shipped study files, and where each study's table and figure go.
STUDIES_DIR = PROJECT_ROOT / "benchmarks" / "studies"
RESULTS_DIR = PROJECT_ROOT / "benchmarks" / "results" / "studies"
#: A study's default seeds, the fewest the protocol accepts, and its default test metrics.
STUDY_SEEDS = (0, 1, 2, 3, 4)
MIN_SEEDS = 5
STUDY_METRICS = ("test/question_acc", "test/cloze_acc", "test/ppl")
#: The arm that tests the starting weights (``base_from`` with no training step).
BASE_ARM = "base"
#: Keys a study file must have.
REQUIRED = ("description", "claim", "headline", "arms", "method", "baselines")


@dataclass(frozen=True)
class Study:
    """A study as its file says (see the module's docstring for the keys).

    Args:
        name: The study's name (its file's stem).
        source: Its file.
        description: What the arms train.
        claim: The paper's headline claim.
        headline: The test metric that stands for the claim.
        arms: Arm name -> recipe.
        method: The arm the claim is about.
        baselines: The arms the method is claimed to beat.
        paper: The paper.
        contrasts: Further ``(better, worse)`` claims between arms.
        seeds: The seeds every arm runs at.
        allow_fewer_seeds: Accept fewer than ``MIN_SEEDS`` seeds (a quick look; the table says so).
        metrics: The test metrics reported.
        overrides: LightningCLI arguments of every run.
        base_from: Recipe of the ``base`` arm, run with no training step.
        arm_overrides: Arm -> LightningCLI arguments of that arm's runs, after the study's own.
    """

    name: str
    source: Path
    description: str
    claim: str
    headline: str
    arms: dict[str, Path]
    method: str
    baselines: tuple[str, ...]
    paper: str = ""
    contrasts: tuple[tuple[str, str], ...] = ()
    seeds: tuple[int, ...] = STUDY_SEEDS
    allow_fewer_seeds: bool = False
    metrics: tuple[str, ...] = STUDY_METRICS
    overrides: tuple[str, ...] = ()
    base_from: Path | None = None
    arm_overrides: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def comparisons(self) -> list[tuple[str, str]]:
        """Every claimed order ``(better, worse)``: the method over each baseline, then the contrasts."""
        return [(self.method, baseline) for baseline in self.baselines] + list(self.contrasts)

    @property
    def runs(self) -> list[tuple[str, Path, list[str]]]:
        """``(arm, recipe, arguments)`` of every arm, the arguments going after every other override: the base
        arm first, with no training step."""
        base = [(BASE_ARM, self.base_from, ["--trainer.max_steps", "0"])] if self.base_from else []
        return base + [(arm, recipe, list(self.arm_overrides.get(arm, ()))) for arm, recipe in self.arms.items()]

    @property
    def file_sha256(self) -> str:
        """The sha256 of the study file's bytes."""
        return hashlib.sha256(self.source.read_bytes()).hexdigest()

    @property
    def shown_path(self) -> str:
        """The study file as the report names it: relative to the project, or its name when it lies elsewhere."""
        return display_path(self.source)


def display_path(path: Path) -> str:
    """``path`` relative to the project root, or its name when it lies elsewhere (reports stay machine-free).

    Args:
        path: A file.
    """
    try:
        return path.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return path.name


def study_names() -> list[str]:
    """The shipped studies, by name."""
    return sorted(path.stem for path in STUDIES_DIR.glob("*.yaml"))


def study_file(name: str) -> Path:
    """The file of a study: a shipped study's name, or the path of a study YAML of one's own.

    Args:
        name: ``adaptllm-biomed``, or ``./my-study.yaml``.
    """
    if name.endswith((".yaml", ".yml")):
        path = Path(name)
        if not path.is_file():
            raise ZooError(f"study file {name} not found; give an existing .yaml or a study name "
                           f"({', '.join(study_names())})")
        return path
    path = STUDIES_DIR / f"{name}.yaml"
    if "/" in name or not path.is_file():
        raise ZooError(f"unknown study '{name}'; one of {', '.join(study_names())}, or the path of a study .yaml")
    return path


def read_spec(path: Path, what: str) -> Any:
    """The parsed YAML of a spec file (a study, a calibration grid); unreadable text is one ``ZooError`` line.

    Args:
        path: The file.
        what: What it is, for the fix the error names (``study file``).
    """
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ZooError(f"{path}: not readable YAML ({str(error).splitlines()[0]}); fix the {what}") from None


def recipe_path(path: Path, key: str, value: Any) -> Path:
    """The recipe a spec file names under ``key`` (a path under the project root, or absolute), checked to exist.

    Args:
        path: The spec file, for the error.
        key: What names the recipe (``arm 'dapt'``, ``base_from``).
        value: The value in the file.
    """
    if not isinstance(value, str):
        raise ZooError(f"{path}: {key} must be a recipe path (configs/...yaml), not {value!r}; fix the file")
    recipe = Path(value) if Path(value).is_absolute() else PROJECT_ROOT / value
    if not recipe.is_file():
        raise ZooError(f"{path}: {key} recipe {value} not found; recipes live under configs/ (paths are read from "
                       "the project root)")
    return recipe


def _strings(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ZooError(f"{path}: {key} must be a list of strings, not {value!r}; fix the study file")
    return tuple(value)


def _check_seeds(path: Path, seeds: Any, allow_fewer: bool) -> tuple[int, ...]:
    if not isinstance(seeds, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ZooError(f"{path}: seeds must be a list of integers, not {seeds!r}; e.g. seeds: [0, 1, 2, 3, 4]")
    if len(set(seeds)) != len(seeds):
        raise ZooError(f"{path}: seeds {seeds} repeat a seed; list each seed once")
    if len(seeds) < 2:
        raise ZooError(f"{path}: {len(seeds)} seed; an interval over seeds needs at least 2 (the protocol asks "
                       f"for {MIN_SEEDS})")
    if len(seeds) < MIN_SEEDS and not allow_fewer:
        raise ZooError(f"{path}: {len(seeds)} seeds; the protocol asks for at least {MIN_SEEDS}: add seeds, or set "
                       "allow_fewer_seeds: true for a quick look (the table says so)")
    return tuple(seeds)


def with_seeds(study: Study, seeds: list[int]) -> Study:
    """``study`` at other seeds (``zoo study --seeds``), checked as a study file's seeds are.

    Args:
        study: The study.
        seeds: The seeds to run instead of the file's.
    """
    return replace(study, seeds=_check_seeds(study.source, list(seeds), study.allow_fewer_seeds))


def load_study(name: str, allow_fewer_seeds: bool = False) -> Study:
    """Read and check a study file: every problem is one ``ZooError`` line naming it and the fix.

    Args:
        name: A shipped study's name (``adaptllm-biomed``) or the path of a study ``.yaml``.
        allow_fewer_seeds: Accept fewer than ``MIN_SEEDS`` seeds even where the file does not.
    """
    path = study_file(name)
    spec = read_spec(path, "study file")
    if not isinstance(spec, dict):
        raise ZooError(f"{path}: a study file is a mapping of keys ({', '.join(REQUIRED)}...); fix the study file")
    known = [f.name for f in fields(Study) if f.name not in ("name", "source")]
    unknown = sorted(set(spec) - set(known))
    if unknown:
        raise ZooError(f"{path}: unknown key(s) {', '.join(unknown)}; the keys are {', '.join(known)}")
    missing = [key for key in REQUIRED if key not in spec]
    if missing:
        raise ZooError(f"{path}: missing key(s) {', '.join(missing)}; see benchmarks/studies/protocol.py for each key")
    for key in ("description", "claim", "headline", "method", "paper"):
        if not isinstance(spec.get(key, ""), str) or (key != "paper" and not spec[key].strip()):
            raise ZooError(f"{path}: {key} must be a non-empty string, not {spec.get(key)!r}; fix the study file")
    if not isinstance(spec["arms"], dict) or not spec["arms"]:
        raise ZooError(f"{path}: arms must map arm names to recipes (name: configs/...yaml); fix the study file")
    if BASE_ARM in spec["arms"]:
        raise ZooError(f"{path}: arm name '{BASE_ARM}' is the base_from arm's; name the arm after its recipe")
    arms = {str(arm): recipe_path(path, f"arm '{arm}'", recipe) for arm, recipe in spec["arms"].items()}
    named = set(arms) | ({BASE_ARM} if spec.get("base_from") else set())
    baselines = _strings(path, "baselines", spec["baselines"])
    if not baselines:
        raise ZooError(f"{path}: baselines is empty; name the arms the method is claimed to beat (base, for the "
                       "starting weights)")
    contrasts = spec.get("contrasts", [])
    if not isinstance(contrasts, list) or not all(isinstance(c, list) and len(c) == 2 for c in contrasts):
        raise ZooError(f"{path}: contrasts must be a list of [better, worse] arm pairs, not {contrasts!r}; "
                       "fix the study file")
    for arm in [spec["method"], *baselines, *(arm for pair in contrasts for arm in pair)]:
        if arm not in named:
            raise ZooError(f"{path}: '{arm}' is not an arm ({', '.join(sorted(named))}); add it to arms or fix "
                           "the name")
    if spec["method"] in baselines:
        raise ZooError(f"{path}: the method '{spec['method']}' is among its own baselines; remove it from baselines")
    metrics = _strings(path, "metrics", spec.get("metrics", list(STUDY_METRICS)))
    if spec["headline"] not in metrics:
        raise ZooError(f"{path}: headline metric {spec['headline']} is not among metrics ({', '.join(metrics)}); "
                       "add it to metrics")
    if not isinstance(spec.get("allow_fewer_seeds", False), bool):
        raise ZooError(f"{path}: allow_fewer_seeds must be true or false, not {spec['allow_fewer_seeds']!r}; "
                       "fix the study file")
    allow_fewer = allow_fewer_seeds or spec.get("allow_fewer_seeds", False)
    arm_overrides = spec.get("arm_overrides", {})
    if not isinstance(arm_overrides, dict) or not set(arm_overrides) <= set(arms):
        raise ZooError(f"{path}: arm_overrides must map arms ({', '.join(sorted(arms))}) to argument lists; fix the "
                       "study file")
    return Study(
        name=path.stem, source=path, description=spec["description"].strip(), claim=spec["claim"].strip(),
        headline=spec["headline"], arms=arms, method=spec["method"], baselines=baselines,
        paper=spec.get("paper", ""), contrasts=tuple((str(a), str(b)) for a, b in contrasts),
        seeds=_check_seeds(path, spec.get("seeds", list(STUDY_SEEDS)), allow_fewer), allow_fewer_seeds=allow_fewer,
        metrics=metrics, overrides=_strings(path, "overrides", spec.get("overrides", [])),
        base_from=recipe_path(path, "base_from", spec["base_from"]) if spec.get("base_from") else None,
        arm_overrides={str(arm): _strings(path, f"arm_overrides.{arm}", args) for arm, args in arm_overrides.items()},
    )
