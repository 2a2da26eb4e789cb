"""The one run store: train once, reload afterwards, resume what was interrupted.

Every trained thing (an MNIST VAE, an audio VAE, a classifier, a hacked copy) is a run keyed by
everything that shapes what it learns, and nothing else:

- the resolved configs, without the fields that only change how a run is shown or where it
  goes (:data:`COSMETIC_FIELDS`: progress bars, device, run folder, name);
- a fingerprint of the data actually used: a tensor's bytes (:func:`tensor_fingerprint`) or the
  bytes of the files read (:func:`files_fingerprint`), never a path alone;
- the identity of the transform the data went through (audio), when there is one;
- :data:`STORE_FORMAT`, so that a change of what a run folder holds retires old folders.

The folder is ``<runs>/<name>-<hash of the key>``::

    <runs>/<name>-<hash>/
        key.json              the key the hash was computed from (checked when reused)
        config.json           the resolved configs (written by the Trainer)
        checkpoints/last.pt   weights, optimiser, history, callback states
        done.json             written when training ended: seconds, epochs, stopped early
        eval-<name>.json      metrics cached by :meth:`Run.cached_metrics`

:func:`fit_or_load` is the single train-or-reload-or-resume step that every caller shares
(:func:`helpers.training.cached.cached_fit` for tensors, :func:`helpers.training.audio.train_audio_vae`
for audio notes).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .checkpoint import save_json
from .run import config_hash, runs_root

#: bump when what a run folder holds, or how its key is made, changes
STORE_FORMAT = 2
KEY_FILE = "key.json"
DONE_FILE = "done.json"
LAST_CHECKPOINT = Path("checkpoints") / "last.pt"
#: config fields that change how a run is shown or where it goes, not what it learns
COSMETIC_FIELDS = ("progress", "run_root", "name", "device", "eval_batch_size", "nan_check_every", "tensorboard")
HASH_LENGTH = 12


class RunKeyMismatch(RuntimeError):
    """A run folder's ``key.json`` does not hold the key its name was hashed from."""


# ----------------------------------------------------------------------------- fingerprints


