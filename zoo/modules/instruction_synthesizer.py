"""``InstructionSynthesizer``: a causal LM that writes question/answer pairs about a raw text.

Instruction Pre-Training (Cheng et al., EMNLP 2024) fine-tunes a causal LM on context-based task
data: input ``" <CON> {text} </CON>\\n\\n"``, output ``"<QUE> q <ANS> a </END>"`` pairs, with the loss
on the output only (``datamodules.instruction``). It then synthesizes pairs for every raw text of a
pre-training corpus by batched, KV-cached greedy decoding; generations are parsed and their
duplicate questions dropped (``datamodules.transforms.instruction_format``). In multi-round
synthesis a text is prompted after the earlier rounds' texts with their pairs (its chain) when they fit
the window, as the same sequence the synthesizer was fine-tuned on: several examples concatenated.
The pre-training that uses the pairs is ``InstructionPretrainedLM``; its data gets pairs for texts
that have none from ``PretrainedSynthesizer``, which a recipe hands to the ``InstructionAugmentation``
transform (the data layer never loads a model by name).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import torch

from datamodules.instruction import few_shot_prompt
from datamodules.transforms.instruction_format import Demo, QAPair, Synthesized, next_history, parse_pairs
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
        window: Tokens of prompt plus completion (upstream: 4096), and of a fine-tuning sequence of
            concatenated examples: room for the multi-round history. Longer than the base model's
            positions, fitting raises the net's ``max_position_embeddings`` to it (rotary positions
            are computed, so only the config records it); a net loaded without fitting caps it at its
            own. None: the net's ``max_position_embeddings`` (a trained synthesizer's window).
    """

    def __init__(self, init_from: str | None = "base-lm-tiny", learning_rate: float = 1e-3, weight_decay: float = 0.1,
                 warmup_steps: int = 20, min_lr_ratio: float = 0.1, betas: tuple[float, float] = (0.9, 0.95),
                 max_new_tokens: int = 160, window: int | None = None, net: str = "llama-tiny"):
        super().__init__(net=net, init_from=init_from, learning_rate=learning_rate, weight_decay=weight_decay,
                         warmup_steps=warmup_steps, min_lr_ratio=min_lr_ratio, betas=betas,
                         max_new_tokens=max_new_tokens)

    # ------------------------------------------------------------------ fine-tuning
    def configure_model(self) -> None:
        """The net, its ``max_position_embeddings`` raised to ``window`` (see the class arguments)."""
        super().configure_model()
        config = self.net.config
        config.max_position_embeddings = max(config.max_position_embeddings, self.hparams.window or 0)

    def pair_loss(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Cross-entropy on the pairs' tokens only (the prompt and padding are ignored)."""
        # Right padding: causal attention never reaches it, so no mask is needed.
        return self.lm_loss(batch["input_ids"], self.batch_targets(batch))

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.target_loss(batch["input_ids"], self.batch_targets(batch))  # pair_loss's, the head at the pairs
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
        """Tokens of prompt plus completion: ``window``, at most the net's positions."""
        positions = self.net.config.max_position_embeddings
        return min(self.hparams.window or positions, positions)

    def prompts(self, texts: Sequence[str], histories: Sequence[Sequence[Demo]] | None = None
                ) -> list[tuple[list[int], list[Demo]]]:
        """Each text's prompt ids and the history it used: after its earlier texts and pairs when they
        fit the window with the tokens to generate (``datamodules.instruction.few_shot_prompt``).

        Args:
            texts: The texts.
            histories: Per text, earlier texts with their pairs, oldest first; None: none.
        """
        budget = self.window - self.hparams.max_new_tokens
        return [few_shot_prompt(self.tokenizer, text, history, budget)
                for text, history in zip(texts, histories or [[]] * len(texts))]

    @torch.no_grad()
    def complete(self, texts: Sequence[str], histories: Sequence[Sequence[Demo]] | None = None) -> torch.Tensor:
        """Greedy completions of the texts' prompts in one left-padded, KV-cached batch: ``(B, new tokens)``
        (rows that stop early are padded).

        Args:
            texts: The texts.
            histories: Per text, earlier texts with their pairs (see :meth:`prompts`); None: none.
        """
        tok = self.tokenizer
        rows = [ids for ids, _ in self.prompts(texts, histories)]
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

    def synthesize(self, texts: Sequence[str], histories: Sequence[Sequence[Demo]] | None = None
                   ) -> list[Synthesized]:
        """Question/answer pairs for each text (batched greedy completions, parsed, duplicates dropped),
        each with the history its prompt used.

        Args:
            texts: The texts.
            histories: Per text, the earlier texts with their pairs to prompt it after (multi-round
                synthesis); None: plain prompts.
        """
        # The prompts are built twice (here for the histories, in complete for the ids): tokenizing is
        # cheap next to generating, and complete keeps its (texts, histories) interface.
        used = [history for _, history in self.prompts(texts, histories)]
        completions = self.tokenizer.batch_decode(self.complete(texts, histories), skip_special_tokens=True)
        return [Synthesized(parse_pairs(completion), history) for completion, history in zip(completions, used)]

    def predict_step(self, batch: list[dict], batch_idx: int, dataloader_idx: int = 0) -> list[dict]:
        """Pairs for a batch of ``SynthesisDataModule`` items, each prompted after its ``previous`` item's
        history (later rounds); each row carries the ``history`` the next round's item at its index
        is prompted after."""
        histories = [_history(item.get("previous")) for item in batch]
        synthesized = self.synthesize([item["text"] for item in batch], histories)
        return [{"id": item["id"], "index": item["index"], "shard": item["shard"], "title": item["title"],
                 "text": item["text"], "pairs": [asdict(p) for p in written.pairs],
                 "history": [{"text": text, "pairs": [asdict(p) for p in pairs]}
                             for text, pairs in next_history(item["text"], written)]}
                for item, written in zip(batch, synthesized)]

    method = "Instruction synthesizer (Cheng et al., EMNLP 2024)"


def _history(previous: dict | None) -> list[Demo]:
    """What a ``SynthesisDataModule`` item is prompted after: its ``previous`` row's ``history`` (the
    chain that row continued), or, when the item carries only the row's text and pairs (a data module
    or shards that pass no history), that row alone if it has pairs: a chain of two rounds at most."""
    if not previous:
        return []
    rows = previous["history"] if "history" in previous else [previous] if previous["pairs"] else []
    return [(row["text"], [QAPair(**pair) for pair in row["pairs"]]) for row in rows]


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

    def synthesize(self, texts: list[str], histories: list[list[Demo]] | None = None) -> list[Synthesized]:
        """The pairs of each text, in order, ``batch_size`` texts per forward, each prompted after its
        history when that fits (``InstructionSynthesizer.synthesize``).

        Args:
            texts: The texts.
            histories: Per text, earlier texts with their pairs (multi-round synthesis); None: none.
        """
        module, histories = self.module(), histories or [[]] * len(texts)
        return [written for start in range(0, len(texts), self.batch_size)
                for written in module.synthesize(texts[start:start + self.batch_size],
                                                 histories[start:start + self.batch_size])]

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
