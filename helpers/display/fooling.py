"""Figures of notebook 06: the judge's confusion matrix, the ambiguity-versus-realism trade-off of
the fine-tuned copies, and the curves measured along fine-tuning and adversarial training."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

LABELS = {"entropy_ratio": "class entropy / log K", "noise_share": "noise share (measuring judge)",
          "frechet": "Fréchet distance to real (judge features)", "diversity": "diversity (x real spread)",
          "p_generated": 'p("generated"), section 1 head', "p_generated_live": 'p("generated"), live classifier',
          "count_out": "out-of-class share (p > 0.9)", "count_in": "in-class share (p > 0.9)"}


def plot_confusion(matrix, classes: Sequence[str], ax=None, title: str | None = None):
    """Row-normalised confusion matrix (true class in rows), with the counts' row totals."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(classes):
        raise ValueError(f"a square matrix over {len(classes)} classes expected, got shape {m.shape}")
    share = m / np.maximum(m.sum(1, keepdims=True), 1)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.45 * len(classes) + 2, 0.45 * len(classes) + 1.5))
    im = ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), [f"{c} ({int(n)})" for c, n in zip(classes, m.sum(1))], fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (held-out examples)")
    plt.colorbar(im, ax=ax, fraction=0.046, label="share of the row")
    if title:
        ax.set_title(title)
    return ax


def plot_ambiguity_tradeoff(table, ax=None, title: str | None = None, x: str = "frechet", y: str = "entropy_ratio",
                            colour: str = "noise_share"):
    """One point per fine-tuned copy (and the original, a star): ``y`` (class entropy / log K)
    against ``x`` (Fréchet distance to real examples), coloured by ``colour`` (noise share);
    copies of the same realism term joined in order of weight."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.5))
    sc = None
    for realism, part in table.groupby("realism", sort=False):
        if realism == "-":
            continue
        part = part.sort_values("weight")
        ax.plot(part[x], part[y], "-", color="0.7", lw=1, zorder=1)
        sc = ax.scatter(part[x], part[y], c=part[colour], cmap="viridis", vmin=0, vmax=1, s=60,
                        marker="o" if realism == "elbo" else "s", edgecolor="k", zorder=2,
                        label=f"realism term: {realism}")
        for name, r in part.iterrows():
            ax.annotate(f"{r.weight:g}", (r[x], r[y]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    if "original" in table.index:
        o = table.loc["original"]
        ax.scatter([o[x]], [o[y]], marker="*", s=220, c=[o[colour]], cmap="viridis", vmin=0, vmax=1,
                   edgecolor="k", zorder=3, label="original decoder")
    if sc is not None:
        plt.colorbar(sc, ax=ax, label=LABELS.get(colour, colour))
    ax.axhline(1.0, color="0.5", ls=":", lw=1)
    ax.set_xlabel(LABELS.get(x, x))
    ax.set_ylabel(LABELS.get(y, y) + " (1 = no class in particular)")
    ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title)
    return ax


def plot_run_curves(curves: dict, measures: Sequence[str] = ("entropy_ratio", "noise_share", "frechet"),
                    x_label: str = "fine-tuning step", title: str | None = None, size: tuple = (4.2, 3.0)):
    """One panel per measure, one line per run (``curves``: run name -> probe rows with ``step``)."""
    measures = [m for m in measures if any(m in c for c in curves.values())]
    if not measures:
        raise ValueError("none of the measures is in the curves")
    fig, axes = plt.subplots(1, len(measures), figsize=(size[0] * len(measures), size[1]), squeeze=False)
    for ax, m in zip(axes[0], measures):
        for name, c in curves.items():
            if m in c:
                ax.plot(c["step"], c[m], marker=".", ms=3, label=name)
        ax.set_xlabel(x_label)
        ax.set_ylabel(LABELS.get(m, m))
        if m in ("entropy_ratio", "noise_share", "p_generated", "p_generated_live"):
            ax.set_ylim(-0.02, 1.02)
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.9) if title else None)
    return fig
