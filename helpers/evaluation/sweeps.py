"""One table shape for every sweep: samplers or grid points in rows, the novelty measures in columns.

Notebooks 04-06 compare many ways of drawing samples (latent regions, corrupted copies, bent
decoders, searches) at many levels. Each comparison here is a pandas DataFrame with one row per
sampler (:func:`measure_samplers`) or per grid point (:func:`sweep`) and the keys of
:func:`helpers.evaluation.novelty.measure` as columns, so every table, plot and benchmark JSON
reads the same names. The judge's features of the reference and training data are computed once
per table, not once per row.

>>> table = measure_samplers({"data": data_region(q), "shell 2": shell(32, 2.0)},
...                          partial(decode, model), judge, reference=x_test, train=x_train)
>>> plot_measures(table, x="value")
"""

from __future__ import annotations

import itertools
import time
from typing import Callable, Sequence

import torch
from tqdm.auto import tqdm

from . import novelty

__all__ = ["decode", "draw", "measure_samplers", "sweep", "plot_measures", "DEFAULT_MEASURES"]

DEFAULT_MEASURES = ("count_in@0.9", "count_out@0.9", "noise@0.9")


def _is_audio_model(model) -> bool:
    return hasattr(model, "transform") and hasattr(model, "vae") and hasattr(model, "from_model")


@torch.no_grad()
def decode(model, z, batch_size: int = 500) -> torch.Tensor:
    """Decoded means E[x|z] of codes ``z [N, D]`` in batches, without gradients, on the CPU, in
    the form the judges take (:meth:`~helpers.models.classifiers.Classifier.prepare`):

    - a :class:`~helpers.models.VAE`: ``decode_to_x``, e.g. images ``[N, 28, 28]`` in [0, 1];
    - an :class:`~helpers.models.audio.AudioVAE`: magnitudes ``[N, F, T]`` (the note model's notes;
      the frame model's frame held for the length of a note).
    """
    z = torch.as_tensor(z, dtype=torch.float32)
    if z.dim() != 2:
        raise ValueError(f"z must be [N, D], got shape {tuple(z.shape)}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size={batch_size}: expected >= 1")
    audio = _is_audio_model(model)
    net = model.vae if audio else model
    if not (hasattr(net, "decode_to_x") or audio):
        raise ValueError(f"model must be a VAE (decode_to_x) or an AudioVAE, got {type(model).__name__}")
    if z.shape[1] != model.z_dim:
        raise ValueError(f"z has {z.shape[1]} dimensions, the model's latent space {model.z_dim}")
    was_training = net.training
    net.eval()
    out = []
    try:
        for s in range(0, len(z), int(batch_size)):
            zb = z[s:s + int(batch_size)]
            if not audio:
                out.append(model.decode_to_x(zb).float().cpu())
            elif model.kind == "note":
                out.append(model.decode(zb))
            else:
                out.append(model.decode(zb.unsqueeze(1).expand(len(zb), model.n_frames, zb.shape[1])))
    finally:
        net.train(was_training)
    if not out:
        raise ValueError("z is empty: nothing to decode")
    return torch.cat(out)


def _decoder(decode_fn) -> Callable | None:
    """A callable ``z -> samples``: ``decode_fn`` itself, or :func:`decode` of a model."""
    if decode_fn is None:
        return None
    if isinstance(decode_fn, torch.nn.Module) or _is_audio_model(decode_fn):
        return lambda z: decode(decode_fn, z)
    if not callable(decode_fn):
        raise ValueError(f"decode_fn must be a callable z -> samples or a model, got {type(decode_fn).__name__}")
    return decode_fn


def draw(sampler, decode_fn=None, n: int = 16, seed: int = 0):
    """``(z, samples)``: ``n`` draws of ``sampler`` with a generator seeded ``seed``, decoded by
    ``decode_fn`` (a callable or a model, see :func:`decode`); without one, ``z`` is None and the
    sampler's draws are the samples (e.g. a VAE's ``sample``)."""
    if not hasattr(sampler, "sample"):
        raise ValueError(f"sampler must have sample(n, generator), got {type(sampler).__name__}")
    if int(n) < 1:
        raise ValueError(f"n={n}: expected >= 1")
    out = sampler.sample(int(n), generator=torch.Generator().manual_seed(int(seed)))
    dec = _decoder(decode_fn)
    if dec is None:
        return None, out
    return out, dec(out)


