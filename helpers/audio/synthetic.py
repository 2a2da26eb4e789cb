"""Synthetic test signals: sines, chirps, harmonic notes with decaying envelopes, noise.

Used by the tests (no data needed), by the transform benchmark when the rendered notes are
absent, and by the notebooks to show what a transform does to a known signal.
"""

from __future__ import annotations

import numpy as np
import torch


def _time(n_samples: int, sample_rate: int) -> np.ndarray:
    return np.arange(n_samples) / sample_rate


def sine(freq: float, n_samples: int = 22050, sample_rate: int = 22050,
         amplitude: float = 0.5, phase: float = 0.0) -> torch.Tensor:
    """``amplitude * sin(2 pi freq t + phase)`` as float32."""
    t = _time(n_samples, sample_rate)
    return torch.tensor(amplitude * np.sin(2 * np.pi * freq * t + phase), dtype=torch.float32)


def chirp(f0: float, f1: float, n_samples: int = 22050, sample_rate: int = 22050,
          amplitude: float = 0.5) -> torch.Tensor:
    """Exponential sweep from ``f0`` to ``f1`` Hz over the signal."""
    t = _time(n_samples, sample_rate)
    duration = n_samples / sample_rate
    k = np.log(f1 / f0) / duration
    return torch.tensor(amplitude * np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k),
                        dtype=torch.float32)


def harmonic_note(f0: float, n_samples: int = 22050, sample_rate: int = 22050,
                  n_harmonics: int = 20, decay: float = 3.0, attack: float = 0.02,
                  release: float = 0.05, brightness: float = 1.0, seed: int = 0) -> torch.Tensor:
    """A pitched note: harmonics ``h f0`` (below 0.45 fs) with amplitudes ``h^-brightness``,
    random phases, each decaying as ``exp(-decay sqrt(h) t)``, a linear attack and release,
    peak normalised to 0.8."""
    rng = np.random.default_rng(seed)
    t = _time(n_samples, sample_rate)
    x = np.zeros(n_samples)
    for h in range(1, n_harmonics + 1):
        if h * f0 >= 0.45 * sample_rate:
            break
        x += h ** -brightness * np.sin(2 * np.pi * h * f0 * t + rng.uniform(0, 2 * np.pi)) \
            * np.exp(-decay * np.sqrt(h) * t)
    duration = n_samples / sample_rate
    envelope = np.minimum(1.0, t / max(attack, 1e-6)) * np.clip((duration - t) / max(release, 1e-6), 0, 1)
    x *= envelope
    top = np.abs(x).max()
    return torch.tensor(0.8 * x / top if top > 0 else x, dtype=torch.float32)


def harmonic_notes(n: int, n_samples: int = 22050, sample_rate: int = 22050,
                   midi_range: tuple[float, float] = (36, 84), seed: int = 0) -> torch.Tensor:
    """``(n, n_samples)`` harmonic notes with random pitches, decays and brightness."""
    rng = np.random.default_rng(seed)
    notes = []
    for i in range(n):
        midi = rng.uniform(*midi_range)
        notes.append(harmonic_note(440 * 2 ** ((midi - 69) / 12), n_samples, sample_rate,
                                   decay=rng.uniform(1, 6), attack=rng.uniform(0.005, 0.08),
                                   brightness=rng.uniform(0.7, 1.5), seed=seed * 1000 + i))
    return torch.stack(notes)


def noise(n_samples: int = 22050, amplitude: float = 0.1, seed: int = 0) -> torch.Tensor:
    """White Gaussian noise, standard deviation ``amplitude``."""
    rng = np.random.default_rng(seed)
    return torch.tensor(amplitude * rng.standard_normal(n_samples), dtype=torch.float32)
