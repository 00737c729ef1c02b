"""The ``zoo`` command: LightningCLI (fit/validate/test/predict) plus the zoo's own verbs.

``zoo fit|validate|test|predict -c configs/<system>/<recipe>.yaml`` is LightningCLI with
``class_path``/``init_args`` configs; the resolved config is saved next to every run and
recorded in its checkpoints. The zoo verbs (``list``, ``build``, ``export``, ``world``) skip
the Lightning import where they can, so they answer quickly.

Bad input never shows a traceback: one line ``zoo: error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from zoo.errors import ZooError
from zoo.paths import PROJECT_ROOT

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")


def _cli_classes():
    """Lightning classes of the CLI (imported on demand: ``import lightning`` takes seconds)."""
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.cli import LightningCLI, SaveConfigCallback

    from zoo.paths import zoo_home

    class ZooSaveConfig(SaveConfigCallback):
        """Save the resolved config next to the run and hand it to the module for its checkpoints."""

        def setup(self, trainer, pl_module, stage: str) -> None:
            pl_module.zoo_recipe = self.parser.dump(self.config, skip_none=False)
            super().setup(trainer, pl_module, stage)

    class ZooCLI(LightningCLI):
        """LightningCLI with a ``last.ckpt`` checkpoint and runs under ``ZOO_HOME/runs``."""

        def add_arguments_to_parser(self, parser) -> None:
            from zoo.callbacks import JsonlPredictionWriter

            parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
            parser.add_lightning_class_args(JsonlPredictionWriter, "prediction_writer")
            # Keep only last.ckpt (resume with --ckpt_path last); best-k selection is not a zoo concept.
            parser.set_defaults({"checkpoint.save_last": True, "checkpoint.save_top_k": 0,
                                 "checkpoint.every_n_train_steps": 100, "checkpoint.filename": "step{step}"})

        def before_instantiate_classes(self) -> None:
            config = self.config[self.subcommand] if self.subcommand else self.config
            if config.trainer.default_root_dir is None:
                sources = config.get("config") or []
                run = Path(str(sources[0])).stem if sources else "default"
                config.trainer.default_root_dir = str(zoo_home() / "runs" / run)
            if config.checkpoint.dirpath is None:
                # A fixed folder (not per logger version) is what lets `--ckpt_path last` find the run.
                config.checkpoint.dirpath = str(Path(config.trainer.default_root_dir) / "checkpoints")

    return ZooCLI, ZooSaveConfig


def lightning_cli(args: Sequence[str] | None, run: bool = True):
    """Build the zoo LightningCLI on ``args`` (``run=False``: parse and instantiate only)."""
    from lightning import LightningDataModule, LightningModule

    ZooCLI, ZooSaveConfig = _cli_classes()
    strict = {"exit_on_error": False}
    try:
        return ZooCLI(
            LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
            save_config_callback=ZooSaveConfig, save_config_kwargs={"overwrite": True},
            parser_kwargs={**strict, **{name: strict for name in LIGHTNING_SUBCOMMANDS}},
            args=list(args) if args is not None else None, run=run, auto_configure_optimizers=False,
        )
    except ValueError as error:
        # jsonargparse reports a class that refused its arguments as a ValueError about union subtypes;
        # the zoo's own one-line error is further down the chain.
        cause = error
        while cause is not None and not isinstance(cause, ZooError):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        raise cause from None


def _argument_error_line(message: str) -> str:
    """jsonargparse explains a bad config over many lines; keep the key and the most specific cause."""
    import re

    lines = [line.strip(" -") for line in str(message).splitlines() if line.strip(" -")]
    key = re.search(r'Parser key "([^"]+)"', message)
    for marker in ("is not accepted", "is not expected", "No action for key", "Unable to load", "does not exist",
                   "Import path", "Problem with given class_path"):
        hits = [line for line in lines if marker in line]
        if hits:
            cause = hits[-1]
            break
    else:
        cause = lines[0] if lines else "invalid arguments"
    where = f"{key.group(1)}: " if key and key.group(1) not in cause else ""
    return f"{where}{cause}; check it against `zoo fit --print_config` or `zoo fit --help`"


def _check_config_files(argv: Sequence[str]) -> None:
    """Name a missing or malformed ``-c`` file before LightningCLI buries it in a long message."""
    import yaml

    for flag, value in zip(argv, argv[1:]):
        if flag not in ("-c", "--config"):
            continue
        path = Path(value)
        if not path.is_file():
            raise ZooError(f"config file not found: {path}; recipes live under configs/ (e.g. configs/base_lm/base-lm-tiny.yaml)")
        try:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ZooError(f"{path}: malformed YAML ({getattr(error, 'problem', None) or 'syntax error'}{where}); "
                           "fix the syntax") from None
        except UnicodeDecodeError:
            raise ZooError(f"{path}: config is not UTF-8 text; re-save it as UTF-8") from None


# ---------------------------------------------------------------------- zoo verbs
def cmd_list(args: argparse.Namespace) -> int:
    from zoo.paths import checkpoints_dir
    from zoo.registry import entries, list_models

    names = list_models(args.pattern)
    if not names:
        raise ZooError(f"no model matches '{args.pattern}'; `zoo list` shows them all")
    width = max(len(n) for n in names)
    print(f"{'name':<{width}}  {'system':<20}  {'built':<5}  source")
    for name in names:
        entry = entries()[name]
        built = "yes" if (checkpoints_dir() / name / "zoo_card.json").exists() else ("-" if entry.recipe else "hub")
        print(f"{name:<{width}}  {entry.system:<20}  {built:<5}  {entry.source if not entry.recipe else entry.recipe}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from zoo.builder import build

    folder, card = build(args.name, preset=args.preset, force=args.force)
    print(f"checkpoint: {folder}")
    for key, value in sorted(card["metrics"].items()):
        print(f"{key:>24}: {value:.4f}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from zoo.checkpoint import export_checkpoint

    folder = export_checkpoint(Path(args.ckpt), Path(args.out), name=args.name)
    print(f"exported: {folder}")
    return 0


def cmd_world(args: argparse.Namespace) -> int:
    from datamodules.tinyworld import generate_world

    try:
        world = generate_world(domain=args.domain, seed=args.seed, n_entities=args.n_entities)
    except ValueError as error:
        raise ZooError(str(error)) from None
    for part, path in sorted(world.write_jsonl(Path(args.out)).items()):
        print(f"{part:>10}: {path}")
    print(f"fingerprint: {world.fingerprint()}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from benchmarks.harness import evaluate

    rows = evaluate(args.model, args.suite, limit=args.limit, batch_size=args.batch_size, preset=args.preset,
                    use_cache=not args.no_cache)
    print(format_rows(rows))
    return 0


def format_rows(rows: list[dict]) -> str:
    """An lm-eval-style table of result rows."""
    header = ("task", "version", "n-shot", "metric", "value", "", "stderr")
    lines = [[r["task"], r["task_version"], str(r["n_shot"]), f"{r['metric']} {'↑' if r['higher_is_better'] else '↓'}",
              "—" if r["value"] is None else f"{r['value']:.4f}", "±",
              "—" if r["stderr"] is None else f"{r['stderr']:.4f}"] for r in rows]
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]
    render = lambda cells: "|" + "|".join(f" {str(c):<{w}} " for c, w in zip(cells, widths)) + "|"  # noqa: E731
    first = rows[0] if rows else {}
    title = f"{first.get('model')} on {first.get('suite')} (weights {str(first.get('weights_sha256'))[:12]}, " \
            f"suite {str(first.get('suite_hash'))[:12]})"
    return "\n".join([title, render(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(render, lines)])


def cmd_leaderboard(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    from benchmarks import leaderboard
    from benchmarks.harness import primary_metrics, sweep

    rows, cards = sweep(args.models, args.suites, preset=args.preset, limit=args.limit, include_hub=args.hub,
                        batch_size=args.batch_size)
    primary = primary_metrics(rows)
    out = Path(args.out)
    target = Path(tempfile.mkdtemp(prefix="leaderboard-")) if args.check else out
    links = {name: f"cards/{name}.md" for name in cards}
    written = leaderboard.write(rows, primary, target, links, studies=study_points({r["model"] for r in rows}))
    (target / "cards").mkdir(exist_ok=True)
    for name, card in cards.items():
        shutil.copyfile(card, target / "cards" / f"{name}.md")
    names = [*(path.name for path in written), *(f"cards/{name}.md" for name in sorted(cards))]
    if args.check:
        stale = leaderboard.differences(out, target, names)
        shutil.rmtree(target, ignore_errors=True)
        if stale:
            print(f"leaderboard files differ from a fresh regeneration: {', '.join(stale)}; run `zoo leaderboard --out {out}`")
            return 1
        print(f"leaderboard in {out} is up to date")
        return 0
    errors = sorted({r["model"] for r in rows if r["metric"] == "error"})
    print(f"{len({r['model'] for r in rows})} models, {len(rows)} rows" + (f", errors: {', '.join(errors)}" if errors else ""))
    for path in written:
        print(f"wrote {path}")
    return 0


def study_points(models: set[str]) -> dict[str, dict[str, tuple[float, bool]]]:
    """Per registry study, each evaluated model's x and whether it is a method (not a baseline)."""
    from zoo.registry import entries

    studies: dict[str, dict[str, tuple[float, bool]]] = {}
    for name in sorted(models):
        entry = entries().get(name)
        if entry is not None and entry.study and entry.study_x is not None:
            studies.setdefault(entry.study, {})[name] = (float(entry.study_x), entry.baseline_of is None)
    return studies


