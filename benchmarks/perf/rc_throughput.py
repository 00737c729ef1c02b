"""Throughput of the reading-comprehension transform on ~2 KB prose documents.

    python -m benchmarks.perf.rc_throughput [--mb 8] [--cprofile]

Generates the benchmark corpus with ``shared/bench/rc_corpus.py`` (Python standard library
docstrings packed into ~2 KB documents, line 1 the title) into a temporary folder, derives domain
keywords and the domain tokenizer from it (against ``tinyworld:general``, as a recipe's
``keyword_corpora`` does) so that the keyword task does real work, then times the transform: a
plain loop in this process, ``datasets.map`` with one process, and ``datasets.map(num_proc=2)``,
plus the per-stage split of the single-process time. The upstream converter did ~90-100
documents/s per core on this corpus and machine; the ratio uses 95.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Upstream AdaptLLM converter, documents/s per core on this corpus (shared/specs/adaptllm.md).
UPSTREAM_DOCS_PER_S = 95.0
#: Target speed-up over upstream, single process.
TARGET_RATIO = 10.0
CORPUS_SCRIPT = Path(__file__).resolve().parents[3] / "shared" / "bench" / "rc_corpus.py"


def build_corpus(folder: Path, megabytes: float) -> None:
    """Write the benchmark corpus with the shared generator (its own interpreter's stdlib docstrings)."""
    script = Path(os.environ.get("RC_CORPUS_SCRIPT", CORPUS_SCRIPT))
    if not script.is_file():
        sys.exit(f"rc_throughput: corpus generator not found at {script}; set RC_CORPUS_SCRIPT")
    subprocess.run([sys.executable, str(script), str(folder), str(megabytes)], check=True, stdout=subprocess.DEVNULL)


def best_of(rounds: int, function) -> float:
    """Fastest wall time of ``rounds`` calls (the least disturbed by other load)."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=8.0, help="corpus size in MB (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="timed repetitions of the in-process runs")
    parser.add_argument("--cprofile", action="store_true", help="also print the top functions of one run")
    args = parser.parse_args()
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

    import datasets

    from datamodules.transforms.reading_comprehension import ReadingComprehension, aggregate_stats, read_documents

    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory(prefix="rc_corpus_") as tmp:
        folder = Path(tmp)
        build_corpus(folder / "corpus", args.mb)
        docs = [doc for doc, _ in read_documents(folder / "corpus")]
        # The keyword corpus as a source file: the transform derives keywords and its domain tokenizer from it.
        (folder / "domain.jsonl").write_text("".join(json.dumps(doc) + "\n" for doc in docs), encoding="utf-8")
        transform = ReadingComprehension(domain="software", keyword_corpora=(str(folder / "domain.jsonl"),
                                                                             "tinyworld:general"))
        keywords = transform.keyword_set()  # loaded now: the temporary corpus goes away
    n_bytes = sum(len(d["title"].encode()) + len(d["text"].encode()) + 1 for d in docs)
    megabytes = n_bytes / 1e6
    batch = {key: [d[key] for d in docs] for key in ("id", "title", "text")}
    print(f"corpus: {len(docs)} documents, {megabytes:.1f} MB ({n_bytes / len(docs):.0f} B/doc), "
          f"{len(keywords)} keywords, {os.cpu_count()} CPUs")

    transform(batch)  # warm-up (regex caches, allocator)
    rows = []
    seconds = best_of(args.rounds, lambda: transform(batch))
    rows.append(("in-process loop", 1, seconds))

    dataset = datasets.Dataset.from_dict(batch)
    for num_proc in (None, 2):
        seconds = best_of(1 if num_proc else args.rounds, lambda procs=num_proc: dataset.map(
            transform, batched=True, batch_size=1000, num_proc=procs, load_from_cache_file=False,
            keep_in_memory=True))
        rows.append((f"datasets.map(num_proc={num_proc})", num_proc or 1, seconds))

    print(f"\n{'run':<30} {'procs':>5} {'docs/s':>8} {'MB/s':>6} {'docs/s/proc':>12} {'x upstream/core':>16}")
    for name, procs, seconds in rows:
        rate = len(docs) / seconds
        print(f"{name:<30} {procs:>5} {rate:>8.0f} {megabytes / seconds:>6.2f} {rate / procs:>12.0f} "
              f"{rate / procs / UPSTREAM_DOCS_PER_S:>15.1f}x")
    single = len(docs) / rows[0][2]
    verdict = "meets" if single / UPSTREAM_DOCS_PER_S >= TARGET_RATIO else "MISSES"
    print(f"single process {single / UPSTREAM_DOCS_PER_S:.1f}x upstream: {verdict} the {TARGET_RATIO:.0f}x target "
          f"(>= {TARGET_RATIO * UPSTREAM_DOCS_PER_S:.0f} docs/s)")

    # Per-stage profile of the single-process path (same methods as transform.convert).
    stages = {"split (rng + truncate + split)": 0.0, "mine (regexes + keywords)": 0.0, "render (templates)": 0.0}
    names = list(stages)
    for _ in range(args.rounds):
        start = time.perf_counter()
        rngs = [transform.document_rng(doc_id) for doc_id in batch["id"]]
        split = [transform.split(text) for text in batch["text"]]
        t1 = time.perf_counter()
        mined = [transform.mine(sentences, rng) for (_, sentences, _), rng in zip(split, rngs)]
        t2 = time.perf_counter()
        for title, (body, sentences, starts), found, rng in zip(batch["title"], split, mined, rngs):
            transform.render(title, body, sentences, starts, found, rng)
        t3 = time.perf_counter()
        for name, seconds in zip(names, (t1 - start, t2 - t1, t3 - t2)):
            stages[name] = min(stages[name], seconds) if stages[name] else seconds
    total = sum(stages.values())
    print(f"\n{'stage':<30} {'us/doc':>9} {'share':>7}")
    for name, seconds in stages.items():
        print(f"{name:<30} {seconds / len(docs) * 1e6:>9.1f} {seconds / total:>7.1%}")
    print(f"{'total':<30} {total / len(docs) * 1e6:>9.1f}")

    summary = aggregate_stats(transform(batch)["rc_stats"])
    print(f"\nexamples per document: {summary['examples_per_document']:.2f}; documents with tasks: "
          f"{summary['documents_with_tasks'] / summary['documents']:.1%}")
    print("per family (examples): " + ", ".join(f"{k} {v['examples']}" for k, v in summary["families"].items()))

    if args.cprofile:
        profiler = cProfile.Profile()
        profiler.runcall(transform, batch)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
