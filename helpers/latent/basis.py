"""Directions to move along in a latent space: the principal axes of a set of codes."""

from __future__ import annotations

import torch


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


class CodeGaussian:
    """A full-covariance Gaussian fitted to codes ``z [N, D]`` (e.g. the posterior means of the
    training notes): a cheap stand-in for the aggregate posterior q(z) = E_x q(z|x).

    A VAE's prior N(0, I) and the region its codes actually fill differ when the KL per
    example is large: draws from the prior then land where the decoder was never trained.
    Sampling this Gaussian instead stays near the data (``temperature`` < 1 shrinks it further).

    >>> g = CodeGaussian.fit(codes)
    >>> z = g.sample(8, generator=torch.Generator().manual_seed(0))
    """

    def __init__(self, mean: torch.Tensor, scale_tril: torch.Tensor):
        self.mean, self.scale_tril = mean, scale_tril

    @classmethod
    def fit(cls, z: torch.Tensor, jitter: float = 1e-5) -> "CodeGaussian":
        z = torch.as_tensor(z, dtype=torch.float64)
        if z.dim() != 2 or len(z) < 2:
            raise ValueError(f"expected at least two codes as [N, D], got shape {tuple(z.shape)}")
        if not torch.isfinite(z).all():
            raise ValueError("codes contain NaN or Inf")
        mean = z.mean(0)
        cov = torch.cov(z.T).reshape(z.shape[1], z.shape[1])
        cov = cov + jitter * max(float(cov.diagonal().mean()), 1e-12) * torch.eye(z.shape[1], dtype=z.dtype)
        return cls(mean.float(), torch.linalg.cholesky(cov).float())

    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``[n, D]`` draws from N(mean, temperature^2 * cov)."""
        if n < 1 or temperature < 0:
            raise ValueError(f"need n >= 1 and temperature >= 0, got n={n}, temperature={temperature}")
        eps = torch.randn(n, len(self.mean), generator=generator)
        return self.mean + temperature * eps @ self.scale_tril.T
