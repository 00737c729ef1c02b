"""Backbones: plain ``nn.Module`` factories built from HF configs (no training logic here)."""

from zoo.nets.llama import NET_PRESETS, build_causal_lm, causal_lm_config

__all__ = ["NET_PRESETS", "build_causal_lm", "causal_lm_config"]