class _Reference:
    """The judge's view of the reference and training data, computed once for a whole table."""

    def __init__(self, judge, reference=None, train=None, reference_features=None, train_features=None,
                 train_data=None, thetas=novelty.THETAS):
        self.kwargs = {"thetas": tuple(thetas)}
        if reference_features is None and reference is not None:
            reference_features = judge.features(reference)
        if reference_features is not None:
            self.kwargs["reference_features"] = reference_features
        if train is not None or train_features is not None:
            if train_features is None:
                train_features = judge.features(train)
            if train_data is None:
                if train is None:
                    raise ValueError("train_features without train or train_data: the data-space distances "
                                     "need the training examples")
                train_data = judge.data_space(train)
            self.kwargs["train_features"], self.kwargs["train_data"] = train_features, train_data

    def measure(self, samples, judge) -> dict:
        return novelty.measure(samples, judge, **self.kwargs)


def _latent_columns(z: torch.Tensor, codes) -> dict:
    from helpers.latent.regions import distance_to_data

    norm = z.norm(dim=1) / z.shape[1] ** 0.5
    out = {"z_norm_mean": norm.mean().item()}
    if codes is not None:
        dist = distance_to_data(z, codes)
        out["z_nn_mean"], out["z_nn_median"] = dist.mean().item(), dist.median().item()
    return out


def measure_samplers(samplers: dict, decode_fn, judge, n: int = 1000, seed: int = 0, reference=None, train=None,
                     codes=None, progress: bool = True, **measure_kwargs):
    """One row per sampler (index: its key): ``n`` draws (generator seeded ``seed``, the same for every
    row), decoded by ``decode_fn`` (a callable ``z -> samples``, a model for :func:`decode`, or None
    when the samplers draw samples themselves), measured by :func:`novelty.measure`.

    Columns: the measure keys; ``parameter`` and ``value`` of samplers that have them (the
    latent regions); ``z_norm_mean`` (mean |z| / sqrt(D)) and, given training ``codes``,
    ``z_nn_mean``/``z_nn_median`` (latent distance to the nearest training code) when there is a
    decoder; ``draw_seconds`` (sampling and decoding). ``reference``/``train`` (or
    ``reference_features``, ``train_features``, ``train_data`` in ``measure_kwargs``) are seen
    by the judge once for the whole table.
    """
    import pandas as pd

    if not isinstance(samplers, dict) or not samplers:
        raise ValueError("samplers must be a non-empty dict {name: sampler}")
    for key, s in samplers.items():
        if not hasattr(s, "sample"):
            raise ValueError(f"samplers[{key!r}] has no sample(n, generator) method ({type(s).__name__})")
    if int(n) < 2:
        raise ValueError(f"n={n}: expected >= 2 samples per sampler")
    dec = _decoder(decode_fn)
    ref = _Reference(judge, reference, train, **measure_kwargs)
    rows = {}
    for key, sampler in tqdm(samplers.items(), desc="samplers", disable=not progress, leave=False):
        start = time.perf_counter()
        out = sampler.sample(int(n), generator=torch.Generator().manual_seed(int(seed)))
        samples = out if dec is None else dec(out)
        row = {}
        if hasattr(sampler, "parameter"):
            row["parameter"] = sampler.parameter
        if hasattr(sampler, "value"):
            row["value"] = sampler.value
        row["draw_seconds"] = time.perf_counter() - start
        if dec is not None:
            row.update(_latent_columns(torch.as_tensor(out, dtype=torch.float32), codes))
        row.update(ref.measure(samples, judge))
        rows[key] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    first = [c for c in ("parameter", "value") if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]]


