"""Multiple-choice items scored by the likelihood of each option (the lm-eval ``acc`` recipe)."""

from __future__ import annotations

from typing import Callable

import torch
from torch.utils.data import Dataset


class MultipleChoiceDataset(Dataset):
    """Items ``{prompt_key, "options", "answer_index"}`` tokenized as (context, continuation) pairs.

    Args:
        items: Dicts with the prompt under ``prompt_key``, ``options`` (continuations, with their
            leading space) and ``answer_index``.
        tokenizer: Fast tokenizer with a bos token.
        prompt_key: Field of the prompt text.
        max_length: Longest row kept; contexts are cut from the left beyond it.
    """

    def __init__(self, items: list[dict], tokenizer, prompt_key: str = "prompt", max_length: int = 256):
        contexts = tokenizer([item[prompt_key] for item in items], add_special_tokens=False)["input_ids"]
        options = [tokenizer(item["options"], add_special_tokens=False)["input_ids"] for item in items]
        self.rows = []
        for item, context, choices in zip(items, contexts, options):
            context = [tokenizer.bos_token_id, *context]
            cut = max(0, len(context) + max(len(c) for c in choices) - max_length)
            self.rows.append(([context[cut:] for _ in choices], choices, item["answer_index"]))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int):
        return self.rows[index]


def collate_choices(pad_token_id: int) -> Callable:
    """Collate items into one row per (item, option), right-padded.

    The batch holds ``input_ids`` and ``attention_mask`` of shape ``(items * options, T)``,
    ``continuation_mask`` marking the option's tokens, ``n_choices`` and the ``gold`` indices.
    """

    def collate(items: list) -> dict[str, torch.Tensor]:
        n_choices = {len(options) for _, options, _ in items}
        if len(n_choices) != 1:
            raise ValueError("items in one batch must have the same number of options")
        rows = [(ctx, cont) for contexts, options, _ in items for ctx, cont in zip(contexts, options)]
        width = max(len(ctx) + len(cont) for ctx, cont in rows)
        input_ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        continuation_mask = torch.zeros((len(rows), width), dtype=torch.bool)
        for r, (ctx, cont) in enumerate(rows):
            n = len(ctx) + len(cont)
            input_ids[r, :n] = torch.tensor(ctx + cont)
            attention_mask[r, :n] = 1
            continuation_mask[r, len(ctx):n] = True
        return {"input_ids": input_ids, "attention_mask": attention_mask, "continuation_mask": continuation_mask,
                "n_choices": torch.tensor(n_choices.pop()), "gold": torch.tensor([g for _, _, g in items])}

    return collate
