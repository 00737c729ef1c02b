"""`zoo build`: recipe -> fit -> test -> zoo folder -> zoo.load by name, its console, and the upstream entries."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
import yaml

import zoo
from datamodules.tinyworld.world import generate_world
from zoo.paths import PROJECT_ROOT, checkpoints_dir


def test_smoke_build_loads_by_name_and_matches_transformers(run_zoo):
    code, out, err = run_zoo("build", "base-lm-tiny", "--preset", "smoke")
    assert code == 0, err
    folder = checkpoints_dir("smoke") / "base-lm-tiny"
    assert f"checkpoint: {folder}" in out and "test/ppl" in out and "test/question_acc" in out
    card = json.loads((folder / "zoo_card.json").read_text())
    assert card["name"] == "base-lm-tiny" and card["preset"] == "smoke" and card["steps"] == 4
    assert {"test/ppl", "test/cloze_acc", "test/question_acc"} <= set(card["metrics"])

    # A smoke build never passes for the full one.
    with pytest.raises(zoo.ZooError, match="not built at preset full"):
        zoo.load("base-lm-tiny")
    module = zoo.load("base-lm-tiny", preset="smoke")
    assert not module.training

    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf, tokenizer = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    ids = tokenizer("Question: Where was Turo Marten born?\nAnswer:", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(module(ids), hf(ids).logits)

    # Built once: a second build is served from the folder.
    code, out, err = run_zoo("build", "base-lm-tiny", "--preset", "smoke")
    assert code == 0 and (folder / "zoo_card.json").read_text() == json.dumps(card, indent=2, sort_keys=True) + "\n"
    assert "note" not in err
    # A folder built from another text of the recipe is still served, with a note that says how to rebuild it.
    saved = (folder / "zoo_card.json").read_text()
    try:
        (folder / "zoo_card.json").write_text(json.dumps({**card, "recipe_sha256": "0" * 64}))
        code, out, err = run_zoo("build", "base-lm-tiny", "--preset", "smoke")
        assert code == 0 and f"checkpoint: {folder}" in out
        assert err == ("zoo: note: base-lm-tiny was built from another text of configs/base_lm/base-lm-tiny.yaml; "
                       "`zoo build base-lm-tiny --force` rebuilds it from the recipe as it is now\n")
        # So is a smoke build made with another smoke config than the entry's (base-lm-tiny has none).
        assert card["smoke"] is None
        (folder / "zoo_card.json").write_text(json.dumps({**card, "smoke": {"data": {"init_args": {"n": 1}}}}))
        code, out, err = run_zoo("build", "base-lm-tiny", "--preset", "smoke")
        assert code == 0 and err == ("zoo: note: base-lm-tiny was built with another smoke config than its registry "
                                     "entry's; `zoo build base-lm-tiny --preset smoke --force` rebuilds it\n")
    finally:
        (folder / "zoo_card.json").write_text(saved)

    # A forced rebuild is a fresh run: its run folder keeps no checkpoint of the previous build.
    code, _, err = run_zoo("build", "base-lm-tiny", "--preset", "smoke", "--force")
    assert code == 0, err
    run_checkpoints = folder.parents[1] / "runs" / "smoke" / "base-lm-tiny" / "checkpoints"
    assert sorted(path.name for path in run_checkpoints.iterdir()) == ["last.ckpt"]

    # --resume continues that run's last.ckpt: a finished fit trains no further, so the weights stay the build's.
    weights = (folder / "model.safetensors").read_bytes()
    code, _, err = run_zoo("build", "base-lm-tiny", "--preset", "smoke", "--force", "--resume")
    assert code == 0, err
    assert (folder / "model.safetensors").read_bytes() == weights
    assert json.loads((folder / "zoo_card.json").read_text())["steps"] == 4


def test_build_prints_no_warning_and_list_shows_the_smoke_build(tmp_path):
    """The console of a real `zoo build` process: its own lines and bars, no third-party warnings or tips."""
    env = {**os.environ, "ZOO_HOME": str(tmp_path)}
    zoo_command = [sys.executable, "-m", "zoo"]
    result = subprocess.run([*zoo_command, "build", "base-lm-tiny", "--preset", "smoke"], capture_output=True,
                            text=True, env=env, cwd=PROJECT_ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    # (The ZOO_HOME path names the test, which says "warning".)
    console = (result.stdout + result.stderr).replace(str(tmp_path), "$ZOO_HOME").splitlines()
    assert [line for line in console if re.search("warn|Tip:", line, re.IGNORECASE)] == []
    checkpoint_lines = [line for line in console if line.startswith("checkpoint: ")]
    assert checkpoint_lines == ["checkpoint: $ZOO_HOME/checkpoints-smoke/base-lm-tiny"]
    listing = subprocess.run([*zoo_command, "list", "base-lm-tiny"], capture_output=True, text=True, env=env,
                             cwd=PROJECT_ROOT, timeout=120)
    assert listing.stdout.splitlines()[1].split()[:4] == ["base-lm-tiny", "causal-lm", "causal_lm", "smoke"]


def test_build_builds_the_entries_its_recipe_names_first(monkeypatch, tmp_path):
    """instruct-biomed-tiny continues base-lm-tiny and reads pairs from instruct-synth-tiny (itself from base-lm-tiny)."""
    from zoo.builder import build

    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    fitted = []

    def fake_cli(args, run, trainer_defaults):
        fitted.append(args[1].rsplit("/", 1)[-1].removesuffix(".yaml"))
        trainer = SimpleNamespace(fit=lambda *a, **k: None, test=lambda *a, **k: [{"test/ppl": 1.0}], global_step=4)
        return SimpleNamespace(model=None, datamodule=SimpleNamespace(training_texts=lambda: []), trainer=trainer)

    def fake_export(module, out, **card):
        out.mkdir(parents=True, exist_ok=True)
        (out / "zoo_card.json").write_text(json.dumps({"metrics": card["metrics"]}))

    monkeypatch.setattr("zoo.builder.lightning_cli", fake_cli)
    monkeypatch.setattr("zoo.builder.export_module", fake_export)
    monkeypatch.setattr("zoo.builder.contamination_report", lambda texts: {})
    monkeypatch.setattr("zoo.builder.read_card", lambda out: json.loads((out / "zoo_card.json").read_text()))
    folder, card = build("instruct-biomed-tiny", preset="smoke")
    assert fitted == ["base-lm-tiny", "instruct-synth-tiny", "instruct-biomed-tiny"]
    assert folder == checkpoints_dir("smoke") / "instruct-biomed-tiny" and card["metrics"] == {"test/ppl": 1.0}
    build("instruct-biomed-tiny", preset="smoke", force=True)
    assert fitted[3:] == ["instruct-biomed-tiny"], "a forced rebuild reuses what it depends on"
    with pytest.raises(zoo.ZooError, match="preset='bogus' is not one of full, smoke"):
        build("base-lm-tiny", preset="bogus")


def test_the_smoke_preset_layers_the_entrys_own_smoke_config_last():
    from zoo.builder import preset_args
    from zoo.registry import get_entry

    entry = get_entry("uprise-retriever-tinyworld")
    assert preset_args(entry, "full") == ["-c", str(entry.recipe_path)]
    smoke = preset_args(entry, "smoke")
    assert smoke[:4] == ["-c", str(entry.recipe_path), "-c", str(PROJECT_ROOT / "configs" / "trainer" / "smoke.yaml")]
    assert smoke[4] == "-c" and json.loads(smoke[5]) == entry.smoke
    assert entry.smoke["data"]["init_args"]["n_candidates"] < 50
    # An entry without one gets the trainer preset alone.
    assert len(preset_args(get_entry("base-lm-tiny"), "smoke")) == 4


@pytest.mark.parametrize("fields, problem", [
    ({"smoke": [4]}, "smoke is a config mapping"),
    ({"source": "hf-hub:org/model", "recipe": None, "smoke": {"data": {}}}, "smoke is a config mapping.*only recipe entries")])
def test_a_bad_smoke_config_in_an_entry_is_refused_naming_its_file(monkeypatch, tmp_path, fields, problem):
    from zoo import registry

    entry = yaml.safe_load((PROJECT_ROOT / "zoo" / "entries" / "base-lm-tiny.yaml").read_text())
    (tmp_path / "base-lm-tiny.yaml").write_text(yaml.safe_dump({**entry, **fields}))
    monkeypatch.setattr(registry, "ENTRIES_DIR", tmp_path)
    registry.entries.cache_clear()
    try:
        with pytest.raises(zoo.ZooError, match=f"base-lm-tiny.yaml: {problem}"):
            registry.entries()
    finally:
        registry.entries.cache_clear()


def test_upstream_entries_are_hub_entries():
    names = zoo.list_models("*")
    for upstream in ("adaptllm-medicine-llm", "instructlm-500m"):
        entry = zoo.card(upstream)
        assert upstream in names and entry.source.startswith("hf-hub:") and entry.recipe is None
        with pytest.raises(zoo.ZooError, match="upstream release"):
            entry.recipe_path
    assert zoo.list_models("base-*") == ["base-lm-tiny"]


@pytest.mark.slow
def test_full_base_lm_build_learns_stored_facts(run_zoo):
    """The main job: the full recipe (about 4 minutes on 2 cores) stores facts above chance."""
    code, out, err = run_zoo("build", "base-lm-tiny")
    assert code == 0, err
    assert not zoo.load("base-lm-tiny").training
    card = json.loads((checkpoints_dir() / "base-lm-tiny" / "zoo_card.json").read_text())
    assert card["metrics"]["test/ppl"] < 3.0
    # Facts in document wording are learned above chance (0.25, four options): the accuracy's 95 % interval over the
    # world's held-out cloze items lies above it. A fixed bar (0.35 once) sits inside the spread of builds whose floats
    # differ in their last bits (a fused optimizer, another thread count): 0.378 and 0.350 for the same recipe.
    world = yaml.safe_load(card["recipe"])["data"]["init_args"]["world"]
    items, accuracy = len(generate_world(**world).cloze), card["metrics"]["test/cloze_acc"]
    assert accuracy - 1.96 * math.sqrt(accuracy * (1 - accuracy) / items) > 0.25, (accuracy, items)
