"""Vision-language backbone parts: a timm image encoder and the projector that maps its features
into an LM's embedding space (LLaVA-1.5's two-layer GELU MLP).

The encoder is a stock timm model (``num_classes=0``: features only), saved with timm's own
``save_for_hf`` so the folder opens with ``timm.create_model("local-dir:PATH", pretrained=True)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def build_vision_encoder(name: str, **model_args: Any) -> nn.Module:
    """A randomly initialised timm encoder without a classifier.

    Args:
        name: A timm architecture (``vit_base_patch16_224``; ``test_vit`` for tests).
        model_args: timm model arguments that change it (``img_size``, ``depth``...).
    """
    import timm

    return timm.create_model(name, pretrained=False, num_classes=0, **model_args)


def image_tokens(encoder: nn.Module, pixel_values: torch.Tensor) -> torch.Tensor:
    """The encoder's final features as a token sequence ``(B, N, D)``: a ViT's tokens (prefix tokens
    included), or a CNN's feature map flattened over its positions."""
    features = encoder.forward_features(pixel_values)
    return features.flatten(2).transpose(1, 2) if features.dim() == 4 else features


class Projector(nn.Module):
    """Image features to LM embeddings: Linear -> GELU -> Linear (LLaVA-1.5 ``mlp2x_gelu``).

    Args:
        in_features: The encoder's feature width.
        out_features: The LM's hidden size.
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.net = nn.Sequential(nn.Linear(in_features, out_features), nn.GELU(), nn.Linear(out_features, out_features))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)
