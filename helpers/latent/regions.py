"""Latent regions: which parts of a VAE's latent space decode to something new?

A VAE decodes well where its encoder put training codes, the aggregate posterior
q(z) = E_x q(z|x) (Hoffman & Johnson, 2016). Novel outputs, if any, come from elsewhere. Every
region here is a *sampler*: it has a ``name``, the ``parameter`` that sets how far it reaches
(its name, e.g. ``"radius"``) and that parameter's ``value``, and ``sample(n, generator=None)
-> z [n, D]``, so :func:`helpers.evaluation.sweeps.measure_samplers` can decode and judge any of
them the same way.

- :func:`data_region`: draws of a density fitted to the training codes (the two-stage sampler of
  Dai & Wipf, 2019): what the model knows.
- :func:`holes`: prior draws where the code density is lowest, i.e. prior-likely but
  posterior-unlikely ("holes" in the aggregate posterior, Rezende & Viola, 2018).
- :func:`shell`: uniform directions at ``|z| = radius sqrt(D)``; a D-dimensional standard normal
  concentrates near ``|z| = sqrt(D)`` (the typical set), so ``radius > 1`` lies beyond it.
- :func:`inactive`: the dimensions the encoder does not use (KL ~ 0, "posterior collapse",
  Burda et al., 2016) pushed far from zero.
- :func:`extrapolation`: ``z_a + t (z_b - z_a)`` beyond pairs of codes (t > 1).

>>> q = CodeMixture.fit(codes)
>>> regions = {"data": data_region(q), "holes": holes(q, q.dim), "shell 2": shell(q.dim, 2.0)}
>>> z = regions["holes"].sample(1000, generator=torch.Generator().manual_seed(0))
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from tqdm.auto import tqdm

from helpers.models.priors import StandardNormal

__all__ = ["Region", "data_region", "holes", "shell", "inactive", "extrapolation", "kl_per_dimension",
           "inactive_dimensions", "distance_to_data", "mahalanobis_norm"]


def _check_n(n) -> int:
    if int(n) != n or int(n) < 1:
        raise ValueError(f"n={n}: the number of draws must be a positive integer")
    return int(n)


def _density_dim(density, name: str = "density") -> int:
    if not (hasattr(density, "sample") and hasattr(density, "log_prob")):
        raise ValueError(f"{name} must have sample(n, generator=...) and log_prob(z) "
                         f"(e.g. helpers.models.priors.CodeMixture), got {type(density).__name__}")
    return int(density.dim)


class Region:
    """A sampler of latent codes with one region parameter.

    Attributes:
        name: what the region is (``"data"``, ``"holes"``, ``"shell"``, ``"inactive"``, ``"extrapolation"``).
        parameter: the name of its parameter (``"temperature"``, ``"quantile"``, ``"radius"``, ``"push"``, ``"t"``).
        value: that parameter's value.
        dim: latent size D.
    """

    def __init__(self, name: str, parameter: str, value: float, dim: int,
                 draw: Callable[[int, torch.Generator | None], torch.Tensor]):
        self.name, self.parameter, self.value, self.dim = name, parameter, float(value), int(dim)
        self._draw = draw

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` codes of the region, ``[n, D]`` float32 (deterministic given a seeded ``generator``)."""
        return self._draw(_check_n(n), generator).float()

    def __repr__(self) -> str:
        return f"Region({self.name!r}, {self.parameter}={self.value:g}, dim={self.dim})"


# ----------------------------------------------------------------------------- the regions


def data_region(density, temperature: float = 1.0) -> Region:
    """Draws of a density of the training codes (``CodeGaussian``, ``CodeMixture``...): the region the
    decoder was trained on (Dai & Wipf, 2019, two-stage VAE); ``temperature`` scales its spread."""
    dim = _density_dim(density)
    if not temperature >= 0:
        raise ValueError(f"temperature={temperature}: expected >= 0")
    return Region("data", "temperature", temperature, dim,
                  lambda n, g: density.sample(n, generator=g, temperature=temperature))


