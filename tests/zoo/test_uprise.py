"""UPRISE's retriever: the DPR loss by hand, top-k search, the pool index cache, export -> load, `zoo retrieve`,
and the leave-one-cluster-out evaluator."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tests.conftest import RETRIEVER_TINY
from zoo.errors import ZooError
from zoo.paths import PROJECT_ROOT

RECIPE = PROJECT_ROOT / "configs" / "uprise" / "uprise-retriever-tinyworld.yaml"
TINY_CLUSTERS = {"n_entities": 6, "per_task": 12}


@pytest.fixture(scope="module")
def tiny_retriever(tmp_path_factory, tiny_folder):
    """The retriever recipe fitted for a few steps on a 6-entity world's clusters, scored by the tiny LM, exported."""
    from zoo.checkpoint import export_checkpoint
    from zoo.cli import main

    root = tmp_path_factory.mktemp("tiny_retriever")
    assert main(["fit", "-c", str(RECIPE), *RETRIEVER_TINY, "--data.init_args.scorer", f"local-dir:{tiny_folder}",
                 "--trainer.default_root_dir", str(root)]) == 0
    return export_checkpoint(root / "checkpoints" / "last.ckpt", root / "folder")


def _toy_retriever():
    from zoo.modules import UpriseRetriever
    from zoo.resolve import resolve

    return UpriseRetriever(net="bert-test", init_from=None, tokenizer=f"local-dir:{resolve('minilm-l6-v2')}")


def test_dpr_loss_matches_a_by_hand_value(monkeypatch):
    """Two queries, each with its positive and one negative; every prompt of the batch is a candidate."""
    module = _toy_retriever()
    queries = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    prompts = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])  # q0: p0+, p1-; q1: p2+, p3-
    monkeypatch.setattr(module, "encode", lambda side, ids, mask: queries if side == "query" else prompts)
    loss = module.training_loss({"query_input_ids": None, "query_attention_mask": None,
                                 "prompt_input_ids": None, "prompt_attention_mask": None})
    # scores q0: [2, 0, 1, 0] (positive 2); q1: [0, 1, 1, 0] (positive 1, the third prompt)
    q0 = -math.log(math.exp(2) / (math.exp(2) + 1 + math.e + 1))
    q1 = -math.log(math.e / (1 + math.e + math.e + 1))
    assert float(loss) == pytest.approx((q0 + q1) / 2, abs=1e-6)


@pytest.mark.parametrize("backend", ["exact", "faiss"])
def test_top_k_matches_brute_force(backend):
    from zoo.nets.search import top_k

    generator = torch.Generator().manual_seed(0)
    queries, pool = torch.randn(37, 16, generator=generator), torch.randn(500, 16, generator=generator)
    scores, indices = top_k(queries, pool, 3, backend)
    brute = (queries @ pool.T).argsort(dim=1, descending=True)[:, :3]
    assert torch.equal(indices, brute)
    assert torch.allclose(scores, (queries @ pool.T).gather(1, brute), atol=1e-5)
    with pytest.raises(ZooError, match="k <= pool size"):
        top_k(queries, pool[:2], 3, backend)


def test_bf16_error_bound_holds_on_embeddings_of_any_scale():
    from zoo.nets.search import bf16_error_bound

    generator = torch.Generator().manual_seed(0)
    for scale in (0.1, 1.0, 30.0):
        queries = torch.randn(64, 384, generator=generator) * scale
        # aligned rows (every product of one sign) are the worst case of the Cauchy-Schwarz step
        pool = torch.cat([torch.randn(2000, 384, generator=generator) * scale + scale, queries.abs(), queries])
        rough = (queries.bfloat16() @ pool.bfloat16().T).float()
        error = (rough - queries.double() @ pool.double().T).abs()
        bound = bf16_error_bound(rough, queries.norm(dim=1, keepdim=True), pool.norm(dim=1), 384)
        assert bool((error <= bound).all()), f"scale {scale}: worst error {float((error / bound).max()):.2f} x bound"
        assert float((error / bound).max()) > 0.05  # the bound is not vacuous


