"""Held-out reconstruction quality of the audio VAEs, on magnitudes and on sound.

For every held-out note with magnitude ``S`` (the transform's analysis of the recording):

- on magnitudes: ``S_hat``, the decoded posterior mean, against ``S``;
- after phase reconstruction: ``|analysis(synthesize(S_hat))|`` against ``S``, i.e. what is
  heard, analysed again by the same transform;
- two floors that no model can beat: the phase reconstruction of ``S`` itself
  (``oracle_*``), and for the note model the time pooling of ``S`` alone (``pool_*``).

Measures (:func:`magnitude_metrics`): spectral convergence ``||S - S'||_F / ||S||_F``
(Sturmel & Daudet, 2011) and the log-spectral distance in dB (Gray & Markel, 1976) over an
80 dB range below each note's peak (both magnitudes are floored there, so that the inaudible
tail of the release does not dominate the mean).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from helpers.audio.datasets import pool_time, unpool_time
from helpers.audio.metrics import log_spectral_distance, spectral_convergence


def magnitude_metrics(reference: torch.Tensor, estimate: torch.Tensor,
                      dynamic_range_db: float = 80.0) -> dict[str, torch.Tensor]:
    """Per-note spectral convergence and log-spectral distance (dB) of ``[..., F, T]`` magnitudes.

    The log-spectral distance divides both magnitudes by the reference's peak and floors the
    power ``dynamic_range_db`` below it; a perfect estimate scores 0 on both.
    """
    reference = torch.as_tensor(reference, dtype=torch.float64)
    estimate = torch.as_tensor(estimate, dtype=torch.float64)
    peak = reference.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    lsd = log_spectral_distance(reference / peak, estimate / peak, power_floor=10 ** (-dynamic_range_db / 10))
    return {"sc": spectral_convergence(reference, estimate), "lsd": lsd}


def resynthesize(transform, magnitude: torch.Tensor, n_iter: int | None = None, batch_size: int = 16,
                 length: int | None = None) -> torch.Tensor:
    """Phase reconstruction of ``[N, F, T]`` magnitudes, ``batch_size`` notes at a time: ``[N, n]``."""
    waves = [transform.synthesize(magnitude[i:i + batch_size], n_iter=n_iter, length=length)
             for i in range(0, len(magnitude), batch_size)]
    return torch.cat(waves)


def _reanalysed(transform, magnitude: torch.Tensor, n_iter: int | None, batch_size: int,
                length: int) -> torch.Tensor:
    wave = resynthesize(transform, magnitude, n_iter, batch_size, length)
    return transform.analyze(wave)


@torch.no_grad()
def evaluate_reconstructions(model, magnitude: torch.Tensor, n_iter: int | None = 32, batch_size: int = 16,
                             audio: bool = True, oracle: bool = True,
                             dynamic_range_db: float = 80.0) -> pd.DataFrame:
    """One row per note: ``mag_sc``, ``mag_lsd`` (decoded magnitudes), ``audio_sc``, ``audio_lsd``
    (decoded, phase-reconstructed with ``n_iter`` Griffin-Lim iterations and analysed again),
    and the floors ``oracle_sc``/``oracle_lsd`` (the original magnitude through the same phase
    reconstruction) and, for the note model, ``pool_sc``/``pool_lsd`` (time pooling alone).

    ``model`` is an :class:`~helpers.models.audio.AudioVAE`; ``magnitude`` ``[N, F, T]`` are
    full-resolution magnitudes of whole notes (e.g. ``AudioData.magnitudes("val")``).
    """
    magnitude = torch.as_tensor(magnitude, dtype=torch.float32)
    transform = model.transform
    length = model.n_samples
    rows: dict[str, torch.Tensor] = {}

    def add(prefix, estimate):
        for k, v in magnitude_metrics(magnitude, estimate, dynamic_range_db).items():
            rows[f"{prefix}_{k}"] = v

    recon = torch.cat([model.reconstruct(magnitude[i:i + 64]) for i in range(0, len(magnitude), 64)])
    add("mag", recon)
    if model.kind == "note" and model.time_pool > 1:
        scaled = transform.scale(magnitude)
        add("pool", transform.unscale(unpool_time(pool_time(scaled, model.time_pool), magnitude.shape[-1])))
    if audio:
        add("audio", _reanalysed(transform, recon, n_iter, batch_size, length))
        if oracle:
            add("oracle", _reanalysed(transform, magnitude, n_iter, batch_size, length))
    return pd.DataFrame({k: v.numpy().astype(np.float64) for k, v in rows.items()})


def summarize(table: pd.DataFrame) -> dict[str, float]:
    """Mean of every column of :func:`evaluate_reconstructions`."""
    return {k: float(v) for k, v in table.mean().items()}


def error_by_level(reference: torch.Tensor, estimate: torch.Tensor, loud_db: float = -30.0,
                   quiet_db: float = -60.0, dynamic_range_db: float = 80.0) -> dict[str, float]:
    """Mean absolute level error (dB) in the loud bins of the reference (within ``-loud_db`` dB of
    its note's peak: the partials) and in its quiet bins (more than ``-quiet_db`` dB below: the
    floor between and above the partials), with the share of bins of each kind.

    Shows where a model spends its accuracy: a squared error (Gaussian) weighs the few large
    errors on partials, an absolute error (Laplace) the many small ones on the floor.
    """
    reference = torch.as_tensor(reference, dtype=torch.float64)
    estimate = torch.as_tensor(estimate, dtype=torch.float64)
    peak = reference.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    floor = 10 ** (-dynamic_range_db / 20)
    ref_db = 20 * torch.log10((reference / peak).clamp_min(floor))
    est_db = 20 * torch.log10((estimate / peak).clamp_min(floor))
    err = (ref_db - est_db).abs()
    loud, quiet = ref_db > loud_db, ref_db < quiet_db
    return {"loud_err_db": float(err[loud].mean()), "quiet_err_db": float(err[quiet].mean()),
            "loud_share": float(loud.double().mean()), "quiet_share": float(quiet.double().mean())}


def spread_rows(n: int, k: int | None) -> np.ndarray:
    """``k`` row indices evenly spread over ``range(n)`` (all of them when ``k`` is None or >= n)."""
    if k is None or k >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def evaluate_run(model, magnitude: torch.Tensor, n_audio: int | None = None, n_iter: int | None = 32,
                 batch_size: int = 16) -> dict[str, float]:
    """Mean held-out scores of a model: magnitude scores over every note of ``magnitude``; sound
    scores (and their oracle floor) over ``n_audio`` of them, evenly spread (all when None)."""
    out = summarize(evaluate_reconstructions(model, magnitude, audio=False))
    rows = spread_rows(len(magnitude), n_audio)
    table = evaluate_reconstructions(model, magnitude[torch.from_numpy(rows)], n_iter=n_iter, batch_size=batch_size)
    out.update({k: v for k, v in summarize(table).items() if k.startswith(("audio", "oracle"))})
    out["n_notes"], out["n_audio_notes"] = len(magnitude), len(rows)
    return out
