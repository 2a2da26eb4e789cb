"""Spectra of a note set in the layout the audio models see.

- :func:`iter_spectra` reads the magnitudes of a list of files through the spectra cache
  (:func:`helpers.audio.cache.cached_spectra`) in chunks, so that a large set (the NSGT of two
  thousand notes is a gigabyte) never sits in memory at full resolution.
- :func:`to_model_space` / :func:`from_model_space`: magnitude ``[N, F, T]`` -> scaled
  (the transform's fitted compression and normalisation) and pooled over time ``[N, F, T']``,
  and back (linear interpolation over time in the scaled domain, then unscaling).
- :func:`frames` / :func:`notes`: the two layouts of the audio VAEs, one spectrum frame
  ``[N * T', F]`` per example (frame model) or one whole note ``[N, 1, F, T']`` (note model).
"""

from __future__ import annotations

import math
import os
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F

from helpers.audio.cache import cached_spectra
from helpers.audio.transform import AudioTransform


def iter_spectra(paths: Sequence[str | os.PathLike], transform: AudioTransform, chunk: int = 128,
                 cache_dir: str | os.PathLike | None = None, n_samples: int | None = None,
                 progress: bool = False) -> Iterator[torch.Tensor]:
    """Magnitudes ``[n, F, T]`` of ``paths``, ``chunk`` files at a time, in order (each file is
    analysed once per transform, then read from the cache)."""
    paths = list(paths)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    for start in range(0, len(paths), chunk):
        yield cached_spectra(paths[start:start + chunk], transform, cache_dir=cache_dir,
                             n_samples=n_samples, progress=progress).magnitude


def load_spectra(paths: Sequence[str | os.PathLike], transform: AudioTransform,
                 reduce: Callable[[torch.Tensor], torch.Tensor] | None = None, **kwargs) -> torch.Tensor:
    """All chunks of :func:`iter_spectra`, each passed through ``reduce`` first, concatenated."""
    parts = [reduce(m) if reduce is not None else m for m in iter_spectra(paths, transform, **kwargs)]
    return torch.cat(parts)


def pool_time(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Mean over blocks of ``factor`` frames: ``[..., F, T] -> [..., F, ceil(T / factor)]``
    (the last block averages the frames it has)."""
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    if factor == 1:
        return x
    lead, (n_freq, n_time) = x.shape[:-2], x.shape[-2:]
    flat = x.reshape(-1, n_freq, n_time)
    out = F.avg_pool1d(flat, factor, factor, ceil_mode=True)
    return out.reshape(*lead, n_freq, out.shape[-1])


def unpool_time(x: torch.Tensor, n_frames: int) -> torch.Tensor:
    """Linear interpolation over time to ``n_frames`` frames (inverse of :func:`pool_time` up to
    the detail the pooling removed); the identity when the length already matches."""
    if x.shape[-1] == n_frames:
        return x
    lead, (n_freq, n_time) = x.shape[:-2], x.shape[-2:]
    out = F.interpolate(x.reshape(-1, n_freq, n_time), size=int(n_frames), mode="linear",
                        align_corners=False)
    return out.reshape(*lead, n_freq, int(n_frames))


def to_model_space(transform: AudioTransform, magnitude: torch.Tensor, time_pool: int = 1) -> torch.Tensor:
    """Magnitude ``[..., F, T]`` -> scaled and time-pooled ``[..., F, ceil(T / time_pool)]``."""
    return pool_time(transform.scale(magnitude), time_pool)


def from_model_space(transform: AudioTransform, x: torch.Tensor, n_frames: int | None = None) -> torch.Tensor:
    """Model space ``[..., F, T']`` -> magnitude ``[..., F, n_frames]`` (default ``T'``)."""
    x = unpool_time(x, x.shape[-1] if n_frames is None else n_frames)
    return transform.unscale(x)


def frames(x: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """``[N, F, T]`` -> ``[N * ceil(T / stride), F]``: every ``stride``-th frame of every note, note
    by note (the examples of the frame model)."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    return x[..., ::stride].transpose(-1, -2).reshape(-1, x.shape[-2])


def notes(x: torch.Tensor) -> torch.Tensor:
    """``[N, F, T]`` -> ``[N, 1, F, T]`` (the examples of the note model)."""
    return x.unsqueeze(-3)


def pooled_frames(n_frames: int, time_pool: int) -> int:
    """Number of frames after :func:`pool_time` by ``time_pool``."""
    return math.ceil(n_frames / time_pool)
