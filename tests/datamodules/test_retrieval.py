"""UPRISE's data: the task clusters, candidates, one-shot scoring, positive/negative selection."""

from __future__ import annotations

import math
import os
from dataclasses import replace

import pytest
import torch

from datamodules.retrieval import (
    Clusters,
    option_losses,
    sample_candidates,
    score_candidates,
    task_of,
    training_examples,
)
from datamodules.tinyworld import WorldConfig, generate_world
from datamodules.tinyworld.clusters import (
    CLUSTERS,
    DEMO_SEPARATOR,
    SCORER_SEED_BASE,
    ClusterItem,
    cluster_items,
    scorer_texts,
)
from zoo.errors import ZooError

SMALL = Clusters(n_entities=6)


def test_clusters_ask_about_the_worlds_facts_in_every_format():
    config = WorldConfig(seed=11, n_entities=6)
    items = cluster_items(config)
    assert cluster_items(config) == items  # same config, same items
    assert {item.cluster for item in items} == set(CLUSTERS)
    gold = {(e["name"], a): v for e in generate_world(config).entities for a, v in e["attributes"].items()}
    for item in items:
        answer = item.options[item.answer_index].strip()
        if item.cluster in ("closed_qa", "completion"):
            assert answer == gold[(item.entity, item.attribute)] and len(set(item.options)) == 4
        elif item.cluster == "verification":
            stated = gold[(item.entity, item.attribute)] in item.input
            assert answer == ("true" if stated else "false")
        else:
            assert answer == item.attribute.replace("_", " ")
        assert item.demonstration == item.input + item.options[item.answer_index]
    claims = [item for item in items if item.cluster == "verification"]
    assert 0.3 < sum(item.answer_index == 0 for item in claims) / len(claims) < 0.7


def test_pool_holds_the_training_clusters_and_test_the_held_out_one():
    pool, test = SMALL.pool(), SMALL.test()
    assert {item.cluster for item in pool} == set(CLUSTERS) - {"closed_qa"}
    assert {item.cluster for item in test} == {"closed_qa"} and len(test) == 6 * 5 * 2
    capped = Clusters(n_entities=6, per_task=5)
    assert all(sum(task_of(i) == task_of(item) for i in capped.pool()) == 5 for item in capped.pool())
    assert {item.id for item in capped.pool()} <= {item.id for item in pool} and len(capped.test()) == 5
    assert capped.pool() == Clusters(n_entities=6, per_task=5).pool()  # a seeded subsample


@pytest.mark.parametrize("fields, message", [({"held_out": "sports"}, "is not a cluster"),
                                             ({"source": "web"}, "choose one of tinyworld, zoo-data"),
                                             ({"source": "zoo-data", "held_out": "closed_qa"}, "close_qa"),
                                             ({"n_entities": 2}, "n_entities"), ({"per_task": 0}, "per_task")])
def test_bad_clusters_are_refused_with_the_fix(fields, message):
    with pytest.raises(ZooError, match=message):
        Clusters(**fields)


def test_candidates_are_seeded_same_task_and_never_the_input():
    pool = SMALL.pool()
    first, again, other = (sample_candidates(pool, 8, seed) for seed in (0, 0, 1))
    assert first == again and first != other
    by_id = {item.id: item for item in pool}
    for item in pool:
        chosen = first[item.id]
        assert len(chosen) == len(set(chosen)) == 8 and item.id not in chosen
        assert all(task_of(by_id[c]) == task_of(item) for c in chosen)
    # An input's draw does not depend on the other inputs.
    assert sample_candidates(pool[::-1], 8, 0) == first


def _item(id_: str, task: str = "t0", cluster: str = "completion") -> ClusterItem:
    return ClusterItem(id_, cluster, task, "E", "a", f"input {id_}", (" x", " y"), 0)


