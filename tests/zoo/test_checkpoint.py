"""Checkpoint folders: resume determinism, verification, registry resolution, bad checkpoints."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from lightning.pytorch.callbacks import Callback

import zoo
from tests.conftest import TINY
from zoo.checkpoint import export_checkpoint
from zoo.resolve import load_pretrained, resolve
from zoo.cli import lightning_cli
from zoo.errors import ZooError
from zoo.paths import PROJECT_ROOT

RECIPE = str(PROJECT_ROOT / "configs" / "base_lm" / "base-lm-tiny.yaml")
RESUMABLE = [*TINY, "--trainer.max_steps", "12", "--checkpoint.every_n_train_steps", "3",
             "--trainer.val_check_interval", "4"]


class Killed(RuntimeError):
    pass


class KillAtStep(Callback):
    """Dies like a pre-empted job: after the step-6 checkpoint, before the run ends."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == 7:
            raise Killed()


def net_weights(ckpt) -> dict[str, torch.Tensor]:
    state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("net.")}


def test_killed_fit_resumed_from_last_matches_uninterrupted(run_zoo, tmp_path):
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    code, _, err = run_zoo("fit", "-c", RECIPE, *RESUMABLE, "--trainer.default_root_dir", straight)
    assert code == 0, err

    cli = lightning_cli(["-c", RECIPE, *RESUMABLE, "--trainer.default_root_dir", str(interrupted)], run=False)
    cli.trainer.callbacks.insert(0, KillAtStep())
    with pytest.raises(Killed):
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert torch.load(interrupted / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 6

    code, _, err = run_zoo("fit", "-c", RECIPE, *RESUMABLE, "--trainer.default_root_dir", interrupted,
                           "--ckpt_path", "last")
    assert code == 0, err
    a, b = net_weights(straight / "checkpoints" / "last.ckpt"), net_weights(interrupted / "checkpoints" / "last.ckpt")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from the uninterrupted run"


@pytest.fixture
def exported(tiny_folder):
    return tiny_folder


def test_export_is_byte_reproducible(exported, tmp_path):
    again = export_checkpoint(exported.parent / "checkpoints" / "last.ckpt", tmp_path / "again")
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (again / name).read_bytes() == (exported / name).read_bytes()


def test_card_records_what_produced_the_weights(exported):
    card = json.loads((exported / "zoo_card.json").read_text())
    assert card["class_path"] == "zoo.modules.causal_lm.CausalLM"
    assert card["hparams"]["net"] == "llama-test" and "_class_path" not in card["hparams"]
    assert set(card["versions"]) >= {"torch", "lightning", "transformers"}
    assert "How" not in card and "## Load" in (exported / "README.md").read_text()


def test_corrupt_weights_are_refused(exported, tmp_path):
    folder = shutil.copytree(exported, tmp_path / "corrupt")
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-100] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ZooError, match="sha256 mismatch"):
        zoo.load(f"local-dir:{folder}")


def test_swapped_weights_are_refused(exported, tmp_path):
    folder = shutil.copytree(exported, tmp_path / "swapped")
    state = {k: v.clone() for k, v in zoo.load(f"local-dir:{exported}").net.state_dict().items()}
    from safetensors.torch import save_file

    state["model.norm.weight"] += 1
    state.pop("lm_head.weight")  # tied to the embeddings, stored once
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ZooError, match="sha256 mismatch"):
        zoo.load(f"local-dir:{folder}")


def test_truncated_plain_hf_folder_is_a_clear_error(exported, tmp_path):
    folder = shutil.copytree(exported, tmp_path / "plain")
    (folder / "zoo_card.json").unlink()
    (folder / "model.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(ZooError, match="cannot load as a causal LM"):
        load_pretrained(f"local-dir:{folder}")


def test_registry_names_resolve_only_to_their_own_build(tmp_path):
    with pytest.raises(ZooError, match="not built at preset full.*zoo build base-lm-tiny"):
        resolve("base-lm-tiny")
    with pytest.raises(ZooError, match="did you mean base-lm-tiny"):
        zoo.load("base_lm_tiny")
    with pytest.raises(ZooError, match="cannot download hf-hub:AdaptLLM/medicine-LLM"):
        zoo.load("adaptllm-medicine-llm")
    with pytest.raises(ZooError, match="no such folder"):
        zoo.load(f"local-dir:{tmp_path / 'missing'}")


def test_vocabulary_mismatch_is_refused(exported, run_zoo, tmp_path):
    from datamodules.tokenizer import train_bpe

    other = tmp_path / "other-tokenizer.json"
    other.write_text(train_bpe(["a completely different corpus of words"] * 20, vocab_size=300))
    code, _, err = run_zoo("fit", "-c", RECIPE, *TINY, "--model.init_args.init_from", f"local-dir:{exported}",
                           "--data.init_args.tokenizer", other, "--trainer.default_root_dir", tmp_path)
    assert code == 2
    assert "tokenizer/model vocabulary mismatch" in err.strip().splitlines()[-1]


def test_continued_pretraining_starts_from_the_exported_weights(exported, run_zoo, tmp_path):
    code, _, err = run_zoo("fit", "-c", RECIPE, *TINY, "--model.init_args.init_from", f"local-dir:{exported}",
                           "--data.init_args.tokenizer", f"local-dir:{exported}", "--trainer.max_steps", "1",
                           "--model.init_args.learning_rate", "0", "--trainer.default_root_dir", tmp_path)
    assert code == 0, err
    continued = net_weights(tmp_path / "checkpoints" / "last.ckpt")
    start = zoo.load(f"local-dir:{exported}").net.state_dict()
    assert all(torch.equal(continued[f"net.{k}"], v) for k, v in start.items() if f"net.{k}" in continued)
