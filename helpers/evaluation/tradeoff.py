"""Spurious samples against coverage: are spurious samples a bug or a feature? (Kégl, Cherti &
Kazakçı, 2018).

Their question: can a generative model stop producing spurious samples (judged neither data nor
anything else known) without losing coverage of held-out data? One :class:`TradeoffPoint` per
model (or per model and sampler) keeps the per-sample verdicts and the per-example
reconstruction errors, so that every share can be recomputed on bootstrap resamples:

- the *spurious share*: generated samples the judge does not confidently place in-class
  (``sum_{c in C_in} p(c|x) <= theta``): out-of-class plus noise, i.e. ``1 - count_in@theta``;
- the *coverage*: held-out examples the model reconstructs within a tolerance, through its
  encoder and through latent optimisation with the decoder frozen
  (:func:`helpers.evaluation.novelty.coverage_errors`);
- :func:`bootstrap_correlation`: the correlation across models between the two, with a
  percentile interval from resampling the samples and the held-out examples of every model.

>>> p = tradeoff_point("z = 10", "latent size", samples, judge, vae, x_test[:500])
>>> table = tradeoff_table([p, ...], tolerance=0.1)
>>> r = bootstrap_correlation([p, ...], tolerance=0.1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from . import novelty

AXES = ("spurious", "out", "noise", "coverage_encoder", "coverage_optimised")


@dataclass
class TradeoffPoint:
    """One model (with one sampler) on the trade-off plot.

    Attributes:
        name: its label ("z = 10, beta = 1, seed 0").
        family: the group it belongs to (colour of the plot): "latent size", "grid", "corrupted"...
        in_class: ``[N]`` bool, generated samples judged confidently in-class.
        out_class: ``[N]`` bool, generated samples judged confidently out-of-class.
        err_encoder: ``[M]`` reconstruction error of every held-out example through the encoder.
        err_optimised: ``[M]`` the same after latent optimisation.
        info: anything else to show in the table (z_dim, beta, corruption level...).
    """

    name: str
    family: str
    in_class: np.ndarray
    out_class: np.ndarray
    err_encoder: np.ndarray
    err_optimised: np.ndarray
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.in_class = np.asarray(self.in_class, dtype=bool).reshape(-1)
        self.out_class = np.asarray(self.out_class, dtype=bool).reshape(-1)
        self.err_encoder = np.asarray(self.err_encoder, dtype=np.float64).reshape(-1)
        self.err_optimised = np.asarray(self.err_optimised, dtype=np.float64).reshape(-1)
        if len(self.in_class) != len(self.out_class):
            raise ValueError(f"{self.name}: in_class has {len(self.in_class)} samples, out_class {len(self.out_class)}")
        if len(self.err_encoder) != len(self.err_optimised):
            raise ValueError(f"{self.name}: err_encoder has {len(self.err_encoder)} examples, "
                             f"err_optimised {len(self.err_optimised)}")
        if np.any(self.in_class & self.out_class):
            raise ValueError(f"{self.name}: a sample cannot be both in-class and out-of-class")
        if not len(self.in_class) or not len(self.err_encoder):
            raise ValueError(f"{self.name}: a point needs at least one sample and one held-out example")

    def values(self, tolerance: float, samples: np.ndarray | None = None,
               examples: np.ndarray | None = None) -> dict[str, float]:
        """The shares of :data:`AXES`, on the given resample indices (all when None)."""
        i = slice(None) if samples is None else samples
        j = slice(None) if examples is None else examples
        inside, out = self.in_class[i], self.out_class[i]
        return {"spurious": 1.0 - inside.mean(), "out": out.mean(), "noise": 1.0 - inside.mean() - out.mean(),
                "coverage_encoder": float((self.err_encoder[j] <= tolerance).mean()),
                "coverage_optimised": float((self.err_optimised[j] <= tolerance).mean())}


def judged_flags(probs: torch.Tensor, judge, theta: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, (confidently in-class, confidently out-of-class): the group's summed probability
    above ``theta`` (``count_in`` and ``count_out`` of Kégl et al., 2018, per sample)."""
    if not 0.5 <= theta < 1.0:
        raise ValueError(f"theta={theta}: expected a probability in [0.5, 1) (the two groups must not both pass it)")
    probs = torch.as_tensor(probs, dtype=torch.float64)
    inside = probs[:, list(judge.in_index)].sum(1) > theta
    out_index = list(judge.out_index)
    out = probs[:, out_index].sum(1) > theta if out_index else torch.zeros(len(probs), dtype=torch.bool)
    return inside.numpy(), out.numpy()


