"""The latent space of a trained VAE: codes, active units, the 2-D manifold grid, projections."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch


@torch.no_grad()
def encode_dataset(model, x: torch.Tensor, batch_size: int = 1000,
                   transform: Callable | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, logvar) of q(z|x) for a whole dataset, on the CPU, ``[N, z_dim]`` each."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    mus, logvars = [], []
    try:
        for start in range(0, len(x), batch_size):
            xb = x[start:start + batch_size].to(device)
            if transform is not None:
                xb = transform(xb)
            mu, logvar = model.encode(xb)
            mus.append(mu.float().cpu())
            logvars.append(logvar.float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(mus), torch.cat(logvars)


def active_units(model, x: torch.Tensor, threshold: float = 0.01, batch_size: int = 1000,
                 transform: Callable | None = None) -> tuple[int, torch.Tensor]:
    """Units u with A_u = Cov_x(E_q[z_u]) > threshold (Burda et al., 2016, Sec. 5.2): (count, A)."""
    mu, _ = encode_dataset(model, x, batch_size, transform)
    activity = mu.double().var(0, unbiased=False).float()
    return int((activity > threshold).sum()), activity


def manifold_grid_z(n: int = 20, z_dim: int = 2, dims: tuple[int, int] = (0, 1),
                    eps: float = 0.05) -> torch.Tensor:
    """``[n * n, z_dim]`` codes on an n x n grid: linearly spaced quantiles in [eps, 1 - eps] through
    the inverse normal CDF (Kingma & Welling, 2014, Fig. 4), in ``dims``, zeros elsewhere.

    Row-major, first row at the top: the row index decreases z[dims[1]], the column index
    increases z[dims[0]], as on a plot with the y axis pointing up.
    """
    q = torch.linspace(eps, 1 - eps, n)
    values = torch.distributions.Normal(0.0, 1.0).icdf(q)
    gy, gx = torch.meshgrid(values.flip(0), values, indexing="ij")
    z = torch.zeros(n * n, z_dim)
    z[:, dims[0]] = gx.reshape(-1)
    z[:, dims[1]] = gy.reshape(-1)
    return z


@torch.no_grad()
def decode_manifold_grid(model, n: int = 20, dims: tuple[int, int] = (0, 1), eps: float = 0.05) -> torch.Tensor:
    """E[x|z] over :func:`manifold_grid_z`: ``[n * n, *x_shape]`` (the 2-D latent manifold of K&W 2014)."""
    was_training = model.training
    model.eval()
    try:
        z = manifold_grid_z(n, model.z_dim, dims, eps)
        return model.decode_to_x(z).cpu()
    finally:
        model.train(was_training)


def project_latent(z: torch.Tensor | np.ndarray, method: str = "pca", n_components: int = 2,
                   seed: int = 0, **umap_kwargs) -> np.ndarray:
    """2-D (or ``n_components``) projection of codes for a scatter: the codes themselves when they
    already have that many dimensions, else PCA (scikit-learn) or UMAP (McInnes et al., 2018)."""
    z = np.asarray(z.detach().cpu() if isinstance(z, torch.Tensor) else z, dtype=np.float32)
    if z.shape[1] <= n_components:
        return z
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=n_components, random_state=seed).fit_transform(z)
    if method == "umap":
        import umap

        # a seeded UMAP runs on one thread anyway; saying so avoids its warning on every call
        umap_kwargs.setdefault("n_jobs", 1)
        return umap.UMAP(n_components=n_components, random_state=seed, **umap_kwargs).fit_transform(z)
    raise ValueError(f"method={method!r}: expected 'pca' or 'umap'")


@torch.no_grad()
def reconstructions(model, x: torch.Tensor, transform: Callable | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs as the model saw them, E[x|z = posterior mean]), both on the CPU."""
    was_training = model.training
    model.eval()
    try:
        xb = x.to(next(model.parameters()).device)
        if transform is not None:
            xb = transform(xb)
        return xb.cpu(), model.reconstruct(xb).cpu()
    finally:
        model.train(was_training)


@torch.no_grad()
def prior_samples(model, n: int = 64, mean: bool = True, seed: int | None = 0) -> torch.Tensor:
    """n decoded draws z ~ N(0, I): E[x|z] (``mean=True``) or x ~ p(x|z), on the CPU."""
    was_training = model.training
    model.eval()
    try:
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        z = torch.randn(n, model.z_dim, generator=g)
        return model.decode_to_x(z, mean=mean).cpu()
    finally:
        model.train(was_training)


def neighbour_agreement(points, labels, k: int = 10, tolerance: float | None = None) -> tuple[float, float]:
    """How well a 2-D map keeps notes that share a label together: ``(agreement, chance)``.

    ``agreement``: the share of each point's ``k`` nearest neighbours in ``points [N, d]`` that
    have the same label (or, with ``tolerance``, a numeric label within ``tolerance`` of it,
    e.g. a pitch within a semitone), averaged over points (a kNN purity). ``chance``: the same
    share over all pairs of distinct points, what a map that ignored the label would score.
    """
    from sklearn.neighbors import NearestNeighbors

    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    if points.ndim != 2 or len(points) != len(labels):
        raise ValueError(f"points must be [N, d] with one label per row; got {points.shape} and {len(labels)} labels")
    if not 1 <= k < len(points):
        raise ValueError(f"k={k}: need 1 <= k < number of points ({len(points)})")

    def same(a, b):
        if tolerance is None:
            return a == b
        return np.abs(a.astype(np.float64) - b.astype(np.float64)) <= tolerance

    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)
    neighbours = idx[:, 1:]  # drop the point itself
    agreement = float(same(labels[:, None], labels[neighbours]).mean())
    pairs = same(labels[:, None], labels[None, :])
    n = len(labels)
    chance = float((pairs.sum() - n) / (n * (n - 1)))
    return agreement, chance
