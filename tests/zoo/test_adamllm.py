"""AdaMLLM's models: the projector's shapes, batched answers equal to one-by-one, vision pretraining, export ->
load -> same answers, the synthesizer's tasks and their consistency filter, the vqa evaluator, `zoo ask`."""

from __future__ import annotations

import json

import pytest
import torch

import zoo
from datamodules.tinyworld.pictures import PictureWorldConfig, draw, picture_world
from datamodules.transforms.visual_instruction_synthesis import Triplet
from datamodules.vision import attribute_labels, evaluation_set, image_transform, vqa_scores
from zoo.modules import DomainMLLM, VisualInstructionSynthesizer
from zoo.modules.visual_synthesizer import SynthesizedTasks
from zoo.nets import Projector, build_vision_encoder, image_tokens, pretrain_encoder

FOOD = {"n_entities": 4, "train_pictures": 3, "test_pictures": 1}


def pixels(domain: str = "food", count: int = 3) -> torch.Tensor:
    pictures = picture_world(PictureWorldConfig(domain=domain, **FOOD))[:count]
    return torch.stack([image_transform(48)(draw(p)) for p in pictures])


def test_the_projector_maps_every_image_token_into_the_lm_width():
    encoder = build_vision_encoder("test_vit", img_size=48, patch_size=12)
    tokens = image_tokens(encoder, torch.zeros(2, 3, 48, 48))
    assert tokens.shape == (2, 17, 64)  # 16 patches and the class token
    projector = Projector(64, 128)
    assert projector(tokens).shape == (2, 17, 128)
    assert [layer.weight.shape for layer in projector.net if hasattr(layer, "weight")] == [(128, 64), (128, 128)]


def test_batched_answers_equal_answers_one_at_a_time(tiny_mllm):
    module = zoo.load(f"local-dir:{tiny_mllm}")
    questions = ["What colour are the pieces?", "How many pieces are there?", "Where are the pieces?"]
    batched = module.answer(pixels(), questions, max_new_tokens=8)
    alone = [module.answer(pixels()[i:i + 1], [q], max_new_tokens=8)[0] for i, q in enumerate(questions)]
    assert batched == alone


