"""Figures of notebook 03 (the audio VAE): held-out score bars, latent maps of the codes with
how well they keep instruments and pitches together, and which notes to show.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.display.audio import legend_outside
from helpers.display.latent_maps import latent_map


def families_round_robin(labels: pd.DataFrame, n: int | None = None) -> list[str]:
    """Instrument names ordered so that families alternate (the first instrument of every
    family, then the second, ...; families and instruments sorted by name): the first ``n``
    span as many families as there are. Without a ``family`` column, sorted instruments."""
    if "instrument" not in labels:
        raise KeyError(f"labels need an 'instrument' column; they have {list(labels.columns)}")
    if "family" not in labels:
        names = sorted(labels["instrument"].unique())
    else:
        by_family = {f: sorted(g["instrument"].unique()) for f, g in labels.groupby("family", sort=True)}
        names = [members[i] for i in range(max(map(len, by_family.values())))
                 for members in by_family.values() if i < len(members)]
    return names[:n] if n is not None else names


def plot_scores(table: pd.DataFrame):
    """Held-out spectral convergence and log-spectral distance of every run (rows of
    ``evaluation.audio.score_table``): bars for the decoded magnitudes and for the sound
    analysed again, ticks for the floors (phase reconstruction of the original; time pooling
    of the note model). Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(14, 3.8))
    names = [f"{r.model}\n{r.transform}\n{r.likelihood}" for r in table.itertuples()]
    x = np.arange(len(names))
    for ax, metric, unit in zip(axes, ("sc", "lsd"), ("spectral convergence", "log-spectral distance (dB)")):
        ax.bar(x - 0.2, table[f"mag_{metric}"], 0.4, label="decoded magnitudes")
        ax.bar(x + 0.2, table[f"audio_{metric}"], 0.4, label="sound, analysed again")
        ax.plot(x, table[f"oracle_{metric}"], "k_", ms=25, mew=2, label="phase reconstruction of the original")
        if f"pool_{metric}" in table:
            ax.plot(x, table[f"pool_{metric}"], "r_", ms=25, mew=2, label="time pooling alone (note model)")
        ax.set_xticks(x, names, fontsize=8)
        ax.set_ylabel(unit)
        ax.set_title(f"Held-out {unit} (lower is better)")
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def code_maps(z, labels: pd.DataFrame, methods=("PCA", "UMAP"), title: str = "", seed: int = 0, k: int = 10,
              columns=("instrument", "pitch", "dynamics")):
    """Scatter 2-D projections of codes ``z [N, D]`` coloured by each label column (legends and
    colour bars beside the plots), and measure each map: the share of a note's ``k`` nearest
    neighbours in the map with the same instrument, the same dynamics, or a pitch within one
    semitone, against chance (``evaluation.latent.neighbour_agreement``).

    Returns ``(figure, table)`` (the figure closed: ``display`` it); the table has one row per method and columns
    ``<label>`` and ``<label>_chance``."""
    import matplotlib.pyplot as plt

    from helpers.evaluation.latent import neighbour_agreement, project_latent

    columns = [c for c in columns if c in labels]
    methods = list(methods)
    fig, axes = plt.subplots(len(methods), len(columns), figsize=(6 * len(columns), 5 * len(methods)), squeeze=False)
    rows = {}
    for r, method in enumerate(methods):
        kw = {"n_neighbors": min(15, len(z) - 1)} if method.lower() == "umap" else {}
        p = project_latent(z, method.lower(), seed=seed, **kw)
        row = {}
        for ax, column in zip(axes[r], columns):
            values = labels[column].to_numpy()
            latent_map(p, values, ax=ax, label_name=column, s=6, title=f"{title}, {method}, by {column}",
                       xlabel=f"{method} 1", ylabel=f"{method} 2")
            legend_outside(ax, markerscale=1.2)
            if len(p) > k:
                tol = 1.0 if column == "pitch" else None
                row[column], row[f"{column}_chance"] = neighbour_agreement(p, values, k=k, tolerance=tol)
        rows[method] = row
    fig.tight_layout()
    plt.close(fig)  # shown where the caller displays it, not again at the end of the cell
    return fig, pd.DataFrame(rows).T