def cmd_suites(args: argparse.Namespace) -> int:
    from benchmarks.suites import load_suite, pin, suite_names

    if args.pin:
        print(f"pinned {pin(args.pin)}")
        return 0
    for name in suite_names():
        suite = load_suite(name)
        print(f"{name:<20} v{suite.version}  {suite.hash[:12]}  {len(suite.tasks):>2} tasks  {suite.description}")
    return 0


def cmd_synth_rc(args: argparse.Namespace) -> int:
    from datamodules.transforms.reading_comprehension import convert_file, stats_table

    corpora = tuple(args.keyword_corpora) if args.keyword_corpora else None
    summary = convert_file(args.input, args.output, domain=args.domain, max_tokens=args.max_tokens, seed=args.seed,
                           keyword_corpora=corpora)
    print(stats_table(summary))
    print(f"wrote {args.output}")
    return 0


def run_synthesis(module: list[str], data: list[str], out: Path, trainer_args: Sequence[str]) -> int:
    """``predict`` of a synthesis module over ``SynthesisDataModule`` shards in ``out``, then a manifest.

    Args:
        module: ``--model ...`` arguments of the LightningCLI.
        data: ``--data.*`` arguments besides the output folder.
        out: Output folder of the shards (finished shards are skipped).
        trainer_args: Extra LightningCLI arguments, e.g. ``--trainer.strategy ddp --trainer.devices 2``.
    """
    import json

    from datamodules.synthesis import read_shards
    from zoo.paths import atomic_write_text

    argv = [*module, "--data", "datamodules.synthesis.SynthesisDataModule", "--data.out_dir", str(out), *data,
            "--trainer.logger", "false", "--trainer.default_root_dir", str(out / ".run"), *trainer_args]
    try:
        cli = lightning_cli(argv, run=False)
    except argparse.ArgumentError as error:
        raise ZooError(_argument_error_line(str(error))) from None
    plan = cli.datamodule
    done = plan.n_shards - len(plan.pending_shards())
    if done:
        print(f"{done} of {plan.n_shards} shards already in {out}: skipped")
    cli.trainer.predict(cli.model, datamodule=plan, return_predictions=False)
    cli.trainer.strategy.barrier()
    if cli.trainer.is_global_zero:
        if missing := plan.pending_shards():
            raise ZooError(f"shards {missing[:5]} were not written; run the same command again to finish them")
        rows = read_shards(out)
        rates = [row["edit_rate"] for row in rows if "edit_rate" in row]
        manifest = {"documents": len(rows), "shards": plan.n_shards, "module": dict(cli.model.hparams),
                    "data": {"source": plan.source, "n_documents": plan.n_documents, "split": plan.split,
                             "shard_size": plan.shard_size},
                    **({"mean_edit_rate": sum(rates) / len(rates)} if rates else {})}
        atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        summary = f", mean edit rate {manifest['mean_edit_rate']:.4f}" if rates else ""
        print(f"wrote {len(rows)} documents in {plan.n_shards} shards to {out}{summary}")
    return 0