def test_shortlisted_search_equals_float32_search_and_settles_near_ties_in_float32(monkeypatch):
    from zoo.nets import search

    generator = torch.Generator().manual_seed(1)
    queries, pool = torch.randn(300, 64, generator=generator), torch.randn(5000, 64, generator=generator)
    # Near ties that bfloat16 cannot order: the first query's best prompt, copied with tiny perturbations.
    best_row = int((queries[0] @ pool.T).argmax())
    pool[:40] = pool[best_row] + 1e-4 * torch.randn(40, 64, generator=generator)
    reference = torch.topk(queries @ pool.T, 5, dim=1)
    refined = []
    float32_top_k = search._float32_top_k
    monkeypatch.setattr(search, "_float32_top_k", lambda q, p, k: refined.append(q.size(0)) or float32_top_k(q, p, k))
    scores, indices = search.exact_top_k(queries, pool, 5, batch_size=128)
    assert torch.equal(indices, reference.indices)
    assert torch.allclose(scores, reference.values, atol=1e-5)
    # the near-tied query was searched again in float32, most queries were settled by their shortlist
    assert 1 <= sum(refined) < 30
    # no shortlist: float32 throughout, same result
    refined.clear()
    assert torch.equal(search.exact_top_k(queries, pool, 5, shortlist=0)[1], reference.indices)
    assert sum(refined) == 300
    assert [tuple(t.shape) for t in search.exact_top_k(queries[:0], pool, 5)] == [(0, 5), (0, 5)]


def test_pool_index_is_cached_and_new_weights_invalidate_it(monkeypatch):
    module = _toy_retriever()
    prompts = ["Question: where?\nAnswer: here", "Claim: yes.\nTrue or false? true", "a third prompt"]
    calls = []
    real = module.embed
    monkeypatch.setattr(module, "embed", lambda side, texts, *a: calls.append(side) or real(side, texts, *a))
    first = module.pool_embeddings(prompts)
    assert torch.equal(module.pool_embeddings(prompts), first) and calls == ["prompt"]  # second call: the cache
    with torch.no_grad():
        for parameter in module.encoders["prompt"].parameters():  # a constant shift would be normalised away
            parameter.add_(0.1 * torch.randn_like(parameter))
    changed = module.pool_embeddings(prompts)
    assert calls == ["prompt", "prompt"] and not torch.allclose(changed, first)
    assert torch.allclose(changed, real("prompt", prompts))
    module.pool_embeddings(prompts[:2])  # another pool: encoded anew
    assert calls == ["prompt"] * 3


def test_export_then_load_gives_the_same_embeddings(tiny_retriever):
    from sentence_transformers import SentenceTransformer

    import zoo
    from zoo.modules import UpriseRetriever

    module = zoo.load(f"local-dir:{tiny_retriever}")
    assert isinstance(module, UpriseRetriever)
    card = json.loads((tiny_retriever / "zoo_card.json").read_text())
    assert card["data_report"]["clusters"]["held_out"] == "closed_qa"
    assert card["data_report"]["scorer"].startswith("local-dir:")
    texts = ["Question: In which city was Mara Vin born?\nAnswer:", "Mara Vin works as a baker"]
    again = zoo.load(f"local-dir:{tiny_retriever}")
    for side in ("query", "prompt"):
        embeddings = module.embed(side, texts)
        assert torch.equal(embeddings, again.embed(side, texts))
        st = SentenceTransformer(str(tiny_retriever / side), device="cpu")
        assert torch.allclose(torch.from_numpy(st.encode(texts)), embeddings, atol=1e-4)


def test_zoo_retrieve_prints_the_top_prompts(tiny_retriever, run_zoo, tmp_path):
    pool = tmp_path / "pool.txt"
    pool.write_text("Mara Vin was born in Osaka\nThe sky is blue\nTalo Ren works as a baker\n")
    code, out, err = run_zoo("retrieve", f"local-dir:{tiny_retriever}", "--pool", pool, "--query", "Where was Mara Vin born?",
                             "What is Talo Ren's job?", "--k", "2")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["query"] for row in rows] == ["Where was Mara Vin born?", "What is Talo Ren's job?"]
    for row in rows:
        assert len(row["prompts"]) == 2 and row["prompts"][0]["score"] >= row["prompts"][1]["score"]
        assert {p["prompt"] for p in row["prompts"]} <= set(pool.read_text().splitlines())


