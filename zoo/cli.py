"""The ``zoo`` command: LightningCLI (``fit|validate|test|predict``) plus the zoo's own verbs.

The verbs are functions (``zoo.verbs``, ``zoo.board``, ``zoo.synth``); their signatures and
``Args:`` docstrings are their command lines, through jsonargparse: types are checked while
parsing and the values reach the function typed. A verb's arguments are added to the parser
only when the command line names it, so ``zoo --help`` imports neither torch nor Lightning.

Bad input never shows a traceback: one line ``zoo: error: <what>; <fix>`` on stderr and exit
code 2, for the error classes that mean bad input (``main`` catches them by class).
"""

from __future__ import annotations

import inspect
import pickle
import re
import sys
from argparse import ArgumentError
from dataclasses import is_dataclass
from types import NoneType, UnionType
from typing import Any, Callable, Sequence, Union, get_args, get_origin

from jsonargparse import ActionYesNo, ArgumentParser

from zoo import board, synth, verbs
from zoo.console import quiet_console
from zoo.errors import ZooError
from zoo.lightning_cli import SUBCOMMANDS, check_config_files, lightning_cli

#: The verbs, by name; a group of verbs is (the module that describes it, its verbs).
VERBS: dict[str, Any] = {
    "list": verbs.list_entries,
    "build": verbs.build,
    "export": verbs.export,
    "world": verbs.world,
    "eval": verbs.evaluate,
    "compare": verbs.compare,
    "leaderboard": board.leaderboard,
    "suites": verbs.suites,
    "study": verbs.study,
    "calibrate": verbs.calibrate,
    "synth": (synth, {"rc": synth.rc, "toedit": synth.toedit, "sample": synth.sample, "instruct": synth.instruct,
                        "uprise-scores": synth.uprise_scores}),
    "retrieve": verbs.retrieve,
    "ask": verbs.ask,
}
#: A verb parameter of this name takes the command line after ``--``: arguments for the Lightning Trainer.
TRAINER_ARGS = "trainer_args"
DESCRIPTION = ("lmzoo: train, load and benchmark LM adaptation methods. Lightning subcommands: "
               "zoo fit|validate|test|predict -c CONFIG (see zoo fit --help).")


# ---------------------------------------------------------------------- the verb parser
def option_name(key: str) -> str:
    """The option of a parameter: its last part, dashed, without a trailing ``_`` (``settings.top_k`` is ``--top-k``,
    ``in_`` is ``--in``); the fields of a settings dataclass thus read as options of the verb itself.

    Args:
        key: The parameter's key in the parsed namespace.
    """
    return "--" + key.rsplit(".", 1)[-1].rstrip("_").replace("_", "-")


def sequence_of(typehint) -> tuple[Any, int | str] | None:
    """``(element type, nargs)`` of a list or homogeneous tuple type (optional or not), else None.

    Args:
        typehint: A parameter's type.
    """
    options = [t for t in get_args(typehint) if t is not NoneType] if get_origin(typehint) in (Union, UnionType) \
        else [typehint]
    if len(options) != 1:
        return None
    origin, items = get_origin(options[0]), get_args(options[0])
    if origin is list and len(items) == 1:
        return items[0], "+"
    if origin is tuple and len(items) == 2 and items[1] is Ellipsis:
        return items[0], "+"
    if origin is tuple and items and len(set(items)) == 1:
        return items[0], len(items)
    return None