def cmd_synth_toedit(args: argparse.Namespace) -> int:
    from datamodules.base import check_source

    check_source(args.input)
    module = ["--model", "zoo.modules.synthesis.TokenEditSynthesizer", "--model.prior", args.prior,
              "--model.threshold", str(args.threshold), "--model.top_k", str(args.top_k),
              "--model.variant", args.variant, "--model.seed", str(args.seed),
              *(["--model.beta", str(args.beta)] if args.beta is not None else [])]
    data = ["--data.source", args.input, "--data.shard_size", str(args.shard_size),
            "--data.batch_size", str(args.batch_size), *(["--data.split", args.split] if args.split else [])]
    return run_synthesis(module, data, Path(args.output), args.trainer_args)


def cmd_synth_sample(args: argparse.Namespace) -> int:
    module = ["--model", "zoo.modules.synthesis.LMSampler", "--model.model", args.model,
              "--model.max_new_tokens", str(args.max_new_tokens), "--model.temperature", str(args.temperature),
              "--model.seed", str(args.seed)]
    data = ["--data.n_documents", str(args.n_documents), "--data.shard_size", str(args.shard_size),
            "--data.batch_size", str(args.batch_size)]
    return run_synthesis(module, data, Path(args.output), args.trainer_args)


def cmd_synth_instruct(args: argparse.Namespace) -> int:
    import json

    from datamodules.base import check_source
    from datamodules.synthesis import SynthesisDataModule, read_shards
    from datamodules.transforms.instruction_format import round_slices
    from zoo.paths import atomic_write_text

    check_source(args.input)
    if args.rounds < 1:
        raise ZooError(f"--rounds={args.rounds}: use 1 (plain synthesis) or more (multi-round, few-shot)")
    out = Path(args.output)
    module = ["--model", "zoo.modules.InstructionSynthesizer", "--model.init_from", args.model,
              "--model.max_new_tokens", str(args.max_new_tokens)]
    common = ["--data.source", args.input, "--data.shard_size", str(args.shard_size),
              "--data.batch_size", str(args.batch_size)]
    total = len(SynthesisDataModule(str(out), source=args.input).items)
    previous = None
    for number, part in enumerate(round_slices(total, args.rounds)):
        if not len(part):
            continue
        folder = out / f"round-{number}" if args.rounds > 1 else out
        data = [*common, "--data.first", str(part.start), "--data.count", str(len(part)),
                *(["--data.previous_dir", str(previous)] if previous else [])]
        run_synthesis(module, data, folder, args.trainer_args)
        previous = folder
    rows = [row for number in range(args.rounds)
            for row in read_shards(out / f"round-{number}" if args.rounds > 1 else out)]
    atomic_write_text(out / "pairs.jsonl", "".join(json.dumps({"id": row["id"], "pairs": row["pairs"]}) + "\n"
                                                 for row in rows))
    print(f"{sum(len(row['pairs']) for row in rows)} pairs for {len(rows)} documents in {out / 'pairs.jsonl'} "
          "(InstructionAugmentation's pairs_source)")
    return 0


