"""Backbones: plain ``nn.Module`` factories built from HF and timm configs (no training logic here)."""

from typing import Any

from transformers import AutoConfig

from zoo.nets.encoders import (ENCODER_PRESETS, build_encoder, build_headed_encoder, encoder_config, masked_lm_head,
                                pool)
from zoo.nets.llama import NET_PRESETS, build_causal_lm, causal_lm_config
from zoo.nets.vision import Projector, build_vision_encoder, image_tokens, pretrain_encoder


def config_from_dict(fields: dict[str, Any]):
    """The transformers config that ``config.to_dict()`` wrote (as checkpoints keep it)."""
    fields = dict(fields)
    return AutoConfig.for_model(fields.pop("model_type"), **fields)


__all__ = ["ENCODER_PRESETS", "NET_PRESETS", "Projector", "build_causal_lm", "build_encoder", "build_headed_encoder",
           "build_vision_encoder", "causal_lm_config", "config_from_dict", "encoder_config", "image_tokens", "masked_lm_head", "pool",
           "pretrain_encoder"]
