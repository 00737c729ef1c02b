"""A bag-of-tokens reference for the OOD studies: how far token frequencies alone separate the sets.

    python -m benchmarks.studies.ood_unigram [--suite ood-sst2] [--limit 400]

Each sentence scores its mean token surprisal, ``-log p(token)`` under the in-distribution training set's token
counts (add-one smoothed over the tokenizer's vocabulary), with the suite's own sets and the tokenizer of the models
it compares (MiniLM's). A detector that reads only which tokens occur, not their order or context: an OOD score
that does no better has learned the in-distribution vocabulary and nothing more. The diffusion studies' diagnoses
compare against it.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from typing import Callable

import torch

from benchmarks.suites import load_suite

#: The tokenizer of the models the OOD suites compare.
TOKENIZER = "minilm-l6-v2"


def unigram_surprisal(train_texts: list[str], tokenize: Callable[[str], list[int]], vocab_size: int
                      ) -> Callable[[list[str]], torch.Tensor]:
    """``score(texts)``: each text's mean token surprisal in nats under ``train_texts``' add-one smoothed token
    counts (a text without tokens scores the surprisal of an unseen token)."""
    counts = Counter(token for text in train_texts for token in tokenize(text))
    log_total = math.log(sum(counts.values()) + vocab_size)
    surprisal = lambda token: log_total - math.log(counts[token] + 1)  # noqa: E731

    def score(texts: list[str]) -> torch.Tensor:
        values = []
        for text in texts:
            tokens = tokenize(text)
            values.append(sum(map(surprisal, tokens)) / len(tokens) if tokens else log_total)
        return torch.tensor(values, dtype=torch.float64)

    return score


def reference(suite: str = "ood-sst2", limit: int | None = 400, max_length: int = 62) -> dict[str, dict[str, float]]:
    """AUROC and FPR95 of the unigram detector per OOD set of ``suite``'s ``ood`` task (first ``limit`` sentences
    of each set, as ``zoo eval --limit``; the whole training set for the counts)."""
    from transformers import AutoTokenizer

    from datamodules.classification import as_text_set
    from zoo.modules.ood import ood_metrics
    from zoo.resolve import resolve

    args = next(task.args for task in load_suite(suite).tasks if task.task == "ood")
    tokenizer = AutoTokenizer.from_pretrained(str(resolve(TOKENIZER)))
    tokenize = lambda text: tokenizer(text, add_special_tokens=False, truncation=True,  # noqa: E731
                                      max_length=max_length).input_ids
    score = unigram_surprisal(as_text_set(args["train"]).read()[0], tokenize, tokenizer.vocab_size)
    read = lambda spec: as_text_set(spec).read()[0][:limit]  # noqa: E731  (a None limit keeps every sentence)
    in_scores = score(read(args["in_distribution"]))
    return {spec["name"]: ood_metrics(in_scores, score(read(spec))) for spec in args["ood"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="ood-sst2")
    parser.add_argument("--limit", type=int, default=400, help="sentences per set (0: all)")
    args = parser.parse_args()
    print(f"unigram reference on {args.suite} (mean token surprisal under the training set's counts):")
    for name, metrics in reference(args.suite, args.limit or None).items():
        print(f"  {name:10s} AUROC {metrics['auroc']:.4f}  FPR95 {metrics['fpr95']:.4f}")


if __name__ == "__main__":
    main()
