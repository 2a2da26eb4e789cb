"""Spectra of a whole dataset, computed once and kept on disk.

:func:`cached_spectra` analyses a list of audio files with a transform and stores the magnitudes
as one tensor file, keyed by a hash of

- the transform's analysis parameters (``config.analysis_dict()``: a change of n_fft, hop,
  bins per octave... never reuses a stale cache; scaling and Griffin-Lim settings do not
  count, they do not change the magnitudes),
- the file list: resolved paths, sizes and modification times (a re-rendered file is a miss),
- the signal length the files are padded or trimmed to.

The file is written atomically (a temporary file in the same folder, then ``os.replace``) and
read back with ``torch.load(weights_only=True)``. Stale entries stay until
:func:`clear_cache` removes them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf
import torch

from helpers.audio.transform import AudioTransform

CACHE_FORMAT = 1


@dataclass
class CachedSpectra:
    """Result of :func:`cached_spectra`."""

    #: ``(n_files, freq, time)`` float32 magnitudes, in the order of the given paths
    magnitude: torch.Tensor
    #: the cache file
    path: Path
    #: True when read from disk, False when computed now
    hit: bool
    #: the key (hex) the file is named by
    key: str


def default_cache_dir() -> Path:
    """``<data root>/cache/spectra`` (see :func:`helpers.data.paths.data_root`)."""
    from helpers.data.paths import data_root

    return data_root() / "cache" / "spectra"


def file_fingerprints(paths: Sequence[str | os.PathLike]) -> list[list]:
    """``[resolved path, size, mtime_ns]`` of every file; ``FileNotFoundError`` names a missing one."""
    out = []
    for p in paths:
        p = Path(p).resolve()
        if not p.is_file():
            raise FileNotFoundError(f"audio file not found: {p}")
        st = p.stat()
        out.append([str(p), st.st_size, st.st_mtime_ns])
    return out


def spectra_key(transform: AudioTransform, paths: Sequence[str | os.PathLike],
                n_samples: int) -> str:
    """Hex SHA-256 (20 digits) of the analysis config, the file fingerprints and the length."""
    return _key(transform, file_fingerprints(paths), n_samples)


def _key(transform: AudioTransform, fingerprints: list[list], n_samples: int) -> str:
    blob = json.dumps({"format": CACHE_FORMAT, "transform": transform.config.analysis_dict(),
                       "files": fingerprints, "n_samples": int(n_samples)},
                      sort_keys=True, separators=(",", ":"), default=float)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def load_audio(path: str | os.PathLike, sample_rate: int, n_samples: int | None = None) -> np.ndarray:
    """Mono float32 samples of a sound file (channels averaged), zero-padded or trimmed to
    ``n_samples``. ``ValueError`` if its rate is not ``sample_rate`` or a sample is not finite."""
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    if sr != sample_rate:
        raise ValueError(f"{path}: sample rate {sr} Hz differs from the transform's "
                         f"sample_rate={sample_rate} (resample the data or change the config)")
    x = x.mean(axis=1)
    if not np.isfinite(x).all():
        raise ValueError(f"{path}: contains non-finite samples")
    if n_samples is not None:
        x = x[:n_samples] if len(x) >= n_samples else np.pad(x, (0, n_samples - len(x)))
    return x


def _signal_length(transform: AudioTransform, paths: Sequence, n_samples: int | None) -> int:
    if n_samples is not None:
        return int(n_samples)
    if "n_samples" in transform.config.analysis_fields:  # a transform built for one length
        return int(transform.config.n_samples)
    return int(sf.info(str(paths[0])).frames)


def cached_spectra(paths: Sequence[str | os.PathLike], transform: AudioTransform,
                   cache_dir: str | os.PathLike | None = None, n_samples: int | None = None,
                   batch_size: int = 32, device: str | torch.device = "cpu",
                   progress: bool = True) -> CachedSpectra:
    """Magnitudes of every file (``(n_files, freq, time)`` float32), from the cache or computed.

    ``n_samples``: length every file is padded/trimmed to (default: the transform's
    ``n_samples`` if its analysis depends on it (NSGT), else the first file's length).
    Analysis runs in batches of ``batch_size`` on ``device``; the stored tensor is on the CPU.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("paths is empty: nothing to analyse")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    fingerprints = file_fingerprints(paths)
    length = _signal_length(transform, paths, n_samples)
    key = _key(transform, fingerprints, length)
    target = cache_dir / f"spectra-{transform.config.kind}-{key}.pt"
    if target.is_file():
        stored = torch.load(target, weights_only=True)
        if stored.get("key") == key and stored.get("format") == CACHE_FORMAT:
            return CachedSpectra(stored["magnitude"], target, True, key)

    from tqdm.auto import tqdm

    chunks = []
    bar = tqdm(total=len(paths), desc=f"{transform.config.kind} spectra", unit="file",
               disable=not progress)
    for i in range(0, len(paths), batch_size):
        batch = [load_audio(p, transform.sample_rate, length) for p in paths[i:i + batch_size]]
        wave = torch.from_numpy(np.stack(batch)).to(device)
        with torch.no_grad():
            chunks.append(transform.analyze(wave).cpu())
        bar.update(len(batch))
    bar.close()
    magnitude = torch.cat(chunks)

    cache_dir.mkdir(parents=True, exist_ok=True)
    payload = {"format": CACHE_FORMAT, "key": key, "magnitude": magnitude,
               "config": json.dumps(transform.config.analysis_dict(), sort_keys=True),
               "paths": [str(p) for p in paths], "n_samples": length}
    fd, tmp = tempfile.mkstemp(prefix=".spectra-", suffix=".tmp", dir=cache_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return CachedSpectra(magnitude, target, False, key)


def clear_cache(cache_dir: str | os.PathLike | None = None, keep: Sequence[str] = ()) -> int:
    """Delete cached spectra files (except those whose key is in ``keep``); returns the count."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    removed = 0
    for f in cache_dir.glob("spectra-*.pt"):
        if not any(f.stem.endswith(k) for k in keep):
            f.unlink()
            removed += 1
    return removed
