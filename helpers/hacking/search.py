"""Latent search with a frozen generator, after Broad, Leymarie & Grierson (2020), "Amplifying the
uncanny": optimise a batch of codes so that what the decoder makes of them is judged unlikely,
by the model itself (its negative ELBO) or by a judge (its noise or out-of-class score).

    maximise_z  objective(G(z)) - penalty * relu(|z| - radius sqrt(d))^2

``G(z)`` is the decoder's mean E[x|z]; the weights never change (the gradient is taken with
respect to the codes only, ``torch.autograd.grad``, so no ``.grad`` of the model is written).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from helpers.models.config import Config
from helpers.models.distributions import AutoregressiveBernoulli
from helpers.models.vae import gaussian_kl, reparameterize

from .corrupt import _as_module

OBJECTIVES = ("unlikelihood", "noise", "out")
JUDGE_KINDS = ("noise", "out", "in")


def decoded_mean(model, z: torch.Tensor, n_iter: int = 8) -> torch.Tensor:
    """E[x|z] ``[N, *x_shape]``, differentiable in ``z``. For the autoregressive Bernoulli the
    mean-field image is reached by ``n_iter`` parallel fixed-point steps
    p <- sigmoid(h + A p) instead of element by element (exact after ``D`` steps, close after a few)."""
    module = _as_module(model)
    params = module.decode(z)
    lik = module.likelihood
    if isinstance(lik, AutoregressiveBernoulli):
        h = params[:, 0].reshape(len(z), lik.dim).float()
        w_t = lik.masked_weight().float().T
        p = torch.sigmoid(h)
        for _ in range(n_iter):
            p = torch.sigmoid(h + p @ w_t)
        return p.reshape(len(z), *lik.x_shape)
    return lik.mean(params)


def negative_elbo(model, x: torch.Tensor, n_samples: int = 1,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """-ELBO(x) = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)) per example, ``[N]`` nats, under the frozen
    model (Kingma & Welling, 2014, Eq. 10); differentiable in ``x``. ``n_samples`` draws of
    q(z|x) average the reconstruction term; 0 uses the posterior mean (deterministic)."""
    module = _as_module(model)
    mu, logvar = module.encode(x)
    mu, logvar = mu.float(), logvar.float()
    kl = gaussian_kl(mu, logvar)
    if n_samples <= 0:
        return -module.log_prob(module.decode(mu).float(), x) + kl
    rec = 0.0
    for _ in range(n_samples):
        z = reparameterize(mu, logvar, generator)
        rec = rec - module.log_prob(module.decode(z).float(), x)
    return rec / n_samples + kl


def judge_probs(judge, x: torch.Tensor) -> torch.Tensor:
    """Calibrated p(c|x) ``[N, K]`` of ``judge``, differentiable in ``x`` (logits / temperature)."""
    logits, _ = judge.model.logits_and_features(x)
    return F.softmax(logits.float() / judge.temperature, dim=1)


def judge_score(judge, x: torch.Tensor, kind: str = "noise") -> torch.Tensor:
    """A judge's reading of ``x``, ``[N]``, differentiable in ``x``: "noise" = p(noise class) (or
    1 - the largest in-class probability for a judge without one), "out" = the summed
    out-of-class probabilities, "in" = the summed in-class probabilities."""
    if kind not in JUDGE_KINDS:
        raise ValueError(f"kind={kind!r}: expected one of {JUDGE_KINDS}")
    if kind == "out" and not judge.out_class:
        raise ValueError("kind='out': the judge has no out-of-class group")
    probs = judge_probs(judge, x)
    if kind == "noise":
        if judge.noise_index is not None:
            return probs[:, judge.noise_index]
        return 1 - probs[:, judge.in_index].max(1).values
    index = judge.out_index if kind == "out" else judge.in_index
    return probs[:, index].sum(1)


@dataclass
class SearchConfig(Config):
    """A latent search (:func:`latent_search`).

    Attributes:
        objective: "unlikelihood" (the model's own negative ELBO of G(z)), "noise" or "out"
            (the judge's noise or out-of-class score of G(z)).
        n_steps: Adam steps. 200 is where the objective of the MNIST VAE levels off.
        lr: Adam's step size on the codes; 0.05 moves a code by about 10 prior standard
            deviations over 200 steps at most.
        radius: the codes are kept within ``radius * sqrt(d)`` of the origin by the penalty
            (sqrt(d) is the typical set of N(0, I)); None: no penalty.
        penalty: weight of relu(|z| - radius sqrt(d))^2.
        seed: seeds the posterior draws of the unlikelihood objective.
        n_samples: posterior draws per step of the negative ELBO (1: an unbiased one-sample
            estimate, as in training); the final objective uses ``max(n_samples, 8)``.
        project: also put every code that ends a step outside ``radius * sqrt(d)`` back on that
            sphere (projected gradient ascent). The soft penalty alone settles where its pull
            equals the objective's push: close to the radius for a bounded objective (the
            Bernoulli MNIST VAE: mean radius 1.52 for radius 1.5 with penalty 10, 1.62 with
            penalty 1, after 200 steps), far beyond it for one that grows without bound with
            |z| (the negative ELBO of a Laplace decoder's outputs). False by default: the
            penalty as in the method; True makes the radius a hard limit.
    """

    objective: str = "unlikelihood"
    n_steps: int = 200
    lr: float = 0.05
    radius: float | None = 1.5
    penalty: float = 1.0
    seed: int = 0
    n_samples: int = 1
    project: bool = False

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective={self.objective!r}: expected one of {OBJECTIVES}")
        if self.n_steps < 0:
            raise ValueError(f"n_steps={self.n_steps}: must be >= 0")
        if self.lr <= 0:
            raise ValueError(f"lr={self.lr}: must be > 0")
        if self.radius is not None and self.radius <= 0:
            raise ValueError(f"radius={self.radius}: must be > 0 (or None for no penalty)")
        if self.penalty < 0:
            raise ValueError(f"penalty={self.penalty}: must be >= 0")


@dataclass
class SearchResult:
    """The codes found, their decoded means, the final objective and the history per step.

    Attributes:
        z: ``[N, D]`` codes after the last step.
        x: their decoded means E[x|z] (no gradient): ``[N, *x_shape]``, or magnitudes
            ``[N, F, T]`` when the model was an audio wrapper (:class:`~helpers.models.audio.AudioVAE`).
        objective: ``[N]`` the objective of the final codes.
        history: one row per step: step, objective_mean, objective_median, radius_mean (mean |z|
            in units of sqrt(d)), seconds (since the start).
        config: the :class:`SearchConfig`.
    """

    z: torch.Tensor
    x: torch.Tensor
    objective: torch.Tensor
    history: pd.DataFrame
    config: SearchConfig | None = None


def _to_judge(model, to_judge: Callable | None) -> Callable:
    """What the judge sees of the decoder's output: magnitudes for an audio wrapper, else as is."""
    if to_judge is not None:
        return to_judge
    if hasattr(model, "from_model") and not isinstance(model, torch.nn.Module):
        return model.from_model
    return lambda x: x


def objective_fn(model, config: SearchConfig, judge=None, to_judge: Callable | None = None,
                 generator: torch.Generator | None = None) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """``f(z, n_samples) -> [N]``, the objective of codes ``z`` (differentiable)."""
    if config.objective != "unlikelihood" and judge is None:
        raise ValueError(f"judge: objective={config.objective!r} needs a judge")
    convert = _to_judge(model, to_judge)

    def f(z: torch.Tensor, n_samples: int) -> torch.Tensor:
        x = decoded_mean(model, z)
        if config.objective == "unlikelihood":
            return negative_elbo(model, x, n_samples, generator)
        return judge_score(judge, convert(x), config.objective)

    return f


def _radius_penalty(z: torch.Tensor, config: SearchConfig) -> torch.Tensor:
    """relu(|z| - radius sqrt(d))^2 per code."""
    if config.radius is None:
        return torch.zeros(len(z), device=z.device)
    return F.relu(z.norm(dim=1) - config.radius * math.sqrt(z.shape[1])).pow(2)


def latent_search(model, z0: torch.Tensor, config: SearchConfig | None = None, judge=None, progress: bool = True,
                  to_judge: Callable | None = None) -> SearchResult:
    """Optimise the codes ``z0`` ``[N, D]`` with Adam (Kingma & Ba, 2015) to maximise the objective of
    ``config`` minus the radius penalty, the model (and the judge) frozen: only the codes move, no
    weight, ``requires_grad`` flag or ``.grad`` of the model is touched.

    ``model``: a VAE, or an audio wrapper with a ``.vae`` (then the judge sees magnitudes,
    ``model.from_model``). ``to_judge`` maps the decoder's output to what the judge takes
    (default: as is, or the wrapper's magnitudes).
    """
    config = config or SearchConfig()
    module = _as_module(model)
    device = next(module.parameters()).device
    generator = torch.Generator(device=device).manual_seed(config.seed)
    f = objective_fn(model, config, judge, to_judge, generator)
    z = torch.as_tensor(z0, dtype=torch.float32).detach().clone().to(device).requires_grad_(True)
    if z.dim() != 2 or z.shape[1] != module.z_dim:
        raise ValueError(f"z0: expected codes [N, {module.z_dim}], got {tuple(z.shape)}")
    opt = torch.optim.Adam([z], lr=config.lr)
    rows, start = [], time.perf_counter()
    scale = math.sqrt(z.shape[1])
    for step in tqdm(range(config.n_steps), desc="latent search", disable=not progress, leave=False):
        objective = f(z, config.n_samples)
        loss = (-objective + config.penalty * _radius_penalty(z, config)).sum()
        (grad,) = torch.autograd.grad(loss, z)
        opt.zero_grad(set_to_none=True)
        z.grad = grad
        opt.step()
        with torch.no_grad():
            if config.project and config.radius is not None:
                limit = config.radius * scale
                z.mul_((limit / z.norm(dim=1, keepdim=True).clamp_min(1e-12)).clamp(max=1.0))
            obj = objective.detach()
            rows.append({"step": step + 1, "objective_mean": float(obj.mean()),
                         "objective_median": float(obj.median()),
                         "radius_mean": float(z.norm(dim=1).mean() / scale),
                         "seconds": time.perf_counter() - start})
    z = z.detach()
    with torch.no_grad():
        final = f(z, max(config.n_samples, 8)).detach()
        x = module.decode_to_x(z)
        if hasattr(model, "from_model") and not isinstance(model, torch.nn.Module):
            x = model.from_model(x)
    history = pd.DataFrame(rows, columns=["step", "objective_mean", "objective_median", "radius_mean", "seconds"])
    return SearchResult(z, x, final, history, config)


def time_search_step(model, n_codes: int = 256, objective: str = "unlikelihood", judge=None,
                     n_steps: int = 5, seed: int = 0) -> float:
    """Seconds per step of :func:`latent_search` for ``n_codes`` prior codes (the median of
    ``n_steps`` timed steps after one warm-up step)."""
    module = _as_module(model)
    g = torch.Generator().manual_seed(seed)
    z0 = torch.randn(n_codes, module.z_dim, generator=g)
    result = latent_search(model, z0, SearchConfig(objective=objective, n_steps=n_steps + 1, seed=seed),
                           judge=judge, progress=False)
    seconds = result.history["seconds"].diff().iloc[1:]
    return float(seconds.median())