def test_positive_is_best_right_candidate_hard_are_worst_random_from_other_tasks():
    pool = [_item(f"q{i}") for i in range(6)] + [_item(f"o{i}", task="t1") for i in range(5)]
    rows = [{"id": "q0", "candidates": ["q1", "q2", "q3", "q4", "q5"], "scores": [0.1, 0.2, 0.3, 0.4, 0.5],
             "correct": [False, True, True, False, False]},
            {"id": "q1", "candidates": ["q0", "q2"], "scores": [0.3, 0.4], "correct": [False, False]}]
    examples = training_examples(rows, pool, hard_negatives=2, random_negatives=3)
    assert [e["id"] for e in examples] == ["q0"]  # an input no candidate made right is dropped
    prompts = examples[0]["prompts"]
    assert examples[0]["query"] == "input q0"
    # positive: the best-scored right one (q2, not the better-scored but wrong q1); hard: the two worst
    assert prompts[:3] == ["input q2 x", "input q4 x", "input q5 x"]
    assert len(prompts[3:]) == 3 and all(p.startswith("input o") for p in prompts[3:])
    assert training_examples(rows, pool, 2, 3) == examples  # seeded


@torch.no_grad()
def _plain_losses(net, tokenizer, context: str, options) -> list[float]:
    """Each option scored alone in its own unpacked forward: the reference for the packed rows."""
    out = []
    for option in options:
        ids = [tokenizer.bos_token_id, *tokenizer(context, add_special_tokens=False)["input_ids"]]
        cont = tokenizer(option, add_special_tokens=False)["input_ids"]
        logits = net(torch.tensor([ids + cont])).logits[0, len(ids) - 1: -1]
        out.append(float(torch.nn.functional.cross_entropy(logits, torch.tensor(cont))))
    return out


def test_option_losses_match_one_forward_per_option(tiny_folder):
    from zoo.resolve import load_pretrained

    net, tokenizer = load_pretrained(f"local-dir:{tiny_folder}")
    items = SMALL.test()[:3] + SMALL.pool()[::50][:3]
    contexts = [item.input for item in items]
    packed = option_losses(net, tokenizer, contexts, [item.options for item in items], batch_size=2)
    for context, item, losses in zip(contexts, items, packed):
        assert losses == pytest.approx(_plain_losses(net, tokenizer, context, item.options), abs=1e-4)


def test_scoring_sorts_candidates_by_the_gold_options_normalised_loss(tiny_folder):
    from zoo.resolve import load_pretrained

    net, tokenizer = load_pretrained(f"local-dir:{tiny_folder}")
    pool = SMALL.pool()
    inputs = pool[:2]
    candidates = sample_candidates(pool, 4)
    rows = score_candidates(net, tokenizer, pool, candidates, inputs)
    by_id = {item.id: item for item in pool}
    for item, row in zip(inputs, rows):
        assert sorted(row["candidates"]) == sorted(candidates[item.id])
        assert row["scores"] == sorted(row["scores"])
        first = by_id[row["candidates"][0]]
        context = first.demonstration + DEMO_SEPARATOR + item.input
        losses = _plain_losses(net, tokenizer, context, item.options)
        assert row["scores"][0] == pytest.approx(losses[item.answer_index] / sum(losses), abs=1e-5)
        assert row["correct"][0] == (min(range(len(losses)), key=losses.__getitem__) == item.answer_index)