def sweep(make_samples: Callable[[dict], torch.Tensor], grid: dict, judge, progress: bool = True,
          reference=None, train=None, **measure_kwargs):
    """One row per point of the grid (the Cartesian product of ``grid``'s lists, first key slowest):
    ``make_samples(point)`` returns the samples to judge at that point (e.g. decode 1000 prior draws
    of a copy corrupted at that level), measured by :func:`novelty.measure`.

    Columns: the grid keys, ``make_seconds`` (time of ``make_samples``), then the measure keys.
    ``reference``/``train`` (or the precomputed features in ``measure_kwargs``) are seen by the
    judge once for the whole sweep.
    """
    import pandas as pd

    if not isinstance(grid, dict) or not grid:
        raise ValueError("grid must be a non-empty dict {parameter: list of values}")
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or not len(list(values)):
            raise ValueError(f"grid[{key!r}] must be a non-empty list of values, got {values!r}")
    if not callable(make_samples):
        raise ValueError("make_samples must be a callable point -> samples")
    ref = _Reference(judge, reference, train, **measure_kwargs)
    keys = list(grid)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*(list(grid[k]) for k in keys))]
    rows = []
    for point in tqdm(points, desc="sweep", disable=not progress, leave=False):
        start = time.perf_counter()
        samples = make_samples(dict(point))
        row = dict(point, make_seconds=time.perf_counter() - start)
        row.update(ref.measure(samples, judge))
        rows.append(row)
    return pd.DataFrame(rows)


LABELS = {"count_in": "in-class", "count_out": "out-of-class", "max_in": "in-class (max)",
          "max_out": "out-of-class (max)", "noise": "noise"}


def _label(measure: str) -> str:
    name, _, theta = measure.partition("@")
    return f"{LABELS[name]} (p > {theta})" if name in LABELS and theta else measure


def plot_measures(table, x: str, measures: Sequence[str] = DEFAULT_MEASURES, hue: str | None = None, ax=None,
                  xlabel: str | None = None, ylabel: str | None = None, title: str | None = None, logx: bool = False):
    """Curves of ``measures`` (columns of a sweep or sampler table) against the column ``x``, one
    colour per measure and, with ``hue``, one line style per value of that column. Shares (the
    ``count``/``max``/``noise`` measures) are plotted on [0, 1]. Returns the Axes.

    ``x="value"`` in a table of regions labels the axis with the regions' ``parameter``. The
    default measures that the table lacks (``count_out`` of a judge without out-of-class
    classes) are left out; a missing column named explicitly raises ``ValueError``.
    """
    import matplotlib.pyplot as plt

    default = measures is DEFAULT_MEASURES
    measures = [measures] if isinstance(measures, str) else list(measures)
    if default:  # a judge without an out-of-class group has no count_out: plot what there is
        measures = [m for m in measures if m in table.columns] or measures
    if not measures:
        raise ValueError("measures: name at least one column to plot")
    for col in [x] + measures + ([hue] if hue is not None else []):
        if col not in table.columns:
            raise ValueError(f"column {col!r} is not in the table (columns: {list(table.columns)})")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    styles = ["-", "--", ":", "-."]
    markers = ["o", "s", "^", "v", "D", "P", "X", "*"]
    groups = [(None, table)] if hue is None else list(table.groupby(hue, sort=False))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for gi, (hue_value, part) in enumerate(groups):
        part = part.sort_values(x)
        for mi, m in enumerate(measures):
            label = _label(m) if hue is None else f"{_label(m)}, {hue}={hue_value}"
            ax.plot(part[x].to_numpy(), part[m].to_numpy(dtype=float), color=colours[mi % len(colours)],
                    linestyle=styles[gi % len(styles)], marker=markers[gi % len(markers)], markersize=4, label=label)
    if xlabel is None:
        xlabel = x
        if x == "value" and "parameter" in table.columns and table["parameter"].nunique() == 1:
            xlabel = str(table["parameter"].iloc[0])
    shares = all(m.partition("@")[0] in LABELS for m in measures)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel or ("share of samples" if shares else ", ".join(measures)))
    if shares:
        ax.set_ylim(-0.02, 1.02)
    if logx:
        ax.set_xscale("log")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return ax
