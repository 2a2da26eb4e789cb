"""Helpers that notebook 03 calls instead of inline code: the likelihood vote and its sentence,
per-instrument recognition, spectral flatness summaries, path measures, score tables, the
choice of notes across families, latent circles, neighbour agreement in 2-D maps."""

import math
import re

import numpy as np
import pandas as pd
import pytest
import torch

from helpers.audio import STFTConfig, build_transform
from helpers.display.audio_vae import code_maps, describe_neighbours, families_round_robin, plot_scores
from helpers.evaluation import audio as ev
from helpers.evaluation.latent import neighbour_agreement
from helpers.latent import principal_circle
from helpers.latent.basis import principal_basis

SR = 8000


def tone(f0, seconds=0.5, harmonics=4, amp=0.5):
    t = torch.arange(int(seconds * SR)) / SR
    return amp * sum(torch.sin(2 * math.pi * h * f0 * t) / h for h in range(1, harmonics + 1))


@pytest.fixture(scope="module")
def stft():
    return build_transform(STFTConfig(sample_rate=SR, n_fft=512, hop_length=128, scale="db", normalize="none"))


def scores_frame(g, lap):
    cols = ev.SCORES
    return pd.DataFrame({"gaussian": dict(zip(cols, g)), "laplace": dict(zip(cols, lap))}).T


def test_likelihood_vote_counts_the_lower_scores_and_breaks_ties_on_mag_sc():
    winner, wins = ev.likelihood_vote(scores_frame([0.3, 5.0, 0.4, 6.0], [0.4, 4.0, 0.5, 7.0]))
    assert winner == "gaussian" and wins == {"gaussian": 3, "laplace": 1}
    winner, wins = ev.likelihood_vote(scores_frame([0.5, 4.0, 0.4, 7.0], [0.4, 5.0, 0.5, 6.0]))
    assert wins == {"gaussian": 2, "laplace": 2} and winner == "laplace"  # tie: lower mag_sc
    with pytest.raises(KeyError, match="audio_lsd"):
        ev.likelihood_vote(scores_frame([0.3, 5.0, 0.4, 6.0], [0.4, 4.0, 0.5, 7.0]).drop(columns="audio_lsd"))


def test_describe_likelihoods_states_the_measured_numbers_and_who_is_closer():
    scores = scores_frame([0.363, 5.01, 0.349, 5.19], [0.402, 5.26, 0.391, 5.42])
    levels = pd.DataFrame({"gaussian": {"loud_err_db": 2.0, "quiet_err_db": 9.0, "loud_share": 0.05, "quiet_share": 0.6},
                           "laplace": {"loud_err_db": 3.0, "quiet_err_db": 10.5, "loud_share": 0.05, "quiet_share": 0.6}}).T
    text = ev.describe_likelihoods(scores, levels)
    assert "**Gaussian** is lower on 4 of the 4" in text
    for number in ("0.363", "0.402", "5.01", "5.26", "2.00", "3.00", "9.00", "10.50", "5.0%", "60.0%"):
        assert number in text, number
    # the Gaussian is closer on both kinds of bins here: nothing says the Laplace fits the floor
    assert text.count("the gaussian is closer") == 2 and "the laplace is closer" not in text
    levels.loc["laplace", "quiet_err_db"] = 1.0
    assert "the laplace is closer" in ev.describe_likelihoods(scores, levels)
    assert "within 30 dB" in text and "more than 60 dB down" in text  # error_by_level's defaults
    levels["loud_db"], levels["quiet_db"] = -20.0, -50.0  # thresholds recorded by error_by_level
    other = ev.describe_likelihoods(scores, levels)
    assert "within 20 dB" in other and "more than 50 dB down" in other


class IdentityModel:
    """Reconstructs perfectly: every measure of what is kept must be at its ceiling."""

    def __init__(self, transform):
        self.transform = transform

    def reconstruct(self, x):
        return x.clone()


def test_recognition_by_instrument_of_a_perfect_model(stft):
    waves = torch.stack([tone(f) for f in (220.0, 330.0, 440.0, 247.0, 370.0, 494.0)])
    waves[3:] = torch.stack([tone(f, harmonics=1) for f in (247.0, 370.0, 494.0)])  # a second, pure-tone timbre
    mags = stft.analyze(waves)
    instruments = ["rich"] * 3 + ["pure"] * 3
    probe = ev.InstrumentProbe(stft).fit(mags, instruments)
    table = ev.recognition_by_instrument(IdentityModel(stft), mags, instruments, probe)
    assert list(table.index) == ["pure", "rich"] and (table["n"] == 3).all()
    assert np.allclose(table["sc"], 0.0, atol=1e-6) and (table["pitch kept"] == 1.0).all()
    assert list(table["heard_as"]) == ["pure", "rich"] and (table["heard_as_share"] == 1.0).all()
    sc, pitch, heard = ev.unseen_summary({"m/stft": table}, {"m/stft": (0.25, 0.75)})
    assert sc.loc["(held-out training instruments)", "m/stft"] == 0.25
    assert pitch.loc["(held-out training instruments)", "m/stft"] == 0.75
    assert heard.loc["rich", "m/stft"] == "rich (100%)"


