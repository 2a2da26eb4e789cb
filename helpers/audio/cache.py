"""Spectra of a whole dataset, computed once and kept on disk, in a bounded cache.

:func:`cached_spectra` analyses a list of audio files with a transform and keeps the
magnitudes of every file once per transform:

- one store per transform identity and signal length: a folder
  ``<cache>/<kind>-<key>/`` whose key hashes the transform's analysis parameters
  (``config.analysis_dict()``: a change of n_fft, hop, bins per octave... never reuses a stale
  spectrum; scaling and Griffin-Lim settings do not count, they do not change the magnitudes),
  the length the notes are padded or trimmed to, and :data:`CACHE_FORMAT` (the storage and the
  waveform loader's version);
- in it one entry per audio file, named by its resolved path: the magnitudes as float16 scaled
  by a power of two (exact to float16's 11 bits over 170 dB below the note's peak), with the
  file's fingerprint (resolved path, size, modification time). A re-rendered file replaces its
  entry; subsets, parts and orders of a note set share the entries of their files, so the cache
  holds each (transform, file) once whatever was asked for.

Files are read through :func:`helpers.data.sol.load_waveform`, the one loader of the project
(any rate resampled, channels mixed to mono, WAV/AIFF/FLAC at any bit depth). Entries are
written atomically (a small JSON header, then the raw float16 values: no pickle). After new entries are
written, entries whose audio file is gone are removed, and when the whole cache exceeds
:func:`max_cache_bytes` the stores used least recently go first. ``make clean-cache``
(``python -m helpers.audio.cache clean``) removes it all.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf
import torch

from helpers.audio.transform import AudioTransform

#: storage version: 2 = one float16 entry per file, read through helpers.data.sol.load_waveform
CACHE_FORMAT = 2
CACHE_ENV = "NOVELTY_CACHE_DIR"
MAX_BYTES_ENV = "NOVELTY_CACHE_MAX_GB"
DEFAULT_MAX_GB = 4.0
META_FILE = "store.json"
PRUNED_MARKER = ".pruned"
ENTRY_SUFFIX = ".f16"
ENTRY_MAGIC = b"novelty-spectra-f16\n"
_F16_TOP = 14  # the largest magnitude of an entry is stored in [2^14, 2^15) (float16 max: 65504)


@dataclass
class CachedSpectra:
    """Result of :func:`cached_spectra`."""

    #: ``(n_files, freq, time)`` float32 magnitudes, in the order of the given paths
    magnitude: torch.Tensor
    #: the store folder (one per transform identity and signal length)
    path: Path
    #: True when every file was read from disk, False when any was computed now
    hit: bool
    #: hex key of this request (store key + file fingerprints)
    key: str
    #: how many files were analysed now
    n_computed: int = 0


def default_cache_dir() -> Path:
    """``$NOVELTY_CACHE_DIR/spectra`` if set, else ``<data root>/cache/spectra``
    (see :func:`helpers.data.paths.data_root`)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser() / "spectra"
    from helpers.data.paths import data_root

    return data_root() / "cache" / "spectra"


def max_cache_bytes() -> int:
    """Bound of the whole cache: ``$NOVELTY_CACHE_MAX_GB`` gigabytes (default 4)."""
    value = os.environ.get(MAX_BYTES_ENV, "")
    try:
        gb = float(value) if value else DEFAULT_MAX_GB
    except ValueError:
        raise ValueError(f"{MAX_BYTES_ENV}={value!r}: expected a number of gigabytes") from None
    return int(gb * 1e9)


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


def _hash(obj) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=float)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def store_key(transform: AudioTransform, n_samples: int) -> str:
    """Key of the store of a transform and signal length (with :data:`CACHE_FORMAT`)."""
    return _hash({"format": CACHE_FORMAT, "transform": transform.config.analysis_dict(), "n_samples": int(n_samples)})


def spectra_key(transform: AudioTransform, paths: Sequence[str | os.PathLike], n_samples: int) -> str:
    """Hex key (20 digits) of a request: the store key and the file fingerprints, in order."""
    return _hash({"store": store_key(transform, n_samples), "files": file_fingerprints(paths)})


def _entry_name(resolved: str) -> str:
    return hashlib.sha1(resolved.encode()).hexdigest()[:24] + ENTRY_SUFFIX


def _fingerprint_text(fp: list) -> str:
    return f"{fp[0]}|{fp[1]}|{fp[2]}"


def _encode(magnitude: torch.Tensor) -> tuple[np.ndarray, int]:
    """float16 array and power-of-two exponent e with ``magnitude ~= array * 2^e``."""
    peak = float(magnitude.abs().max())
    exponent = (int(np.floor(np.log2(peak))) - _F16_TOP) if peak > 0 and np.isfinite(peak) else 0
    return (magnitude.double() * 2.0 ** -exponent).numpy().astype("<f2"), exponent


