"""``vqa``: a vision-LM answers questions about held-out images (AdaMLLM's evaluation).

Each question is answered by the model's greedy generation after its image (``DomainMLLM.answer``);
the answer after any rationale is scored as VQA-RAD is: closed (yes/no) questions by accuracy, open
ones by exact match and by recall of the gold answer's words (``datamodules.vision.vqa_scores``).
Sources: a tinyworld picture world's held-out pictures, VQA-RAD's test set, Food-101-mini's held-out
images ("which dish is shown"), or any folder of ``<class>/*.jpg`` images.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from benchmarks.evaluators import Score, evaluator
from zoo.errors import ZooError


@evaluator(version="1", kinds=("vision-lm",))
def vqa(module: Any, args: dict[str, Any], limit: int | None) -> list[Score]:
    """``acc``, ``closed_acc``, ``open_exact`` and ``open_recall`` of ``module`` on a source's visual questions.

    Task args:
        source: ``tinyworld:<food|biomed|general>``, ``zoo-data:vqa_rad``, ``zoo-data:food101_mini`` or a folder
            of ``<class>/*.jpg`` images.
        world: ``PictureWorldConfig`` fields of a tinyworld source.
        batch_size: Questions per generation batch.
        max_new_tokens: Tokens generated per answer.
    """
    from datamodules.vision import evaluation_set, image_transform, vqa_scores

    if not hasattr(module, "answer"):
        raise ZooError(f"{type(module).__name__} does not answer questions about images; the vqa evaluator scores "
                       "a DomainMLLM (zoo.modules.DomainMLLM)")
    size = module.image_size
    questions, images = evaluation_set(args["source"], args.get("world"), image_size=size)
    questions = questions[:limit] if limit else questions
    transform = image_transform(size)
    pixels = {key: transform(image) for key, image in images.items()}
    batch_size, answers = int(args.get("batch_size", 64)), []
    for start in range(0, len(questions), batch_size):
        batch = questions[start:start + batch_size]
        answers += module.answer(torch.stack([pixels[q.image] for q in batch]), [q.question for q in batch],
                                 int(args.get("max_new_tokens", 40)))
    scores = vqa_scores(questions, answers)
    counts = {"acc": len(questions), "closed_acc": sum(q.answer_type == "CLOSED" for q in questions)}
    counts["open_exact"] = counts["open_recall"] = len(questions) - counts["closed_acc"]
    return [Score(name, value, math.sqrt(value * (1 - value) / counts[name]) if name != "open_recall" else None)
            for name, value in scores.items()]
