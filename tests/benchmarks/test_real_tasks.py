"""The real-data lm-eval tasks (real_general, real_biomed): local loading, prompts, hub converters."""

from __future__ import annotations

import json

import datasets
import pytest

from tests.benchmarks.golden import assert_first_doc_renders

from benchmarks.tasks.real_biomed import loaders as biomed
from benchmarks.tasks.real_general import loaders as general

#: The local data (conftest points ZOO_DATA_DIR at the workplace copy; CI sets it).
DATA = general.data_dir()

#: task -> (test docs, first doc's prompt, its choices, its target). A prompt too long to spell out
#: is given as (start, end); the partial-scoring tasks' "prompt" is the gold context index.
FIRST_DOCS = {
    "zoo_copa": (100, "The man turned on the faucet therefore",
                 ["the toilet filled with water.", "water flowed from the spout."], 1),
    "zoo_piqa": (1838, "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:",
                 ["Provide the guinea pig with a cage full of a few inches of bedding made of ripped paper strips, "
                  "you will also need to supply it with a water bottle and a food dish.",
                  "Provide the guinea pig with a cage full of a few inches of bedding made of ripped jeans material, "
                  "you will also need to supply it with a water bottle and a food dish."], 0),
    "zoo_openbookqa": (500, "A person wants to start saving money so that they can afford a nice vacation at the end "
                            "of the year. After looking over their budget and expenses, they decide the best way to "
                            "save money is to",
                       ["make more phone calls", "quit eating lunch out", "buy less with monopoly money",
                        "have lunch with friends"], 1),
    "zoo_arc_easy": (2376, "Question: Which statement best explains why photosynthesis is the foundation of most "
                           "food webs?\nAnswer:",
                     ["Sunlight is the source of energy for nearly all ecosystems.",
                      "Most ecosystems are found on land instead of in water.",
                      "Carbon dioxide is more available than other gases.",
                      "The producers in all ecosystems are plants."], 0),
    "zoo_arc_challenge": (1172, "Question: An astronomer observes that a planet rotates faster after a meteorite "
                                "impact. Which is the most likely effect of this increase in rotation?\nAnswer:",
                          ["Planetary density will decrease.", "Planetary years will become longer.",
                           "Planetary days will become shorter.", "Planetary gravity will become stronger."], 2),
    "zoo_boolq": (3270, ("All biomass goes through at least some of these steps:",
                         "than producing gasoline.\nQuestion: does ethanol take more energy make that produces?"
                         "\nAnswer:"),
                  ["no", "yes"], 0),
    "zoo_winogrande": (1267, 1, ["Sarah was a much better surgeon than Maria so Sarah",
                                "Sarah was a much better surgeon than Maria so Maria"],
                       "always got the easier cases."),
    "zoo_siqa": (1954, "Q: Tracy didn't go home that evening and resisted Riley's attacks. What does Tracy need to "
                       "do before this?\nA:",
                 ["make a new plan", "Find somewhere to go"], 1),
    "zoo_commonsense_qa": (1221, "Question: A revolving door is convenient for two direction travel, but it also "
                                 "serves as a security measure at a what?\nA. bank\nB. department store\nC. mall\n"
                                 "D. new york\nAnswer:",
                           ["A", "B", "C", "D"], 0),
    "zoo_wsc": (273, 0, ["The city councilmen refused the demonstrators a permit because the city councilmen",
                         "The city councilmen refused the demonstrators a permit because the demonstrators"],
                "feared violence."),
    "zoo_pubmedqa": (500, ("Abstract: Programmed cell death (PCD) is the regulated death of cells within an "
                           "organism.",
                           "similar to that of non-PCD cells.\nQuestion: Do mitochondria play a role in remodelling "
                           "lace plant leaves during programmed cell death?\nAnswer:"),
                     ["yes", "no", "maybe"], "yes"),
    "zoo_chemprot": (3469, "<< Androgen >> antagonistic effect of estramustine phosphate (EMP) metabolites on "
                           "wild-type and mutated [[ androgen receptor ]].\nQuestion: << Androgen >> and "
                           "[[ androgen receptor ]] are a chemical and a gene or protein, in some order. What is the "
                           "chemical to the gene or protein?\nAnswer:",
                     biomed.CHEMPROT_CHOICES, 4),
}


@pytest.fixture(scope="module")
def tasks(task_manager):
    """All the real tasks, built once from ZOO_DATA_DIR."""
    from lm_eval.tasks import get_task_dict

    assert DATA is not None, "set ZOO_DATA_DIR to the folder of the local data sets"
    return get_task_dict(list(FIRST_DOCS), task_manager)


