"""The experiments of notebook 01 (the MNIST VAE), each one call: data, the main model, the KL
warm-up comparison, Kingma & Welling's figure 2, the test likelihood with its standard error,
the seeded grid search and the 2-D model. Every model goes through :func:`cached_fit` (or the
grid search's study), so a second run of the notebook loads instead of training.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from helpers.data.mnist import dynamic_binarize, load_mnist
from helpers.data.paths import REPO_ROOT
from helpers.models import VAEConfig, build_model
from helpers.training import TrainerConfig, grid_search
from helpers.training.cached import CachedRun, cached_fit, tensor_fingerprint
from helpers.training.grid_search import default_grid_dir, vae_objective
from helpers.training.learning_curve import LearningCurve
from helpers.training.presets import mnist_preset
from helpers.training.run import RUNS_ENV

from .latent import active_units
from .likelihood import elbo_terms, evaluate_model, iwae_log_likelihood


def notebook_run_root(run_root: str | Path | None = None, smoke: bool = False) -> tuple[Path, bool]:
    """``(folder, temporary?)`` for a notebook's runs: ``run_root`` if given, else
    ``$NOVELTY_RUNS_DIR``, else a fresh temporary folder when ``smoke`` (tiny runs are not worth
    keeping), else ``runs/`` at the repository root."""
    if run_root is not None:
        return Path(run_root), False
    env = os.environ.get(RUNS_ENV)
    if env:
        return Path(env).expanduser(), False
    if smoke:
        return Path(tempfile.mkdtemp(prefix="mnist-smoke-")), True
    return REPO_ROOT / "runs", False


@dataclass
class MnistData:
    """The digits notebook 01 uses. ``x_test_bin``/``x_val_bin``: binarised once (seed 0), so that
    every model is scored on the same binary digits; ``x_test_all_bin``: all 10,000 test digits."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_fit: torch.Tensor
    x_val_bin: torch.Tensor
    x_test_bin: torch.Tensor
    y_test: torch.Tensor
    x_test_all_bin: torch.Tensor
    y_test_all: torch.Tensor


def mnist_data(n_train: int | None = None, n_test: int = 1000, root=None) -> MnistData:
    """Training digits (``train_full``, the first ``n_train`` or all 60,000), the 50,000 of the
    ``train`` split for the grid search, ``n_test`` validation and test digits binarised once."""
    if n_test < 1:
        raise ValueError(f"n_test={n_test}: need at least one test digit")
    x_train, y_train = load_mnist("train_full", root)
    x_fit, _ = load_mnist("train", root)
    x_val, _ = load_mnist("val", root)
    x_test, y_test = load_mnist("test", root)
    if n_train:
        x_train, y_train, x_fit = x_train[:n_train], y_train[:n_train], x_fit[:n_train]
    test_all = dynamic_binarize(x_test, generator=torch.Generator().manual_seed(0))
    val_bin = dynamic_binarize(x_val[:n_test], generator=torch.Generator().manual_seed(0))
    return MnistData(x_train, y_train, x_fit, val_bin, test_all[:n_test], y_test[:n_test], test_all, y_test)