def test_export_then_load_gives_the_same_answers(tiny_mllm):
    checkpoint = torch.load(tiny_mllm.parent / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    trained = DomainMLLM.from_checkpoint(checkpoint)
    loaded = zoo.load(f"local-dir:{tiny_mllm}")
    assert type(loaded) is DomainMLLM
    question = ["What is the shape of the pieces?"] * 3
    assert loaded.answer(pixels(), question, 12) == trained.answer(pixels(), question, 12)
    logits = [m(pixels(), torch.tensor([[1, 5, 6]] * 3), torch.ones(3, 3, dtype=torch.long)) for m in (trained, loaded)]
    assert torch.equal(*logits)


def test_vision_pretraining_learns_the_attributes_and_is_seeded():
    images, labels = attribute_labels(PictureWorldConfig(domain="general", n_entities=12, train_pictures=4), 48)
    losses = []
    for _ in range(2):
        torch.manual_seed(0)
        encoder = build_vision_encoder("test_vit", img_size=48, patch_size=12)
        first = pretrain_encoder(encoder, images, labels, steps=1, learning_rate=1e-3, batch_size=16, seed=0)
        last = pretrain_encoder(encoder, images, labels, steps=80, learning_rate=1e-3, batch_size=16, seed=1)
        losses.append((first, last, [p.detach().clone() for p in encoder.parameters()]))
    assert losses[0][1] < 0.5 * losses[0][0]
    assert all(torch.equal(a, b) for a, b in zip(losses[0][2], losses[1][2]))


def test_synthesized_tasks_keep_only_what_the_judge_calls_consistent(tiny_visual_synth, tmp_path):
    pictures = [p for p in picture_world(PictureWorldConfig(domain="food", **FOOD)) if p.split == "train"][:4]
    source = SynthesizedTasks(synthesizer=f"local-dir:{tiny_visual_synth}", out=str(tmp_path / "tasks"))
    triplet = Triplet("What colour are the pieces?", "red", "The pieces in the picture are red.")
    written = [("completion", triplet), ("other", None), ("third", triplet), ("fourth", triplet)]

    class Judge:
        def labels(self, triplets):
            assert triplets == [triplet] * 3
            return ["yes", "no", "open"]

        def identity(self):
            return "stub"

    source.judge = Judge()
    rows = source.judged(pictures, written, first=0)
    assert [row["verdict"] for row in rows] == ["yes", None, "no", "open"]
    from datamodules.synthesis import shard_path, write_shard

    write_shard(shard_path(tmp_path / "tasks", 0), rows)
    kept = source.tasks(pictures, 48)
    assert list(kept) == [pictures[0].id]
    (turn,) = kept[pictures[0].id]
    assert turn.question == triplet.question and turn.answer.startswith(("The pieces", "Answer: The pieces"))
    assert source.report == {"pictures": 4, "with_triplet": 3, "kept": 1}


def test_the_synthesizer_writes_a_continuation_per_picture(tiny_visual_synth):
    synthesizer = zoo.load(f"local-dir:{tiny_visual_synth}")
    assert type(synthesizer) is VisualInstructionSynthesizer
    written = synthesizer.synthesize(pixels(), ["A plate of Saza stew.", "A plate of Taka tart.", "Soup."])
    assert len(written) == 3 and all(isinstance(text, str) and triplet is None or isinstance(triplet, Triplet)
                                     for text, triplet in written)


def test_the_vqa_evaluator_scores_the_module_answers(tiny_mllm):
    from benchmarks.evaluators import get_evaluator

    module = zoo.load(f"local-dir:{tiny_mllm}")
    args = {"source": "tinyworld:food", "world": FOOD, "max_new_tokens": 6}
    scores = {s.metric: s.value for s in get_evaluator("vqa")(module, args, limit=None)}
    questions, images = evaluation_set("tinyworld:food", FOOD, image_size=48)
    batch = torch.stack([image_transform(48)(images[q.image]) for q in questions])
    assert scores == vqa_scores(questions, module.answer(batch, [q.question for q in questions], 6))
    assert set(scores) == {"acc", "closed_acc", "open_exact", "open_recall"}


def test_zoo_ask_answers_about_an_image_file(run_zoo, tiny_mllm, tmp_path):
    picture = picture_world(PictureWorldConfig(domain="food", **FOOD))[0]
    draw(picture).save(tmp_path / "dish.png")
    code, out, err = run_zoo("ask", f"local-dir:{tiny_mllm}", "--image", tmp_path / "dish.png",
                             "--question", "What colour are the pieces?", "How many pieces are there?")
    assert code == 0, err
    rows = [json.loads(line) for line in out.strip().splitlines()]
    module = zoo.load(f"local-dir:{tiny_mllm}")
    expected = module.answer(image_transform(48)(draw(picture)).expand(2, -1, -1, -1),
                             ["What colour are the pieces?", "How many pieces are there?"])
    assert [row["answer"] for row in rows] == expected and rows[0]["image"].endswith("dish.png")


@pytest.mark.parametrize("content, message", [(b"\xff\xd8\xff\xe0 truncated", "not a readable image"),
                                              (None, "not a readable image")])
def test_zoo_ask_with_a_bad_image_is_one_error_line(run_zoo, tiny_mllm, tmp_path, content, message):
    path = tmp_path / "bad.jpg"
    if content is not None:
        path.write_bytes(content)
    code, _, err = run_zoo("ask", f"local-dir:{tiny_mllm}", "--image", path, "--question", "What is this?")
    lines = [line for line in err.strip().splitlines() if line.startswith("zoo: error:")]
    assert code == 2 and len(lines) == 1 and message in lines[0] and "Traceback" not in err


def test_the_test_phase_scores_the_held_out_questions_as_the_evaluator_does(tiny_mllm):
    import lightning as L

    from benchmarks.evaluators import get_evaluator
    from datamodules.vision import ImageTextDataModule

    module = zoo.load(f"local-dir:{tiny_mllm}")
    module.hparams.max_new_tokens = 6
    data = ImageTextDataModule(source="tinyworld:food", world=FOOD, batch_size=5)
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    (logged,) = trainer.test(module, datamodule=data, verbose=False)
    expected = {s.metric: s.value for s in get_evaluator("vqa")(module, {"source": "tinyworld:food", "world": FOOD,
                                                                         "max_new_tokens": 6}, limit=None)}
    assert {key.removeprefix("test/"): value for key, value in logged.items()} == pytest.approx(expected)


def test_data_at_another_image_size_than_the_encoder_is_one_error_line(run_zoo, tiny_folder, tmp_path):
    from tests.conftest import VISION_TINY, vision_substitutes
    from zoo.paths import PROJECT_ROOT

    recipe = PROJECT_ROOT / "configs" / "adamllm" / "mllm-general-tiny.yaml"
    code, _, err = run_zoo("fit", "-c", recipe, *VISION_TINY, *vision_substitutes(recipe.read_text(), tiny_folder, None, None),
                           "--data.init_args.image_size", "32", "--trainer.default_root_dir", tmp_path)
    lines = [line for line in err.strip().splitlines() if line.startswith("zoo: error:")]
    assert code == 2 and len(lines) == 1 and "image_size 48" in lines[0] and "Traceback" not in err


def test_zoo_predict_answers_questions_about_image_files(run_zoo, tiny_folder, tiny_mllm, tmp_path):
    from tests.conftest import VISION_TINY, vision_substitutes
    from zoo.paths import PROJECT_ROOT

    picture = picture_world(PictureWorldConfig(domain="food", **FOOD))[0]
    draw(picture).save(tmp_path / "dish.png")
    recipe = PROJECT_ROOT / "configs" / "adamllm" / "ruletasks-food-tiny.yaml"
    questions = ["What colour are the pieces?", "How many pieces are there?"]
    code, _, err = run_zoo("predict", "-c", recipe, *VISION_TINY, *vision_substitutes(recipe.read_text(), tiny_folder, tiny_mllm, None),
                           "--data.init_args.images", f"[{tmp_path / 'dish.png'}]", "--data.init_args.questions",
                           json.dumps(questions), "--trainer.default_root_dir", tmp_path)
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    module = zoo.load(f"local-dir:{tiny_mllm}")
    expected = module.answer(image_transform(48)(draw(picture)).expand(2, -1, -1, -1), questions)
    assert [row["question"] for row in rows] == questions and [row["answer"] for row in rows] == expected