def _local(file: str) -> list[dict]:
    return general.read_jsonl(DATA / "zeroshot" / file)


def _gold_index(task, doc) -> int:
    """The gold option's index, however the task states it (lm-eval's own resolution)."""
    gold = task.doc_to_text(doc) if task.multiple_input else task.doc_to_target(doc)
    return task.doc_to_choice(doc).index(gold) if isinstance(gold, str) else gold


@pytest.mark.parametrize("name", list(FIRST_DOCS))
def test_task_loads_every_doc_from_local_data(tasks, name):
    task = tasks[name]
    docs = list(task.test_docs())
    assert len(docs) == FIRST_DOCS[name][0]
    assert task.OUTPUT_TYPE == "multiple_choice" and task.config.num_fewshot == 0
    assert task.config.metadata["version"] == 1.0
    assert [m["metric"] for m in task.config.metric_list] == ["acc", "acc_norm"]
    for doc in docs:
        assert 0 <= _gold_index(task, doc) < len(task.doc_to_choice(doc))


@pytest.mark.parametrize("name", list(FIRST_DOCS))
def test_first_doc_renders_like_lm_eval(tasks, name):
    task = tasks[name]
    _, prompt, choices, target = FIRST_DOCS[name]
    assert_first_doc_renders(task, prompt, choices, target)


# Hub converters: rows written in the upstream hub formats.

COPA_ROW = {"premise": "The man turned on the faucet.", "choice1": "The toilet filled with water.",
            "choice2": "Water flowed from the spout.", "question": "effect", "idx": 0, "label": 1}
WSC_ROW = {"text": "The city councilmen refused the demonstrators a permit because they feared violence.",
           "pronoun": "they", "pronoun_loc": 63, "quote": "they feared violence", "quote_loc": 63,
           "options": ["The city councilmen", "The demonstrators"], "label": 0, "source": "(Winograd 1972)"}

#: (set, hub row, index of the local record it must become).
SAME_AS_LOCAL = [
    ("copa", COPA_ROW, 0),
    ("piqa", {"goal": "How do I ready a guinea pig cage for it's new occupants?",
              "sol1": FIRST_DOCS["zoo_piqa"][2][0], "sol2": FIRST_DOCS["zoo_piqa"][2][1], "label": 0}, 0),
    ("openbookqa", {"id": "7-980", "question_stem": FIRST_DOCS["zoo_openbookqa"][1],
                    "choices": {"text": FIRST_DOCS["zoo_openbookqa"][2], "label": ["A", "B", "C", "D"]},
                    "answerKey": "B"}, 0),
    # Some ARC questions number their options.
    ("arc_easy", {"id": "Mercury_417466", "question": "Which statement best explains why photosynthesis is the "
                                                      "foundation of most food webs?",
                  "choices": {"text": FIRST_DOCS["zoo_arc_easy"][2], "label": ["1", "2", "3", "4"]},
                  "answerKey": "1"}, 0),
    ("arc_challenge", {"id": "Mercury_7175875", "question": "An astronomer observes that a planet rotates faster "
                                                            "after a meteorite impact. Which is the most likely "
                                                            "effect of this increase in rotation?",
                       "choices": {"text": FIRST_DOCS["zoo_arc_challenge"][2], "label": ["A", "B", "C", "D"]},
                       "answerKey": "C"}, 0),
    ("winogrande", {"sentence": "Sarah was a much better surgeon than Maria so _ always got the easier cases.",
                    "option1": "Sarah", "option2": "Maria", "answer": "2"}, 0),
    ("wsc", WSC_ROW, 0),
    # A possessive pronoun: the options take "'s" and, inside the sentence, a lower-case article.
    ("wsc", {**WSC_ROW, "text": "The man lifted the boy onto his shoulders.", "pronoun": "his", "pronoun_loc": 28,
             "options": ["The man", "The boy"], "label": 0}, 230),
]


@pytest.mark.parametrize(("name", "row", "index"), SAME_AS_LOCAL)
def test_hub_row_becomes_the_local_record(tasks, name, row, index):
    spec = general.SETS[name]
    record = spec.convert(row)
    local = _local(spec.file)[index]
    assert record == local
    # The same record, so the same prompt: the task renders either source identically.
    task = tasks[f"zoo_{name}"]
    assert task.doc_to_text(record) == task.doc_to_text(local)
    assert task.doc_to_choice(record) == task.doc_to_choice(local)