def _decode(array: np.ndarray, exponent: int) -> torch.Tensor:
    return torch.from_numpy(array.astype(np.float32) * np.float32(2.0 ** exponent))


def _read_header(blob: bytes) -> tuple[dict, int]:
    """The JSON header of an entry and where its float16 payload starts."""
    if not blob.startswith(ENTRY_MAGIC):
        raise ValueError("not a spectra cache entry")
    end = blob.index(b"\n", len(ENTRY_MAGIC))
    return json.loads(blob[len(ENTRY_MAGIC):end]), end + 1


def _read_entry(path: Path, fingerprint: str) -> torch.Tensor | None:
    """The stored magnitudes if the entry exists and was made from the same file, else None.

    An entry is ``ENTRY_MAGIC``, one line of JSON (source fingerprint, exponent, shape), then
    the float16 magnitudes, little-endian: one read, no pickle.
    """
    try:
        blob = path.read_bytes()
        header, start = _read_header(blob)
        if header["fingerprint"] != fingerprint:
            return None
        shape = tuple(header["shape"])
        array = np.frombuffer(blob, dtype="<f2", offset=start)
        if array.size != int(np.prod(shape)):
            return None  # truncated
        return _decode(array.reshape(shape), int(header["exponent"]))
    except (OSError, KeyError, ValueError, TypeError):
        return None  # missing, or a damaged entry: computed again and replaced


def _write_entry(path: Path, array: np.ndarray, exponent: int, fingerprint: str) -> None:
    header = json.dumps({"fingerprint": fingerprint, "exponent": exponent, "shape": list(array.shape)})
    from helpers.data.fetch_utils import atomic_write_bytes

    atomic_write_bytes(path, ENTRY_MAGIC + header.encode() + b"\n" + np.ascontiguousarray(array).tobytes())


def _signal_length(transform: AudioTransform, paths: Sequence, n_samples: int | None) -> int:
    if n_samples is not None:
        return int(n_samples)
    if "n_samples" in transform.config.analysis_fields:  # a transform built for one length
        return int(transform.config.n_samples)
    from helpers.data.sol import BadAudioError

    try:
        info = sf.info(str(paths[0]))
    except (sf.LibsndfileError, RuntimeError) as err:
        raise BadAudioError(paths[0], f"not readable as audio ({err})") from None
    return int(round(info.frames * transform.sample_rate / info.samplerate))


def _open_store(cache_dir: Path, transform: AudioTransform, length: int) -> Path:
    store = cache_dir / f"{transform.config.kind}-{store_key(transform, length)}"
    meta = store / META_FILE
    if not meta.is_file():
        store.mkdir(parents=True, exist_ok=True)
        from helpers.data.fetch_utils import atomic_write_bytes

        atomic_write_bytes(meta, json.dumps({"format": CACHE_FORMAT, "transform": transform.config.analysis_dict(),
                                             "n_samples": length}, indent=1, default=float).encode())
    else:
        os.utime(meta)  # marks the store as recently used (see prune_cache)
    return store


def cached_spectra(paths: Sequence[str | os.PathLike], transform: AudioTransform,
                   cache_dir: str | os.PathLike | None = None, n_samples: int | None = None,
                   batch_size: int = 32, device: str | torch.device = "cpu",
                   progress: bool = True) -> CachedSpectra:
    """Magnitudes of every file (``(n_files, freq, time)`` float32), from the cache or computed.

    ``n_samples``: length every file is padded/trimmed to after resampling to the transform's
    rate (default: the transform's ``n_samples`` if its analysis depends on it (NSGT), else the
    first file's length). Files missing from the store are analysed in batches of
    ``batch_size`` on ``device``. What is returned is what is stored (float16 precision), so a
    hit and a miss give the same tensor.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("paths is empty: nothing to analyse")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    fingerprints = file_fingerprints(paths)
    length = _signal_length(transform, paths, n_samples)
    store = _open_store(cache_dir, transform, length)
    key = _hash({"store": store.name, "files": fingerprints})

    out: list[torch.Tensor | None] = []
    for fp in fingerprints:
        out.append(_read_entry(store / _entry_name(fp[0]), _fingerprint_text(fp)))
    todo = [i for i, m in enumerate(out) if m is None]
    if todo:
        from tqdm.auto import tqdm

        from helpers.data.sol import load_waveform

        bar = tqdm(total=len(todo), desc=f"{transform.config.kind} spectra", unit="file", disable=not progress)
        for start in range(0, len(todo), batch_size):
            rows = todo[start:start + batch_size]
            wave = torch.stack([load_waveform(paths[i], transform.sample_rate, length) for i in rows]).to(device)
            with torch.no_grad():
                magnitude = transform.analyze(wave).cpu()
            for i, m in zip(rows, magnitude):
                array, exponent = _encode(m)
                _write_entry(store / _entry_name(fingerprints[i][0]), array, exponent,
                             _fingerprint_text(fingerprints[i]))
                out[i] = _decode(array, exponent)
            bar.update(len(rows))
        bar.close()
        marker = store / PRUNED_MARKER  # entries of files gone since: checked at most every 10 minutes
        if not marker.exists() or time.time() - marker.stat().st_mtime > 600:
            prune_store(store)
            marker.touch()
        prune_cache(cache_dir, keep=store, sources=False)
    return CachedSpectra(torch.stack(out), store, not todo, key, len(todo))


def _stores(cache_dir: Path) -> list[Path]:
    return [d for d in cache_dir.iterdir() if d.is_dir() and (d / META_FILE).is_file()] if cache_dir.is_dir() else []


def _size(folder: Path) -> int:
    total = 0
    for f in os.scandir(folder):
        try:
            total += f.stat().st_size if f.is_file() else 0
        except FileNotFoundError:  # removed meanwhile by another process
            pass
    return total


def cache_size(cache_dir: str | os.PathLike | None = None) -> int:
    """Bytes held by the cache (all stores)."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return sum(_size(d) for d in _stores(cache_dir))


