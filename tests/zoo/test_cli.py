"""The zoo CLI end to end: recipes, configs against their classes, fit -> export -> load, the verbs' parser, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import TINY, is_encoder_recipe, is_vision_recipe, tiny_for, vision_substitutes
from zoo.paths import PROJECT_ROOT
from zoo.registry import entries

#: Every recipe: the configs besides the trainer presets and the data that recipes include (configs/data).
RECIPES = sorted(p for p in (PROJECT_ROOT / "configs").rglob("*.yaml") if p.parent.name not in ("trainer", "data"))
BASE_RECIPE = PROJECT_ROOT / "configs" / "base_lm" / "base-lm-tiny.yaml"
DIFFUSION_RECIPE = PROJECT_ROOT / "configs" / "diffusion_plm" / "diffusion-plm-minilm-sst2.yaml"
TRAINER_CONFIGS = sorted((PROJECT_ROOT / "configs" / "trainer").glob("*.yaml"))


def error_line(err: str) -> str:
    """The CLI's one error line; there must be no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.startswith("zoo: error:")]
    assert len(lines) == 1, err
    return lines[0]


def base_substitutes(recipe: Path, base: Path, synthesizer: Path, request=None) -> list[str]:
    """Overrides that point a recipe's references to built zoo models (a base to continue, an editing
    prior, a sampling generator, an instruction synthesizer, a general MLLM and a visual synthesizer) at tiny
    test models, so tests need no full build. The vision ones are built only when a vision recipe asks."""
    text = recipe.read_text()
    if is_vision_recipe(text):
        mllm = request.getfixturevalue("tiny_mllm") if "init_from:" in text else None
        visual_synth = request.getfixturevalue("tiny_visual_synth") if "SynthesizedTasks" in text else None
        return vision_substitutes(text, base, mllm, visual_synth)
    substitutes = []
    if "init_from:" in text and not is_encoder_recipe(text):  # encoders continue the offline MiniLM itself
        substitutes += ["--model.init_args.init_from", f"local-dir:{base}"]
    if "prior:" in text:
        substitutes += ["--data.init_args.transform.init_args.prior", f"local-dir:{base}"]
    if "sampled:" in text:
        substitutes += ["--data.init_args.mix_source", f"sampled:12:local-dir:{base}"]
    if "scorer:" in text:
        substitutes += ["--data.init_args.scorer", f"local-dir:{base}"]
    if "transfer_lm:" in text:
        substitutes += ["--model.init_args.transfer_lm", f"local-dir:{base}"]
    if "synthesizer:" in text:
        substitutes += ["--data.init_args.transform.init_args.synthesizer.init_args.model", f"local-dir:{synthesizer}"]
    if "gate:" in text:
        # The tiny test synthesizer writes no usable pair: the recipe's mechanics are tested, not its quality gate
        # (tests/zoo/test_instruction_pretrain.py tests the gate itself).
        substitutes += ["--data.init_args.transform.init_args.gate.min_answerable", "0"]
    return substitutes


def tiny_overrides(recipe: Path, base: Path, synthesizer: Path, request=None) -> list[str]:
    """TINY (for the recipe's DataModule) plus the base substitutes; a continued model takes its net from the base."""
    tiny = tiny_for(recipe.read_text())
    if "--model.init_args.net" in tiny and "init_from:" in recipe.read_text() and not is_encoder_recipe(recipe.read_text()):
        net = tiny.index("--model.init_args.net")
        tiny = [*tiny[:net], *tiny[net + 2:]]
    return [*tiny, *base_substitutes(recipe, base, synthesizer, request)]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_recipe_fast_dev_run(recipe, run_zoo, tmp_path, tiny_folder, tiny_synthesizer, request):
    code, _, err = run_zoo("fit", "-c", recipe, *tiny_overrides(recipe, tiny_folder, tiny_synthesizer, request),
                           "--trainer.fast_dev_run", "true",
                           "--trainer.default_root_dir", tmp_path)
    assert code == 0, err


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_recipe_instantiates_its_classes(recipe, tiny_folder, tiny_synthesizer, request):
    from zoo.lightning_cli import lightning_cli

    cli = lightning_cli(["-c", str(recipe), *base_substitutes(recipe, tiny_folder, tiny_synthesizer, request)], run=False)
    config = cli.config
    assert type(cli.model).__name__ == config.model.class_path.rsplit(".", 1)[-1]
    as_list = lambda v: list(v) if isinstance(v, (list, tuple)) else v  # noqa: E731 (yaml has no tuples)
    # Settings dataclasses (ToEdit's `editing`) are plain dicts in hparams, as in the config.
    for key, value in config.model.init_args.as_dict().items():
        assert as_list(cli.model.hparams[key]) == as_list(value)
    assert type(cli.datamodule).__name__ == config.data.class_path.rsplit(".", 1)[-1]


