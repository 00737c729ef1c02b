"""UPRISE's speed: top-k search over a large prompt pool, and candidate scoring against lm-eval's ``HFLM``.

    python -m benchmarks.perf.retrieval_throughput [--pool 100000] [--queries 1024] [--dim 384] [--k 3]
                                                    [--scorer uprise-lm-tiny] [--contexts 256]

Search: the top-3 prompts of each query in a pool of ``--pool`` embeddings (MiniLM's width), in ms per
query: the zoo's exact search (``zoo.nets.search.exact_top_k``: a batch of queries per matrix product in
bfloat16, its shortlist rescored in float32) against the same search in float32 alone, a plain per-query
loop (one matrix-vector product and top-k per query), FAISS's flat inner-product index (``IndexFlatIP``,
upstream's index) and the float32 matrix product alone (the float32 search's floor), all in this run, on
the same embeddings; the results must agree. The issue's target: <= 0.5 ms per query batched on 2 cores;
the matrix product is ``2 * pool * dim`` FLOPs per query.

Scoring: one-shot candidate contexts of the tinyworld clusters scored by the zoo's packed option
scorer (``datamodules.retrieval.option_losses``: a context once, its options as branches) against
lm-eval's ``HFLM`` on the same (context, option) requests, in candidates per second and their ratio.
Without a built ``--scorer`` a seeded llama-tiny stands in: speed does not depend on the weights.
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.perf import best_of


def search(args) -> None:
    from zoo.nets.search import exact_top_k, faiss_top_k

    generator = torch.Generator().manual_seed(0)
    pool = torch.nn.functional.normalize(torch.randn(args.pool, args.dim, generator=generator), dim=1)
    queries = torch.nn.functional.normalize(torch.randn(args.queries, args.dim, generator=generator), dim=1)

    def loop():
        return torch.stack([torch.topk(pool @ query, args.k).indices for query in queries])

    batched = exact_top_k(queries, pool, args.k)[1]
    assert torch.equal(batched, loop()) and torch.equal(batched, faiss_top_k(queries, pool, args.k)[1])
    assert torch.equal(batched, exact_top_k(queries, pool, args.k, shortlist=0)[1])
    times = {"exact, batched (zoo)": best_of(args.rounds, lambda: exact_top_k(queries, pool, args.k)),
             "exact, float32 only": best_of(args.rounds, lambda: exact_top_k(queries, pool, args.k, shortlist=0)),
             "float32 product alone": best_of(args.rounds, lambda: queries @ pool.T),
             "plain per-query loop": best_of(args.rounds, loop),
             "faiss IndexFlatIP": best_of(args.rounds, lambda: faiss_top_k(queries, pool, args.k))}
    flops = 2 * args.pool * args.dim
    print(f"top-{args.k} of {args.pool:,} prompts (dim {args.dim}), {args.queries} queries, "
          f"{torch.get_num_threads()} threads; matrix product {flops / 1e6:.0f} MFLOP per query")
    base = times["exact, batched (zoo)"]
    for name, seconds in times.items():
        print(f"  {name:24s} {1000 * seconds / args.queries:8.3f} ms/query   x{seconds / base:5.2f} of the zoo's time")


def scoring(args) -> None:
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from datamodules.retrieval import Clusters, one_shot_contexts, option_losses, sample_candidates
    from zoo.errors import ZooError
    from zoo.resolve import load_pretrained, resolve

    try:
        folder = resolve(args.scorer)
        net, tokenizer = load_pretrained(args.scorer)
        described = args.scorer
    except ZooError:
        import tempfile

        from datamodules.tokenizer import load_tokenizer
        from zoo.nets import build_causal_lm, causal_lm_config

        torch.manual_seed(0)
        tokenizer = load_tokenizer("tinyworld")
        net = build_causal_lm(causal_lm_config("llama-tiny", len(tokenizer)))
        folder = tempfile.mkdtemp(prefix="retrieval_throughput_")
        net.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        described = "llama-tiny (seeded, untrained)"
    clusters = Clusters(n_entities=10)
    pool = clusters.pool()
    candidates = sample_candidates(pool, 8)
    by_id = {item.id: item for item in pool}
    contexts, options = [], []
    for item in pool:
        for candidate in candidates[item.id]:
            if len(contexts) < args.contexts:
                contexts.append(one_shot_contexts([by_id[candidate].demonstration], item))
                options.append(item.options)
    requests = [Instance("loglikelihood", {}, (context, option), index)
                for index, (context, opts) in enumerate(zip(contexts, options)) for option in opts]
    hflm = HFLM(pretrained=str(folder), batch_size=args.batch_size, device="cpu", trust_remote_code=False)
    zoo = best_of(args.rounds, lambda: option_losses(net.eval(), tokenizer, contexts, options, args.batch_size))
    plain = best_of(args.rounds, lambda: hflm.loglikelihood(requests, disable_tqdm=True))
    print(f"scoring {len(contexts)} one-shot candidates ({len(requests)} options) with {described}:")
    print(f"  zoo packed options {len(contexts) / zoo:8.1f} candidates/s")
    print(f"  lm-eval HFLM       {len(contexts) / plain:8.1f} candidates/s   zoo / HFLM = {plain / zoo:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1024)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--scorer", default="uprise-lm-tiny")
    parser.add_argument("--contexts", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    search(args)
    scoring(args)


if __name__ == "__main__":
    main()
