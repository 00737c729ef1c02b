"""``BiEncoder``: a query encoder and a prompt (passage) encoder scored by a dot product (DPR).

The bi-encoder kind's module and the base of the UPRISE retriever. A batch holds queries and, per
query, its positive prompt followed by its negatives; every prompt of the batch is a candidate for
every query (in-batch negatives), and the loss is the cross-entropy of each query's scores against
its own positive (Karpukhin et al., 2020). Its folder holds two transformers encoder folders,
``query/`` and ``prompt/``, each with its tokenizer and sentence-transformers' module files, so
``AutoModel`` or ``SentenceTransformer`` opens either side; ``retriever.json`` says how to score.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import AutoModel

from zoo.errors import ZooError
from zoo.modules.base import ZooModule
from zoo.modules.encoder import preset_encoder_config, read_tokenizer, tokenizer_from_json, tokenizer_metadata
from zoo.nets import build_encoder, config_from_dict, pool
from zoo.nets.encoders import POOLINGS
from zoo.resolve import check_vocabulary, load_errors, verified_folder

SIDES = ("query", "prompt")
RETRIEVER_FILE = "retriever.json"


def sentence_transformers_files(folder: Path, pooling: str, width: int) -> None:
    """sentence-transformers' module files: a Transformer module, then the pooling the retriever uses."""
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    (folder / "modules.json").write_text(json.dumps(modules, indent=2) + "\n", encoding="utf-8")
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256, "do_lower_case": False})
                                                      + "\n", encoding="utf-8")
    (folder / "1_Pooling").mkdir()
    pooling_config = {"word_embedding_dimension": width, "pooling_mode_cls_token": pooling == "cls",
                      "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_max_tokens": False}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling_config, indent=2) + "\n", encoding="utf-8")


class BiEncoder(ZooModule):
    """Two encoders, one for queries and one for prompts, trained with in-batch negatives.

    Args:
        net: Encoder preset of both sides (``minilm-l6``, ``bert-test``); ignored with ``init_from``.
        net_overrides: ``BertConfig`` fields that change the preset.
        init_from: Both sides start from this encoder (a transformers folder: ``local-dir:``, ``hf-hub:``).
        tokenizer: The tokenizer of nets built from a preset (a folder or ``hf-hub:``).
        pooling: ``cls`` (DPR, UPRISE) or ``mean`` (sentence-transformers' MiniLM).
        learning_rate: Peak AdamW learning rate.
        weight_decay: AdamW weight decay on matrices.
        warmup_steps: Linear warm-up steps before the cosine decay.
        min_lr_ratio: Final learning rate as a share of the peak.
        betas: AdamW betas.
    """

    kind = "bi-encoder"
    library_name = "sentence-transformers"
    pipeline_tag = "sentence-similarity"
    training_only_hparams = ("init_from", "tokenizer")

    def __init__(self, net: str = "minilm-l6", net_overrides: dict[str, Any] | None = None,
                 init_from: str | None = None, tokenizer: str | None = None, pooling: str = "cls",
                 learning_rate: float = 1e-5, weight_decay: float = 0.0, warmup_steps: int = 100,
                 min_lr_ratio: float = 0.0, betas: tuple[float, float] = (0.9, 0.999)):
        super().__init__()
        if pooling not in POOLINGS:
            raise ZooError(f"unknown pooling '{pooling}'; choose one of {', '.join(POOLINGS)}")
        self.save_hyperparameters()
        self.encoders = torch.nn.ModuleDict()
        self.tokenizer = None
        if init_from:
            folder, _ = verified_folder(init_from)
            self.encoders.update({side: self.read_encoder(folder) for side in SIDES})
            self.tokenizer = read_tokenizer(str(folder))
        elif tokenizer:
            self.tokenizer, config = preset_encoder_config(net, tokenizer, net_overrides)
            self.encoders.update({side: build_encoder(config) for side in SIDES})

    @staticmethod
    def read_encoder(folder: Path):
        try:
            return AutoModel.from_pretrained(folder, add_pooling_layer=False, trust_remote_code=False)
        except load_errors() as error:
            raise ZooError(f"{folder}: cannot load as an encoder ({str(error).splitlines()[0][:160]}); "
                           "check config.json and the weights, or re-export the folder") from None

    def configure_model(self) -> None:
        if not self.encoders:
            raise ZooError("BiEncoder needs weights or a tokenizer: set init_args.init_from or init_args.tokenizer")

    def encode(self, side: str, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(B, D)`` of one side's texts."""
        hidden = self.encoders[side](input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return pool(hidden, attention_mask, self.hparams.pooling)

    def scores(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Dot products ``(queries, prompts)`` of every query with every prompt of the batch."""
        queries = self.encode("query", batch["query_input_ids"], batch["query_attention_mask"])
        prompts = self.encode("prompt", batch["prompt_input_ids"], batch["prompt_attention_mask"])
        return queries @ prompts.T

    def training_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """DPR's loss: each query's positive is the first of its ``prompts_per_query`` prompts."""
        scores = self.scores(batch)
        per_query = scores.size(1) // scores.size(0)
        positives = torch.arange(scores.size(0), device=scores.device) * per_query
        return F.cross_entropy(scores, positives)

    # ------------------------------------------------------------------ artifact
    def save_artifacts(self, folder: Path) -> None:
        """``query/`` and ``prompt/`` encoder folders (with sentence-transformers' files) and ``retriever.json``."""
        for side in SIDES:
            self.encoders[side].save_pretrained(folder / side, safe_serialization=True)
            self.tokenizer.save_pretrained(folder / side)
            sentence_transformers_files(folder / side, self.hparams.pooling, self.encoders[side].config.hidden_size)
        # index: the prompt pool's embeddings, once a retriever system writes them (pool hash, file, size).
        scoring = {"sides": list(SIDES), "pooling": self.hparams.pooling, "similarity": "dot", "index": None}
        (folder / RETRIEVER_FILE).write_text(json.dumps(scoring, indent=2) + "\n", encoding="utf-8")

    def artifact_metadata(self) -> dict[str, Any]:
        return {"net_config": self.encoders["query"].config.to_dict(), **tokenizer_metadata(self.tokenizer)}

    def restore_artifacts(self, metadata: dict[str, Any]) -> None:
        config = config_from_dict(metadata["net_config"])
        self.encoders.update({side: build_encoder(config) for side in SIDES})
        self.tokenizer = tokenizer_from_json(metadata["tokenizer_json"], metadata["special_tokens"])

    @classmethod
    def from_folder(cls, folder: Path, card: dict[str, Any] | None) -> "BiEncoder":
        if card is None:
            raise ZooError(f"{folder}: a bi-encoder folder needs its zoo card; a plain encoder folder loads as "
                           "an encoder, or continue from it with init_from")
        folder = Path(folder)
        # How to score is read from the hashed retriever.json, not the card: the folder's identity covers it.
        scoring = json.loads((folder / RETRIEVER_FILE).read_text(encoding="utf-8"))
        module = cls(**{**cls.init_hparams(card.get("hparams", {})), "pooling": scoring["pooling"]})
        module.encoders.update({side: cls.read_encoder(folder / side) for side in SIDES})
        module.tokenizer = read_tokenizer(str(folder / "query"))
        check_vocabulary(module.encoders["query"], module.tokenizer, folder)
        return module.eval()

    @classmethod
    def load_snippet(cls, folder: str) -> list[str]:
        return ["from sentence_transformers import SentenceTransformer",
                f"queries = SentenceTransformer({folder + '/query'!r})",
                f"prompts = SentenceTransformer({folder + '/prompt'!r})"]
