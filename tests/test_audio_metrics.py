"""Spectral distances: definitions, batching, silence and non-finite inputs."""

import math

import pytest
import torch

from helpers.audio.metrics import (log_spectral_distance, multi_resolution_stft_distance,
                                   spectral_convergence, stft_magnitude,
                                   stft_spectral_convergence)
from helpers.audio.synthetic import harmonic_note, noise, sine


def test_spectral_convergence_definition_and_batching():
    s = torch.rand(3, 10, 8) + 0.1
    est = s.clone()
    est[1] *= 1.5
    sc = spectral_convergence(s, est)
    assert sc.shape == (3,)
    assert sc[0] == 0 and sc[2] == 0
    assert sc[1] == pytest.approx(0.5, rel=1e-6)
    # complex inputs are compared by magnitude: a phase change costs nothing
    assert spectral_convergence(s * 1j, s).abs().max() < 1e-7


def test_spectral_convergence_silence_rule():
    zero = torch.zeros(2, 4, 5)
    assert torch.equal(spectral_convergence(zero, zero), torch.zeros(2))
    loud = torch.ones(2, 4, 5)
    assert torch.isinf(spectral_convergence(zero, loud)).all()
    assert torch.equal(spectral_convergence(loud, zero), torch.ones(2))


def test_non_finite_and_shape_errors_name_the_argument():
    a = torch.ones(4, 5)
    with pytest.raises(ValueError, match="estimate"):
        spectral_convergence(a, a * float("nan"))
    with pytest.raises(ValueError, match="reference"):
        log_spectral_distance(a * float("inf"), a)
    with pytest.raises(ValueError, match="shape"):
        spectral_convergence(a, torch.ones(4, 6))
    with pytest.raises(ValueError, match="shorter than one frame"):
        stft_magnitude(torch.zeros(100), n_fft=256)


def test_log_spectral_distance_in_db():
    s = torch.rand(2, 16, 9) + 0.5
    assert torch.allclose(log_spectral_distance(s, s), torch.zeros(2))
    assert log_spectral_distance(s, s * 10).sub(20).abs().max() < 1e-3  # x10 amplitude = 20 dB
    zero = torch.zeros(1, 4, 4)
    assert log_spectral_distance(zero, zero) == 0  # silence: finite, thanks to the floor


def test_stft_domain_and_multi_resolution_distances():
    x = torch.stack([harmonic_note(220.0, 8192, 22050), sine(440.0, 8192)])
    assert torch.allclose(stft_spectral_convergence(x, x), torch.zeros(2))
    assert torch.allclose(multi_resolution_stft_distance(x, x), torch.zeros(2), atol=1e-6)
    # a sign flip or a small delay is nearly invisible to magnitudes; noise is not
    assert stft_spectral_convergence(x, -x).max() < 1e-5
    other = torch.stack([noise(8192, 0.3), noise(8192, 0.3, seed=1)])
    far = multi_resolution_stft_distance(x, other)
    near = multi_resolution_stft_distance(x, x + 1e-3 * other)
    assert (near < far).all() and math.isfinite(float(far.max()))
    assert multi_resolution_stft_distance(x, other, resolutions=((512, 128),)).shape == (2,)