def leaves(config: dict, prefix: str = "") -> dict[str, object]:
    """A nested config's values by dotted key."""
    found = {}
    for key, value in config.items():
        found.update(leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return found


@pytest.mark.parametrize("name", [name for name, entry in entries().items() if entry.smoke])
def test_an_entrys_smoke_config_instantiates_with_its_recipe_and_overrides_it(name, tiny_folder, tiny_synthesizer,
                                                                               request):
    from zoo.builder import preset_args
    from zoo.lightning_cli import lightning_cli

    entry = entries()[name]
    substitutes = base_substitutes(entry.recipe_path, tiny_folder, tiny_synthesizer, request)
    cli = lightning_cli([*preset_args(entry, "smoke"), *substitutes], run=False)
    for key, value in leaves(entry.smoke).items():
        if not any(key.startswith(substituted[2:]) for substituted in substitutes[::2]):
            actual = cli.config
            for part in key.split("."):  # through namespaces, settings dataclasses and plain mappings alike
                actual = actual[part]
            assert actual == value, key
    assert cli.config.trainer.max_steps == 4


@pytest.mark.parametrize("trainer_config", TRAINER_CONFIGS, ids=lambda p: p.stem)
def test_trainer_config_matches_trainer_signature(trainer_config):
    from jsonargparse import ArgumentParser
    from lightning import Trainer

    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(Trainer, "trainer")
    parsed = parser.parse_path(str(trainer_config))
    for key, value in __import__("yaml").safe_load(trainer_config.read_text())["trainer"].items():
        assert parsed.trainer[key] == value


def test_print_config_shows_resolved_recipe(run_zoo):
    with pytest.raises(SystemExit) as exit_info:
        run_zoo("fit", "-c", BASE_RECIPE, "--print_config")
    assert exit_info.value.code == 0


def test_fit_saves_resolved_config_and_last_checkpoint(run_zoo, tmp_path):
    code, _, err = run_zoo("fit", "-c", BASE_RECIPE, *TINY, "--trainer.default_root_dir", tmp_path)
    assert code == 0, err
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
    saved = list(tmp_path.rglob("config.yaml"))
    assert saved and "llama-test" in saved[0].read_text()

    code, out, err = run_zoo("export", tmp_path / "checkpoints" / "last.ckpt", tmp_path / "folder")
    assert code == 0, err
    card = json.loads((tmp_path / "folder" / "zoo_card.json").read_text())
    assert "llama-test" in card["recipe"] and card["data_fingerprint"]

    # The exported folder is a plain HF model: same logits through transformers and zoo.load.
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import zoo

    module = zoo.load(f"local-dir:{tmp_path / 'folder'}")
    hf = AutoModelForCausalLM.from_pretrained(tmp_path / "folder")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "folder")
    ids = tokenizer("Question: In which city was she born?", return_tensors="pt").input_ids
    assert torch.equal(module(ids), hf(ids).logits)
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == ("<|bos|>", "<|eos|>", "<|pad|>")


def test_predict_writes_generated_answers(run_zoo, tmp_path, tiny_folder):
    ckpt = tiny_folder.parent / "checkpoints" / "last.ckpt"
    code, out, err = run_zoo("predict", "-c", BASE_RECIPE, *TINY, "--ckpt_path", ckpt, "--trainer.limit_predict_batches",
                             "2", "--model.init_args.max_new_tokens", "4", "--trainer.default_root_dir", tmp_path)
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and all(r["prompt"].startswith("Question:") and "completion" in r for r in rows)


def test_world_verb_writes_jsonl(run_zoo, tmp_path):
    code, out, err = run_zoo("world", "--domain", "biomed", "--out", tmp_path, "--n-entities", "12")
    assert code == 0, err
    docs = [json.loads(line) for line in (tmp_path / "documents.jsonl").read_text().splitlines()]
    assert len(docs) == 36 and all(d["domain"] == "biomed" for d in docs)
    assert "fingerprint:" in out


