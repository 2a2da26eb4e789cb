"""Novelty measures of a batch of samples under a :class:`~helpers.evaluation.judges.Judge`.

Every measure returns a flat dict of named numbers; :func:`measure` gathers them in one dict,
the same keys in every table, benchmark JSON and notebook:

- ``count_in@0.9`` = mean[sum_{c in C_in} p(c|x) > theta], ``max_in@0.9`` = mean[max_{c in C_in}
  p(c|x) > theta], the same for C_out, and ``noise@0.9``, the share counted in neither group
  (Kégl, Cherti & Kazakçı, 2018, Sec. 3), at theta = 0.9 and 0.95;
- ``objectness`` = exp E_x KL(p(c|x) || p(c)) (the Inception-score formula, Salimans et al.,
  2016), ``entropy`` = E_x H(p(c|x)) / log K, ``diversity`` = H(argmax histogram) / log K;
- ``frechet`` (Heusel et al., 2017, Eq. 6) and ``mmd`` (unbiased MMD^2 with the cubic
  polynomial kernel of the KID, Bińkowski et al., 2018) between the judge features of the
  samples and of real data;
- ``nn_feature_*`` / ``nn_data_*``: distance of each sample to its nearest training example in
  feature space and in data space (pixels, or per-note normalised dB spectra), and
  ``unique_binary``, the share of samples unique after binarisation at 0.5 (images);
- :func:`coverage`: the share of held-out examples a VAE reconstructs within a tolerance,
  through its encoder and through latent optimisation with the decoder frozen.
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import torch
from tqdm.auto import tqdm

THETAS = (0.9, 0.95)
#: what the authors' code reports over its sparse autoencoders (Kégl et al., 2018), for tables
REFERENCE_VALUES = {"count_out@0.9 (median over models)": "about 0.46 to 0.77", "objectness": "about 9 to 11"}


def _check_probs(probs: torch.Tensor) -> torch.Tensor:
    probs = torch.as_tensor(probs, dtype=torch.float64)
    if probs.dim() != 2:
        raise ValueError(f"probs must be [N, K], got shape {tuple(probs.shape)}")
    if len(probs) and not torch.allclose(probs.sum(1), torch.ones(len(probs), dtype=probs.dtype), atol=1e-3):
        raise ValueError("probs: every row must sum to 1")
    return probs


def class_counts(probs: torch.Tensor, in_index: Sequence[int], out_index: Sequence[int] = (),
                 thetas: Sequence[float] = THETAS) -> dict[str, float]:
    """count(C), max(C) for C_in and C_out, and the noise share, at every theta (Kégl et al., 2018, Eq. 5-6)."""
    probs = _check_probs(probs)
    out = {}
    groups = {"in": list(in_index), "out": list(out_index)}
    for theta in thetas:
        confident = torch.zeros(len(probs), dtype=torch.bool)
        for name, idx in groups.items():
            if not idx:
                continue
            p = probs[:, idx]
            counted = p.sum(1) > theta
            confident |= counted
            out[f"count_{name}@{theta:g}"] = counted.double().mean().item()
            out[f"max_{name}@{theta:g}"] = (p.max(1).values > theta).double().mean().item()
        out[f"noise@{theta:g}"] = (~confident).double().mean().item()
    return out


def objectness(probs: torch.Tensor, eps: float = 1e-12) -> float:
    """exp E_x KL(p(c|x) || p(c)), p(c) = E_x p(c|x) (Salimans et al., 2016): from 1 (every sample
    the same, or none confident) to K (confident and balanced over K classes)."""
    probs = _check_probs(probs)
    marginal = probs.mean(0, keepdim=True)
    kl = (probs * ((probs + eps).log() - (marginal + eps).log())).sum(1)
    return math.exp(kl.mean().item())


def normalized_entropy(probs: torch.Tensor, eps: float = 1e-12) -> float:
    """E_x H(p(c|x)) / log K: 0 for confident samples, 1 for uniform posteriors."""
    probs = _check_probs(probs)
    return (-(probs * (probs + eps).log()).sum(1).mean() / math.log(probs.shape[1])).item()


def normalized_diversity(probs: torch.Tensor) -> float:
    """H(histogram of argmax_c p(c|x)) / log K: 1 when every class wins equally often, 0 for one class."""
    probs = _check_probs(probs)
    counts = torch.bincount(probs.argmax(1), minlength=probs.shape[1]).double()
    p = counts / counts.sum().clamp_min(1)
    p = p[p > 0]
    return abs((-(p * p.log()).sum() / math.log(probs.shape[1])).item())


def _sqrtm_psd(a: torch.Tensor) -> torch.Tensor:
    w, v = torch.linalg.eigh(a)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of Gaussians fitted to two feature sets
    (Heusel et al., 2017, Eq. 6); the trace of the root is taken through the symmetric
    S_a^(1/2) S_b S_a^(1/2), which has the same eigenvalues."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"two feature sets [N, D] with the same D and N >= 2 expected, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = torch.cov(a.T).reshape(a.shape[1], -1), torch.cov(b.T).reshape(b.shape[1], -1)
    root_a = _sqrtm_psd(s_a)
    cross = torch.linalg.eigvalsh(root_a @ s_b @ root_a).clamp_min(0).sqrt().sum()
    return max(0.0, ((mu_a - mu_b) ** 2).sum().item() + (s_a.trace() + s_b.trace() - 2 * cross).item())


def mmd2(a: torch.Tensor, b: torch.Tensor) -> float:
    """Unbiased MMD^2 with k(x, y) = (x.y / D + 1)^3 (the KID of Bińkowski et al., 2018, Eq. 3);
    about 0 for two samples of one distribution, larger as they differ."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"two feature sets [N, D] with the same D and N >= 2 expected, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    d = a.shape[1]
    k = lambda x, y: (x @ y.T / d + 1) ** 3  # noqa: E731
    kaa, kbb, kab = k(a, a), k(b, b), k(a, b)
    m, n = len(a), len(b)
    return ((kaa.sum() - kaa.trace()) / (m * (m - 1)) + (kbb.sum() - kbb.trace()) / (n * (n - 1))
            - 2 * kab.mean()).item()


