"""Curves of notebook 01 and figures of notebook 02: labelled axes, KL axes from 0, colour bars,
legends outside the data."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch

from helpers.display.curves import plot_iwae_sweep, plot_kw_curves, plot_training_terms, plot_warmup_comparison


def _outside(ax, legend=None):
    ax.figure.canvas.draw()
    legend = legend or ax.get_legend()
    return legend.get_window_extent().x0 >= ax.get_window_extent().x1


def test_training_terms_kl_axis_starts_at_zero():
    import matplotlib.pyplot as plt

    history = [{"epoch": e, "train_elbo": -100.0 - 1 / e, "train_rec": 80.0, "train_kl": 24.0 - 0.3 * (e == 3),
                "beta": min(1.0, e / 2)} for e in range(1, 6)]
    fig = plot_training_terms(history)
    kl_ax = fig.axes[1]
    assert kl_ax.get_ylim()[0] == 0.0 and "KL" in kl_ax.get_ylabel() and kl_ax.get_xlabel() == "epoch"
    assert _outside(fig.axes[0]) and _outside(kl_ax)
    plt.close("all")


def test_warmup_kw_and_iwae_figures():
    import matplotlib.pyplot as plt

    curve = pd.DataFrame({"examples": [100, 200], "train_kl": [3.0, 2.0], "beta": [0.5, 1.0]})
    evals = pd.DataFrame({"examples": [100, 200], "active_units": [10, 8]})
    run = {"curve": curve, "eval": evals, "activity": torch.rand(16), "z_dim": 16}
    fig = plot_warmup_comparison({"a": run, "b": run})
    assert fig.axes[0].get_ylim()[0] == 0.0 and fig.axes[1].get_ylim() == (0.0, 16.0)
    assert _outside(fig.axes[2])
    kw = {z: {"train": pd.DataFrame({"examples": [100, 200], "train_elbo": [-200.0, -150.0]}),
              "test": pd.DataFrame({"examples": [100, 200], "eval_elbo": [-190.0, -140.0]})} for z in (3, 20)}
    ax = plot_kw_curves(kw).axes[0]
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_legend().get_texts()] == ["N_z = 3", "N_z = 20"]
    assert _outside(ax)
    ax = plot_iwae_sweep({1: 95.0, 10: 93.0, 100: 92.5}, 200).axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [95.0, 93.0, 92.5])
    plt.close("all")


def test_transform_views_have_colour_bars_and_true_level_players():
    import matplotlib.pyplot as plt

    from helpers.audio import NSGTConfig, STFTConfig, build_transform
    from helpers.display.transform_views import (plot_phase_curves, plot_versions, plot_views, true_level_players,
                                                 true_level_table)

    sr, n = 8000, 8000
    t = torch.arange(n) / sr
    waves = torch.stack([0.5 * torch.sin(2 * torch.pi * 220 * t), 0.25 * torch.sin(2 * torch.pi * 660 * t)])
    stft = build_transform(STFTConfig(sample_rate=sr, n_fft=256, hop_length=64))
    nsgt = build_transform(NSGTConfig(sample_rate=sr, n_samples=n, bins_per_octave=12, fmin=50.0, fmax=3000.0))
    fig = plot_views(stft, nsgt, waves, ["a", "b"])
    assert sum(ax.get_label() == "<colorbar>" for ax in fig.axes) == 4  # one per spectrogram
    fig = plot_versions(stft, {"loud": waves[0], "quiet": 0.1 * waves[0]}, "a")
    loud, quiet = (ax.collections[0].get_clim() for ax in fig.axes if ax.get_label() != "<colorbar>")
    assert loud == quiet  # one dB scale: the quiet version looks quieter
    table = pd.DataFrame({"transform": ["STFT", "STFT"], "iterations": [1, 8], "SC, own domain": [0.3, 0.1],
                          "SC, common STFT domain": [0.3, 0.1]})
    assert _outside(plot_phase_curves(table).axes[0])
    players = true_level_players({"x": waves[1].numpy()}, sr)
    assert players[0][1] == pytest.approx(20 * np.log10(0.25), abs=0.01)
    html = true_level_table({"original": waves[0].numpy(), "rebuilt <x>": waves[1].numpy()}, sr).data
    assert html.count("<audio") == 2 and "-6.0 dBFS" in html and "-12.0 dBFS" in html and "rebuilt &lt;x&gt;" in html
    plt.close("all")
    with pytest.raises(ValueError, match="2 waves but 1 names"):
        plot_views(stft, nsgt, waves, ["a"])
