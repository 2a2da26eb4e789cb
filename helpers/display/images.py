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


def show_manifold(images, n: int | None = None, ax=None, eps: float = 0.05,
                  title: str = "latent manifold (z1 right, z2 up)"):
    """The ``n x n`` grid of :func:`helpers.evaluation.decode_manifold_grid` with z-axis ticks."""
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    x = _to_numpy(images)
    n = n or int(round(math.sqrt(len(x))))
    if n * n != len(x):
        raise ValueError(f"expected n * n images, got {len(x)} for n={n}")
    mosaic = tile_images(x, nrow=n, pad=0)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 7))
    z = norm.ppf(np.linspace(eps, 1 - eps, n))
    h, w = mosaic.shape[0] / n, mosaic.shape[1] / n
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ticks = np.arange(0, n, max(1, n // 5))
    ax.set_xticks(ticks * w + w / 2, [f"{z[i]:.1f}" for i in ticks])
    ax.set_yticks(ticks * h + h / 2, [f"{z[::-1][i]:.1f}" for i in ticks])
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title(title)
    return ax


def latent_scatter(points, labels=None, ax=None, title: str | None = None, s: float = 3.0,
                   cmap: str = "tab10", legend: bool = True, alpha: float = 0.7):
    """Scatter of 2-D codes (or projections), coloured by integer ``labels``; returns the Axes."""
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
            ax.legend(*sc.legend_elements(), loc="best", fontsize="small", markerscale=1.5)
    ax.set_aspect("equal", adjustable="datalim")
    if title:
        ax.set_title(title)
    return ax
