"""Phase reconstruction: equals torchaudio's Griffin-Lim, improves with iterations for both
transforms, and the phase-vocoder start helps."""

import pytest
import torch
import torchaudio

from helpers.audio import build_transform
from helpers.audio.griffinlim import griffin_lim, peak_frequencies, phase_from_frequency
from helpers.audio.metrics import spectral_convergence, stft_spectral_convergence
from helpers.audio.synthetic import harmonic_notes

SMALL = {
    "stft": {"kind": "stft", "sample_rate": 8000, "n_fft": 256, "hop_length": 64},
    "nsgt": {"kind": "nsgt", "sample_rate": 8000, "n_samples": 4000, "fmin": 60.0,
             "fmax": 3000.0, "bins_per_octave": 12},
}


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Griffin-Lim runs many small ops; on cores shared with other work two threads wait on
    each other far longer than the ops take, so these tests use one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def notes():
    return harmonic_notes(2, n_samples=4000, sample_rate=8000, midi_range=(45, 75))


def test_zero_init_equals_torchaudio_griffinlim(notes):
    t = build_transform(SMALL["stft"])
    mag = t.analyze(notes)
    ours = t.synthesize(mag, n_iter=16, init="zeros", momentum=0.99, length=4000)
    ref = torchaudio.transforms.GriffinLim(n_fft=256, n_iter=16, hop_length=64, power=1.0,
                                           momentum=0.99, length=4000, rand_init=False)(mag)
    assert torch.allclose(ours, ref, atol=1e-4)


@pytest.mark.parametrize("kind", sorted(SMALL))
def test_more_iterations_improve_spectral_convergence(kind, notes):
    t = build_transform(SMALL[kind])
    mag = t.analyze(notes)
    history = []
    t.synthesize(mag, n_iter=40, history=history, length=4000)
    sc = torch.stack(history).mean(dim=1)
    assert sc[-1] < 0.5 * sc[0]
    assert sc[39] < sc[9]
    few = spectral_convergence(mag, t.analyze(t.synthesize(mag, n_iter=4, length=4000))).mean()
    many = spectral_convergence(mag, t.analyze(t.synthesize(mag, n_iter=40, length=4000))).mean()
    assert many < few


@pytest.mark.parametrize("kind", sorted(SMALL))
def test_phase_vocoder_start_beats_zero_phase_in_a_common_stft_domain(kind, notes):
    t = build_transform(SMALL[kind])
    mag = t.analyze(notes)
    judged = {init: stft_spectral_convergence(notes, t.synthesize(mag, n_iter=16, init=init,
                                                                  length=4000),
                                              n_fft=256, hop_length=64).mean()
              for init in ("zeros", "peaks")}
    assert judged["peaks"] < judged["zeros"]


def test_peak_frequencies_find_a_sine_between_bins():
    n_fft, sr = 512, 8000
    f = 1000.0 + 0.37 * sr / n_fft
    x = torch.sin(2 * torch.pi * f * torch.arange(4000) / sr)
    mag = torch.stft(x, n_fft, 128, window=torch.hann_window(n_fft), return_complex=True).abs()
    est = peak_frequencies(mag, torch.arange(n_fft // 2 + 1) * sr / n_fft)
    peak_bin = int(round(f * n_fft / sr))
    assert abs(float(est[peak_bin, 10]) - f) < 0.1 * sr / n_fft
    assert abs(float(est[peak_bin + 3, 10]) - f) < 0.1 * sr / n_fft  # bins take their peak's value


def test_phase_from_frequency_integrates():
    phase = phase_from_frequency(torch.full((1, 4), 0.125), hop=2)  # a quarter turn per frame
    expected = torch.polar(torch.ones(4), torch.tensor([0.0, 0.5, 1.0, 1.5]) * torch.pi)
    assert torch.allclose(phase[0], expected, atol=1e-6)


def test_griffin_lim_argument_checks():
    mag = torch.ones(3, 4)
    ident = lambda c: c  # noqa: E731
    with pytest.raises(ValueError, match="momentum"):
        griffin_lim(mag, ident, ident, momentum=1.0)
    with pytest.raises(ValueError, match="n_iter"):
        griffin_lim(mag, ident, ident, n_iter=-1)
    with pytest.raises(ValueError, match="non-finite"):
        griffin_lim(mag * float("nan"), ident, ident)
