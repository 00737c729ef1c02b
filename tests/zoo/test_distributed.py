"""Distributed training: a 2-process CPU (gloo) ddp fit yields a loadable checkpoint; samplers shard."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

import zoo
from datamodules.base import ResumableSampler
from tests.conftest import TINY
from zoo.checkpoint import export_checkpoint
from zoo.paths import PROJECT_ROOT


def test_ddp_two_cpu_processes_fit_and_export(tmp_path):
    # ddp re-launches the command line per rank, so it runs as a real process, not in pytest.
    command = [sys.executable, "-m", "zoo", "fit", "-c", "configs/base_lm/base-lm-tiny.yaml",
               "-c", "configs/trainer/ddp.yaml", "--trainer.accelerator", "cpu", *TINY,
               "--trainer.default_root_dir", str(tmp_path)]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "GLOBAL_RANK: 1" in result.stdout + result.stderr, "two processes must have trained"
    folder = export_checkpoint(tmp_path / "checkpoints" / "last.ckpt", tmp_path / "folder")
    module = zoo.load(f"local-dir:{folder}")
    ids = module.tokenizer("Drug profile", return_tensors="pt").input_ids
    assert torch.isfinite(module(ids)).all()


def test_sampler_shards_ranks_disjointly_and_resumes_mid_epoch():
    data = list(range(64))
    ranks = [list(ResumableSampler(data, batch_size=4, seed=3, num_replicas=2, rank=r)) for r in (0, 1)]
    assert not set(ranks[0]) & set(ranks[1]) and len(ranks[0]) == len(ranks[1]) == 32
    full = list(ResumableSampler(data, batch_size=4, seed=3))
    resumed = ResumableSampler(data, batch_size=4, seed=3, start_batch=lambda: 5)
    assert list(resumed) == full[20:]
    assert list(resumed) == full, "only the resumed epoch skips"
    epoch_one = ResumableSampler(data, batch_size=4, seed=3)
    epoch_one.set_epoch(1)
    assert list(epoch_one) != full and sorted(epoch_one) == sorted(full)
