"""Distances between spectrograms and between sounds, batched over leading dimensions.

- :func:`spectral_convergence` ``||S - S'||_F / ||S||_F`` (Sturmel & Daudet 2011), the usual
  measure of phase reconstruction: ``S`` the target magnitude, ``S'`` the magnitude of the
  reconstruction analysed again.
- :func:`log_spectral_distance` the RMS over frequency of the dB difference, averaged over
  frames (Gray & Markel 1976), in dB.
- :func:`multi_resolution_stft_distance` spectral convergence plus mean absolute log-magnitude
  difference, averaged over several STFT resolutions (Yamamoto et al. 2020, Parallel WaveGAN,
  eq. 4-6): a distance between two sounds of any origin, not tied to one transform.
- :func:`stft_spectral_convergence` the spectral convergence of two waveforms in one common
  STFT domain, used to judge every reconstruction (STFT or NSGT) on the same footing.

Silence: where the reference has zero energy the spectral convergence is documented as 0 when
the estimate is silent too and ``inf`` otherwise (never NaN). Non-finite inputs raise
``ValueError`` naming the argument.
"""

from __future__ import annotations

from typing import Sequence

import torch


def _check(name: str, x: torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.is_floating_point() or x.is_complex():
        if not torch.isfinite(x).all():
            raise ValueError(f"{name} contains non-finite values (NaN or Inf)")
    return x


def _pair(reference, estimate) -> tuple[torch.Tensor, torch.Tensor]:
    reference, estimate = _check("reference", reference), _check("estimate", estimate)
    if reference.shape != estimate.shape:
        raise ValueError(f"reference and estimate differ in shape: {tuple(reference.shape)} "
                         f"vs {tuple(estimate.shape)}")
    if reference.is_complex():
        reference = reference.abs()
    if estimate.is_complex():
        estimate = estimate.abs()
    return reference.double(), estimate.double()


def spectral_convergence(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """``||S - S'||_F / ||S||_F`` over the last two dims (frequency x time) -> leading shape.

    Complex inputs are taken by magnitude. A silent reference gives 0 if the estimate is silent
    too, else ``inf``. Returned as float32.
    """
    ref, est = _pair(reference, estimate)
    num = torch.linalg.vector_norm(ref - est, dim=(-2, -1))
    den = torch.linalg.vector_norm(ref, dim=(-2, -1))
    sc = torch.where(den > 0, num / den.clamp_min(torch.finfo(den.dtype).tiny),
                     torch.where(num > 0, torch.full_like(num, float("inf")), torch.zeros_like(num)))
    return sc.float()


def log_spectral_distance(reference: torch.Tensor, estimate: torch.Tensor,
                          power_floor: float = 1e-10) -> torch.Tensor:
    """Log-spectral distance in dB: ``mean_t sqrt(mean_f (10 log10 (P + floor) / (P' + floor))^2)``.

    ``P = |S|^2``; ``power_floor`` keeps silent bins finite (two silent inputs give 0).
    """
    ref, est = _pair(reference, estimate)
    if not power_floor > 0:
        raise ValueError(f"power_floor must be > 0, got {power_floor}")
    diff = 10 * (torch.log10(ref ** 2 + power_floor) - torch.log10(est ** 2 + power_floor))
    return diff.pow(2).mean(dim=-2).sqrt().mean(dim=-1).float()


def stft_magnitude(wave: torch.Tensor, n_fft: int = 1024, hop_length: int = 256) -> torch.Tensor:
    """``|STFT|`` with a Hann window, centred frames: ``(..., n)`` -> ``(..., n_fft//2+1, frames)``."""
    wave = _check("wave", torch.as_tensor(wave))
    if wave.shape[-1] < n_fft:
        raise ValueError(f"signal of {wave.shape[-1]} samples is shorter than one frame (n_fft={n_fft})")
    lead = wave.shape[:-1]
    flat = wave.reshape(-1, wave.shape[-1])
    if not flat.is_floating_point():
        flat = flat.float()
    window = torch.hann_window(n_fft, dtype=flat.dtype, device=flat.device)
    spec = torch.stft(flat, n_fft, hop_length, window=window, center=True, pad_mode="reflect",
                      return_complex=True).abs()
    return spec.reshape(lead + spec.shape[-2:])


def stft_spectral_convergence(reference_wave: torch.Tensor, estimate_wave: torch.Tensor,
                              n_fft: int = 1024, hop_length: int = 256) -> torch.Tensor:
    """Spectral convergence of two waveforms in a common STFT domain (default 1024 / 256)."""
    ref, est = _check("reference_wave", reference_wave), _check("estimate_wave", estimate_wave)
    if ref.shape != est.shape:
        raise ValueError(f"reference_wave and estimate_wave differ in shape: {tuple(ref.shape)} "
                         f"vs {tuple(est.shape)}")
    return spectral_convergence(stft_magnitude(ref, n_fft, hop_length),
                                stft_magnitude(est, n_fft, hop_length))


DEFAULT_RESOLUTIONS: tuple[tuple[int, int], ...] = ((512, 128), (1024, 256), (2048, 512))


def multi_resolution_stft_distance(reference_wave: torch.Tensor, estimate_wave: torch.Tensor,
                                   resolutions: Sequence[tuple[int, int]] = DEFAULT_RESOLUTIONS,
                                   eps: float = 1e-7) -> torch.Tensor:
    """Mean over ``(n_fft, hop)`` resolutions of spectral convergence + mean |log S - log S'|.

    ``eps`` is added to magnitudes inside the log. Signals must be at least as long as the
    largest ``n_fft``. Inherits the silence rule of :func:`spectral_convergence`.
    """
    ref, est = _check("reference_wave", reference_wave), _check("estimate_wave", estimate_wave)
    if ref.shape != est.shape:
        raise ValueError(f"reference_wave and estimate_wave differ in shape: {tuple(ref.shape)} "
                         f"vs {tuple(est.shape)}")
    if not resolutions:
        raise ValueError("resolutions must name at least one (n_fft, hop_length) pair")
    total = 0.0
    for n_fft, hop in resolutions:
        s_ref, s_est = stft_magnitude(ref, n_fft, hop), stft_magnitude(est, n_fft, hop)
        log_term = (torch.log(s_ref.double() + eps) - torch.log(s_est.double() + eps)).abs()
        total = total + spectral_convergence(s_ref, s_est).double() + log_term.mean(dim=(-2, -1))
    return (total / len(resolutions)).float()