def test_scorer_texts_tell_each_fact_twice_from_fresh_worlds():
    config = WorldConfig(seed=5, n_entities=6)
    texts = scorer_texts(config, 20, facts_per_text=3, texts_per_world=8)
    assert texts == scorer_texts(config, 20, facts_per_text=3, texts_per_world=8)
    assert texts != scorer_texts(config, 20, seed=1, facts_per_text=3, texts_per_world=8)
    worlds = [cluster_items(replace(config, seed=SCORER_SEED_BASE + 5_000_000 + w)) for w in range(3)]
    for number, text in enumerate(texts):
        items = {item.demonstration: item for item in worlds[number // 8]}  # 8 texts per world, in order
        parts = [items[part] for part in text.split(DEMO_SEPARATOR)]
        facts = [(p.entity, p.attribute) for p in parts]
        assert len(parts) == 6 and all(facts.count(f) == 2 for f in facts) and len(set(parts)) == 6
    # The worlds are not the scored ones: no name of the default clusters' world appears.
    scored = {item.entity for item in Clusters().items()}
    assert not any(name in text for text in texts for name in scored)
    with pytest.raises(ValueError, match="facts_per_text"):
        scorer_texts(config, 1, facts_per_text=0)


def test_scored_candidates_resume_from_their_shards(tiny_folder, tmp_path, monkeypatch):
    import datamodules.retrieval as retrieval

    clusters = Clusters(n_entities=4, per_task=3)
    first = retrieval.scored_candidates(f"local-dir:{tiny_folder}", clusters, 3, out=tmp_path, shard_size=10)
    shards = sorted(tmp_path.glob("shard-*.jsonl"))
    assert len(shards) == math.ceil(len(clusters.pool()) / 10) and len(first) == len(clusters.pool())
    shards[-1].unlink()
    calls = []
    real = retrieval.score_candidates
    monkeypatch.setattr(retrieval, "score_candidates", lambda *a, **k: calls.append(a[4]) or real(*a, **k))
    assert retrieval.scored_candidates(f"local-dir:{tiny_folder}", clusters, 3, out=tmp_path, shard_size=10) == first
    assert len(calls) == 1  # only the missing shard is scored again
    with pytest.raises(ZooError, match="other settings"):
        retrieval.scored_candidates(f"local-dir:{tiny_folder}", clusters, 2, out=tmp_path, shard_size=10)


def test_real_clusters_read_every_set_as_multiple_choice():
    from datamodules.real_clusters import REAL_CLUSTERS

    clusters = Clusters(source="zoo-data", held_out="reading", per_task=20)
    items = clusters.items()
    assert {item.cluster for item in items} == set(REAL_CLUSTERS)
    assert {item.task for item in clusters.test()} == {"boolq"} and len(clusters.test()) == 20
    assert len({item.task for item in items}) == sum(len(paths) for paths in REAL_CLUSTERS.values())
    for item in items:
        assert 0 <= item.answer_index < len(item.options) and all(o.startswith(" ") for o in item.options)
    wsc = next(item for item in items if item.task == "winograd_wsc")
    shared_end = os.path.commonprefix([option[::-1] for option in wsc.options])[::-1]
    assert len(set(wsc.options)) == 2 and shared_end.endswith(".") and not wsc.input.endswith(" ")
    sst2 = next(item for item in items if item.task == "sst2")
    assert sst2.input.startswith("Review: ") and sst2.options == (" negative", " positive")


def test_real_clusters_without_zoo_data_dir_say_how_to_fix(monkeypatch):
    monkeypatch.delenv("ZOO_DATA_DIR")
    with pytest.raises(ZooError, match="ZOO_DATA_DIR"):
        Clusters(source="zoo-data", held_out="reading").items()


def test_option_losses_cut_a_long_context_from_the_left_and_refuse_options_beyond_the_window(tiny_folder):
    from zoo.resolve import load_pretrained

    net, tokenizer = load_pretrained(f"local-dir:{tiny_folder}")
    window = int(net.config.max_position_embeddings)
    item = SMALL.test()[0]
    long_context = "Mara Vin was born in Osaka. " * window + item.input
    cut = option_losses(net, tokenizer, [long_context], [item.options])[0]
    ids = tokenizer(long_context, add_special_tokens=False)["input_ids"]
    room = window - 1 - sum(len(tokenizer(o, add_special_tokens=False)["input_ids"]) - 1 for o in item.options)
    kept = tokenizer.decode(ids[-room:])
    assert cut == pytest.approx(option_losses(net, tokenizer, [kept], [item.options])[0], abs=1e-4)
    with pytest.raises(ZooError, match="window"):
        option_losses(net, tokenizer, ["a"], [(" word" * window,)])


def test_options_too_long_to_share_a_row_are_scored_each_alone(tiny_folder):
    from zoo.resolve import load_pretrained

    net, tokenizer = load_pretrained(f"local-dir:{tiny_folder}")
    window = int(net.config.max_position_embeddings)
    options = (" born in Osaka" * (window // 8), " born in Lisbon" * (window // 8))  # together beyond the window
    assert sum(len(tokenizer(o, add_special_tokens=False)["input_ids"]) for o in options) > window
    losses = option_losses(net, tokenizer, ["Mara Vin was"], [options])[0]
    assert losses == pytest.approx(_plain_losses(net, tokenizer, "Mara Vin was", options), abs=1e-4)
