"""A tiny SOL-style note set of synthetic tones, written in seconds: for tests and quick trials.

Same layout and names as the rendered set (``<split>/<Family>/<Instrument>/ordinario/
<Abbr>-ord-<Pitch>-<dyn>-N.wav``), so every reader, split and model runs on it unchanged.
Each "instrument" is a harmonic spectrum of its own (brightness, odd/even balance, decay),
each dynamics a level.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

#: name -> (family, abbreviation, brightness, even-harmonic gain, decay per second)
TOY_INSTRUMENTS = {
    "Violin": ("Strings", "Vn", 0.8, 1.0, 0.5),
    "Flute": ("Winds", "Fl", 2.5, 0.3, 0.3),
    "Clarinet_Bb": ("Winds", "ClBb", 1.2, 0.05, 0.3),
    "Horn": ("Brass", "Hn", 1.8, 1.0, 1.0),
    "Harp": ("PluckedStrings", "Hp", 1.5, 1.0, 4.0),
}
LEVELS = {"pp": 0.1, "mf": 0.3, "ff": 0.8}
_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def toy_note(instrument: str, pitch: int, dynamics: str = "mf", sample_rate: int = 8000,
             n_samples: int = 4000) -> np.ndarray:
    """One synthetic note ``(n_samples,)`` float32 of a :data:`TOY_INSTRUMENTS` entry at MIDI ``pitch``."""
    _, _, brightness, even, decay = TOY_INSTRUMENTS[instrument]
    t = np.arange(n_samples) / sample_rate
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    x = np.zeros(n_samples)
    for h in range(1, 40):
        if h * f0 >= 0.45 * sample_rate:
            break
        x += (even if h % 2 == 0 else 1.0) * h ** -brightness * np.sin(2 * np.pi * h * f0 * t)
    envelope = np.exp(-decay * t) * np.minimum(1.0, t / 0.01) * np.minimum(1.0, (t[-1] - t) / 0.05 + 1e-3)
    x *= envelope
    return (LEVELS[dynamics] * x / max(np.abs(x).max(), 1e-9)).astype(np.float32)


def write_toy_note_set(root: str | os.PathLike, sample_rate: int = 8000, n_samples: int = 4000,
                       train: tuple[str, ...] = ("Violin", "Flute", "Clarinet_Bb", "Horn"),
                       unseen: tuple[str, ...] = ("Harp",), pitches: tuple[int, ...] = (57, 60, 64, 67, 72),
                       dynamics: tuple[str, ...] = ("pp", "ff")) -> Path:
    """Write the toy set under ``root`` (``train/`` and, for the unseen instruments, ``test/``)."""
    root = Path(root)
    for split, names in (("train", train), ("test", unseen)):
        for name in names:
            family, abbr = TOY_INSTRUMENTS[name][:2]
            folder = root / split / family / name / "ordinario"
            folder.mkdir(parents=True, exist_ok=True)
            for pitch in pitches:
                for dyn in dynamics:
                    note = f"{_NAMES[pitch % 12]}{pitch // 12 - 1}"
                    sf.write(folder / f"{abbr}-ord-{note}-{dyn}-N.wav",
                             toy_note(name, pitch, dyn, sample_rate, n_samples), sample_rate, subtype="PCM_16")
    return root
