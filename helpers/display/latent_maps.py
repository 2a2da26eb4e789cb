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

    Categories (strings, or few distinct values) get a legend with their names, outside the axes
    on the right so that it hides no point; numbers
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
        ax.legend(handles=handles, title=label_name or None, fontsize="small", loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, markerscale=1.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def plot_latent_maps(z, labels, methods=("pca", "umap"), seed: int = 0, title: str = "test codes E_q[z|x]",
                     s: float = 6.0):
    """One scatter per projection ``method`` of the codes ``z [N, D]`` to 2-D (PCA, UMAP...; see
    :func:`helpers.evaluation.project_latent`), coloured by integer ``labels`` with one legend
    outside the last panel. Returns ``(figure, {method: points [N, 2]})``."""
    import warnings

    import matplotlib.pyplot as plt

    from helpers.evaluation import project_latent

    methods = tuple(methods)
    if not methods:
        raise ValueError("methods is empty: name at least one projection, e.g. ('pca',)")
    fig, axes = plt.subplots(1, len(methods), figsize=(6.5 * len(methods) + 1.2, 6), squeeze=False)
    points = {}
    for i, (ax, method) in enumerate(zip(axes[0], methods)):
        with warnings.catch_warnings():  # UMAP notes once per call that a fixed seed runs single-threaded
            warnings.simplefilter("ignore", UserWarning)
            points[method] = project_latent(z, method, seed=seed)
        latent_scatter(points[method], labels, ax=ax, s=s, legend=i == len(methods) - 1,
                       title=f"{title}, {method.upper()} to 2-D", xlabel=f"{method.upper()} component 1",
                       ylabel=f"{method.upper()} component 2")
    fig.tight_layout()
    return fig, points
