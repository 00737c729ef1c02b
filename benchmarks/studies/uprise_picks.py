"""What the UPRISE studies' prompt sources pick, and what the scoring LM rewarded in training.

    python -m benchmarks.studies.uprise_picks --held-out completion --retriever local-dir:FOLDER

The retriever is any zoo reference: ``uprise-retriever-tinyworld`` (the closed_qa fold's build), or a study run
exported first (``zoo export $ZOO_HOME/runs/studies/<run>/checkpoints/last.ckpt FOLDER``).

Two tables behind each UPRISE study's diagnosis, for one leave-one-cluster-out fold of the tinyworld clusters
(the studies' world: general, seed 11, 30 entities):

- *Positives*: per training cluster, the inputs, those with a candidate that made the scoring LM right (kept),
  those with a same-fact candidate (a prompt about the input's entity and attribute) among their L, that
  candidate's mean rank, and how often it is the positive. From the cached scores (``zoo synth uprise-scores``
  or a retriever build makes them).
- *Picks*: per prompt source (BM25, the off-the-shelf MiniLM, the tuned retriever), the share of its top-k
  prompts from each cluster, false claims among them, same-entity and same-fact prompts, and the items that get
  at least one same-fact prompt.
"""

from __future__ import annotations

import argparse
from collections import Counter

from datamodules.retrieval import Clusters, scored_candidates
from datamodules.tinyworld.clusters import ClusterItem


def same_fact(a: ClusterItem, b: ClusterItem) -> bool:
    return (a.entity, a.attribute) == (b.entity, b.attribute)


def positives(clusters: Clusters, scorer: str, n_candidates: int) -> dict[str, Counter]:
    """Per training cluster: inputs, kept, with a same-fact candidate, its summed rank, same-fact positives."""
    pool = clusters.pool()
    by_id = {item.id: item for item in pool}
    counts: dict[str, Counter] = {}
    for row in scored_candidates(scorer, clusters, n_candidates):
        item = by_id[row["id"]]
        count = counts.setdefault(item.cluster, Counter())
        count["inputs"] += 1
        ranks = [rank for rank, candidate in enumerate(row["candidates"], 1) if same_fact(by_id[candidate], item)]
        if ranks:
            count["with a same-fact candidate"] += 1
            count["rank sum"] += ranks[0]
        right = [candidate for candidate, correct in zip(row["candidates"], row["correct"]) if correct]
        if right:
            count["kept"] += 1
            count["same-fact positive"] += same_fact(by_id[right[0]], item)
    return counts


def picks(clusters: Clusters, sources: dict[str, list[list[int]]]) -> dict[str, dict[str, float]]:
    """Per source, shares of its picks (per prompt) and of the items with a same-fact prompt (per item)."""
    pool, test = clusters.pool(), clusters.test()
    shares = {}
    for source, rows in sources.items():
        count: Counter = Counter()
        for item, row in zip(test, rows):
            chosen = [pool[index] for index in row]
            for prompt in chosen:
                count[prompt.cluster] += 1
                count["false claims"] += prompt.cluster == "verification" and prompt.options[prompt.answer_index] == " false"
                count["same entity"] += prompt.entity == item.entity
                count["same fact"] += same_fact(prompt, item)
            count["items with a same-fact prompt"] += any(same_fact(prompt, item) for prompt in chosen)
        prompts = sum(len(row) for row in rows)
        shares[source] = {key: value / (len(test) if key.startswith("items") else prompts) for key, value in count.items()}
    return shares


def main() -> None:
    from zoo.checkpoint import load
    from zoo.modules.uprise import bm25_prompts, minilm_prompts

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--held-out", default="closed_qa")
    parser.add_argument("--retriever", required=True, help="a zoo reference: a name or local-dir:FOLDER")
    parser.add_argument("--scorer", default="uprise-lm-tiny")
    parser.add_argument("--n-candidates", type=int, default=50)
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    clusters = Clusters(domain="general", world_seed=11, n_entities=30, held_out=args.held_out)
    print(f"positives ({args.scorer}, L = {args.n_candidates}, {args.held_out} held out):")
    for cluster, count in positives(clusters, args.scorer, args.n_candidates).items():
        rank = count["rank sum"] / max(1, count["with a same-fact candidate"])
        print(f"  {cluster:12s} inputs {count['inputs']:4d}  kept {count['kept']:4d}  with a same-fact candidate "
              f"{count['with a same-fact candidate']:4d} (mean rank {rank:.1f})  same-fact positives "
              f"{count['same-fact positive']:3d}")
    texts, queries = [item.demonstration for item in clusters.pool()], [item.input for item in clusters.test()]
    retriever = load(args.retriever)
    sources = {"bm25": bm25_prompts(texts, queries, args.k), "minilm": minilm_prompts(texts, queries, args.k),
               "uprise": retriever.retrieve(queries, texts, args.k)[1].tolist()}
    print(f"picks (top-{args.k} for {len(queries)} held-out items; shares of the prompts, and of the items for 'items with a same-fact prompt'):")
    for source, share in picks(clusters, sources).items():
        print(f"  {source:7s} " + "  ".join(f"{key} {value:.2f}" for key, value in sorted(share.items())))


if __name__ == "__main__":
    main()