def describe_neighbours(table: pd.DataFrame, k: int = 10) -> str:
    """A Markdown list stating, per map (rows ``(model, method)`` of :func:`code_maps` tables), the
    measured neighbour agreement of instrument and pitch against chance."""
    parts = []
    for (model, method), row in table.iterrows():
        bits = []
        if "instrument" in row and pd.notna(row["instrument"]):
            bits.append(f"{100 * row['instrument']:.0f}% share its instrument (chance {100 * row['instrument_chance']:.0f}%)")
        if "pitch" in row and pd.notna(row["pitch"]):
            bits.append(f"{100 * row['pitch']:.0f}% lie within a semitone of its pitch "
                        f"(chance {100 * row['pitch_chance']:.0f}%)")
        if bits:
            parts.append(f"- {model}, {method}: of each note's {k} nearest neighbours in the map, " + " and ".join(bits) + ".")
    return "\n".join(parts)


def plot_curves(runs: dict, ncols: int = 3):
    """Training and held-out loss of every run (``{name: AudioRun}``), one panel per run: the
    negative ELBO per example (nats, K&W 2014 Eq. 10, so that the KL warm-up does not bend the
    curves) of the training batches and of the held-out notes, per epoch, with the epoch of the
    best held-out ELBO marked. Returns the figure (closed: ``display`` it)."""
    import matplotlib.pyplot as plt

    runs = dict(runs)
    if not runs:
        raise ValueError("no runs to plot")
    ncols = min(ncols, len(runs))
    nrows = -(-len(runs) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.4 * nrows), squeeze=False)
    for ax, (name, run) in zip(axes.flat, runs.items()):
        h = pd.DataFrame(run.history)
        if h.empty:
            ax.set_title(f"{name}: no history")
            continue
        key = "elbo" if "train_elbo" in h else "loss"
        sign = -1.0 if key == "elbo" else 1.0
        ax.plot(h["epoch"], sign * h[f"train_{key}"], label="training batches")
        if f"val_{key}" in h:
            val = sign * h[f"val_{key}"]
            ax.plot(h["epoch"], val, label="held-out notes")
            best = int(val.idxmin())
            ax.plot(h["epoch"][best], val[best], "k*", ms=10, label=f"best held-out (epoch {int(h['epoch'][best])})")
        values = np.concatenate([sign * h[f"train_{key}"].to_numpy(), val.to_numpy() if f"val_{key}" in h else []])
        if np.all(values > 0) and values.max() / values.min() > 20:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("-ELBO per example (nats)" if key == "elbo" else "loss")
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(runs):]:
        ax.axis("off")
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_generation(table: pd.DataFrame):
    """The generation table (rows of :func:`helpers.evaluation.generation.generation_table`) as
    four panels of bars per (model, density): in-class and noise shares, median flatness and
    Fréchet distance as multiples of the recordings' flatness and of the real-vs-real floor (log
    scales, with the targets as dashed lines). Returns the figure (closed)."""
    import matplotlib.pyplot as plt

    names = [f"{r.model}\n{r.density}" for r in table.itertuples()]
    x = np.arange(len(names))
    fig, axes = plt.subplots(1, 4, figsize=(18, 3.6))
    panels = (("in_class", "in-class share at 0.9", 0.8, False), ("noise", "noise share at 0.9", 0.1, False),
              ("flatness_ratio", "median flatness / recordings'", 5.0, True),
              ("frechet_ratio", "Fréchet distance / real-vs-real floor", 3.0, True))
    for ax, (key, label, target, log) in zip(axes, panels):
        ax.bar(x, table[key], color="tab:blue")
        ax.axhline(target, color="k", ls="--", lw=1, label=f"target {target:g}")
        if log:
            ax.set_yscale("log")
        else:
            ax.set_ylim(0, 1)
        ax.set_xticks(x, names, fontsize=7)
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    per_bar = f"{int(table['n'].iloc[0])} per bar, " if "n" in table else ""
    fig.suptitle(f"Generated notes ({per_bar}scored by the instrument judge of their transform)")
    fig.tight_layout()
    plt.close(fig)
    return fig
