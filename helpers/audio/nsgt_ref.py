"""The reference NSGT: the ``nsgt`` package (Holighaus et al. 2013, "A framework for invertible,
real-time constant-Q transforms"), constant-Q scale, real signals, matrix form.

:func:`package_frame` builds the package's ``CQ_NSGT`` (through :mod:`helpers.compat`, which
makes its constructor work on current numpy). :class:`NSGTReference` loops it over a batch
and returns NumPy arrays of shape ``(batch, n_bins, n_frames)``; it is what the PyTorch
implementation in :mod:`helpers.audio.nsgt_torch` is tested and timed against, and where that
implementation takes its windows, dual windows and frame layout from.

Bins: ``n_bins = len(scale) + 2`` -- a DC band, the constant-Q bands from ``fmin`` to ``fmax``
and a Nyquist band. Frames: ``n_frames = M``, the length of the widest band's window (matrix
form gives every band that many coefficients).
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np

from helpers.compat import nsgt_module


def _nsgt():
    with warnings.catch_warnings():
        # "nsgt.fft falling back to numpy.fft": the package's FFT is numpy's, as intended here.
        warnings.simplefilter("ignore")
        return nsgt_module()


def check_nsgt_params(fmin: float, fmax: float, bins_per_octave: int, sample_rate: int,
                      n_samples: int) -> None:
    """Raise ``ValueError`` naming the parameter when a constant-Q NSGT cannot be built."""
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
    if not 0 < fmin < fmax:
        raise ValueError(f"need 0 < fmin < fmax, got fmin={fmin}, fmax={fmax}")
    if not fmax < sample_rate / 2:
        raise ValueError(f"fmax={fmax} must be below the Nyquist frequency {sample_rate / 2} "
                         "(keep it clearly below: a top band at Nyquist makes the frame "
                         "near-singular, see helpers.audio.nsgt_torch.frame_condition)")
    if int(bins_per_octave) != bins_per_octave or bins_per_octave < 1:
        raise ValueError(f"bins_per_octave must be a positive integer, got {bins_per_octave}")
    min_samples = min_signal_length(fmin, sample_rate)
    if n_samples < min_samples:
        raise ValueError(f"n_samples={n_samples} is shorter than one period of fmin={fmin} Hz "
                         f"({min_samples} samples at {sample_rate} Hz): the lowest band has no frame")


def min_signal_length(fmin: float, sample_rate: int) -> int:
    """Shortest signal the NSGT accepts: one period of the lowest analysed frequency."""
    return int(math.ceil(sample_rate / fmin))


@lru_cache(maxsize=32)
def package_frame(fmin: float, fmax: float, bins_per_octave: int, sample_rate: int,
                  n_samples: int):
    """The package's ``CQ_NSGT(real=True, matrixform=True)`` for signals of ``n_samples``.

    Cached (building one costs a few milliseconds); treat the returned object as read-only.
    """
    check_nsgt_params(fmin, fmax, bins_per_octave, sample_rate, n_samples)
    nsgt = _nsgt()
    with warnings.catch_warnings():
        # "Q-factor too high for frequencies ...": the low bands are narrower than one FFT bin
        # of a short signal. The transform stays exact; the warning repeats for every build.
        warnings.simplefilter("ignore")
        frame = nsgt.CQ_NSGT(float(fmin), float(fmax), int(bins_per_octave), int(sample_rate),
                             int(n_samples), real=True, matrixform=True)
    if frame.nn != n_samples:
        raise RuntimeError(f"unexpected NSGT layout: nn={frame.nn} != n_samples={n_samples}")
    return frame


def band_frequencies(fmin: float, fmax: float, bins_per_octave: int, sample_rate: int) -> np.ndarray:
    """Centre frequency (Hz) of every output bin: 0 (DC band), the constant-Q bands, Nyquist."""
    _nsgt()
    from nsgt.fscale import OctScale

    f, _ = OctScale(float(fmin), float(fmax), int(bins_per_octave))()
    nyquist = sample_rate / 2
    f = f[(f > 0) & (f < nyquist)]
    return np.concatenate(([0.0], f, [nyquist]))


class NSGTReference:
    """The ``nsgt`` package's constant-Q NSGT applied to a batch (float64, NumPy, one by one)."""

    def __init__(self, fmin: float, fmax: float, bins_per_octave: int, sample_rate: int,
                 n_samples: int):
        self.frame = package_frame(fmin, fmax, bins_per_octave, sample_rate, n_samples)
        self.n_samples = int(n_samples)
        self.n_bins = len(self.frame.g) // 2 + 1
        self.n_frames = int(self.frame.M[0])

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``(..., n_samples)`` real -> ``(..., n_bins, n_frames)`` complex128."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != self.n_samples:
            raise ValueError(f"expected signals of {self.n_samples} samples, got {x.shape[-1]}")
        flat = x.reshape(-1, self.n_samples)
        out = np.stack([np.asarray(self.frame.forward(s)) for s in flat])
        return out.reshape(x.shape[:-1] + out.shape[1:])

    def backward(self, c: np.ndarray) -> np.ndarray:
        """``(..., n_bins, n_frames)`` complex -> ``(..., n_samples)`` float64."""
        c = np.asarray(c, dtype=np.complex128)
        flat = c.reshape((-1,) + c.shape[-2:])
        out = np.stack([np.asarray(self.frame.backward(list(ci))) for ci in flat])
        return out.reshape(c.shape[:-2] + (self.n_samples,))
