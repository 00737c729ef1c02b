"""The diffusion PLM and its OOD baselines: the schedule, the noise, each loss term by hand, the OOD metrics and
Mahalanobis against references, scores that do not depend on the batch, and export -> load -> same scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import zoo
from zoo.checkpoint import export_module
from zoo.errors import ZooError
from zoo.modules import DiffusionPLM, MaskedLMEncoder, SequenceClassifier
from zoo.modules.ood import Mahalanobis, ood_metrics
from zoo.nets.diffusion import Schedule, example_noise, timestep_embedding


def minilm_folder() -> str:
    from zoo.resolve import resolve

    return str(resolve("minilm-l6-v2"))


def batch_of(module, texts) -> dict[str, torch.Tensor]:
    encoded = module.tokenizer(list(texts), return_tensors="pt", padding=True, return_token_type_ids=False)
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


TEXTS = ["the movie is a charming journey .", "parliament does not support the amendment", "a dull film"]


@pytest.fixture(scope="module")
def diffusion():
    torch.manual_seed(0)
    return DiffusionPLM(net="bert-test", tokenizer=minilm_folder(), score_timesteps=(600, 200)).eval()


def test_schedule_is_the_closed_form_linear_ddpm_schedule():
    abar = Schedule().alphas_cumprod().numpy()
    betas = np.linspace(1e-4, 0.02, 1000)
    assert abar[0] == pytest.approx(1 - 1e-4, abs=1e-15)
    assert abar[1] == pytest.approx((1 - 1e-4) * (1 - (1e-4 + 0.0199 / 999)), abs=1e-15)
    assert np.allclose(abar, np.cumprod(1 - betas), rtol=0, atol=1e-14)
    # The values upstream's noise levels are quoted at: sqrt(abar) at t = 600 and at T - 1.
    assert math.sqrt(abar[600]) == pytest.approx(0.1597, abs=5e-4)
    assert math.sqrt(abar[999]) == pytest.approx(0.0064, abs=5e-4)


def test_q_sample_and_the_timestep_embedding():
    schedule = Schedule()
    x0, noise = torch.ones(2, 3, 4), torch.full((2, 3, 4), 2.0)
    t = torch.tensor([0, 600])
    x_t = schedule.q_sample(x0, t, noise)
    abar = schedule.alphas_cumprod()
    for row, step in enumerate([0, 600]):
        expected = math.sqrt(abar[step]) * 1.0 + math.sqrt(1 - abar[step]) * 2.0
        assert torch.allclose(x_t[row], torch.full((3, 4), expected, dtype=torch.float32))
    embedding = timestep_embedding(torch.tensor([0, 7]), 6)
    frequencies = [10000 ** (-k / 3) for k in range(3)]
    assert torch.allclose(embedding[0], torch.tensor([1.0, 1, 1, 0, 0, 0]))
    assert torch.allclose(embedding[1], torch.tensor([*(math.cos(7 * f) for f in frequencies),
                                                       *(math.sin(7 * f) for f in frequencies)]), atol=1e-6)
    assert timestep_embedding(torch.tensor([3]), 5).shape == (1, 5)


def test_noise_depends_on_the_example_and_seed_only():
    ids = torch.tensor([[101, 7, 8, 102, 0], [101, 9, 102, 0, 0]])
    mask = (ids != 0).long()
    alone = example_noise(ids[1:, :3], mask[1:, :3], 4, seed=5)
    together = example_noise(ids, mask, 4, seed=5)
    assert torch.equal(together[1, :3], alone[0]) and torch.equal(together[1, 3:], torch.zeros(2, 4))
    assert not torch.equal(example_noise(ids, mask, 4, seed=6), together)
    assert torch.equal(example_noise(ids, mask, 4, seed=5), together)


def test_each_loss_term_by_hand(diffusion):
    batch = batch_of(diffusion, TEXTS[:2])
    t = torch.tensor([600, 30])
    noise = torch.randn(*batch["input_ids"].shape, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        terms = diffusion.loss_terms(batch, t, lambda x0: noise)
        x0, output = diffusion.denoise(batch, t, lambda x0: noise)
        logits = diffusion.net.cls(output.hidden_states[-1])  # BERT's LM head on every position
    x0, h, logits = x0.double().numpy(), output.hidden_states[-1].double().numpy(), logits.double().numpy()
    mask = batch["attention_mask"].numpy().astype(bool)
    abar_last = float(Schedule().alphas_cumprod()[-1])
    mse, prior, nll = [], [], []
    for row in range(2):
        real = mask[row]
        mse.append(((h[row][real] - x0[row][real]) ** 2).mean())
        prior.append((abar_last * x0[row][real] ** 2).mean())
        for position in np.flatnonzero(real):
            row_logits = logits[row, position]
            log_z = np.log(np.exp(row_logits - row_logits.max()).sum()) + row_logits.max()
            nll.append(log_z - row_logits[batch["input_ids"][row, position]])
    assert float(terms["mse"]) == pytest.approx(np.mean(mse), rel=1e-5)
    assert float(terms["prior"]) == pytest.approx(np.mean(prior), rel=1e-5)
    assert float(terms["cross_entropy"]) == pytest.approx(np.mean(nll), rel=1e-5)
    # The x0 the loss compares with is the embedding module's own output.
    with torch.no_grad():
        assert np.allclose(x0, diffusion.net.bert.embeddings(input_ids=batch["input_ids"]).double().numpy())


def test_training_loss_is_the_sum_of_the_three_terms(diffusion):
    batch = batch_of(diffusion, TEXTS)
    with torch.no_grad():
        torch.manual_seed(3)
        loss = diffusion.training_loss(batch)
        torch.manual_seed(3)
        t = torch.randint(0, 1000, (3,))
        terms = diffusion.loss_terms(batch, t, torch.randn_like)
    assert float(loss) == pytest.approx(float(sum(terms.values())), rel=1e-6)


@pytest.mark.parametrize("make, names", [
    (lambda: DiffusionPLM(net="bert-test", tokenizer=minilm_folder(), score_timesteps=(600, 200)),
     ["reconstruction_t600", "reconstruction_t200"]),
    (lambda: MaskedLMEncoder(net="bert-test", tokenizer=minilm_folder()), ["reconstruction"]),
    (lambda: SequenceClassifier(net="bert-test", tokenizer=minilm_folder()), ["msp"]),
], ids=["diffusion", "mlm", "msp"])
def test_scores_do_not_depend_on_the_batch(make, names):
    torch.manual_seed(0)
    module = make().eval()
    with torch.no_grad():
        together = module.score_batch(batch_of(module, TEXTS))
        alone = [module.score_batch(batch_of(module, [text])) for text in TEXTS]
    assert list(together) == names
    for name, values in together.items():
        assert values.shape == (3,) and bool((values > 0).all())
        assert torch.allclose(values, torch.cat([each[name] for each in alone]), atol=1e-5), name


def test_several_timesteps_in_one_pass_equal_one_at_a_time(diffusion):
    single = DiffusionPLM(net="bert-test", tokenizer=minilm_folder(), score_timesteps=(200,)).eval()
    single.net.load_state_dict(diffusion.net.state_dict())
    batch = batch_of(diffusion, TEXTS)
    with torch.no_grad():
        assert torch.allclose(diffusion.score_batch(batch)["reconstruction_t200"],
                              single.score_batch(batch)["reconstruction_t200"], atol=1e-5)


def test_ood_metrics_against_by_hand_values():
    in_scores, out_scores = torch.tensor([0.1, 0.2, 0.3, 0.4]), torch.tensor([0.35, 0.5, 0.6, 0.7])
    metrics = ood_metrics(in_scores, out_scores)
    # 15 of the 16 (OOD, ID) pairs are ordered right; catching all 4 OOD (>= 95 %) needs threshold 0.35,
    # above which 1 of the 4 in-distribution scores lies.
    assert metrics == {"auroc": pytest.approx(15 / 16), "fpr95": pytest.approx(0.25)}
    # Only the order counts: scores far outside [0, 1] (losses, Mahalanobis distances) give the same metrics.
    assert ood_metrics(in_scores * 1e4 + 500, out_scores * 1e4 + 500) == metrics
    assert ood_metrics(torch.tensor([5000.0, 6000.0]), torch.tensor([20000.0, 30000.0]))["auroc"] == 1.0
    perfect = ood_metrics(torch.tensor([0.0, 0.1]), torch.tensor([0.5, 0.9]))
    assert perfect == {"auroc": 1.0, "fpr95": 0.0}
    with pytest.raises(ZooError, match="a set is empty"):
        ood_metrics(torch.tensor([]), out_scores)


def test_mahalanobis_against_a_numpy_reference():
    generator = np.random.default_rng(0)
    features = generator.normal(size=(40, 3)) + np.repeat([[0, 0, 0], [3, 1, 0]], 20, axis=0)
    labels = np.repeat([0, 1], 20)
    queries = generator.normal(size=(5, 3))
    means = np.stack([features[labels == c].mean(0) for c in (0, 1)])
    centred = features - means[labels]
    precision = np.linalg.pinv(centred.T @ centred / len(features))
    expected = np.min([[(q - m) @ precision @ (q - m) for m in means] for q in queries], axis=1)
    detector = Mahalanobis.fit(torch.tensor(features), torch.tensor(labels))
    assert np.allclose(detector.score(torch.tensor(queries)).numpy(), expected)
    one_mean = Mahalanobis.fit(torch.tensor(features))
    overall = features - features.mean(0)
    expected_one = [(q - features.mean(0)) @ np.linalg.pinv(overall.T @ overall / 40) @ (q - features.mean(0))
                    for q in queries]
    assert np.allclose(one_mean.score(torch.tensor(queries)).numpy(), expected_one)


@pytest.mark.parametrize("make", [
    lambda: DiffusionPLM(net="bert-test", tokenizer=minilm_folder(), score_timesteps=(600, 200)),
    lambda: SequenceClassifier(net="bert-test", tokenizer=minilm_folder(), num_labels=3),
], ids=["diffusion", "msp"])
def test_export_then_load_gives_the_same_scores(make, tmp_path):
    torch.manual_seed(0)
    module = make().eval()
    folder = export_module(module, tmp_path / "folder")
    loaded = zoo.load(f"local-dir:{folder}")
    assert type(loaded) is type(module)
    assert list(loaded.hparams.get("score_timesteps", [])) == list(module.hparams.get("score_timesteps", []))
    batch = batch_of(module, TEXTS)
    with torch.no_grad():
        for name, values in module.score_batch(batch).items():
            assert torch.equal(values, loaded.score_batch(batch)[name])
        assert torch.equal(module.features(batch), loaded.features(batch))


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ZooError, match=r"score_timesteps=1000 must be an integer in \[0, 1000\)"):
        DiffusionPLM(net="bert-test", tokenizer=minilm_folder(), score_timesteps=(1000,))
    with pytest.raises(ZooError, match="score_timesteps is empty"):
        DiffusionPLM(net="bert-test", tokenizer=minilm_folder(), score_timesteps=())
    with pytest.raises(ZooError, match="need 0 < start <= end < 1"):
        DiffusionPLM(net="bert-test", tokenizer=minilm_folder(), beta_start=0.1, beta_end=0.01)
    with pytest.raises(ZooError, match="num_labels=1 must be an integer >= 2"):
        SequenceClassifier(net="bert-test", tokenizer=minilm_folder(), num_labels=1)


def test_an_upstream_release_loads_as_its_entry_says(tmp_path, monkeypatch):
    """A plain transformers folder of a registry entry with ``loads_as`` (the upstream diffusion checkpoints) loads as
    that module with those settings; without the entry it loads as its architecture's module."""
    from zoo import checkpoint
    from zoo.registry import Entry

    torch.manual_seed(0)
    MaskedLMEncoder(net="bert-test", tokenizer=minilm_folder()).net.save_pretrained(tmp_path)
    MaskedLMEncoder(net="bert-test", tokenizer=minilm_folder()).tokenizer.save_pretrained(tmp_path)
    upstream = Entry(name="upstream-sst2", kind="encoder", system="diffusion_plm", description="test",
                     source="hf-hub:someone/diffusion", loads_as={"class": "DiffusionPLM",
                                                                   "init_args": {"score_timesteps": [700]}})
    monkeypatch.setattr(checkpoint, "entries", lambda: {"upstream-sst2": upstream})
    loaded = checkpoint.load_folder(tmp_path, None, "upstream-sst2")
    assert type(loaded) is DiffusionPLM and list(loaded.hparams.score_timesteps) == [700]
    assert list(loaded.score_batch(batch_of(loaded, TEXTS))) == ["reconstruction_t700"]
    assert type(checkpoint.load_folder(tmp_path, None, None)) is MaskedLMEncoder


