"""Densities over latent codes: the VAE prior, and models of the aggregate posterior.

A VAE is trained with a prior p(z) = N(0, I), but its encoder fills only part of that space:
the aggregate posterior q(z) = E_x q(z|x) (Hoffman & Johnson, 2016, "ELBO surgery"). Draws from
the prior that land where q(z) is low decode to what the decoder never learned. Fitting a density
to the training codes and sampling it instead is the two-stage remedy of Dai & Wipf (2019,
"Diagnosing and enhancing VAE models"), here with a Gaussian or a Gaussian mixture.

Every density has the same small interface, so samplers, regions and measures do not care which:

- ``sample(n, generator=None, temperature=1.0) -> z [n, D]``
- ``log_prob(z) -> [N]`` (natural log density)
- ``dim`` (D)

>>> q = CodeMixture.fit(codes)              # components chosen by held-out log-likelihood
>>> z = q.sample(1000, generator=torch.Generator().manual_seed(0))
>>> low = q.log_prob(StandardNormal(q.dim).sample(4000)) < threshold   # "holes" of the prior
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

LOG_2PI = math.log(2 * math.pi)


def _codes(z, name: str = "z") -> torch.Tensor:
    z = torch.as_tensor(z, dtype=torch.float64)
    if z.dim() != 2 or len(z) < 2:
        raise ValueError(f"expected at least two codes as [N, D] for {name}, got shape {tuple(z.shape)}")
    if not torch.isfinite(z).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return z


def _check_draw(n: int, temperature: float) -> None:
    if int(n) < 1 or temperature < 0:
        raise ValueError(f"need n >= 1 and temperature >= 0, got n={n}, temperature={temperature}")


def _gaussian_log_prob(z: torch.Tensor, mean: torch.Tensor, scale_tril: torch.Tensor) -> torch.Tensor:
    """log N(z; mean, L L^T) for ``z [N, D]`` (float64 inside)."""
    z = torch.as_tensor(z, dtype=torch.float64)
    L = scale_tril.double()
    diff = (z - mean.double()).T                                     # [D, N]
    sol = torch.linalg.solve_triangular(L, diff, upper=False)        # L^-1 (z - m)
    maha = (sol ** 2).sum(0)
    log_det = 2 * torch.log(torch.diagonal(L)).sum()
    return -0.5 * (maha + log_det + z.shape[1] * LOG_2PI)


class StandardNormal:
    """The VAE prior N(0, I) in ``dim`` dimensions, with the same interface as the fitted densities."""

    def __init__(self, dim: int):
        if int(dim) < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = int(dim)

    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        _check_draw(n, temperature)
        return temperature * torch.randn(int(n), self.dim, generator=generator)

    def log_prob(self, z) -> torch.Tensor:
        z = torch.as_tensor(z, dtype=torch.float64)
        return -0.5 * ((z ** 2).sum(1) + self.dim * LOG_2PI)

    def __repr__(self) -> str:
        return f"StandardNormal(dim={self.dim})"


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

    @property
    def dim(self) -> int:
        return len(self.mean)

    @classmethod
    def fit(cls, z: torch.Tensor, jitter: float = 1e-5) -> CodeGaussian:
        z = _codes(z)
        mean = z.mean(0)
        cov = torch.cov(z.T).reshape(z.shape[1], z.shape[1])
        cov = cov + jitter * max(float(cov.diagonal().mean()), 1e-12) * torch.eye(z.shape[1], dtype=z.dtype)
        return cls(mean.float(), torch.linalg.cholesky(cov).float())

    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``[n, D]`` draws from N(mean, temperature^2 * cov)."""
        _check_draw(n, temperature)
        eps = torch.randn(int(n), len(self.mean), generator=generator)
        return self.mean + temperature * eps @ self.scale_tril.T

    def log_prob(self, z) -> torch.Tensor:
        """log N(z; mean, cov), ``[N]``."""
        return _gaussian_log_prob(z, self.mean, self.scale_tril)

    def __repr__(self) -> str:
        return f"CodeGaussian(dim={self.dim})"