def tradeoff_point(name: str, family: str, samples: torch.Tensor, judge, model, heldout: torch.Tensor,
                   theta: float = 0.9, n_steps: int = 100, lr: float = 0.05, batch_size: int = 500,
                   errors: tuple | None = None, progress: bool = False, **info) -> TradeoffPoint:
    """Judge ``samples`` (generated by the model, in the judge's input space) and reconstruct
    ``heldout`` (in the model's data space) through ``model``'s encoder and by latent optimisation
    (``n_steps`` Adam steps at ``lr``). ``errors``: ``(encoder, optimised)`` already computed for
    this model (two samplers of one model share them)."""
    inside, out = judged_flags(judge.probs(samples), judge, theta)
    if errors is None:
        errors = novelty.coverage_errors(model, heldout, n_steps=n_steps, lr=lr, batch_size=batch_size,
                                         progress=progress)
    enc, opt = (torch.as_tensor(e).numpy() for e in errors)
    return TradeoffPoint(name, family, inside, out, enc, opt, dict(info))


def tradeoff_table(points: Sequence[TradeoffPoint], tolerance: float) -> pd.DataFrame:
    """One row per point: ``name``, ``family``, the shares of :data:`AXES`, the median
    reconstruction errors, the numbers of samples and held-out examples, and its ``info``."""
    if tolerance <= 0:
        raise ValueError(f"tolerance={tolerance}: expected > 0")
    rows = []
    for p in points:
        rows.append({"name": p.name, "family": p.family, **p.values(tolerance),
                     "rmse_encoder_median": float(np.median(p.err_encoder)),
                     "rmse_optimised_median": float(np.median(p.err_optimised)),
                     "n_samples": len(p.in_class), "n_heldout": len(p.err_encoder), **p.info})
    return pd.DataFrame(rows)


