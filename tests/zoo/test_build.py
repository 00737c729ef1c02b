"""`zoo build`: recipe -> fit -> test -> zoo folder -> zoo.load by name, and the upstream entries."""

from __future__ import annotations

import json

import pytest
import torch

import zoo
from zoo.paths import checkpoints_dir


def test_smoke_build_loads_by_name_and_matches_transformers(run_zoo):
    code, out, err = run_zoo("build", "base-lm-tiny", "--preset", "smoke")
    assert code == 0, err
    folder = checkpoints_dir("smoke") / "base-lm-tiny"
    assert f"checkpoint: {folder}" in out and "test/ppl" in out and "test/question_acc" in out
    card = json.loads((folder / "zoo_card.json").read_text())
    assert card["name"] == "base-lm-tiny" and card["preset"] == "smoke" and card["steps"] == 4
    assert {"test/ppl", "test/cloze_acc", "test/question_acc"} <= set(card["metrics"])

    # A smoke build never passes for the full one.
    with pytest.raises(zoo.ZooError, match="not built yet"):
        zoo.load("base-lm-tiny")
    module = zoo.load("base-lm-tiny", preset="smoke")
    assert not module.training

    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf, tokenizer = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    ids = tokenizer("Question: Where was Turo Marten born?\nAnswer:", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(module(ids), hf(ids).logits)

    # Built once: a second build is served from the folder.
    code, out, _ = run_zoo("build", "base-lm-tiny", "--preset", "smoke")
    assert code == 0 and (folder / "zoo_card.json").read_text() == json.dumps(card, indent=2, sort_keys=True) + "\n"


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
    assert card["metrics"]["test/cloze_acc"] > 0.35, "facts in document wording must be learned above chance (0.25)"