def nearest_distances(x: torch.Tensor, reference: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Euclidean distance of every row of ``x`` to its nearest row of ``reference`` ``[N]``."""
    x, reference = torch.as_tensor(x).flatten(1).float(), torch.as_tensor(reference).flatten(1).float()
    if x.shape[1] != reference.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features per row, reference {reference.shape[1]}")
    best = torch.full((len(x),), math.inf)
    starts = range(0, len(reference), chunk)
    for s in tqdm(starts, desc="nearest", leave=False, disable=len(starts) < 2):
        best = torch.minimum(best, torch.cdist(x, reference[s:s + chunk]).min(1).values)
    return best


def unique_share(x: torch.Tensor, threshold: float = 0.5) -> float:
    """Share of the samples that no other sample equals after binarisation at ``threshold``."""
    x = torch.as_tensor(x)
    if x.dtype == torch.uint8:
        x = x.float() / 255
    binary = (x.flatten(1) > threshold).to(torch.uint8)
    if not len(binary):
        return float("nan")
    _, inverse, counts = torch.unique(binary, dim=0, return_inverse=True, return_counts=True)
    return (counts[inverse] == 1).double().mean().item()


def measure(samples, judge, reference=None, train=None, thetas: Sequence[float] = THETAS,
            reference_features: torch.Tensor | None = None, train_features: torch.Tensor | None = None,
            train_data: torch.Tensor | None = None, scores: tuple | None = None) -> dict[str, float]:
    """All the measures of ``samples`` (images or magnitudes) under ``judge``, one flat dict.

    Args:
        samples: what the judge scores (a batch of 1000 is the default size of the tables).
        judge: a :class:`~helpers.evaluation.judges.Judge`.
        reference: real data for ``frechet`` and ``mmd`` (e.g. the MNIST test digits);
            ``reference_features`` gives their features directly (computed once for a table).
        train: training examples for the nearest-neighbour distances (``train_features`` and
            ``train_data`` give them precomputed).
        scores: ``judge.scores(samples)`` when the caller has them already.
    """
    start = time.perf_counter()
    probs, feats = scores if scores is not None else judge.scores(samples)
    out = {"n": len(probs)}
    out.update(class_counts(probs, judge.in_index, judge.out_index, thetas))
    if judge.noise_index is not None:
        out["p_noise_class"] = probs[:, judge.noise_index].mean().item()
    out["objectness"] = objectness(probs)
    out["entropy"] = normalized_entropy(probs)
    out["diversity"] = normalized_diversity(probs)
    if reference is not None or reference_features is not None:
        ref = reference_features if reference_features is not None else judge.features(reference)
        out["frechet"] = frechet_distance(feats, ref)
        out["mmd"] = mmd2(feats, ref)
    if train is not None or train_features is not None:
        tf = train_features if train_features is not None else judge.features(train)
        nn_f = nearest_distances(feats, tf)
        out["nn_feature_mean"], out["nn_feature_median"] = nn_f.mean().item(), nn_f.median().item()
        td = train_data if train_data is not None else judge.data_space(train)
        nn_d = nearest_distances(judge.data_space(samples), td)
        out["nn_data_mean"], out["nn_data_median"] = nn_d.mean().item(), nn_d.median().item()
    if judge.input == "image":
        out["unique_binary"] = unique_share(judge.model.prepare(torch.as_tensor(samples)))
    out["seconds"] = time.perf_counter() - start
    return out


def sanity_table(judge, cases: dict, **kwargs) -> dict[str, dict[str, float]]:
    """``{case: measure(x, judge, **kwargs)}`` for named batches (real test sets, noise...)."""
    return {name: measure(x, judge, **kwargs) for name, x in tqdm(cases.items(), desc="sanity table", leave=False)}


# ---------------------------------------------------------------------------- coverage


def _decode_mean(model, z: torch.Tensor) -> torch.Tensor:
    """E[x|z] with gradients (``VAE.decode_to_x`` runs without them)."""
    params = model.decode(z)
    likelihood = getattr(model, "likelihood", None)
    return likelihood.mean(params) if likelihood is not None else params


def coverage_errors(model, x: torch.Tensor, n_steps: int = 300, lr: float = 0.05, batch_size: int = 500,
                    progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Per held-out example, the root-mean-square reconstruction error in the model's data space
    through the encoder (z = mu(x)) and the lowest one reached by latent optimisation: ``n_steps``
    Adam steps on z from the encoder's guess, decoder frozen (the "inversion" of Kégl et al.,
    2018, Sec. 4; cf. Lipton & Tripathi, 2017). Returns ``(encoder, optimised)``, two ``[N]``
    tensors; :func:`coverage` turns them into shares under a tolerance.

    ``model`` needs ``encode(x) -> (mu, logvar)`` and ``decode(z)`` (and ``likelihood.mean``
    when it has one), as :class:`~helpers.models.VAE`. The weights are never changed.
    """
    x = torch.as_tensor(x)
    if x.dtype == torch.uint8:
        x = x.float() / 255
    if n_steps < 0:
        raise ValueError(f"n_steps={n_steps}: expected >= 0")
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    params = list(model.parameters()) if hasattr(model, "parameters") else []
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    device = params[0].device if params else torch.device("cpu")
    enc_err, opt_err = [], []
    try:
        starts = range(0, len(x), batch_size)
        for s in tqdm(starts, desc="coverage", disable=not progress, leave=False):
            xb = x[s:s + batch_size].to(device)
            xb = xb.reshape(len(xb), *getattr(model, "x_shape", xb.shape[1:]))

            def mse(z):
                return (_decode_mean(model, z).reshape(len(xb), -1) - xb.reshape(len(xb), -1)).pow(2).mean(1)

            with torch.no_grad():
                mu, _ = model.encode(xb)
                enc_err.append(mse(mu).sqrt().float().cpu())
            best = enc_err[-1].to(device).clone()
            if n_steps:
                z = mu.detach().clone().requires_grad_(True)
                opt = torch.optim.Adam([z], lr=lr)
                for _ in range(n_steps):
                    err = mse(z)
                    opt.zero_grad()
                    err.sum().backward()
                    opt.step()
                    best = torch.minimum(best, err.detach().sqrt().float())
                with torch.no_grad():
                    best = torch.minimum(best, mse(z).sqrt().float())
            opt_err.append(best.cpu())
    finally:
        for p, f in zip(params, flags):
            p.requires_grad_(f)
        if was_training:
            model.train()
    if not enc_err:
        return torch.zeros(0), torch.zeros(0)
    return torch.cat(enc_err), torch.cat(opt_err)


def coverage(model, x: torch.Tensor, tolerance: float = 0.1, n_steps: int = 300, lr: float = 0.05,
             batch_size: int = 500, progress: bool = True) -> dict[str, float]:
    """Share of held-out ``x`` the model reconstructs within ``tolerance`` (root-mean-square error
    per example in the model's data space), through its encoder and through latent optimisation
    with the decoder frozen (:func:`coverage_errors`)."""
    if tolerance <= 0:
        raise ValueError(f"tolerance={tolerance}: expected > 0")
    enc, opt_ = coverage_errors(model, x, n_steps, lr, batch_size, progress)
    return {"coverage_encoder": (enc <= tolerance).double().mean().item(),
            "coverage_optimised": (opt_ <= tolerance).double().mean().item(),
            "rmse_encoder_median": enc.median().item(), "rmse_optimised_median": opt_.median().item(),
            "tolerance": tolerance, "n_steps": n_steps}
