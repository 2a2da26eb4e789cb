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
