"""Continuous diffusion over a stock transformers encoder's embedding output (the diffusion PLM's backbone).

As upstream (MaybeLizzy/Diffusion_OOD_Robustness, ``modeling_roberta_diffusion.py``): x0 is the output of
the encoder's embedding module (word + position + token-type embeddings, LayerNorm, dropout); a DDPM
linear schedule noises every position, x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps; a raw sinusoidal
timestep embedding (no MLP) is added at every position; the sum enters the first layer, and the last
layer's hidden states h predict x0. Nothing is patched: a forward hook on the embedding module swaps
its output for x_t + emb(t) inside an ordinary forward of the transformers model, so the same model
folder still opens in ``AutoModelForMaskedLM``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from zoo.errors import ZooError


@dataclass(frozen=True)
class Schedule:
    """The DDPM linear noise schedule.

    Args:
        steps: Diffusion steps T (t runs over 0 .. T - 1).
        beta_start: beta at t = 0.
        beta_end: beta at t = T - 1.
    """

    steps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02

    def __post_init__(self):
        if not isinstance(self.steps, int) or self.steps < 2:
            raise ZooError(f"diffusion steps={self.steps!r} must be an integer >= 2")
        if not 0 < self.beta_start <= self.beta_end < 1:
            raise ZooError(f"beta_start={self.beta_start}, beta_end={self.beta_end}: need 0 < start <= end < 1")

    def alphas_cumprod(self) -> torch.Tensor:
        """abar_t = prod_{s <= t} (1 - beta_s), in float64 as upstream computes it."""
        betas = torch.linspace(self.beta_start, self.beta_end, self.steps, dtype=torch.float64)
        return torch.cumprod(1.0 - betas, dim=0)

    def check(self, timesteps: Iterator[int] | list[int], name: str = "timestep") -> None:
        """Refuse a t outside [0, T)."""
        for t in timesteps:
            if not isinstance(t, int) or isinstance(t, bool) or not 0 <= t < self.steps:
                raise ZooError(f"{name}={t!r} must be an integer in [0, {self.steps}) (the schedule's steps)")

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, with ``t`` one step per example ``(B,)``."""
        abar = self.alphas_cumprod().to(x0.device)[t].to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def prior_mean(self, x0: torch.Tensor) -> torch.Tensor:
        """The mean of q(x_T | x0), sqrt(abar_{T-1}) x0: the prior term pulls it to the standard normal's 0."""
        return math.sqrt(float(self.alphas_cumprod()[-1])) * x0


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """The sinusoidal embedding of timesteps ``(B,)`` -> ``(B, dim)``: [cos | sin] over geometric frequencies
    (improved-diffusion's, which upstream uses; an odd ``dim`` gets a zero last column)."""
    half = dim // 2
    frequencies = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = t.float()[:, None] * frequencies[None]
    embedding = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
    return torch.nn.functional.pad(embedding, (0, dim % 2))


def example_generator(ids: torch.Tensor, seed: int) -> torch.Generator:
    """A CPU generator seeded from one example's token ids ``(L,)`` and ``seed`` (CRC-32 of both)."""
    return torch.Generator().manual_seed(zlib.crc32(repr(ids.tolist()).encode(), seed & 0xFFFFFFFF))


def example_noise(input_ids: torch.Tensor, attention_mask: torch.Tensor, dim: int, seed: int) -> torch.Tensor:
    """Gaussian noise ``(B, L, dim)`` that depends only on each example's own tokens and ``seed``.

    A score is then the same whatever the batch an example is scored in, its order or its padding
    (upstream draws from one running stream, so a score depends on the examples scored before it).
    Padding positions get zeros.
    """
    noise = torch.zeros(*input_ids.shape, dim)
    for row in range(len(input_ids)):
        ids = input_ids[row][attention_mask[row].bool()]
        noise[row, :len(ids)] = torch.randn(len(ids), dim, generator=example_generator(ids, seed))
    return noise.to(input_ids.device)


@contextmanager
def noised_embeddings(net: torch.nn.Module, schedule: Schedule, t: torch.Tensor,
                      noise: Callable[[torch.Tensor], torch.Tensor], captured: dict) -> Iterator[None]:
    """Within the block, ``net``'s embedding module returns x_t + emb(t) instead of x0 (stored in ``captured``).

    Args:
        net: A transformers encoder model (``…ForMaskedLM``, ``…ForSequenceClassification``, ``…Model``).
        schedule: The noise schedule.
        t: One timestep per example ``(B,)``.
        noise: Gives eps for x0 (``torch.randn_like`` while training, ``example_noise`` when scoring).
        captured: Receives ``x0``.
    """

    def swap(module, args, x0):
        captured["x0"] = x0
        x_t = schedule.q_sample(x0, t, noise(x0))
        return x_t + timestep_embedding(t, x0.size(-1)).to(x0.dtype).unsqueeze(1)

    handle = net.base_model.embeddings.register_forward_hook(swap)
    try:
        yield
    finally:
        handle.remove()
