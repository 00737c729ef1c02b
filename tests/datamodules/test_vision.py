"""AdaMLLM's data: picture worlds, conversations and their loss masks, collation, stage ordering, rule tasks,
the synthesizer's output parsing, the judge's prompt and verdicts, answer scoring, real sets and bad images."""

from __future__ import annotations

import io

import pytest
import torch

from datamodules.base import IGNORE_INDEX
from datamodules.tinyworld.pictures import (
    PictureWorldConfig, VisualQuestion, draw, picture_world, seed_tasks, visual_questions, world_fingerprint,
)
from datamodules.tokenizer import load_tokenizer
from datamodules.transforms.visual_instruction_synthesis import (
    INFORMATIVE_HINT, JUDGE_SHOTS, PRECISE_HINT, RATIONALE_TEMPLATES, RuleTasks, SeedTasks, Triplet, Turn, judge_label,
    judge_prompt, judge_training_texts, parse_triplet, rationale_answer,
)
from datamodules.vision import (
    CAPTION_INSTRUCTION, Conversation, ImageTextDataModule, StagedSampler, collate_conversations, encode_conversation,
    evaluation_set, final_answer, open_image, post_training_conversations, real_questions, vqa_scores,
)
from zoo.errors import ZooError

SMALL = PictureWorldConfig(domain="food", n_entities=6, train_pictures=4, test_pictures=2)


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("tinyworld")


def test_same_config_draws_the_same_bytes_and_another_seed_does_not():
    first = [draw(p).tobytes() for p in picture_world(SMALL)]
    again = [draw(p).tobytes() for p in picture_world(PictureWorldConfig(**SMALL.__dict__))]
    other = [draw(p).tobytes() for p in picture_world(PictureWorldConfig(**{**SMALL.__dict__, "seed": 1}))]
    assert first == again and first != other
    assert world_fingerprint(SMALL) != world_fingerprint(PictureWorldConfig(**{**SMALL.__dict__, "seed": 1}))


def test_an_entity_keeps_its_look_and_its_pictures_show_it():
    pictures = picture_world(SMALL)
    by_entity = {}
    for picture in pictures:
        by_entity.setdefault(picture.entity, set()).add((picture.shape, picture.colour, picture.texture))
        assert picture.entity in picture.caption and picture.colour in picture.caption
    assert all(len(looks) == 1 for looks in by_entity.values())
    assert len({next(iter(looks)) for looks in by_entity.values()}) == SMALL.n_entities  # one look per entity
    red = next(p for p in picture_world(PictureWorldConfig(domain="general", n_entities=120)) if p.colour == "red")
    assert (220, 40, 40) in {colour for _, colour in draw(red).getcolors(48 * 48)}


def test_questions_ask_only_about_test_pictures_and_closed_ones_are_balanced():
    questions = visual_questions(PictureWorldConfig(domain="biomed", n_entities=30))
    tests = {p.id for p in picture_world(PictureWorldConfig(domain="biomed", n_entities=30)) if p.split == "test"}
    assert {q.image for q in questions} == tests
    closed = [q.answer for q in questions if q.answer_type == "CLOSED"]
    assert set(closed) == {"yes", "no"} and 0.4 < closed.count("yes") / len(closed) < 0.6
    pictures = {p.id: p for p in picture_world(PictureWorldConfig(domain="biomed", n_entities=30))}
    for q in questions:
        if q.answer_type == "OPEN":
            assert q.answer == pictures[q.image].value(q.attribute)


@pytest.mark.parametrize("field, value", [("domain", "space"), ("n_entities", 1), ("n_entities", 500), ("image_size", 8)])
def test_a_bad_picture_world_names_the_field(field, value):
    with pytest.raises(ValueError, match=field if field != "domain" else "picture domain"):
        PictureWorldConfig(**{field: value})


def test_post_training_loss_is_on_the_answers_only(tokenizer):
    conversation = Conversation("x", (Turn("Describe the image.", "Two red pieces."), Turn("Are they red?", "yes")))
    ids, labels = encode_conversation(tokenizer, conversation, 512)
    learnt = tokenizer.decode([i for i, label in zip(ids, labels) if label != IGNORE_INDEX])
    assert learnt == " Two red pieces.\n yes\n<|eos|>"
    assert ids[0] == tokenizer.bos_token_id and labels[0] == IGNORE_INDEX


