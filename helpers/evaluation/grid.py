"""A ready-made grid-search objective for VAEs: build from a config plus the grid point, train,
report test ELBO, NLL (IWAE), KL and active units (for :func:`helpers.training.grid_search`)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from helpers.models import VAEConfig, build_model
from helpers.training import BetaWarmup, Trainer, TrainerConfig, seed_everything

from .likelihood import evaluate_model


def vae_objective(x_train: torch.Tensor, x_test: torch.Tensor, model_config: VAEConfig,
                  trainer_config: TrainerConfig, k: int = 100, warmup_epochs: float = 0.0,
                  batch_transform: Callable | None = None, keep_runs: bool = True) -> Callable[[dict, Path], dict]:
    """``objective(params, trial_dir)`` for :func:`~helpers.training.grid_search`.

    ``params`` may set any :class:`VAEConfig` field (``z_dim``, ``beta``...) and ``width``,
    which sets every MLP hidden layer (keeping the depth) and the conv dense layer. ``x_test``
    must already be prepared (e.g. binarised once). Returns ``test_elbo``, ``test_nll``
    (-L_k, Burda et al., 2016), ``test_kl``, ``test_rec``, ``active_units``, ``train_loss``,
    ``epochs``; the run (checkpoints, config) goes to ``trial_dir`` when ``keep_runs``.
    """

    def objective(params: dict, trial_dir: Path) -> dict:
        changes = dict(params)
        width = changes.pop("width", None)
        if width is not None:
            changes["hidden"] = (int(width),) * len(model_config.hidden)
            changes["conv_hidden"] = int(width)
        config = model_config.replace(**changes)
        seed_everything(trainer_config.seed)
        model = build_model(config)
        callbacks = [BetaWarmup(n_epochs=warmup_epochs)] if warmup_epochs else []
        trainer = Trainer(model, trainer_config.replace(progress=False), callbacks=callbacks,
                          batch_transform=batch_transform, run_dir=trial_dir if keep_runs else False,
                          extra_config={"grid_point": params})
        history = trainer.fit(x_train)
        metrics = evaluate_model(trainer.model, x_test, k=k)
        return {"test_elbo": metrics["elbo"], "test_nll": metrics["nll"], "test_kl": metrics["kl"],
                "test_rec": metrics["rec"], "active_units": metrics["active_units"],
                "train_loss": history[-1]["train_loss"] if history else float("nan"),
                "epochs": trainer.epoch}

    return objective
