"""Grid search through Optuna's ``GridSampler``, stored in SQLite so that a killed search resumes.

The objective is any function ``objective(params, trial_dir) -> {metric name: value}``; each
returned value is kept as a user attribute of its trial, with the wall time. The study lives
in ``<run_dir>/study.db`` by default, and the default run folder depends only on ``name`` and
the grid and on the search's ``key`` (the base configs and the data fingerprint the objective
declares as ``objective.store_key``), so running the same search again continues it: completed
grid points are skipped, an interrupted one is run again; changing the base config or the data
starts a new search instead of reloading old results. Pointing ``storage`` at a shared database (PostgreSQL, MySQL)
lets several machines share one grid.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable, Sequence

import optuna
import pandas as pd

from .run import config_hash, runs_root
from .seed import seed_everything
from .store import run_key, tensor_fingerprint

Objective = Callable[[dict, Path], dict]


class _Interrupted(BaseException):
    """Carries a KeyboardInterrupt through Optuna, which would otherwise record the trial as
    failed (and a failed grid point is never run again); left RUNNING, it is retried on resume."""


def default_grid_dir(name: str, grid: dict[str, Sequence], root: str | Path | None = None,
                     key: dict | None = None) -> Path:
    """``<runs>/grid-<name>-<hash of the grid and key>``: stable across runs, so that a search
    resumes, and new when the grid, the base configs or the data (``key``) change."""
    return runs_root(root) / f"grid-{name}-{config_hash({'grid': {k: list(v) for k, v in grid.items()}, 'key': key}, 12)}"


def trial_checkpoint(run_dir: str | Path, trial: int, which: str = "last") -> Path:
    """The checkpoint ``which`` ("last" or "best") of one trial of a finished grid search;
    ``FileNotFoundError`` names the path when that trial kept no such checkpoint."""
    path = Path(run_dir) / "trials" / f"trial-{int(trial):04d}" / "checkpoints" / f"{which}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint {path}: trial {trial} of the grid search in {run_dir} "
                                f"did not keep a {which!r} checkpoint (run the search with keep_runs=True)")
    return path


def grid_search(objective: Objective, grid: dict[str, Sequence], metric: str, direction: str = "minimize",
                name: str = "grid", run_dir: str | Path | None = None, storage: str | None = None,
                catch: tuple[type[Exception], ...] = (), seed: int = 0,
                verbose: bool = False, key: dict | None = None) -> pd.DataFrame:
    """Evaluate ``objective`` on every point of ``grid`` (Optuna ``GridSampler``); return the table.

    Args:
        objective: ``objective(params, trial_dir) -> dict`` of floats that includes ``metric``;
            ``trial_dir`` is a fresh folder for that trial's run.
        grid: parameter name -> values (str, int, float, bool or None).
        metric: the returned key Optuna records as the trial's value.
        direction: "minimize" or "maximize" ``metric``.
        name: study name, and part of the default run folder.
        run_dir: where ``study.db``, ``trials/`` and ``results.csv`` go; default
            :func:`default_grid_dir`.
        storage: an Optuna storage URL; default ``sqlite:///<run_dir>/study.db``.
        catch: exception types that mark a trial failed and go on with the next; others stop
            the search (the trial is recorded as failed and is not retried on resume).
        seed: order in which the grid points are visited.
        key: what else the results depend on (base configs, data fingerprint); default the
            objective's ``store_key`` attribute when it has one. Part of the default folder.
    """
    grid = {k: list(v) for k, v in grid.items()}
    key = key if key is not None else getattr(objective, "store_key", None)
    run_dir = Path(run_dir) if run_dir is not None else default_grid_dir(name, grid, key=key)
    run_dir.mkdir(parents=True, exist_ok=True)
    storage = storage or f"sqlite:///{(run_dir / 'study.db').resolve()}"
    if not verbose:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.GridSampler(grid, seed=seed)
    study = optuna.create_study(study_name=name, storage=storage, sampler=sampler,
                                direction=direction, load_if_exists=True)

    def run_trial(trial: optuna.Trial) -> float:
        params = {k: trial.suggest_categorical(k, v) for k, v in grid.items()}
        trial_dir = run_dir / "trials" / f"trial-{trial.number:04d}"
        trial_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        try:
            metrics = objective(dict(params), trial_dir)
        except KeyboardInterrupt as err:
            raise _Interrupted() from err
        if metric not in metrics:
            raise KeyError(f"the objective returned {sorted(metrics)}, without the metric {metric!r}")
        for key, value in metrics.items():
            trial.set_user_attr(key, float(value))
        trial.set_user_attr("time_s", time.perf_counter() - start)
        return float(metrics[metric])

    if not sampler.is_exhausted(study):
        n_points = math.prod(len(v) for v in grid.values())
        try:
            # GridSampler stops the study once every point has finished; n_trials is a safety cap
            study.optimize(run_trial, n_trials=n_points, catch=catch)
        except _Interrupted as err:
            raise KeyboardInterrupt("grid search interrupted; run it again to resume") from err
    table = results_table(study, metric, direction)
    table.to_csv(run_dir / "results.csv", index=False)
    return table


def results_table(study: optuna.Study | str, metric: str | None = None, direction: str = "minimize",
                  storage: str | None = None) -> pd.DataFrame:
    """One row per completed grid point: its parameters, every returned metric, and ``time_s``.

    ``study`` may be a study or its name (then ``storage`` is its URL). Rows are sorted by
    ``metric`` (best first) when given; a point run twice keeps its latest result.
    """
    if isinstance(study, str):
        study = optuna.load_study(study_name=study, storage=storage)
    rows = {}
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        key = tuple(sorted((k, repr(v)) for k, v in t.params.items()))
        rows[key] = {"trial": t.number, **t.params, **t.user_attrs}
    table = pd.DataFrame(list(rows.values()))
    if metric is not None and metric in table:
        table = table.sort_values(metric, ascending=direction == "minimize").reset_index(drop=True)
    return table


def vae_objective(x_train, x_test, model_config, trainer_config, evaluate: Callable, k: int = 100,
                  warmup_epochs: float = 0.0, batch_transform: Callable | None = None,
                  keep_runs: bool = True) -> Objective:
    """``objective(params, trial_dir)`` for :func:`grid_search` over VAE settings.

    ``params`` may set any :class:`~helpers.models.VAEConfig` field (``z_dim``, ``beta``...) and
    ``width``, which sets every MLP hidden layer (keeping the depth) and the conv dense layer.
    ``x_test`` must already be prepared (e.g. binarised once). ``evaluate(model, x_test, k=k)``
    scores a trained model (:func:`helpers.evaluation.likelihood.evaluate_model`: ``elbo``,
    ``nll`` = -L_k of Burda et al. 2016, ``kl``, ``rec``, ``active_units``). Returns
    ``test_elbo``, ``test_nll``, ``test_kl``, ``test_rec``, ``active_units``, ``train_loss``,
    ``epochs``; the run (checkpoints, config) goes to ``trial_dir`` when ``keep_runs``. The
    objective's ``store_key`` (base configs, data fingerprints, ``k``, warm-up) keys the
    search's folder.
    """
    from helpers.models import build_model

    from .callbacks import BetaWarmup
    from .trainer import Trainer

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
        metrics = evaluate(trainer.model, x_test, k=k)
        return {"test_elbo": metrics["elbo"], "test_nll": metrics["nll"], "test_kl": metrics["kl"],
                "test_rec": metrics["rec"], "active_units": metrics["active_units"],
                "train_loss": history[-1]["train_loss"] if history else float("nan"),
                "epochs": trainer.epoch}

    objective.store_key = run_key(
        {"model": model_config, "trainer": trainer_config},
        {"x_train": tensor_fingerprint(x_train), "x_test": tensor_fingerprint(x_test)},
        extra={"k": k, "warmup_epochs": float(warmup_epochs), "evaluate": getattr(evaluate, "__qualname__", str(evaluate)),
               "batch_transform": getattr(batch_transform, "__qualname__", None)})
    return objective