def test_synthesizer_loss_covers_every_turn_after_the_caption(tokenizer):
    conversation = Conversation("x", (Turn("Describe the image.", "Two red pieces."),
                                      Turn(f"{PRECISE_HINT}\nWhat colour?", "red")), loss="after-first")
    ids, labels = encode_conversation(tokenizer, conversation, 512)
    learnt = tokenizer.decode([i for i, label in zip(ids, labels) if label != IGNORE_INDEX])
    assert learnt == f"User: {PRECISE_HINT}\nWhat colour?\nAssistant: red\n<|eos|>"


def test_collation_pads_on_the_right_and_masks_padding(tokenizer):
    rows = [(torch.zeros(3, 8, 8), [5, 6, 7], [IGNORE_INDEX, 6, 7]), (torch.ones(3, 8, 8), [5, 6], [IGNORE_INDEX, 6])]
    batch = collate_conversations(tokenizer.pad_token_id)(rows)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 6, tokenizer.pad_token_id]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 6, 7], [IGNORE_INDEX, 6, IGNORE_INDEX]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["pixel_values"].shape == (2, 3, 8, 8) and batch["pixel_values"][1].eq(1).all()


def test_single_stage_puts_each_caption_first_or_last_with_its_tasks_and_two_stage_orders_the_stages():
    pictures = [p for p in picture_world(SMALL) if p.split == "train"]
    tasks = {p.id: [Turn(f"q {p.id}", "a")] for p in pictures}
    single = post_training_conversations(pictures, tasks, "single-stage", seed=0)
    assert len(single) == len(pictures)
    places = [conversation.turns[0].question == CAPTION_INSTRUCTION for conversation in single]
    assert all(len(c.turns) == 2 and CAPTION_INSTRUCTION in {t.question for t in c.turns} for c in single)
    assert 0 < sum(places) < len(places)  # caption first for some, last for others
    two = post_training_conversations(pictures, tasks, "two-stage", seed=0)
    assert [c.turns[0].question == CAPTION_INSTRUCTION for c in two] == [True] * len(pictures) + [False] * len(pictures)
    order = StagedSampler([range(0, 5), range(5, 9)], passes=2, seed=3).order()
    assert sorted(order[:10]) == sorted(list(range(5)) * 2) and sorted(order[10:]) == sorted(list(range(5, 9)) * 2)


def test_the_datamodule_trains_two_stage_captions_before_tasks():
    world = {key: value for key, value in SMALL.__dict__.items() if key != "domain"}
    module = ImageTextDataModule(source="tinyworld:food", world=world, schedule="two-stage", tasks=RuleTasks(),
                                 batch_size=2, val_fraction=0.2)
    module.setup()
    conversations = module.splits["train"]
    order = list(module.train_dataloader().sampler)
    firsts = [conversations[i].turns[0].question == CAPTION_INSTRUCTION for i in order]
    assert firsts == sorted(firsts, reverse=True) and any(firsts) and not all(firsts)
    assert len(module.questions) == SMALL.n_entities * SMALL.test_pictures * 11


def test_rule_tasks_are_templates_over_the_caption():
    pictures = [p for p in picture_world(SMALL) if p.split == "train"]
    written = RuleTasks(per_picture=4).tasks(pictures, 48)
    assert written == RuleTasks(per_picture=4).tasks(pictures, 48)
    for picture in pictures:
        turns = {turn.question.split(":")[0].split("?")[0]: turn for turn in written[picture.id]}
        assert turns["What does this image show"].answer == picture.caption
        blank = turns["Fill in the blank for this image"]
        assert blank.question.split(": ", 1)[1].replace("___", blank.answer, 1) == picture.caption.rstrip(".")
        fits = turns["Does this description fit the image"]
        assert fits.answer == ("yes" if fits.question.endswith(picture.caption) else "no")
        completion = turns["Complete the description of the image"]
        assert completion.question.removesuffix(" ...").split(": ", 1)[1] + " " + completion.answer == picture.caption


