"""Data synthesis: reading comprehension (rc), token editing (toedit), sampling (sample), instruction pairs (instruct).

Synthesis with a model runs as Lightning predict of a synthesis module over numbered shards,
so it scales with the Trainer's strategies: arguments after -- go to the Trainer
(-- --trainer.strategy=ddp --trainer.devices=2). Finished shards are skipped, so running the
same command again resumes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jsonargparse.typing import PositiveInt

from zoo.errors import ZooError

if TYPE_CHECKING:  # resolved by jsonargparse when a verb's parser is built; importing them loads torch
    from datamodules.retrieval import Clusters
    from datamodules.transforms.token_editing import EditSettings

#: A split of a document source, as ``TextCorpusDataModule`` splits it.
Split = Literal["train", "val", "test"]


@dataclass(frozen=True)
class Shards:
    """Where a synthesis writes its shards, and how it batches them.

    Args:
        out: Output folder of numbered .jsonl shards (finished shards are skipped, so running again resumes).
        shard_size: Documents per shard (the unit of resume and of work per rank).
        batch_size: Documents per forward pass.
    """

    out: Path
    shard_size: PositiveInt = 256
    batch_size: PositiveInt = 16


def run_synthesis(model: dict[str, Any], data: dict[str, Any], shards: Shards,
                  trainer_args: Sequence[str] = ()) -> None:
    """``predict`` of a synthesis module over ``SynthesisDataModule`` shards, then a ``manifest.json``.

    Args:
        model: ``class_path`` and ``init_args`` of the synthesis LightningModule.
        data: ``SynthesisDataModule`` arguments besides the output folder and the shard settings.
        shards: Output folder and shard settings.
        trainer_args: LightningCLI arguments for the Trainer, e.g. ``--trainer.strategy=ddp``.
    """
    from datamodules.synthesis import read_shards
    from zoo.console import lightning_info_hidden, without_library_progress_bars
    from zoo.lightning_cli import lightning_cli
    from zoo.paths import atomic_write_text

    out = shards.out
    data = {"class_path": "datamodules.synthesis.SynthesisDataModule",
            "init_args": {"out_dir": str(out), "shard_size": shards.shard_size, "batch_size": shards.batch_size,
                          **data}}
    with lightning_info_hidden(), without_library_progress_bars():
        # JSON keeps each value's type on its way through LightningCLI's parser (no str() of numbers).
        cli = lightning_cli(["--model", json.dumps(model), "--data", json.dumps(data), *trainer_args], run=False,
                            trainer_defaults={"logger": False, "default_root_dir": str(out / ".run")})
        plan = cli.datamodule
        settings = plan.check_settings(cli.model.hparams)
        done = plan.n_shards - len(plan.pending_shards())
        if done:
            print(f"{done} of {plan.n_shards} shards already in {out}: skipped")
        cli.trainer.predict(cli.model, datamodule=plan, return_predictions=False)
        cli.trainer.strategy.barrier()
    if not cli.trainer.is_global_zero:
        return
    if missing := plan.pending_shards():
        raise ZooError(f"shards {missing[:5]} were not written; run the same command again to finish them")
    rows = read_shards(out)
    rates = [row["edit_rate"] for row in rows if "edit_rate" in row]
    manifest = {"documents": len(rows), "shards": plan.n_shards, **settings,
                **({"mean_edit_rate": sum(rates) / len(rates)} if rates else {})}
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    summary = f", mean edit rate {manifest['mean_edit_rate']:.4f}" if rates else ""
    print(f"wrote {len(rows)} documents in {plan.n_shards} shards to {out}{summary}")


def rc(*, in_: str, out: Path, domain: str = "biomed", max_tokens: PositiveInt = 1848, seed: int = 0,
       keyword_corpora: tuple[str, str] | None = None) -> int:
    """Turn documents into AdaptLLM reading-comprehension texts (regex-mined tasks after each document).

    Args:
        in_: Documents: .jsonl (id/title/text) or a folder of .txt files (line 1 = title).
        out: Output .jsonl (written atomically).
        domain: Domain name (tinyworld domains also give the keywords).
        max_tokens: Body budget in words.
        seed: Seed of the random choices.
        keyword_corpora: Derive the domain keywords from these two sources, DOMAIN GENERAL
            (tinyworld:<domain>, .jsonl, .txt folder).
    """
    from datamodules.transforms.reading_comprehension import convert_file, stats_table

    summary = convert_file(in_, out, domain=domain, max_tokens=max_tokens, seed=seed, keyword_corpora=keyword_corpora)
    print(stats_table(summary))
    print(f"wrote {out}")
    return 0


def toedit(*, in_: str, shards: Shards, editing: EditSettings, prior: str = "toedit-prior-tiny", split: Split | None = None,
           trainer_args: Sequence[str] = ()) -> int:
    """Token-edit documents with a frozen prior LM (ToEdit): resample the tokens it finds too easy.

    Args:
        in_: Documents: .jsonl (id/title/text) file or folder, tinyworld:<domain>, hf-hub:...
        shards: Output folder and shard settings.
        editing: What to edit and how (edits are keyed by each document's tokens and the seed).
        prior: Prior LM: zoo name, local-dir:/path or hf-hub:org/name.
        split: Edit only this split of the documents (as the text DataModule splits them).
        trainer_args: Arguments after -- for the Trainer, e.g. --trainer.strategy=ddp --trainer.devices=2.
    """
    from datamodules.base import check_source

    check_source(in_)  # before the prior loads: a typo costs no wait
    model = {"class_path": "zoo.modules.synthesis.TokenEditSynthesizer",
             "init_args": {"prior": prior, "editing": asdict(editing)}}
    run_synthesis(model, {"source": in_, "split": split}, shards, trainer_args)
    return 0


def sample(*, n_documents: PositiveInt, shards: Shards, model: str = "base-lm-tiny",
           max_new_tokens: PositiveInt = 320, temperature: float = 1.0, seed: int = 0,
           trainer_args: Sequence[str] = ()) -> int:
    """Sample a synthetic corpus from a trained LM (documents keyed by their index: any batch size gives the same).

    Args:
        n_documents: Documents to sample.
        shards: Output folder and shard settings.
        model: The LM: zoo name, local-dir:/path or hf-hub:org/name.
        max_new_tokens: Longest document, in tokens.
        temperature: Softmax temperature.
        seed: Seed of the sampling.
        trainer_args: Arguments after -- for the Trainer, e.g. --trainer.strategy=ddp --trainer.devices=2.
    """
    module = {"class_path": "zoo.modules.synthesis.LMSampler",
              "init_args": {"model": model, "max_new_tokens": max_new_tokens, "temperature": temperature, "seed": seed}}
    run_synthesis(module, {"n_documents": n_documents}, shards, trainer_args)
    return 0


def instruct(*, in_: str, shards: Shards, model: str = "instruct-synth-tiny", max_new_tokens: PositiveInt = 160,
             rounds: PositiveInt = 1, trainer_args: Sequence[str] = ()) -> int:
    """Synthesize instruction-response pairs for documents (Instruction Pre-Training), then write pairs.jsonl.

    Args:
        in_: Documents: .jsonl (id/title/text) file or folder, tinyworld:<domain>, hf-hub:...
        shards: Output folder and shard settings.
        model: Instruction synthesizer: zoo name or local-dir:/path.
        max_new_tokens: Longest completion (upstream: 400).
        rounds: Multi-round synthesis: the corpus in this many slices, each text prompted after the texts at its
            index in the earlier slices with their pairs, back to where that chain broke (a text without pairs,
            or a chain too long for the window); each round's rows carry the chain the next round continues.
        trainer_args: Arguments after -- for the Trainer, e.g. --trainer.strategy=ddp --trainer.devices=2.
    """
    from datamodules.base import check_source
    from datamodules.synthesis import SynthesisDataModule, read_shards
    from datamodules.transforms.instruction_format import round_slices
    from zoo.paths import atomic_write_text

    check_source(in_)
    module = {"class_path": "zoo.modules.InstructionSynthesizer",
              "init_args": {"init_from": model, "max_new_tokens": max_new_tokens}}
    folders = [shards.out / f"round-{number}" for number in range(rounds)] if rounds > 1 else [shards.out]
    total = len(SynthesisDataModule(str(shards.out), source=in_).items)
    previous = None
    for folder, part in zip(folders, round_slices(total, rounds)):
        if not len(part):
            continue
        data = {"source": in_, "first": part.start, "count": len(part),
                "previous_dir": str(previous) if previous else None}
        run_synthesis(module, data, replace(shards, out=folder), trainer_args)
        previous = folder
    rows = [row for folder in folders for row in read_shards(folder)]
    atomic_write_text(shards.out / "pairs.jsonl",
                      "".join(json.dumps({"id": row["id"], "pairs": row["pairs"]}) + "\n" for row in rows))
    print(f"{sum(len(row['pairs']) for row in rows)} pairs for {len(rows)} documents in {shards.out / 'pairs.jsonl'} "
          "(InstructionAugmentation's pairs_source)")
    return 0


def uprise_scores(*, out: Path, clusters: Clusters, scorer: str = "uprise-lm-tiny", n_candidates: PositiveInt = 50,
                  seed: int = 0, shard_size: PositiveInt = 256, batch_size: PositiveInt = 64) -> int:
    """Score UPRISE's candidate prompts with a frozen LM: for each training input of the task clusters, its
    candidates sorted by the gold option's L1-normalised loss, and whether the LM was right (numbered shards
    that resume; the retriever's recipe scores the same way into the cache under ZOO_HOME).

    Args:
        out: Output folder of numbered .jsonl shards (running again resumes).
        clusters: The task clusters (tinyworld or zoo-data) and the one held out of the pool.
        scorer: The frozen causal LM: zoo name, local-dir:/path or hf-hub:org/name.
        n_candidates: Candidates per training input (upstream L = 50).
        seed: Seed of the candidates' draw.
        shard_size: Training inputs per shard.
        batch_size: Rows per forward of the scorer.
    """
    from datamodules.retrieval import scored_candidates

    rows = scored_candidates(scorer, clusters, n_candidates, seed, out=out, shard_size=shard_size,
                             batch_size=batch_size)
    kept = sum(any(row["correct"]) for row in rows)
    print(f"{len(rows)} inputs scored with {scorer} in {out}; {kept} have a candidate that made it right "
          f"({kept / max(1, len(rows)):.0%}: the retriever's training examples)")
    return 0