def test_list_verb_shows_kind_and_the_presets_each_entry_is_built_at(run_zoo, monkeypatch, tmp_path):
    from zoo.paths import checkpoints_dir

    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    for preset in ("full", "smoke"):
        (checkpoints_dir(preset) / "adaptllm-biomed-tiny").mkdir(parents=True)
        (checkpoints_dir(preset) / "adaptllm-biomed-tiny" / "zoo_card.json").write_text("{}")
    (checkpoints_dir("smoke") / "dapt-biomed-tiny").mkdir(parents=True)
    (checkpoints_dir("smoke") / "dapt-biomed-tiny" / "zoo_card.json").write_text("{}")
    code, out, _ = run_zoo("list", "*biomed-tiny")
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()}
    assert rows["name"][:4] == ["name", "kind", "system", "built"]
    assert rows["adaptllm-biomed-tiny"][1:4] == ["causal-lm", "adaptllm", "full,smoke"]
    assert rows["dapt-biomed-tiny"][3] == "smoke", "a smoke build shows as built"
    assert rows["qa-control-biomed-tiny"][3] == "-"
    code, out, _ = run_zoo("list", "adaptllm*")
    assert code == 0 and "adaptllm-medicine-llm" in out and "base-lm-tiny" not in out
    assert [line.split()[3] for line in out.splitlines() if line.startswith("adaptllm-medicine-llm")] == ["hub"]


# ---------------------------------------------------------------------- the verbs' parser
def verb_paths():
    from zoo.cli import VERBS

    return [(name,) for name, target in VERBS.items() if not isinstance(target, tuple)] + \
        [(name, verb) for name, target in VERBS.items() if isinstance(target, tuple) for verb in target[1]]


