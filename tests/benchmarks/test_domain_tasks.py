"""The domain tasks (AdaptLLM's sets): upstream local formats, prompts, labels, hub converters, F1.

None of these sets is in the workplace data, so small fixtures in each upstream format are written
to a temporary ``ZOO_DATA_DIR``; the hub paths run on rows in the hub formats, served by stand-ins
for ``datasets.load_dataset`` and ``hf_hub_download``.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile

import datasets
import pytest

from tests.benchmarks.golden import assert_first_doc_renders

from benchmarks.tasks.domain_tasks import loaders, utils

# ----------------------------------------------------------------------------- fixtures

RCT_TXT = (
    "###24491034\n"
    "BACKGROUND\tThe emergence of HIV as a chronic condition means that people living with HIV take more "
    "responsibility .\n"
    "METHODS\tThis study is designed as a randomised controlled trial .\n"
    "\n"
    "###24854809\n"
    "RESULTS\tMean pain scores fell by @ points in the intervention group .\n"
    "CONCLUSIONS\tThe program reduced pain .\n"
    "\n"
)

MEDQA_ROWS = [
    {"question": "A 23-year-old woman has burning on urination. Which drug is the best treatment?",
     "answer": "Nitrofurantoin",
     "options": {"A": "Ampicillin", "B": "Ceftriaxone", "C": "Doxycycline", "D": "Nitrofurantoin"},
     "meta_info": "step2&3", "answer_idx": "D", "metamap_phrases": ["woman", "burning"]},
    # Options out of letter order: they are read by letter.
    {"question": "Which vitamin deficiency causes scurvy?", "answer": "Vitamin C",
     "options": {"B": "Vitamin B12", "A": "Vitamin C", "D": "Vitamin K", "C": "Vitamin D"},
     "meta_info": "step1", "answer_idx": "A", "metamap_phrases": ["scurvy"]},
]

MQP_CSV = (
    '1,"After how many hours from drinking an antibiotic can I drink alcohol?",'
    '"I took my last dose of Azithromycin this morning. Can I have a few drinks tonight?",1\n'
    '1,"After how many hours from drinking an antibiotic can I drink alcohol?",'
    '"I vomited this morning, is it the antibiotic or the alcohol of last night?",0\n'
)

FIQA_HEADLINES = {
    "1": {"sentence": "Royal Mail chairman Donald Brydon set to step down",
          "info": [{"snippets": "['set to step down']", "target": "Royal Mail", "sentiment_score": "-0.374",
                    "aspects": "['Corporate/Board Issues']"}]},
    "2": {"sentence": "Stakes high for AstraZeneca heart drug facing tough competition",
          "info": [{"snippets": "['Stakes high']", "target": "AstraZeneca", "sentiment_score": "-0.05",
                    "aspects": "['Corporate/Risks']"}]},
}
FIQA_POSTS = {
    "14860": {"sentence": "$HCP Come to the party and buy this -gonna give solid gains and a dividend",
              "info": [{"snippets": "['solid gains']", "target": "HCP", "sentiment_score": 0.52,
                        "aspects": "['Stock/Price Action/Bullish']"},
                       {"snippets": "['party']", "target": "party", "sentiment_score": 0.1,
                        "aspects": "['Stock/Price Action']"}]},
}

# ISO-8859-1 like the upstream file; the last sentence holds an "@" of its own.
FPB_TXT = (
    "According to Gran , the company has no plans to move all production to Russia .@neutral\n"
    "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn in 2007 .@positive\n"
    "Sales of phones@Nokia in Espoo fell , said J\u00fcrgen .@negative\n"
)

HEADLINE_CSV = (
    "Dates,URL,News,Price or Not,Direction Up,Direction Constant,Direction Down,PastPrice,FuturePrice,"
    "PastNews,FutureNews,Asset Comparision,Price Sentiment\n"
    '28-01-2016,http://www.marketwatch.com/story/a,"april gold down 20 cents to settle at $1,116.10/oz",'
    "1,0,0,1,1,0,0,0,0,negative\n"
    '13-09-2017,http://www.marketwatch.com/story/b,"gold, silver cover lost ground",1,1,0,0,1,0,0,0,1,positive\n'
)

# CoNLL columns (token, POS, chunk, NER tag) in IOB1: B- only between adjacent entities of a type.
NER_TXT = (
    "-DOCSTART- -X- -X- O\n\n"
    "This DT O O\nAgreement NNP O O\nis VBZ O O\nmade VBN O O\nby IN O O\nSilicon NNP O I-ORG\n"
    "Valley NNP O I-ORG\nBank NNP O I-ORG\nand CC O O\nJohn NNP O I-PER\nSmith NNP O I-PER\nof IN O O\n"
    "California NNP O I-LOC\n. . O O\n\n"
    "Borrowers NNS O O\n: : O O\nAcme NNP O I-ORG\nInc. NNP O I-ORG\nBeta NNP O B-ORG\nCorp NNP O I-ORG\n"
    "at IN O O\nLIBOR NNP O I-MISC\n\n"
)

CONVFINQA_DEV = [{
    "pre_text": ["in fiscal 2009 , cash provided by operations increased ."],
    "post_text": ["the increase came from net income ."],
    "table": [["", "2009", "2008"], ["net cash from operating activities", "206588", "181001"]],
    "id": "Single_JKHY/2009/page_28.pdf-3",
    "annotation": {
        "dialogue_break": ["what is the net cash from operating activities in 2009?", "what about in 2008?",
                           "what is the difference?", "what percentage change does this represent?",
                           "was it greater than 10%?"],
        "exe_ans_list": [206588.0, 181001.0, 25587.0, 0.14136, "yes"],
    },
}]

SCOTUS_LONG = "The petitioner " + " ".join(f"w{i}" for i in range(1100))
SCOTUS_ROWS = [
    {"text": SCOTUS_LONG, "issueArea": 7, "data_type": "test"},
    {"text": "A train opinion.", "issueArea": 0, "data_type": "train"},
    {"text": "The respondent was denied counsel.", "issueArea": 1, "data_type": "test"},
]

CASEHOLD_HEADER = ["example_id", "citing_prompt", "holding_0", "holding_1", "holding_2", "holding_3",
                   "holding_4", "c7", "c8", "c9", "c10", "c11", "label"]
CASEHOLD_CONTEXT = ("Firebombs are a serious offense. See United States v. Evans, 272 F.3d 1069, 1080 "
                    "(8th Cir. 2001) (<HOLDING>); United States v. Jones, 1 F.3d 1.")
CASEHOLD_HOLDINGS = ["holding that the statute was void", "holding that a firebomb is a destructive device",
                     "holding that the sentence was proper", "holding that the search was lawful",
                     "holding that the evidence was sufficient"]
CASEHOLD_ROWS = [
    ["0", CASEHOLD_CONTEXT, *CASEHOLD_HOLDINGS, "0", "0", "0", "0", "0", "1"],
    ["1", "The court may hear the claim (<HOLDING>).", "holding a", "holding b", "holding c", "holding d",
     "holding e", "0", "0", "0", "0", "0", "4"],
]

UNFAIR_ROWS = [
    {"company": "Academia", "release_year": "2017", "labels": ["Unilateral change"],
     "text": "we may modify these terms at any time .\n", "data_type": "test"},
    {"company": "Academia", "release_year": "2017", "labels": [], "text": "welcome to our site .\n",
     "data_type": "test"},
    {"company": "Amazon", "release_year": "2017", "labels": ["Jurisdiction", "Choice of law"],
     "text": "these terms are governed by the laws of washington and disputes go to its courts .\n",
     "data_type": "test"},
    {"company": "Tinder", "release_year": "-", "labels": ["Arbitration"], "text": "disputes go to arbitration .\n",
     "data_type": "train"},
]


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


#: folder -> file -> content, as ZOO_DATA_DIR holds them.
FILES = {
    "pubmed_rct": {"test.txt": RCT_TXT},
    "medqa": {"phrases_no_exclude_test.jsonl": _jsonl(MEDQA_ROWS)},
    "mqp": {"mqp.csv": MQP_CSV},
    "fiqa": {"task1_headline_ABSA_train.json": json.dumps(FIQA_HEADLINES),
             "task1_post_ABSA_train.json": json.dumps(FIQA_POSTS)},
    "financial_phrasebank": {"Sentences_AllAgree.txt": FPB_TXT.encode("iso-8859-1")},
    "headline": {"gold-dataset-sinha-khandait.csv": HEADLINE_CSV},
    "finance_ner": {"FIN3.txt": NER_TXT},
    "convfinqa": {"dev.json": json.dumps(CONVFINQA_DEV)},
    "scotus": {"scotus.jsonl": _jsonl(SCOTUS_ROWS)},
    "casehold": {"test.csv": _csv([CASEHOLD_HEADER, *CASEHOLD_ROWS])},
    "unfair_tos": {"unfair_tos.jsonl": _jsonl(UNFAIR_ROWS)},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A ZOO_DATA_DIR with every domain set's fixture files."""
    root = tmp_path_factory.mktemp("domain_data")
    for folder, files in FILES.items():
        (root / folder).mkdir()
        for name, content in files.items():
            (root / folder / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return root


@pytest.fixture(scope="module")
def tasks(task_manager, data):
    """All the domain tasks, built once from the fixture folder (the loaders read it at build time)."""
    from lm_eval.tasks import get_task_dict

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_DATA_DIR", str(data))
        return get_task_dict(list(FIRST_DOCS), task_manager)


@pytest.fixture
def local(data, monkeypatch):
    """The records a set's loader reads from the fixture folder."""
    monkeypatch.setenv("ZOO_DATA_DIR", str(data))
    return lambda name: loaders.domain(name)["test"].to_list()


# ----------------------------------------------------------------------------- local data and prompts

RCT_QUESTION = ("\nQuestion: What is the role of this sentence in the abstract of a clinical trial "
                "(background, objective, methods, results, conclusions)?\nAnswer:")
CONVFINQA_CONTEXT = ("in fiscal 2009 , cash provided by operations increased .\n | 2009 | 2008\n"
                     "net cash from operating activities | 206588 | 181001\nthe increase came from net income .")

#: task -> (docs, first doc's prompt (or its start and end), its choices, its target).
FIRST_DOCS = {
    "zoo_rct": (4, "The emergence of HIV as a chronic condition means that people living with HIV take more "
                   "responsibility ." + RCT_QUESTION, list(loaders.RCT_LABELS), 0),
    "zoo_usmle": (2, "Question: A 23-year-old woman has burning on urination. Which drug is the best treatment?"
                     "\nAnswer:", ["Ampicillin", "Ceftriaxone", "Doxycycline", "Nitrofurantoin"], 3),
    "zoo_mqp": (2, "Question 1: After how many hours from drinking an antibiotic can I drink alcohol?\n"
                   "Question 2: I took my last dose of Azithromycin this morning. Can I have a few drinks tonight?\n"
                   "Question: Do the two questions ask the same thing?\nAnswer:", ["no", "yes"], 1),
    "zoo_fiqa_sa": (4, "Royal Mail chairman Donald Brydon set to step down\nQuestion: What is the sentiment on "
                       "Royal Mail (negative, neutral, positive)?\nAnswer:", ["negative", "neutral", "positive"], 0),
    "zoo_fpb": (3, "According to Gran , the company has no plans to move all production to Russia .\nQuestion: "
                   "What is the sentiment of this financial news (negative, neutral, positive)?\nAnswer:",
                ["negative", "neutral", "positive"], 1),
    "zoo_headline": (18, "Headline: april gold down 20 cents to settle at $1,116.10/oz\nQuestion: Does the news "
                         "headline talk about price?\nAnswer:", ["no", "yes"], 1),
    "zoo_finance_ner": (5, "This Agreement is made by Silicon Valley Bank and John Smith of California .\nQuestion: "
                           "What type of entity is \"Silicon Valley Bank\" (person, organization, location)?\n"
                           "Answer:", ["person", "organization", "location"], 1),
    "zoo_convfinqa": (5, CONVFINQA_CONTEXT + "\nQuestion: what is the net cash from operating activities in 2009?"
                         "\nAnswer:", None, "206588"),
    "zoo_scotus": (2, ("The petitioner w0 w1", " w1020 w1021\nQuestion: Which issue area does this Supreme Court "
                                               "opinion concern (criminal procedure, civil rights, first amendment, "
                                               "due process, privacy, attorneys, unions, economic activity, judicial "
                                               "power, federalism, interstate relations, federal taxation, "
                                               "miscellaneous, private action)?\nAnswer:"),
                   list(loaders.SCOTUS_ISSUE_AREAS), 7),
    "zoo_casehold": (2, "Firebombs are a serious offense. See United States v. Evans, 272 F.3d 1069, 1080 "
                        "(8th Cir. 2001) (", CASEHOLD_HOLDINGS, 1),
    "zoo_unfair_tos": (3, "we may modify these terms at any time .\nQuestion: Which kind of potentially unfair clause "
                          "in terms of service is this sentence (limitation of liability, unilateral termination, "
                          "unilateral change, content removal, contract by using, choice of law, jurisdiction, "
                          "arbitration, none)?\nAnswer:", list(loaders.UNFAIR_CHOICES), [2]),
}

#: task -> every doc's target, in order: how the upstream labels map onto the options.
TARGETS = {
    "zoo_rct": [0, 2, 3, 4],
    "zoo_usmle": [3, 0],
    "zoo_mqp": [1, 0],
    # -0.374, -0.05, 0.52 and 0.1: FinGPT's thresholds at -0.1 and 0.1.
    "zoo_fiqa_sa": [0, 1, 2, 2],
    "zoo_fpb": [1, 2, 0],
    "zoo_headline": [1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1],
    "zoo_finance_ner": [1, 0, 2, 1, 1],
    "zoo_convfinqa": ["206588", "181001", "25587", "0.14136", "yes"],
    "zoo_scotus": [7, 1],
    "zoo_casehold": [1, 4],
    "zoo_unfair_tos": [[2], [8], [5, 6]],
}

METRICS = {"zoo_fiqa_sa": ["acc", "acc_norm", "f1"], "zoo_fpb": ["acc", "acc_norm", "f1"],
           "zoo_headline": ["acc", "acc_norm", "f1"], "zoo_finance_ner": ["acc", "acc_norm", "f1"],
           "zoo_scotus": ["acc", "acc_norm", "f1"], "zoo_casehold": ["acc", "acc_norm", "f1"],
           "zoo_convfinqa": ["numeric_match"]}


@pytest.mark.parametrize("name", list(FIRST_DOCS))
def test_task_loads_every_doc_from_local_files(tasks, name):
    task = tasks[name]
    docs = list(task.test_docs())
    assert len(docs) == FIRST_DOCS[name][0]
    assert task.OUTPUT_TYPE == ("generate_until" if name == "zoo_convfinqa" else "multiple_choice")
    assert task.config.num_fewshot == 0 and task.config.metadata["version"] == 1.0
    assert list(task.aggregation()) == METRICS.get(name, ["acc", "acc_norm"])
    assert [task.doc_to_target(doc) for doc in docs] == TARGETS[name]


@pytest.mark.parametrize("name", list(FIRST_DOCS))
def test_first_doc_renders_golden(tasks, name):
    task = tasks[name]
    _, prompt, choices, target = FIRST_DOCS[name]
    assert_first_doc_renders(task, prompt, choices, target)


def test_scotus_prompt_keeps_the_first_1024_words(tasks):
    text = tasks["zoo_scotus"].doc_to_text(next(iter(tasks["zoo_scotus"].test_docs())))
    assert len(text.split("\nQuestion:")[0].split()) == 1024


def test_convfinqa_prompt_carries_the_conversation(tasks):
    task = tasks["zoo_convfinqa"]
    doc = list(task.test_docs())[3]
    assert task.doc_to_text(doc) == (
        CONVFINQA_CONTEXT + "\nQuestion: what is the net cash from operating activities in 2009?\nAnswer: 206588\n"
        "Question: what about in 2008?\nAnswer: 181001\nQuestion: what is the difference?\nAnswer: 25587\n"
        "Question: what percentage change does this represent?\nAnswer:")
    assert task.config.generation_kwargs["until"] == ["\n"]


def test_casehold_holdings_complete_the_parenthesis(tasks):
    task = tasks["zoo_casehold"]
    doc = next(iter(task.test_docs()))
    # No delimiter: "(" then "holding that ...".
    assert task.config.target_delimiter == ""
    assert task.construct_requests(doc, task.doc_to_text(doc))[1].args == (
        FIRST_DOCS["zoo_casehold"][1], "holding that a firebomb is a destructive device")


def test_headline_records_ask_the_nine_questions(local):
    records = local("headline")
    assert [r["question_type"] for r in records] == list(range(9)) * 2
    assert records[3]["question"] == "Does the news headline talk about price going down?"
    assert records[9]["headline"] == "gold, silver cover lost ground"


def test_ner_reads_iob1_and_drops_misc(local):
    assert [(r["entity"], r["choices"][r["gold"]]) for r in local("finance_ner")] == [
        ("Silicon Valley Bank", "organization"), ("John Smith", "person"), ("California", "location"),
        ("Acme Inc.", "organization"), ("Beta Corp", "organization")]


def test_entity_spans_read_iob1_iob2_and_bare_tags():
    assert loaders.entity_spans(["I-ORG", "I-ORG", "B-ORG", "O", "I-PER"]) == [(0, 2, "ORG"), (2, 3, "ORG"),
                                                                              (4, 5, "PER")]
    assert loaders.entity_spans(["B-LOC", "I-LOC", "I-PER", "B-PER"]) == [(0, 2, "LOC"), (2, 3, "PER"), (3, 4, "PER")]
    assert loaders.entity_spans(["ORG", "ORG", "O", "LOC"]) == [(0, 2, "ORG"), (3, 4, "LOC")]


@pytest.mark.parametrize(("score", "label"), [(-0.374, "negative"), (-0.1, "neutral"), (0.0999, "neutral"),
                                              (0.1, "positive")])
def test_fiqa_thresholds(score, label):
    assert loaders.fiqa_label(score) == label


def test_unknown_labels_are_refused():
    with pytest.raises(ValueError, match="unknown PubMed RCT label 'introduction'"):
        loaders.rct_records("###1\nINTRODUCTION\tA sentence .\n")
    with pytest.raises(ValueError, match="unknown FPB label 'mixed'"):
        loaders.fpb_records("A sentence .@mixed\n")
    with pytest.raises(ValueError, match="unknown UNFAIR-ToS type 'Privacy'"):
        loaders.unfair_record("a sentence", ["Privacy"])
    with pytest.raises(KeyError, match="lacks the columns"):
        loaders.headline_records("Dates,News\n1,gold up\n")
    with pytest.raises(ValueError, match="without <HOLDING>"):
        loaders.casehold_record("no slot here", CASEHOLD_HOLDINGS, 0)


# ----------------------------------------------------------------------------- hub copies


def _zip(member: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(member, content)
    return out.getvalue()


#: set -> (hub rows in the hub format, or the bytes of the hosted upstream file; indices of the local
#: records they must become).
HUB = {
    "rct": ([{"abstract_id": "24491034", "label": "background", "sentence_id": 0,
              "text": "The emergence of HIV as a chronic condition means that people living with HIV take more "
                      "responsibility ."},
             {"abstract_id": "24854809", "label": "conclusions", "text": "The program reduced pain .",
              "sentence_id": 1}], [0, 3]),
    "usmle": (MEDQA_ROWS, [0, 1]),
    "mqp": ([{"dr_id": 1, "question_1": "After how many hours from drinking an antibiotic can I drink alcohol?",
              "question_2": "I vomited this morning, is it the antibiotic or the alcohol of last night?", "label": 0}],
            [1]),
    "fiqa_sa": ([{"_id": "14860", "sentence": "$HCP Come to the party and buy this -gonna give solid gains and a "
                                            "dividend",
                  "target": "HCP", "aspect": "Stock/Price Action/Bullish", "score": 0.52, "type": "post"}], [2]),
    "fpb": (_zip("FinancialPhraseBank-v1.0/Sentences_AllAgree.txt", FPB_TXT.encode("iso-8859-1")), [0, 1, 2]),
    "headline": ([{"input": "april gold down 20 cents to settle at $1,116.10/oz", "output": "Yes",
                   "instruction": "Does the news headline talk about price going down? Please choose an answer "
                                  "from {Yes/No}."},
                  {"input": "gold, silver cover lost ground", "output": "Yes",
                   "instruction": "Does the news headline compare gold with any other asset? Please choose an "
                                  "answer from {Yes/No}."}], [3, 17]),
    "finance_ner": (NER_TXT.encode(), [0, 1, 2, 3, 4]),
    "scotus": ([{"text": "The respondent was denied counsel.", "label": 1}], [1]),
    "casehold": ([{"context": CASEHOLD_CONTEXT, "endings": CASEHOLD_HOLDINGS, "label": 1}], [0]),
    "unfair_tos": ([{"text": "these terms are governed by the laws of washington and disputes go to its courts .\n",
                     "labels": [6, 5]},
                    {"text": "welcome to our site .\n", "labels": []}], [2, 1]),
}

FLARE_ROW = {
    "id": "convfinqa1",
    "query": "In the context of this series of interconnected finance-related queries and the additional "
             "information provided by the pretext, table data, and post text from a company's financial filings, "
             "please provide a response to the final question:\nContext: in fiscal 2009 , cash provided by "
             "operations increased . <table class='wikitable'><tr><td>net cash</td><td>206588</td></tr>"
             "<tr><td>net income</td><td>103102</td></tr></table> the increase came from net income .\n"
             "Conversations: \nq0: what is the net cash from operating activities in 2009? answer: 206588\n"
             "Question: what about in 2008?\nAnswer:",
    "answer": "181001", "turn": 1, "dialogue_id": 0,
}


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """The hub path, ``load_dataset`` and ``hf_hub_download`` serving the rows and files of ``HUB``."""

    def load_dataset(path, name=None, split=None):
        return datasets.Dataset.from_list(served[(path, name, split)])

    def hf_hub_download(repo_id, filename, repo_type=None):
        assert repo_type == "dataset"
        path = tmp_path / filename.replace("/", "_")
        path.write_bytes(served[(repo_id, filename)])
        return str(path)

    served = {}
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.setattr(loaders, "hf_hub_download", hf_hub_download)
    return served


@pytest.mark.parametrize("name", list(HUB))
def test_hub_copy_gives_the_local_records(data, hub, monkeypatch, name):
    rows, indices = HUB[name]
    source = loaders.SETS[name].hub
    hub[source if isinstance(source, loaders.HubSource) else source[:2]] = rows
    from_hub = loaders.domain(name)["test"].to_list()
    monkeypatch.setenv("ZOO_DATA_DIR", str(data))
    local = loaders.domain(name)["test"].to_list()
    assert from_hub == [local[i] for i in indices]


def test_flare_convfinqa_row_becomes_a_record(hub):
    hub[loaders.SETS["convfinqa"].hub] = [FLARE_ROW]
    assert loaders.domain("convfinqa")["test"].to_list() == [{
        "context": "in fiscal 2009 , cash provided by operations increased .\nnet cash | 206588\n"
                   "net income | 103102\nthe increase came from net income .",
        "history": [["what is the net cash from operating activities in 2009?", "206588"]],
        "question": "what about in 2008?", "answer": "181001"}]
    # The first turn has no conversation yet.
    first = {**FLARE_ROW, "query": FLARE_ROW["query"].split("Conversations: \n")[0]
             + "Conversations: \nQuestion: what is the net cash from operating activities in 2009?\nAnswer:"}
    assert loaders.convfinqa_hub_record({**first, "answer": "206588"})["history"] == []
    with pytest.raises(ValueError, match="not a FLARE ConvFinQA query"):
        loaders.convfinqa_hub_record({"query": "Question: what?", "answer": "1"})


def test_headline_hub_question_must_be_one_of_the_nine():
    with pytest.raises(ValueError, match="unknown headline question"):
        loaders.headline_hub_record({"input": "gold up", "output": "Yes",
                                     "instruction": "Is gold shiny? Please choose an answer from {Yes/No}."})


@pytest.mark.parametrize("name", list(loaders.SETS))
def test_without_data_dir_offline_says_to_set_it(monkeypatch, tmp_path, name):
    import huggingface_hub.constants

    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    # Both libraries read these at import; empty caches keep a developer's cached copies out of it.
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "datasets"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ConnectionError, match=f"^{name}: ZOO_DATA_DIR is not set") as raised:
        loaders.domain(name)
    assert "set ZOO_DATA_DIR" in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize("name", list(loaders.SETS))
def test_a_data_dir_without_the_set_names_its_folder_and_the_hub_copy(monkeypatch, tmp_path, name):
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    folder = loaders.SETS[name].folder
    with pytest.raises(FileNotFoundError) as raised:
        loaders.domain(name)
    message = str(raised.value)
    assert message.startswith(f"{name}: needs ZOO_DATA_DIR/{folder}/ but {folder}/") and "\n" not in message
    assert message.endswith(f"unset ZOO_DATA_DIR to load the hub copy {loaders.SETS[name].hub}")


# ----------------------------------------------------------------------------- scoring


def test_f1_aggregations_on_known_values():
    # Per class F1: 2/3 (class 0, support 2), 2/3 (class 1, support 1), 1 (class 2, support 1).
    items = [(0, 0), (0, 1), (1, 1), (2, 2)]
    assert utils.macro_f1(items) == pytest.approx(7 / 9)
    assert utils.weighted_f1(items) == pytest.approx(3 / 4)
    # Question 0: weighted F1 (0 + 2/3) / 2 = 1/3; question 1: 1. Their mean: 2/3.
    assert utils.headline_f1([(0, 1, 1), (0, 0, 1), (1, 0, 0), (1, 1, 1)]) == pytest.approx(2 / 3)


@pytest.mark.parametrize(("name", "aggregation"), [("zoo_fiqa_sa", "weighted_f1"), ("zoo_fpb", "weighted_f1"),
                                                    ("zoo_finance_ner", "macro_f1"), ("zoo_scotus", "macro_f1"),
                                                    ("zoo_casehold", "macro_f1"), ("zoo_headline", "headline_f1")])
def test_tasks_aggregate_f1_with_the_custom_functions(tasks, name, aggregation):
    assert tasks[name].aggregation()["f1"].__name__ == aggregation


def test_multi_class_f1_items_flow_through_lm_eval(tasks):
    task = tasks["zoo_scotus"]
    docs = list(task.test_docs())
    # Option 7 most likely for both opinions: right for the first (7), wrong for the second (1).
    results = [task.process_results(doc, [(0.0 if i == 7 else -5.0, False) for i in range(14)]) for doc in docs]
    assert [r["acc"] for r in results] == [1.0, 0.0]
    assert task.aggregation()["f1"]([r["f1"] for r in results]) == pytest.approx(utils.macro_f1([(7, 7), (1, 7)]))


def test_headline_results_score_like_lm_eval(tasks):
    task = tasks["zoo_headline"]
    doc = list(task.test_docs())[3]  # "price going down?": yes
    # "yes" has the higher total, "no" the higher per-character likelihood (-2.1 / 2 > -3 / 3).
    results = task.process_results(doc, [(-2.1, False), (-3.0, False)])
    assert results == {"acc": 0.0, "acc_norm": 1.0, "f1": (3, 1, 0)}


def test_unfair_tos_counts_any_correct_type(tasks):
    task = tasks["zoo_unfair_tos"]
    docs = list(task.test_docs())

    def acc(doc, best):
        return task.process_results(doc, [(0.0 if i == best else -5.0, False) for i in range(9)])["acc"]

    assert [acc(docs[2], 5), acc(docs[2], 6), acc(docs[2], 8)] == [1.0, 1.0, 0.0]
    assert [acc(docs[1], 8), acc(docs[1], 0)] == [1.0, 0.0]


@pytest.mark.parametrize(("gold", "generated", "score"), [
    ("206588", " 206,588 dollars", 1.0),
    ("0.14136", " 14.1%", 1.0),
    ("0.14136", " 0.16", 0.0),  # more than AdaptLLM's 0.01 off
    ("25587", " 25587.004", 1.0),
    ("-0.5", " -0.5", 1.0),
    ("25587", " about 2 times, 25587", 0.0),
    ("25587", " unknown", 0.0),
    ("yes", " Yes.", 1.0),
    ("yes", " no", 0.0),
])
def test_convfinqa_numeric_match(tasks, gold, generated, score):
    assert utils.numeric_match([gold], [generated]) == score
    task = tasks["zoo_convfinqa"]
    doc = {**next(iter(task.test_docs())), "answer": gold}
    assert task.process_results(doc, [generated]) == {"numeric_match": score}