def test_seed_tasks_answer_precisely_or_with_a_rationale():
    picture = picture_world(SMALL)[0]
    tasks = seed_tasks(picture)
    precise = SeedTasks("precise").tasks([picture], 48)[picture.id]
    rationale = SeedTasks("rationale").tasks([picture], 48)[picture.id]
    assert [t.answer for t in precise] == [t.precise for t in tasks]
    assert [final_answer(t.answer) for t in rationale] == [t.precise.lower() for t in tasks]


def test_parse_triplet_takes_the_first_question_asked_under_both_hints():
    completion = (f" {PRECISE_HINT}\nWhat colour?\nAssistant: red\nUser: {INFORMATIVE_HINT}\nHow many?\nAssistant: "
                  f"Two of them.\nUser: {INFORMATIVE_HINT}\nWhat colour?\nAssistant: They are red.\nUser: "
                  f"{PRECISE_HINT}\nHow many?\nAssistant: two\nUser: {PRECISE_HINT}\nWhere")
    assert parse_triplet(completion) == Triplet("What colour?", "red", "They are red.")


@pytest.mark.parametrize("completion", [
    "", f" {PRECISE_HINT}\nWhat colour?\nAssistant: red",  # one hint only
    f" Say it.\nWhat colour?\nAssistant: red\nUser: {INFORMATIVE_HINT}\nWhat colour?\nAssistant: red.",  # bad hint
    f" {PRECISE_HINT}\nWhat colour?\nAssistant:\nUser: {INFORMATIVE_HINT}\nWhat colour?\nAssistant: red.",  # empty
    f" {PRECISE_HINT}\nWhat colour?\nAssistant: red\nUser: {INFORMATIVE_HINT}\nWhat colour?",  # cut off
])
def test_parse_triplet_drops_malformed_turns(completion):
    assert parse_triplet(completion) is None


def test_the_judge_prompt_and_its_verdicts():
    triplet = Triplet("How many blocks?", "two", "Counting them gives two blocks.")
    prompt = judge_prompt(triplet)
    assert prompt.count("## Consistent:") == len(JUDGE_SHOTS) + 1 and prompt.endswith("## Consistent:")
    assert judge_prompt(triplet, shots=0).count("## Question:") == 1
    assert [judge_label(t) for t in (" Yes", " no.", "Open\n", " maybe", "")] == ["yes", "no", "open", "no", "no"]


def test_judge_training_texts_pair_each_task_with_a_wrong_precise_answer():
    texts = judge_training_texts(PictureWorldConfig(domain="general", n_entities=4, train_pictures=2))
    assert len(texts) == 4 * 2 * 3 * 2 and texts[0].endswith(" Yes") and texts[1].endswith(" No")
    right, wrong = (t.split("## Precise Answer: ")[1].split("\n")[0] for t in texts[:2])
    assert right != wrong


@pytest.mark.parametrize("template", range(len(RATIONALE_TEMPLATES)))
def test_every_rationale_template_ends_with_the_answer_the_scorer_reads(template):
    key = next(k for k in map(str, range(1000)) if rationale_answer(k, "x", "y") ==
               RATIONALE_TEMPLATES[template].format(rationale="x", answer="y"))
    assert final_answer(rationale_answer(key, "The pieces are green.", "Saza stew")) == "saza stew"


def test_vqa_scores_by_hand():
    questions = [VisualQuestion("1", "a", "q", "yes", "CLOSED"), VisualQuestion("2", "a", "q", "no", "CLOSED"),
                 VisualQuestion("3", "a", "q", "red", "OPEN"), VisualQuestion("4", "a", "q", "Saza stew", "OPEN")]
    scores = vqa_scores(questions, ["Yes. They are. So the answer is yes.", "yes", "The answer is: red.", "saza"])
    assert scores == {"acc": 0.5, "closed_acc": 0.5, "open_exact": 0.5, "open_recall": 0.75}


