"""Latent maps coloured by a label: named categories in the legend, or a colour bar for numbers.

A thin layer over :func:`helpers.display.images.latent_scatter`, which colours by integer codes.
"""

from __future__ import annotations

import numpy as np

from helpers.display.images import latent_scatter


def latent_map(points, labels, ax=None, title: str | None = None, continuous: bool | None = None,
               label_name: str = "", s: float = 8.0, cmap: str | None = None, xlabel: str = "component 1",
               ylabel: str = "component 2"):
    """Scatter ``[N, 2]`` points coloured by ``labels`` (strings or numbers); returns the Axes.

    Categories (strings, or few distinct values) get a legend with their names; numbers
    (``continuous=True``, the default for numeric labels with more than 12 values) a colour bar.
    """
    import matplotlib.pyplot as plt

    labels = np.asarray(labels)
    if continuous is None:
        continuous = np.issubdtype(labels.dtype, np.number) and len(np.unique(labels)) > 12
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    if continuous:
        points = np.asarray(points)
        sc = ax.scatter(points[:, 0], points[:, 1], c=labels.astype(float), s=s, cmap=cmap or "viridis", alpha=0.8)
        ax.figure.colorbar(sc, ax=ax, label=label_name)
        ax.set_aspect("equal", adjustable="datalim")
        if title:
            ax.set_title(title)
    else:
        names = sorted(np.unique(labels).tolist(), key=str)
        codes = np.array([names.index(v) for v in labels.tolist()])
        latent_scatter(points, codes, ax=ax, title=title, s=s, legend=False,
                       cmap=cmap or ("tab10" if len(names) <= 10 else "tab20"))
        colours = ax.collections[-1].cmap(ax.collections[-1].norm(np.arange(len(names))))
        handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=str(n)) for c, n in zip(colours, names)]
        ax.legend(handles=handles, title=label_name or None, fontsize="small", loc="best", markerscale=1.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax
