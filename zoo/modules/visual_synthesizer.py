"""AdaMLLM's visual instruction synthesizer, its consistency judge, and the tasks they write for post-training.

``VisualInstructionSynthesizer`` is the MLLM architecture (``DomainMLLM``) fine-tuned on seed
conversations (``ImageTextDataModule(schedule="synthesizer")``): the caption turn, then questions each
asked with the precise hint and with the informative hint, the loss on every token after the caption
round (upstream ``preprocess_llama3``, ``syn_mode='precise+informative'``). Given a domain image and
its caption it continues with such turns (greedy, as upstream's vLLM run at temperature 0), and the
first question asked under both hints is the image's triplet (``parse_triplet``).

``ConsistencyJudge`` is a text-only causal LM asked, few-shot, whether the precise answer follows from
the informative one (greedy, two tokens; only "yes" keeps the task). Upstream's judge is
Llama-3-8B with six shots; the zoo's tiny judge (``visual-judge-tiny``) is a tiny LM fine-tuned on the
judging prompt itself, so it can be prompted with fewer shots.

``SynthesizedTasks`` runs both over a picture world and hands the kept tasks, as rationale-then-answer
turns, to the data layer; its shards are cached under ``ZOO_HOME`` by the two models' identities and the
pictures, and resume (``zoo synth visual`` writes the same shards to a folder of one's choice).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from datamodules.synthesis import read_shards, shard_path, write_shard
from datamodules.tinyworld.pictures import Picture, draw
from datamodules.transforms.visual_instruction_synthesis import (
    TaskSource, Triplet, Turn, judge_label, judge_prompt, parse_triplet, rationale_answer, synthesis_prompt,
)
from datamodules.vision import image_transform, picture_digest
from zoo.errors import ZooError
from zoo.hashing import fingerprint
from zoo.modules.domain_mllm import DomainMLLM, VisionPretraining
from zoo.paths import atomic_write_text, cache_dir
from zoo.resolve import load_pretrained, model_identity, verified_folder


class VisualInstructionSynthesizer(DomainMLLM):
    """An MLLM fine-tuned to write, from an image and its caption, questions each answered precisely and
    informatively (AdaMLLM's visual instruction synthesizer).

    Args:
        vision: timm architecture of a randomly initialised encoder.
        vision_args: timm model arguments (``img_size``, ``patch_size``...).
        vision_from: Start the encoder from these timm weights instead.
        lm_from: Start the LM from these weights (zoo name, ``local-dir:``, ``hf-hub:``).
        lm_net: LM preset of a randomly initialised LM (with ``tokenizer``).
        tokenizer: Tokenizer spec of that LM.
        init_from: Start every part from this zoo vision-LM (a general MLLM, as upstream starts from one).
        vision_pretraining: Pretrain a randomly initialised encoder first (``DomainMLLM``).
        freeze: Parts whose weights stay fixed (upstream trains all three).
        learning_rate: Peak AdamW learning rate.
        weight_decay: AdamW weight decay on matrices.
        warmup_steps: Linear warm-up steps before the cosine decay.
        min_lr_ratio: Final learning rate as a share of the peak.
        betas: AdamW betas.
        max_new_tokens: Longest synthesized continuation (upstream: 512).
    """

    method = "AdaMLLM visual instruction synthesizer (Cheng et al., 2024)"

    def __init__(self, vision: str = "test_vit", vision_args: dict | None = None, vision_from: str | None = None,
                 lm_from: str | None = None, lm_net: str = "llama-tiny", tokenizer: str | None = None,
                 init_from: str | None = None, vision_pretraining: VisionPretraining | None = None,
                 freeze: tuple[str, ...] = (), learning_rate: float = 1e-3,
                 weight_decay: float = 0.0, warmup_steps: int = 20, min_lr_ratio: float = 0.1,
                 betas: tuple[float, float] = (0.9, 0.95), max_new_tokens: int = 160):
        super().__init__(vision=vision, vision_args=vision_args, vision_from=vision_from, lm_from=lm_from,
                         lm_net=lm_net, tokenizer=tokenizer, init_from=init_from,
                         vision_pretraining=vision_pretraining, freeze=freeze,
                         learning_rate=learning_rate, weight_decay=weight_decay, warmup_steps=warmup_steps,
                         min_lr_ratio=min_lr_ratio, betas=betas, max_new_tokens=max_new_tokens)

    def synthesize(self, pixel_values: torch.Tensor, captions: Sequence[str]) -> list[tuple[str, Triplet | None]]:
        """Each image's continuation after its caption turn, and the triplet parsed from it (None if none)."""
        tok = self.tokenizer
        prompts = [[tok.bos_token_id, *tok.encode(synthesis_prompt(c), add_special_tokens=False)] for c in captions]
        completions = [tok.decode(ids, skip_special_tokens=True)
                       for ids in self.generate(pixel_values, prompts, self.hparams.max_new_tokens)]
        return [(completion, parse_triplet(completion)) for completion in completions]


class ConsistencyJudge:
    """A text-only causal LM that says whether a precise answer follows from the informative one.

    Args:
        model: The judge: a zoo name (``visual-judge-tiny``), ``local-dir:`` or ``hf-hub:`` (upstream
            Meta-Llama-3-8B).
        shots: Labelled examples in the prompt (upstream: 6).
        batch_size: Prompts per forward.
        max_new_tokens: Tokens generated per verdict (upstream: 2 of Llama-3, where "Yes" is one token; the
            tiny tokenizer spells it in up to 3).
    """

    def __init__(self, model: str = "visual-judge-tiny", shots: int = 0, batch_size: int = 32, max_new_tokens: int = 4):
        if not 0 <= shots <= 6:
            raise ZooError(f"judge shots={shots}: between 0 and 6 (the prompt has six labelled examples)")
        self.model, self.shots, self.batch_size, self.max_new_tokens = model, shots, batch_size, max_new_tokens
        self._loaded = None

    def identity(self) -> str:
        return f"{model_identity(self.model) or self.model}:{self.shots}"

    @torch.no_grad()
    def labels(self, triplets: Sequence[Triplet]) -> list[str]:
        """``yes``, ``no`` or ``open`` for each triplet (greedy, its first word, as upstream)."""
        if self._loaded is None:
            lm, tokenizer = load_pretrained(self.model)
            self._loaded = lm.eval(), tokenizer
        lm, tok = self._loaded
        verdicts = []
        for start in range(0, len(triplets), self.batch_size):
            rows = [[tok.bos_token_id, *tok.encode(judge_prompt(t, self.shots), add_special_tokens=False)]
                    for t in triplets[start:start + self.batch_size]]
            width = max(len(row) for row in rows)
            ids = torch.tensor([[tok.pad_token_id] * (width - len(row)) + row for row in rows])
            mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows])
            out = lm.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=self.max_new_tokens,
                              pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
            verdicts += [judge_label(text) for text in tok.batch_decode(out[:, width:], skip_special_tokens=True)]
        return verdicts


