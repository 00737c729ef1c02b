"""Scoring continuations with a causal LM, options that share a context packed as a tree.

``benchmarks.adapter.ZooLM`` scores lm-eval's requests with it, and UPRISE's candidate scoring
(:mod:`datamodules.retrieval`) scores one-shot prompts with it: requests that share a context (the
options of a multiple-choice question) go in one row, the context once and each continuation as a
branch with its own position ids and a mask that hides the other branches; the output layer and
log-softmax run only on the scored positions.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class Row(NamedTuple):
    """One sequence of a scoring batch: its tokens, position ids and attention branches (None: plain
    causal), and the requests it answers as (request index, positions whose logits score, tokens)."""

    tokens: list[int]
    positions: list[int] | None
    branches: list[int] | None
    scored: list[tuple[int, list[int], list[int]]]


def plain_row(index: int, context: list[int], continuation: list[int], max_length: int) -> Row:
    """One request, left-truncated to the window exactly as HFLM does."""
    tokens = (context + continuation)[-(max_length + 1):][:-1]
    return Row(tokens, None, None, [(index, list(range(len(tokens) - len(continuation), len(tokens))), continuation)])


def shared_row(context: list[int], members: list[int], continuations: list[list[int]]) -> Row:
    """Requests sharing a context, packed as a tree: the context once, then each continuation (but its
    last token) as a branch that sees the context and itself only, at the positions it would have
    alone. The multiple-choice options of a question cost one context instead of one per option."""
    tokens, positions, branches = list(context), list(range(len(context))), [0] * len(context)
    scored = []
    for branch, (index, continuation) in enumerate(zip(members, continuations), start=1):
        start = len(tokens)
        tokens += continuation[:-1]
        positions += range(len(context), len(context) + len(continuation) - 1)
        branches += [branch] * (len(continuation) - 1)
        scored.append((index, [len(context) - 1, *range(start, start + len(continuation) - 1)], continuation))
    return Row(tokens, positions, branches, scored)


def tree_attention(rows: list[Row], width: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean ``(B, 1, T, T)`` mask and position ids of packed rows: a token sees earlier tokens of the
    shared context (branch 0) and of its own branch; padding sees only the first token."""
    branches = torch.full((len(rows), width), -1, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        branches[r, : len(row.tokens)] = torch.tensor(row.branches or [0] * len(row.tokens))
        positions[r, : len(row.tokens)] = torch.tensor(row.positions or range(len(row.tokens)))
    query, key = branches[:, :, None], branches[:, None, :]
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    mask = causal & (key >= 0) & ((key == 0) | (key == query))
    mask[:, :, 0] |= query[:, :, 0] < 0
    return mask[:, None].to(device), positions.to(device)


def score_rows(decoder, output_layer, rows: list[Row], masked: bool, device) -> list[tuple[int, tuple[float, bool]]]:
    """Log-probability sums and greedy flags of the requests packed in ``rows``, in one forward.

    Args:
        decoder: The LM without its output layer (``net.get_decoder()``): gives ``last_hidden_state``.
        output_layer: The LM's output layer (``net.get_output_embeddings()``).
        rows: Rows from :func:`plain_row` or (with ``masked``) :func:`shared_row`.
        masked: The rows are trees and need their attention mask and position ids.
        device: Where the LM is.

    Returns:
        ``(request index, (sum of the continuation's log-probabilities, whether it is the greedy one))``.
    """
    width = max(len(row.tokens) for row in rows)
    input_ids = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        input_ids[r, : len(row.tokens)] = torch.tensor(row.tokens)
    inputs = {"input_ids": input_ids.to(device), "use_cache": False}
    if masked:
        inputs["attention_mask"], inputs["position_ids"] = tree_attention(rows, width, device)
    hidden = decoder(**inputs).last_hidden_state.reshape(len(rows) * width, -1)
    # Project and normalise only the scored positions, all rows in one call: the output layer is a
    # fifth of a tiny model's FLOPs, and small calls cost more in dispatch than in arithmetic.
    scored = [(index, r * width + torch.tensor(positions), cont)
              for r, row in enumerate(rows) for index, positions, cont in row.scored]
    flat = torch.cat([positions for _, positions, _ in scored]).to(device)
    logprobs = F.log_softmax(output_layer(hidden.index_select(0, flat)).float(), dim=-1)
    out = []
    for (index, _, cont), block in zip(scored, logprobs.split([len(c) for _, _, c in scored])):
        target = torch.tensor(cont, device=device)
        out.append((index, (float(block.gather(1, target[:, None]).sum()), bool((block.argmax(-1) == target).all()))))
    return out
