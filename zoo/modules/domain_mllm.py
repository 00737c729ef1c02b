"""``DomainMLLM``: a vision-LM post-trained on a domain's image-caption pairs and visual tasks (AdaMLLM).

Cheng et al., "On Domain-Specific Post-Training for Multimodal Large Language Models": the model is a
LLaVA-style MLLM (``VisionLM``: timm encoder + MLP projector + causal LM, image features as prefix
tokens, loss on the responses). Post-training is single-stage (each image's caption turn and its
synthetic tasks in one conversation) or, as the baseline, two-stage (captions, then tasks); the data
layer (``datamodules.vision``) orders the conversations, so one module trains both.

It answers questions about images by KV-cached greedy decoding after the image's prefix tokens
(``answer``, ``predict_step``), and its test phase scores the held-out visual questions as the ``vqa``
evaluator does: closed (yes/no) questions by accuracy, open ones by exact match and by recall of the
gold answer's words (VQA-RAD's measures), each on the answer after any rationale.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from datamodules.tinyworld.pictures import VisualQuestion
from datamodules.vision import turn_prompt, vqa_scores
from zoo.errors import ZooError
from zoo.modules.vision_lm import VisionLM


@dataclass(frozen=True)
class VisionPretraining:
    """Supervised pretraining of a randomly initialised encoder on a picture world's visible attributes,
    before the MLLM trains (the stand-in for the pretrained vision towers that MLLMs start from).

    Args:
        world: ``PictureWorldConfig`` fields of the pictures (the general world by default).
        steps: Optimiser steps.
        learning_rate: AdamW learning rate.
        batch_size: Images per step.
        seed: Seed of the heads and batches.
    """

    world: dict = field(default_factory=lambda: {"domain": "general"})
    steps: int = 300
    learning_rate: float = 1e-3
    batch_size: int = 32
    seed: int = 0


class DomainMLLM(VisionLM):
    """A vision-LM that post-trains on conversations about a domain's images and answers questions on them.

    Args:
        vision: timm architecture of a randomly initialised encoder (``test_vit`` for the tiny models).
        vision_args: timm model arguments (``img_size``, ``patch_size``, ``depth``...).
        vision_from: Start the encoder from these timm weights instead (``hf-hub:timm/...`` or ``local-dir:``).
        lm_from: Start the LM (and the whole MLLM, for a zoo vision-LM) from these weights.
        lm_net: LM preset of a randomly initialised LM (with ``tokenizer``), when there is no ``lm_from``.
        tokenizer: Tokenizer spec of that LM.
        init_from: Start every part from this zoo vision-LM (a general MLLM).
        vision_pretraining: Pretrain the randomly initialised encoder first (see ``VisionPretraining``).
        freeze: Parts whose weights stay fixed (``vision``, ``projector``, ``lm``).
        learning_rate: Peak AdamW learning rate.
        weight_decay: AdamW weight decay on matrices.
        warmup_steps: Linear warm-up steps before the cosine decay.
        min_lr_ratio: Final learning rate as a share of the peak.
        betas: AdamW betas.
        max_new_tokens: Tokens generated per answer.
    """

    method = "AdaMLLM domain post-training (Cheng et al., 2024)"
    training_only_hparams = ("vision_from", "lm_from", "tokenizer", "init_from", "vision_pretraining")

    def __init__(self, vision: str = "test_vit", vision_args: dict[str, Any] | None = None,
                 vision_from: str | None = None, lm_from: str | None = None, lm_net: str = "llama-tiny",
                 tokenizer: str | None = None, init_from: str | None = None,
                 vision_pretraining: VisionPretraining | None = None, freeze: tuple[str, ...] = (),
                 learning_rate: float = 1e-3, weight_decay: float = 0.0, warmup_steps: int = 20,
                 min_lr_ratio: float = 0.1, betas: tuple[float, float] = (0.9, 0.95), max_new_tokens: int = 24):
        super().__init__(vision=vision, vision_args=vision_args, vision_from=None, lm_from=None, lm_net=lm_net,
                         tokenizer=None, freeze=freeze, learning_rate=learning_rate, weight_decay=weight_decay,
                         warmup_steps=warmup_steps, min_lr_ratio=min_lr_ratio, betas=betas,
                         max_new_tokens=max_new_tokens)
        self.save_hyperparameters()
        # Plain values in hparams: cards and checkpoints write them as JSON.
        self.hparams["vision_pretraining"] = dataclasses.asdict(vision_pretraining) if vision_pretraining else None
        if init_from:
            self.start_from(init_from)
        elif vision_from or lm_from or tokenizer:
            self.build(vision_from, lm_from, tokenizer)
            if vision_pretraining is not None and not vision_from:
                self.pretrain_vision(vision_pretraining)

    def pretrain_vision(self, settings: VisionPretraining) -> None:
        """Pretrain the encoder on the attributes of a picture world's training pictures (``settings``)."""
        from datamodules.vision import attribute_labels, picture_config
        from zoo.nets import pretrain_encoder

        world = dict(settings.world)
        config = picture_config(f"tinyworld:{world.pop('domain', 'general')}", world)
        size = self.image_size
        images, labels = attribute_labels(config, size)
        self.vision.train()
        self.pretraining_loss = pretrain_encoder(self.vision, images, labels, settings.steps, settings.learning_rate,
                                                 settings.batch_size, settings.seed)

    def start_from(self, reference: str) -> None:
        """Take every part (encoder, projector, LM) from a zoo vision-LM folder."""
        from zoo.resolve import verified_folder

        folder, card = verified_folder(reference)
        if card is None or card.get("kind") != "vision-lm":
            raise ZooError(f"init_from={reference!r} is not a zoo vision-LM folder; start from one that "
                           "`zoo build` made (e.g. visual-synth-tiny)")
        self.read_parts(folder)

    def setup(self, stage: str) -> None:
        """Refuse data drawn at another size than the encoder takes (timm would fail mid-step)."""
        data = self.trainer.datamodule if self._trainer is not None else None
        size = getattr(data, "image_size", None)
        if size is not None and size != self.image_size:
            raise ZooError(f"--data.init_args.image_size={size}, but the model's encoder takes {self.image_size} px "
                           f"images; set --data.init_args.image_size {self.image_size}")

    # ------------------------------------------------------------------ answering
    @torch.no_grad()
    def generate(self, pixel_values: torch.Tensor, prompts: Sequence[list[int]], max_new_tokens: int) -> list[list[int]]:
        """Greedy continuations of token prompts, each after its image's prefix tokens: one left-padded,
        KV-cached batch; each row's tokens up to (not including) eos."""
        tok = self.tokenizer
        prefix = self.projector(self.image_features(pixel_values))
        width = max(len(p) for p in prompts)
        embed = self.lm.get_input_embeddings()
        rows, masks = [], []
        for r, prompt in enumerate(prompts):
            pad = width - len(prompt)
            ids = torch.tensor([tok.pad_token_id] * pad + list(prompt), device=self.device)
            text = embed(ids)
            # Left padding goes before the image: every row's next token is at the same position.
            rows.append(torch.cat([text[:pad], prefix[r], text[pad:]]))
            masks.append(torch.cat([torch.zeros(pad, dtype=torch.long), torch.ones(prefix.size(1) + len(prompt),
                                                                                    dtype=torch.long)]))
        mask = torch.stack(masks).to(self.device)
        out = self.lm.generate(inputs_embeds=torch.stack(rows), attention_mask=mask, do_sample=False,
                               max_new_tokens=max_new_tokens, use_cache=True, pad_token_id=tok.pad_token_id,
                               eos_token_id=tok.eos_token_id)
        results = []
        for row in out.tolist():
            results.append(row[:row.index(tok.eos_token_id)] if tok.eos_token_id in row else row)
        return results

    def answer(self, pixel_values: torch.Tensor, questions: Sequence[str], max_new_tokens: int | None = None) -> list[str]:
        """The model's answer to each question about its image (one turn, greedy, up to the turn's end).

        Args:
            pixel_values: ``(B, 3, H, W)`` images, transformed for the encoder.
            questions: One question per image.
            max_new_tokens: Tokens to generate at most (default: ``max_new_tokens``).
        """
        tok = self.tokenizer
        prompts = [[tok.bos_token_id, *tok.encode(turn_prompt(q), add_special_tokens=False)] for q in questions]
        generated = self.generate(pixel_values, prompts, max_new_tokens or self.hparams.max_new_tokens)
        return [tok.decode(ids, skip_special_tokens=True).split("\n")[0].strip() for ids in generated]

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> list[dict]:
        """Answers to a batch of visual questions (``datamodules.vision.collate_questions``)."""
        answers = self.answer(batch["pixel_values"], [q["question"] for q in batch["questions"]])
        return [{"id": q["id"], "image": q["image"], "question": q["question"], "answer": a}
                for q, a in zip(batch["questions"], answers)]

    def on_test_epoch_start(self) -> None:
        self._test_answers: list[tuple[VisualQuestion, str]] = []

    def test_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        questions = [VisualQuestion(**q) for q in batch["questions"]]
        self._test_answers += zip(questions, self.answer(batch["pixel_values"], [q.question for q in questions]))

    def on_test_epoch_end(self) -> None:
        questions = [q for q, _ in self._test_answers]
        for name, value in vqa_scores(questions, [a for _, a in self._test_answers]).items():
            self.log(f"test/{name}", value)