def holes(density, dim: int, quantile: float = 0.05, oversample: int = 20, prior_quantile: float = 0.0,
          n_calibration: int = 20000, max_rounds: int = 100) -> Region:
    """Prior draws z ~ N(0, I) kept where the code density is low: ``log q(z)`` below its
    ``quantile`` over prior draws, i.e. codes the prior proposes but the encoder never used (the
    "holes" of the aggregate posterior, Hoffman & Johnson, 2016; Rezende & Viola, 2018).

    The lowest ``log q`` among prior draws tends to come from the prior's own tail when q is
    narrower than the prior; ``prior_quantile`` > 0 keeps only prior draws with ``log p(z)`` above
    that quantile of the prior's (e.g. 0.5: its more likely half), so the holes are prior-likely
    by construction. Both thresholds are fixed once, on ``n_calibration`` prior draws (seed 0),
    so the region is a set: ``sample(n)`` draws ``n * oversample`` prior codes per round (about
    ``n`` kept per round when ``oversample >= 1 / quantile``) until ``n`` are kept.
    ``threshold`` holds the log density q below which a code counts as a hole.
    """
    d = _density_dim(density)
    if int(dim) != d:
        raise ValueError(f"dim={dim} but the density has dimension {d}")
    if not 0 < quantile < 1:
        raise ValueError(f"quantile={quantile}: expected 0 < quantile < 1")
    if not 0 <= prior_quantile < 1:
        raise ValueError(f"prior_quantile={prior_quantile}: expected 0 <= prior_quantile < 1")
    if int(oversample) < 1:
        raise ValueError(f"oversample={oversample}: expected an integer >= 1")
    if int(n_calibration) * quantile * (1 - prior_quantile) < 10:
        raise ValueError(f"n_calibration={n_calibration} is too small for quantile={quantile}")
    prior = StandardNormal(d)
    calib = prior.sample(int(n_calibration), generator=torch.Generator().manual_seed(0))
    log_p = prior.log_prob(calib)
    prior_floor = float(torch.quantile(log_p, prior_quantile)) if prior_quantile > 0 else -math.inf
    threshold = float(torch.quantile(density.log_prob(calib[log_p >= prior_floor]).double(), quantile))

    def draw(n, g):
        kept, total = [], 0
        for _ in range(int(max_rounds)):
            z = prior.sample(n * int(oversample), generator=g)
            z = z[(density.log_prob(z) <= threshold) & (prior.log_prob(z) >= prior_floor)]
            kept.append(z)
            total += len(z)
            if total >= n:
                return torch.cat(kept)[:n]
        raise RuntimeError(f"holes: only {total} of {n} draws fell below the threshold after {max_rounds} "
                           f"rounds; raise oversample={oversample}")

    region = Region("holes", "quantile", quantile, d, draw)
    region.threshold, region.prior_floor = threshold, prior_floor
    return region


def shell(dim: int, radius: float) -> Region:
    """Uniform directions at ``|z| = radius * sqrt(dim)``: a standard normal in D dimensions has
    ``|z| ~ sqrt(D)`` (its typical set; Vershynin, 2018, Thm 3.1.1), so ``radius`` 1 is the shell the
    prior's draws lie on and 2-3 lies far beyond any training code."""
    if int(dim) != dim or int(dim) < 1:
        raise ValueError(f"dim={dim}: expected a positive integer")
    if not radius > 0:
        raise ValueError(f"radius={radius}: expected > 0 (in units of sqrt(dim))")
    dim = int(dim)

    def draw(n, g):
        u = torch.randn(n, dim, generator=g)
        return u / u.norm(dim=1, keepdim=True).clamp_min(1e-12) * (radius * math.sqrt(dim))

    return Region("shell", "radius", radius, dim, draw)


def inactive_dimensions(kl_per_dim, threshold: float = 0.01) -> torch.Tensor:
    """Indices of the latent dimensions whose mean KL (nats) is below ``threshold``: the units the
    encoder leaves at the prior (Burda et al., 2016, Sec. 5.2, by KL instead of variance)."""
    kl = torch.as_tensor(kl_per_dim, dtype=torch.float64)
    if kl.dim() != 1 or not len(kl):
        raise ValueError(f"kl_per_dim must be one value per latent dimension [D], got shape {tuple(kl.shape)}")
    if not threshold > 0:
        raise ValueError(f"threshold={threshold}: expected > 0 nats")
    return torch.nonzero(kl < threshold).flatten()


def inactive(kl_per_dim, push: float, threshold: float = 0.01, base=None, at_least: int = 0) -> Region:
    """Codes from ``base`` (a code density; default the prior N(0, I)) with every inactive dimension
    (KL < ``threshold`` nats, :func:`inactive_dimensions`) set to ``+push`` or ``-push`` (a random
    sign per code and dimension); the active dimensions are left as drawn.

    The decoder learned to ignore these dimensions near 0; far from 0 its weights on them are
    untrained. ``at_least``: when fewer dimensions are below ``threshold``, the ``at_least`` with
    the lowest KL are pushed instead (so a model without collapsed units still has a region);
    with ``at_least=0`` such a model raises ``ValueError``. ``dims`` holds the pushed dimensions.
    """
    kl = torch.as_tensor(kl_per_dim, dtype=torch.float64)
    dims = inactive_dimensions(kl, threshold)
    if len(dims) < int(at_least):
        dims = torch.argsort(kl)[:min(int(at_least), len(kl))].sort().values
    if not len(dims):
        raise ValueError(f"threshold={threshold}: no latent dimension has a KL below it (smallest "
                         f"{kl.min().item():.3g} nats); raise threshold or pass at_least")
    if not push >= 0:
        raise ValueError(f"push={push}: expected >= 0")
    d = len(kl)
    base = StandardNormal(d) if base is None else base
    if _density_dim(base, "base") != d:
        raise ValueError(f"base has dimension {base.dim} but kl_per_dim has {d} entries")

    def draw(n, g):
        z = base.sample(n, generator=g).clone()
        signs = torch.randint(0, 2, (n, len(dims)), generator=g).float() * 2 - 1
        z[:, dims] = signs * push
        return z

    region = Region("inactive", "push", push, d, draw)
    region.dims = dims
    return region


