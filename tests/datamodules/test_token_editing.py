"""ToEdit token editing: masks, sampling, variants, keyed randomness, the editor and the transform."""

from __future__ import annotations

import json
import math
import pickle

import pytest
import torch

from datamodules.transforms.token_editing import (
    VARIANTS, EditSettings, TokenEditing, TokenEditor, edit_tokens, keyed_uniform, row_keys,
)
from zoo.errors import ZooError

V = 10
PAD = 0


def prior_logits(ids: torch.Tensor, probs: torch.Tensor, vocab: int = V) -> torch.Tensor:
    """Logits under which the prediction at ``i - 1`` gives ``ids[i]`` probability ``probs[i]``
    (the rest spread evenly over the other ids); the last position predicts uniformly."""
    batch, length = ids.shape
    dist = torch.full((batch, length, vocab), 1.0 / vocab, dtype=torch.float64)
    p = probs[:, 1:].double()
    rest = ((1 - p) / (vocab - 1))[..., None].expand(batch, length - 1, vocab).clone()
    dist[:, :-1] = rest.scatter(-1, ids[:, 1:, None], p[..., None])
    return dist.log().float()


# Row 0: 9 tokens, then padding; row 1: full. Position 0 and the padding "look" very likely, to tempt an edit.
IDS = torch.tensor([[3, 5, 2, 7, 1, 8, 4, 6, 9, PAD, PAD, PAD],
                    [9, 9, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2]])
MASK = torch.tensor([[1] * 9 + [0] * 3, [1] * 12])
PROBS = torch.tensor([[0.999, 0.995, 0.98, 0.999, 0.5, 0.9999, 0.2, 0.995, 0.98, 0.999, 0.999, 0.999],
                      [0.999, 0.999, 0.1, 0.995, 0.995, 0.98, 0.3, 0.999, 0.995, 0.985, 0.9999, 0.5]])


def expected_replaced(threshold: float) -> torch.Tensor:
    mask = (PROBS > threshold) & MASK.bool()
    mask[:, 0] = False
    return mask


# --------------------------------------------------------------------------- masks of a hand-built prior
@pytest.mark.parametrize("threshold", [0.99, 0.97])
def test_exactly_the_likely_tokens_are_replaced_and_nothing_else_moves(threshold):
    logits = prior_logits(IDS, PROBS)
    expected = expected_replaced(threshold)
    assert expected.sum() in (10, 14)  # the threshold matters: 0.98/0.985 tokens join at 0.97
    changes = 0
    for seed in range(50):
        result = edit_tokens(logits, IDS, MASK, EditSettings(threshold=threshold, seed=seed), PAD)
        assert torch.equal(result.replaced, expected)
        assert torch.equal(result.changed, expected & (result.input_ids != IDS))
        assert torch.equal(result.input_ids[~result.replaced], IDS[~result.replaced])  # incl. position 0 and padding
        assert torch.equal(result.attention_mask, MASK) and not result.deleted.any()
        assert torch.equal(result.edit_rate(), result.changed.sum(1).double() / MASK.sum(1))
        changes += int(result.changed.sum())
    # An 0.995 token keeps ~95% of the mass under beta=1.5 with K=8 (0.995^(2/3) vs 7 x (0.005/9)^(2/3)).
    draws = 50 * int(expected.sum())
    assert 0.01 * draws < changes < 0.15 * draws


def test_bf16_logits_give_the_same_masks():
    logits = prior_logits(IDS, PROBS)
    for variant in VARIANTS:
        settings = EditSettings(variant=variant, delete_below=0.25)
        full, half = edit_tokens(logits, IDS, MASK, settings, PAD), edit_tokens(logits.bfloat16(), IDS, MASK, settings, PAD)
        assert torch.equal(full.replaced, half.replaced) and torch.equal(full.deleted, half.deleted)


# --------------------------------------------------------------------------- sampling distribution
def chi_square(counts: torch.Tensor, probs: torch.Tensor) -> float:
    expected = probs * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum())