@torch.no_grad()
def bernoulli_check(model, x: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(-log p(x|z) of the model's Bernoulli output, BCE with logits)`` per digit, for decoder
    logits at z ~ N(0, I): the two must agree (the Bernoulli log-likelihood is the BCE)."""
    import torch.nn.functional as F

    z = torch.randn(len(x), model.z_dim, generator=torch.Generator().manual_seed(seed))
    logits = model.decode(z)
    ours = -model.log_prob(logits, x)
    bce = F.binary_cross_entropy_with_logits(logits.reshape(len(x), -1), x.reshape(len(x), -1).float(),
                                             reduction="none").sum(1)
    return ours, bce


def train_preset(name: str, x_train: torch.Tensor, run_root, epochs: int | None = None,
                 minutes: float | None = None, seed: int = 0, run_name: str | None = None) -> CachedRun:
    """Train (or reload) a preset of :func:`mnist_preset` on dynamically binarised digits;
    ``epochs`` overrides the preset's number of epochs (and caps its warm-up)."""
    preset = mnist_preset(name)
    epochs = epochs or preset.trainer.n_epochs
    trainer = preset.trainer.replace(n_epochs=epochs, progress=True, seed=seed)
    return cached_fit(preset.model, trainer, x_train, name=run_name or f"mnist-{name}", run_root=run_root,
                      warmup_epochs=min(preset.warmup_epochs, epochs), minutes=minutes,
                      batch_transform=dynamic_binarize)


def kl_after_warmup(history, warmup_epochs: float) -> dict:
    """How the training KL moves once beta has reached 1: its value in the last warm-up epoch
    (``at_warmup``), its lowest value after (``lowest``, at ``lowest_epoch``) and at the end."""
    h = pd.DataFrame(history)
    last_warm = h[h.epoch <= max(1, math.ceil(warmup_epochs))].iloc[-1]
    after = h[h.epoch > last_warm.epoch]
    low = after.loc[after.train_kl.idxmin()] if len(after) else last_warm
    return {"warmup_epoch": int(last_warm.epoch), "at_warmup": float(last_warm.train_kl),
            "lowest": float(low.train_kl), "lowest_epoch": int(low.epoch), "final": float(h.train_kl.iloc[-1]),
            "final_epoch": int(h.epoch.iloc[-1]), "max": float(h.train_kl.max())}


def warmup_comparison(x_train: torch.Tensor, x_eval: torch.Tensor, run_root, epochs: int = 2,
                      eval_every: int = 100, seed: int = 0, z_dim: int = 64) -> dict[str, dict]:
    """The autoregressive-Bernoulli VAE trained twice from the same weights: without KL warm-up
    and with beta rising over the first epoch (Bowman et al., 2016). Per run: ``curve`` (training
    KL every 20 steps), ``eval`` (active units and KL on ``x_eval`` every ``eval_every`` steps),
    final ``active`` units and per-unit ``activity``, ``elbo`` on ``x_eval``, ``run``."""
    config = VAEConfig(z_dim=z_dim, hidden=(512, 512), likelihood="bernoulli_ar")
    trainer = TrainerConfig(n_epochs=epochs, precision="auto", progress=True, seed=seed)
    settings = {"every_n_steps": 20, "eval_every_n_steps": eval_every}
    out = {}
    for label, warmup in (("no warm-up", 0.0), ("warm-up over 1 epoch", 1.0)):
        curve = LearningCurve(**settings, eval_fn=lambda m: {"active_units": active_units(m, x_eval)[0],
                                                             "eval_kl": float(elbo_terms(m, x_eval)["kl"].mean())})
        run = cached_fit(config, trainer, x_train, name="mnist-warmup-demo", run_root=run_root,
                         warmup_epochs=warmup, callbacks=[curve], batch_transform=dynamic_binarize,
                         extra={"curve": settings, "au_digits": tensor_fingerprint(x_eval)})
        model = run.model.cpu()
        n_active, activity = active_units(model, x_eval)
        elbo = elbo_terms(model, x_eval, generator=torch.Generator().manual_seed(0))["elbo"].mean()
        out[label] = {"curve": pd.DataFrame(curve.records), "eval": pd.DataFrame(curve.eval_records),
                      "active": n_active, "activity": activity, "elbo": float(elbo), "run": run, "z_dim": z_dim}
    return out


def warmup_reading(demo: dict[str, dict]) -> dict[str, dict]:
    """Per run of :func:`warmup_comparison`: lowest training KL and where, final KL, the largest
    and the final number of active units and where the largest was reached."""
    out = {}
    for label, d in demo.items():
        c, e = d["curve"], d["eval"]
        i_low, i_peak = c.train_kl.idxmin(), e.active_units.idxmax()
        out[label] = {"kl_lowest": float(c.train_kl[i_low]), "kl_lowest_at": int(c.examples[i_low]),
                      "kl_final": float(c.train_kl.iloc[-1]), "active_peak": int(e.active_units[i_peak]),
                      "active_peak_at": int(e.examples[i_peak]), "active_final": int(d["active"]),
                      "elbo": d["elbo"], "examples": int(c.examples.iloc[-1])}
    return out


def kw_sweep(x_train: torch.Tensor, x_eval: torch.Tensor, run_root, sizes=(3, 5, 10, 20, 200),
             epochs: int = 2, eval_every: int = 50, seed: int = 0) -> dict[int, dict]:
    """Kingma & Welling (2014, Fig. 2): a 784-400-z VAE per latent size, batches of 100, with the
    training ELBO every 20 steps and the ELBO of ``x_eval`` every ``eval_every`` steps."""
    trainer = TrainerConfig(n_epochs=epochs, batch_size=100, precision="auto", progress=True, seed=seed)
    settings = {"every_n_steps": 20, "eval_every_n_steps": eval_every}
    out = {}
    for z_dim in sizes:
        curve = LearningCurve(**settings, x_eval=x_eval)
        run = cached_fit(VAEConfig(z_dim=z_dim, hidden=(400,)), trainer, x_train, name=f"mnist-kw-z{z_dim}",
                         run_root=run_root, callbacks=[curve], batch_transform=dynamic_binarize,
                         extra={"curve": settings, "x_eval": tensor_fingerprint(x_eval)})
        out[z_dim] = {"train": pd.DataFrame(curve.records), "test": pd.DataFrame(curve.eval_records),
                      "active": active_units(run.model, x_eval)[0], "run": run}
    return out


def kw_table(kw: dict[int, dict]) -> pd.DataFrame:
    """One row per latent size: examples seen, last test and training ELBO, active units, seconds."""
    table = pd.DataFrame({z: {"examples seen": int(d["test"].examples.iloc[-1]),
                              "test ELBO (nats)": float(d["test"].eval_elbo.iloc[-1]),
                              "training ELBO, last window (nats)": float(d["train"].train_elbo.iloc[-1]),
                              "active units": int(d["active"]),
                              "training time (s)": d["run"].train_seconds} for z, d in kw.items()}).T
    table = table.astype({"examples seen": int, "active units": int})
    table.index.name = "latent size N_z"
    return table


def iwae_sweep(model, x: torch.Tensor, ks, seed: int = 1) -> dict[int, float]:
    """-L_k (Burda et al., 2016, Eq. 8), mean over ``x``, for every k in ``ks``."""
    return {int(k): float(-iwae_log_likelihood(model, x, k=int(k), generator=torch.Generator().manual_seed(seed)).mean())
            for k in ks}


def test_likelihood(model, x: torch.Tensor, k: int = 1000, seed: int = 0) -> dict:
    """NLL -L_k with its standard error over the digits (std / sqrt(n)), ELBO terms and active
    units on ``x`` (binarised once), in nats per digit."""
    g = torch.Generator().manual_seed(seed)
    terms = elbo_terms(model, x, generator=g)
    nll = -iwae_log_likelihood(model, x, k=k, generator=g, progress=True).double()
    return {"nll": float(nll.mean()), "nll_se": float(nll.std() / math.sqrt(len(nll))) if len(nll) > 1 else math.nan,
            "nll_std": float(nll.std()) if len(nll) > 1 else math.nan, "n": len(x), "k": int(k),
            "elbo": float(terms["elbo"].mean()), "rec": float(terms["rec"].mean()), "kl": float(terms["kl"].mean()),
            "active_units": active_units(model, x)[0]}


def subset_elbo_gap(model, x_all: torch.Tensor, n: int, seed: int = 0) -> dict:
    """The model's mean ELBO on the first ``n`` digits of ``x_all`` and on all of them, with the
    standard error of the ``n``-digit mean: how much a score on a subset says about the whole."""
    elbo = elbo_terms(model, x_all, generator=torch.Generator().manual_seed(seed))["elbo"].double()
    sub = elbo[:n]
    return {"n": int(n), "n_all": len(elbo), "elbo_subset": float(sub.mean()), "elbo_all": float(elbo.mean()),
            "se_subset": float(sub.std() / math.sqrt(n)) if n > 1 else math.nan}


def seeded_grid_objective(x_train: torch.Tensor, x_val: torch.Tensor, epochs: int = 2, seed: int = 0, k: int = 100,
                          hidden=(400,)):
    """The objective of one seed of :func:`seeded_grid_search` (also run by the ``mnist`` search of
    ``python -m helpers.search``): a 784-``hidden``-z VAE trained ``epochs`` on dynamically binarised
    ``x_train`` with training seed ``seed``, scored on ``x_val`` (NLL with ``k`` samples)."""
    return vae_objective(x_train, x_val, VAEConfig(hidden=tuple(hidden)),
                         TrainerConfig(n_epochs=epochs, precision="auto", seed=int(seed)),
                         evaluate=evaluate_model, k=k, batch_transform=dynamic_binarize)


def seeded_grid_search(x_train: torch.Tensor, x_val: torch.Tensor, grid: dict, run_root, epochs: int = 2,
                       seeds=(0,), k: int = 100, hidden=(400,), name: str = "mnist-z-beta") -> pd.DataFrame:
    """:func:`grid_search` of a 784-``hidden``-z VAE over ``grid`` once per training seed; one row per
    (seed, grid point) with the validation NLL (k samples), ELBO, KL, active units, the
    trial's ``grid_dir`` (for :func:`~helpers.training.grid_search.trial_checkpoint`) and whether the
    search was ``loaded`` from an earlier run."""
    tables = []
    for seed in seeds:
        run_name = f"{name}-n{len(x_train)}-e{epochs}-k{k}-s{seed}"
        objective = seeded_grid_objective(x_train, x_val, epochs=epochs, seed=seed, k=k, hidden=hidden)
        grid_dir = default_grid_dir(run_name, grid, run_root, key=objective.store_key)
        loaded = (grid_dir / "results.csv").is_file()
        table = grid_search(objective, grid, metric="test_nll", name=run_name, run_dir=grid_dir)
        tables.append(table.assign(seed=int(seed), grid_dir=str(grid_dir), loaded=loaded))
    return pd.concat(tables, ignore_index=True)


def grid_summary(table: pd.DataFrame, keys=("z_dim", "beta")) -> pd.DataFrame:
    """Mean and standard deviation over seeds of the validation NLL, KL and active units per point,
    best point first."""
    keys = list(keys)
    g = table.groupby(keys)
    out = pd.DataFrame({"val NLL, mean (nats)": g.test_nll.mean(), "val NLL, std over seeds": g.test_nll.std(ddof=1),
                        "val KL, mean (nats)": g.test_kl.mean(), "active units, mean": g.active_units.mean(),
                        "seeds": g.seed.nunique(), "time (s)": g.time_s.sum()})
    return out.sort_values("val NLL, mean (nats)")


def train_2d(x_train: torch.Tensor, run_root, epochs: int | None = None, minutes: float | None = None,
             seed: int = 0) -> CachedRun:
    """The ``"2d"`` preset (a 2-D latent space to draw without projection), trained or reloaded;
    ``minutes`` stops it after the last epoch that fits."""
    return train_preset("2d", x_train, run_root, epochs=epochs, minutes=minutes, seed=seed, run_name="mnist-2d")


def untrained(config: VAEConfig | None = None, seed: int = 0):
    """A freshly initialised model (default: the 784-400-20 VAE), seeded."""
    torch.manual_seed(seed)
    return build_model(config or VAEConfig())


def training_log(runs: dict[str, CachedRun | float]) -> pd.DataFrame:
    """Training seconds per experiment and whether it was trained in this run or loaded; a value
    may be a :class:`CachedRun` or ``(seconds, trained now)``."""
    rows = []
    for label, run in runs.items():
        seconds, now = (run.train_seconds, not run.reused) if isinstance(run, CachedRun) else run
        rows.append({"experiment": label, "training time (s)": float(seconds), "trained in this run": bool(now)})
    return pd.DataFrame(rows).set_index("experiment")


def cached_iwae_sweep(run: CachedRun, x: torch.Tensor, ks, seed: int = 1) -> dict[int, float]:
    """:func:`iwae_sweep` of a run's model, computed once and kept in its run folder."""
    name = f"iwae-k-sweep-n{len(x)}-k{'-'.join(map(str, ks))}-{tensor_fingerprint(x)}"
    values = run.cached_metrics(name, lambda: {str(k): v for k, v in iwae_sweep(run.model.cpu(), x, ks, seed).items()})
    return {int(k): float(v) for k, v in values.items()}


def cached_test_likelihood(run: CachedRun, x: torch.Tensor, k: int = 1000, seed: int = 0) -> dict:
    """:func:`test_likelihood` of a run's model, computed once and kept in its run folder."""
    return run.cached_metrics(f"test-se-n{len(x)}-k{k}-{tensor_fingerprint(x)}",
                              lambda: test_likelihood(run.model.cpu(), x, k=k, seed=seed))


def cached_subset_elbo_gap(run: CachedRun, x_all: torch.Tensor, n: int, seed: int = 0) -> dict:
    """:func:`subset_elbo_gap` of a run's model, computed once and kept in its run folder."""
    return run.cached_metrics(f"subset-elbo-n{n}-of-{len(x_all)}-{tensor_fingerprint(x_all)}",
                              lambda: subset_elbo_gap(run.model.cpu(), x_all, n, seed=seed))


def beta_comparison(trials: pd.DataFrame, z_dim: int, betas=(1.0, 2.0)) -> dict:
    """Two KL weights at one latent size in a :func:`seeded_grid_search`: per beta the mean and
    standard deviation over seeds of the validation NLL and KL and the mean active units; the
    mean NLL difference (second minus first), the standard deviation over seeds of that paired
    difference (``difference_std``) and in how many seeds the second beta scored lower."""
    rows = trials[trials.z_dim == z_dim]
    per_seed = rows.pivot_table(index="seed", columns="beta", values="test_nll")
    out = {"z_dim": int(z_dim), "betas": tuple(float(b) for b in betas), "n_seeds": int(len(per_seed))}
    for b in betas:
        part = rows[rows.beta == b]
        out[float(b)] = {"nll": float(part.test_nll.mean()), "nll_std": float(part.test_nll.std(ddof=1)),
                         "kl": float(part.test_kl.mean()), "kl_std": float(part.test_kl.std(ddof=1)),
                         "active": float(part.active_units.mean())}
    first, second = (float(b) for b in betas)
    out["difference"] = out[second]["nll"] - out[first]["nll"]
    paired = per_seed[second] - per_seed[first]
    out["difference_std"] = float(paired.std(ddof=1)) if len(paired) > 1 else float("nan")
    out["second_lower_in"] = int((per_seed[second] < per_seed[first]).sum())
    return out