class SynthesizedTasks(TaskSource):
    """Tasks a trained visual instruction synthesizer writes for pictures, kept by the consistency judge:
    the post-training data of AdaMLLM (a ``datamodules.vision`` task source).

    Args:
        synthesizer: The synthesizer: a zoo name (``visual-synth-tiny``) or ``local-dir:`` folder.
        judge: The consistency judge (a text-only causal LM).
        judge_shots: Labelled examples in the judge's prompt.
        batch_size: Images per synthesis forward.
        out: Write the shards here instead of the cache under ``ZOO_HOME``.
    """

    def __init__(self, synthesizer: str = "visual-synth-tiny", judge: str = "visual-judge-tiny", judge_shots: int = 0,
                 batch_size: int = 32, out: str | None = None):
        self.synthesizer, self.batch_size, self.out = synthesizer, batch_size, out
        self.judge = ConsistencyJudge(judge, judge_shots)
        self.report: dict = {}

    def identity(self) -> str:
        return f"synthesized:{model_identity(self.synthesizer) or self.synthesizer}:{self.judge.identity()}"

    def rows(self, pictures: Sequence[Picture], size: int, shard_size: int = 128) -> list[dict]:
        """One row per picture (its continuation, triplet, verdict), from numbered shards that resume."""
        out = Path(self.out) if self.out else cache_dir("visual-tasks") / fingerprint(
            self.identity(), picture_digest(pictures, size))
        pending = [k for k in range(-(-len(pictures) // shard_size)) if not shard_path(out, k).exists()]
        if pending:
            module = self.module()
            transform = image_transform(size)
            for shard in tqdm(pending, desc="visual synthesis", unit="shard"):
                part = pictures[shard * shard_size:(shard + 1) * shard_size]
                rows = []
                for start in range(0, len(part), self.batch_size):
                    batch = part[start:start + self.batch_size]
                    pixels = torch.stack([transform(draw(p, size)) for p in batch])
                    rows += self.judged(batch, module.synthesize(pixels, [p.caption for p in batch]),
                                        shard * shard_size + start)
                write_shard(shard_path(out, shard), rows)
        rows = read_shards(out)
        kept = sum(row["verdict"] == "yes" for row in rows)
        parsed = sum(row["triplet"] is not None for row in rows)
        self.report = {"pictures": len(rows), "with_triplet": parsed, "kept": kept}
        atomic_write_text(out / "report.json", json.dumps(self.report, indent=1) + "\n")
        return rows

    def judged(self, pictures: Sequence[Picture], written: list[tuple[str, Triplet | None]], first: int) -> list[dict]:
        """Rows of a batch: each picture's continuation and triplet, and the judge's verdict on it."""
        triplets = [t for _, t in written if t is not None]
        verdicts = iter(self.judge.labels(triplets)) if triplets else iter(())
        return [{"index": first + i, "id": p.id, "completion": completion,
                 "triplet": triplet.__dict__ if triplet else None,
                 "verdict": next(verdicts) if triplet else None}
                for i, (p, (completion, triplet)) in enumerate(zip(pictures, written))]

    def tasks(self, pictures: Sequence[Picture], size: int) -> dict[str, list[Turn]]:
        """Per picture, its kept task as a rationale-then-answer turn (none when dropped)."""
        written = {}
        for row in self.rows(pictures, size):
            if row["verdict"] == "yes":
                t = Triplet(**row["triplet"])
                written[row["id"]] = [Turn(t.question, rationale_answer(row["id"], t.informative, t.precise))]
        return written

    def module(self) -> VisualInstructionSynthesizer:
        folder, card = verified_folder(self.synthesizer)
        expected = f"{VisualInstructionSynthesizer.__module__}.{VisualInstructionSynthesizer.__qualname__}"
        if card is None or card.get("class_path") != expected:
            raise ZooError(f"{self.synthesizer} is not a visual instruction synthesizer; pass one trained with "
                           "zoo.modules.VisualInstructionSynthesizer (e.g. visual-synth-tiny)")
        return VisualInstructionSynthesizer.from_folder(folder, card)
