"""Likelihood of a trained VAE: the importance-weighted bound on log p(x) (test NLL), the ELBO.

    log p(x) >= L_k = E[log 1/k sum_i p(x, z_i) / q(z_i|x)],  z_i ~ q(z|x)   (Burda et al., 2016, Eq. 8)

L_1 is the ELBO, L_k grows with k and tends to log p(x); with k = 1000 or more it is the
usual "test NLL" of the MNIST literature (-L_k, in nats).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from helpers.models.vae import gaussian_kl, log_normal_diag, log_normal_standard, reparameterize


def _device(model) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def iwae_log_likelihood(model, x: torch.Tensor, k: int = 1000, batch_size: int = 100,
                        max_rows: int = 20000, transform: Callable | None = None,
                        generator: torch.Generator | None = None, progress: bool = False) -> torch.Tensor:
    """Importance-weighted estimate L_k of log p(x) per example, ``[N]`` nats (Burda et al., 2016, Eq. 8).

    Works on ``batch_size`` examples at a time and on the k samples in chunks, so that at most
    ``max_rows`` decoder outputs are held at once; the k log-weights
    log p(x|z_i) + log p(z_i) - log q(z_i|x) are combined with a log-sum-exp.
    ``model`` needs ``encode``, ``decode``, ``log_prob`` and ``z_dim`` (the VAE core).
    """
    if k < 1:
        raise ValueError(f"k={k}: need at least one sample")
    was_training = model.training
    model.eval()
    device = _device(model)
    out = []
    starts = range(0, len(x), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=f"IWAE k={k}", leave=False)
    try:
        for start in starts:
            xb = x[start:start + batch_size].to(device)
            if transform is not None:
                xb = transform(xb)
            b = len(xb)
            mu, logvar = (t.float() for t in model.encode(xb))
            k_chunk = max(1, min(k, max_rows // b))
            log_w = []
            for k0 in range(0, k, k_chunk):
                kc = min(k_chunk, k - k0)
                mu_k, logvar_k = mu.expand(kc, *mu.shape), logvar.expand(kc, *logvar.shape)
                z = reparameterize(mu_k, logvar_k, generator)  # [kc, b, z]
                params = model.decode(z.reshape(kc * b, -1)).float()
                x_rep = xb.expand(kc, *xb.shape).reshape(kc * b, *xb.shape[1:])
                log_px_z = model.log_prob(params, x_rep).view(kc, b)
                log_w.append(log_px_z + log_normal_standard(z) - log_normal_diag(z, mu_k, logvar_k))
            log_w = torch.cat(log_w)  # [k, b]
            out.append((torch.logsumexp(log_w, 0) - math.log(k)).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out)


@torch.no_grad()
def elbo_terms(model, x: torch.Tensor, batch_size: int = 1000, transform: Callable | None = None,
               generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """One-sample ELBO per example (K&W 2014, Eq. 10): ``elbo``, ``rec`` = -log p(x|z), ``kl``, each ``[N]``."""
    was_training = model.training
    model.eval()
    device = _device(model)
    parts: dict[str, list] = {"elbo": [], "rec": [], "kl": []}
    try:
        for start in range(0, len(x), batch_size):
            xb = x[start:start + batch_size].to(device)
            if transform is not None:
                xb = transform(xb)
            mu, logvar = (t.float() for t in model.encode(xb))
            z = reparameterize(mu, logvar, generator)
            rec = -model.log_prob(model.decode(z).float(), xb)
            kl = gaussian_kl(mu, logvar)
            for key, value in (("elbo", -(rec + kl)), ("rec", rec), ("kl", kl)):
                parts[key].append(value.cpu())
    finally:
        model.train(was_training)
    return {key: torch.cat(value) for key, value in parts.items()}


def evaluate_model(model, x: torch.Tensor, k: int = 1000, batch_size: int = 100,
                 active_threshold: float = 0.01, generator: torch.Generator | None = None,
                 progress: bool = False) -> dict[str, float]:
    """The summary of a trained model on ``x`` (already prepared, e.g. binarised once):
    mean ELBO, reconstruction and KL terms, IWAE NLL (-L_k) and the number of active units, in nats."""
    from .latent import active_units

    terms = elbo_terms(model, x, generator=generator)
    nll = -iwae_log_likelihood(model, x, k=k, batch_size=batch_size, generator=generator, progress=progress)
    n_active, _ = active_units(model, x, threshold=active_threshold)
    return {"elbo": float(terms["elbo"].mean()), "rec": float(terms["rec"].mean()),
            "kl": float(terms["kl"].mean()), "nll": float(nll.mean()), "k": k,
            "active_units": n_active}