#: (set, hub row, its record, the prompt and choices lm-eval's own task gives that row), for the
#: sets whose local slices cannot come from the hub rows (see loaders.py).
HUB_ONLY = [
    ("boolq", {"question": "does ethanol take more energy make that produces", "answer": False,
               "passage": "Ethanol fuel is made from biomass."},
     {"query": "Passage: Ethanol fuel is made from biomass.\nQuestion: does ethanol take more energy make that "
               "produces?", "choices": ["no", "yes"], "gold": 0},
     "Ethanol fuel is made from biomass.\nQuestion: does ethanol take more energy make that produces?\nAnswer:",
     ["no", "yes"]),
    ("siqa", {"context": "Tracy didn't go home that evening and resisted Riley's attacks.",
              "question": "What does Tracy need to do before this?", "answerA": "make a new plan",
              "answerB": "Go home and see Riley", "answerC": "Find somewhere to go", "label": "3"},
     {"query": "Context: Tracy didn't go home that evening and resisted Riley's attacks.\nQuestion: What does "
               "Tracy need to do before this?\nChoices:\nA. make a new plan\nB. Go home and see Riley\n"
               "C. Find somewhere to go\nAnswer:", "choices": ["A", "B", "C"], "gold": 2},
     FIRST_DOCS["zoo_siqa"][1], ["make a new plan", "Go home and see Riley", "Find somewhere to go"]),
    ("commonsense_qa", {"id": "1afa02df02c908a558b4036e80242fac",
                        "question": "A revolving door is convenient for two direction travel, but it also serves "
                                    "as a security measure at a what?", "question_concept": "revolving door",
                        "choices": {"label": ["A", "B", "C", "D", "E"],
                                    "text": ["bank", "library", "department store", "mall", "new york"]},
                        "answerKey": "A"},
     {"query": "Question: A revolving door is convenient for two direction travel, but it also serves as a "
               "security measure at a what?\nChoices:\nA. bank\nB. library\nC. department store\nD. mall\n"
               "E. new york\nAnswer:", "choices": ["A", "B", "C", "D", "E"], "gold": 0},
     "Question: A revolving door is convenient for two direction travel, but it also serves as a security "
     "measure at a what?\nA. bank\nB. library\nC. department store\nD. mall\nE. new york\nAnswer:",
     ["A", "B", "C", "D", "E"]),
]


@pytest.mark.parametrize(("name", "row", "record", "prompt", "choices"), HUB_ONLY)
def test_hub_row_renders_like_lm_eval(tasks, name, row, record, prompt, choices):
    assert general.SETS[name].convert(row) == record
    task = tasks[f"zoo_{name}"]
    assert task.doc_to_text(record) == prompt
    assert task.doc_to_choice(record) == choices
    assert task.doc_to_target(record) == record["gold"]


def test_local_slices_hold_the_hub_only_examples():
    """The boolq and siqa rows above are the local first examples (boolq's passage shortened)."""
    boolq, siqa = HUB_ONLY[0], HUB_ONLY[1]
    local = _local("boolq.jsonl")[0]
    assert local["query"].endswith("\nQuestion: does ethanol take more energy make that produces?")
    assert (local["choices"], local["gold"]) == (boolq[2]["choices"], boolq[2]["gold"])
    assert _local("siqa.jsonl")[0]["query"].startswith(siqa[2]["query"].split("\nChoices:")[0])


def _pqal() -> dict[str, dict]:
    return json.loads((DATA / "pubmedqa" / "ori_pqal.json").read_text(encoding="utf-8"))


def _pqa_labeled_row(pmid: str, item: dict) -> dict:
    """An ori_pqal.json entry in the upstream qiaojin/PubMedQA pqa_labeled format."""
    return {"pubid": int(pmid), "question": item["QUESTION"],
            "context": {"contexts": item["CONTEXTS"], "labels": item["LABELS"], "meshes": item["MESHES"],
                        "reasoning_required_pred": list(item["reasoning_required_pred"]),
                        "reasoning_free_pred": list(item["reasoning_free_pred"])},
            "long_answer": item["LONG_ANSWER"], "final_decision": item["final_decision"]}


def test_pubmedqa_hub_row_becomes_the_local_entry():
    row = {"pubid": 10, "question": "Does it work?",
           "context": {"contexts": ["We tried it.", "It worked."], "labels": ["METHODS", "RESULTS"],
                       "meshes": ["Humans"], "reasoning_required_pred": ["y", "e", "s"],
                       "reasoning_free_pred": ["y", "e", "s"]},
           "long_answer": "It works.", "final_decision": "yes"}
    assert biomed.pqal_item(row) == ("10", {
        "QUESTION": "Does it work?", "CONTEXTS": ["We tried it.", "It worked."], "LABELS": ["METHODS", "RESULTS"],
        "MESHES": ["Humans"], "LONG_ANSWER": "It works.", "final_decision": "yes"})
    pmid, item = next(iter(_pqal().items()))
    assert biomed.pqal_item(_pqa_labeled_row(pmid, item)) == (pmid, {k: item[k] for k in biomed.PQAL_FIELDS})


