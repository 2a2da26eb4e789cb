"""A grid of 2-D codes that covers where the data's codes are, and what it shows once decoded.

Kingma & Welling (2014, Fig. 4) decode a grid of prior quantiles; when the codes of a trained
model spread further than the prior (or less), such a grid shows only part of them. Here the grid
runs between quantiles of the codes themselves, and two numbers say how it relates to them: the
share of codes inside its span, and how many of its cells hold no code at all.
"""

from __future__ import annotations

import numpy as np
import torch


def code_quantile_grid(z: torch.Tensor, n: int = 20, lo: float = 0.005,
                       hi: float = 0.995) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """``(grid [n * n, 2], z1 values [n], z2 values [n])``: ``n`` evenly spaced values per axis
    between the ``lo`` and ``hi`` quantiles of the codes ``z [N, 2]`` on that axis.

    Row-major, first row at the top: the row index decreases z2, the column index increases z1,
    as :func:`helpers.display.images.show_manifold` draws it.
    """
    z = torch.as_tensor(z, dtype=torch.float64)
    if z.dim() != 2 or z.shape[1] != 2 or len(z) < 2:
        raise ValueError(f"expected at least two 2-D codes as [N, 2], got shape {tuple(z.shape)}")
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"need 0 <= lo < hi <= 1, got lo={lo}, hi={hi}")
    if n < 2:
        raise ValueError(f"n={n}: need at least 2 values per axis")
    q = torch.quantile(z, torch.tensor([lo, hi], dtype=torch.float64), dim=0)
    z1 = np.linspace(float(q[0, 0]), float(q[1, 0]), n)
    z2 = np.linspace(float(q[0, 1]), float(q[1, 1]), n)
    gy, gx = np.meshgrid(z2[::-1], z1, indexing="ij")
    grid = torch.tensor(np.stack([gx.reshape(-1), gy.reshape(-1)], axis=1), dtype=torch.float32)
    return grid, z1, z2


def grid_coverage(z: torch.Tensor, z1: np.ndarray, z2: np.ndarray) -> dict:
    """How a grid of cell centres ``z1 x z2`` relates to codes ``z [N, 2]``: ``inside`` (share of
    codes within the grid's outer cell edges), ``empty_cells`` (cells that hold no code),
    ``n_cells``, and the codes' range ``z_min``/``z_max`` per axis."""
    z = np.asarray(torch.as_tensor(z, dtype=torch.float64))
    edges = [_edges(np.asarray(v, dtype=float)) for v in (z1, z2)]
    counts, _, _ = np.histogram2d(z[:, 0], z[:, 1], bins=edges)
    return {"inside": float(counts.sum() / len(z)), "empty_cells": int((counts == 0).sum()),
            "n_cells": int(counts.size), "z_min": z.min(0).tolist(), "z_max": z.max(0).tolist()}


def neighbour_change(images: torch.Tensor, n: int, seed: int = 0) -> dict:
    """Mean absolute pixel difference between horizontally or vertically adjacent cells of an
    ``n x n`` decoded grid (``adjacent``), between random pairs of its cells (``random``) and
    their ratio: well below 1 when the decoded images change gradually across the grid."""
    x = torch.as_tensor(images, dtype=torch.float32).reshape(n, n, -1)
    adjacent = torch.cat([(x[:, 1:] - x[:, :-1]).abs().mean(-1).reshape(-1),
                          (x[1:] - x[:-1]).abs().mean(-1).reshape(-1)]).mean()
    flat = x.reshape(n * n, -1)
    g = torch.Generator().manual_seed(seed)
    i, j = torch.randint(0, n * n, (2, 4 * n * n), generator=g)
    keep = i != j
    random = (flat[i[keep]] - flat[j[keep]]).abs().mean(-1).mean()
    return {"adjacent": float(adjacent), "random": float(random), "ratio": float(adjacent / random)}


def _edges(centres: np.ndarray) -> np.ndarray:
    step = centres[1] - centres[0]
    return np.concatenate([centres - step / 2, [centres[-1] + step / 2]])