class CodeMixture:
    """A Gaussian mixture (full covariances) fitted to codes by EM, its number of components chosen
    by the log-likelihood of held-out codes: the aggregate posterior when it is not one blob
    (several instruments, several digits).

    Attributes:
        weights ``[K]``, means ``[K, D]``, scale_trils ``[K, D, D]``.
        selection: ``{n_components: mean held-out log-likelihood per code}`` of the candidates tried.
    """

    def __init__(self, weights: torch.Tensor, means: torch.Tensor, scale_trils: torch.Tensor,
                 selection: dict | None = None):
        if not (len(weights) == len(means) == len(scale_trils)):
            raise ValueError("weights, means and scale_trils must have one entry per component")
        self.weights, self.means, self.scale_trils = weights.float(), means.float(), scale_trils.float()
        self.selection = dict(selection or {})

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def n_components(self) -> int:
        return len(self.weights)

    @staticmethod
    def _em(z: np.ndarray, k: int, seed: int, reg: float):
        from sklearn.mixture import GaussianMixture

        return GaussianMixture(n_components=k, covariance_type="full", reg_covar=reg, random_state=seed,
                               max_iter=100, n_init=1).fit(z)

    @classmethod
    def fit(cls, z, n_components: int | Sequence[int] = (1, 2, 4, 8, 16), val_fraction: float = 0.2,
            seed: int = 0, reg: float = 1e-4) -> CodeMixture:
        """Fit on ``z [N, D]``. With several candidate ``n_components``, each is fitted on a random
        ``1 - val_fraction`` of the codes and scored on the rest; the best is refitted on all codes.
        Candidates with fewer than 2 codes per free parameter dimension are skipped."""
        z = _codes(z).numpy()
        candidates = [int(n_components)] if np.isscalar(n_components) else sorted({int(k) for k in n_components})
        if not candidates or min(candidates) < 1:
            raise ValueError(f"n_components must be >= 1, got {n_components}")
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        selection = {}
        if len(candidates) > 1:
            order = np.random.default_rng(seed).permutation(len(z))
            n_val = max(1, int(round(val_fraction * len(z))))
            val, train = z[order[:n_val]], z[order[n_val:]]
            for k in candidates:
                if len(train) < 2 * k * (z.shape[1] + 1):
                    continue
                selection[k] = float(cls._em(train, k, seed, reg).score(val))
            if not selection:
                raise ValueError(f"too few codes ({len(z)}) for any of n_components={candidates}")
            best = max(selection, key=selection.get)
        else:
            best = candidates[0]
            if len(z) < best + 1:
                raise ValueError(f"too few codes ({len(z)}) for n_components={best}")
        gm = cls._em(z, best, seed, reg)
        chol = torch.linalg.cholesky(torch.as_tensor(gm.covariances_, dtype=torch.float64))
        return cls(torch.as_tensor(gm.weights_), torch.as_tensor(gm.means_), chol, selection)

    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """``[n, D]``: a component by its weight, then a draw of it (covariance scaled by temperature^2)."""
        _check_draw(n, temperature)
        k = torch.multinomial(self.weights, int(n), replacement=True, generator=generator)
        eps = torch.randn(int(n), self.dim, generator=generator)
        return self.means[k] + temperature * torch.einsum("nij,nj->ni", self.scale_trils[k], eps)

    def log_prob(self, z) -> torch.Tensor:
        """log sum_k w_k N(z; m_k, C_k), ``[N]``."""
        parts = torch.stack([_gaussian_log_prob(z, m, L) for m, L in zip(self.means, self.scale_trils)], 1)
        return torch.logsumexp(parts + torch.log(self.weights.double()), 1)

    def __repr__(self) -> str:
        return f"CodeMixture(dim={self.dim}, n_components={self.n_components})"


DENSITIES = ("prior", "gaussian", "mixture")
#: every density :func:`fit_density` knows: :data:`DENSITIES` and the kernel density ("kde")
ALL_DENSITIES = DENSITIES + ("kde",)


def fit_density(kind: str, z, **kwargs):
    """``"prior"`` (N(0, I) in z's dimension), ``"gaussian"`` (:class:`CodeGaussian`), ``"mixture"``
    (:class:`CodeMixture`) or ``"kde"`` (:class:`CodeKDE`), keyword arguments passed on, fitted to
    codes ``z [N, D]``."""
    if kind == "prior":
        return StandardNormal(torch.as_tensor(z).shape[-1])
    if kind == "gaussian":
        return CodeGaussian.fit(z, **kwargs)
    if kind == "mixture":
        return CodeMixture.fit(z, **kwargs)
    if kind == "kde":
        return CodeKDE.fit(z, **kwargs)
    raise ValueError(f"unknown density kind={kind!r}; choose one of {ALL_DENSITIES}")


def density_state(density) -> dict:
    """A fitted density as plain tensors (``torch.save``-able, loadable with ``weights_only=True``);
    :func:`density_from_state` rebuilds it."""
    if isinstance(density, StandardNormal):
        return {"kind": "prior", "dim": torch.tensor(density.dim)}
    if isinstance(density, CodeGaussian):
        return {"kind": "gaussian", "mean": density.mean, "scale_tril": density.scale_tril}
    if isinstance(density, CodeMixture):
        return {"kind": "mixture", "weights": density.weights, "means": density.means,
                "scale_trils": density.scale_trils}
    if isinstance(density, CodeKDE):
        return {"kind": "kde", "centres": density.centres, "scale_tril": density.scale_tril,
                "bandwidth": torch.tensor(density.bandwidth)}
    raise TypeError(f"no saved form for a density of type {type(density).__name__}")


