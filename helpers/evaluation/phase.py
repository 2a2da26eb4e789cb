"""What phase reconstruction costs, measured for notebook 02: the exact inverse of each transform,
Griffin-Lim from magnitudes at several iteration counts, and where in time a reconstruction
departs from the original, all judged by spectral convergence ||S - S^||_F / ||S||_F."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from helpers.audio.metrics import spectral_convergence, stft_magnitude, stft_spectral_convergence


def stft_bin_spacing(sample_rate: float, n_fft: int) -> float:
    """Distance between adjacent STFT bins in Hz: ``sample_rate / n_fft``."""
    if sample_rate <= 0 or n_fft < 1:
        raise ValueError(f"need sample_rate > 0 and n_fft >= 1, got {sample_rate}, {n_fft}")
    return float(sample_rate) / int(n_fft)


def inversion_errors(transforms: dict, waves: torch.Tensor) -> pd.DataFrame:
    """Largest relative error ``||x - inverse(forward(x))|| / ||x||`` over the waves, per transform."""
    rows = []
    for label, transform in transforms.items():
        back = transform.inverse_complex(transform.forward_complex(waves), waves.shape[-1])
        error = ((back - waves).norm(dim=-1) / waves.norm(dim=-1)).max().item()
        rows.append({"transform": label, "max relative error of the exact inverse": error})
    return pd.DataFrame(rows).set_index("transform")


def phase_reconstruction(transforms: dict, waves: torch.Tensor, n_iters, n_fft: int = 1024,
                         hop_length: int = 256) -> tuple[pd.DataFrame, dict]:
    """Rebuild ``waves`` from each transform's magnitudes with ``n_iter`` Griffin-Lim iterations.

    Returns ``(table, audio)``: one row per transform and iteration count with the mean spectral
    convergence in the transform's own domain and in the common STFT domain (``n_fft`` /
    ``hop_length``), and ``audio[label, n_iter]`` the rebuilt waves.
    """
    rows, audio = [], {}
    jobs = [(label, t, n) for label, t in transforms.items() for n in n_iters]
    for label, transform, n_iter in tqdm(jobs, desc="phase reconstruction", leave=False):
        magnitude = transform.analyze(waves)
        rebuilt = transform.synthesize(magnitude, n_iter=n_iter, length=waves.shape[-1])
        own = spectral_convergence(magnitude, transform.analyze(rebuilt))
        common = stft_spectral_convergence(waves, rebuilt, n_fft, hop_length)
        rows.append({"transform": label, "iterations": n_iter, "SC, own domain": own.mean().item(),
                     "SC, common STFT domain": common.mean().item()})
        audio[label, n_iter] = rebuilt
    return pd.DataFrame(rows), audio


def convergence_by_segment(reference: torch.Tensor, estimate: torch.Tensor, sample_rate: int,
                           attack_s: float = 0.05, n_fft: int = 1024, hop_length: int = 256) -> dict:
    """Spectral convergence in the common STFT domain over the frames of the attack (centres
    before ``attack_s``) and over the rest of the note, for one wave or the mean over a batch."""
    ref = stft_magnitude(torch.as_tensor(reference), n_fft, hop_length)
    est = stft_magnitude(torch.as_tensor(estimate), n_fft, hop_length)
    times = np.arange(ref.shape[-1]) * hop_length / sample_rate
    attack = torch.as_tensor(times < attack_s)
    if not attack.any() or attack.all():
        raise ValueError(f"attack_s={attack_s} leaves no frame on one side ({len(times)} frames)")
    out = {}
    for name, frames in (("attack", attack), ("rest", ~attack)):
        out[name] = float(spectral_convergence(ref[..., frames], est[..., frames]).mean())
    return out


def peak_dbfs(wave) -> float:
    """Peak level in dB relative to full scale (0 dBFS: a sample at +-1)."""
    peak = float(torch.as_tensor(wave).abs().max())
    return 20 * np.log10(peak) if peak > 0 else -np.inf