@pytest.mark.parametrize("pool_text, args, message", [
    (None, ["--pool", "missing.txt"], "no such file"),
    ("", ["--pool", "{pool}"], "holds no prompts"),
    ("one\ntwo\n", ["--pool", "{pool}", "--k", "5"], "lower --k"),
    ('{"prompt": 1}\n', ["--pool", "{jsonl}"], "text field"),
])
def test_zoo_retrieve_bad_input_is_one_error_line(tiny_retriever, run_zoo, tmp_path, pool_text, args, message):
    pool, jsonl = tmp_path / "pool.txt", tmp_path / "pool.jsonl"
    if pool_text is not None:
        pool.write_text(pool_text)
        jsonl.write_text(pool_text)
    args = [a.format(pool=pool, jsonl=jsonl) for a in args]
    code, _, err = run_zoo("retrieve", f"local-dir:{tiny_retriever}", "--query", "q", *args)
    assert code == 2 and "Traceback" not in err
    assert err.strip().startswith("zoo: error:") and message in err


def test_zoo_retrieve_refuses_a_model_that_is_not_a_retriever(tiny_folder, run_zoo, tmp_path):
    pool = tmp_path / "pool.txt"
    pool.write_text("a\nb\n")
    code, _, err = run_zoo("retrieve", f"local-dir:{tiny_folder}", "--pool", pool, "--query", "q", "--k", "1")
    assert code == 2 and "not a retriever" in err


def test_evaluator_scores_each_source_on_the_held_out_cluster(tiny_retriever, tiny_folder):
    import zoo
    from benchmarks.evaluators.uprise import uprise
    from datamodules.retrieval import Clusters
    from zoo.modules.uprise import PROMPT_SOURCES, answered_right, bm25_prompts

    module = zoo.load(f"local-dir:{tiny_retriever}")
    args = {"lm": f"local-dir:{tiny_folder}", "clusters": TINY_CLUSTERS, "k": 2}
    scores = {source: uprise(module, {**args, "source": source}, 12)[0] for source in PROMPT_SOURCES}
    clusters = Clusters(**TINY_CLUSTERS)
    items = clusters.test()[:12]
    # no prompt: the LM on the bare inputs, computed here directly
    right = answered_right(f"local-dir:{tiny_folder}", [[] for _ in items], items)
    assert scores["none"].value == pytest.approx(sum(right) / len(right))
    for score in scores.values():
        n = len(items)
        assert 0 <= score.value <= 1 and score.stderr == pytest.approx(math.sqrt(score.value * (1 - score.value) / n))
    # BM25 finds the prompts that name the question's entity
    pool = [item.demonstration for item in clusters.pool()]
    for item, row in zip(items, bm25_prompts(pool, [item.input for item in items], 2)):
        assert item.entity in pool[row[0]]
    with pytest.raises(ZooError, match="source="):
        uprise(module, {**args, "source": "oracle"}, 12)


def test_test_phase_logs_held_out_accuracy_per_prompt_source(tiny_folder, tmp_path):
    """The recipe's test phase with a baseline's prompts (a study's arms are this recipe with another
    source) gives the evaluator's accuracy, for the scoring LM and for the transfer LM."""
    from benchmarks.evaluators.uprise import uprise
    from zoo.lightning_cli import lightning_cli

    lm = f"local-dir:{tiny_folder}"
    cli = lightning_cli(["-c", str(RECIPE), *RETRIEVER_TINY, "--data.init_args.scorer", lm,
                         "--model.init_args.prompt_source", "bm25", "--model.init_args.transfer_lm", lm,
                         "--trainer.default_root_dir", str(tmp_path)], run=False)
    metrics = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)[0]
    expected = uprise(cli.model, {"lm": lm, "clusters": TINY_CLUSTERS, "source": "bm25"}, None)[0]
    assert metrics["test/acc"] == pytest.approx(expected.value, abs=1e-6)
    assert metrics["test/transfer_acc"] == pytest.approx(expected.value, abs=1e-6)  # the same LM twice here


@pytest.mark.parametrize("args, message", [
    (["--held-out", "sports"], "is not a cluster of tinyworld"),
    (["--scorer", "nope-lm"], "unknown model 'nope-lm'"),
    (["--n-entities", "2"], "n_entities"),
])
def test_uprise_scores_bad_input_is_one_error_line_and_writes_nothing(run_zoo, tmp_path, args, message):
    out = tmp_path / "scores"
    code, _, err = run_zoo("synth", "uprise-scores", "--out", out, *args)
    assert code == 2 and "Traceback" not in err and err.strip().startswith("zoo: error:") and message in err
    assert not out.exists()
