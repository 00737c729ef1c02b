"""``CausalLM``: next-token pre-training of a HF causal LM, the base of the zoo's LM systems.

Training minimises the mean next-token cross-entropy over packed blocks (no padding, so
attention runs on PyTorch's causal SDPA path without a mask). Validation and test report
perplexity; on tinyworld data the test also scores held-out facts as multiple choice, by the
summed log-likelihood of each option (lm-eval's ``acc``). ``predict_step`` generates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric
from torchmetrics.text import Perplexity

from datamodules.base import IGNORE_INDEX
from datamodules.tokenizer import tokenizer_json, wrap_fast_tokenizer
from zoo.errors import ZooError
from zoo.modules.base import ZooModule, targeted_cross_entropy
from zoo.nets import build_causal_lm, causal_lm_config, config_from_dict
from zoo.resolve import load_pretrained, read_causal_lm


class CausalLM(ZooModule):
    """A causal language model trained from scratch or continued from a zoo/HF checkpoint.

    Args:
        net: Backbone preset (``llama-tiny``, ``llama-small``, ``llama-test``); ignored with ``init_from``.
        net_overrides: ``LlamaConfig`` fields that change the preset, e.g. ``{"num_hidden_layers": 2}``.
        init_from: Start from these weights and tokenizer: a zoo name, ``local-dir:/path`` or
            ``hf-hub:org/name`` (continued pre-training).
        learning_rate: Peak AdamW learning rate.
        weight_decay: AdamW weight decay on matrices (not on norms and biases).
        warmup_steps: Linear warm-up steps before the cosine decay.
        min_lr_ratio: Final learning rate as a share of the peak.
        betas: AdamW betas.
        max_new_tokens: Tokens generated per prompt by ``predict``.
    """

    kind = "causal-lm"
    pipeline_tag = "text-generation"
    training_only_hparams = ("init_from",)

    def __init__(self, net: str = "llama-tiny", net_overrides: dict[str, Any] | None = None,
                 init_from: str | None = None, learning_rate: float = 2e-3, weight_decay: float = 0.1,
                 warmup_steps: int = 50, min_lr_ratio: float = 0.1, betas: tuple[float, float] = (0.9, 0.95),
                 max_new_tokens: int = 16):
        super().__init__()
        self.save_hyperparameters()
        self.net = None
        self.tokenizer = None
        if init_from:
            self.net, self.tokenizer = load_pretrained(init_from)
        self.val_ppl = Perplexity(ignore_index=IGNORE_INDEX)
        self.test_ppl = Perplexity(ignore_index=IGNORE_INDEX)
        self.test_acc = torch.nn.ModuleDict({name: MeanMetric() for name in ("cloze", "question", "open_book")})

    # ------------------------------------------------------------------ model
    def configure_model(self) -> None:
        """Build the net for the DataModule's tokenizer, or check a loaded one matches it."""
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer else None
        data_tokenizer = getattr(datamodule, "tokenizer", None)
        if self.net is not None:
            if data_tokenizer is not None and data_tokenizer.get_vocab() != self.tokenizer.get_vocab():
                raise ZooError(
                    f"tokenizer/model vocabulary mismatch: the model ({self.hparams.init_from}) has a "
                    f"{len(self.tokenizer)}-token vocabulary, --data.tokenizer={datamodule.tokenizer_spec} "
                    f"has {len(data_tokenizer)} different ones; set --data.tokenizer to the model's folder")
            return
        if data_tokenizer is None:
            raise ZooError("CausalLM needs a tokenizer to size its vocabulary: pass a DataModule or use init_from")
        self.build_net(data_tokenizer)

    def build_net(self, tokenizer) -> None:
        """Create the randomly initialised net of ``hparams.net`` for ``tokenizer``'s vocabulary."""
        self.tokenizer = tokenizer
        special = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                   "pad_token_id": tokenizer.pad_token_id}
        config = causal_lm_config(self.hparams.net, len(tokenizer), special, **(self.hparams.net_overrides or {}))
        self.net = build_causal_lm(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, T, V)``."""
        return self.net(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits

    def lm_loss(self, input_ids: torch.Tensor, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mean next-token cross-entropy of packed blocks, with the logits and their targets.

        The targets default to the inputs shifted left and padded with the ignore index, instead
        of slicing the logits: a sliced ``(B, T-1, V)`` view would be copied whole by ``reshape``,
        which cost ~4 % of a llama-tiny training step (benchmarks/perf/fit_throughput.py).
        """
        logits = self(input_ids)
        if targets is None:
            targets = F.pad(input_ids[:, 1:], (0, 1), value=IGNORE_INDEX)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=IGNORE_INDEX)
        return loss, logits, targets

    def target_loss(self, input_ids: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """``lm_loss``'s loss alone (what training needs), the output layer applied only where there is a target."""
        if targets is None:
            targets = F.pad(input_ids[:, 1:], (0, 1), value=IGNORE_INDEX)
        hidden = self.net.get_decoder()(input_ids=input_ids, use_cache=False).last_hidden_state
        return targeted_cross_entropy(self.net.get_output_embeddings(), hidden, targets)

    @staticmethod
    def batch_targets(batch: dict) -> torch.Tensor | None:
        """The targets of a batch that carries ``labels`` (documents packed whole: padding and repeated context
        are -100), shifted left; None for packed blocks, whose every token is a target."""
        if "labels" not in batch:
            return None
        return F.pad(batch["labels"][:, 1:], (0, 1), value=IGNORE_INDEX)

    # ------------------------------------------------------------------ steps
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.target_loss(batch["input_ids"], self.batch_targets(batch))
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        loss, logits, targets = self.lm_loss(batch["input_ids"], self.batch_targets(batch))
        self.val_ppl(logits, targets)
        self.log("val/loss", loss, prog_bar=True, sync_dist=True)
        self.log("val/ppl", self.val_ppl, prog_bar=True)

    def test_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        if "continuation_mask" in batch:
            names = self.trainer.datamodule.test_loader_names()
            scores = self.choice_loglikelihoods(batch)
            metric = self.test_acc[names[dataloader_idx]]
            metric((scores.argmax(-1) == batch["gold"]).float())
            self.log(f"test/{names[dataloader_idx]}_acc", metric, add_dataloader_idx=False)
            return
        loss, logits, targets = self.lm_loss(batch["input_ids"], self.batch_targets(batch))
        self.test_ppl(logits, targets)
        self.log("test/loss", loss, add_dataloader_idx=False, sync_dist=True)
        self.log("test/ppl", self.test_ppl, add_dataloader_idx=False)

    def choice_loglikelihoods(self, batch: dict) -> torch.Tensor:
        """Summed log-probability of each option's tokens given its context: ``(items, options)``."""
        # Position t predicts token t+1.
        logits, targets = self(batch["input_ids"], batch["attention_mask"])[:, :-1], batch["input_ids"][:, 1:]
        token_logprobs = torch.log_softmax(logits.float(), -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        per_row = (token_logprobs * batch["continuation_mask"][:, 1:]).sum(-1)
        return per_row.view(-1, int(batch["n_choices"]))

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> list[dict[str, str]]:
        """Greedy completions of left-padded prompts."""
        generated = self.net.generate(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], do_sample=False,
            max_new_tokens=self.hparams.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
        )
        completions = self.tokenizer.batch_decode(generated[:, batch["input_ids"].size(1):], skip_special_tokens=True)
        return [{"prompt": p, "completion": c} for p, c in zip(batch["prompt"], completions)]

    #: Import path of the ``DocumentTransform`` whose data a method trains on (None: any data).
    required_transform: str | None = None

    def on_fit_start(self) -> None:
        if self.required_transform is None:
            return
        import importlib

        module_path, _, name = self.required_transform.rpartition(".")
        transform = getattr(self.trainer.datamodule, "transform", None)
        if not isinstance(transform, getattr(importlib.import_module(module_path), name)):
            raise ZooError(f"{type(self).__name__} trains on the data its method writes: set "
                           f"--data.init_args.transform to {self.required_transform} (the raw-text baseline is "
                           "zoo.modules.CausalLM)")

    # ------------------------------------------------------------------ artifact
    def save_artifacts(self, folder: Path) -> None:
        """A transformers causal-LM folder: ``config.json``, ``model.safetensors``, tokenizer files."""
        self.net.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)

    def artifact_metadata(self) -> dict[str, Any]:
        return {"net_config": self.net.config.to_dict(), "tokenizer_json": tokenizer_json(self.tokenizer)}

    def restore_artifacts(self, metadata: dict[str, Any]) -> None:
        self.net = build_causal_lm(config_from_dict(metadata["net_config"]))
        self.tokenizer = wrap_fast_tokenizer(metadata["tokenizer_json"])

    @classmethod
    def from_folder(cls, folder: Path, card: dict[str, Any] | None) -> "CausalLM":
        """Rebuild the module of an exported folder (weights and tokenizer from the folder)."""
        module = cls(**cls.init_hparams((card or {}).get("hparams", {})))
        module.net, module.tokenizer = read_causal_lm(folder, exact_vocabulary=card is not None)
        return module.eval()

    @classmethod
    def load_snippet(cls, folder: str) -> list[str]:
        return ["from transformers import AutoModelForCausalLM, AutoTokenizer",
                f"model = AutoModelForCausalLM.from_pretrained({folder!r})",
                f"tokenizer = AutoTokenizer.from_pretrained({folder!r})"]
