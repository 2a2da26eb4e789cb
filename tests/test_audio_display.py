"""Spectrogram plots and audio players (headless)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from helpers.audio import build_transform  # noqa: E402
from helpers.audio.synthetic import harmonic_note  # noqa: E402
from helpers.display.audio import (audio_player, normalize_peak, note_name,  # noqa: E402
                                   plot_spectrogram, plot_transform)


def test_note_names():
    assert note_name(440.0) == "A4"
    assert note_name(261.63) == "C4"
    assert note_name(32.70) == "C1"


@pytest.mark.parametrize("kind", ["stft", "nsgt"])
@pytest.mark.parametrize("labels", ["hz", "note"])
def test_plot_transform_with_hz_and_note_axes(kind, labels):
    import matplotlib.pyplot as plt

    t = build_transform({"kind": kind})
    ax = plot_transform(t, harmonic_note(110.0), freq_labels=labels, title=kind)
    assert ax.get_yscale() == "log"
    if labels == "note":
        names = [tick.get_text() for tick in ax.get_yticklabels()]
        assert "C4" in names
    plt.close(ax.figure)


def test_plot_spectrogram_edge_cases():
    import matplotlib.pyplot as plt

    ax = plot_spectrogram(torch.zeros(1, 5, 7), freq_scale="linear")  # silence: no NaN
    assert ax.get_ylabel() == "bin"
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="2-D"):
        plot_spectrogram(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="frequencies"):
        plot_spectrogram(np.ones((3, 4)), frequencies=[1.0, 2.0])
    with pytest.raises(ValueError, match="non-finite"):
        plot_spectrogram(np.full((3, 4), np.nan))


def test_normalize_peak_is_safe():
    assert np.abs(normalize_peak(np.array([0.0, 0.1, -0.2]), 0.9)).max() == pytest.approx(0.9)
    silent = normalize_peak(np.zeros(10))
    assert np.all(silent == 0)
    with pytest.raises(ValueError, match="non-finite"):
        normalize_peak(np.array([0.0, np.nan]))


def test_audio_player():
    player = audio_player(torch.zeros(1, 8000), 8000)  # silence does not crash
    assert int.from_bytes(player.data[24:28], "little") == 8000  # WAV header: sample rate
    loud = audio_player(harmonic_note(220.0, 8000, 8000) * 5, 8000, normalize=False)
    assert loud.data[:4] == b"RIFF"
    with pytest.raises(ValueError, match="non-finite"):
        audio_player(np.array([np.inf, 0.0]), 8000)


def test_true_level_players_keep_the_level_ratio_and_guard_clipping():
    import io

    import soundfile as sf

    from helpers.display.audio import true_level_players

    t = np.arange(800) / 8000
    quiet, loud = 0.05 * np.sin(2 * np.pi * 440 * t), 2.0 * np.sin(2 * np.pi * 440 * t)
    players, gain_db = true_level_players([quiet, loud], 8000)
    assert gain_db == pytest.approx(20 * np.log10(0.99 / 2.0), abs=0.01)
    peaks = [np.abs(sf.read(io.BytesIO(p.data))[0]).max() for p in players]
    assert peaks[1] == pytest.approx(0.99, abs=1e-3)
    assert peaks[1] / peaks[0] == pytest.approx(40.0, rel=0.02)  # the 32 dB difference survives
    players, gain_db = true_level_players([quiet], 8000)
    assert gain_db == 0.0 and np.abs(sf.read(io.BytesIO(players[0].data))[0]).max() == pytest.approx(0.05, abs=1e-3)
    with pytest.raises(ValueError, match="non-finite"):
        true_level_players([np.array([0.0, np.nan])], 8000)


def test_show_sounds_draws_one_spectrogram_with_a_db_colour_bar_per_sound():
    import matplotlib

    matplotlib.use("Agg")
    from helpers.audio import STFTConfig, build_transform
    from helpers.display.audio import midi_name, show_sounds

    transform = build_transform(STFTConfig(sample_rate=8000, n_fft=256, hop_length=64))
    t = np.arange(4000) / 8000
    fig = show_sounds(transform, [("a", np.sin(2 * np.pi * 440 * t)), ("b", np.sin(2 * np.pi * 220 * t))],
                      fmin=40, players=False)
    plots = [ax for ax in fig.axes if ax.get_title()]
    bars = [ax for ax in fig.axes if ax.get_ylabel() == "dB"]
    assert [ax.get_title() for ax in plots] == ["a", "b"] and len(bars) == 2
    assert plots[0].get_ylim() == pytest.approx((40, 4000))
    assert midi_name(60) == "C4" and midi_name(69.4) == "A4" and midi_name(float("nan")) == "?"


def test_pitch_ranges_legend_sits_outside_the_bars():
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from helpers.display.audio import plot_pitch_ranges

    labels = pd.DataFrame({"split": ["train", "train", "test"], "instrument": ["A", "A", "B"], "pitch": [40, 60, 50]})
    ax = plot_pitch_ranges(labels)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A (train)", "B (test)"]
    assert [tuple(line.get_xdata()) for line in ax.lines] == [(40, 60), (50, 50)]
    assert ax.get_legend().get_bbox_to_anchor().x0 >= ax.get_window_extent().x1 - 1
