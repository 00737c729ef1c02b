"""Backbones: plain ``nn.Module`` factories built from HF and timm configs (no training logic here)."""

from zoo.nets.encoders import ENCODER_PRESETS, build_encoder, build_masked_lm, encoder_config, pool
from zoo.nets.llama import NET_PRESETS, build_causal_lm, causal_lm_config
from zoo.nets.vision import Projector, build_vision_encoder, image_tokens

__all__ = ["ENCODER_PRESETS", "NET_PRESETS", "Projector", "build_causal_lm", "build_encoder", "build_masked_lm",
           "build_vision_encoder", "causal_lm_config", "encoder_config", "image_tokens", "pool"]