def test_samples_follow_softmax_of_topk_over_beta():
    row = torch.tensor([3.0, 2.5, 2.0, 1.0, 0.5, 0.0, -1.0, -2.0, -3.0, -4.0])
    perm = torch.tensor([7, 2, 9, 4, 0, 1, 3, 5, 6, 8])  # id perm[j] gets logit row[j]
    logits_row = torch.empty(V).index_copy_(0, perm, row)
    top_ids = perm[:4]
    generator = torch.Generator().manual_seed(0)
    ids = top_ids[torch.randint(0, 4, (64, 128), generator=generator)]  # distinct rows, so distinct keys
    logits = logits_row.expand(64, 128, V)
    # Every top-4 id has p >= 0.059 under this row: all positions but 0 are resampled.
    result = edit_tokens(logits, ids, torch.ones_like(ids), EditSettings(threshold=0.05, top_k=4, seed=3), PAD)
    assert result.replaced[:, 1:].all()
    sampled = result.input_ids[:, 1:].flatten()
    assert torch.isin(sampled, top_ids).all()  # never outside the top-K
    counts = (sampled[:, None] == top_ids[None, :]).sum(0).double()
    # df = 3: 16.27 is the 0.1% tail.
    assert chi_square(counts, torch.softmax(row[:4].double() / 1.5, 0)) < 16.27
    assert chi_square(counts, torch.softmax(row[:4].double(), 0)) > 100  # beta is applied
    assert torch.equal(result.changed, result.replaced & (result.input_ids != ids))


# --------------------------------------------------------------------------- variants
VIDS = torch.tensor([[1, 4, 6, 2, 8, 3, 5], [5, 5, 5, 5, 7, 7, 7]])
VMASK = torch.tensor([[1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0, 0]])
VPROBS = torch.tensor([[1e-5, 0.5, 1e-4, 0.5, 1e-5, 0.5, 1e-5], [1e-5, 0.5, 0.995, 1e-4, 1e-5, 1e-5, 1e-5]])


def test_replace_delete_deletes_unlikely_tokens_and_compacts_rows():
    # top_k=1: a resampled token is the argmax, i.e. itself, so the output ids are exact.
    settings = EditSettings(variant="replace_delete", top_k=1)
    result = edit_tokens(prior_logits(VIDS, VPROBS), VIDS, VMASK, settings, PAD)
    assert torch.equal(result.deleted, torch.tensor([[0, 0, 1, 0, 1, 0, 0], [0, 0, 0, 1, 0, 0, 0]]).bool())
    assert torch.equal(result.replaced, torch.tensor([[0] * 7, [0, 0, 1, 0, 0, 0, 0]]).bool())
    assert torch.equal(result.input_ids, torch.tensor([[1, 4, 2, 3, PAD, PAD, PAD], [5, 5, 5, PAD, PAD, PAD, PAD]]))
    assert torch.equal(result.attention_mask, torch.tensor([[1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0]]))
    assert not result.changed.any()
    torch.testing.assert_close(result.edit_rate(), torch.tensor([2 / 6, 1 / 4], dtype=torch.float64))


def test_delete_only_deletes_and_replace_only_replaces():
    logits = prior_logits(VIDS, VPROBS)
    deleting = edit_tokens(logits, VIDS, VMASK, EditSettings(variant="delete"), PAD)
    assert not deleting.replaced.any() and not deleting.changed.any()
    assert torch.equal(deleting.input_ids, torch.tensor([[1, 4, 2, 3, PAD, PAD, PAD], [5, 5, 5, PAD, PAD, PAD, PAD]]))
    replacing = edit_tokens(logits, VIDS, VMASK, EditSettings(variant="replace", top_k=1), PAD)
    assert not replacing.deleted.any() and torch.equal(replacing.attention_mask, VMASK)
    assert torch.equal(replacing.replaced, torch.tensor([[0] * 7, [0, 0, 1, 0, 0, 0, 0]]).bool())
    # delete_below is a parameter: at 5e-5 only the 1e-5 token of row 0 goes.
    strict = edit_tokens(logits, VIDS, VMASK, EditSettings(variant="delete", delete_below=5e-5), PAD)
    assert torch.equal(strict.input_ids[0], torch.tensor([1, 4, 6, 2, 3, PAD, PAD]))


def test_beta_defaults_per_variant():
    assert EditSettings().resolved_beta == 1.5
    assert EditSettings(variant="replace_delete").resolved_beta == 1.0
    assert EditSettings(variant="replace_delete", beta=2.0).resolved_beta == 2.0