def verb_help(run_zoo, capsys, *path: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        run_zoo(*path, "--help")
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def words(text: str) -> str:
    """Text without its white space: help wraps lines between words and after hyphens."""
    return "".join(text.split())


@pytest.mark.parametrize("path", verb_paths(), ids=" ".join)
def test_help_comes_from_the_verbs_docstrings(path, run_zoo, capsys):
    """Every parameter's Args: text is in the verb's --help, and the options are spelt with dashes."""
    import inspect
    import re

    import docstring_parser

    from zoo.cli import VERBS

    function = VERBS[path[0]] if len(path) == 1 else VERBS[path[0]][1][path[1]]
    shown = verb_help(run_zoo, capsys, *path)
    doc = docstring_parser.parse(function.__doc__)
    assert words(doc.short_description) in words(shown)
    assert {p.arg_name for p in doc.params} == set(inspect.signature(function).parameters), \
        "every parameter has its Args: line"
    for parameter in doc.params:
        # A settings dataclass's text is the title of its group of options, without the full stop.
        assert words(parameter.description).rstrip(".") in words(shown), parameter.arg_name
    options = re.findall(r"(?<![\w-])--[\w.+-]+", shown)
    assert options and [option for option in options if "_" in option] == []


def test_settings_dataclasses_read_as_options_of_the_verb(run_zoo, capsys):
    """`zoo synth toedit` takes the token-edit settings as one dataclass; its fields are options of their own."""
    import docstring_parser

    from datamodules.transforms.token_editing import EditSettings
    from zoo.cli import option_name
    from zoo.synth import Shards

    shown = verb_help(run_zoo, capsys, "synth", "toedit")
    for settings in (EditSettings, Shards):
        for field in docstring_parser.parse(settings.__doc__).params:
            assert f"{option_name(field.arg_name)} " in shown and words(field.description) in words(shown)


def test_top_level_help_lists_every_verb_with_its_summary(run_zoo, capsys):
    import docstring_parser

    from zoo.cli import VERBS

    shown = verb_help(run_zoo, capsys)
    for name, target in VERBS.items():
        summary = docstring_parser.parse((target[0] if isinstance(target, tuple) else target).__doc__).short_description
        assert f"    {name} " in shown and words(summary) in words(shown)
    assert "zoo fit|validate|test|predict" in shown


def test_values_reach_the_verb_typed(monkeypatch, run_zoo, tmp_path):
    """Dashed and underscored spellings, flags, several values for a list, and arguments after --."""
    from zoo import synth

    calls = []
    monkeypatch.setattr("benchmarks.harness.evaluate", lambda *args, **kwargs: calls.append((args, kwargs)) or [])
    monkeypatch.setattr(synth, "run_synthesis", lambda *args: calls.append(args))
    monkeypatch.setattr("datamodules.base.check_source", lambda source: None)

    assert run_zoo("eval", "m", "--suite", "s", "--limit", "3", "--batch_size", "8", "--no-cache")[0] == 0
    assert calls.pop() == (("m", "s"), {"limit": 3, "batch_size": 8, "preset": "full", "use_cache": False})
    assert run_zoo("synth", "toedit", "--in", "docs.jsonl", "--out", tmp_path, "--threshold", "0.5", "--top-k", "3",
                   "--batch-size", "2", "--", "--trainer.devices=2")[0] == 0
    model, data, shards, trainer_args = calls.pop()
    assert model["init_args"]["editing"] == {"threshold": 0.5, "top_k": 3, "beta": None, "variant": "replace",
                                             "delete_below": 0.001, "seed": 0}
    assert data == {"source": "docs.jsonl", "split": None}
    assert shards == synth.Shards(out=tmp_path, shard_size=256, batch_size=2) and trainer_args == ["--trainer.devices=2"]


def test_leaderboard_takes_several_suites(monkeypatch, run_zoo, tmp_path):
    seen = {}

    def sweep(models, suites, **kwargs):
        seen.update(models=models, suites=suites, **kwargs)
        raise KeyboardInterrupt  # enough: the arguments arrived

    monkeypatch.setattr("zoo.sweep.sweep", sweep)
    with pytest.raises(KeyboardInterrupt):
        run_zoo("leaderboard", "--models", "base*", "--suites", "tinyworld-general", "collapse", "--preset", "smoke",
                "--out", tmp_path, "--hub", "--jobs", "2")
    assert seen == {"models": "base*", "suites": ["tinyworld-general", "collapse"], "preset": "smoke", "limit": 16,
                    "include_hub": True, "batch_size": 64, "jobs": 2}


def test_help_and_cheap_verbs_import_neither_torch_nor_lightning():
    """`zoo --help` stays fast: the parser and the verbs that need no model never import the heavy libraries."""
    script = ("import sys\n"
              "from zoo.cli import main\n"
              "for argv in (['--help'], ['synth', '--help'], ['eval', '--help'], ['build', '--help']):\n"
              "    try:\n"
              "        main(argv)\n"
              "    except SystemExit:\n"
              "        pass\n"
              "main(['list'])\n"
              "print('HEAVY', sorted(m for m in ('torch', 'lightning', 'transformers', 'datasets') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


# ---------------------------------------------------------------------- bad input
@pytest.fixture
def bad_files(tmp_path):
    files = {
        "empty": tmp_path / "empty.jsonl",
        "latin1": tmp_path / "latin1.txt",
        "malformed": tmp_path / "malformed.yaml",
        "unknown_key": tmp_path / "unknown_key.yaml",
    }
    files["empty"].write_text("")
    files["latin1"].write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    files["malformed"].write_text("model: [unclosed\n  data: {\n")
    recipe = BASE_RECIPE.read_text().replace("    net: llama-tiny", "    net: llama-tiny\n    netz: 3")
    files["unknown_key"].write_text(recipe)
    return files


@pytest.mark.parametrize("case, args, expected", [
    ("missing config", ["fit", "-c", "configs/does-not-exist.yaml"], "config file not found: configs/does-not-exist.yaml"),
    ("malformed config", ["fit", "-c", "{malformed}"], "malformed.yaml: malformed YAML"),
    ("unknown config key", ["fit", "-c", "{unknown_key}"], "Option 'netz' is not accepted by zoo.modules.CausalLM"),
    ("unknown CLI key", ["fit", "-c", str(BASE_RECIPE), "--model.init_args.nett", "x"], "Option 'nett' is not accepted"),
    ("wrong-typed trainer value", ["fit", "-c", str(BASE_RECIPE), "--trainer.max_steps", "abc"],
     "--trainer.max_steps=abc: expected int; check it against `zoo fit --print_config`"),
    ("wrong-typed class argument", ["fit", "-c", str(BASE_RECIPE), "--data.init_args.batch_size", "x"],
     "--data.init_args.batch_size=x: expected int;"),
    ("trainer setting out of range", ["fit", "-c", str(BASE_RECIPE), "--trainer.max_steps", "-5"],
     "`max_steps` must be a non-negative integer or -1 (infinite steps). You passed in -5; check the Trainer settings"),
    ("missing data file", ["fit", "-c", str(BASE_RECIPE), "--data.init_args.source", "/nonexistent/corpus.jsonl"],
     "data file not found: /nonexistent/corpus.jsonl"),
    ("empty corpus", ["fit", "-c", str(BASE_RECIPE), "--data.init_args.source", "{empty}"], "corpus is empty"),
    ("non-UTF-8 text", ["fit", "-c", str(BASE_RECIPE), "--data.init_args.source", "{latin1}"], "not UTF-8"),
    ("missing OOD file", ["fit", "-c", str(DIFFUSION_RECIPE), "--data.init_args.ood",
                          '[{"name": "news", "source": "/nonexistent/news.txt"}]'],
     "set news: file not found: /nonexistent/news.txt; check the path"),
    ("empty OOD file", ["fit", "-c", str(DIFFUSION_RECIPE), "--data.init_args.ood",
                        '[{"name": "blank", "source": "{empty}"}]'], "set blank"),
    ("OOD timestep past T", ["fit", "-c", str(DIFFUSION_RECIPE), "--model.init_args.score_timesteps", "[1000]"],
     "score_timesteps=1000 must be an integer in [0, 1000)"),
    ("unknown model", ["build", "base-lm-tny"], "did you mean base-lm-tiny"),
    ("unknown preset", ["build", "base-lm-tiny", "--preset", "bogus"],
     "--preset=bogus: expected one of 'full', 'smoke'; see `zoo build --help`"),
    ("missing name", ["build"], "missing NAME; see `zoo build --help`"),
    ("unbuilt model export", ["export", "/nonexistent/last.ckpt", "/tmp/out"], "checkpoint not found"),
    ("unknown domain", ["world", "--domain", "astrology", "--out", "/tmp/x"], "astrology"),
    ("no entities", ["world", "--out", "/tmp/x", "--n-entities", "0"], "--n-entities=0: expected positive int"),
    ("world under a file", ["world", "--out", "{empty}/world"], "a file is in the way of its folder"),
    ("negative limit", ["eval", "base-lm-tiny", "--suite", "tinyworld-general", "--limit", "-1"],
     "--limit=-1: expected positive int (or null); see `zoo eval --help`"),
    ("zero batch size", ["eval", "base-lm-tiny", "--suite", "tinyworld-general", "--batch-size", "0"],
     "--batch-size=0: expected positive int; see `zoo eval --help`"),
    ("batch size not a number", ["eval", "base-lm-tiny", "--suite", "s", "--batch_size", "x"], "--batch-size=x: expected"),
    ("missing suite", ["eval", "base-lm-tiny"], "missing --suite; see `zoo eval --help`"),
    ("no suites after --suites", ["leaderboard", "--suites"], "argument --suites: expected at least one argument"),
    ("no jobs", ["leaderboard", "--jobs", "0"], "--jobs=0: expected positive int; see `zoo leaderboard --help`"),
    ("unknown verb", ["bogus"], "unknown verb 'bogus' (choose from 'list', 'build',"),
    ("no verb", [], "missing the verb; see `zoo --help`"),
    ("no synth verb", ["synth"], "missing the verb; see `zoo synth --help`"),
    ("trainer arguments to a verb without a run", ["list", "--", "--trainer.devices=2"],
     "`zoo list` takes no arguments after `--`"),
    ("edit threshold out of range", ["synth", "toedit", "--in", "tinyworld:general", "--out", "/tmp/x", "--threshold", "2"],
     "threshold=2.0 must be a number in (0, 1)"),
    ("edit top-k not a number", ["synth", "toedit", "--in", "tinyworld:general", "--out", "/tmp/x", "--top-k", "many"],
     "--top-k=many: expected int; see `zoo synth toedit --help`"),
    ("zero rounds", ["synth", "instruct", "--in", "tinyworld:general", "--out", "/tmp/x", "--rounds", "0"], "--rounds=0"),
    ("one keyword corpus", ["synth", "rc", "--in", "a.jsonl", "--out", "/tmp/x", "--keyword-corpora", "a"],
     "argument --keyword-corpora: expected 2 arguments"),
])
def test_bad_input_is_one_line_and_exit_2(case, args, expected, bad_files, run_zoo, tmp_path):
    args = [a.format(**bad_files) if a.startswith("{") else a.replace('"{empty}"', f'"{bad_files["empty"]}"')
            for a in args]
    code, _, err = run_zoo(*args, "--trainer.default_root_dir", tmp_path) if args[:1] == ["fit"] else run_zoo(*args)
    assert code == 2, err
    assert expected in error_line(err)
    assert not (tmp_path / "checkpoints").exists()
