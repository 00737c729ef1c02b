"""``UpriseRetriever``: UPRISE's prompt retriever (Cheng et al., "UPRISE: Universal Prompt Retrieval for
Improving Zero-Shot Evaluation", EMNLP 2023; upstream microsoft/LMOps ``uprise/``).

A bi-encoder (a query encoder and a prompt encoder, each started from the same pretrained encoder,
CLS pooling, dot product) trained with DPR's loss: each query's positive prompt against its hard
negatives, its random negatives and every other query's prompts in the batch. Its data
(``datamodules.retrieval.RetrievalDataModule``) comes from a frozen LM that scored candidate prompts.

At inference the prompt pool is encoded once (cached under ``ZOO_HOME`` by the pool's texts and the
prompt encoder's weights) and each query gets its top-k prompts by an exact matrix product
(``zoo.nets.search``; FAISS as the option).

Its test phase is UPRISE's evaluation on the held-out cluster: each test input's multiple-choice
question answered by a frozen LM after ``num_prompts`` prompts from the pool (the best-matching one
last, next to the input, as upstream orders them), the prompts picked by ``prompt_source``: the
retriever itself, or a baseline (none, random, BM25, the off-the-shelf MiniLM), so that a study's arms
are this recipe with another source. It logs ``test/acc`` for the LM that scored the training
candidates and ``test/transfer_acc`` for ``transfer_lm``, which did not.
"""

from __future__ import annotations

import hashlib
import random
from functools import lru_cache
from typing import Any

import torch

from zoo.errors import ZooError
from zoo.modules.bi_encoder import BiEncoder
from zoo.nets.search import exact_top_k, top_k
from zoo.paths import atomic_file, cache_dir

#: Where a held-out input's prompts come from: UPRISE's comparison.
PROMPT_SOURCES = ("none", "random", "bm25", "minilm", "uprise")
#: The off-the-shelf dense retriever: the offline all-MiniLM-L6-v2.
MINILM = "minilm-l6-v2"


def random_prompts(n_pool: int, ids: list[str], k: int, seed: int) -> list[list[int]]:
    """``k`` pool indices per input, drawn with a stream seeded by the input's id and ``seed``."""
    return [random.Random(f"uprise:random-prompts:{seed}:{item_id}").sample(range(n_pool), k) for item_id in ids]


