"""The evaluator registry: checked interface, duplicates refused, lazy ``module:object`` entries."""

from __future__ import annotations

import sys
import types

import pytest

from benchmarks.evaluators import EVALUATOR_ENTRIES, Score, evaluator, evaluator_source, get_evaluator, register
from zoo.errors import ZooError


@evaluator(version="1", kinds=("causal-lm",))
def word_count(module, args, limit):
    return [Score("words", 3.0)]


@pytest.fixture
def lazy_module(tmp_path, monkeypatch):
    """A module on the path, not yet imported, holding one evaluator and one object that is none."""
    (tmp_path / "lazy_scorers.py").write_text(
        "from benchmarks.evaluators import Score, evaluator\n\n"
        "@evaluator(version='7', kinds=('encoder', 'bi-encoder'))\n"
        "def norm(module, args, limit):\n    return [Score('norm', 1.5)]\n\n"
        "def unversioned(module, args, limit):\n    return []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lazy_scorers", raising=False)
    yield "lazy_scorers"
    sys.modules.pop("lazy_scorers", None)


def test_shipped_entries_name_their_evaluators(registry):
    for name, entry in EVALUATOR_ENTRIES.items():
        found = get_evaluator(name)
        assert entry == f"{found.__module__}:{found.__name__}"
        assert found.version.isdigit() and found.kinds == {"ood": ("encoder",), "uprise": ("bi-encoder",),
                                                          "vqa": ("vision-lm",)}.get(name, ("causal-lm",))
        assert evaluator_source(name).name == f"{name}.py"


def test_a_lazy_entry_is_imported_on_first_use_only(registry, lazy_module):
    register("norm")(f"{lazy_module}:norm")
    assert evaluator_source("norm").name == "lazy_scorers.py"
    assert lazy_module not in sys.modules, "registering (and hashing the suite) must not import the entry"
    found = get_evaluator("norm")
    assert lazy_module in sys.modules and registry["norm"] is found
    assert found.version == "7" and found.kinds == ("encoder", "bi-encoder")
    assert found(None, {}, None) == [Score("norm", 1.5)]


def test_a_lazy_entry_is_checked_when_it_is_imported(registry, lazy_module):
    register("unversioned")(f"{lazy_module}:unversioned")
    register("absent")(f"{lazy_module}:nothing_here")
    with pytest.raises(ZooError, match=r"evaluator 'unversioned' \(lazy_scorers:unversioned\) has no `version`"):
        get_evaluator("unversioned")
    with pytest.raises(ZooError, match="evaluator 'absent': cannot import its entry lazy_scorers:nothing_here"):
        get_evaluator("absent")
    with pytest.raises(ZooError, match="entry 'lazy_scorers' is not 'module:object'"):
        register("malformed")("lazy_scorers")
    assert "malformed" not in registry


def test_a_duplicate_name_is_refused_naming_both(registry):
    with pytest.raises(ZooError, match="evaluator 'ngram_shift' is already registered as "
                                       "benchmarks.evaluators.ngram_shift:ngram_shift; refusing "
                                       f"{word_count.__module__}:word_count: register it under another name"):
        register("ngram_shift")(word_count)
    assert get_evaluator("ngram_shift").__module__ == "benchmarks.evaluators.ngram_shift", "the first one stays"
    register("word_count")(word_count)
    register("word_count")(word_count)  # the same evaluator again is not a conflict
    with pytest.raises(ZooError, match="'word_count' is already registered as .*:word_count; refusing other:entry"):
        register("word_count")("other:entry")


def _with(**attributes):
    def function(module, args, limit):
        return []

    function.__dict__.update(attributes)
    return function


@pytest.mark.parametrize(("candidate", "problem"), [
    (types.SimpleNamespace(version="1", kinds=("causal-lm",)), "is not callable"),
    (_with(kinds=("causal-lm",)), "has no `version` string (found None)"),
    (_with(version=1, kinds=("causal-lm",)), "has no `version` string (found 1)"),
    (_with(version="1"), "has no `kinds` tuple of model kinds (found None)"),
    (_with(version="1", kinds=["causal-lm"]), "has no `kinds` tuple of model kinds (found ['causal-lm'])"),
    (_with(version="1", kinds=("audio",)), "has no `kinds` tuple of model kinds (found ('audio',))"),
    (_with(version="1", kinds=()), "has no `kinds` tuple of model kinds (found ())"),
])
def test_an_object_without_the_interface_is_refused(registry, candidate, problem):
    with pytest.raises(ZooError) as raised:
        register("bad")(candidate)
    assert problem in str(raised.value) and "evaluator 'bad'" in str(raised.value)
    assert "causal-lm, encoder, bi-encoder, vision-lm" in str(raised.value), "the message lists the kinds"
    assert "bad" not in registry


def test_an_unknown_name_lists_the_registered_ones(registry):
    with pytest.raises(ZooError, match="unknown evaluator 'nope'; registered: ngram_shift, ood, synthesis_quality"):
        get_evaluator("nope")
    with pytest.raises(ZooError, match="unknown evaluator 'nope'"):
        evaluator_source("nope")  # a suite naming it is refused when its hash is taken
