"""Test setup: offline hub, a fresh ZOO_HOME per session, the CLI run in-process."""

from __future__ import annotations

import os

# A stray hub call must fail at once, never hang or download.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

#: Real data sets: CI sets ZOO_DATA_DIR; a developer checkout finds the workplace copy beside it.
_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if "ZOO_DATA_DIR" not in os.environ and _SHARED_DATA.is_dir():
    os.environ["ZOO_DATA_DIR"] = str(_SHARED_DATA)

import lightning.pytorch  # noqa: F401  (imported before output capture: its log handler keeps a live stream)
import pytest

#: Overrides that turn a recipe into a seconds-long run on a tiny world and net.
TINY = [
    "--model.init_args.net", "llama-test",
    "--data.init_args.world", '{"n_entities": 24}',
    "--data.init_args.batch_size", "4",
    "--data.init_args.block_size", "64",
    "--data.init_args.test_fraction", "0.1",
    "--data.init_args.val_fraction", "0.1",
    "--trainer.max_steps", "4",
    "--trainer.val_check_interval", "2",
    "--trainer.limit_val_batches", "1",
    "--trainer.limit_test_batches", "2",
    "--trainer.log_every_n_steps", "1",
    "--trainer.enable_progress_bar", "false",
    "--trainer.enable_model_summary", "false",
]


@pytest.fixture(scope="session", autouse=True)
def zoo_home(tmp_path_factory):
    """Every test session builds into its own ZOO_HOME (CI sets a fresh one too)."""
    home = tmp_path_factory.mktemp("zoo_home")
    previous = os.environ.get("ZOO_HOME")
    os.environ["ZOO_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("ZOO_HOME", None)
    else:
        os.environ["ZOO_HOME"] = previous


@pytest.fixture
def run_zoo(capsys):
    """Run the ``zoo`` CLI in-process; returns (exit code, stdout, stderr)."""
    from zoo.cli import main

    def run(*args: str):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="session")
def task_manager():
    """One lm-eval TaskManager for the session (building one takes seconds), with the zoo's tasks."""
    from benchmarks.tasks import task_manager as build

    return build()


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory, zoo_home):
    """A llama-test model fitted for a few steps on a small world and exported as a zoo folder."""
    from zoo.checkpoint import export_checkpoint
    from zoo.cli import main
    from zoo.paths import PROJECT_ROOT

    root = tmp_path_factory.mktemp("tiny_model")
    recipe = str(PROJECT_ROOT / "configs" / "base_lm" / "base-lm-tiny.yaml")
    assert main(["fit", "-c", recipe, *TINY, "--trainer.default_root_dir", str(root)]) == 0
    return export_checkpoint(root / "checkpoints" / "last.ckpt", root / "folder")


#: TINY for the encoder recipes (the offline MiniLM on sentence sets): short texts, small batches, a few steps.
ENCODER_TINY = ["--data.init_args.batch_size", "4", "--data.init_args.max_length", "32",
                *TINY[TINY.index("--trainer.max_steps"):]]


#: TINY for the retriever recipes: a 6-entity world's clusters, 4 candidates, one negative of each kind, short texts.
RETRIEVER_TINY = ["--data.init_args.clusters", '{"n_entities": 6, "per_task": 12}', "--data.init_args.n_candidates", "4",
                  "--data.init_args.hard_negatives", "1", "--data.init_args.random_negatives", "1",
                  "--data.init_args.batch_size", "4", "--data.init_args.query_length", "32",
                  "--data.init_args.prompt_length", "32", *TINY[TINY.index("--trainer.max_steps"):]]


#: TINY for the vision-LM recipes: a 4-entity picture world, 3 pictures each, one pass, a few steps.
VISION_TINY = ["--data.init_args.world", '{"n_entities": 4, "train_pictures": 3, "test_pictures": 1}',
               "--data.init_args.batch_size", "4", "--data.init_args.passes", "1", "--data.init_args.val_fraction", "0.3",
               *TINY[TINY.index("--trainer.max_steps"):]]


def is_vision_recipe(recipe_text: str) -> bool:
    """Whether a recipe trains a vision-LM (conversations about pictures)."""
    return "ImageTextDataModule" in recipe_text