class VerbParser(ArgumentParser):
    """The jsonargparse parser of a verb, with the spellings of a command line rather than of Python.

    Errors raise ``argparse.ArgumentError`` (``main`` turns them into one line) instead of exiting.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, exit_on_error=False, allow_abbrev=False, **kwargs)

    def add_argument(self, *args, **kwargs):
        """Add an argument; typed parameters get command-line spellings: upper case for positionals, dashes
        and last parts for options (:func:`option_name`), ``--flag``/``--no-flag`` for booleans, several
        values for lists and tuples.

        jsonargparse builds its argument groups from this method's source, so it refers to module names only.
        """
        action = kwargs.get("action")
        # jsonargparse hands a non-trivial type over as an action that holds it.
        typehint = kwargs.get("type") or getattr(action, "_typehint", None)
        if args and not args[0].startswith("-"):
            kwargs.setdefault("metavar", args[0].upper())  # `zoo build NAME`, as usage lines write positionals
        elif args and args[0].startswith("--") and typehint is not None and not is_dataclass(typehint):
            key = args[0][2:]
            kwargs.setdefault("dest", key)
            if key.endswith("_"):
                kwargs.setdefault("metavar", key.rstrip("_").upper())
            sequence = sequence_of(typehint)
            if typehint is bool:
                kwargs.pop("type")
                kwargs["action"] = ActionYesNo(no_prefix="no-")
                args = (option_name(key),)
            elif sequence is not None:
                # `--suites a b` rather than jsonargparse's `--suites [a,b]`: each value is checked as an element.
                kwargs["action"], kwargs["nargs"] = type(action)(typehint=sequence[0]), sequence[1]
                args = (option_name(key),)
            else:
                args = tuple(option_name(arg[2:].rstrip("+")) + "+" * arg.endswith("+") for arg in args)
        return super().add_argument(*args, **kwargs)


def _docstring(target) -> tuple[str, str]:
    """(summary, description) of a verb or a group from its docstring."""
    import docstring_parser

    doc = docstring_parser.parse(inspect.getdoc(target) or "")
    summary = doc.short_description or ""
    return summary, "\n\n".join(part for part in (summary, doc.long_description) if part)


def _add_verb_arguments(parser: VerbParser, function: Callable) -> None:
    """The arguments of a verb, from its signature and docstring."""
    parameters = inspect.signature(function).parameters
    parser.add_function_arguments(function, as_group=False, as_positional=True, skip={TRAINER_ARGS})
    for name, parameter in parameters.items():
        # jsonargparse makes positional-only parameters required; one with a default is an optional positional.
        if parameter.kind is parameter.POSITIONAL_ONLY and parameter.default is not parameter.empty:
            action = next(action for action in parser._actions if action.dest == name)
            action.nargs, action.default, action.required = "?", parameter.default, False
    if TRAINER_ARGS in parameters:
        import docstring_parser

        doc = next(p.description for p in docstring_parser.parse(function.__doc__).params if p.arg_name == TRAINER_ARGS)
        parser.epilog = doc


def _add_verbs(parser: VerbParser, table: dict[str, Any], path: Sequence[str]) -> VerbParser:
    commands = parser.add_subcommands(required=True)
    for name, target in table.items():
        named = bool(path) and path[0] == name
        group = isinstance(target, tuple)
        summary, description = _docstring(target[0] if group else target)
        sub = VerbParser(description=description)
        commands.add_subcommand(name, sub, help=summary)
        if group:
            _add_verbs(sub, target[1], path[1:] if named else ())
        elif named:
            _add_verb_arguments(sub, target)
    return parser


def verb_parser(path: Sequence[str] = ()) -> VerbParser:
    """The parser of the zoo verbs, complete for the verb that ``path`` names.

    Args:
        path: The leading command-line words that name a verb, e.g. ``("synth", "toedit")``. Only that
            verb gets its arguments: resolving a verb's types may import torch, which ``zoo --help`` must not.
    """
    return _add_verbs(VerbParser(prog="zoo", description=DESCRIPTION), VERBS, tuple(path))


def named_verb(argv: Sequence[str]) -> tuple[tuple[str, ...], Any]:
    """The leading words of ``argv`` that name a verb or a group (``("synth", "toedit")``), and what they name:
    the verb's function, or the verbs of a group.

    Args:
        argv: The command line after ``zoo``.
    """
    path: list[str] = []
    target: Any = VERBS
    for word in argv:
        table = target[1] if isinstance(target, tuple) else target
        if not isinstance(table, dict) or word not in table:
            break
        path.append(word)
        target = table[word]
    return tuple(path), target


def run_verb(argv: Sequence[str]) -> int:
    """Parse a verb's command line and call it; arguments after ``--`` go to its ``trainer_args``.

    Args:
        argv: The command line after ``zoo``.
    """
    path, function = named_verb(argv)
    words, trailing = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    # Underscores are welcome too (`--batch_size`, as LightningCLI spells its options).
    words = [re.sub(r"^--[^=]+", lambda name: name.group(0).replace("_", "-"), word) for word in words]
    help_hint = f"see `zoo {' '.join(path)} --help`" if path else "see `zoo --help`"
    parameters = inspect.signature(function).parameters if callable(function) else {}
    positionals = [name for name, parameter in parameters.items() if parameter.kind is parameter.POSITIONAL_ONLY]

    def spell(key: str) -> str:
        name = key.rsplit(".", 1)[-1]
        return name.upper() if name in positionals else option_name(key)

    parser = verb_parser(path)
    try:
        # Instantiating builds the settings dataclasses, which check their own values.
        arguments = parser.instantiate_classes(parser.parse_args(list(words)))
    except ArgumentError as error:
        raise ZooError(f"{argument_error_line(str(error), spell)}; {help_hint}") from None
    for name in path:
        arguments = arguments[name]
    if trailing and TRAINER_ARGS not in parameters:
        raise ZooError(f"`zoo {' '.join(path)}` takes no arguments after `--` ({' '.join(trailing)}); {help_hint}")
    values = {name: list(trailing) if name == TRAINER_ARGS else arguments[name] for name in parameters}
    return function(*[values.pop(name) for name in positionals], **values)


# ---------------------------------------------------------------------- errors
def _expected(lines: list[str]) -> str | None:
    """What jsonargparse's type errors say was expected, in words (``positive int``, ``one of 'a', 'b'``)."""
    kinds, choices = [], []
    for line in lines:
        found = re.match(r"Expected an? (.+?)(?:\. Got value: .*)?$", line) or re.match(r"Not of type (\w+)", line)
        if not found:
            continue
        name = re.sub(r"<class '(?:[\w.]+\.)?(\w+)'>", r"\1", found.group(1).strip())
        literal = re.fullmatch(r"(?:typing\.)?Literal\[(.*)\]", name)
        if literal:
            choices += [choice for choice in literal.group(1).split(", ") if choice not in choices]
        elif name not in kinds:
            # Restricted types read as words: PositiveInt -> positive int.
            kinds.append(re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).lower() if re.fullmatch(r"[A-Z]\w+", name) else name)
    nullable = "none type" in kinds
    wanted = [kind for kind in kinds if kind != "none type"] + ([f"one of {', '.join(choices)}"] if choices else [])
    return " or ".join(wanted) + (" (or null)" if nullable else "") if wanted else None


