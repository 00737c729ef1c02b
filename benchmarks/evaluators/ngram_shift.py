"""``ngram_shift``: how far a model's own text drifts from human text (ToEdit's distribution study).

Samples documents from the model (bare bos prompt, temperature 1, KV-cached, seeded; the same
sampler as ``zoo synth sample``) and compares their n-gram distributions with the human corpus
the suite names: JS divergence (lower: closer to human), coverage of the human n-gram types
(higher: less of the tail lost) and the mass of the most frequent 1 % of types (lower: less
over-concentrated). A collapsing model shows rising JS and concentration, falling coverage.
"""

from __future__ import annotations

from typing import Any

from benchmarks.evaluators import Score, evaluator


@evaluator(version="1", kinds=("causal-lm",))
def ngram_shift(module: Any, args: dict[str, Any], limit: int | None) -> list[Score]:
    """N-gram statistics of a model's samples against a human corpus.

    Task args:
        reference: Human documents (any ``load_documents`` source, e.g. ``tinyworld:general``).
        world: ``WorldConfig`` fields of a ``tinyworld:`` reference.
        n_samples: Documents to sample (``limit`` lowers it).
        max_new_tokens: Longest sampled document.
        orders: N-gram orders to report.
        seed: Seed of the samples.
    """
    from benchmarks.ngram_stats import compare, ngram_counts, tokenize_corpus
    from datamodules.base import load_documents
    from datamodules.sampling import sample_documents

    documents, _ = load_documents(args["reference"], world=args.get("world"))
    tokenizer = module.tokenizer
    n = min(args.get("n_samples", 64), limit or args.get("n_samples", 64))
    batch = 16
    samples = [text for start in range(0, n, batch) for text in sample_documents(
        module.net, tokenizer, list(range(start, min(n, start + batch))), args.get("seed", 0),
        args.get("max_new_tokens", 256))]
    human = tokenize_corpus(list(documents["text"]), tokenizer)
    generated = tokenize_corpus(samples, tokenizer)
    scores = []
    for order in args.get("orders", [1, 2]):
        stats = compare(ngram_counts(human, order), ngram_counts(generated, order))
        scores += [Score(f"js_{order}", stats["js"], higher_is_better=False),
                   Score(f"coverage_{order}", stats["coverage"]),
                   Score(f"top_mass_{order}", stats["top_mass"], higher_is_better=False)]
    return scores