def vision_substitutes(recipe_text: str, base: Path, mllm: Path | None, visual_synth: Path | None) -> list[str]:
    """Overrides that point a vision-LM recipe's models at tiny test models (a few pretraining steps)."""
    substitutes = []
    if "lm_from:" in recipe_text:
        substitutes += ["--model.init_args.lm_from", f"local-dir:{base}"]
    if "init_from:" in recipe_text:
        substitutes += ["--model.init_args.init_from", f"local-dir:{mllm}"]
    if "vision_pretraining:" in recipe_text:
        substitutes += ["--model.init_args.vision_pretraining.steps", "2"]
    if "SynthesizedTasks" in recipe_text:
        substitutes += ["--data.init_args.tasks.init_args.synthesizer", f"local-dir:{visual_synth}",
                        "--data.init_args.tasks.init_args.judge", f"local-dir:{base}"]
    return substitutes


def is_encoder_recipe(recipe_text: str) -> bool:
    """Whether a recipe continues the offline MiniLM (an encoder-kind module, or the retriever's two encoders)."""
    return any(f"zoo.modules.{name}" in recipe_text
               for name in ("DiffusionPLM", "MaskedLMEncoder", "SequenceClassifier", "UpriseRetriever"))


def tiny_for(recipe_text: str) -> list[str]:
    """TINY, adapted to the recipe's DataModule (``SynthesizerDataModule`` pads examples per batch: a window,
    not blocks)."""
    if "RetrievalDataModule" in recipe_text:
        return list(RETRIEVER_TINY)
    if is_vision_recipe(recipe_text):
        return list(VISION_TINY)
    if is_encoder_recipe(recipe_text):
        return list(ENCODER_TINY)
    if "SynthesizerDataModule" not in recipe_text:
        return list(TINY)
    at = TINY.index("--data.init_args.block_size")
    return [*TINY[:at], "--data.init_args.max_length", "128", *TINY[at + 2:]]


@pytest.fixture(scope="session")
def tiny_synthesizer(tmp_path_factory, tiny_folder):
    """An instruction synthesizer fine-tuned for a few steps from the tiny model, exported as a zoo folder."""
    from zoo.checkpoint import export_checkpoint
    from zoo.cli import main
    from zoo.paths import PROJECT_ROOT

    root = tmp_path_factory.mktemp("tiny_synthesizer")
    recipe = PROJECT_ROOT / "configs" / "instruction_pretrain" / "instruct-synth-tiny.yaml"
    tiny = [arg for arg in tiny_for(recipe.read_text()) if arg != "llama-test" and arg != "--model.init_args.net"]
    assert main(["fit", "-c", str(recipe), *tiny, "--model.init_args.init_from", f"local-dir:{tiny_folder}",
                 "--model.init_args.max_new_tokens", "24", "--trainer.default_root_dir", str(root)]) == 0
    return export_checkpoint(root / "checkpoints" / "last.ckpt", root / "folder")


def _fit_and_export(recipe: Path, overrides: list[str], root: Path) -> Path:
    from zoo.checkpoint import export_checkpoint
    from zoo.cli import main

    assert main(["fit", "-c", str(recipe), *overrides, "--trainer.default_root_dir", str(root)]) == 0
    return export_checkpoint(root / "checkpoints" / "last.ckpt", root / "folder")


@pytest.fixture(scope="session")
def tiny_mllm(tmp_path_factory, tiny_folder):
    """A general vision-LM (mllm-general-tiny's recipe) on the tiny LM, a few steps, exported as a zoo folder."""
    from zoo.paths import PROJECT_ROOT

    recipe = PROJECT_ROOT / "configs" / "adamllm" / "mllm-general-tiny.yaml"
    overrides = [*VISION_TINY, *vision_substitutes(recipe.read_text(), tiny_folder, None, None)]
    return _fit_and_export(recipe, overrides, tmp_path_factory.mktemp("tiny_mllm"))


@pytest.fixture(scope="session")
def tiny_visual_synth(tmp_path_factory, tiny_folder, tiny_mllm):
    """A visual instruction synthesizer fine-tuned for a few steps from the tiny MLLM, exported as a zoo folder."""
    from zoo.paths import PROJECT_ROOT

    recipe = PROJECT_ROOT / "configs" / "adamllm" / "visual-synth-tiny.yaml"
    overrides = [*VISION_TINY, *vision_substitutes(recipe.read_text(), tiny_folder, tiny_mllm, None),
                 "--model.init_args.max_new_tokens", "24"]
    return _fit_and_export(recipe, overrides, tmp_path_factory.mktemp("tiny_visual_synth"))
