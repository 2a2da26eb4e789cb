"""The one VAE core (Kingma & Welling, 2014): any encoder, any decoder, any output distribution.

    encoder(x) -> (mu, logvar);  z = mu + exp(logvar / 2) * eps;  decoder(z) -> params of p(x|z)
    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I))            (Kingma & Welling, 2014, Eq. 10)
    loss    = mean over the batch of  -(E_q[log p(x|z)] - beta * KL) (Higgins et al., 2017)

All quantities are per example, in nats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from .config import Config
from .distributions import OutputDistribution, build_distribution
from .networks import ConvDecoder, ConvEncoder, FrameDecoder, MLPDecoder, MLPEncoder

ARCHITECTURES = ("mlp", "conv", "conv_frames")

LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag e^logvar) || N(0, I)) = 1/2 sum(mu^2 + e^logvar - 1 - logvar) (K&W 2014, App. B), ``[B]``."""
    return 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar).sum(-1)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + sigma * eps, eps ~ N(0, I): the reparameterisation trick (K&W 2014, Sec. 2.4)."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def log_normal_standard(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last dimension."""
    return -0.5 * (z * z + LOG_2PI).sum(-1)


def log_normal_diag(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag e^logvar) summed over the last dimension."""
    return -0.5 * ((z - mu) ** 2 * torch.exp(-logvar) + logvar + LOG_2PI).sum(-1)


@dataclass
class VAEConfig(Config):
    """Everything needed to rebuild a VAE (``build_model(config.to_dict())``).

    Attributes:
        model: registry key for :func:`helpers.models.build_model`; "vae" is this class.
        x_shape: shape of one example. (28, 28) is an MNIST image as ``load_mnist`` returns it;
            the audio models use (F,) for spectrum frames or (1, F, T) for spectrograms.
        z_dim: latent size. 20 as in Kingma & Welling (2014) and pytorch/examples: enough for
            ~90 nats on MNIST while staying fast.
        architecture: "mlp", "conv" or "conv_frames". MLP is the classic baseline; conv needs an
            image-like x_shape; "conv_frames" (spectrograms ``(1, F, T)``) pairs the conv encoder
            with a :class:`~helpers.models.networks.FrameDecoder`, an MLP over ``hidden`` that
            draws one spectrum frame at a time from z and the frame's position.
        hidden: MLP hidden widths, one entry per layer, mirrored in the decoder. (400,) gives
            the 784-400-20 network of pytorch/examples. With "conv_frames": the frame decoder's
            widths (not mirrored).
        conv_channels: channels of the strided convolutions (each halves H and W). (32, 64)
            takes 28x28 to 7x7, a small model that trains in minutes on a CPU.
        conv_hidden: width of the dense layer between the conv stack and z. 256 keeps the
            dense layers smaller than the conv stack.
        n_res_blocks: residual blocks per resolution (conv only). 0 is the plain network;
            1-2 make a stronger decoder at some cost per step.
        activation: hidden non-linearity. "relu" as in pytorch/examples.
        likelihood: output distribution p(x|z): "bernoulli" (binary images), "bernoulli_ar"
            (Bernoulli with linear autoregressive links between pixels: several nats better on
            the MNIST NLL, slower to sample), "gaussian" or "laplace" (continuous data such as
            spectra). "bernoulli" is the classic model.
        scale: Gaussian/Laplace scale: "fixed" (``init_scale``), "learned" (decoder predicts it
            for every element) or "per_feature" (one learned value per element). "fixed" is
            the most stable start; ignored by "bernoulli".
        init_scale: the fixed scale, or the start of a learned one ("learned": the decoder's
            log-scale output is added to log(init_scale); "per_feature": the parameter starts
            there). 1.0 suits standardised data.
        min_log_scale: soft floor of a learned log-scale; -7 (scale ~1e-3) stops the density
            from collapsing on single points.
        beta: weight of the KL term. 1.0 is the ELBO; > 1 is a beta-VAE (Higgins et al., 2017).
            A warm-up callback raises it from 0 to this value.
        free_bits: nats per latent dimension below which the KL of that dimension (its mean over
            the batch) is not penalised (Kingma et al., 2016, "free bits", Eq. 15). 0 (default):
            the plain KL term. The reported ``kl`` and ``elbo`` are never clamped.
    """

    model: str = "vae"
    x_shape: tuple[int, ...] = (28, 28)
    z_dim: int = 20
    architecture: str = "mlp"
    hidden: tuple[int, ...] = (400,)
    conv_channels: tuple[int, ...] = (32, 64)
    conv_hidden: int = 256
    n_res_blocks: int = 0
    activation: str = "relu"
    likelihood: str = "bernoulli"
    scale: str = "fixed"
    init_scale: float = 1.0
    min_log_scale: float = -7.0
    beta: float = 1.0
    free_bits: float = 0.0

    def to_dict(self) -> dict:
        """As :meth:`Config.to_dict`; ``free_bits`` only when set, so that the configs (and run
        keys) of models trained before the field existed stay the same."""
        d = super().to_dict()
        if not d.get("free_bits"):
            d.pop("free_bits", None)
        return d


class VAE(nn.Module):
    """Variational auto-encoder around any ``encoder`` (x -> [B, 2 z]) and ``decoder`` (z -> params).

    ``forward(x)`` returns the loss terms; ``encode``, ``decode``, ``sample``, ``reconstruct``
    give the pieces. ``beta`` is a plain attribute so that a warm-up callback can change it.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, likelihood: OutputDistribution,
                 z_dim: int, x_shape: tuple[int, ...], beta: float = 1.0,
                 config: VAEConfig | None = None):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.z_dim = int(z_dim)
        self.x_shape = tuple(x_shape)
        self.beta = float(beta)
        self.config = config
        self.free_bits = float(getattr(config, "free_bits", 0.0) or 0.0)

    @classmethod
    def from_config(cls, config: VAEConfig) -> VAE:
        """Build the encoder, decoder and output distribution that ``config`` describes."""
        dist = build_distribution(config.likelihood, config.x_shape, scale=config.scale,
                                  init_scale=config.init_scale, min_log_scale=config.min_log_scale)
        if config.architecture == "mlp":
            enc = MLPEncoder(config.x_shape, config.z_dim, config.hidden, config.activation)
            dec = MLPDecoder(config.x_shape, config.z_dim, dist.n_params,
                             tuple(reversed(config.hidden)), config.activation)
        elif config.architecture in ("conv", "conv_frames"):
            kw = dict(channels=config.conv_channels, hidden=config.conv_hidden,
                      n_res_blocks=config.n_res_blocks, act=config.activation)
            enc = ConvEncoder(config.x_shape, config.z_dim, **kw)
            if config.architecture == "conv":
                dec = ConvDecoder(config.x_shape, config.z_dim, dist.n_params, **kw)
            else:
                dec = FrameDecoder(config.x_shape, config.z_dim, dist.n_params, config.hidden, act=config.activation)
        else:
            raise ValueError(f"architecture={config.architecture!r}: expected one of {ARCHITECTURES}")
        return cls(enc, dec, dist, config.z_dim, config.x_shape, config.beta, config)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x) = N(mu, diag e^logvar): returns ``(mu, logvar)``, each ``[B, z_dim]``."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Parameters of p(x|z), ``[B, n_params, *x_shape]``."""
        return self.decoder(z)

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per example, ``[B]`` nats."""
        return self.likelihood.log_prob(params, x)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """One-sample ELBO (K&W 2014, Eq. 10). Returns ``loss`` (scalar to minimise, uses beta)
        and per-example ``[B]`` nats: ``elbo`` (beta = 1), ``rec`` = -log p(x|z), ``kl``."""
        mu, logvar = self.encode(x)
        # no-ops in fp32; under a bf16 autocast the networks run in bf16 and every loss term is
        # computed in fp32 from here on (the autoregressive links included, see its ``logits``)
        mu, logvar = mu.float(), logvar.float()
        z = reparameterize(mu, logvar)
        rec = -self.log_prob(self.decode(z).float(), x)
        kl = gaussian_kl(mu, logvar)
        if self.free_bits > 0:
            # free bits (Kingma et al., 2016, Eq. 15): sum_d max(lambda, E_batch KL_d)
            kl_dims = 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar).mean(0)
            loss = rec.mean() + self.beta * kl_dims.clamp_min(self.free_bits).sum()
        else:
            loss = (rec + self.beta * kl).mean()
        return {"loss": loss, "elbo": -(rec + kl), "rec": rec, "kl": kl}

    @torch.no_grad()
    def sample(self, n: int, mean: bool = True, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws from the model: z ~ N(0, I), then E[x|z] (``mean=True``) or x ~ p(x|z)."""
        z = torch.randn(n, self.z_dim, generator=generator, device=self.device)
        return self.decode_to_x(z, mean=mean, generator=generator)

    @torch.no_grad()
    def decode_to_x(self, z: torch.Tensor, mean: bool = True,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """Data-space output for latent codes: E[x|z] or a sample of p(x|z), ``[B, *x_shape]``."""
        params = self.decode(z.to(self.device))
        return self.likelihood.mean(params) if mean else self.likelihood.sample(params, generator)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, sample_z: bool = False, mean: bool = True) -> torch.Tensor:
        """Decode the posterior mean (or a posterior sample) of x: E[x|z], ``[B, *x_shape]``."""
        mu, logvar = self.encode(x.to(self.device))
        z = reparameterize(mu, logvar) if sample_z else mu
        return self.decode_to_x(z, mean=mean)


MODEL_REGISTRY: dict[str, tuple[type[Config], object]] = {"vae": (VAEConfig, VAE.from_config)}


def register_model(name: str, config_cls: type[Config], builder) -> None:
    """Make ``build_model({"model": name, ...})`` build ``builder(config_cls.from_dict(...))``."""
    MODEL_REGISTRY[name] = (config_cls, builder)


def config_from_dict(config: dict) -> Config:
    """The config dataclass that ``config["model"]`` names, filled from the dict."""
    name = config.get("model", "vae")
    if name not in MODEL_REGISTRY:
        raise ValueError(f"model={name!r} is not registered; known: {sorted(MODEL_REGISTRY)}")
    return MODEL_REGISTRY[name][0].from_dict(config)


def build_model(config: dict | Config) -> nn.Module:
    """Rebuild a model from its config dict (as stored in checkpoints and run folders)."""
    cfg = config if isinstance(config, Config) else config_from_dict(config)
    name = getattr(cfg, "model", "vae")
    return MODEL_REGISTRY[name][1](cfg)  # type: ignore[operator]
