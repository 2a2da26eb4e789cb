"""Exact inversion and phase reconstruction measured for notebook 02."""

import numpy as np
import pytest
import torch

from helpers.audio import STFTConfig, build_transform
from helpers.evaluation.phase import (convergence_by_segment, inversion_errors, peak_dbfs, phase_reconstruction,
                                      stft_bin_spacing)

SR = 8000


def _notes():
    t = torch.arange(4000) / SR
    return torch.stack([0.5 * torch.sin(2 * torch.pi * 220 * t), 0.3 * torch.sin(2 * torch.pi * 440 * t)])


def test_bin_spacing():
    assert stft_bin_spacing(22050, 1024) == pytest.approx(21.533, abs=1e-3)
    assert stft_bin_spacing(22050, 2048) == pytest.approx(10.767, abs=1e-3)
    with pytest.raises(ValueError):
        stft_bin_spacing(0, 1024)


def test_inversion_and_reconstruction_tables():
    stft = build_transform(STFTConfig(sample_rate=SR, n_fft=256, hop_length=64))
    waves = _notes()
    errors = inversion_errors({"STFT": stft}, waves)
    assert errors.loc["STFT"].iloc[0] < 1e-5
    table, audio = phase_reconstruction({"STFT": stft}, waves, [1, 16], n_fft=256, hop_length=64)
    assert list(table.iterations) == [1, 16] and audio["STFT", 16].shape == waves.shape
    own = table.set_index("iterations")["SC, own domain"]
    assert own[16] < own[1]  # more iterations fit the magnitudes better


def test_convergence_by_segment_and_peak_level():
    waves = _notes()
    same = convergence_by_segment(waves, waves, SR, attack_s=0.05, n_fft=256, hop_length=64)
    assert same == {"attack": 0.0, "rest": 0.0}
    late = waves.clone()
    late[:, 2000:] = 0  # only the second half is wrong
    part = convergence_by_segment(waves, late, SR, attack_s=0.05, n_fft=256, hop_length=64)
    assert part["attack"] == 0.0 and part["rest"] > 0.3
    with pytest.raises(ValueError, match="attack_s"):
        convergence_by_segment(waves, waves, SR, attack_s=10.0, n_fft=256, hop_length=64)
    assert peak_dbfs(waves[0]) == pytest.approx(20 * np.log10(0.5), abs=0.01)
    assert peak_dbfs(torch.zeros(10)) == -np.inf
