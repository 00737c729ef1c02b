"""CausalLM: golden outputs of a seeded tiny model, loss and scoring against references, schedule, generation."""

from __future__ import annotations

import math

import pytest
import torch

from datamodules import TextCorpusDataModule
from datamodules.multiple_choice import MultipleChoiceDataset, collate_choices
from datamodules.tokenizer import load_tokenizer
from zoo.modules import CausalLM
from zoo.modules.base import warmup_cosine

#: llama-test at seed 0 on the tinyworld tokenizer (bos added by the tokenizer).
GOLDEN_LOSS = 7.345451
GOLDEN_LOGITS = [0.0, 0.651570, 0.012050]  # the pad row is zero: its logit is exactly 0


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("tinyworld")


@pytest.fixture
def module(tokenizer):
    torch.manual_seed(0)
    module = CausalLM(net="llama-test")
    module.build_net(tokenizer)
    return module.eval()


def test_golden_loss_of_seeded_tiny_model(module, tokenizer):
    ids = tokenizer("Drug profile: Quiceranib acts on HER2.", return_tensors="pt").input_ids
    loss, logits, targets = module.lm_loss(ids)
    assert logits.shape == (1, ids.size(1), len(tokenizer)) and targets.shape == ids.shape
    # Golden values of llama-test at seed 0 (change only with a deliberate change of init or tokenizer).
    assert loss.item() == pytest.approx(GOLDEN_LOSS, abs=1e-4)
    assert logits[0, 0, :3].tolist() == pytest.approx(GOLDEN_LOGITS, abs=1e-4)
    # An untrained model is near uniform over the vocabulary.
    assert abs(loss.item() - math.log(len(tokenizer))) < 0.5


def test_loss_matches_transformers_reference(module, tokenizer):
    ids = tokenizer(["Question: Where was Turo Marten born?\nAnswer: Valparaiso"], return_tensors="pt").input_ids
    ours, _, _ = module.lm_loss(ids)
    reference = module.net(input_ids=ids, labels=ids).loss
    assert ours.item() == pytest.approx(reference.item(), abs=1e-6)
    # Training's loss applies the output layer at the positions with a target only: the same value.
    assert module.target_loss(ids).item() == pytest.approx(reference.item(), abs=1e-6)


def test_a_document_packed_whole_trains_only_on_its_labelled_tokens(module, tokenizer):
    """Documents packed whole carry ``labels``: padding (and repeated context) are -100 and add nothing to the loss."""
    ids = tokenizer("Question: Where was Turo Marten born?\nAnswer: Valparaiso", return_tensors="pt").input_ids
    padded = torch.cat([ids, torch.full((1, 5), tokenizer.pad_token_id)], dim=1)
    labels = torch.cat([ids, torch.full((1, 5), -100)], dim=1)
    alone, _, _ = module.lm_loss(ids)
    loss = module.training_step({"input_ids": padded, "labels": labels}, 0)
    # Causal attention never reads the padding on the right, and its targets are ignored: the document's own loss.
    assert loss.item() == pytest.approx(alone.item(), abs=1e-5)
    targets = CausalLM.batch_targets({"input_ids": padded, "labels": labels})
    assert targets[0, : ids.size(1) - 1].tolist() == ids[0, 1:].tolist() and (targets != -100).sum() == ids.size(1) - 1
    assert CausalLM.batch_targets({"input_ids": padded}) is None, "packed blocks: every next token is a target"


def test_choice_scores_are_summed_option_logprobs(module, tokenizer):
    item = {"prompt": "Turo Marten was born in", "options": [" Lisbon", " Valparaiso Bay", " Osaka", " Tallinn"],
            "answer_index": 1}
    batch = collate_choices(tokenizer.pad_token_id)(list(MultipleChoiceDataset([item], tokenizer)))
    scores = module.choice_loglikelihoods(batch)
    assert scores.shape == (1, 4)
    for k, option in enumerate(item["options"]):
        context = [tokenizer.bos_token_id, *tokenizer(item["prompt"], add_special_tokens=False)["input_ids"]]
        continuation = tokenizer(option, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([context + continuation])
        logprobs = torch.log_softmax(module(ids)[0, :-1], -1)
        expected = sum(logprobs[len(context) - 1 + i, t] for i, t in enumerate(continuation))
        assert scores[0, k].item() == pytest.approx(expected.item(), abs=1e-4)


def test_warmup_then_cosine_to_floor():
    factors = [warmup_cosine(step, warmup=10, total=110, floor=0.1) for step in range(120)]
    assert factors[0] == pytest.approx(1 / 11) and factors[9] == pytest.approx(10 / 11)
    assert factors[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))
    assert factors[110] == pytest.approx(0.1) and factors[119] == pytest.approx(0.1)


def test_predict_generates_greedy_completions(module, tokenizer):
    dm = TextCorpusDataModule(world={"n_entities": 8}, batch_size=3)
    batch = next(iter(dm.predict_dataloader()))
    module.hparams.max_new_tokens = 5
    first = module.predict_step(batch, 0)
    assert len(first) == 3 and first[0]["prompt"].startswith("Question:")
    assert first == module.predict_step(batch, 0), "greedy decoding is deterministic"
    assert all(isinstance(row["completion"], str) for row in first)