def tensor_fingerprint(x: torch.Tensor) -> str:
    """SHA-1 of a tensor's shape, dtype and bytes (47 MB of MNIST: about a tenth of a second)."""
    x = x.detach().cpu().contiguous()
    h = hashlib.sha1(f"{tuple(x.shape)}|{x.dtype}".encode())
    h.update(x.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def files_fingerprint(paths: Iterable[str | os.PathLike], root: str | os.PathLike | None = None,
                      progress: bool = False) -> str:
    """SHA-1 over the names (relative to ``root`` when given) and the bytes of ``paths``, in sorted
    order: the same files give the same fingerprint wherever the tree lies; changing, adding or
    removing one file changes it. ``FileNotFoundError`` names a missing file."""
    root = Path(root).resolve() if root is not None else None
    named = []
    for p in paths:
        p = Path(p)
        resolved = p.resolve()
        if not resolved.is_file():
            raise FileNotFoundError(f"data file not found: {p}")
        if root is not None:
            try:
                name = str(p.absolute().relative_to(root))
            except ValueError:
                name = str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(resolved)
        else:
            name = str(resolved)
        named.append((name, resolved))
    h = hashlib.sha1()
    for name, path in tqdm(sorted(named), desc="fingerprinting data", unit="file", disable=not progress,
                           leave=False):
        h.update(name.encode() + b"\0")
        h.update(_file_digest(path))
    return h.hexdigest()[:16]


_DIGESTS: dict[tuple, bytes] = {}


def _file_digest(path: Path) -> bytes:
    """SHA-1 of a file's bytes, remembered for this process while its size, mtime and inode
    stay the same (a notebook that reloads five runs of one tree reads it once)."""
    st = path.stat()
    memo = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    digest = _DIGESTS.get(memo)
    if digest is None:
        digest = _DIGESTS[memo] = hashlib.sha1(path.read_bytes()).digest()
    return digest


def strip_cosmetic(d: Any, fields: Sequence[str] = COSMETIC_FIELDS) -> Any:
    """A copy of a (nested) config dict without the cosmetic fields, at every level."""
    if isinstance(d, dict):
        return {k: strip_cosmetic(v, fields) for k, v in d.items() if k not in fields}
    if isinstance(d, list):
        return [strip_cosmetic(v, fields) for v in d]
    return d


def run_key(configs: dict[str, Any], data: dict[str, str | None], transform: dict | None = None,
            extra: dict | None = None) -> dict:
    """The key of a run: configs (cosmetic fields dropped), data fingerprints, the transform's
    identity, anything else that shapes the result (``extra``), and :data:`STORE_FORMAT`."""

    def plain(v):
        if hasattr(v, "to_dict"):
            v = v.to_dict()
        return json.loads(json.dumps(v, default=lambda o: o.item() if isinstance(o, np.generic) else str(o)))

    return {"format": STORE_FORMAT, "configs": strip_cosmetic({k: plain(v) for k, v in configs.items()}),
            "data": dict(data), "transform": plain(transform) if transform is not None else None,
            "extra": plain(extra or {})}


# ----------------------------------------------------------------------------- runs


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@dataclass
class Run:
    """One run folder of the store and the key it was made for."""

    dir: Path
    key: dict

    @property
    def last_checkpoint(self) -> Path:
        return self.dir / LAST_CHECKPOINT

    @property
    def done(self) -> dict | None:
        """The ``done.json`` record when training ended and its checkpoint exists, else None."""
        record = _read_json(self.dir / DONE_FILE)
        return record if record is not None and self.last_checkpoint.is_file() else None

    @property
    def status(self) -> str:
        """"done", "partial" (a checkpoint to resume from) or "new"."""
        if self.done is not None:
            return "done"
        return "partial" if self.last_checkpoint.is_file() else "new"

    def mark_done(self, record: dict) -> None:
        save_json(record, self.dir / DONE_FILE)

    def reset(self) -> None:
        """Forget the training state (to train again in the same folder); cached metrics go too."""
        for path in (self.dir / DONE_FILE, self.last_checkpoint, *self.dir.glob("eval-*.json")):
            path.unlink(missing_ok=True)

    def cached_metrics(self, name: str, compute: Callable[[], dict]) -> dict:
        """``compute()`` once, kept as ``eval-<name>.json`` in the run folder and read back after."""
        path = self.dir / f"eval-{name}.json"
        saved = _read_json(path)
        if saved is not None:
            return saved
        metrics = compute()
        save_json(metrics, path)
        return metrics


class RunStore:
    """Run folders under one root (default ``$NOVELTY_RUNS_DIR`` or ``./runs``), named by key."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = runs_root(root)

    def path(self, name: str, key: dict) -> Path:
        """Where the run of ``key`` lives: an existing folder of that key under any name (the
        name is cosmetic), else ``<root>/<name>-<hash>``."""
        digest = config_hash(key, HASH_LENGTH)
        existing = sorted(p for p in self.root.glob(f"*-{digest}") if (p / KEY_FILE).is_file()) \
            if self.root.is_dir() else []
        preferred = self.root / f"{name}-{digest}"
        return preferred if preferred in existing or not existing else existing[0]

    def open(self, name: str, key: dict) -> Run:
        """The run of ``key`` (created empty when new). A folder whose ``key.json`` holds another
        key is never reused: :class:`RunKeyMismatch` names it."""
        path = self.path(name, key)
        saved = _read_json(path / KEY_FILE)
        if saved is not None and saved != json.loads(json.dumps(key)):
            raise RunKeyMismatch(f"{path / KEY_FILE} does not hold the key of this run (the folder was edited "
                                 f"or copied); move the folder away to train again")
        if saved is None and (path / LAST_CHECKPOINT).is_file():
            raise RunKeyMismatch(f"{path} holds a checkpoint but no {KEY_FILE}: it cannot be trusted as this run; "
                                 f"move it away to train again")
        path.mkdir(parents=True, exist_ok=True)
        if saved is None:
            save_json(key, path / KEY_FILE)
        return Run(path, key)

    def runs(self, name: str | None = None) -> list[Run]:
        """Every run folder (of ``name``) that holds a key."""
        if not self.root.is_dir():
            return []
        pattern = f"{name}-*" if name else "*"
        out = []
        for d in sorted(self.root.glob(pattern)):
            key = _read_json(d / KEY_FILE)
            if key is not None:
                out.append(Run(d, key))
        return out


@dataclass
class FitResult:
    """What :func:`fit_or_load` did: the history, the training time (summed over resumed parts)."""

    history: list[dict]
    train_seconds: float
    epochs: int
    stopped_early: bool
    reused: bool
    extra: dict = field(default_factory=dict)


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return value


def fit_or_load(run: Run, trainer, x_train, x_val=None, retrain: bool = False) -> FitResult:
    """Train ``trainer`` (whose run folder is ``run.dir``) on the data, or reload the finished run.

    Finished (``done.json`` and ``checkpoints/last.pt``): the model, history and callback states
    are restored, nothing is trained. Interrupted (a checkpoint, no ``done.json``): training
    resumes from the last completed epoch, RNG states included, so that the result equals an
    uninterrupted run. ``retrain`` forgets a finished run and trains again in the same folder.
    """
    if retrain:
        run.reset()
    done = run.done
    if done is not None:
        trainer.load_checkpoint(run.last_checkpoint, restore_rng=False)
        trainer.model.eval()
        return FitResult(trainer.history, float(done["train_seconds"]), trainer.epoch,
                         bool(done["stopped_early"]), True)
    previous = 0.0
    if run.last_checkpoint.is_file():
        trainer.load_checkpoint(run.last_checkpoint)
        previous = sum(float(h.get("time_s", 0.0)) for h in trainer.history)
    start = time.perf_counter()
    history = trainer.fit(x_train, x_val)
    seconds = time.perf_counter() - start + previous
    n_epochs = trainer.config.n_epochs
    stopped_early = trainer.epoch < n_epochs
    if stopped_early or trainer.epoch % max(1, trainer.config.checkpoint_every):
        trainer.save_checkpoint()  # the state training ended in, whatever checkpoint_every says
    run.mark_done({"train_seconds": seconds, "epochs": trainer.epoch, "stopped_early": stopped_early,
                   "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                   "last": {k: _jsonable(v) for k, v in (history[-1] if history else {}).items()}})
    trainer.model.eval()
    return FitResult(history, seconds, trainer.epoch, stopped_early, False)