def test_vqa_rad_and_food101_load_from_zoo_data():
    questions, paths = real_questions("zoo-data:vqa_rad")
    assert len(questions) == 451 and {q.answer_type for q in questions} == {"CLOSED", "OPEN"}
    assert all(path.is_file() for path in paths.values())
    test, _ = real_questions("zoo-data:food101_mini", "test")
    train, _ = real_questions("zoo-data:food101_mini", "train")
    assert not {q.image for q in test} & {q.image for q in train} and len(test) + len(train) == 200
    assert {q.answer for q in test} <= {line.strip().replace("_", " ") for line in
                                          (real_questions.__globals__["_data_dir"]("food101_mini") / "classes.txt")
                                          .read_text().splitlines() if line.strip()}


def test_a_truncated_or_unreadable_image_is_one_error_naming_it(tmp_path):
    from PIL import Image

    folder = tmp_path / "dishes" / "pie"
    folder.mkdir(parents=True)
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(buffer, format="JPEG")
    (folder / "good.jpg").write_bytes(buffer.getvalue())
    (folder / "cut.jpg").write_bytes(buffer.getvalue()[:200])
    with pytest.raises(ZooError, match=r"cut\.jpg: not a readable image") as error:
        evaluation_set(str(tmp_path / "dishes"), split="all")
    assert "\n" not in str(error.value)
    (folder / "cut.jpg").write_text("not an image")
    with pytest.raises(ZooError, match="replace or remove the file"):
        open_image(folder / "cut.jpg")


def test_several_worlds_have_their_own_names_and_the_general_world_varies_its_nouns():
    config = PictureWorldConfig(domain="general", n_entities=10, n_worlds=3, train_pictures=1, test_pictures=1)
    pictures = picture_world(config)
    assert len(pictures) == 10 * 3 * 2 and len({p.id for p in pictures}) == len(pictures)
    assert len({p.entity for p in pictures}) == 30
    assert len({p.item for p in pictures}) > 1 and len({p.noun for p in pictures}) > 1
    assert all(p.item in p.caption for p in pictures)
    assert {p.item for p in picture_world(SMALL)} == {"piece"} and {p.noun for p in picture_world(SMALL)} == {"dish"}


def test_fresh_names_follow_no_domain_style_and_leave_other_worlds_as_they_were():
    from datamodules.tinyworld.pictures import FRESH_NAMES, PICTURE_DOMAINS

    plain = PictureWorldConfig(domain="general", n_entities=10, n_worlds=3, train_pictures=1, test_pictures=1)
    fresh = PictureWorldConfig(**{**plain.__dict__, "fresh_names": True})
    pictures, before = picture_world(fresh), picture_world(plain)
    # Every entity has its own name and its own item word, and its captions carry both.
    assert len({p.entity for p in pictures}) == len({p.item for p in pictures}) == 30
    assert all(p.entity in p.caption and p.item in p.caption for p in pictures)
    general = set(PICTURE_DOMAINS["general"].names.syllables)
    assert set(FRESH_NAMES.syllables) > general and {"stew", "cyte"} <= {s.strip() for s in FRESH_NAMES.suffixes}
    assert not {p.item for p in pictures} & set(PICTURE_DOMAINS["general"].item)
    assert not {p.entity for p in pictures} & {p.entity for p in before}
    # A world without the option keeps its pictures and its fingerprint (pinned: computed before the option).
    assert world_fingerprint(PictureWorldConfig(domain="food", n_entities=40)).startswith("f321f76ee1021e95")
    assert world_fingerprint(fresh) != world_fingerprint(plain)
    with pytest.raises(ValueError, match="fresh_names='yes' must be true or false"):
        PictureWorldConfig(fresh_names="yes")
    # More entities than a style holds is one error line naming the fix; fresh names hold them.
    crowded = PictureWorldConfig(domain="general", n_entities=40, n_worlds=30, train_pictures=1, test_pictures=1)
    with pytest.raises(ZooError, match=r"could only generate \d+ of 1200 unique names .* set fresh_names: true"):
        picture_world(crowded)
    assert len({p.entity for p in picture_world(PictureWorldConfig(**{**crowded.__dict__, "fresh_names": True}))}) == 1200