def density_from_state(state: dict):
    """Inverse of :func:`density_state`."""
    kind = state.get("kind")
    if kind == "prior":
        return StandardNormal(int(state["dim"]))
    if kind == "gaussian":
        return CodeGaussian(state["mean"], state["scale_tril"])
    if kind == "mixture":
        return CodeMixture(state["weights"], state["means"], state["scale_trils"])
    if kind == "kde":
        return CodeKDE(state["centres"], state["scale_tril"], float(state["bandwidth"]))
    raise ValueError(f"unknown density kind={kind!r} in a saved state; expected one of {ALL_DENSITIES}")


class CodeKDE:
    """A Gaussian kernel density over codes (Parzen, 1962): an equal mixture of N(z_i, h^2 C), one
    kernel per training code ``z_i``, with ``C`` the codes' covariance and the bandwidth ``h``
    chosen by the log-likelihood of held-out codes. The closest estimate of the aggregate
    posterior q(z) = E_x q(z|x) (Hoffman & Johnson, 2016) that stays a density: a draw is a
    training code moved by a kernel-sized step, so it lands where the decoder was trained.

    Attributes:
        centres ``[N, D]``, scale_tril ``[D, D]`` (Cholesky factor of ``h^2 C``), bandwidth ``h``,
        selection: ``{h: mean held-out log-likelihood per code}`` of the candidates tried.
    """

    def __init__(self, centres: torch.Tensor, scale_tril: torch.Tensor, bandwidth: float = float("nan"),
                 selection: dict | None = None):
        self.centres, self.scale_tril = centres.float(), scale_tril.float()
        self.bandwidth, self.selection = float(bandwidth), dict(selection or {})

    @property
    def dim(self) -> int:
        return self.centres.shape[1]

    @staticmethod
    def _log_prob(z, centres: torch.Tensor, scale_tril: torch.Tensor, chunk: int = 512) -> torch.Tensor:
        z = torch.as_tensor(z, dtype=torch.float64)
        L = scale_tril.double()
        c = torch.linalg.solve_triangular(L, centres.double().T, upper=False).T     # [N, D] whitened
        log_det = 2 * torch.log(torch.diagonal(L)).sum()
        out = []
        for part in z.split(chunk):
            w = torch.linalg.solve_triangular(L, part.T, upper=False).T            # [M, D]
            d2 = torch.cdist(w, c) ** 2                                              # [M, N]
            out.append(torch.logsumexp(-0.5 * d2, 1) - math.log(len(c)) - 0.5 * (log_det + z.shape[1] * LOG_2PI))
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)

    @classmethod
    def fit(cls, z, bandwidths: Sequence[float] = (0.05, 0.1, 0.2, 0.3, 0.5), val_fraction: float = 0.2,
            seed: int = 0, jitter: float = 1e-5) -> CodeKDE:
        """Fit on ``z [N, D]``; each candidate bandwidth is scored on a random ``val_fraction`` of
        the codes with the kernels on the rest, and the best is kept with kernels on all codes."""
        z = _codes(z)
        if not bandwidths or min(bandwidths) <= 0:
            raise ValueError(f"bandwidths must be > 0, got {bandwidths}")
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        cov = torch.cov(z.T).reshape(z.shape[1], z.shape[1])
        cov = cov + jitter * max(float(cov.diagonal().mean()), 1e-12) * torch.eye(z.shape[1], dtype=z.dtype)
        L = torch.linalg.cholesky(cov)
        selection = {}
        if len(bandwidths) > 1:
            order = torch.randperm(len(z), generator=torch.Generator().manual_seed(seed))
            n_val = max(1, int(round(val_fraction * len(z))))
            val, train = z[order[:n_val]], z[order[n_val:]]
            for h in sorted({float(b) for b in bandwidths}):
                selection[h] = float(cls._log_prob(val, train, h * L).mean())
            best = max(selection, key=selection.get)
        else:
            best = float(bandwidths[0])
        return cls(z.float(), (best * L).float(), best, selection)

    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """``[n, D]``: a training code at random, plus a kernel draw (its scale times temperature)."""
        _check_draw(n, temperature)
        i = torch.randint(len(self.centres), (int(n),), generator=generator)
        eps = torch.randn(int(n), self.dim, generator=generator)
        return self.centres[i] + temperature * eps @ self.scale_tril.T

    def log_prob(self, z) -> torch.Tensor:
        """log (1/N) sum_i N(z; z_i, h^2 C), ``[M]``."""
        return self._log_prob(z, self.centres, self.scale_tril)

    def __repr__(self) -> str:
        return f"CodeKDE(dim={self.dim}, n={len(self.centres)}, bandwidth={self.bandwidth:g})"