def extrapolation(codes, t: float) -> Region:
    """``z_a + t (z_b - z_a)`` for random pairs of distinct training codes (a, b): beyond ``z_b`` on
    the line through both for ``t > 1`` (``t = 1`` gives the codes themselves, a baseline;
    interpolation, t in [0, 1], is :func:`helpers.latent.trajectories.lerp`). ``t`` is in units of the
    pair's distance past ``z_a``."""
    codes = torch.as_tensor(codes, dtype=torch.float32)
    if codes.dim() != 2 or len(codes) < 2:
        raise ValueError(f"codes must be at least two codes [N, D], got shape {tuple(codes.shape)}")
    if not t >= 1:
        raise ValueError(f"t={t}: extrapolation needs t >= 1 (t in [0, 1] is interpolation)")

    def draw(n, g):
        a = torch.randint(0, len(codes), (n,), generator=g)
        b = (a + torch.randint(1, len(codes), (n,), generator=g)) % len(codes)   # b != a
        return codes[a] + t * (codes[b] - codes[a])

    return Region("extrapolation", "t", t, codes.shape[1], draw)


# ----------------------------------------------------------------------------- measurements


@torch.no_grad()
def kl_per_dimension(model, x, batch_size: int = 500, progress: bool = True) -> torch.Tensor:
    """Mean over the data of KL(q(z_d|x) || N(0, 1)) = 1/2 (mu_d^2 + sigma_d^2 - 1 - log sigma_d^2)
    (Kingma & Welling, 2014, App. B) for each latent dimension d, ``[D]`` nats.

    ``model``: a :class:`~helpers.models.VAE` (``x``: its inputs; uint8 images are scaled to
    [0, 1]) or an :class:`~helpers.models.audio.AudioVAE` (``x``: magnitudes ``[N, F, T]``; the
    frame model counts every frame).
    """
    x = torch.as_tensor(x)
    if not len(x):
        raise ValueError("x is empty: kl_per_dimension needs at least one example")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size={batch_size}: expected >= 1")
    audio = hasattr(model, "transform") and hasattr(model, "vae")
    net = model.vae if audio else model
    was_training = net.training
    net.eval()
    total, count = None, 0
    try:
        starts = range(0, len(x), int(batch_size))
        for s in tqdm(starts, desc="KL per dimension", disable=not progress or len(starts) < 2, leave=False):
            xb = x[s:s + int(batch_size)]
            if audio:
                mu, logvar = model.encode(xb)
            else:
                xb = xb.float() / 255 if xb.dtype == torch.uint8 else xb.float()
                mu, logvar = model.encode(xb.to(net.device))
            mu, logvar = mu.reshape(-1, mu.shape[-1]).double().cpu(), logvar.reshape(-1, mu.shape[-1]).double().cpu()
            kl = 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar)       # helpers.models.vae.gaussian_kl, per d
            total = kl.sum(0) if total is None else total + kl.sum(0)
            count += len(kl)
    finally:
        net.train(was_training)
    return (total / count).float()



def distance_to_data(z, codes, gaussian=None, chunk: int = 2048) -> torch.Tensor:
    """Euclidean distance of each code ``z [n, D]`` to its nearest training code ``codes [N, D]``,
    ``[n]``. With ``gaussian`` (a :class:`~helpers.models.priors.CodeGaussian` of the codes), the
    Mahalanobis distance ``|L^-1 (z - c)|`` under its covariance ``L L^T`` instead (the same
    distance in units of the data's spread along every direction)."""
    from helpers.evaluation.novelty import nearest_distances

    z, codes = torch.as_tensor(z, dtype=torch.float32), torch.as_tensor(codes, dtype=torch.float32)
    if z.dim() != 2 or codes.dim() != 2 or z.shape[1] != codes.shape[1] or not len(codes):
        raise ValueError(f"z [n, D] and codes [N, D] with the same D expected, got {tuple(z.shape)} and "
                         f"{tuple(codes.shape)}")
    if gaussian is not None:
        L = gaussian.scale_tril.float()
        if L.shape[0] != z.shape[1]:
            raise ValueError(f"gaussian has dimension {L.shape[0]}, the codes {z.shape[1]}")
        z = torch.linalg.solve_triangular(L, z.T, upper=False).T
        codes = torch.linalg.solve_triangular(L, codes.T, upper=False).T
    return nearest_distances(z, codes, chunk=chunk)


def mahalanobis_norm(z, gaussian) -> torch.Tensor:
    """``|L^-1 (z - m)| / sqrt(D)`` under a CodeGaussian N(m, L L^T), ``[n]``: the distance from the
    centre of the data in units of its spread, about 1 for its own draws (the typical set)."""
    z = torch.as_tensor(z, dtype=torch.float32)
    L, m = gaussian.scale_tril.float(), gaussian.mean.float()
    if z.dim() != 2 or z.shape[1] != len(m):
        raise ValueError(f"z must be [n, {len(m)}], got {tuple(z.shape)}")
    white = torch.linalg.solve_triangular(L, (z - m).T, upper=False).T
    return white.norm(dim=1) / math.sqrt(len(m))
