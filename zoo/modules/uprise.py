"""``UpriseRetriever``: UPRISE's prompt retriever (Cheng et al., "UPRISE: Universal Prompt Retrieval for
Improving Zero-Shot Evaluation", EMNLP 2023; upstream microsoft/LMOps ``uprise/``).

A bi-encoder (a query encoder and a prompt encoder, each started from the same pretrained encoder,
CLS pooling, dot product) trained with DPR's loss: each query's positive prompt against its hard
negatives, its random negatives and every other query's prompts in the batch. Its data
(``datamodules.retrieval.RetrievalDataModule``) comes from a frozen LM that scored candidate prompts.

At inference the prompt pool is encoded once (cached under ``ZOO_HOME`` by the pool's texts and the
prompt encoder's weights) and each query gets its top-k prompts by an exact matrix product
(``zoo.nets.search``; FAISS as the option).
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch

from zoo.modules.bi_encoder import BiEncoder
from zoo.nets.search import top_k
from zoo.paths import atomic_file, cache_dir


class UpriseRetriever(BiEncoder):
    """UPRISE's retriever; the defaults are upstream's (lr 1e-5, no weight decay, CLS pooling), with a
    cosine decay after the warm-up where upstream decays linearly.

    Args:
        net: Encoder preset of both sides (``minilm-l6``, ``bert-test``); ignored with ``init_from``.
        net_overrides: ``BertConfig`` fields that change the preset.
        init_from: Both sides start from this encoder (upstream: bert-base-uncased; here the offline
            MiniLM, ``minilm-l6-v2``).
        tokenizer: The tokenizer of nets built from a preset.
        pooling: ``cls`` (upstream) or ``mean``.
        learning_rate: Peak AdamW learning rate.
        weight_decay: AdamW weight decay on matrices.
        warmup_steps: Linear warm-up steps.
        min_lr_ratio: Final learning rate as a share of the peak.
        betas: AdamW betas.
    """

    method = "UPRISE (Cheng et al., EMNLP 2023)"

    def __init__(self, net: str = "minilm-l6", net_overrides: dict[str, Any] | None = None,
                 init_from: str | None = "minilm-l6-v2", tokenizer: str | None = None, pooling: str = "cls",
                 learning_rate: float = 1e-5, weight_decay: float = 0.0, warmup_steps: int = 100,
                 min_lr_ratio: float = 0.0, betas: tuple[float, float] = (0.9, 0.999)):
        super().__init__(net=net, net_overrides=net_overrides, init_from=init_from, tokenizer=tokenizer,
                         pooling=pooling, learning_rate=learning_rate, weight_decay=weight_decay,
                         warmup_steps=warmup_steps, min_lr_ratio=min_lr_ratio, betas=betas)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.training_loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["query_input_ids"].size(0))
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        """The loss and upstream's validation measure: the mean rank of each query's positive among all
        the batch's prompts (1 is best)."""
        scores = self.scores(batch)
        per_query = scores.size(1) // scores.size(0)
        positives = torch.arange(scores.size(0), device=scores.device) * per_query
        rank = 1 + (scores > scores.gather(1, positives[:, None])).sum(1).float()
        size = scores.size(0)
        self.log("val/loss", torch.nn.functional.cross_entropy(scores, positives), prog_bar=True, sync_dist=True,
                 batch_size=size)
        self.log("val/avg_rank", rank.mean(), sync_dist=True, batch_size=size)

    @torch.inference_mode()
    def embed(self, side: str, texts: list[str], max_length: int = 256, batch_size: int = 64) -> torch.Tensor:
        """Embeddings ``(len(texts), D)`` of ``side``'s encoder (``query`` or ``prompt``)."""
        self.eval()
        device = next(self.parameters()).device
        out = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer(texts[start:start + batch_size], truncation=True, max_length=max_length,
                                   padding=True, return_tensors="pt").to(device)
            out.append(self.encode(side, batch["input_ids"], batch["attention_mask"]).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, self.encoders[side].config.hidden_size)

    def weights_fingerprint(self, side: str = "prompt") -> str:
        """sha256 of one side's weights and pooling: what its embeddings depend on."""
        digest = hashlib.sha256(self.hparams.pooling.encode())
        for name, tensor in sorted(self.encoders[side].state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def pool_embeddings(self, prompts: list[str], max_length: int = 256) -> torch.Tensor:
        """The prompt pool's embeddings, encoded once and cached by the pool's texts and the weights (new
        weights, or a changed pool, are a new cache entry: a retrained retriever never reads stale ones)."""
        from safetensors.torch import load_file, save

        texts = hashlib.sha256("\x00".join(prompts).encode()).hexdigest()
        key = hashlib.sha256(f"{texts}:{self.weights_fingerprint()}:{max_length}".encode()).hexdigest()[:32]
        path = cache_dir("uprise-index") / f"{key}.safetensors"
        if path.is_file():
            return load_file(path)["embeddings"]
        embeddings = self.embed("prompt", prompts, max_length)
        with atomic_file(path, "wb") as handle:
            handle.write(save({"embeddings": embeddings.contiguous()}))
        return embeddings

    def retrieve(self, queries: list[str], prompts: list[str], k: int = 3, backend: str = "exact",
                 max_length: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` best prompts of ``prompts`` for each query: ``(scores, indices)``, best first."""
        return top_k(self.embed("query", queries, max_length), self.pool_embeddings(prompts, max_length), k, backend)

