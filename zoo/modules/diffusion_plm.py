"""``DiffusionPLM``: an encoder PLM fine-tuned with a continuous diffusion objective; its reconstruction
loss at a fixed noise level scores how out-of-distribution a text is.

Paper: "How Does Diffusion Influence Pretrained Language Models on Out-of-Distribution Data?";
upstream MaybeLizzy/Diffusion_OOD_Robustness (``modeling_roberta_diffusion.py``, ``ood_detect_roberta.py``).
Training, per example: t uniform in [0, T); x0 = the embedding module's output; x_t =
sqrt(abar_t) x0 + sqrt(1 - abar_t) eps on every token; the encoder reads x_t + a sinusoidal embedding
of t and its last hidden states h predict x0. The loss is upstream's sum of three terms:

    MSE(h, x0) + mean((sqrt(abar_{T-1}) x0)^2) + CE(lm_head(h), tokens)

(the first two averaged over each example's tokens and hidden units, then over the batch; the
cross-entropy over all real tokens, [CLS] and [SEP] included: nothing is masked, the tokens are their
own targets). Scoring: the same cross-entropy per example at a fixed t (several in one pass), noise
drawn from the example's own tokens; higher = more out-of-distribution. Optionally 0.99 x that +
0.01 x the Mahalanobis distance of the penultimate layer's mean-pooled states (one mean, as upstream).

Departures, each to make a score a function of the example alone: padding is masked out of the
losses and out of attention (upstream pads to 512 and averages the pads in), and scoring noise is
seeded per example (upstream draws it from one running stream, so a score depends on what was scored
before). The folder is a plain masked-LM folder: the timestep embedding has no weights.
"""

from __future__ import annotations

from typing import Any

import torch

from datamodules.base import IGNORE_INDEX
from zoo.errors import ZooError
from zoo.modules.base import targeted_cross_entropy
from zoo.modules.encoder import MaskedLMEncoder, example_losses
from zoo.nets import masked_lm_head, pool
from zoo.nets.diffusion import Schedule, example_noise, noised_embeddings


