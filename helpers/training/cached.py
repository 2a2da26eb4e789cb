"""Train once, reload afterwards, for models trained on in-memory tensors (MNIST, spectra,
classifiers): :func:`cached_fit` keys the run in the one run store
(:mod:`helpers.training.store`) on the model and trainer configs, the warm-up and time budget,
and the bytes of the training (and validation) tensors, so that a notebook run a second time
loads its models instead of training them again, and resumes one that was interrupted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch

from helpers.models import build_model
from helpers.models.config import Config

from .callbacks import BetaWarmup, Callback, TimeBudget
from .seed import seed_everything
from .store import DONE_FILE, KEY_FILE, Run, RunStore, fit_or_load, run_key, tensor_fingerprint
from .trainer import Trainer, TrainerConfig

__all__ = ["CachedRun", "DONE_FILE", "KEY_FILE", "cached_fit", "fit_key", "tensor_fingerprint"]


def fit_key(model_config: Config, trainer_config: TrainerConfig, x_train: torch.Tensor,
            x_val: torch.Tensor | None = None, warmup_epochs: float = 0.0, minutes: float | None = None,
            extra: dict | None = None) -> dict:
    """Everything that defines what a :func:`cached_fit` run learns (the store key)."""
    data = {"x_train": tensor_fingerprint(x_train),
            "x_val": tensor_fingerprint(x_val) if x_val is not None else None}
    return run_key({"model": model_config, "trainer": trainer_config}, data,
                   extra={"warmup_epochs": float(warmup_epochs), "minutes": minutes, **(extra or {})})


@dataclass
class CachedRun:
    """A trained (or reloaded) model with its history, run folder and training time."""

    model: torch.nn.Module
    trainer: Trainer
    run: Run
    history: list[dict]
    train_seconds: float
    epochs: int
    stopped_early: bool
    reused: bool
    callbacks: list[Callback] = field(default_factory=list)

    @property
    def run_dir(self) -> Path:
        return self.run.dir

    def cached_metrics(self, name: str, compute: Callable[[], dict]) -> dict:
        """``compute()`` once, kept as ``eval-<name>.json`` in the run folder and read back after."""
        return self.run.cached_metrics(name, compute)


def cached_fit(model_config: Config, trainer_config: TrainerConfig, x_train: torch.Tensor,
               x_val: torch.Tensor | None = None, *, name: str = "run", run_root: str | Path | None = None,
               warmup_epochs: float = 0.0, minutes: float | None = None, callbacks: Iterable[Callback] = (),
               batch_transform: Callable | None = None, eval_transform: Callable | None | str = "same",
               extra: dict | None = None, retrain: bool = False) -> CachedRun:
    """Train ``model_config`` with ``trainer_config`` on ``x_train``, or reload the finished run.

    The run folder is ``<run_root>/<name>-<hash of fit_key(...)>`` (:class:`RunStore`). A
    finished run is reloaded (model, history and the states of ``callbacks``, e.g. a
    :class:`~helpers.training.learning_curve.LearningCurve`); an interrupted one resumes from its
    last checkpoint. ``warmup_epochs`` adds a :class:`BetaWarmup`, ``minutes`` a
    :class:`TimeBudget` (both in the key). ``extra`` goes into the key too: name there whatever
    else changes the result (e.g. the callbacks' settings, the batch transform). ``retrain``
    ignores a finished run and trains again in the same folder.
    """
    key = fit_key(model_config, trainer_config, x_train, x_val, warmup_epochs, minutes, extra)
    run = RunStore(run_root).open(name, key)
    user_callbacks = list(callbacks)
    all_callbacks = list(user_callbacks)
    if warmup_epochs:
        all_callbacks.insert(0, BetaWarmup(n_epochs=warmup_epochs))
    if minutes is not None:
        all_callbacks.append(TimeBudget(minutes))
    seed_everything(trainer_config.seed)  # same initial weights for the same config
    model = build_model(model_config)
    trainer = Trainer(model, trainer_config.replace(name=name), all_callbacks, batch_transform=batch_transform,
                      eval_transform=eval_transform, run_dir=run.dir, extra_config={"run_key": key})
    result = fit_or_load(run, trainer, x_train, x_val, retrain=retrain)
    return CachedRun(model, trainer, run, result.history, result.train_seconds, result.epochs,
                     result.stopped_early, result.reused, user_callbacks)