def bm25_prompts(pool: list[str], queries: list[str], k: int) -> list[list[int]]:
    """The ``k`` pool indices BM25 ranks best for each query (``bm25s``, English stop words removed)."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(pool, stopwords="en", show_progress=False), show_progress=False)
    indices, _ = retriever.retrieve(bm25s.tokenize(queries, stopwords="en", show_progress=False), k=k,
                                    show_progress=False, n_threads=1)
    return [list(map(int, row)) for row in indices]


@lru_cache(maxsize=1)
def _minilm():
    from transformers import AutoModel, AutoTokenizer

    from zoo.resolve import resolve

    folder = resolve(MINILM)
    return AutoModel.from_pretrained(folder, trust_remote_code=False).eval(), AutoTokenizer.from_pretrained(folder)


@torch.inference_mode()
def _minilm_embeddings(texts: tuple[str, ...]) -> torch.Tensor:
    from zoo.nets import pool as pool_states

    model, tokenizer = _minilm()
    out = []
    for start in range(0, len(texts), 64):
        batch = tokenizer(list(texts[start:start + 64]), truncation=True, max_length=256, padding=True,
                          return_tensors="pt")
        states = model(**batch).last_hidden_state
        out.append(torch.nn.functional.normalize(pool_states(states, batch["attention_mask"], "mean"), dim=-1))
    return torch.cat(out)


#: The pool's MiniLM embeddings, kept for the process: a test set scored in batches encodes its pool once.
_minilm_pool_embeddings = lru_cache(maxsize=2)(_minilm_embeddings)


def minilm_prompts(pool: list[str], queries: list[str], k: int) -> list[list[int]]:
    """The ``k`` pool indices nearest each query by the pretrained MiniLM (mean pooling, cosine similarity,
    as sentence-transformers uses it)."""
    return exact_top_k(_minilm_embeddings(tuple(queries)), _minilm_pool_embeddings(tuple(pool)), k)[1].tolist()


@lru_cache(maxsize=4)
def answering_lm(reference: str):
    """A frozen causal LM and its tokenizer, loaded once per process."""
    from zoo.resolve import load_pretrained

    net, tokenizer = load_pretrained(reference)
    return net.eval(), tokenizer


def answered_right(lm: str, prompts: list[list[str]], items: list, batch_size: int = 64) -> list[bool]:
    """Whether the LM picks each item's gold option (the lowest mean token loss, as upstream) after its
    prompts (given best first; read best last, next to the input)."""
    from datamodules.retrieval import one_shot_contexts, option_losses

    net, tokenizer = answering_lm(lm)
    contexts = [one_shot_contexts(list(reversed(chosen)), item) for chosen, item in zip(prompts, items)]
    losses = option_losses(net, tokenizer, contexts, [item.options for item in items], batch_size)
    return [min(range(len(loss)), key=loss.__getitem__) == item.answer_index for loss, item in zip(losses, items)]


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
        prompt_source: Where the test phase's prompts come from: ``uprise`` (this retriever), ``none``,
            ``random``, ``bm25`` or ``minilm`` (the baselines).
        num_prompts: Prompts per test input (upstream 3).
        transfer_lm: A second LM the test phase answers with, one that did not score the candidates.
    """

    method = "UPRISE (Cheng et al., EMNLP 2023)"

    def __init__(self, net: str = "minilm-l6", net_overrides: dict[str, Any] | None = None,
                 init_from: str | None = "minilm-l6-v2", tokenizer: str | None = None, pooling: str = "cls",
                 learning_rate: float = 1e-5, weight_decay: float = 0.0, warmup_steps: int = 100,
                 min_lr_ratio: float = 0.0, betas: tuple[float, float] = (0.9, 0.999), prompt_source: str = "uprise",
                 num_prompts: int = 3, transfer_lm: str | None = None):
        super().__init__(net=net, net_overrides=net_overrides, init_from=init_from, tokenizer=tokenizer,
                         pooling=pooling, learning_rate=learning_rate, weight_decay=weight_decay,
                         warmup_steps=warmup_steps, min_lr_ratio=min_lr_ratio, betas=betas)
        if prompt_source not in PROMPT_SOURCES:
            raise ZooError(f"prompt_source={prompt_source!r}; choose one of {', '.join(PROMPT_SOURCES)}")
        if num_prompts < 1:
            raise ZooError(f"num_prompts must be at least 1 (got {num_prompts})")

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

    # ------------------------------------------------------------------ test: UPRISE's held-out evaluation
    def prompt_indices(self, source: str, pool: list[str], items: list, seed: int = 0,
                       k: int | None = None) -> list[list[int]]:
        """``k`` (default ``num_prompts``) pool indices per item, best first, from ``source``."""
        k, queries = k or self.hparams.num_prompts, [item.input for item in items]
        if source == "none":
            return [[] for _ in items]
        if source == "random":
            return random_prompts(len(pool), [item.id for item in items], k, seed)
        if source == "bm25":
            return bm25_prompts(pool, queries, k)
        if source == "minilm":
            return minilm_prompts(pool, queries, k)
        return self.retrieve(queries, pool, k)[1].tolist()

    def test_step(self, batch: list, batch_idx: int) -> None:
        """Held-out items answered by the scoring LM (``test/acc``) and the transfer LM (``test/transfer_acc``)
        after the prompts of ``prompt_source``."""
        from datamodules.tinyworld.clusters import ClusterItem

        data, batch = self.trainer.datamodule, [ClusterItem.from_dict(fields) for fields in batch]
        pool = data.prompt_pool()
        chosen = [[pool[i] for i in row] for row in
                  self.prompt_indices(self.hparams.prompt_source, pool, batch, seed=data.seed)]
        lms = {"test/acc": data.scorer, "test/transfer_acc": self.hparams.transfer_lm}
        for metric, lm in lms.items():
            if lm:
                right = answered_right(lm, chosen, batch)
                self.log(metric, sum(right) / len(right), batch_size=len(batch), sync_dist=True)

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

