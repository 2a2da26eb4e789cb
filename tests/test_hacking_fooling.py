"""Notebook 06's machinery on tiny models: the "generated" class, ambiguity fine-tuning, the
adversarial variant through the one Trainer and run store, and the regimes read from curves."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from helpers.evaluation.judges import DIGITS, NOISE, Judge, digit_config
from helpers.hacking import UncannyConfig, uncanny_finetune, weights_fingerprint
from helpers.hacking import fooling as fo
from helpers.hacking.finetune import Probe, ambiguity_loss, class_entropy
from helpers.models.classifiers import Classifier
from helpers.models.vae import VAE, VAEConfig


@pytest.fixture()
def judge():
    torch.manual_seed(0)
    return Judge(Classifier(digit_config(len(DIGITS) + 1, smoke=True)), DIGITS + (NOISE,), DIGITS)


@pytest.fixture()
def vae():
    torch.manual_seed(1)
    return VAE.from_config(VAEConfig(z_dim=4, hidden=(32,))).eval()


def images(n, seed=0, p=0.7):
    return (torch.rand(n, 28, 28, generator=torch.Generator().manual_seed(seed)) > p).float()


def test_ambiguity_loss_is_lowest_at_the_uniform_and_entropy_reaches_log_k():
    k = 4
    uniform = torch.full((1, k + 1), 1.0 / k)
    uniform[0, -1] = 0.0
    uniform = uniform / uniform.sum()
    peaked = torch.tensor([[0.97, 0.01, 0.01, 0.01, 0.0]])
    with_noise = torch.tensor([[0.2, 0.2, 0.2, 0.2, 0.2]])
    idx = range(k)
    assert ambiguity_loss(uniform, idx).item() == pytest.approx(math.log(k), rel=1e-5)
    assert ambiguity_loss(peaked, idx).item() > ambiguity_loss(uniform, idx).item()
    assert ambiguity_loss(with_noise, idx).item() > ambiguity_loss(uniform, idx).item()  # noise mass costs
    assert class_entropy(uniform, idx).item() == pytest.approx(math.log(k), rel=1e-5)
    assert class_entropy(with_noise, idx).item() == pytest.approx(math.log(k), rel=1e-5)  # renormalised
    assert class_entropy(peaked, idx).item() < 0.2


def test_with_generated_class_answers_as_before_and_leaves_the_original(judge):
    before = weights_fingerprint(judge.model)
    new = fo.with_generated_class(judge)
    x = images(20)
    assert new.classes == judge.classes + (fo.GENERATED,)
    p_old, p_new = judge.probs(x), new.probs(x)
    assert torch.equal(p_old.argmax(1), p_new.argmax(1))
    assert p_new[:, -1].max() < 0.05
    assert weights_fingerprint(judge.model) == before
    with pytest.raises(ValueError, match="already has a class 'generated'"):
        fo.with_generated_class(new)


def test_generated_class_judge_learns_to_detect_and_is_reloaded(judge, tmp_path):
    x_real, y_real = images(120, 0), torch.randint(10, (120,), generator=torch.Generator().manual_seed(0))
    fake = torch.rand(120, 28, 28, generator=torch.Generator().manual_seed(5)) * 0.3  # grey haze, no strokes
    held_fake = torch.rand(40, 28, 28, generator=torch.Generator().manual_seed(6)) * 0.3
    cfg = fo.GeneratedClassConfig(n_epochs=3, lr=3e-3, batch_size=32)
    new, table = fo.generated_class_judge(judge, (x_real, y_real), {"haze": fake}, (images(40, 9), y_real[:40]),
                                          {"haze": held_fake}, cfg, run_root=tmp_path, progress=False)
    assert list(table.index) == ["before", "after"]
    assert table.loc["before", "detected: haze"] == 0.0 and table.loc["after", "detected: haze"] > 0.8
    assert table.attrs["reused"] is False
    again, table2 = fo.generated_class_judge(judge, (x_real, y_real), {"haze": fake}, (images(40, 9), y_real[:40]),
                                             {"haze": held_fake}, cfg, run_root=tmp_path, progress=False)
    assert table2.attrs["reused"] is True and weights_fingerprint(again.model) == weights_fingerprint(new.model)
    with pytest.raises(ValueError, match="no generated examples"):
        fo.generated_class_judge(judge, (x_real, y_real), {}, (x_real, y_real), {}, cfg, run_root=tmp_path)


def test_ambiguity_finetune_raises_class_entropy_and_probes_along(vae, judge, tmp_path):
    with torch.no_grad():  # a confident judge: its posterior on the VAE's samples is far from uniform
        judge.model.out.weight.mul_(30.0)
    x = images(200)
    z = torch.randn(64, 4, generator=torch.Generator().manual_seed(3))
    measure = lambda xb: fo.fooling_measures(xb, judge)  # noqa: E731
    probe = Probe(z, measure, every=10)
    cfg = UncannyConfig(critic="ambiguity", weight=0.0, n_steps=40, lr=1e-2, batch_size=32)
    before = weights_fingerprint(vae)
    tuned = uncanny_finetune(vae, x, cfg, judge=judge, run_root=tmp_path, progress=False, probe=probe,
                             probe_key={"n": 64})
    rows = pd.DataFrame(probe.rows)
    assert list(rows.step) == [0, 10, 20, 30, 40]
    assert rows.class_entropy.iloc[-1] > rows.class_entropy.iloc[0]
    assert rows.log_k.iloc[0] == pytest.approx(math.log(10))
    assert weights_fingerprint(vae) == before
    # the MMD realism term needs real features; with them it trains and keys a different run
    with pytest.raises(ValueError, match="real_features"):
        uncanny_finetune(vae, x, UncannyConfig(critic="ambiguity", realism="mmd", n_steps=2), judge=judge,
                         run_root=tmp_path, progress=False)
    feats = judge.features(x[:50])
    mmd = uncanny_finetune(vae, x, UncannyConfig(critic="ambiguity", realism="mmd", weight=1.0, n_steps=3, batch_size=16),
                           judge=judge, run_root=tmp_path, progress=False, real_features=feats)
    assert mmd.run_dir != tuned.run_dir and np.isfinite(mmd.history.reconstruction).all()


def test_adversarial_alternates_updates_at_two_rates_and_reloads(vae, judge, tmp_path):
    gen = fo.with_generated_class(judge)
    x = images(100)
    real = (images(100, 4), torch.randint(10, (100,), generator=torch.Generator().manual_seed(1)))
    cfg = fo.AdversarialConfig(n_steps=6, classifier_steps=2, lr_generator=1e-3, lr_classifier=1e-3, batch_size=16)
    clf_before, vae_before = weights_fingerprint(gen.model), weights_fingerprint(vae)
    measure = lambda xb, live: {**fo.fooling_measures(xb, judge),  # noqa: E731
                                "p_generated_live": live.probs(xb)[:, -1].mean().item()}
    out = fo.adversarial_fool(vae, gen, x, real, cfg, run_root=tmp_path, progress=False, measure=measure,
                              probe_every=3, probe_key={"v": 1})
    h = out.history
    assert len(h) == 18
    gen_rows = h[h.generator_loss.notna()]
    assert len(gen_rows) == 6 and h.classifier_loss.notna().sum() == 12
    assert list(h.classifier_loss.notna().iloc[:3]) == [True, True, False]  # two classifier updates, then one
    assert weights_fingerprint(gen.model) == clf_before and weights_fingerprint(vae) == vae_before
    assert weights_fingerprint(out.judge.model) != clf_before
    assert weights_fingerprint(out.model.encoder) == weights_fingerprint(vae.encoder)  # only the decoder moved
    assert weights_fingerprint(out.model.decoder) != weights_fingerprint(vae.decoder)
    assert list(out.probes.step) == [0, 3, 6, 9, 12, 15, 18] and "p_generated_live" in out.probes
    again = fo.adversarial_fool(vae, gen, x, real, cfg, run_root=tmp_path, progress=False, measure=measure,
                                probe_every=3, probe_key={"v": 1})
    assert again.cached and len(again.history) == 18 and len(again.probes) == 7
    assert weights_fingerprint(again.judge.model) == weights_fingerprint(out.judge.model)
    with pytest.raises(ValueError, match="needs a 'generated' class"):
        fo.adversarial_fool(vae, judge, x, real, cfg, run_root=tmp_path, progress=False)


def _probes(n=12, **cols):
    base = {"step": np.arange(n), "diversity": np.ones(n), "p_generated_live": np.full(n, 0.5),
            "frechet": np.ones(n), "entropy_ratio": np.full(n, 0.9), "noise_share": np.zeros(n)}
    base.update(cols)
    return pd.DataFrame(base)


def test_regime_names_each_behaviour_by_its_rule():
    n = 12
    assert fo.regime(_probes(diversity=np.linspace(1, 0.2, n)))["regime"] == "collapse"
    assert fo.regime(_probes(p_generated_live=np.tile([0.1, 0.9], n // 2)))["regime"] == "oscillation"
    assert fo.regime(_probes(frechet=np.linspace(1, 5, n)))["regime"] == "drift"
    assert fo.regime(_probes())["regime"] == "stable ambiguous"
    assert fo.regime(_probes(entropy_ratio=np.full(n, 0.3)))["regime"] == "stable, not ambiguous"
    assert fo.regime(_probes(noise_share=np.full(n, 0.9)))["regime"] == "stable, not ambiguous"
    assert "0.90" in fo.regime(_probes())["why"]
    with pytest.raises(ValueError, match="at least 3"):
        fo.regime(_probes(2))


def _fool_subject(judge, vae):
    from helpers.hacking import fooling_study as fst
    from helpers.hacking import study as hs
    from helpers.models.priors import CodeGaussian

    x = images(60)
    codes = vae.encode(x)[0].detach()
    s = hs.Subject("tiny", "image", vae, judge, codes, hs.as_images(x[:20]), hs.as_images(x[20:]), CodeGaussian.fit(codes),
                   x_train=x)
    return fst.FoolSubject(s, judge, (x, torch.zeros(60, dtype=torch.long)), (x[:20], torch.zeros(20, dtype=torch.long)),
                           codes, codes[:8], judge.features(x[:20]), fo.data_spread(judge, x[:20]))


def test_ambiguous_not_noise_ranks_by_entropy_and_drops_noise(judge, vae):
    from helpers.hacking import fooling_study as fst

    fs = _fool_subject(judge, vae)
    x = images(30, 7)
    probs = judge.probs(x)
    h = class_entropy(probs, judge.in_index).numpy()
    ok = (probs[:, judge.noise_index].numpy() < 0.5) & (probs.argmax(1).numpy() != judge.noise_index)
    idx = fst.ambiguous_not_noise(fs, x, k=5, theta=0.5)
    assert len(idx) == min(5, ok.sum()) and ok[idx].all()
    assert np.all(np.diff(h[idx]) <= 1e-7)                              # most ambiguous first
    assert h[idx[0]] == pytest.approx(h[ok].max())
    assert len(fst.ambiguous_not_noise(fs, x, k=5, theta=0.0)) == 0      # everything counts as noise


def test_sweep_facts_name_the_most_ambiguous_and_the_best_not_noise():
    from helpers.hacking import fooling_study as fst

    t = pd.DataFrame({"run": ["original", "elbo x 0", "elbo x 1"], "realism": ["-", "elbo", "elbo"],
                      "weight": [np.nan, 0.0, 1.0], "class_entropy": [0.1, 2.0, 1.2], "log_k": [math.log(10)] * 3,
                      "entropy_ratio": [0.04, 0.87, 0.52], "noise_share": [0.0, 0.9, 0.05],
                      "frechet": [50.0, 900.0, 300.0], "diversity": [0.9, 0.3, 0.8]}).set_index("run")
    facts = fst.sweep_facts(None, {"table": t})
    assert facts["highest"] == "elbo x 0" and facts["best"] == "elbo x 1"
    assert "**elbo x 0** (87% of log K, noise share 90%" in facts["text"] and "**elbo x 1** is the most ambiguous" in facts["text"]
    assert facts["text"].count("collapsed") == 1  # elbo x 0 only: 0.3 < 0.5 x 0.9
    t.loc["elbo x 1", "noise_share"] = 0.8
    facts = fst.sweep_facts(None, {"table": t})
    assert facts["best"] is None and "No copy keeps its noise share at or below 10%" in facts["text"]


def test_adversarial_run_names_are_short_and_distinct():
    from helpers.hacking import fooling_study as fst

    a = fst.run_name(fo.AdversarialConfig(lr_generator=1e-3, lr_classifier=1e-4))
    b = fst.run_name(fo.AdversarialConfig(lr_generator=1e-3, lr_classifier=1e-4, classifier_steps=3))
    assert a == "G 0.001, C 0.0001" and b == "G 0.001, C 0.0001, 3 C-steps"


def test_regime_rules_state_the_thresholds_regime_uses():
    text = fo.regime_rules()
    assert "below 0.5 x its first value → collapse" in text and "at least 3 times → oscillation" in text
    assert "at least 0.8 log K" in text and "at least 5 times" in fo.regime_rules(crossings=5)