def test_the_shipped_upstream_entries_load_as_diffusion_plms():
    from zoo.registry import entries

    upstream = {name: entry for name, entry in entries().items() if name.startswith("diffusion-robustness-")}
    assert set(upstream) == {f"diffusion-robustness-{s}" for s in ("sst2", "20ng", "trec", "imdb")}
    for entry in upstream.values():
        assert entry.source.startswith("hf-hub:Maybe1407/diffusion_robustness_")
        assert entry.loads_as["class"] == "DiffusionPLM" and entry.loads_as["init_args"]["score_timesteps"][0] in (600, 700)


def test_reading_an_encoder_scores_its_net_at_other_timesteps(diffusion):
    """``DiffusionPLM.reading``: a diffusion PLM re-scored at another t, and a masked-LM encoder (never trained to
    denoise) scored by the very same reconstruction of the same noised embeddings."""
    batch = batch_of(diffusion, TEXTS)
    swept = DiffusionPLM.reading(diffusion, (200, 700))
    assert swept.net is diffusion.net and swept.schedule == diffusion.schedule and not swept.training
    torch.manual_seed(1)
    encoder = MaskedLMEncoder(net="bert-test", tokenizer=minilm_folder(), score_seed=5).eval()
    before = DiffusionPLM.reading(encoder, (600,))
    same_net = DiffusionPLM(net="bert-test", tokenizer=minilm_folder(), score_timesteps=(600,), score_seed=5).eval()
    same_net.net.load_state_dict(encoder.net.state_dict())
    with torch.no_grad():
        assert torch.equal(swept.score_batch(batch)["reconstruction_t200"], diffusion.score_batch(batch)["reconstruction_t200"])
        assert list(swept.score_batch(batch)) == ["reconstruction_t200", "reconstruction_t700"]
        assert torch.allclose(before.score_batch(batch)["reconstruction_t600"],
                              same_net.score_batch(batch)["reconstruction_t600"], atol=1e-6)
    # Another schedule travels with the model read.
    other = DiffusionPLM(net="bert-test", tokenizer=minilm_folder(), beta_end=0.01, score_timesteps=(600,))
    assert DiffusionPLM.reading(other, (100,)).schedule == Schedule(1000, 1e-4, 0.01)
