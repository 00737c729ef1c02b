"""UPRISE's data (Cheng et al., "UPRISE: Universal Prompt Retrieval for Improving Zero-Shot Evaluation",
EMNLP 2023): task clusters, the prompt pool, LM-scored candidates and the retriever's training examples.

The pipeline, as upstream (microsoft/LMOps, ``uprise/``) runs it:

1. The **prompt pool** is the training clusters' examples, each rendered as a demonstration
   (input + answer). The held-out cluster is never in it.
2. **Candidates**: for each training input, ``n_candidates`` (L = 50) examples of the same task drawn
   from the pool, never the input itself, seeded by the input.
3. **Scoring**: a frozen LM reads each candidate then the input (``demonstration \\n input``,
   upstream's separator) and scores every option by its mean token loss; a candidate's score is the
   gold option's loss L1-normalised over the options, and whether the LM's choice was right
   (:func:`score_candidates`, cached under ``ZOO_HOME`` in numbered shards that resume).
4. **Examples**: the positive is the best-scored candidate among those that made the LM right
   (inputs with none are dropped), the hard negatives the worst-scored, the random negatives drawn
   from other tasks of the pool; a 90/10 train/validation split.

``RetrievalDataModule`` serves step 4 to a bi-encoder (``zoo.modules.UpriseRetriever``).
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from datamodules.base import ZooDataModule
from datamodules.checks import check_int
from datamodules.option_scoring import plain_row, score_rows, shared_row
from datamodules.tinyworld import WorldConfig
from datamodules.tinyworld.clusters import CLUSTERS, DEMO_SEPARATOR, ClusterItem, cluster_items
from zoo.errors import ZooError
from zoo.hashing import fingerprint
from zoo.paths import atomic_write_text, cache_dir

#: Bump when scoring changes, so cached scores are redone.
SCORING_VERSION = 1
#: Share of scored training inputs kept for validation (upstream: 10 %).
VALIDATION_SHARE = 0.1
#: Held-out items per test batch (each batch retrieves and scores its prompts at once).
TEST_BATCH = 100


#: Where the clusters come from: the tinyworld generator, or the real sets under ``ZOO_DATA_DIR``.
CLUSTER_SOURCES = ("tinyworld", "zoo-data")


@dataclass(frozen=True)
class Clusters:
    """The task clusters and the one held out of the retriever's training.

    Args:
        source: ``tinyworld`` (``datamodules.tinyworld.clusters``: one world's facts in four formats) or
            ``zoo-data`` (``datamodules.real_clusters``: ARC, OBQA, COPA, PIQA, SIQA, CSQA, WinoGrande,
            WSC, BoolQ, SST-2 from ``ZOO_DATA_DIR``).
        domain: The tinyworld domain of the facts.
        world_seed: The world's seed (the scoring LM must not have been trained on it).
        n_entities: Entities of the world (every cluster asks about each of their facts).
        held_out: The cluster the retriever never sees: its examples are the test inputs, never prompts.
        per_task: Keep at most this many examples of each task (a seeded subsample; upstream: 10,000).
    """

    source: str = "tinyworld"
    domain: str = "general"
    world_seed: int = 11
    n_entities: int = 30
    held_out: str = "closed_qa"
    per_task: int | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The clusters of this source."""
        from datamodules.real_clusters import REAL_CLUSTERS

        return CLUSTERS if self.source == "tinyworld" else tuple(REAL_CLUSTERS)

    def __post_init__(self) -> None:
        if self.source not in CLUSTER_SOURCES:
            raise ZooError(f"clusters source={self.source!r}; choose one of {', '.join(CLUSTER_SOURCES)}")
        if self.held_out not in self.names:
            raise ZooError(f"held_out={self.held_out!r} is not a cluster of {self.source}; choose one of "
                           f"{', '.join(self.names)}")
        if self.per_task is not None:
            check_int("per_task", self.per_task, 1, "examples per task in the pool")
        try:
            WorldConfig(domain=self.domain, seed=self.world_seed, n_entities=self.n_entities)
        except (ValueError, TypeError) as error:
            raise ZooError(f"clusters: {error}") from None

    def items(self) -> list[ClusterItem]:
        """Every cluster's examples, ``per_task`` of each task at most (a seeded subsample, in order); made or
        read once per process (the pool and the test set are asked for per test batch)."""
        return list(_cluster_items(self))

    def _make_items(self) -> list[ClusterItem]:
        if self.source == "zoo-data":
            from datamodules.real_clusters import real_cluster_items

            items = real_cluster_items()
        else:
            items = cluster_items(WorldConfig(domain=self.domain, seed=self.world_seed, n_entities=self.n_entities))
        if self.per_task is None:
            return items
        by_task: dict[str, list[int]] = {}
        for index, item in enumerate(items):
            by_task.setdefault(task_of(item), []).append(index)
        kept = {index for task, indices in by_task.items()
                for index in (random.Random(f"uprise:pool:{task}").sample(indices, self.per_task)
                              if len(indices) > self.per_task else indices)}
        return [item for index, item in enumerate(items) if index in kept]

    def pool(self) -> list[ClusterItem]:
        """The training clusters' examples: the prompt pool and the retriever's training inputs."""
        return [item for item in self.items() if item.cluster != self.held_out]

    def test(self) -> list[ClusterItem]:
        """The held-out cluster's examples: the inputs a retriever is tested on."""
        return [item for item in self.items() if item.cluster == self.held_out]


@lru_cache(maxsize=4)
def _cluster_items(clusters: Clusters) -> tuple[ClusterItem, ...]:
    return tuple(clusters._make_items())


def task_of(item: ClusterItem) -> str:
    return f"{item.cluster}/{item.task}"


def sample_candidates(pool: list[ClusterItem], n_candidates: int, seed: int = 0) -> dict[str, list[str]]:
    """``n_candidates`` ids of the same task's pool examples per pool example, never itself.

    Each input's draw is seeded by its id and ``seed`` alone, so it does not change with the pool's
    order or with the other inputs (upstream seeds by the input's index within its task).
    """
    by_task: dict[str, list[str]] = {}
    for item in pool:
        by_task.setdefault(task_of(item), []).append(item.id)
    out = {}
    for item in pool:
        others = sorted(other for other in by_task[task_of(item)] if other != item.id)
        out[item.id] = random.Random(f"uprise:candidates:{seed}:{item.id}").sample(others, min(n_candidates, len(others)))
    return out


@torch.inference_mode()
def option_losses(net, tokenizer, contexts: list[str], options: list[tuple[str, ...]], batch_size: int = 64,
                  progress: str | None = None) -> list[list[float]]:
    """Mean token loss of each option after its context (upstream's multiple-choice score), options that
    share a context packed as one row (:mod:`datamodules.option_scoring`).

    Args:
        net: A causal LM (its decoder and output layer are used apart).
        tokenizer: Its tokenizer; a bos token, if it has one, starts every context.
        contexts: One text per question.
        options: The continuations of each context (with their leading space).
        batch_size: Rows per forward.
        progress: A progress bar's label, or None for none.

    Returns:
        Per context, the mean negative log-likelihood of each option's tokens.
    """
    encoded = tokenizer(contexts, add_special_tokens=False)["input_ids"]
    piece: dict[str, list[int]] = {}
    for choice in {o for opts in options for o in opts}:
        piece[choice] = tokenizer(choice, add_special_tokens=False)["input_ids"]
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    window = int(net.config.max_position_embeddings)
    shared, plain, lengths, n_requests = [], [], [], 0
    for context, opts in zip(encoded, options):
        continuations = [piece[o] for o in opts]
        if any(not c for c in continuations):
            raise ZooError(f"an option of {opts} has no tokens")
        if max(len(c) for c in continuations) >= window:
            raise ZooError(f"an option of {opts} is longer than the LM's {window}-token window; shorten it")
        members = list(range(n_requests, n_requests + len(opts)))
        # The context is cut from the left so that it and every option's branch fit the LM's window; options that
        # do not fit as branches of one row are scored each alone, cut from the left as lm-eval cuts.
        room = window - len(bos) - sum(len(c) - 1 for c in continuations)
        if room >= 1:
            shared.append(shared_row(bos + context[-room:], members, continuations))
        else:
            plain += [plain_row(m, bos + context, c, window) for m, c in zip(members, continuations)]
        lengths.append([len(c) for c in continuations])
        n_requests += len(opts)
    decoder, output_layer = net.get_decoder(), net.get_output_embeddings()
    device = next(net.parameters()).device
    sums: dict[int, float] = {}
    batches = []
    for rows, masked in ((shared, True), (plain, False)):
        rows = sorted(rows, key=lambda row: -len(row.tokens))
        batches += [(rows[start:start + batch_size], masked) for start in range(0, len(rows), batch_size)]
    for batch, masked in tqdm(batches, desc=progress, disable=progress is None, unit="batch"):
        sums.update({index: total for index, (total, _) in score_rows(decoder, output_layer, batch, masked, device)})
    out, index = [], 0
    for counts in lengths:
        out.append([-sums[index + k] / n for k, n in enumerate(counts)])
        index += len(counts)
    return out


def one_shot_contexts(prompts: list[str], item: ClusterItem) -> str:
    """The LM's context: the prompts (the best-matching last, next to the input), then the input."""
    return DEMO_SEPARATOR.join([*prompts, item.input])


def score_candidates(net, tokenizer, pool: list[ClusterItem], candidates: dict[str, list[str]],
                     inputs: list[ClusterItem], batch_size: int = 64, progress: str | None = None) -> list[dict]:
    """Scores each input's candidates one-shot with a frozen LM (UPRISE's step 3).

    Returns:
        Per input: ``id``, ``candidates`` sorted by their score (best first), ``scores`` (the gold
        option's mean loss over the sum of the options' mean losses: lower is better) and ``correct``
        (whether the LM's lowest-loss option was the gold one), in that order.
    """
    by_id = {item.id: item for item in pool}
    contexts, options, owners = [], [], []
    for item in inputs:
        for candidate in candidates[item.id]:
            contexts.append(one_shot_contexts([by_id[candidate].demonstration], item))
            options.append(item.options)
            owners.append((item, candidate))
    losses = option_losses(net, tokenizer, contexts, options, batch_size, progress)
    scored: dict[str, list[tuple[float, bool, str]]] = {item.id: [] for item in inputs}
    for (item, candidate), loss in zip(owners, losses):
        gold = item.answer_index
        scored[item.id].append((loss[gold] / sum(loss), min(range(len(loss)), key=loss.__getitem__) == gold, candidate))
    rows = []
    for item in inputs:
        ranked = sorted(scored[item.id], key=lambda entry: entry[0])  # stable: ties keep the draw's order
        rows.append({"id": item.id, "candidates": [c for _, _, c in ranked], "scores": [s for s, _, _ in ranked],
                     "correct": [r for _, r, _ in ranked]})
    return rows


def scored_candidates(scorer: str, clusters: Clusters, n_candidates: int, seed: int = 0, out: Path | None = None,
                      shard_size: int = 256, batch_size: int = 64) -> list[dict]:
    """Every pool input's scored candidates, written as numbered shards that resume.

    Args:
        scorer: The frozen causal LM: a zoo name, ``local-dir:PATH`` or ``hf-hub:org/name``.
        clusters: The clusters (their pool gives the inputs and the candidates).
        n_candidates: Candidates per input (L).
        seed: Seed of the candidates' draw.
        out: Folder of the shards; unset, a cache folder under ``ZOO_HOME`` keyed by the scorer's
            identity and every setting, so a retrained scorer is never served stale scores.
        shard_size: Inputs per shard (the unit of resume).
        batch_size: Rows per forward of the scorer.

    Returns:
        The rows of :func:`score_candidates`, in pool order.
    """
    from zoo.resolve import load_pretrained, model_identity, resolve

    check_int("n_candidates", n_candidates, 1, "candidates per input (upstream: 50)")
    resolve(scorer)  # an unknown or unbuilt scorer is an error here, not a cache key
    settings = {"scorer": model_identity(scorer), "clusters": asdict(clusters), "n_candidates": n_candidates,
                "seed": seed, "version": SCORING_VERSION}
    folder = Path(out) if out else cache_dir("uprise-scores") / fingerprint("uprise-scores", settings)
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / "settings.json"
    if record.is_file() and json.loads(record.read_text(encoding="utf-8")) != settings:
        raise ZooError(f"{folder} holds scores made with other settings; pass a fresh --out folder or delete it")
    atomic_write_text(record, json.dumps(settings, indent=1, sort_keys=True) + "\n")
    pool = clusters.pool()
    candidates = sample_candidates(pool, n_candidates, seed)
    shards = [pool[start:start + shard_size] for start in range(0, len(pool), shard_size)]
    model = None
    rows = []
    for number, inputs in enumerate(shards):
        path = folder / f"shard-{number:05d}.jsonl"
        if not path.is_file():
            if model is None:
                model = load_pretrained(scorer)
            scored = score_candidates(*model, pool, candidates, inputs, batch_size,
                                      progress=f"scoring shard {number + 1}/{len(shards)} with {scorer}")
            atomic_write_text(path, "".join(json.dumps(row) + "\n" for row in scored))
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return rows


def training_examples(rows: list[dict], pool: list[ClusterItem], hard_negatives: int, random_negatives: int,
                      seed: int = 0) -> list[dict]:
    """The retriever's examples from scored candidates (UPRISE's step 4).

    The positive is the best-scored candidate among those that made the LM right (an input without
    one is dropped); the hard negatives are the ``hard_negatives`` worst-scored other candidates; the
    random negatives are drawn from the pool's other tasks (upstream's multi-task rule), seeded by the input.

    Returns:
        ``{"id", "query", "prompts"}``: the input's text, then the positive's, the hard and the random
        negatives' demonstrations, in that order.
    """
    by_id = {item.id: item for item in pool}
    others = {task: sorted(item.id for item in pool if task_of(item) != task) for task in set(map(task_of, pool))}
    examples = []
    for row in rows:
        right = [candidate for candidate, correct in zip(row["candidates"], row["correct"]) if correct]
        if not right:
            continue
        positive = right[0]
        hard = [c for c in row["candidates"] if c != positive][-hard_negatives:] if hard_negatives else []
        other_tasks = others[task_of(by_id[row["id"]])]
        drawn = random.Random(f"uprise:negatives:{seed}:{row['id']}").sample(other_tasks,
                                                                               min(random_negatives, len(other_tasks)))
        examples.append({"id": row["id"], "query": by_id[row["id"]].input,
                         "prompts": [by_id[c].demonstration for c in (positive, *hard, *drawn)]})
    return examples


class RetrievalDataModule(ZooDataModule):
    """Queries with their positive, hard and random negative prompts, for a bi-encoder.

    Args:
        scorer: The frozen causal LM that scores the candidates: a zoo name, ``local-dir:`` or ``hf-hub:``.
        clusters: The task clusters and the held-out one.
        n_candidates: Candidates scored per training input (upstream L = 50).
        hard_negatives: Worst-scored candidates per query (upstream 20).
        random_negatives: Prompts of other tasks per query (upstream 20).
        tokenizer: The retriever's tokenizer (a zoo name such as ``minilm-l6-v2``, a folder or ``hf-hub:``).
        query_length: Longest query, in tokens (upstream 256).
        prompt_length: Longest prompt, in tokens (upstream 256).
        batch_size: Queries per step (upstream 16); every query's prompts are negatives of the others.
        scoring_batch_size: Rows per forward of the scorer.
        seed: Seed of the data order (the candidates and the random negatives are drawn once, with seed 0, so a
            study's seeds leave the retriever's examples as they are).

    Raises:
        ZooError: for a count below its minimum or an unknown cluster.
    """

    def __init__(self, scorer: str = "uprise-lm-tiny", clusters: Clusters = Clusters(), n_candidates: int = 50,
                 hard_negatives: int = 20, random_negatives: int = 20, tokenizer: str = "minilm-l6-v2",
                 query_length: int = 256, prompt_length: int = 256, batch_size: int = 16,
                 scoring_batch_size: int = 64, seed: int = 0):
        super().__init__(tokenizer=tokenizer, batch_size=batch_size, seed=seed)
        check_int("--data.n_candidates", n_candidates, 2, "candidates scored per input (upstream: 50)")
        check_int("--data.hard_negatives", hard_negatives, 0, "worst-scored candidates per query")
        check_int("--data.random_negatives", random_negatives, 0, "prompts of other tasks per query")
        if hard_negatives >= n_candidates:
            raise ZooError(f"--data.hard_negatives={hard_negatives} needs more candidates: set --data.n_candidates "
                           f"above it (got {n_candidates})")
        check_int("--data.query_length", query_length, 8, "tokens per query")
        check_int("--data.prompt_length", prompt_length, 8, "tokens per prompt")
        self.scorer, self.clusters, self.n_candidates = scorer, clusters, n_candidates
        self.hard_negatives, self.random_negatives = hard_negatives, random_negatives
        self.query_length, self.prompt_length, self.scoring_batch_size = query_length, prompt_length, scoring_batch_size
        self.examples: dict[str, list[dict]] = {}

    def prepare_data(self) -> None:
        scored_candidates(self.scorer, self.clusters, self.n_candidates, batch_size=self.scoring_batch_size)

    def setup(self, stage: str | None = None) -> None:
        if self.examples or stage == "test":
            return
        rows = scored_candidates(self.scorer, self.clusters, self.n_candidates, batch_size=self.scoring_batch_size)
        examples = training_examples(rows, self.clusters.pool(), self.hard_negatives, self.random_negatives)
        if len(examples) < 2:
            raise ZooError(f"only {len(examples)} training inputs have a candidate that made {self.scorer} right; "
                           "use a scorer that reads prompts, or more candidates (--data.n_candidates)")
        order = list(range(len(examples)))
        random.Random("uprise:split").shuffle(order)  # a fixed split: the seed varies the data order only
        n_val = max(1, round(len(examples) * VALIDATION_SHARE))
        self.examples = {"val": [examples[i] for i in sorted(order[:n_val])],
                         "train": [examples[i] for i in sorted(order[n_val:])]}

    @property
    def fingerprint(self) -> str:
        """What the training examples depend on: the clusters, the scorer's identity and the counts."""
        from zoo.resolve import model_identity

        return fingerprint("uprise-examples", asdict(self.clusters), model_identity(self.scorer), self.n_candidates,
                           self.hard_negatives, self.random_negatives, SCORING_VERSION)

    @property
    def report(self) -> dict[str, Any]:
        """What the retriever was tuned on, for its card: the clusters, the LM that scored, the counts."""
        self.setup("fit")
        clusters = self.clusters
        return {"source": f"tinyworld:{clusters.domain} task clusters (world seed {clusters.world_seed}, "
                          f"{clusters.n_entities} entities), held out: {clusters.held_out}",
                "clusters": asdict(clusters), "scorer": self.scorer, "n_candidates": self.n_candidates,
                "hard_negatives": self.hard_negatives, "random_negatives": self.random_negatives,
                "examples": {split: len(rows) for split, rows in self.examples.items()}}

    def training_texts(self):
        """Each training query and prompt once (the retriever reads both)."""
        self.setup("fit")
        return iter(dict.fromkeys(text for example in self.examples["train"]
                                  for text in (example["query"], *example["prompts"])))

    def collate(self) -> Callable[[list[dict]], dict[str, torch.Tensor]]:
        tokenizer = self.tokenizer

        def encode(texts: list[str], length: int, prefix: str) -> dict[str, torch.Tensor]:
            batch = tokenizer(texts, truncation=True, max_length=length, padding=True, return_tensors="pt")
            return {f"{prefix}_input_ids": batch["input_ids"], f"{prefix}_attention_mask": batch["attention_mask"]}

        def collate(examples: list[dict]) -> dict[str, torch.Tensor]:
            return {**encode([e["query"] for e in examples], self.query_length, "query"),
                    **encode([p for e in examples for p in e["prompts"]], self.prompt_length, "prompt")}

        return collate

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(self.examples[split], batch_size=self.batch_size, shuffle=shuffle, generator=generator,
                          collate_fn=self.collate(), num_workers=self.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def prompt_pool(self) -> list[str]:
        """The training clusters' demonstrations: where a test input's prompts come from."""
        return [item.demonstration for item in self.clusters.pool()]

    def test_dataloader(self) -> DataLoader:
        """The held-out cluster's items, ``TEST_BATCH`` per batch, as dicts (Lightning's batch transfer cannot
        walk frozen dataclasses; ``ClusterItem.from_dict`` reads them back)."""
        return DataLoader(self.clusters.test(), batch_size=TEST_BATCH, shuffle=False,
                          collate_fn=lambda items: [item.to_dict() for item in items])

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)
