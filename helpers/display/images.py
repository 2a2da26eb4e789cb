"""Image grids, the 2-D latent manifold and latent scatter plots (matplotlib)."""

from __future__ import annotations

import math

import numpy as np
import torch


def _to_numpy(images) -> np.ndarray:
    if isinstance(images, torch.Tensor):
        images = images.detach().float().cpu().numpy()
    return np.asarray(images, dtype=np.float32)


def tile_images(images, nrow: int | None = None, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """``[N, H, W]`` or ``[N, C, H, W]`` (C = 1 or 3) -> one ``[H', W']`` or ``[H', W', 3]`` mosaic.

    ``nrow`` images per row (default: a square-ish grid); missing cells are ``pad_value``.
    """
    x = _to_numpy(images)
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    elif x.ndim == 4 and x.shape[1] == 3:
        x = x.transpose(0, 2, 3, 1)
    elif x.ndim != 3:
        raise ValueError(f"expected [N, H, W] or [N, C, H, W] images, got shape {x.shape}")
    n = len(x)
    ncol = nrow or max(1, math.ceil(math.sqrt(n)))
    nrows = max(1, math.ceil(n / ncol))
    h, w = x.shape[1:3]
    shape = (nrows * (h + pad) + pad, ncol * (w + pad) + pad) + x.shape[3:]
    out = np.full(shape, pad_value, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, ncol)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = x[i]
    return out


def show_images(images, nrow: int | None = None, ax=None, title: str | None = None,
                cmap: str = "gray", vmin: float | None = 0.0, vmax: float | None = 1.0, pad: int = 1):
    """Show images as one grid; returns the matplotlib Axes."""
    import matplotlib.pyplot as plt

    mosaic = tile_images(images, nrow, pad, pad_value=vmax if vmax is not None else 1.0)
    if ax is None:
        size = min(10, max(3, mosaic.shape[1] / 40))
        _, ax = plt.subplots(figsize=(size, size * mosaic.shape[0] / mosaic.shape[1]))
    ax.imshow(mosaic, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def show_reconstructions(x, x_hat, n: int = 10, ax=None, title: str = "data (top) and reconstructions (bottom)"):
    """First ``n`` inputs on the top row, their reconstructions below; returns the Axes."""
    x, x_hat = _to_numpy(x)[:n], _to_numpy(x_hat)[:n]
    return show_images(np.concatenate([x, x_hat]), nrow=len(x), ax=ax, title=title)


def _tick(value: float) -> str:
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def show_manifold(images, n: int | None = None, ax=None, eps: float = 0.05,
                  title: str = "latent manifold (z1 right, z2 up)", z1=None, z2=None, n_ticks: int = 5):
    """The ``n x n`` grid of decoded images, first row at the top (z2 decreasing down the rows,
    z1 increasing along them), with the latent coordinates on the axes; returns the Axes.

    ``z1``/``z2``: the ``n`` values of each axis (e.g. from
    :func:`helpers.latent.grid.code_quantile_grid`); default: the prior quantiles of
    :func:`helpers.evaluation.decode_manifold_grid`, ``Phi^-1`` of ``n`` levels in [eps, 1 - eps].
    """
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    x = _to_numpy(images)
    n = n or int(round(math.sqrt(len(x))))
    if n * n != len(x):
        raise ValueError(f"expected n * n images, got {len(x)} for n={n}")
    prior = norm.ppf(np.linspace(eps, 1 - eps, n))
    z1 = prior if z1 is None else np.asarray(z1, dtype=float)
    z2 = prior if z2 is None else np.asarray(z2, dtype=float)
    if len(z1) != n or len(z2) != n:
        raise ValueError(f"z1 and z2 need n={n} values each, got {len(z1)} and {len(z2)}")
    mosaic = tile_images(x, nrow=n, pad=0)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 7))
    h, w = mosaic.shape[0] / n, mosaic.shape[1] / n
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ticks = np.unique(np.linspace(0, n - 1, min(n, n_ticks)).round().astype(int))
    ax.set_xticks(ticks * w + w / 2, [_tick(z1[i]) for i in ticks])
    ax.set_yticks(ticks * h + h / 2, [_tick(np.sort(z2)[::-1][i]) for i in ticks])
    ax.set_xlabel("z1 (centre of each cell)")
    ax.set_ylabel("z2 (centre of each cell)")
    ax.set_title(title)
    return ax


def latent_scatter(points, labels=None, ax=None, title: str | None = None, s: float = 3.0,
                   cmap: str = "tab10", legend: bool = True, alpha: float = 0.7,
                   xlabel: str | None = None, ylabel: str | None = None, legend_title: str | None = "label"):
    """Scatter of 2-D codes (or projections), coloured by integer ``labels``; returns the Axes.

    The legend goes outside the axes, on the right, so that it never hides points.
    """
    import matplotlib.pyplot as plt

    p = _to_numpy(points)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"expected [N, 2] points, got shape {p.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    if labels is None:
        ax.scatter(p[:, 0], p[:, 1], s=s, alpha=alpha)
    else:
        lab = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
        sc = ax.scatter(p[:, 0], p[:, 1], c=lab, s=s, cmap=cmap, alpha=alpha)
        if legend:
            ax.legend(*sc.legend_elements(), loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                      markerscale=1.5, title=legend_title, borderaxespad=0.0)
    ax.set_aspect("equal", adjustable="datalim")
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def manifold_and_codes(images, z1, z2, codes, labels=None, title: str = "2-D model", s: float = 1.5):
    """Left: the decoded grid (:func:`show_manifold`) at cell centres ``z1 x z2``; right: the codes
    ``[N, 2]`` by label, on the same z ranges extended to every code, with the grid's span drawn
    as a rectangle. Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    z1, z2 = np.asarray(z1, dtype=float), np.asarray(z2, dtype=float)
    c = _to_numpy(codes)
    fig, axes = plt.subplots(1, 2, figsize=(15, 6.8))
    show_manifold(images, n=len(z1), ax=axes[0], z1=z1, z2=z2,
                  title=f"{title}: E[x|z] on a {len(z1)} x {len(z2)} grid (z1 right, z2 up)")
    latent_scatter(c, labels, ax=axes[1], s=s, title=f"{title}: E_q[z|x] of test digits, by label",
                   xlabel="z1", ylabel="z2")
    h1, h2 = (z1[1] - z1[0]) / 2, (z2[1] - z2[0]) / 2
    axes[1].add_patch(Rectangle((z1[0] - h1, z2[0] - h2), z1[-1] - z1[0] + 2 * h1, z2[-1] - z2[0] + 2 * h2,
                                fill=False, ec="k", lw=1.2, ls="--", label="span of the decoded grid"))
    axes[1].text(z1[0] - h1, z2[-1] + h2, "span of the decoded grid (dashed)\n", va="bottom", fontsize="small")
    axes[1].grid(alpha=0.3)
    fig.tight_layout()
    return fig