def argument_error_line(message: str, spell: Callable[[str], str]) -> str:
    """The key, the value and what was expected, from jsonargparse's many-line message about bad arguments.

    Args:
        message: The ``ArgumentError`` message.
        spell: How a parser key is written on the command line (``batch_size`` -> ``--batch-size``).
    """
    raw = [line for line in message.splitlines() if line.strip(" -")]
    lines = [line.strip(" -") for line in raw]
    first = lines[0] if lines else "invalid arguments"
    required = re.match(r"the following arguments are required: (.*)", first)
    if required:
        return "missing " + ", ".join(spell(key.strip()) for key in required.group(1).split(","))
    if re.match(r'expected "[\w.]*subcommand" to be one of', first):
        return "missing the verb"
    keys = re.findall(r'Parser key "([^"]+)"', message)
    if not keys:
        return re.sub(r"^argument subcommand: invalid choice:", "unknown verb", first)
    # A class given as class_path reports its own parser's key (and errors, indented deeper) inside the outer one.
    key = ".init_args.".join(keys)
    for marker in ("is not accepted", "is not expected", "No action for key", "Unable to load", "does not exist",
                   "Import path"):
        causes = [line for line in lines if marker in line]
        if causes:
            owner = re.search(r"Problem with given class_path '([^']+)'", message)
            return f"{spell(key)}: {causes[-1]}" + (f" by {owner.group(1)}" if owner else "")
    at = max(i for i, line in enumerate(raw) if 'Parser key "' in line)
    depth = len(raw[at]) - len(raw[at].lstrip())
    inner = [line.strip(" -") for line in raw[at + 1:] if len(line) - len(line.lstrip()) > depth]
    text = "\n".join(inner)
    value = (re.search(r"(?:Given|Got) value: (.*)", text) or re.search(r"invalid literal for .*?: '(.*)'", text)
             or re.search(r"Not of type \w+: (.*?) does not conform", text))
    given = f"={value.group(1).strip()}" if value else ""
    expected = _expected(inner)
    return f"{spell(key)}{given}: " + (f"expected {expected}" if expected else (inner or lines)[-1])


#: How to fix a path that the file system refused, by error class.
PATH_FIXES = {
    PermissionError: "choose a location you can write to",
    IsADirectoryError: "give a file path, not a folder",
    NotADirectoryError: "a folder on the way is a file: choose another path",
    FileExistsError: "move it away or choose another path",
}


def _lightning_config_errors() -> tuple[type[BaseException], ...]:
    """Lightning's class for a bad Trainer setting, once Lightning is imported (``main`` never imports it)."""
    module = sys.modules.get("lightning.fabric.utilities.exceptions")
    return (module.MisconfigurationException,) if module else ()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zoo`` console script; returns the exit code.

    Args:
        argv: The command line after ``zoo`` (default: ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    lightning = bool(argv) and argv[0] in SUBCOMMANDS
    command = argv[0] if lightning else "fit"
    try:
        with quiet_console(own_command=not lightning):
            if lightning:
                check_config_files(argv)
                lightning_cli(argv)
                return 0
            return run_verb(argv)
    except ZooError as error:
        return _fail(str(error), error.exit_code)
    except ArgumentError as error:
        return _fail(f"{argument_error_line(str(error), lambda key: '--' + key)}; check it against "
                     f"`zoo {command} --print_config` or `zoo {command} --help`")
    except OSError as error:
        if error.filename is None:  # the network (an hf-hub: source or tokenizer offline), a device
            return _fail(f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else 'I/O error'}; "
                         "check the network and HF_HUB_OFFLINE, or pass local files instead of hf-hub: ids")
        return _fail(f"{error.filename}: {(error.strerror or str(error)).lower()}; "
                     f"{PATH_FIXES.get(type(error), 'check the path')}")
    except pickle.UnpicklingError as error:
        # torch.load(weights_only=True) met something other than tensors and plain containers.
        return _fail(f"checkpoint refused: it holds objects a safe load does not unpickle "
                     f"({str(error).splitlines()[0][:120]}); load only checkpoints that `zoo fit` wrote")
    except _lightning_config_errors() as error:
        return _fail(f"{str(error).rstrip('.')}; check the Trainer settings (`zoo {command} --help`)")


def _fail(message: str, exit_code: int = 2) -> int:
    print(f"zoo: error: {ZooError(message)}", file=sys.stderr)
    return exit_code
