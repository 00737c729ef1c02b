"""``VisionLM``: a timm image encoder, an MLP projector and a causal LM, images as prefix tokens (LLaVA).

The vision-LM kind's module and the base of AdaMLLM. The encoder's final tokens go through the
projector into the LM's embedding space and precede the text; the loss is the LM's next-token
cross-entropy on the positions the batch's ``labels`` mark (the responses: ``-100`` elsewhere).
Parts can be frozen (``freeze``). Its folder has ``vision/`` (a timm folder that opens with
``timm.create_model("local-dir:.../vision", pretrained=True)``), ``projector/`` and ``lm/`` (a
transformers causal-LM folder with its tokenizer).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import timm
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from timm.models import save_for_hf

from datamodules.base import IGNORE_INDEX
from datamodules.tokenizer import load_tokenizer, tokenizer_json, wrap_fast_tokenizer
from zoo.errors import ZooError
from zoo.modules.base import ZooModule, targeted_cross_entropy
from zoo.nets import Projector, build_causal_lm, build_vision_encoder, causal_lm_config, config_from_dict, image_tokens
from zoo.resolve import load_pretrained, read_causal_lm

PARTS = ("vision", "projector", "lm")


def timm_spec(source: str) -> dict[str, Any]:
    """The architecture and model arguments of a timm encoder source: its ``config.json`` for a
    ``local-dir:`` folder or an ``hf-hub:`` repo (timm writes both), else a bare architecture name.

    Args:
        source: ``local-dir:PATH``, ``hf-hub:org/name`` or a timm architecture.
    """
    if source.startswith("local-dir:"):
        path = Path(source.removeprefix("local-dir:")) / "config.json"
    elif source.startswith("hf-hub:"):
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(source.removeprefix("hf-hub:"), "config.json"))
    else:
        return {"architecture": source, "model_args": {}}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        # The encoder is always built without a classifier (num_classes=0), whatever the source had.
        args = {key: value for key, value in (config.get("model_args") or {}).items() if key != "num_classes"}
        return {"architecture": config["architecture"], "model_args": args}
    except (OSError, ValueError, KeyError) as error:
        raise ZooError(f"{source}: no readable timm config.json ({type(error).__name__}); pass a folder that "
                       "timm's save_for_hf wrote, or a timm hub repo") from None


class VisionLM(ZooModule):
    """An image encoder + projector + causal LM, trained on responses about images.

    Args:
        vision: timm architecture of a randomly initialised encoder (``test_vit`` for tests).
        vision_args: timm model arguments (``img_size``, ``depth``...).
        vision_from: Start the encoder from these timm weights instead (``hf-hub:timm/...`` or ``local-dir:``).
        lm_from: Start the LM from these weights and tokenizer (zoo name, ``local-dir:``, ``hf-hub:``).
        lm_net: LM preset of a randomly initialised LM (with ``tokenizer``), when there is no ``lm_from``.
        tokenizer: Tokenizer spec of that LM (``tinyworld``, a folder).
        freeze: Parts whose weights stay fixed (``vision``, ``projector``, ``lm``).
        learning_rate: Peak AdamW learning rate.
        weight_decay: AdamW weight decay on matrices.
        warmup_steps: Linear warm-up steps before the cosine decay.
        min_lr_ratio: Final learning rate as a share of the peak.
        betas: AdamW betas.
        max_new_tokens: Tokens generated per answer by ``predict``.
    """

    kind = "vision-lm"
    pipeline_tag = "image-text-to-text"
    training_only_hparams = ("vision_from", "lm_from", "tokenizer")

    def __init__(self, vision: str = "vit_base_patch16_224", vision_args: dict[str, Any] | None = None,
                 vision_from: str | None = None, lm_from: str | None = None, lm_net: str = "llama-tiny",
                 tokenizer: str | None = None, freeze: tuple[str, ...] = ("vision",), learning_rate: float = 2e-4,
                 weight_decay: float = 0.0, warmup_steps: int = 30, min_lr_ratio: float = 0.1,
                 betas: tuple[float, float] = (0.9, 0.999), max_new_tokens: int = 32):
        super().__init__()
        if unknown := sorted(set(freeze) - set(PARTS)):
            raise ZooError(f"cannot freeze {', '.join(unknown)}: the parts are {', '.join(PARTS)}")
        self.save_hyperparameters()
        self.vision = self.projector = self.lm = self.tokenizer = None
        if vision_from or lm_from or tokenizer:
            self.build(vision_from, lm_from, tokenizer)

    def build(self, vision_from: str | None, lm_from: str | None, tokenizer: str | None) -> None:
        """Create the three parts: pretrained where a source is given, else from the presets."""
        if vision_from:
            self.vision_spec = timm_spec(vision_from)
            self.vision = timm.create_model(vision_from, pretrained=True, num_classes=0)
        else:
            self.vision_spec = {"architecture": self.hparams.vision, "model_args": dict(self.hparams.vision_args or {})}
            self.vision = build_vision_encoder(**self.vision_spec_args())
        if lm_from:
            self.lm, self.tokenizer = load_pretrained(lm_from)
        elif tokenizer:
            self.tokenizer = load_tokenizer(tokenizer)
            special = {"bos_token_id": self.tokenizer.bos_token_id, "eos_token_id": self.tokenizer.eos_token_id,
                       "pad_token_id": self.tokenizer.pad_token_id}
            self.lm = build_causal_lm(causal_lm_config(self.hparams.lm_net, len(self.tokenizer), special))
        else:
            raise ZooError("VisionLM needs an LM: set init_args.lm_from (a zoo LM) or init_args.tokenizer")
        self.projector = Projector(self.vision.num_features, self.lm.config.hidden_size)
        self.apply_freeze()

    def vision_spec_args(self) -> dict[str, Any]:
        """``build_vision_encoder`` arguments of the encoder this module has (whatever it started from)."""
        return {"name": self.vision_spec["architecture"], **self.vision_spec["model_args"]}

    @property
    def image_size(self) -> int:
        """The side of the images the encoder takes (its ``img_size``, timm's 224 default without one)."""
        size = self.vision_spec["model_args"].get("img_size", 224)
        return int(size if isinstance(size, int) else size[0])

    def apply_freeze(self) -> None:
        for part in self.hparams.freeze:
            getattr(self, part).requires_grad_(False)

    def configure_model(self) -> None:
        if self.lm is None:
            raise ZooError("VisionLM needs an LM: set init_args.lm_from (a zoo LM) or init_args.tokenizer")

    def forward(self, pixel_values: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, T, V)`` of the text positions, each image's projected tokens before its text."""
        return self.lm.get_output_embeddings()(self.text_states(pixel_values, input_ids, attention_mask))

    def text_states(self, pixel_values: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
                    ) -> torch.Tensor:
        """The LM's last hidden states ``(B, T, D)`` at the text positions, each image's projected tokens before its
        text."""
        prefix = self.projector(self.image_features(pixel_values))
        text = self.lm.get_input_embeddings()(input_ids)
        mask = torch.cat([attention_mask.new_ones(prefix.shape[:2]), attention_mask], dim=1)
        hidden = self.lm.get_decoder()(inputs_embeds=torch.cat([prefix, text], dim=1), attention_mask=mask,
                                       use_cache=False).last_hidden_state
        return hidden[:, prefix.size(1):]

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The encoder's final tokens ``(B, N, D)`` for a batch of images (before the projector)."""
        return image_tokens(self.vision, pixel_values)

    def training_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Next-token cross-entropy on the response tokens (``labels`` is ``-100`` elsewhere)."""
        hidden = self.text_states(batch["pixel_values"], batch["input_ids"], batch["attention_mask"])
        targets = F.pad(batch["labels"][:, 1:], (0, 1), value=IGNORE_INDEX)
        return targeted_cross_entropy(self.lm.get_output_embeddings(), hidden, targets)

    # ------------------------------------------------------------------ artifact
    def save_artifacts(self, folder: Path) -> None:
        """``vision/`` (timm), ``projector/`` (safetensors + config) and ``lm/`` (transformers) folders."""
        save_for_hf(self.vision, str(folder / "vision"), model_args=self.vision_spec["model_args"] or None,
                    safe_serialization=True)
        (folder / "projector").mkdir()
        save_file({k: v.contiguous() for k, v in self.projector.state_dict().items()},
                  str(folder / "projector" / "model.safetensors"))
        shape = {"type": "mlp2x_gelu", "in_features": self.projector.in_features,
                 "out_features": self.projector.out_features}
        (folder / "projector" / "config.json").write_text(json.dumps(shape, indent=2) + "\n", encoding="utf-8")
        self.lm.save_pretrained(folder / "lm", safe_serialization=True)
        self.tokenizer.save_pretrained(folder / "lm")

    def artifact_metadata(self) -> dict[str, Any]:
        return {"lm_config": self.lm.config.to_dict(), "tokenizer_json": tokenizer_json(self.tokenizer),
                "vision": self.vision_spec}

    def restore_artifacts(self, metadata: dict[str, Any]) -> None:
        self.lm = build_causal_lm(config_from_dict(metadata["lm_config"]))
        self.tokenizer = wrap_fast_tokenizer(metadata["tokenizer_json"])
        self.vision_spec = metadata["vision"]
        self.vision = build_vision_encoder(**self.vision_spec_args())
        self.projector = Projector(self.vision.num_features, self.lm.config.hidden_size)
        self.apply_freeze()

    @classmethod
    def from_folder(cls, folder: Path, card: dict[str, Any] | None) -> "VisionLM":
        if card is None:
            raise ZooError(f"{folder}: a vision-LM folder needs its zoo card; re-export it with `zoo export`")
        module = cls(**cls.init_hparams(card.get("hparams", {})))
        module.read_parts(Path(folder))
        return module.eval()

    def read_parts(self, folder: Path) -> None:
        """Take the encoder, projector and LM (with its tokenizer) from a vision-LM folder's files."""
        self.vision_spec = timm_spec(f"local-dir:{folder / 'vision'}")
        self.vision = timm.create_model(f"local-dir:{folder / 'vision'}", pretrained=True, num_classes=0)
        self.lm, self.tokenizer = read_causal_lm(folder / "lm")
        shape = json.loads((folder / "projector" / "config.json").read_text(encoding="utf-8"))
        self.projector = Projector(shape["in_features"], shape["out_features"])
        self.projector.load_state_dict(load_file(str(folder / "projector" / "model.safetensors")))
        self.apply_freeze()

    @classmethod
    def load_snippet(cls, folder: str) -> list[str]:
        return ["import timm", "from transformers import AutoModelForCausalLM",
                f"vision = timm.create_model('local-dir:' + {folder!r} + '/vision', pretrained=True)",
                f"lm = AutoModelForCausalLM.from_pretrained({folder + '/lm'!r})"]
