"""Training throughput of `zoo fit` against a plain PyTorch loop on the same model, batches and data.

    python -m benchmarks.perf.fit_throughput [--steps 40] [--warmup 5] [--block-sizes 128 256]

Both runs use the base-lm-tiny recipe's net, optimizer, schedule and DataModule, in this process;
the ratio (zoo / plain tokens per second) is the figure to watch (target >= 0.95). The model's
FLOP/s is reported against a measured fp32 matmul peak. A second table compares sequence lengths
and attention paths (SDPA without a mask, SDPA with a padding mask, eager), which explains the
cost per token of longer sequences.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from zoo.paths import PROJECT_ROOT

RECIPE = str(PROJECT_ROOT / "configs" / "base_lm" / "base-lm-tiny.yaml")


def matmul_peak_gflops(n: int = 1024, repeats: int = 20) -> float:
    """Best fp32 GFLOP/s of an n x n matmul on this machine."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def flops_per_token(config, seq_len: int) -> float:
    """Training FLOPs per token: 6 x matmul parameters + attention scores (PaLM appendix B)."""
    d, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    inter, kv = config.intermediate_size, config.num_key_value_heads * (d // config.num_attention_heads)
    matmul_params = layers * (2 * d * d + 2 * d * kv + 3 * d * inter) + d * vocab
    return 6 * matmul_params + 6 * layers * d * seq_len


def build(block_size: int, steps: int):
    """The recipe's module, DataModule and Trainer, seeded identically for both contestants.

    Lightning's own ``LightningCLI`` on the recipe, which ``zoo fit`` extends: the benchmarks layer does not
    import the app's CLI, and what the zoo CLI adds (a run folder under ``ZOO_HOME``, a ``last.ckpt``)
    does not change the cost of a step.

    Args:
        block_size: Tokens per training sequence.
        steps: Optimizer steps of the run.
    """
    import tempfile

    from lightning import LightningDataModule, LightningModule
    from lightning.pytorch.cli import LightningCLI

    return LightningCLI(LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
                        save_config_callback=None, auto_configure_optimizers=False, run=False,
                        args=["-c", RECIPE, "--data.init_args.block_size", str(block_size),
                              "--trainer.max_steps", str(steps), "--trainer.limit_val_batches", "0",
                              "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
                              "--trainer.default_root_dir", tempfile.mkdtemp(prefix="fit_throughput-")])


def time_zoo_fit(block_size: int, steps: int, warmup: int) -> float:
    """Seconds per step of Lightning's fit, timed from step ``warmup`` to the end."""
    from lightning.pytorch.callbacks import Callback

    marks: dict[str, float] = {}

    class Timer(Callback):
        def on_train_batch_start(self, trainer, *args):
            if trainer.global_step == warmup:
                marks["start"] = time.perf_counter()

        def on_train_end(self, trainer, *args):
            marks["end"] = time.perf_counter()

    cli = build(block_size, steps)
    cli.trainer.callbacks.append(Timer())
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return (marks["end"] - marks["start"]) / (steps - warmup)


def time_plain_loop(block_size: int, steps: int, warmup: int) -> tuple[float, object]:
    """Seconds per step of a hand-written loop: the same module, loss, optimizer and schedule, no Trainer."""
    cli = build(block_size, steps)
    module, datamodule = cli.model, cli.datamodule
    datamodule.setup("fit")
    module.build_net(datamodule.tokenizer)
    optimizer, scheduler = module.optimizer_and_schedule(steps)
    loader = datamodule.train_dataloader()
    module.train()
    step, start = 0, 0.0
    while step < steps:
        for batch in loader:
            if step == warmup:
                start = time.perf_counter()
            loss, _, _ = module.lm_loss(batch["input_ids"])
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if step == steps:
                break
    return (time.perf_counter() - start) / (steps - warmup), module.net.config


def attention_table(block_sizes: list[int], batch_tokens: int, repeats: int = 5) -> list[tuple]:
    """Forward+backward seconds per 1k tokens of llama-tiny per sequence length and attention path."""
    from zoo.nets import build_causal_lm, causal_lm_config

    rows = []
    for block in block_sizes:
        batch = max(1, batch_tokens // block)
        ids = torch.randint(0, 1536, (batch, block))
        for label, impl, mask in (("sdpa, no mask", "sdpa", None), ("sdpa, padding mask", "sdpa", torch.ones_like(ids)),
                                  ("eager", "eager", None)):
            config = causal_lm_config("llama-tiny", 1536)
            config._attn_implementation = impl
            net = build_causal_lm(config)
            net.config._attn_implementation = impl
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                net(input_ids=ids, attention_mask=mask, use_cache=False).logits.sum().backward()
                best = min(best, time.perf_counter() - start)
            rows.append((block, label, 1000 * best / ids.numel() * 1000))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two contestants")
    parser.add_argument("--block-sizes", type=int, nargs="+", default=[128, 256, 512])
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)

    # Alternate the contestants so drift (thermal, other load) hits both alike.
    zoo_times, plain_times = [], []
    for _ in range(args.rounds):
        plain, config = time_plain_loop(128, args.steps, args.warmup)
        plain_times.append(plain)
        zoo_times.append(time_zoo_fit(128, args.steps, args.warmup))
    zoo_step, plain_step = min(zoo_times), min(plain_times)
    tokens = 32 * 128
    peak = matmul_peak_gflops()
    model_gflops = flops_per_token(config, 128) * tokens / zoo_step / 1e9
    print(f"threads: {torch.get_num_threads()}  batch: 32 x 128 tokens  steps timed: {args.steps - args.warmup}")
    print(f"plain PyTorch loop : {tokens / plain_step:10.0f} tokens/s")
    print(f"zoo fit (Lightning): {tokens / zoo_step:10.0f} tokens/s")
    print(f"ratio zoo / plain  : {plain_step / zoo_step:10.3f}   (target >= 0.95)")
    print(f"model FLOP/s       : {model_gflops:10.1f} GFLOP/s = {100 * model_gflops / peak:.1f}% of the "
          f"measured fp32 matmul peak ({peak:.0f} GFLOP/s)")
    print("\nforward+backward of llama-tiny, 4096 tokens per batch (ms per 1k tokens):")
    for block, label, ms in attention_table(args.block_sizes, 4096):
        print(f"  seq {block:4d}  {label:<20} {ms:8.2f}")


if __name__ == "__main__":
    main()
