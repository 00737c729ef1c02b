"""ToEdit token editing: masks, sampling, variants, keyed randomness, windows, the editor and the transform."""

from __future__ import annotations

import json
import math
import pickle
from types import SimpleNamespace

import pytest
import torch

from datamodules.text import document_text
from datamodules.transforms.token_editing import (
    VARIANTS,
    EditSettings,
    TokenEditing,
    TokenEditor,
    document_windows,
    edit_tokens,
    keyed_uniform,
    row_keys,
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


# --------------------------------------------------------------------------- windows of one document
@pytest.mark.parametrize("length, window", [(1, 4), (7, 8), (8, 8), (9, 8), (20, 8), (21, 7), (50, 2), (300, 64)])
def test_windows_edit_every_token_once_after_half_a_window_of_its_own_document(length, window):
    spans = document_windows(length, window)
    assert spans[0][0] == 0 and spans[-1][1] == length
    # Each token is edited once, in order; position 0 (nothing predicts it) never.
    assert [t for _, end, first in spans for t in range(first, end)] == list(range(1, length))
    for start, end, first in spans:
        assert end - start <= window and start < first <= end
        # A later window starts with at least half a window of the document's earlier tokens.
        assert first == 1 or first - start >= window // 2
    assert document_windows(0, window) == []


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


def test_edit_decisions_are_the_priors_probabilities_by_hand(prior):
    net, tokenizer = prior
    ids = tokenizer(TEXTS[1], return_tensors="pt").input_ids
    assert ids[0, 0] == tokenizer.bos_token_id  # the tokenizer adds bos, never edited
    with torch.no_grad():
        probs = torch.softmax(net(input_ids=ids).logits[0].double(), -1)
    p = probs[:-1].gather(-1, ids[0, 1:, None]).squeeze(-1)  # p[i - 1]: token i's probability, from position i - 1
    # The threshold sits in the widest gap between two of the probabilities: some tokens above it, some below.
    ordered = p.sort().values
    gap = int((ordered[1:] - ordered[:-1]).argmax())
    threshold = float(ordered[gap : gap + 2].mean())
    editor = TokenEditor(prior, EditSettings(threshold=threshold, top_k=3, seed=2))
    result = editor.edit_ids(ids, torch.ones_like(ids))
    assert not result.replaced[0, 0] and torch.equal(result.replaced[0, 1:], p > threshold)
    assert 0 < int(result.replaced.sum()) < len(p)
    top3 = probs[:-1].topk(3).indices
    for i in result.replaced[0, 1:].nonzero().flatten().tolist():
        assert result.input_ids[0, i + 1] in top3[i], "a resampled token is one of the top 3 where it stands"
    assert torch.equal(result.input_ids[0][~result.replaced[0]], ids[0][~result.replaced[0]])
    edit = editor.edit_documents([TEXTS[1]])[0]
    assert (edit.tokens, edit.replaced, edit.changed, edit.deleted, edit.windows) == \
        (ids.shape[1], int((p > threshold).sum()), int(result.changed.sum()), 0, 1)
    assert edit.text == tokenizer.decode(result.input_ids[0], skip_special_tokens=True)
    assert edit.edit_rate == edit.changed / edit.tokens


def test_editor_reads_special_token_look_alikes_and_lone_surrogates_as_text(prior):
    texts = ["The mill.<|eos|> The town.<|bos|>", "A boat \ud800 crossed."]
    assert TokenEditor(prior, EditSettings(threshold=0.999999)).edit_texts(texts)[0] == \
        ["The mill.<|eos|> The town.<|bos|>", "A boat \ufffd crossed."]


def test_editor_reads_a_long_document_whole_in_windows_of_the_prior(prior):
    net, tokenizer = prior
    window = net.config.max_position_embeddings
    assert TokenEditor(prior, max_length=2048).max_length == window and TokenEditor(prior, max_length=10).max_length == 10
    long_text = " ".join(TEXTS * 4)
    length = len(tokenizer(long_text).input_ids)
    assert length > window
    [edit] = TokenEditor(prior, EditSettings(threshold=0.999999)).edit_documents([long_text])
    assert (edit.text, edit.tokens, edit.windows) == (long_text, length, len(document_windows(length, window)))
    assert edit.windows > 1, "nothing is cut off"


class BigramPrior(torch.nn.Module):
    """A prior whose prediction depends on the last token only: any window of a document gives the logits the
    whole document gives, so windowed and whole editing must agree exactly. It has "learnt" the token pairs of
    ``learnt`` (their logits raised), so those tokens are likely and the others rare."""

    def __init__(self, tokenizer, learnt: list[str]):
        super().__init__()
        self.table = torch.nn.Embedding(len(tokenizer), len(tokenizer))
        torch.nn.init.normal_(self.table.weight, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            for ids in tokenizer(learnt).input_ids:
                self.table.weight[ids[:-1], ids[1:]] += 8.0
        self.config = SimpleNamespace(max_position_embeddings=4096)

    def forward(self, input_ids, attention_mask=None, use_cache=False):
        return SimpleNamespace(logits=self.table(input_ids))


def test_a_document_read_in_windows_gets_the_edits_it_gets_in_one(prior):
    _, tokenizer = prior
    bigram = (BigramPrior(tokenizer, TEXTS[:2]), tokenizer)
    settings = EditSettings(threshold=0.3, variant="replace_delete", delete_below=0.01, seed=3)
    documents = [" ".join(TEXTS * 3), TEXTS[1]]
    whole = TokenEditor(bigram, settings, max_length=4096).edit_documents(documents)
    windowed = TokenEditor(bigram, settings, max_length=8, batch_size=5).edit_documents(documents)
    assert whole[0].windows == 1 and windowed[0].windows > 10
    for one, cut in zip(whole, windowed):
        assert (one.text, one.tokens, one.replaced, one.changed, one.deleted) == \
            (cut.text, cut.tokens, cut.replaced, cut.changed, cut.deleted)
    assert whole[0].changed > 5 and whole[0].deleted > 5, "the rule edits: the test compares real edits"


def test_no_window_crosses_a_document_and_a_document_edits_alike_alone_or_in_a_batch(prior):
    net, tokenizer = prior
    documents = [" ".join(TEXTS[:2] * 2), TEXTS[0], TEXTS[3] + " " + TEXTS[5], TEXTS[1]]
    encoded = [tokenizer(document).input_ids for document in documents]
    settings = EditSettings(threshold=0.005, variant="replace_delete", delete_below=0.0005, seed=1)
    rows = []
    hook = net.register_forward_hook(
        lambda module, args, kwargs, out: rows.extend(ids[mask.bool()].tolist() for ids, mask in
                                                      zip(kwargs["input_ids"], kwargs["attention_mask"])),
        with_kwargs=True)
    try:
        together = TokenEditor(prior, settings, max_length=16, batch_size=3).edit_documents(documents)
    finally:
        hook.remove()
    # The prior read exactly the windows of each document, each a run of that document's own tokens.
    windows = [ids[start:end] for ids in encoded for start, end, _ in document_windows(len(ids), 16)]
    assert sorted(rows) == sorted(windows) and together[0].windows > 1
    assert sum(edit.changed + edit.deleted for edit in together) > 0
    for batch_size in (1, 2, 16):
        assert TokenEditor(prior, settings, max_length=16, batch_size=batch_size).edit_documents(documents) == together
    for document, edit in zip(documents, together):
        assert TokenEditor(prior, settings, max_length=16).edit_documents([document]) == [edit]


# --------------------------------------------------------------------------- the transform
BATCH = {"id": ["d1", "d2", "d3"], "title": ["First", "", "Third"], "text": TEXTS[:2] + TEXTS[3:4]}


def test_transform_edits_whole_documents_title_line_included_like_the_editor(prior, prior_folder):
    transform = TokenEditing(prior=f"local-dir:{prior_folder}", editing=EditSettings(threshold=0.001, seed=4),
                             batch_size=2)
    out = transform(BATCH)
    assert out["id"] == BATCH["id"] and out["title"] == BATCH["title"] and not transform.keeps_title
    documents = [document_text(title, text) for title, text in zip(BATCH["title"], BATCH["text"])]
    expected = TokenEditor(prior, EditSettings(threshold=0.001, seed=4)).edit_documents(documents)
    assert out["text"] == [edit.text for edit in expected] and out["text"] != documents
    for count in ("tokens", "replaced", "changed", "deleted", "windows"):
        assert out[count] == [getattr(edit, count) for edit in expected]
    assert out["tokens"] == [len(prior[1](document).input_ids) for document in documents]


def test_report_counts_the_edits_exactly(prior_folder):
    import datasets

    counts = {"tokens": [10, 20, 5], "replaced": [4, 6, 0], "changed": [3, 5, 0], "deleted": [1, 0, 0],
              "windows": [1, 3, 1]}
    edited = datasets.Dataset.from_dict({"id": ["a", "b", "c"], "text": ["x", "y", "z"], **counts})
    report = TokenEditing(prior=f"local-dir:{prior_folder}", max_length=32).report(edited)
    assert {key: report[key] for key in ("documents", *counts)} == \
        {"documents": 3, "tokens": 35, "replaced": 10, "changed": 8, "deleted": 1, "windows": 5}
    assert report["edit_rate"] == 9 / 35 and report["replaced_share"] == 10 / 35
    assert report["changed_share"] == 8 / 35 and report["deleted_share"] == 1 / 35
    # Per document 4/10, 5/20, 0/5; numpy's linear percentiles of (0, 0.25, 0.4).
    assert report["per_document"] == pytest.approx({"mean": 0.65 / 3, "min": 0.0, "p10": 0.05, "p50": 0.25,
                                                    "p90": 0.37, "max": 0.4})
    assert report["windowed"] == 1
    assert report["settings"]["max_length"] == 32 and report["settings"]["window"] == 32
    assert report["settings"]["prior_identity"].startswith("files:")
    empty = TokenEditing(prior=f"local-dir:{prior_folder}").report(datasets.Dataset.from_dict({"text": []}))
    assert (empty["documents"], empty["tokens"], empty["edit_rate"], empty["per_document"]) == (0, 0, 0.0, {})


def test_transform_runs_under_datasets_map_and_reports_its_edits(prior, prior_folder):
    import datasets

    net, tokenizer = prior
    transform = TokenEditing(prior=f"local-dir:{prior_folder}", editing=EditSettings(threshold=0.005, top_k=1))
    edited = datasets.Dataset.from_dict(BATCH).map(transform, batched=True)
    report = transform.report(edited)
    # By hand: top_k 1 resamples a token with p > 0.005 as the prior's argmax there, a change when it is another token.
    tokens, likely, changed, texts = 0, 0, 0, []
    for title, text in zip(BATCH["title"], BATCH["text"]):
        ids = tokenizer(document_text(title, text), return_tensors="pt").input_ids[0]
        with torch.no_grad():
            probs = torch.softmax(net(input_ids=ids[None]).logits[0, :-1].double(), -1)
        resampled = probs.gather(-1, ids[1:, None]).squeeze(-1) > 0.005
        argmax = probs.argmax(-1)
        tokens, likely, changed = tokens + len(ids), likely + int(resampled.sum()), changed + int(
            (resampled & (argmax != ids[1:])).sum())
        texts.append(tokenizer.decode([ids[0], *torch.where(resampled, argmax, ids[1:])], skip_special_tokens=True))
    assert (report["documents"], report["tokens"], report["replaced"], report["changed"]) == (3, tokens, likely, changed)
    assert likely > changed > 0 and report["edit_rate"] == changed / tokens and edited["text"] == texts
    assert report["settings"]["beta"] == 1.5 and report["settings"]["threshold"] == 0.005
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
