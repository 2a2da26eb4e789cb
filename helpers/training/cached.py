"""Train once, reload afterwards: a run folder named by the hash of everything that defines the
run (model config, trainer config, warm-up, time budget, a fingerprint of the data), so that a
notebook run a second time loads its models instead of training them again.

    <run_root>/<name>-<hash>/
        checkpoints/last.pt   the Trainer's checkpoint (weights, history, callback states)
        config.json           the resolved config (written by the Trainer)
        key.json              what the hash was computed from
        done.json             written when training ended: seconds, epochs, stopped early
        eval-<name>.json      metrics cached by :meth:`CachedRun.cached_metrics`
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from helpers.models import build_model
from helpers.models.config import Config

from .callbacks import BetaWarmup, Callback, TimeBudget
from .checkpoint import save_json
from .run import config_hash, runs_root
from .seed import seed_everything
from .trainer import Trainer, TrainerConfig

DONE_FILE = "done.json"
KEY_FILE = "key.json"
# trainer fields that change how a run is shown or where it goes, not what it learns
_COSMETIC = ("progress", "run_root", "name", "device")


def tensor_fingerprint(x: torch.Tensor) -> str:
    """SHA-1 of a tensor's shape, dtype and bytes (47 MB of MNIST: about a tenth of a second)."""
    x = x.detach().cpu().contiguous()
    h = hashlib.sha1(f"{tuple(x.shape)}|{x.dtype}".encode())
    h.update(x.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def run_key(model_config: Config, trainer_config: TrainerConfig, x_train: torch.Tensor,
            x_val: torch.Tensor | None = None, warmup_epochs: float = 0.0, minutes: float | None = None,
            extra: dict | None = None) -> dict:
    """Everything that defines what a run learns (what :func:`cached_fit` hashes)."""
    trainer = {k: v for k, v in trainer_config.to_dict().items() if k not in _COSMETIC}
    return {"model": model_config.to_dict(), "trainer": trainer, "warmup_epochs": float(warmup_epochs),
            "minutes": minutes, "x_train": tensor_fingerprint(x_train),
            "x_val": tensor_fingerprint(x_val) if x_val is not None else None, "extra": extra or {}}


@dataclass
class CachedRun:
    """A trained (or reloaded) model with its history, run folder and training time."""

    model: torch.nn.Module
    trainer: Trainer
    run_dir: Path
    history: list[dict]
    train_seconds: float
    epochs: int
    stopped_early: bool
    reused: bool
    callbacks: list[Callback] = field(default_factory=list)

    def cached_metrics(self, name: str, compute: Callable[[], dict]) -> dict:
        """``compute()`` once, kept as ``eval-<name>.json`` in the run folder and read back after."""
        path = self.run_dir / f"eval-{name}.json"
        if path.is_file():
            return json.loads(path.read_text())
        metrics = compute()
        save_json(metrics, path)
        return metrics


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def cached_fit(model_config: Config, trainer_config: TrainerConfig, x_train: torch.Tensor,
               x_val: torch.Tensor | None = None, *, name: str = "run", run_root: str | Path | None = None,
               warmup_epochs: float = 0.0, minutes: float | None = None, callbacks: Iterable[Callback] = (),
               batch_transform: Callable | None = None, eval_transform: Callable | None | str = "same",
               extra: dict | None = None, retrain: bool = False) -> CachedRun:
    """Train ``model_config`` with ``trainer_config`` on ``x_train``, or reload the finished run.

    The run folder is ``<run_root>/<name>-<hash of run_key(...)>``. When its ``done.json``
    exists, the model, the history and the states of ``callbacks`` (e.g. a
    :class:`~helpers.training.learning_curve.LearningCurve`) are restored from
    ``checkpoints/last.pt`` and nothing is trained; a run interrupted before that resumes from
    its last checkpoint. ``warmup_epochs`` adds a :class:`BetaWarmup`, ``minutes`` a
    :class:`TimeBudget` (both part of the hash). ``extra`` goes into the hash too: name there
    whatever else changes the result (e.g. the callbacks' settings). ``retrain`` ignores a
    finished run and trains again in the same folder.
    """
    key = run_key(model_config, trainer_config, x_train, x_val, warmup_epochs, minutes, extra)
    run_dir = runs_root(run_root) / f"{name}-{config_hash(key)}"
    user_callbacks = list(callbacks)
    all_callbacks = list(user_callbacks)
    if warmup_epochs:
        all_callbacks.insert(0, BetaWarmup(n_epochs=warmup_epochs))
    if minutes is not None:
        all_callbacks.append(TimeBudget(minutes))
    seed_everything(trainer_config.seed)  # same initial weights for the same config
    model = build_model(model_config)
    trainer = Trainer(model, trainer_config.replace(name=name), all_callbacks, batch_transform=batch_transform,
                      eval_transform=eval_transform, run_dir=run_dir, extra_config={"run_key": key})
    done_path, last = run_dir / DONE_FILE, run_dir / "checkpoints" / "last.pt"
    if done_path.is_file() and last.is_file() and not retrain:
        trainer.load_checkpoint(last, restore_rng=False)
        done = json.loads(done_path.read_text())
        model.eval()
        return CachedRun(model, trainer, run_dir, trainer.history, float(done["train_seconds"]),
                         trainer.epoch, bool(done["stopped_early"]), True, user_callbacks)
    if retrain:
        done_path.unlink(missing_ok=True)
        last.unlink(missing_ok=True)
    save_json(key, run_dir / KEY_FILE)
    previous = 0.0
    if last.is_file():  # interrupted: go on from the last completed epoch
        trainer.load_checkpoint(last)
        previous = sum(float(h.get("time_s", 0.0)) for h in trainer.history)
    start = time.perf_counter()
    history = trainer.fit(x_train, x_val)
    seconds = time.perf_counter() - start + previous
    stopped_early = trainer.epoch < trainer_config.n_epochs
    if stopped_early or trainer.epoch % max(1, trainer_config.checkpoint_every):
        trainer.save_checkpoint()  # the state training ended in, whatever checkpoint_every says
    save_json({"train_seconds": seconds, "epochs": trainer.epoch, "stopped_early": stopped_early,
               "last": {k: _jsonable(v) for k, v in (history[-1] if history else {}).items()}}, done_path)
    model.eval()
    return CachedRun(model, trainer, run_dir, history, seconds, trainer.epoch, stopped_early, False, user_callbacks)