def test_pubmedqa_official_split_reproduces_the_test_pmids():
    truth = json.loads((DATA / "pubmedqa" / "test_ground_truth.json").read_text(encoding="utf-8"))
    assert biomed.official_test_pmids(_pqal()) == list(truth)


def test_chemprot_rows_and_labels():
    row = {"text": "<< Aspirin >> inhibits [[ COX-1 ]].", "label": "INHIBITOR", "metadata": []}
    record = biomed.chemprot_record(row)
    assert record == {"text": "<< Aspirin >> inhibits [[ COX-1 ]].", "label": "INHIBITOR"}
    assert biomed.chemprot_choices(record)[biomed.chemprot_target(record)] == "inhibitor"
    assert len(biomed.CHEMPROT_CHOICES) == 13 == len(set(biomed.CHEMPROT_CHOICES))
    with pytest.raises(ValueError, match="unknown ChemProt label 'false'"):
        biomed.chemprot_record({**row, "label": "false"})


@pytest.fixture
def hub(monkeypatch):
    """The hub path with ``datasets.load_dataset`` serving given upstream rows (no network)."""
    served = {}

    def load_dataset(path, name=None, split=None):
        return datasets.Dataset.from_list(served[(path, name, split)])

    monkeypatch.delenv("ZOO_DATA_DIR")
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return served


def test_hub_path_gives_the_local_records(hub, monkeypatch):
    pqal = _pqal()
    hub[("aps/super_glue", "copa", "validation")] = [COPA_ROW]
    hub[("qiaojin/PubMedQA", "pqa_labeled", "train")] = [_pqa_labeled_row(p, item) for p, item in pqal.items()]
    hub[("AdaptLLM/ChemProt", "ChemProt", "test")] = general.read_jsonl(DATA / "chemprot" / "test.txt")

    from_hub = {"copa": general.zeroshot("copa")["test"].to_list(), "pubmedqa": biomed.pubmedqa()["test"].to_list(),
                "chemprot": biomed.chemprot()["test"].to_list()}
    monkeypatch.setenv("ZOO_DATA_DIR", str(DATA))
    assert from_hub["copa"] == general.zeroshot("copa")["test"].to_list()[:1]
    assert from_hub["pubmedqa"] == biomed.pubmedqa()["test"].to_list()
    assert from_hub["chemprot"] == biomed.chemprot()["test"].to_list()


@pytest.mark.parametrize(("loader", "dataset"), [
    (lambda: general.zeroshot("copa"), "copa"),
    (lambda: general.zeroshot("wsc"), "wsc"),
    (biomed.pubmedqa, "pubmedqa"),
    (biomed.chemprot, "chemprot"),
])
def test_without_data_dir_offline_says_to_set_it(monkeypatch, tmp_path, loader, dataset):
    monkeypatch.delenv("ZOO_DATA_DIR")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    # datasets reads both at import; an empty cache keeps a developer's cached copy out of it.
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path))
    with pytest.raises(ConnectionError, match=f"^{dataset}: ZOO_DATA_DIR is not set") as raised:
        loader()
    assert "set ZOO_DATA_DIR" in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize(("loader", "dataset", "missing", "hub"), [
    (lambda: general.zeroshot("copa"), "copa", "zeroshot/copa.jsonl", "aps/super_glue (copa) validation"),
    (biomed.pubmedqa, "pubmedqa", "pubmedqa/ori_pqal.json", "qiaojin/PubMedQA (pqa_labeled) train"),
    (biomed.chemprot, "chemprot", "chemprot/test.txt", "AdaptLLM/ChemProt (ChemProt) test"),
])
def test_a_data_dir_without_the_set_names_its_folder_and_the_hub_copy(monkeypatch, tmp_path, loader, dataset,
                                                                      missing, hub):
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    folder = missing.split("/")[0]
    with pytest.raises(FileNotFoundError) as raised:
        loader()
    assert str(raised.value) == (f"{dataset}: needs ZOO_DATA_DIR/{folder}/ but {missing} is not in ZOO_DATA_DIR="
                                 f"{tmp_path}; put the set's upstream files in {tmp_path / folder}, or unset "
                                 f"ZOO_DATA_DIR to load the hub copy {hub}")