def prune_store(store: Path) -> int:
    """Remove the entries of one store whose audio file is gone or changed (and temporary
    files of writers killed an hour ago or more); returns the number of files removed."""
    removed = 0
    for entry in store.glob("*" + ENTRY_SUFFIX):
        try:
            with open(entry, "rb") as f:
                header, _ = _read_header(f.read(len(ENTRY_MAGIC) + 8192))
            source, size, mtime = header["fingerprint"].rsplit("|", 2)
            st = os.stat(source)
            stale = st.st_size != int(size) or st.st_mtime_ns != int(mtime)
        except (OSError, KeyError, ValueError, TypeError):
            stale = True
        if stale:
            entry.unlink(missing_ok=True)
            removed += 1
    for tmp in store.glob(".*.part"):  # left by a writer killed an hour ago or more
        if time.time() - tmp.stat().st_mtime > 3600:
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def prune_cache(cache_dir: str | os.PathLike | None = None, max_bytes: int | None = None,
                keep: Path | None = None, sources: bool = True) -> int:
    """Remove the entries whose audio file is gone or changed (``sources``), then, while the
    cache holds more than ``max_bytes`` (default :func:`max_cache_bytes`), the least recently
    used stores (never ``keep``). Returns the number of files removed."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    max_bytes = max_cache_bytes() if max_bytes is None else int(max_bytes)
    stores = _stores(cache_dir)
    removed = sum(prune_store(s) for s in stores) if sources else 0
    sizes = {s: _size(s) for s in stores}
    total = sum(sizes.values())
    for store in sorted(stores, key=lambda s: (s / META_FILE).stat().st_mtime):
        if total <= max_bytes:
            break
        if keep is not None and store.resolve() == Path(keep).resolve():
            continue
        removed += sum(1 for _ in store.iterdir())
        shutil.rmtree(store, ignore_errors=True)
        total -= sizes[store]
    return removed


def clear_cache(cache_dir: str | os.PathLike | None = None) -> int:
    """Delete the whole spectra cache (every store, and files of the format 1 cache);
    returns the number of files removed."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if not cache_dir.is_dir():
        return 0
    removed = 0
    for store in _stores(cache_dir):
        removed += sum(1 for _ in store.iterdir())
        shutil.rmtree(store, ignore_errors=True)
    for old in [*cache_dir.glob("spectra-*.pt"), *cache_dir.glob(".spectra-*.tmp")]:  # format 1: one file per request
        old.unlink(missing_ok=True)
        removed += 1
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The spectra cache: its size, or remove it.")
    parser.add_argument("action", choices=("size", "prune", "clean"))
    parser.add_argument("--dir", default=None, help="cache folder (default: $NOVELTY_CACHE_DIR/spectra "
                                                     "or <data>/cache/spectra)")
    args = parser.parse_args(argv)
    cache_dir = Path(args.dir) if args.dir else default_cache_dir()
    before = cache_size(cache_dir) + sum(f.stat().st_size for f in cache_dir.glob("spectra-*.pt")) \
        if cache_dir.is_dir() else 0
    if args.action == "clean":
        n = clear_cache(cache_dir)
        print(f"removed {n} file(s), {before / 1e6:.1f} MB, from {cache_dir}")
    elif args.action == "prune":
        n = prune_cache(cache_dir)
        print(f"removed {n} file(s) from {cache_dir}; {cache_size(cache_dir) / 1e6:.1f} MB left")
    else:
        print(f"{before / 1e6:.1f} MB in {cache_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
