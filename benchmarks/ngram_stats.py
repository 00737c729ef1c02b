"""N-gram distribution statistics of corpora against a reference (ToEdit's distribution study).

    python -m benchmarks.ngram_stats --tokenizer tinyworld --corpus human=human.jsonl \\
        --corpus synthetic=synthetic/ --corpus edited=edited.jsonl --reference human --out DIR

ToEdit argues that model-generated text is shifted away from human text and over-concentrated in
its n-gram features, while token-edited human text is not. For each corpus and n-gram order this
compares the corpus's n-gram frequency distribution with the reference's: coverage of the
reference's n-gram types, KL and Jensen-Shannon divergence, the mass held by the most frequent
types (concentration) and distinct-n. A corpus is a ``.jsonl`` file (one ``{"text": ...}`` per
line) or a folder of ``.jsonl`` shards read in name order. ``DIR`` receives ngram_stats.json,
ngram_stats.md and ngram_stats.png; the same inputs give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from zoo.errors import ZooError
from zoo.paths import atomic_write_text

FILES = {"json": "ngram_stats.json", "md": "ngram_stats.md", "png": "ngram_stats.png"}
#: The metrics drawn in the PNG: shift (coverage, JS) and concentration (top mass).
PLOTTED = ("coverage", "js", "top_mass")


def ngram_counts(token_lists: Iterable[Sequence[int | str]], n: int) -> Counter:
    """Count the n-grams (tuples of ``n`` tokens) of every document.

    Args:
        token_lists: Documents as token sequences; n-grams never span two documents, since
            concatenating documents would invent n-grams that no text contains.
        n: The order (1 for unigrams).
    """
    if n < 1:
        raise ValueError(f"n-gram order must be at least 1, got {n}")
    counts: Counter = Counter()
    for tokens in token_lists:
        tokens = tuple(tokens)
        counts.update(tokens[i:i + n] for i in range(len(tokens) - n + 1))
    return counts


def compare(reference: Counter, other: Counter, top_share: float = 0.01, smoothing: float = 1e-6) -> dict[str, float]:
    """Statistics of ``other``'s n-gram distribution, against ``reference``'s and on its own.

    Args:
        reference: n-gram counts of the reference corpus (human text).
        other: n-gram counts of the compared corpus.
        top_share: Share of ``other``'s types (rounded down, at least one) whose mass is
            ``top_mass``.
        smoothing: Pseudo-count added to every type of the union of both corpora's types in
            both distributions before the KL divergence. Smoothing both sides alike keeps
            KL(reference || reference) exactly 0; a small pseudo-count leaves observed
            frequencies practically unchanged, so a reference type missing from ``other`` costs
            about log(tokens / smoothing) nats per unit of its reference probability.

    Returns:
        ``coverage`` (share of the reference's types seen in ``other``), ``kl`` (nats),
        ``js`` (Jensen-Shannon divergence in bits, in [0, 1]), ``top_mass``, ``types``,
        ``tokens`` and ``distinct`` (types / tokens) of ``other``; all floats.
    """
    if not reference or not other:
        raise ValueError("both n-gram counts must be non-empty")
    # A fixed type order (reference's, then other's new ones) makes the float sums deterministic.
    keys = list(reference) + [key for key in other if key not in reference]
    ref = np.array([reference.get(key, 0) for key in keys], dtype=np.float64)
    oth = np.array([other.get(key, 0) for key in keys], dtype=np.float64)
    p, q = ref / ref.sum(), oth / oth.sum()

    p_smooth = (ref + smoothing) / (ref.sum() + smoothing * len(keys))
    q_smooth = (oth + smoothing) / (oth.sum() + smoothing * len(keys))
    kl = float(np.sum(p_smooth * np.log(p_smooth / q_smooth)))

    # JS needs no smoothing: the mixture is positive wherever either distribution is.
    m = (p + q) / 2
    js = 0.5 * _kl_bits(p, m) + 0.5 * _kl_bits(q, m)

    top = max(1, math.floor(top_share * len(other)))
    top_counts = np.sort(np.fromiter(other.values(), dtype=np.float64, count=len(other)))[::-1][:top]
    tokens = float(oth.sum())
    return {
        "coverage": float(np.count_nonzero(oth[ref > 0]) / np.count_nonzero(ref)),
        "kl": max(kl, 0.0),
        "js": min(max(js, 0.0), 1.0),
        "top_mass": float(top_counts.sum()) / tokens,
        "types": float(len(other)),
        "tokens": tokens,
        "distinct": len(other) / tokens,
    }


def _kl_bits(p: np.ndarray, m: np.ndarray) -> float:
    """KL(p || m) in bits, where m > 0 wherever p > 0 (terms with p = 0 are 0)."""
    support = p > 0
    return float(np.sum(p[support] * np.log2(p[support] / m[support])))


def corpus_statistics(corpora: dict[str, list[list[int]]], reference: str = "human",
                      orders: Sequence[int] = (1, 2)) -> list[dict[str, Any]]:
    """Compare every corpus (the reference included, as a sanity row) with the reference.

    Args:
        corpora: Corpus name -> tokenized documents.
        reference: Name of the reference corpus in ``corpora``.
        orders: n-gram orders to compare.

    Returns:
        One row per (order, corpus), orders in the given order and corpora in ``corpora``'s
        order: ``{"corpus", "order", **compare(...)}``.
    """
    _check_reference(reference, corpora)
    if not orders or min(orders) < 1:
        raise ZooError(f"n-gram orders must be positive integers, got {list(orders)}")
    rows = []
    for n in orders:
        counts = {name: ngram_counts(documents, n) for name, documents in corpora.items()}
        for name, count in counts.items():
            if not count:
                raise ZooError(f"corpus '{name}' has no {n}-grams (empty, or every document is shorter than "
                               f"{n} tokens); give it longer texts or drop order {n}")
        rows += [{"corpus": name, "order": n, **compare(counts[reference], count)} for name, count in counts.items()]
    return rows


def _check_reference(reference: str, names: Iterable[str]) -> None:
    """Fail unless ``reference`` names one of the corpora."""
    names = list(names)
    if reference not in names:
        raise ZooError(f"reference corpus '{reference}' is not among the corpora ({', '.join(names)}); "
                       "pass --reference with one of their names")


def tokenize_corpus(texts: list[str], tokenizer) -> list[list[int]]:
    """Token ids of ``texts`` without special tokens (a bos would be a spurious shared unigram).

    Args:
        texts: The documents.
        tokenizer: A Hugging Face tokenizer (called once on the whole batch).
    """
    if not texts:
        return []
    return [list(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def plot_statistics(rows: list[dict[str, Any]], path: Path) -> None:
    """Write a PNG of coverage, JS and top mass: one row of panels per order, one bar per corpus.

    Args:
        rows: Rows of ``corpus_statistics``.
        path: The PNG to write (atomically: a temporary sibling, then a rename).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    orders = list(dict.fromkeys(row["order"] for row in rows))
    figure, axes = plt.subplots(max(len(orders), 1), len(PLOTTED), squeeze=False,
                                figsize=(3.4 * len(PLOTTED), 0.6 + 2.2 * max(len(orders), 1)))
    for axes_row, n in zip(axes, orders):
        shown = [row for row in rows if row["order"] == n]
        for axis, metric in zip(axes_row, PLOTTED):
            values = [row[metric] for row in shown]
            axis.bar(range(len(shown)), values, color="#1f77b4")
            for x, value in enumerate(values):
                axis.text(x, value, f"{value:.3f}", ha="center", va="bottom", fontsize=7)
            axis.set_xticks(range(len(shown)), [row["corpus"] for row in shown], fontsize=7)
            axis.set_ylim(0, 1.1)  # all three metrics lie in [0, 1]: one scale compares panels
            axis.set_title(f"{n}-gram {metric}", fontsize=8)
            axis.tick_params(axis="y", labelsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        # No timestamp or version in the metadata: the same rows give the same bytes.
        figure.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
        os.replace(tmp, path)
    finally:
        plt.close(figure)
        Path(tmp).unlink(missing_ok=True)


def render_markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table (4 decimals)."""
    lines = [
        "# N-gram statistics", "",
        "Each corpus against the reference (whose own rows read coverage 1, KL 0, JS 0). Coverage: share "
        "of the reference's n-gram types seen; KL in nats (smoothed), JS in bits; top-1% mass: share of the "
        "corpus's n-grams held by its most frequent 1% of types (concentration); distinct-n: types / n-grams.", "",
        "| corpus | n | coverage | KL | JS | top-1% mass | distinct-n |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        cells = [row[key] for key in ("coverage", "kl", "js", "top_mass", "distinct")]
        lines.append(f"| {row['corpus']} | {row['order']} | " + " | ".join(f"{v:.4f}" for v in cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(rows: list[dict[str, Any]], out_dir: Path) -> dict[str, Path]:
    """Write ngram_stats.json, ngram_stats.md and ngram_stats.png into ``out_dir``, each atomically.

    Args:
        rows: Rows of ``corpus_statistics``.
        out_dir: The folder (created if missing).

    Returns:
        ``{"json": ..., "md": ..., "png": ...}`` paths.
    """
    out_dir = Path(out_dir)
    paths = {kind: out_dir / name for kind, name in FILES.items()}
    atomic_write_text(paths["json"], json.dumps(rows, indent=1, sort_keys=True) + "\n")
    atomic_write_text(paths["md"], render_markdown(rows))
    plot_statistics(rows, paths["png"])
    return paths


def read_texts(path: Path) -> list[str]:
    """The ``text`` fields of a ``.jsonl`` file, or of a folder's ``.jsonl`` shards in name order.

    Args:
        path: A ``.jsonl`` file or a folder of them.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise ZooError(f"no .jsonl shards in folder {path}; pass a .jsonl file or a folder of them")
    elif path.is_file():
        files = [path]
    else:
        raise ZooError(f"corpus not found: {path}; pass an existing .jsonl file or folder of .jsonl shards")
    texts = []
    for file in files:
        with file.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    raise ZooError(f"{file}:{number}: not a JSON line; each line must be an object with a "
                                   "\"text\" field") from None
                if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                    raise ZooError(f"{file}:{number}: no string \"text\" field; each line must be "
                                   "{\"text\": \"...\"}")
                texts.append(record["text"])
    return texts


def parse_corpora(specs: list[str]) -> dict[str, Path]:
    """``NAME=PATH`` arguments -> {name: path}, in the given order.

    Args:
        specs: The ``--corpus`` values.
    """
    corpora: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ZooError(f"malformed --corpus '{spec}'; write NAME=PATH (e.g. --corpus human=human.jsonl)")
        if name in corpora:
            raise ZooError(f"corpus name '{name}' given twice; give each --corpus a distinct NAME")
        corpora[name] = Path(path).expanduser()
    return corpora


def run(args: argparse.Namespace) -> dict[str, Path]:
    """Read, tokenize, compare and write the report; returns the written paths."""
    from datamodules.tokenizer import load_tokenizer

    paths = parse_corpora(args.corpus)
    _check_reference(args.reference, paths)
    # Read everything before the (slower) tokenizer so bad paths fail at once.
    texts = {name: read_texts(path) for name, path in paths.items()}
    tokenizer = load_tokenizer(args.tokenizer)
    corpora = {name: tokenize_corpus(documents, tokenizer) for name, documents in texts.items()}
    rows = corpus_statistics(corpora, reference=args.reference, orders=args.orders)
    written = write_report(rows, args.out)
    print(render_markdown(rows), end="")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code (2 on bad input, with one ``error:`` line)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ngram_stats", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", action="append", required=True, metavar="NAME=PATH",
                        help="a corpus: a .jsonl file or a folder of .jsonl shards (repeat for each corpus)")
    parser.add_argument("--reference", default="human", help="name of the reference corpus (default: human)")
    parser.add_argument("--tokenizer", default="tinyworld",
                        help="tinyworld, a tokenizer folder or tokenizer.json, or hf-hub:org/name")
    parser.add_argument("--orders", nargs="+", type=int, default=[1, 2], help="n-gram orders (default: 1 2)")
    parser.add_argument("--out", type=Path, required=True, help="folder for ngram_stats.{json,md,png}")
    args = parser.parse_args(argv)
    try:
        run(args)
    except ZooError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