class DiffusionPLM(MaskedLMEncoder):
    """A masked-LM encoder fine-tuned as a denoiser of its own embeddings (diffusion PLM).

    Args:
        net: Encoder preset of a net built from scratch (``bert-test`` in tests); ignored with ``init_from``.
        net_overrides: ``BertConfig`` fields that change the preset.
        init_from: The pretrained encoder (``minilm-l6-v2``, ``local-dir:``, ``hf-hub:``); a headless one
            (MiniLM is a ``BertModel``) gets an LM head seeded with 0, its decoder tied to the word embeddings.
        tokenizer: The tokenizer of a net built from a preset.
        diffusion_steps: T of the DDPM linear schedule.
        beta_start: beta at t = 0.
        beta_end: beta at t = T - 1.
        score_timesteps: The t of each reconstruction score (``reconstruction_t600``...), all in one forward;
            the first is the model's own score.
        mahalanobis_mix: Also score 0.99 x the first reconstruction loss + 0.01 x the Mahalanobis distance of
            the penultimate features at that t, fitted on the in-distribution training set.
        score_seed: Seed of the scoring noise (with each example's tokens).
        learning_rate: Peak AdamW learning rate (upstream: 5e-5).
        weight_decay: AdamW weight decay on matrices (upstream: 0.01).
        warmup_steps: Linear warm-up steps before the cosine decay.
        min_lr_ratio: Final learning rate as a share of the peak.
        betas: AdamW betas.
    """

    method = "diffusion-plm"

    def __init__(self, net: str = "minilm-l6", net_overrides: dict[str, Any] | None = None,
                 init_from: str | None = None, tokenizer: str | None = None, diffusion_steps: int = 1000,
                 beta_start: float = 1e-4, beta_end: float = 0.02, score_timesteps: tuple[int, ...] = (600,),
                 mahalanobis_mix: bool = False, score_seed: int = 0, learning_rate: float = 5e-5,
                 weight_decay: float = 0.01, warmup_steps: int = 50, min_lr_ratio: float = 0.1,
                 betas: tuple[float, float] = (0.9, 0.999)):
        super().__init__(net=net, net_overrides=net_overrides, init_from=init_from, tokenizer=tokenizer,
                         score_seed=score_seed, learning_rate=learning_rate, weight_decay=weight_decay,
                         warmup_steps=warmup_steps, min_lr_ratio=min_lr_ratio, betas=betas)
        self.save_hyperparameters()
        if not score_timesteps:
            raise ZooError("score_timesteps is empty; give at least one t, e.g. [600]")
        self.schedule = Schedule(diffusion_steps, beta_start, beta_end)
        self.schedule.check(list(score_timesteps), "score_timesteps")
        self.mahalanobis_mix = mahalanobis_mix

    @classmethod
    def reading(cls, encoder: MaskedLMEncoder, score_timesteps: tuple[int, ...]) -> "DiffusionPLM":
        """A diffusion PLM scoring with ``encoder``'s net and tokenizer at ``score_timesteps``, in eval mode.

        Read from a diffusion PLM, its own scores at other t (a timestep sweep, no retraining); read from a masked-LM
        encoder never trained to denoise, how that PLM rebuilds the same noised embeddings: the "before diffusion"
        of the paper's robustness claim, with a trained LM head.

        Args:
            encoder: The trained encoder (its schedule is kept where it has one, and its scoring seed).
            score_timesteps: The t of each reconstruction score.
        """
        schedule = getattr(encoder, "schedule", Schedule())
        module = cls(diffusion_steps=schedule.steps, beta_start=schedule.beta_start, beta_end=schedule.beta_end,
                     score_timesteps=tuple(score_timesteps), score_seed=encoder.hparams.score_seed)
        module.net, module.tokenizer = encoder.net, encoder.tokenizer
        return module.eval()

    def denoise(self, batch: dict[str, torch.Tensor], t: torch.Tensor, noise) -> tuple[torch.Tensor, Any]:
        """One forward of the encoder from x_t: x0 and the base model's output with every layer's hidden states.
        The LM head, which on a 30k vocabulary costs as much as the rest of a MiniLM, is left to the caller, to
        apply at the real tokens only (``masked_lm_head``)."""
        captured: dict[str, torch.Tensor] = {}
        with noised_embeddings(self.net, self.schedule, t, noise, captured):
            output = self.net.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                         output_hidden_states=True)
        return captured["x0"], output

    def loss_terms(self, batch: dict[str, torch.Tensor], t: torch.Tensor, noise) -> dict[str, torch.Tensor]:
        """The three terms of the objective at timesteps ``t`` ``(B,)`` (each a scalar)."""
        x0, output = self.denoise(batch, t, noise)
        h = output.hidden_states[-1]
        real = batch["attention_mask"].unsqueeze(-1).to(h.dtype)
        per_example = real.sum((1, 2)) * h.size(-1)
        mse = (((h - x0) ** 2) * real).sum((1, 2)) / per_example
        prior = ((self.schedule.prior_mean(x0) ** 2) * real).sum((1, 2)) / per_example
        targets = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, IGNORE_INDEX)
        cross_entropy = targeted_cross_entropy(masked_lm_head(self.net), h, targets)
        return {"mse": mse.mean(), "prior": prior.mean(), "cross_entropy": cross_entropy}

    def training_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """MSE(h, x0) + prior term + cross-entropy of the LM head on h, at t uniform in [0, T)."""
        t = torch.randint(0, self.schedule.steps, (len(batch["input_ids"]),), device=batch["input_ids"].device)
        terms = self.loss_terms(batch, t, torch.randn_like)
        if self.training:
            self.log_dict({f"train/{name}": value for name, value in terms.items()})
        return sum(terms.values())

    def _noised(self, batch: dict[str, torch.Tensor]) -> tuple[list[int], dict[str, torch.Tensor], Any]:
        """Every score timestep in one forward over the batch repeated per t, with the scoring noise:
        (timesteps, the repeated batch, the base model's output)."""
        timesteps = list(self.hparams.score_timesteps)
        repeated = {key: batch[key].repeat(len(timesteps), 1) for key in ("input_ids", "attention_mask")}
        t = torch.tensor(timesteps, device=batch["input_ids"].device).repeat_interleave(len(batch["input_ids"]))
        seed = self.hparams.score_seed
        _, output = self.denoise(repeated, t, lambda x0: example_noise(
            repeated["input_ids"], repeated["attention_mask"], x0.size(-1), seed).to(x0.dtype))
        return timesteps, repeated, output

    def score_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The reconstruction loss of each example at each score timestep: ``{"reconstruction_t600": (B,)}``."""
        timesteps, repeated, output = self._noised(batch)
        tokens = repeated["attention_mask"].bool()
        logits = masked_lm_head(self.net)(output.hidden_states[-1][tokens])
        losses = example_losses(logits, repeated["input_ids"][tokens], tokens).view(len(timesteps), -1)
        return {f"reconstruction_t{t}": losses[k] for k, t in enumerate(timesteps)}

    def features(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean-pooled penultimate-layer states ``(B, D)`` at the first score timestep (as upstream's Mahalanobis)."""
        timesteps, repeated, output = self._noised(batch)
        pooled = pool(output.hidden_states[-2], repeated["attention_mask"], "mean")
        return pooled.view(len(timesteps), len(batch["input_ids"]), -1)[0]