def _corr(x: np.ndarray, y: np.ndarray, method: str) -> float:
    if method == "spearman":
        x, y = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if np.std(x) == 0 or np.std(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def bootstrap_correlation(points: Sequence[TradeoffPoint], tolerance: float, x: str = "spurious",
                          y: str = "coverage_optimised", method: str = "pearson", n_boot: int = 1000,
                          level: float = 0.95, seed: int = 0) -> dict:
    """Correlation across points between ``x`` and ``y`` (two of :data:`AXES`), with a percentile
    interval at ``level`` from ``n_boot`` resamples: each replicate redraws, with replacement, the
    generated samples and the held-out examples of every model (the uncertainty of every share),
    then correlates the shares again. ``method``: "pearson" or "spearman" (ranks).

    Returns ``r``, ``low``, ``high``, ``level``, ``n_models``, ``n_boot``, ``method``, ``x``, ``y``
    and ``valid`` (the replicates where both axes varied); r is NaN with fewer than 3 points or
    an axis that does not vary."""
    if x not in AXES or y not in AXES:
        raise ValueError(f"x={x!r}, y={y!r}: expected two of {AXES}")
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method={method!r}: expected 'pearson' or 'spearman'")
    if not 0 < level < 1:
        raise ValueError(f"level={level}: expected a probability in (0, 1)")
    points = list(points)
    out = {"x": x, "y": y, "method": method, "level": level, "n_models": len(points), "n_boot": n_boot,
           "r": math.nan, "low": math.nan, "high": math.nan, "valid": 0}
    if len(points) < 3:
        return out
    full = [p.values(tolerance) for p in points]
    out["r"] = _corr(np.array([v[x] for v in full]), np.array([v[y] for v in full]), method)
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(n_boot):
        vals = [p.values(tolerance, rng.integers(0, len(p.in_class), len(p.in_class)),
                         rng.integers(0, len(p.err_encoder), len(p.err_encoder))) for p in points]
        r = _corr(np.array([v[x] for v in vals]), np.array([v[y] for v in vals]), method)
        if not math.isnan(r):
            reps.append(r)
    out["valid"] = len(reps)
    if reps:
        out["low"], out["high"] = (float(v) for v in np.quantile(reps, [(1 - level) / 2, (1 + level) / 2]))
    return out


def share_interval(point: TradeoffPoint, tolerance: float, axis: str, n_boot: int = 500, level: float = 0.95,
                   seed: int = 0) -> tuple[float, float]:
    """Percentile interval of one point's share on ``axis`` (error bars of the plot)."""
    if axis not in AXES:
        raise ValueError(f"axis={axis!r}: expected one of {AXES}")
    rng = np.random.default_rng(seed)
    vals = [point.values(tolerance, rng.integers(0, len(point.in_class), len(point.in_class)),
                         rng.integers(0, len(point.err_encoder), len(point.err_encoder)))[axis] for _ in range(n_boot)]
    low, high = np.quantile(vals, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def tradeoff_facts(table: pd.DataFrame, corr: dict, real_spurious: float | None = None) -> dict:
    """A sentence read from a :func:`tradeoff_table` and a :func:`bootstrap_correlation`: the ranges
    of both axes, the correlation with its interval, and whether the interval lies above zero (the
    trade-off Kégl et al. report: fewer spurious samples, less coverage), below it, or holds zero."""
    x, y = corr["x"], corr["y"]
    names = {"spurious": "spurious share", "coverage_optimised": "coverage (latent optimisation)",
             "coverage_encoder": "coverage (encoder)", "out": "out-of-class share", "noise": "noise share"}
    r, low, high = corr["r"], corr["low"], corr["high"]
    if math.isnan(r) or math.isnan(low):
        verdict, sign = "cannot be measured here (too few models, or an axis that does not vary)", None
    elif low > 0:
        verdict, sign = "lies above zero: the models that generate fewer spurious samples also cover less, the trade-off of Kégl et al.", 1
    elif high < 0:
        verdict, sign = "lies below zero: the models that generate more spurious samples cover less, the opposite of a trade-off", -1
    else:
        verdict, sign = "holds zero: these models show no trade-off that the measurement can tell from chance", 0
    text = (f"Over {corr['n_models']} models, the {names.get(x, x)} runs from {table[x].min():.2f} to {table[x].max():.2f} and "
            f"the {names.get(y, y)} from {table[y].min():.2f} to {table[y].max():.2f}. "
            + (f"Their {corr['method'].capitalize()} correlation is r = {r:+.2f}, {100 * corr['level']:.0f}% interval "
               f"[{low:+.2f}, {high:+.2f}] ({corr['valid']} bootstrap resamples of the samples and held-out examples); "
               f"the interval {verdict}." if sign is not None else f"Their correlation {verdict}."))
    if real_spurious is not None:
        text += f" For comparison, real held-out examples read {real_spurious:.2f} spurious under the same judge."
    return {"text": text, "r": r, "low": low, "high": high, "sign": sign}


def share_intervals(points: Sequence[TradeoffPoint], tolerance: float, x: str = "spurious",
                    y: str = "coverage_optimised", n_boot: int = 200, level: float = 0.95,
                    seed: int = 0) -> dict[str, tuple[float, float, float, float]]:
    """``{name: (x_low, x_high, y_low, y_high)}``: the :func:`share_interval` of every point on both
    axes (the error bars of :func:`helpers.display.novelty.plot_tradeoff`)."""
    return {p.name: (*share_interval(p, tolerance, x, n_boot, level, seed),
                     *share_interval(p, tolerance, y, n_boot, level, seed)) for p in points}
