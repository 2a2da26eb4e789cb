"""Phase reconstruction from a magnitude by alternating projections, for any frame.

:func:`griffin_lim` is the fast Griffin-Lim algorithm (Griffin & Lim 1984; Perraudin, Balazs &
Sondergaard 2013, "A fast Griffin-Lim algorithm", Alg. 2): alternate between the set of
coefficients with the target magnitude and the set of consistent coefficients (those of some
signal, reached by ``analysis(synthesis(c))``), with an extrapolation step ``momentum``.
It is written once for any pair ``analysis`` / ``synthesis`` (STFT, NSGT...); with the STFT and
a zero initial phase it gives exactly ``torchaudio.functional.griffinlim``.

:func:`phase_from_frequency` builds an initial phase by integrating an instantaneous-frequency
estimate along time (phase vocoder; Flanagan & Golden 1966), used to start the iterations
closer to a good solution than zero or random phases.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

Analysis = Callable[[torch.Tensor], torch.Tensor]
Synthesis = Callable[[torch.Tensor], torch.Tensor]


def unit_phase(c: torch.Tensor) -> torch.Tensor:
    """``c / |c|``, with 0 where ``c == 0`` (never NaN)."""
    return torch.sgn(c)


def griffin_lim(magnitude: torch.Tensor, analysis: Analysis, synthesis: Synthesis,
                n_iter: int = 128, momentum: float = 0.99,
                init_phase: torch.Tensor | None = None,
                history: list | None = None) -> torch.Tensor:
    """Fast Griffin-Lim: a signal whose ``|analysis(x)|`` approximates ``magnitude``.

    Args:
        magnitude: ``(..., freq, time)`` target magnitude (real, >= 0).
        analysis: signal ``(..., n)`` -> complex coefficients of ``magnitude``'s shape.
        synthesis: coefficients -> signal (the canonical dual, so that
            ``analysis(synthesis(c))`` is the projection onto consistent coefficients).
        n_iter: number of projection pairs; 0 returns ``synthesis(magnitude * init_phase)``.
        momentum: extrapolation ``alpha`` of Perraudin et al. (0 = plain Griffin-Lim; 0.99 is
            their recommendation); must be in ``[0, 1)``.
        init_phase: complex unit-modulus tensor broadcastable to ``magnitude``; default zero
            phase (all ones).
        history: if a list is given, the spectral convergence
            ``|| |analysis(x_i)| - magnitude || / ||magnitude||`` of every iterate is appended.
    """
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    if n_iter < 0:
        raise ValueError(f"n_iter must be >= 0, got {n_iter}")
    if magnitude.is_complex():
        raise ValueError("magnitude must be real (pass coefficients.abs())")
    if not torch.isfinite(magnitude).all():
        raise ValueError("magnitude contains non-finite values (NaN or Inf)")
    complex_dtype = torch.complex128 if magnitude.dtype == torch.float64 else torch.complex64
    if init_phase is None:
        angles = torch.ones(magnitude.shape, dtype=complex_dtype, device=magnitude.device)
    else:
        angles = unit_phase(init_phase.to(device=magnitude.device, dtype=complex_dtype))
    norm = torch.linalg.vector_norm(magnitude, dim=(-2, -1)).clamp_min(1e-30)
    alpha = momentum / (1 + momentum)  # same parametrisation as torchaudio
    previous = None
    for _ in range(n_iter):
        rebuilt = analysis(synthesis(magnitude * angles))
        if history is not None:
            err = torch.linalg.vector_norm(rebuilt.abs() - magnitude, dim=(-2, -1)) / norm
            history.append(err.detach().cpu())
        angles = rebuilt if previous is None or not alpha else rebuilt - alpha * previous
        angles = unit_phase(angles)
        previous = rebuilt
    return synthesis(magnitude * angles)


def peak_frequencies(magnitude: torch.Tensor, bin_frequencies: torch.Tensor,
                     floor_db: float = -100.0) -> torch.Tensor:
    """Instantaneous frequency of every coefficient: that of the nearest spectral peak.

    In every frame, local maxima of the magnitude along frequency (above ``floor_db`` relative to
    the frame's maximum) are located to a fraction of a bin by a parabola through the log
    magnitudes of the peak and its two neighbours (Smith & Serra 1987, quadratic interpolation);
    each bin takes the interpolated frequency of its nearest peak, bins of a frame without peaks
    their own centre. ``bin_frequencies``: ``(freq,)`` centre of every bin, any unit, increasing
    (linear for an STFT, geometric for a constant-Q transform). Returns ``(..., freq, time)``.
    """
    lead, (n_freq, n_time) = magnitude.shape[:-2], magnitude.shape[-2:]
    # work along the last (contiguous) axis: frames x frequencies
    log_mag = torch.log(magnitude.reshape(-1, n_freq, n_time).transpose(1, 2)
                        .clamp_min(torch.finfo(magnitude.dtype).tiny)).contiguous()
    freqs = torch.as_tensor(bin_frequencies, dtype=log_mag.dtype, device=log_mag.device)
    left = torch.cat((log_mag[..., :1], log_mag[..., :-1]), dim=-1)
    right = torch.cat((log_mag[..., 1:], log_mag[..., -1:]), dim=-1)
    floor = log_mag.amax(dim=-1, keepdim=True) + floor_db / 20 * math.log(10)
    is_peak = (log_mag > left) & (log_mag >= right) & (log_mag > floor)
    is_peak[..., 0] = False
    is_peak[..., -1] = False
    curvature = (left + right - 2 * log_mag).clamp_max(-1e-12)
    delta = (0.5 * (left - right) / curvature).clamp(-0.5, 0.5)
    step_up = torch.cat((freqs[1:] - freqs[:-1], freqs[-1:] - freqs[-2:-1]))
    step_down = torch.cat((freqs[1:2] - freqs[:1], freqs[1:] - freqs[:-1]))
    peak_freq = freqs + delta * torch.where(delta > 0, step_up, step_down)
    # index of the nearest peak along frequency (ties go to the lower one)
    index = torch.arange(n_freq, device=log_mag.device).expand_as(log_mag)
    below = torch.cummax(torch.where(is_peak, index, -2 * n_freq), dim=-1).values
    above = torch.where(is_peak, index, 3 * n_freq).flip(-1).cummin(dim=-1).values.flip(-1)
    nearest = torch.where(index - below <= above - index, below, above)
    found = (nearest >= 0) & (nearest < n_freq)
    estimate = torch.where(found, torch.gather(peak_freq, -1, nearest.clamp(0, n_freq - 1)),
                           freqs.expand_as(log_mag))
    return estimate.transpose(1, 2).reshape(lead + (n_freq, n_time))


def phase_from_frequency(frequency_offset: torch.Tensor, hop: float) -> torch.Tensor:
    """Unit phasors ``exp(i phi)`` with ``phi[t] = 2 pi sum_{s<t} f[s] * hop``.

    ``frequency_offset``: ``(..., freq, time)`` instantaneous frequency of every coefficient in
    cycles per sample *relative to the coefficient's own demodulation* (the absolute frequency
    for an STFT whose phase follows the signal, the offset from the band centre for a
    demodulated filter bank); ``hop`` samples between frames.
    """
    steps = 2 * torch.pi * frequency_offset * hop
    phi = torch.cumsum(steps, dim=-1) - steps
    return torch.polar(torch.ones_like(phi), phi)