def verb_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoo", description="lmzoo: train, load and benchmark LM adaptation methods. "
                                     "Lightning subcommands: zoo fit|validate|test|predict -c CONFIG (see zoo fit --help).")
    verbs = parser.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", help="list registry entries")
    listing.add_argument("pattern", nargs="?", default="*", help="shell pattern, e.g. 'adaptllm*'")
    listing.set_defaults(run=cmd_list)
    building = verbs.add_parser("build", help="train a registry entry by its recipe, test it and export its folder")
    building.add_argument("name", help="registry name, e.g. base-lm-tiny")
    building.add_argument("--preset", choices=("smoke", "full"), default="full",
                          help="smoke: a few steps, to check the pipeline (kept apart from full builds)")
    building.add_argument("--force", action="store_true", help="rebuild even if the folder exists")
    building.set_defaults(run=cmd_build)
    exporting = verbs.add_parser("export", help="export a Lightning .ckpt of a zoo fit as a zoo folder")
    exporting.add_argument("ckpt", help="path of the .ckpt (e.g. .../checkpoints/last.ckpt)")
    exporting.add_argument("out", help="output folder (replaced atomically)")
    exporting.add_argument("--name", default=None, help="registry name to record in the card")
    exporting.set_defaults(run=cmd_export)
    world = verbs.add_parser("world", help="write a tinyworld as JSONL for inspection")
    world.add_argument("--domain", default="general", help="tinyworld domain (general, biomed, ...)")
    world.add_argument("--out", required=True, help="output folder")
    world.add_argument("--seed", type=int, default=0)
    world.add_argument("--n-entities", type=int, default=200)
    world.set_defaults(run=cmd_world)
    evaluating = verbs.add_parser("eval", help="evaluate a model on a suite (cached by weights and suite hash)")
    evaluating.add_argument("model", help="registry name, local-dir:/path or hf-hub:org/name")
    evaluating.add_argument("--suite", required=True, help="suite name (zoo suites lists them)")
    evaluating.add_argument("--limit", type=int, default=None, help="at most N documents per task (cached apart)")
    evaluating.add_argument("--batch-size", type=int, default=64)
    evaluating.add_argument("--preset", choices=("smoke", "full"), default="full", help="which build of a registry name")
    evaluating.add_argument("--no-cache", action="store_true", help="recompute even if cached")
    evaluating.set_defaults(run=cmd_eval)
    board = verbs.add_parser("leaderboard", help="build missing models, evaluate, write the leaderboard files")
    board.add_argument("--models", default="*", help="registry pattern (default: every entry with a recipe)")
    board.add_argument("--suites", nargs="+", default=None, help="only these suites (default: each model's own)")
    board.add_argument("--preset", choices=("smoke", "full"), default="full")
    board.add_argument("--out", default=str(PROJECT_ROOT / "benchmarks" / "results"), help="output folder")
    board.add_argument("--limit", type=int, default=None, help="at most N documents per task")
    board.add_argument("--batch-size", type=int, default=64)
    board.add_argument("--hub", action="store_true", help="include upstream hf-hub entries (needs the network)")
    board.add_argument("--check", action="store_true", help="exit 1 if the files in --out differ from a fresh regeneration")
    board.set_defaults(run=cmd_leaderboard)
    synth = verbs.add_parser("synth", help="data synthesis: rc (AdaptLLM reading comprehension), toedit (ToEdit token "
                             "editing), sample (a corpus sampled from an LM), instruct (instruction-response pairs)")
    kinds = synth.add_subparsers(dest="kind", required=True)
    rc = kinds.add_parser("rc", help="turn documents into AdaptLLM reading-comprehension texts")
    rc.add_argument("--in", dest="input", required=True, help=".jsonl (id/title/text) or a folder of .txt (line 1 = title)")
    rc.add_argument("--out", dest="output", required=True, help="output .jsonl (written atomically)")
    rc.add_argument("--domain", default="biomed", help="domain name (tinyworld domains also give the keywords)")
    rc.add_argument("--max-tokens", type=int, default=1848, help="body budget in words")
    rc.add_argument("--seed", type=int, default=0)
    rc.add_argument("--keyword-corpora", nargs=2, metavar=("DOMAIN_SOURCE", "GENERAL_SOURCE"),
                    help="derive domain keywords from these two sources (tinyworld:<d>, .jsonl, .txt folder)")
    rc.set_defaults(run=cmd_synth_rc)
    shards = argparse.ArgumentParser(add_help=False)
    shards.add_argument("--out", dest="output", required=True, help="output folder of numbered .jsonl shards "
                        "(finished shards are skipped, so re-running resumes)")
    shards.add_argument("--shard-size", type=int, default=256, help="documents per shard")
    shards.add_argument("--batch-size", type=int, default=16, help="documents per forward")
    shards.add_argument("--seed", type=int, default=0)
    shards.add_argument("trainer_args", nargs="*", default=[],
                        help="LightningCLI trainer arguments after --, e.g. -- --trainer.strategy=ddp --trainer.devices=2")
    toedit = kinds.add_parser("toedit", parents=[shards], help="token-edit documents with a frozen prior LM (ToEdit)")
    toedit.add_argument("--in", dest="input", required=True,
                        help="documents: .jsonl (id/title/text) file or folder, tinyworld:<domain>, hf-hub:...")
    toedit.add_argument("--prior", default="base-lm-tiny", help="prior LM: zoo name, local-dir:/path or hf-hub:org/name")
    toedit.add_argument("--threshold", type=float, default=0.99, help="resample tokens with p above this")
    toedit.add_argument("--top-k", type=int, default=8, help="candidates to resample from")
    toedit.add_argument("--beta", type=float, default=None, help="temperature over the candidates (default: variant's)")
    toedit.add_argument("--variant", choices=("replace", "replace_delete", "delete"), default="replace")
    toedit.add_argument("--split", choices=("train", "val", "test"), default=None,
                        help="edit only this split of the documents (as the text DataModule splits them)")
    toedit.set_defaults(run=cmd_synth_toedit)
    sample = kinds.add_parser("sample", parents=[shards], help="sample a synthetic corpus from a trained LM")
    sample.add_argument("--model", default="base-lm-tiny", help="zoo name, local-dir:/path or hf-hub:org/name")
    sample.add_argument("--n-documents", type=int, required=True)
    sample.add_argument("--max-new-tokens", type=int, default=320)
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.set_defaults(run=cmd_synth_sample)
    instruct = kinds.add_parser("instruct", parents=[shards],
                                help="synthesize instruction-response pairs for documents (Instruction Pre-Training)")
    instruct.add_argument("--in", dest="input", required=True,
                          help="documents: .jsonl (id/title/text) file or folder, tinyworld:<domain>, hf-hub:...")
    instruct.add_argument("--model", default="instruct-synth-tiny", help="instruction synthesizer: zoo name or local-dir:")
    instruct.add_argument("--max-new-tokens", type=int, default=160, help="longest completion (upstream: 400)")
    instruct.add_argument("--rounds", type=int, default=1,
                          help="multi-round synthesis: the corpus in this many slices, each text prompted after the "
                               "previous slice's text at its index and that text's pairs")
    instruct.set_defaults(run=cmd_synth_instruct)
    suites = verbs.add_parser("suites", help="list the benchmark suites with their hashes")
    suites.add_argument("--pin", metavar="SUITE", help="recompute a suite's data pins (after a deliberate data change)")
    suites.set_defaults(run=cmd_suites)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zoo`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in LIGHTNING_SUBCOMMANDS:
            _check_config_files(argv)
            try:
                lightning_cli(argv)
            except argparse.ArgumentError as error:
                raise ZooError(_argument_error_line(str(error))) from None
            return 0
        args = verb_parser().parse_args(argv)
        return args.run(args)
    except ZooError as error:
        print(f"zoo: error: {error}", file=sys.stderr)
        return error.exit_code
