"""Throughput of the zoo's batched OOD scoring against a plain transformers forward loop, in the same run.

    python -m benchmarks.perf.ood_throughput [--model diffusion-plm-minilm-sst2] [--sentences 512] [--rounds 3]

The zoo path is what ``zoo eval`` runs (``benchmarks.evaluators.ood``): sentences sorted by length into
batches of ``--batch-size``, one no-grad forward per batch from x_t with the LM head, per-example loss.
The baseline is what a user would write with transformers alone: one sentence at a time (as upstream's
``ood_detect_roberta.py`` scores), the same noised forward, its loss. Both score the same SST-2 test
sentences; best of ``--rounds`` each, reported as sentences/s and the ratio zoo / plain (target >= 1.0).
The run also times one pass at several timesteps (``--timesteps``) against as many passes at one, the
cost of a t sweep. Without a built ``--model`` the net is MiniLM with its new (seeded) LM head: speed does
not depend on what the weights know. Needs ``ZOO_DATA_DIR`` (SST-2).
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.perf import best_of

#: Batched scoring over the plain per-sentence loop that the issue asks for.
TARGET_RATIO = 1.0


def load_model(reference: str, timesteps: tuple[int, ...]):
    """A DiffusionPLM: the built ``reference`` if it resolves, else the offline MiniLM with a new LM head."""
    from zoo.errors import ZooError
    from zoo.modules import DiffusionPLM

    try:
        from zoo.checkpoint import load

        module = load(reference)
        module.hparams.score_timesteps = list(timesteps)
        return module.eval(), reference
    except ZooError:
        return DiffusionPLM(init_from="minilm-l6-v2", score_timesteps=timesteps).eval(), "minilm-l6-v2 (untrained head)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="diffusion-plm-minilm-sst2", help="zoo name / local-dir: of a DiffusionPLM")
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--timesteps", type=int, nargs="+", default=[600, 300, 900])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from benchmarks.evaluators.ood import batched_scorer
    from datamodules.classification import TextSet
    from zoo.modules.encoder import token_losses

    texts = TextSet("sst2", "zoo-data:sst2/test.tsv", limit=args.sentences).read()[0]
    module, described = load_model(args.model, (args.timesteps[0],))
    encode = batched_scorer(module, 64, args.batch_size)

    def zoo_scores():
        encode(texts, lambda batch: module.score_batch(batch)[f"reconstruction_t{args.timesteps[0]}"])

    def plain_loop():
        # transformers alone, as upstream scores: one sentence per forward, its tokens its own targets.
        with torch.no_grad():
            for text in texts:
                batch = dict(module.tokenizer([text], return_tensors="pt", truncation=True, max_length=64,
                                              return_token_type_ids=False))
                t = torch.tensor([args.timesteps[0]])
                _, output = module.denoise(batch, t, lambda x0: torch.randn_like(x0))
                token_losses(output.logits, batch["input_ids"])

    torch.manual_seed(0)
    zoo_time, plain_time = best_of(args.rounds, zoo_scores), best_of(args.rounds, plain_loop)
    print(f"model: {described}; {len(texts)} SST-2 sentences, batch {args.batch_size}, torch threads "
          f"{torch.get_num_threads()}")
    print(f"zoo batched scoring:  {len(texts) / zoo_time:8.1f} sentences/s")
    print(f"plain per-sentence:   {len(texts) / plain_time:8.1f} sentences/s")
    ratio = plain_time / zoo_time
    print(f"ratio zoo / plain:    {ratio:8.2f} (target >= {TARGET_RATIO:.1f}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})")

    many = len(args.timesteps)
    module.hparams.score_timesteps = list(args.timesteps)
    one_pass = best_of(args.rounds, lambda: encode(texts, lambda batch: torch.stack(list(module.score_batch(batch).values()), 1)))
    module.hparams.score_timesteps = [args.timesteps[0]]
    print(f"{many} timesteps in one pass: {one_pass / zoo_time:.2f} x the time of one timestep "
          f"({many} separate passes: {many:.2f} x)")


if __name__ == "__main__":
    main()