# --------------------------------------------------------------------------- determinism
def random_batch(seed: int = 0, batch: int = 5, length: int = 16):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, length, V, generator=generator)
    ids = torch.randint(1, V, (batch, length), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0
    mask[3, 4:] = 0
    return logits, torch.where(mask.bool(), ids, PAD), mask


@pytest.mark.parametrize("variant", ["replace", "replace_delete"])
def test_the_same_row_gets_the_same_edits_in_any_batch_and_padding(variant):
    logits, ids, mask = random_batch()
    settings = EditSettings(threshold=0.1, variant=variant, delete_below=0.05, seed=1)
    full = edit_tokens(logits, ids, mask, settings, PAD)
    assert full.changed.sum() >= 5
    again = edit_tokens(logits, ids, mask, settings, PAD)
    assert torch.equal(full.input_ids, again.input_ids)
    other_seed = edit_tokens(logits, ids, mask, EditSettings(threshold=0.1, variant=variant, delete_below=0.05, seed=2), PAD)
    assert not torch.equal(full.input_ids, other_seed.input_ids)
    assert torch.equal(full.replaced, other_seed.replaced)  # the seed changes the draws, not the masks

    for row in range(5):
        alone = edit_tokens(logits[row : row + 1], ids[row : row + 1], mask[row : row + 1], settings, PAD)
        assert torch.equal(alone.input_ids, full.input_ids[row : row + 1])
        # Extra right padding (other pad logits and ids) and a neighbour row in front.
        extra_logits = torch.cat([logits[row : row + 1], torch.randn(1, 7, V)], 1)
        extra_ids = torch.cat([ids[row : row + 1], torch.full((1, 7), PAD)], 1)
        extra_mask = torch.cat([mask[row : row + 1], torch.zeros(1, 7, dtype=mask.dtype)], 1)
        padded_logits, padded_ids, padded_mask = random_batch(seed=9, length=23)
        padded_logits[2:3], padded_ids[2:3], padded_mask[2:3] = extra_logits, extra_ids, extra_mask
        padded = edit_tokens(padded_logits, padded_ids, padded_mask, settings, PAD)
        assert torch.equal(padded.input_ids[2, :16], full.input_ids[row])
        assert (padded.input_ids[2, 16:] == PAD).all() and torch.equal(padded.replaced[2, :16], full.replaced[row])


def test_row_keys_hash_content_not_padding_or_batch():
    ids = torch.tensor([[4, 8, 15, 16, 0, 0], [4, 8, 15, 16, 99, 99], [8, 4, 15, 16, 0, 0], [4, 8, 15, 0, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]])
    keys = row_keys(ids, mask)
    assert keys[0] == keys[1]  # padding values ignored
    assert len(set(keys[[0, 2, 3]].tolist())) == 3  # order and length matter
    assert keys[0] == row_keys(ids[:1, :4], mask[:1, :4])[0]  # padding length ignored
    assert torch.equal(row_keys(ids[2:], mask[2:]), keys[2:])


# --------------------------------------------------------------------------- keyed uniforms
_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _reference_mix(x: int) -> int:
    """splitmix64's finaliser on Python ints, the reference for the int64 tensor version."""
    x &= _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def test_keyed_uniform_matches_a_pure_python_splitmix64():
    keys = torch.tensor([0, 1, -5, 2**62, -(2**63)])
    for seed in (0, 7, -3):
        values = keyed_uniform(keys, 6, seed)
        state0 = _reference_mix(seed + _GOLDEN)
        for b, key in enumerate(keys.tolist()):
            state = _reference_mix((key & _M64) ^ state0)
            expected = [(_reference_mix(state + (t + 1) * _GOLDEN) >> 11) * 2.0**-53 for t in range(6)]
            assert values[b].tolist() == expected


def test_keyed_uniform_is_uniform_and_independent_of_the_batch():
    keys = torch.arange(256) * 7919 - 1000
    values = keyed_uniform(keys, 256, seed=0)
    assert values.dtype == torch.float64 and values.min() >= 0 and values.max() < 1
    assert abs(values.mean().item() - 0.5) < 0.005 and abs(values.var().item() - 1 / 12) < 0.002
    histogram = torch.histc(values.float(), bins=10, min=0, max=1) / values.numel()
    assert (histogram - 0.1).abs().max() < 0.005
    # Neighbouring positions and neighbouring keys are uncorrelated.
    assert abs(torch.corrcoef(torch.stack([values[:, :-1].flatten(), values[:, 1:].flatten()]))[0, 1]) < 0.02
    assert abs(torch.corrcoef(torch.stack([values[:-1].flatten(), values[1:].flatten()]))[0, 1]) < 0.02
    assert torch.equal(keyed_uniform(keys, 256, seed=0), values)
    assert torch.equal(keyed_uniform(keys[5:9], 100, seed=0), values[5:9, :100])
    assert (keyed_uniform(keys, 256, seed=1) != values).float().mean() > 0.99


# --------------------------------------------------------------------------- settings
@pytest.mark.parametrize("kwargs, field", [
    ({"threshold": 0.0}, "threshold"), ({"threshold": 1.0}, "threshold"), ({"threshold": math.nan}, "threshold"),
    ({"threshold": "0.9"}, "threshold"), ({"top_k": 0}, "top_k"), ({"top_k": 2.5}, "top_k"),
    ({"beta": 0.0}, "beta"), ({"beta": -1.0}, "beta"), ({"beta": math.inf}, "beta"),
    ({"variant": "swap"}, "variant"), ({"delete_below": -0.1}, "delete_below"), ({"delete_below": 1.0}, "delete_below"),
    ({"variant": "replace_delete", "threshold": 0.5, "delete_below": 0.6}, "delete_below"), ({"seed": 1.5}, "seed"),
])
def test_bad_settings_are_one_line_errors_naming_the_field(kwargs, field):
    with pytest.raises(ZooError, match=rf"^{field}=") as error:
        EditSettings(**kwargs)
    assert "\n" not in str(error.value)


def test_unknown_variant_lists_the_choices():
    with pytest.raises(ZooError, match="choose one of replace, replace_delete, delete"):
        EditSettings(variant="Replace")


# --------------------------------------------------------------------------- the editor on a real tiny LM (conftest's prior)
TEXTS = ["The old mill.", "Farmers sell honey at the market and apples on Sunday before the storm.", "",
         "A boat crossed the river.", "The town is quiet.", "Pears, apples and honey."]


@pytest.fixture(scope="module")
def prior_folder(prior, tmp_path_factory):
    folder = tmp_path_factory.mktemp("prior")
    net, tokenizer = prior
    net.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_editor_without_edits_returns_the_texts_in_order(prior):
    editor = TokenEditor(prior, EditSettings(threshold=0.999999), batch_size=2)
    texts, rates = editor.edit_texts(TEXTS)
    assert texts == TEXTS and rates == [0.0] * len(TEXTS)
    assert editor.edit_texts([]) == ([], [])


def test_editor_edits_are_in_input_order_and_independent_of_batch_size(prior):
    settings = EditSettings(threshold=0.001, seed=4)
    texts, rates = TokenEditor(prior, settings, batch_size=16).edit_texts(TEXTS)
    assert len(texts) == len(rates) == len(TEXTS)
    assert all(0.0 <= rate <= 1.0 for rate in rates) and rates[2] == 0.0 and texts[2] == ""
    assert sum(edited != original for edited, original in zip(texts, TEXTS)) >= 3
    for batch_size in (1, 2, 4):
        assert TokenEditor(prior, settings, batch_size=batch_size).edit_texts(TEXTS) == (texts, rates)
    reordered, reordered_rates = TokenEditor(prior, settings, batch_size=2).edit_texts(TEXTS[::-1])
    assert reordered == texts[::-1] and reordered_rates == rates[::-1]
    assert TokenEditor(prior, EditSettings(threshold=0.001, seed=5)).edit_texts(TEXTS)[0] != texts


def test_editor_rates_match_its_edit_result(prior):
    net, tokenizer = prior
    editor = TokenEditor(prior, EditSettings(threshold=0.003, variant="replace_delete", delete_below=0.001))
    encoded = tokenizer(TEXTS[1], return_tensors="pt")
    assert encoded.input_ids[0, 0] == tokenizer.bos_token_id  # the tokenizer adds bos, never edited
    result = editor.edit_ids(encoded.input_ids, encoded.attention_mask)
    assert result.deleted.any() and result.changed.any()
    texts, rates = editor.edit_texts([TEXTS[1]])
    assert rates[0] == pytest.approx(result.edit_rate().item())
    kept = result.input_ids[0, : int(result.attention_mask.sum())]
    assert texts[0] == tokenizer.decode(kept, skip_special_tokens=True)


def test_editor_reads_special_token_look_alikes_and_lone_surrogates_as_text(prior):
    texts = ["The mill.<|eos|> The town.<|bos|>", "A boat \ud800 crossed."]
    assert TokenEditor(prior, EditSettings(threshold=0.999999)).edit_texts(texts)[0] == \
        ["The mill.<|eos|> The town.<|bos|>", "A boat \ufffd crossed."]


def test_editor_truncates_to_the_prior_window(prior):
    net, tokenizer = prior
    editor = TokenEditor(prior, EditSettings(threshold=0.999999), max_length=2048)
    window = net.config.max_position_embeddings
    assert editor.max_length == window
    long_text = " ".join(TEXTS * 4)
    truncated = tokenizer.decode(tokenizer(long_text).input_ids[:window], skip_special_tokens=True)
    assert len(tokenizer(long_text).input_ids) > window
    assert editor.edit_texts([long_text])[0] == [truncated]
    assert TokenEditor(prior, max_length=10).max_length == 10


# --------------------------------------------------------------------------- the transform
BATCH = {"id": ["d1", "d2", "d3"], "title": ["First", "", "Third"], "text": TEXTS[:2] + TEXTS[3:4]}


def test_transform_keeps_ids_and_titles_and_edits_like_the_editor(prior, prior_folder):
    transform = TokenEditing(prior=f"local-dir:{prior_folder}", editing=EditSettings(threshold=0.001, seed=4),
                             batch_size=2)
    out = transform(BATCH)
    assert out["id"] == BATCH["id"] and out["title"] == BATCH["title"]
    expected = TokenEditor(prior, EditSettings(threshold=0.001, seed=4)).edit_texts(BATCH["text"])
    assert (out["text"], out["edit_rate"]) == expected
    assert out["text"] != BATCH["text"]


def test_transform_runs_under_datasets_map_and_reports(prior_folder):
    import datasets

    transform = TokenEditing(prior=f"local-dir:{prior_folder}", editing=EditSettings(threshold=0.001))
    edited = datasets.Dataset.from_dict(BATCH).map(transform, batched=True)
    report = transform.report(edited)
    assert report["documents"] == 3
    assert report["mean_edit_rate"] == pytest.approx(sum(edited["edit_rate"]) / 3) and report["mean_edit_rate"] > 0
    assert report["settings"]["beta"] == 1.5 and report["settings"]["threshold"] == 0.001
    json.dumps(report)  # lands in meta.json and the model card


def test_transform_pickles_without_its_prior_and_hashes_the_same(prior_folder):
    from datasets.fingerprint import Hasher

    transform = TokenEditing(prior=f"local-dir:{prior_folder}", editing=EditSettings(threshold=0.001))
    before = Hasher.hash(transform)
    out = transform(BATCH)
    assert transform._editor is not None
    assert Hasher.hash(transform) == before
    assert len(pickle.dumps(transform)) < 2000  # the net is not in it
    copy = pickle.loads(pickle.dumps(transform))
    assert copy._editor is None and copy(BATCH) == out and copy.fingerprint == transform.fingerprint


def test_fingerprint_follows_settings_and_prior_files(prior_folder, tmp_path):
    import shutil

    from zoo.hashing import files_sha256

    prior = f"local-dir:{prior_folder}"
    base = TokenEditing(prior=prior).fingerprint
    for change in ({"threshold": 0.9}, {"top_k": 4}, {"beta": 2.0}, {"variant": "delete"},
                   {"delete_below": 0.01}, {"seed": 1}):
        assert TokenEditing(prior=prior, editing=EditSettings(**change)).fingerprint != base, change
    assert TokenEditing(prior=prior, max_length=512).fingerprint != base
    assert TokenEditing(prior=prior, batch_size=3).fingerprint == base  # the edits do not depend on it
    # A prior is identified by its files (the card's record for a zoo folder), wherever it lives.
    carded = shutil.copytree(prior_folder, tmp_path / "carded")
    names = sorted(path.name for path in carded.iterdir())
    (carded / "zoo_card.json").write_text(json.dumps({"files_sha256": files_sha256(carded, names)}))
    identity = TokenEditing(prior=f"local-dir:{carded}").fingerprint.split("|prior:")[1]
    assert identity.startswith("files:") and identity == base.split("|prior:")[1]
    moved = shutil.copytree(carded, tmp_path / "moved")
    assert TokenEditing(prior=f"local-dir:{moved}").fingerprint.split("|prior:")[1] == identity
    (moved / "config.json").write_text((moved / "config.json").read_text() + " ")
    (moved / "zoo_card.json").write_text(json.dumps({"files_sha256": files_sha256(moved, names)}))
    assert TokenEditing(prior=f"local-dir:{moved}").fingerprint != base, "a changed file is another prior"


def test_a_prior_that_does_not_resolve_yet_is_named_by_its_reference(tmp_path):
    prior = f"local-dir:{tmp_path / 'trained-later'}"
    assert TokenEditing(prior=prior).fingerprint.endswith(f"|prior:{prior}")
