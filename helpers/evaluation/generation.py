"""Are an audio model's samples notes? One table row per (model, latent density).

For a trained :class:`~helpers.models.audio.AudioVAE` and a density over its codes (the prior
N(0, I), or a Gaussian, a Gaussian mixture or a kernel density fitted to the training codes, see
:mod:`helpers.models.priors`), ``n`` codes are drawn and decoded to magnitudes, then scored by an
instrument judge of the same transform (:func:`helpers.evaluation.judges.instrument_judge`):

- ``in_class``: share counted confidently as one of the training instruments,
  ``count_in@0.9`` of :func:`helpers.evaluation.novelty.measure` (Kégl et al., 2018, Eq. 5);
- ``noise``: share counted in no group at 0.9 (``noise@0.9``), and ``objectness``;
- ``frechet``: Fréchet distance (Heusel et al., 2017, Eq. 6) between the judge features of the
  samples and of real held-out notes, next to ``frechet_floor``, the same distance between two
  random halves of those real notes (what sampling noise alone gives);
- ``pitch_clarity``: share of samples whose subharmonic-summation salience peak stands
  ``clarity_threshold`` times above the median candidate
  (:func:`helpers.evaluation.audio.pitch_clarity`), next to the recordings' share;
- ``flatness``: median spectral flatness (:func:`helpers.evaluation.audio.spectral_flatness`),
  next to the recordings' median.

Every row is one flat dict with the same keys, so that the notebook, the benchmark JSON and the
checks against the targets read one vocabulary.

>>> ref = real_reference(judge, data.magnitudes("val"), model.transform.frequencies())
>>> table = generation_table({"note nsgt": (model, codes)}, {"note nsgt": judge}, {"note nsgt": ref})
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from helpers.evaluation.audio import pitch_clarity, spectral_flatness
from helpers.evaluation.novelty import frechet_distance, measure
from helpers.models.priors import ALL_DENSITIES, fit_density

#: clarity ratio above which a note counts as having a confident pitch: a flat (noise) spectrum
#: scores about 1, the held-out rendered notes a median of several (see :func:`pitch_clarity`)
CLARITY_THRESHOLD = 2.0
#: the keys of every row of :func:`generation_table` after the model and density names
GENERATION_KEYS = ("n", "in_class", "noise", "objectness", "frechet", "frechet_floor", "frechet_ratio",
                   "pitch_clarity", "pitch_clarity_recordings", "flatness", "flatness_recordings",
                   "flatness_ratio")


@dataclass
class RealReference:
    """What the samples of one transform are compared with: real held-out notes seen by the judge.

    Attributes:
        features: judge features ``[N, D]`` of the real notes.
        frechet_floor: Fréchet distance between the features of two random halves of them.
        pitch_clarity: share of real notes with a confident pitch.
        flatness: median spectral flatness of the real notes.
        in_class, noise: the judge's in-class and noise shares on them.
        n: number of real notes.
    """

    features: torch.Tensor
    frechet_floor: float
    pitch_clarity: float
    flatness: float
    in_class: float
    noise: float
    n: int


def _clear_share(magnitude: torch.Tensor, frequencies, threshold: float) -> float:
    ratio = pitch_clarity(magnitude, frequencies)
    return float(np.mean(np.nan_to_num(ratio, nan=0.0) >= threshold))


def real_reference(judge, magnitude: torch.Tensor, frequencies, seed: int = 0,
                   clarity_threshold: float = CLARITY_THRESHOLD) -> RealReference:
    """Judge features, Fréchet floor (two random halves), pitch clarity and flatness of real notes
    ``magnitude [N, F, T]`` (e.g. ``AudioData.magnitudes("val")``); ``frequencies``: bin centres (Hz)."""
    magnitude = torch.as_tensor(magnitude, dtype=torch.float32)
    if magnitude.ndim != 3 or len(magnitude) < 4:
        raise ValueError(f"magnitude: need at least 4 real notes as [N, F, T], got shape {tuple(magnitude.shape)}")
    scores = measure(magnitude, judge)
    feats = judge.features(magnitude)
    order = torch.randperm(len(feats), generator=torch.Generator().manual_seed(seed))
    half = len(feats) // 2
    floor = frechet_distance(feats[order[:half]], feats[order[half:2 * half]])
    return RealReference(features=feats, frechet_floor=floor,
                         pitch_clarity=_clear_share(magnitude, frequencies, clarity_threshold),
                         flatness=float(np.nanmedian(spectral_flatness(magnitude))),
                         in_class=scores["count_in@0.9"], noise=scores["noise@0.9"], n=len(magnitude))


@torch.no_grad()
def draw_notes(model, density, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
               batch_size: int = 250) -> torch.Tensor:
    """``n`` magnitudes ``[n, F, T]`` decoded from codes of ``density`` (anything with
    ``sample(n, generator=..., temperature=...)``): one note per code for the note model, one
    steady sound (the decoded frame held for a note's length) for the frame model."""
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    z = density.sample(int(n), generator=generator, temperature=temperature).float()
    if z.shape[-1] != model.z_dim:
        raise ValueError(f"the density draws {z.shape[-1]}-dimensional codes, the model takes {model.z_dim}")
    out = []
    for i in range(0, len(z), batch_size):
        zb = z[i:i + batch_size]
        if model.kind == "frame":
            zb = zb.unsqueeze(1).expand(len(zb), model.n_frames, model.z_dim)
        out.append(model.decode(zb))
    return torch.cat(out)


def generation_scores(magnitude: torch.Tensor, judge, reference: RealReference, frequencies,
                      clarity_threshold: float = CLARITY_THRESHOLD) -> dict[str, float]:
    """The row of :data:`GENERATION_KEYS` for generated magnitudes ``[n, F, T]`` under ``judge``."""
    magnitude = torch.as_tensor(magnitude, dtype=torch.float32)
    m = measure(magnitude, judge, reference_features=reference.features)
    flat = float(np.nanmedian(spectral_flatness(magnitude)))
    return {"n": len(magnitude), "in_class": m["count_in@0.9"], "noise": m["noise@0.9"],
            "objectness": m["objectness"], "frechet": m["frechet"], "frechet_floor": reference.frechet_floor,
            "frechet_ratio": m["frechet"] / max(reference.frechet_floor, 1e-12),
            "pitch_clarity": _clear_share(magnitude, frequencies, clarity_threshold),
            "pitch_clarity_recordings": reference.pitch_clarity,
            "flatness": flat, "flatness_recordings": reference.flatness,
            "flatness_ratio": flat / max(reference.flatness, 1e-12)}


def fit_densities(codes: torch.Tensor, kinds=ALL_DENSITIES, max_codes: int = 5000, seed: int = 0) -> dict:
    """``{kind: density}`` fitted on training codes ``[N, D]`` (at most ``max_codes`` of them, a
    seeded random subset: the frame model has one code per frame). With too few codes to choose
    a mixture's size on held-out codes (fewer than ``4 (D + 1)``), the mixture has one component
    and the kernel density a bandwidth of 0.3."""
    codes = torch.as_tensor(codes, dtype=torch.float32)
    if len(codes) > max_codes:
        codes = codes[torch.randperm(len(codes), generator=torch.Generator().manual_seed(seed))[:max_codes]]
    out = {}
    for kind in kinds:
        few = len(codes) < 4 * (codes.shape[1] + 1)
        kwargs = {"n_components": 1} if kind == "mixture" and few else {"bandwidths": (0.3,)} if kind == "kde" and few \
            else {}
        out[kind] = fit_density(kind, codes, **kwargs)
    return out


def generation_table(models: dict, judges: dict, references: dict, kinds=ALL_DENSITIES, n: int = 1000,
                     seed: int = 0, densities: dict | None = None, progress: bool = True) -> pd.DataFrame:
    """One row per (model, density): ``model``, ``density``, ``n_components`` (mixtures) and the
    :data:`GENERATION_KEYS`.

    Args:
        models: ``{name: (AudioVAE, training codes [N, D])}``.
        judges, references: ``{name: Judge}`` and ``{name: RealReference}`` for the same names
            (the judge and the real notes of each model's transform).
        kinds: densities to fit on the codes (:data:`helpers.models.priors.ALL_DENSITIES`).
        n: generated notes per row (1000 in the tables of the notebooks and the benchmark).
        densities: ``{name: {kind: density}}`` already fitted (skips the fitting of those names).
    """
    missing = [k for k in models if k not in judges or k not in references]
    if missing:
        raise KeyError(f"no judge or real reference for the models {missing}")
    rows = []
    jobs = [(name, kind) for name in models for kind in kinds]
    fitted = dict(densities or {})
    for name, kind in tqdm(jobs, desc="generation table", disable=not progress, leave=False):
        model, codes = models[name]
        if name not in fitted or kind not in fitted[name]:
            fitted.setdefault(name, {}).update(fit_densities(codes, (kind,), seed=seed))
        density = fitted[name][kind]
        mags = draw_notes(model, density, n, torch.Generator().manual_seed(seed))
        rows.append({"model": name, "density": kind, "n_components": getattr(density, "n_components", None),
                     **generation_scores(mags, judges[name], references[name], model.transform.frequencies())})
    return pd.DataFrame(rows)


#: the issue's targets for the samples of the chosen note model: (key, comparison, bound)
TARGETS = (("in_class", ">=", 0.8), ("noise", "<=", 0.1), ("flatness_ratio", "<=", 5.0), ("frechet_ratio", "<=", 3.0))


def target_checks(row: dict, targets=TARGETS) -> dict[str, bool]:
    """``{key: met}`` for every target ``(key, ">=" or "<=", bound)`` on one row of the table."""
    out = {}
    for key, op, bound in targets:
        if key not in row:
            raise KeyError(f"the row has no {key!r}; it has {sorted(row)}")
        out[key] = bool(row[key] >= bound) if op == ">=" else bool(row[key] <= bound)
    return out


def describe_generation(table: pd.DataFrame, targets=TARGETS) -> str:
    """A Markdown list: per model, the density whose samples are most often in-class, its measured
    shares, flatness and Fréchet ratios, and which targets it meets; every number read off ``table``."""
    if table.empty:
        raise ValueError("the generation table is empty")
    lines = []
    for name, rows in table.groupby("model", sort=False):
        best = rows.loc[rows["in_class"].idxmax()]
        worst = rows.loc[rows["in_class"].idxmin()]
        checks = target_checks(best.to_dict(), targets)
        met = [k for k, ok in checks.items() if ok]
        missed = [k for k, ok in checks.items() if not ok]
        lines.append(
            f"- **{name}**: samples of the {best.density} are the most often in-class "
            f"({100 * best.in_class:.0f}% at 0.9, noise {100 * best.noise:.0f}%; the {worst.density} "
            f"{100 * worst.in_class:.0f}% and {100 * worst.noise:.0f}%). Their median flatness is "
            f"{best.flatness_ratio:.1f} times the recordings', their Fréchet distance {best.frechet_ratio:.1f} "
            f"times the real-vs-real floor, {100 * best.pitch_clarity:.0f}% have a clear pitch "
            f"(recordings {100 * best.pitch_clarity_recordings:.0f}%). Targets met: "
            f"{', '.join(met) if met else 'none'}" + (f"; missed: {', '.join(missed)}." if missed else "."))
    return "\n".join(lines)
