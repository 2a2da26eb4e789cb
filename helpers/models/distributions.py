"""Output distributions p(x|z): the decoder gives their parameters, they give log p(x|z).

The decoder of every model returns a tensor ``params`` of shape ``[B, n_params, *x_shape]``
(``n_params`` is 1 for a Bernoulli or a fixed-scale Gaussian, 2 when the decoder also predicts
the scale). Each distribution gives

- ``log_prob(params, x)``: log p(x|z) summed over every dimension of one example -> ``[B]`` nats;
- ``mean(params)``: E[x|z], what is shown as "the reconstruction";
- ``sample(params)``: a draw x ~ p(x|z).

Bernoulli for binary images (and its autoregressive variant, a stronger decoder for the
MNIST likelihood benchmark), Gaussian and Laplace for continuous data such as magnitude
spectra (the audio models).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

LOG_2PI = math.log(2 * math.pi)
SCALE_MODES = ("fixed", "learned", "per_feature")


def _sum_per_example(t: torch.Tensor) -> torch.Tensor:
    """Sum every dimension but the first: ``[B, ...] -> [B]``."""
    return t.reshape(t.shape[0], -1).sum(1)


class OutputDistribution(nn.Module):
    """Base class: turns decoder parameters ``[B, n_params, *x_shape]`` into a distribution."""

    n_params: int = 1

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x|z) summed per example, ``[B]`` nats."""
        raise NotImplementedError

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """E[x|z], shape ``[B, *x_shape]``."""
        raise NotImplementedError

    def sample(self, params: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One draw x ~ p(x|z), shape ``[B, *x_shape]``."""
        raise NotImplementedError


class Bernoulli(OutputDistribution):
    """Bernoulli on logits: log p(x|z) = -BCE-with-logits, stable for any logit (no sigmoid then log)."""

    n_params = 1

    def log_prob(self, params, x):
        """log p(x|z) = x log s(l) + (1-x) log(1-s(l)), computed from the logits l directly."""
        logits = params[:, 0]
        return -_sum_per_example(F.binary_cross_entropy_with_logits(logits, x, reduction="none"))

    def mean(self, params):
        return torch.sigmoid(params[:, 0])

    def sample(self, params, generator=None):
        return torch.bernoulli(torch.sigmoid(params[:, 0]), generator=generator)


class AutoregressiveBernoulli(OutputDistribution):
    """Bernoulli with linear autoregressive links between the elements in raster order:
    logit_i = h_i(z) + sum_{j<i} A_ij x_j, a fully visible sigmoid belief net (Frey, 1998) whose
    biases come from the decoder, as in the visible layer of DARN (Gregor et al., 2014).

    The links model what neighbouring pixels share (stroke continuity), so the latent code can
    spend its nats on the shape; ``A`` starts at zero, i.e. as the plain :class:`Bernoulli`.
    ``log_prob`` is one matrix product (the data are observed); ``sample`` and ``mean`` go
    element by element. ``mean`` is the mean-field image: each element's probability given
    the probabilities, not samples, of the elements before it (deterministic and smooth).
    """

    n_params = 1

    def __init__(self, x_shape: tuple[int, ...]):
        super().__init__()
        self.x_shape = tuple(x_shape)
        self.dim = math.prod(self.x_shape)
        self.weight = nn.Parameter(torch.zeros(self.dim, self.dim))
        self.register_buffer("mask", torch.ones(self.dim, self.dim).tril(-1), persistent=False)

    def masked_weight(self) -> torch.Tensor:
        """A with the diagonal and everything above it zeroed (element i sees only j < i)."""
        return self.weight * self.mask

    def logits(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Logits of every element given the elements before it, ``[B, D]`` (flattened).

        The link product runs in fp32 even under a bf16 autocast, so that the loss terms are fp32
        as the Trainer states: in bfloat16 (8 bits of mantissa) the links of 784 pixels carry a
        relative error of about 0.2%, which moves log p(x|z) by about 0.01 nats per example."""
        b = x.shape[0]
        with torch.autocast(x.device.type, enabled=False):
            links = x.reshape(b, self.dim).float() @ self.masked_weight().float().T
        return params[:, 0].reshape(b, self.dim).float() + links

    def log_prob(self, params, x):
        """sum_i log Bernoulli(x_i; sigmoid(logit_i(x_<i, z))), one matrix product."""
        logits = self.logits(params, x)
        return -F.binary_cross_entropy_with_logits(logits, x.reshape(x.shape[0], self.dim),
                                                   reduction="none").sum(1)

    @torch.no_grad()
    def _sequential(self, params: torch.Tensor, sample: bool, generator: torch.Generator | None) -> torch.Tensor:
        """Element by element in raster order: Bernoulli draws (``sample``) or mean-field probabilities."""
        b = params.shape[0]
        acc = params[:, 0].reshape(b, self.dim).float().clone()
        w_t = self.masked_weight().float().T.contiguous()  # row j: how x_j moves the later logits
        out = torch.empty_like(acc)
        for i in range(self.dim):
            p = torch.sigmoid(acc[:, i])
            v = torch.bernoulli(p, generator=generator) if sample else p
            out[:, i] = v
            if i + 1 < self.dim:
                acc[:, i + 1:].addcmul_(v[:, None], w_t[i, i + 1:][None, :])
        return out.reshape(b, *self.x_shape)

    def mean(self, params):
        return self._sequential(params, sample=False, generator=None)

    def sample(self, params, generator=None):
        return self._sequential(params, sample=True, generator=generator)


class _LocationScale(OutputDistribution):
    """Shared parts of the Gaussian and the Laplace: a location from the decoder, a scale.

    ``scale="fixed"``: one constant scale (``init_scale``); ``"learned"``: the decoder predicts
    a log-scale for every element of every example (``n_params = 2``), as an offset from
    ``log(init_scale)``, so that a decoder output of 0 (about where a fresh decoder starts)
    is the scale ``init_scale``; ``"per_feature"``: one learned log-scale per data element (a
    parameter of shape ``x_shape``, starting at ``init_scale``), shared by all examples. Learned log-scales are bounded below by ``min_log_scale`` (a soft bound, so the
    gradient never vanishes) to keep the density from collapsing onto single points.
    """

    def __init__(self, x_shape: tuple[int, ...], scale: str = "fixed", init_scale: float = 1.0,
                 min_log_scale: float = -7.0):
        super().__init__()
        if scale not in SCALE_MODES:
            raise ValueError(f"scale={scale!r}: expected one of {SCALE_MODES}")
        if init_scale <= 0:
            raise ValueError(f"init_scale={init_scale}: must be > 0")
        self.scale_mode = scale
        self.min_log_scale = float(min_log_scale)
        self.n_params = 2 if scale == "learned" else 1
        log_scale = math.log(init_scale)
        if scale == "per_feature":
            # raw value whose soft floor is exactly log(init_scale) (inverse softplus)
            y = max(log_scale - self.min_log_scale, 1e-6)
            raw = self.min_log_scale + y + math.log(-math.expm1(-y))
            self.log_scale_param = nn.Parameter(torch.full(tuple(x_shape), raw))
        else:
            self.register_buffer("fixed_log_scale", torch.tensor(log_scale), persistent=False)

    def _soft_floor(self, log_scale: torch.Tensor) -> torch.Tensor:
        """min + softplus(s - min): equal to s well above the floor, never below it."""
        return self.min_log_scale + F.softplus(log_scale - self.min_log_scale)

    def log_scale(self, params: torch.Tensor) -> torch.Tensor:
        """Log of the scale (std for the Gaussian, b for the Laplace), broadcastable to x."""
        if self.scale_mode == "learned":
            return self._soft_floor(params[:, 1] + self.fixed_log_scale)
        if self.scale_mode == "per_feature":
            return self._soft_floor(self.log_scale_param)
        return self.fixed_log_scale

    def mean(self, params):
        return params[:, 0]


class Gaussian(_LocationScale):
    """Diagonal Gaussian N(x; mu, sigma^2) with fixed, learned or per-feature sigma."""

    def log_prob(self, params, x):
        """log N(x; mu, sigma^2) = -1/2 [log 2pi + 2 log sigma + (x - mu)^2 / sigma^2], summed."""
        mu = params[:, 0]
        log_sigma = self.log_scale(params)
        z = (x - mu) * torch.exp(-log_sigma)
        return -_sum_per_example(0.5 * (LOG_2PI + z * z) + log_sigma.expand_as(mu))

    def sample(self, params, generator=None):
        mu = params[:, 0]
        sigma = torch.exp(self.log_scale(params)).expand_as(mu)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + sigma * eps


class Laplace(_LocationScale):
    """Laplace(x; mu, b) = exp(-|x - mu| / b) / 2b, with fixed, learned or per-feature b."""

    def log_prob(self, params, x):
        """log Laplace(x; mu, b) = -log 2 - log b - |x - mu| / b, summed."""
        mu = params[:, 0]
        log_b = self.log_scale(params)
        return -_sum_per_example(math.log(2.0) + log_b.expand_as(mu) + (x - mu).abs() * torch.exp(-log_b))

    def sample(self, params, generator=None):
        """Inverse CDF: x = mu - b sign(u) log(1 - 2|u|), u ~ U(-1/2, 1/2)."""
        mu = params[:, 0]
        b = torch.exp(self.log_scale(params)).expand_as(mu)
        u = torch.rand(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype) - 0.5
        u = u.clamp(-0.5 + 1e-7, 0.5 - 1e-7)
        return mu - b * torch.sign(u) * torch.log1p(-2 * u.abs())


DISTRIBUTIONS = {"bernoulli": Bernoulli, "bernoulli_ar": AutoregressiveBernoulli, "gaussian": Gaussian,
                 "laplace": Laplace}


def build_distribution(name: str, x_shape: tuple[int, ...], scale: str = "fixed",
                       init_scale: float = 1.0, min_log_scale: float = -7.0) -> OutputDistribution:
    """The output distribution named ``name`` ("bernoulli", "bernoulli_ar", "gaussian", "laplace")."""
    if name not in DISTRIBUTIONS:
        raise ValueError(f"likelihood={name!r}: expected one of {tuple(DISTRIBUTIONS)}")
    if name == "bernoulli":
        return Bernoulli()
    if name == "bernoulli_ar":
        return AutoregressiveBernoulli(x_shape)
    return DISTRIBUTIONS[name](x_shape, scale=scale, init_scale=init_scale, min_log_scale=min_log_scale)
