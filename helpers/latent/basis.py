"""Directions to move along in a latent space: the principal axes of a set of codes."""

from __future__ import annotations

import torch

from ..models.priors import CodeGaussian  # noqa: F401  (re-exported: it lived here first)


def principal_basis(z: torch.Tensor, n_components: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean [D], basis [D, n])`` of codes ``z [N, D]``: the first ``n`` principal axes, each
    scaled by the standard deviation of the codes along it, so that a slider value of 1 moves
    one standard deviation of the data (the explorer's ``origin`` and ``basis``)."""
    z = torch.as_tensor(z, dtype=torch.float32)
    if z.dim() != 2 or len(z) < 2:
        raise ValueError(f"expected at least two codes as [N, D], got shape {tuple(z.shape)}")
    n = min(int(n_components), z.shape[1], len(z))
    mean = z.mean(0)
    _, s, v = torch.linalg.svd(z - mean, full_matrices=False)
    std = s[:n] / (len(z) - 1) ** 0.5
    return mean, v[:n].T * std