def test_flatness_separates_partials_from_noise(stft):
    noise = ev.noise_flatness(stft)
    assert 0.5 < noise < 0.62  # about e^-gamma = 0.56 for a periodogram of Gaussian noise
    g = torch.Generator().manual_seed(0)
    summary = ev.flatness_summary({"tones": stft.analyze(torch.stack([tone(220.0), tone(330.0)])),
                                   "noise": stft.analyze(0.1 * torch.randn(2, SR // 2, generator=g))})
    assert list(summary.columns) == ["median", "mean", "n"] and summary.loc["tones", "n"] == 2
    assert summary.loc["tones", "median"] < 0.05 * summary.loc["noise", "median"]
    shares = ev.flatness_summary({"tones": stft.analyze(torch.stack([tone(220.0), tone(330.0)])),
                                  "noise": stft.analyze(0.1 * torch.randn(2, SR // 2, generator=g))}, noise)["noise_like"]
    assert shares["tones"] == 0.0 and shares["noise"] == 1.0


def test_frame_pitches_follow_a_glide_and_successive_lsd(stft):
    wave = torch.cat([tone(220.0, 0.25), tone(440.0, 0.25)])
    mag = stft.analyze(wave)
    pitch = ev.frame_pitches(mag, stft.frequencies())
    assert pitch.shape == (mag.shape[-1],)
    assert abs(np.median(pitch[2:5]) - 57) <= 0.5 and abs(np.median(pitch[-5:-2]) - 69) <= 0.5
    notes = stft.analyze(torch.stack([tone(220.0), tone(220.0), tone(440.0)]))
    steps, ends = ev.successive_lsd(notes)
    assert steps.shape == (2,) and steps[0] < 1e-6 < steps[1] and ends == pytest.approx(steps[1])
    with pytest.raises(ValueError, match="two notes"):
        ev.successive_lsd(notes[:1])


def test_level_and_centroid_sees_level_and_brightness():
    waves = torch.stack([tone(200.0, amp=0.1, harmonics=1), tone(200.0, amp=0.5, harmonics=8)])
    labels = pd.DataFrame({"instrument": ["x", "x"], "dynamics": ["pp", "ff"]})
    table = ev.level_and_centroid(waves, labels, SR)
    assert table.loc[("x", "ff"), "peak_dbfs"] - table.loc[("x", "pp"), "peak_dbfs"] > 10
    assert table.loc[("x", "pp"), "centroid_hz"] == pytest.approx(200.0, rel=0.05)
    assert table.loc[("x", "ff"), "centroid_hz"] > 300
    with pytest.raises(ValueError, match="label rows"):
        ev.level_and_centroid(waves, labels.iloc[:1], SR)


class FakeRun:
    epochs, train_seconds, reused = 3, 12.345, True


def test_score_table_and_rows_per_group():
    table = ev.score_table({("frame", "stft", "gaussian"): FakeRun()},
                           {("frame", "stft", "gaussian"): {"mag_sc": 0.12345, "n_notes": 10}})
    assert table.to_dict("records") == [{"model": "frame", "transform": "stft", "likelihood": "gaussian", "epochs": 3,
                                         "train_s": 12.3, "reused": True, "mag_sc": 0.123}]
    labels = pd.DataFrame({"instrument": ["a"] * 10 + ["b"] * 2})
    rows = ev.rows_per_group(labels, 3)
    assert list(rows) == [0, 4, 9, 10, 11]
    with pytest.raises(KeyError, match="family"):
        ev.rows_per_group(labels, 3, by="family")


def test_families_round_robin_spans_families_first():
    labels = pd.DataFrame({"instrument": ["Flute", "Oboe", "Clarinet", "Violin", "Cello", "Horn"],
                           "family": ["Winds", "Winds", "Winds", "Strings", "Strings", "Brass"]})
    assert families_round_robin(labels, 3) == ["Horn", "Cello", "Clarinet"]
    assert families_round_robin(labels) == ["Horn", "Cello", "Clarinet", "Violin", "Flute", "Oboe"]
    assert families_round_robin(labels.drop(columns="family"), 2) == ["Cello", "Clarinet"]


def test_principal_circle_lies_in_the_first_principal_plane():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(500, 5, generator=g) * torch.tensor([3.0, 2.0, 0.1, 0.1, 0.1]) + 1.0
    circle, radius = principal_circle(z, 6)
    assert circle.shape == (7, 5) and torch.allclose(circle[0], circle[-1], atol=1e-5)
    open_circle, _ = principal_circle(z, 6, closed=False)
    assert open_circle.shape == (6, 5)
    mean, basis = principal_basis(z, 2)
    assert radius == pytest.approx(float(basis.norm(dim=0).mean()))
    offsets = circle - mean
    assert torch.allclose(offsets.norm(dim=1), torch.full((7,), radius), rtol=1e-4)
    assert offsets[:, 2:].abs().max() < 0.1 * radius  # nothing along the small axes
    assert 2.0 < radius < 3.0


def test_neighbour_agreement_of_clusters_and_of_noise():
    g = np.random.default_rng(0)
    points = np.concatenate([g.normal(0, 0.1, (50, 2)), g.normal(5, 0.1, (50, 2))])
    labels = np.array(["a"] * 50 + ["b"] * 50)
    agreement, chance = neighbour_agreement(points, labels, k=5)
    assert agreement == 1.0 and chance == pytest.approx(49 / 99)
    shuffled, _ = neighbour_agreement(points, g.permutation(labels), k=5)
    assert abs(shuffled - chance) < 0.15
    pitch = np.concatenate([np.full(50, 60), np.full(50, 72)])
    assert neighbour_agreement(points, pitch, k=5, tolerance=1.0)[0] == 1.0
    with pytest.raises(ValueError, match="k=100"):
        neighbour_agreement(points, labels, k=100)


def test_code_maps_measure_the_maps_and_keep_legends_off_the_data():
    g = np.random.default_rng(0)
    z = np.concatenate([g.normal(0, 0.1, (30, 4)), g.normal(3, 0.1, (30, 4))])
    labels = pd.DataFrame({"instrument": ["a"] * 30 + ["b"] * 30, "pitch": np.r_[np.full(30, 60), np.full(30, 70)],
                           "dynamics": ["pp", "ff"] * 30})
    fig, table = code_maps(z, labels, methods=("PCA",), title="toy")
    assert table.loc["PCA", "instrument"] == 1.0 and table.loc["PCA", "pitch"] == 1.0
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None:  # anchored to the right of the axes
            assert legend.get_bbox_to_anchor().x0 >= ax.get_window_extent().x1 - 1
    text = describe_neighbours(pd.concat({"toy model": table}))
    assert re.search(r"toy model, PCA: of each note's 10 nearest neighbours in the map, 100% share its instrument "
                     r"\(chance 49%\) and 100% lie within a semitone of its pitch \(chance 49%\)\.", text)


def test_plot_scores_draws_every_run_and_the_floors():
    table = pd.DataFrame([{"model": "frame", "transform": "stft", "likelihood": "gaussian", "mag_sc": 0.3,
                           "audio_sc": 0.35, "oracle_sc": 0.01, "mag_lsd": 5.0, "audio_lsd": 5.5, "oracle_lsd": 1.0,
                           "pool_sc": np.nan, "pool_lsd": np.nan}] * 2)
    fig = plot_scores(table)
    assert len(fig.axes) == 2 and [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["frame\nstft\ngaussian"] * 2
    assert [p.get_height() for p in fig.axes[0].patches[:2]] == [0.3, 0.3]


def test_train_val_gap_reads_the_kept_epoch():
    history = [{"epoch": 1, "train_elbo": -100.0, "val_elbo": -120.0},
               {"epoch": 2, "train_elbo": -50.0, "val_elbo": -90.0},
               {"epoch": 3, "train_elbo": -40.0, "val_elbo": -95.0}]
    gap = ev.train_val_gap(history)
    assert gap == {"train": 50.0, "val": 90.0, "ratio": 1.8, "epoch": 2}
    with pytest.raises(ValueError, match="val_elbo"):
        ev.train_val_gap([{"epoch": 1, "train_elbo": -1.0}])


def test_curves_and_generation_figures_have_one_panel_per_run_and_measure():
    from types import SimpleNamespace

    from helpers.display.audio_vae import plot_curves, plot_generation

    history = [{"epoch": e, "train_elbo": -100.0 / e, "val_elbo": -120.0 / e ** 0.5} for e in range(1, 6)]
    fig = plot_curves({"a": SimpleNamespace(history=history), "b": SimpleNamespace(history=history[:2])})
    axes = [ax for ax in fig.axes if ax.has_data()]
    assert len(axes) == 2 and axes[0].get_ylabel().startswith("-ELBO")
    assert len(axes[0].lines) == 3  # training, held-out, the kept epoch
    with pytest.raises(ValueError, match="no runs"):
        plot_curves({})
    table = pd.DataFrame([{"model": "m", "density": d, "n": 10, "in_class": 0.5, "noise": 0.2, "flatness_ratio": 3.0,
                           "frechet_ratio": 2.0} for d in ("prior", "kde")])
    fig = plot_generation(table)
    assert len(fig.axes) == 4 and "10 per bar" in fig._suptitle.get_text()
