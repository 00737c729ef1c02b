"""``InstructionSynthesizer``: a causal LM that writes question/answer pairs about a raw text.

Instruction Pre-Training (Cheng et al., EMNLP 2024) fine-tunes a causal LM on context-based task
data: input ``" <CON> {text} </CON>\\n\\n"``, output ``"<QUE> q <ANS> a </END>"`` pairs, with the loss
on the output only (``datamodules.instruction``). It then synthesizes pairs for every raw text of a
pre-training corpus by batched, KV-cached greedy decoding; generations are parsed and their
duplicate questions dropped (``datamodules.transforms.instruction_format``). In multi-round
synthesis a text is prompted after the previous round's text and pairs when both fit the window.
The pre-training that uses the pairs is ``InstructionPretrainedLM``; its data gets pairs for texts
that have none from ``PretrainedSynthesizer``, which a recipe hands to the ``InstructionAugmentation``
transform (the data layer never loads a model by name).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from datamodules.instruction import IGNORE_INDEX, context_ids
from datamodules.transforms.instruction_format import QAPair, multi_round_prompts, parse_pairs
from zoo.errors import ZooError
from zoo.modules.causal_lm import CausalLM
from zoo.resolve import model_identity, verified_folder


class InstructionSynthesizer(CausalLM):
    """Fine-tunes a base LM into an instruction synthesizer and synthesizes pairs in ``predict``.

    Args:
        init_from: The base model to fine-tune (zoo name, ``local-dir:`` or ``hf-hub:``).
        learning_rate: Peak AdamW learning rate.
        weight_decay: AdamW weight decay on matrices.
        warmup_steps: Linear warm-up steps before the cosine decay.
        min_lr_ratio: Final learning rate as a share of the peak.
        betas: AdamW betas.
        max_new_tokens: Longest synthesized completion (upstream: 400).
        window: Tokens of prompt plus completion (upstream: 4096; capped at the net's positions).
    """

    def __init__(self, init_from: str | None = "base-lm-tiny", learning_rate: float = 1e-3, weight_decay: float = 0.1,
                 warmup_steps: int = 20, min_lr_ratio: float = 0.1, betas: tuple[float, float] = (0.9, 0.95),
                 max_new_tokens: int = 160, window: int = 512, net: str = "llama-tiny"):
        super().__init__(net=net, init_from=init_from, learning_rate=learning_rate, weight_decay=weight_decay,
                         warmup_steps=warmup_steps, min_lr_ratio=min_lr_ratio, betas=betas,
                         max_new_tokens=max_new_tokens)

    # ------------------------------------------------------------------ fine-tuning
    def pair_loss(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Cross-entropy on the pairs' tokens only (the prompt and padding are ignored)."""
        targets = F.pad(batch["labels"][:, 1:], (0, 1), value=IGNORE_INDEX)
        # Right padding: causal attention never reaches it, so no mask is needed.
        return self.lm_loss(batch["input_ids"], targets)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, _, _ = self.pair_loss(batch)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        loss, logits, targets = self.pair_loss(batch)
        self.val_ppl(logits, targets)
        self.log("val/loss", loss, prog_bar=True, sync_dist=True)
        self.log("val/ppl", self.val_ppl, prog_bar=True)

    def test_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        loss, logits, targets = self.pair_loss(batch)
        self.test_ppl(logits, targets)
        self.log("test/loss", loss, sync_dist=True)
        self.log("test/ppl", self.test_ppl)

    # ------------------------------------------------------------------ synthesis
    @property
    def window(self) -> int:
        return min(self.hparams.window, self.net.config.max_position_embeddings)

    def prompt_ids(self, texts: Sequence[str], previous: Sequence[tuple[str, list[QAPair]] | None] | None = None
                   ) -> list[list[int]]:
        """Token ids of each text's prompt: with the previous round's demonstration when it fits."""
        tok, budget = self.tokenizer, self.window - self.hparams.max_new_tokens - 1
        count = lambda prompt: len(tok(prompt, add_special_tokens=False)["input_ids"])  # noqa: E731
        prompts = multi_round_prompts(list(texts), list(previous or [None] * len(texts)), count, budget, 0)
        ids = []
        for text, prompt, demo in zip(texts, prompts, previous or [None] * len(texts)):
            encoded = tok(prompt, add_special_tokens=False)["input_ids"]
            # A plain prompt whose context is too long is cut, keeping its closing marker.
            ids.append([tok.bos_token_id, *(encoded if len(encoded) <= budget else context_ids(tok, text, budget))])
        return ids

    @torch.no_grad()
    def complete(self, texts: Sequence[str], previous: Sequence[tuple[str, list[QAPair]] | None] | None = None
                 ) -> torch.Tensor:
        """Greedy completions of the texts' prompts in one left-padded, KV-cached batch: ``(B, new tokens)``
        (rows that stop early are padded)."""
        tok = self.tokenizer
        rows = self.prompt_ids(texts, previous)
        width = max(len(row) for row in rows)
        # Left padding: every row's next token is at the same position.
        input_ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long, device=self.device)
        attention_mask = torch.zeros_like(input_ids)
        for r, row in enumerate(rows):
            input_ids[r, width - len(row):] = torch.tensor(row, device=self.device)
            attention_mask[r, width - len(row):] = 1
        generated = self.net.generate(input_ids=input_ids, attention_mask=attention_mask, do_sample=False,
                                      max_new_tokens=self.hparams.max_new_tokens, use_cache=True,
                                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        return generated[:, width:]

    def synthesize(self, texts: Sequence[str], previous: Sequence[tuple[str, list[QAPair]] | None] | None = None
                   ) -> list[list[QAPair]]:
        """Question/answer pairs for each text: batched greedy completions, parsed, duplicates dropped."""
        completions = self.tokenizer.batch_decode(self.complete(texts, previous), skip_special_tokens=True)
        return [parse_pairs(completion) for completion in completions]

    def predict_step(self, batch: list[dict], batch_idx: int, dataloader_idx: int = 0) -> list[dict]:
        """Pairs for a batch of ``SynthesisDataModule`` items (with ``previous`` in later rounds)."""
        previous = [(item["previous"]["text"], [QAPair(**p) for p in item["previous"]["pairs"]])
                    if item.get("previous") else None for item in batch]
        synthesized = self.synthesize([item["text"] for item in batch], previous)
        return [{"id": item["id"], "index": item["index"], "shard": item["shard"], "title": item["title"],
                 "text": item["text"], "pairs": [{"question": p.question, "answer": p.answer} for p in pairs]}
                for item, pairs in zip(batch, synthesized)]

    method = "Instruction synthesizer (Cheng et al., EMNLP 2024)"


class PretrainedSynthesizer:
    """An exported instruction synthesizer as the pair writer of ``InstructionAugmentation``.

    A recipe passes it as the transform's ``synthesizer`` (``class_path:
    zoo.modules.instruction_synthesizer.PretrainedSynthesizer``, ``init_args: {model: NAME}``). The
    weights are read on first use, so building, hashing and fingerprinting the data loads nothing.

    Args:
        model: The synthesizer: a zoo name (``instruct-synth-tiny``), ``local-dir:PATH`` or
            ``hf-hub:org/name`` (a plain folder synthesizes with ``InstructionSynthesizer``'s defaults).
        batch_size: Texts per synthesis forward (not part of the identity: a greedy row does not
            depend on its batch).
    """

    def __init__(self, model: str, batch_size: int = 16):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ZooError(f"batch_size={batch_size!r} must be an integer >= 1 (texts per synthesis forward)")
        self.model, self.batch_size = model, batch_size
        self._module: InstructionSynthesizer | None = None

    def identity(self) -> str:
        """What names the pairs it writes: the synthesizer's files (``zoo.resolve.model_identity``),
        else its reference while it does not resolve yet."""
        return model_identity(self.model) or self.model

    def synthesize(self, texts: list[str]) -> list[list[QAPair]]:
        """The pairs of each text, in order, ``batch_size`` texts per forward."""
        module = self.module()
        return [pairs for start in range(0, len(texts), self.batch_size)
                for pairs in module.synthesize(texts[start:start + self.batch_size])]

    def module(self) -> InstructionSynthesizer:
        """The synthesizer, read and verified on first use."""
        if self._module is None:
            folder, card = verified_folder(self.model)
            expected = f"{InstructionSynthesizer.__module__}.{InstructionSynthesizer.__qualname__}"
            if card is not None and card.get("class_path") != expected:
                raise ZooError(f"{self.model} is a {card.get('class_path')}, not an instruction synthesizer; "
                               "pass one trained with zoo.modules.InstructionSynthesizer (e.g. instruct-synth-tiny)")
            self._module = InstructionSynthesizer.from_folder(folder, card)
        return self._module

    def __getstate__(self) -> dict:
        # datasets pickles the transform holding this one to hash a map: loaded weights are no part of that.
        return {**self.__dict__, "_module": None}
