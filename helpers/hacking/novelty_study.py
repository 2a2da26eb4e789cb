"""Notebook 05's studies: the spurious-versus-coverage trade-off over every model we have, the
"Digits that are not" procedure (Kazakçı, Cherti & Kégl, 2016) on the sparse autoencoder and on
our VAEs, and the same chase in sound.

It reuses notebook 04's subjects (:mod:`helpers.hacking.study`: a VAE, its judge, its real data)
and calls the library underneath: :mod:`helpers.evaluation.tradeoff` (shares and bootstrap),
:mod:`helpers.hacking.iterate` (x <- f(x) from noise), :mod:`helpers.evaluation.clusters`
(k-means and the judges' verdict per cluster).

>>> mnist = study.mnist_subject(run_root)
>>> zoo = mnist_zoo(mnist, run_root)                       # notebook 01's and 04's models, reloaded
>>> points = tradeoff_points(mnist, zoo, heldout=x_test)   # one point per model (and sampler)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..evaluation import novelty
from ..evaluation import tradeoff as T
from ..models.priors import StandardNormal
from . import study as hs
from .corrupt import Corruption, corrupt


@dataclass
class ZooModel:
    """One generator on the trade-off plot.

    Attributes:
        name: its label.
        family: its group (the plot's colour).
        vae: the ``nn.Module`` VAE (corrupted and fine-tuned copies included).
        sampler: what its samples are drawn from (``sample(n, generator)``); None: the prior N(0, I).
        info: columns for the table (z_dim, beta, seed, level...).
    """

    name: str
    family: str
    vae: object
    sampler: object = None
    info: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- the zoos


def mnist_zoo(subject: hs.Subject, run_root=None, smoke: bool = False, seed: int = 0, kw_epochs: int = 2,
              grid_seeds: Sequence[int] = (0, 1, 2), grid_epochs: int = 2, k: int = 100,
              corruption_levels: Sequence[float] = (0.5, 1.0, 2.0), uncanny_weights: Sequence[float] = (0.0, 1.0, 10.0),
              uncanny_steps: int = 150, progress: bool = True) -> list[ZooModel]:
    """Every MNIST VAE of notebooks 01 and 04, reloaded from the run store by calling the same
    functions with the same arguments (trained here only when missing):

    - the main model (``subject``, notebook 01's "default" preset), with the prior and with the
      mixture density of its codes as samplers;
    - the Kingma & Welling latent sizes (``kw_sweep``, 3 to 200 dimensions, ``kw_epochs``);
    - the z x beta grid search of notebook 01, once per seed of ``grid_seeds``;
    - notebook 04's hacks of the main model: Gaussian noise on every decoder layer at
      ``corruption_levels`` (units of each layer's weight std), and the "uncanny" fine-tuned
      decoders at ``uncanny_weights``.

    The defaults are notebook 01's and 04's parameters; ``smoke`` uses their SMOKE values.
    """
    from ..evaluation import mnist_studies as study
    from ..training.checkpoint import load_model
    from ..training.grid_search import trial_checkpoint

    data = study.mnist_data(n_train=2000 if smoke else None, n_test=100 if smoke else 1000)
    zoo = [ZooModel("main, prior", "main model", subject.vae, None, {"z_dim": subject.z_dim}),
           ZooModel("main, mixture of its codes", "main model", subject.vae, subject.density, {"z_dim": subject.z_dim})]
    kw = study.kw_sweep(data.x_train, data.x_test_bin, run_root, epochs=1 if smoke else kw_epochs,
                        eval_every=5 if smoke else 50, seed=seed)
    for z_dim, d in kw.items():
        zoo.append(ZooModel(f"K&W z = {z_dim}", "K&W latent size", d["run"].model.cpu().eval(), None, {"z_dim": z_dim}))
    grid = {"z_dim": [2, 4] if smoke else [2, 10, 32], "beta": [1.0, 2.0]}
    trials = study.seeded_grid_search(data.x_fit[:20000], data.x_val_bin, grid, run_root,
                                      epochs=1 if smoke else grid_epochs, seeds=tuple(grid_seeds)[:2] if smoke else grid_seeds,
                                      k=5 if smoke else k)
    for row in trials.itertuples():
        vae = load_model(trial_checkpoint(row.grid_dir, int(row.trial))).cpu().eval()
        zoo.append(ZooModel(f"grid z = {row.z_dim}, beta = {row.beta:g}, seed {row.seed}", "grid z x beta", vae, None,
                            {"z_dim": int(row.z_dim), "beta": float(row.beta), "seed": int(row.seed)}))
    for level in corruption_levels:
        vae = corrupt(subject.vae, Corruption("gaussian", level, seed=seed))
        zoo.append(ZooModel(f"main, decoder noise {level:g} std", "corrupted (notebook 04)", vae, None, {"level": level}))
    for w, tuned in hs.uncanny_copies(subject, uncanny_weights, n_steps=uncanny_steps, seed=seed, run_root=run_root,
                                      progress=progress):
        zoo.append(ZooModel(f"uncanny, weight {w:g}", "fine-tuned (notebook 04)", hs.vae_of(tuned.model), None,
                            {"weight": float(w)}))
    return zoo


def audio_zoo(subject: hs.Subject, seed: int = 0, corruption_levels: Sequence[float] = (0.25, 0.5, 1.0, 2.0),
              uncanny_weights: Sequence[float] = (1.0, 10.0), uncanny_steps: int = 40, run_root=None,
              progress: bool = True) -> list[ZooModel]:
    """The note VAE of notebooks 03-04 with its prior and with its own sampler (the density of its
    training codes), its decoder corrupted by Gaussian noise at ``corruption_levels``, and
    notebook 04's "uncanny" fine-tuned decoders (same settings: reloaded from the run store)."""
    own = getattr(subject.model, "prior", None) or subject.density
    zoo = [ZooModel("note VAE, prior", "main model", subject.vae, None, {"z_dim": subject.z_dim}),
           ZooModel(f"note VAE, {type(own).__name__}", "main model", subject.vae, own, {"z_dim": subject.z_dim})]
    for level in corruption_levels:
        vae = corrupt(subject.vae, Corruption("gaussian", level, seed=seed))
        zoo.append(ZooModel(f"decoder noise {level:g} std", "corrupted (notebook 04)", vae, None, {"level": level}))
    for w, tuned in hs.uncanny_copies(subject, uncanny_weights, n_steps=uncanny_steps, batch_size=32, seed=seed,
                                      run_root=run_root, progress=progress):
        zoo.append(ZooModel(f"uncanny, weight {w:g}", "fine-tuned (notebook 04)", hs.vae_of(tuned.model), None,
                            {"weight": float(w)}))
    return zoo


def note_grid_objective(base, run_root=None, data=None, progress: bool = True):
    """``objective(params, trial_dir)`` for a grid over the note VAE's ``z_dim`` and ``beta``: a full
    training of the experiment ``base`` (an audio preset) with that latent size and KL weight,
    through the run store (a point trained before is reloaded). ``data``: notes already prepared
    for ``base`` (prepared here otherwise). Returns ``val_loss`` (the best held-out loss),
    ``val_rec``, ``val_kl`` and ``train_seconds``; ``objective.runs`` keeps the runs by
    ``(z_dim, beta)``, ``objective.train(params)`` trains or reloads one, and
    ``objective.store_key`` keys the search's folder."""
    from ..audio.noteset import data_key
    from ..training.audio import train_audio_vae

    runs: dict[tuple, object] = {}

    def train(params):
        z, beta = int(params["z_dim"]), float(params["beta"])
        config = base.replace(name=f"{base.name}-grid-z{z}-b{beta:g}", vae=base.vae.replace(z_dim=z, beta=beta))
        same = data is not None and data_key(data.config) == data_key(config.resolve())
        return train_audio_vae(config, run_root, data=data if same else None, progress=progress)

    def objective(params, trial_dir):
        run = runs[(int(params["z_dim"]), float(params["beta"]))] = train(params)
        last = min(run.history, key=lambda h: h.get("val_loss", math.inf))
        return {"val_loss": float(last["val_loss"]), "val_rec": float(last.get("val_rec", math.nan)),
                "val_kl": float(last.get("val_kl", math.nan)), "train_seconds": float(run.train_seconds)}

    objective.runs, objective.train, objective.store_key = runs, train, {"base": base.reuse_key()}
    return objective


def note_grid(subject: hs.Subject, z_dims: Sequence[int] = (8, 32), betas: Sequence[float] = (0.5, 2.0),
              run_root=None, smoke: bool = False, progress: bool = True) -> tuple[pd.DataFrame, list[ZooModel]]:
    """A grid search over the note VAE's latent size and beta (Optuna through
    :func:`~helpers.training.grid_search.grid_search`, resumable; every point a full training of the
    subject's own preset on its prepared notes, kept in the run store), for more points on the audio
    trade-off than the main model and its hacked copies give.

    Returns the grid's table (best held-out loss, its reconstruction and KL terms, training seconds)
    and two :class:`ZooModel` per point: its prior N(0, I) and its own sampler (the density of its
    training codes that its ``sample()`` uses)."""
    from ..training.grid_search import default_grid_dir, grid_search

    if subject.run is None or subject.data is None:
        raise ValueError(f"{subject.name}: the grid needs the subject's run and prepared notes "
                         "(build it with study.audio_subject)")
    objective = note_grid_objective(subject.run.config, run_root, data=subject.data, progress=progress)
    runs, train, key = objective.runs, objective.train, objective.store_key

    space = {"z_dim": [int(z) for z in z_dims], "beta": [float(b) for b in betas]}
    name = "audio-note" + ("-smoke" if smoke else "")
    table = grid_search(objective, space, metric="val_loss", name=name, key=key,
                        run_dir=default_grid_dir(name, space, run_root, key=key))
    zoo = []
    for _, row in table.sort_values(["z_dim", "beta"]).iterrows():
        z, beta = int(row.z_dim), float(row.beta)
        run = runs.get((z, beta)) or train({"z_dim": z, "beta": beta})  # a resumed search: reloaded
        label = f"grid z={z}, beta={beta:g}"
        own = getattr(run.model, "prior", None)
        zoo.append(ZooModel(f"{label}, prior", "note grid (Optuna)", run.model.vae, None, {"z_dim": z, "beta": beta}))
        if own is not None:
            zoo.append(ZooModel(f"{label}, {type(own).__name__}", "note grid (Optuna)", run.model.vae, own,
                                {"z_dim": z, "beta": beta}))
    return table, zoo


def audio_heldout(subject: hs.Subject, part: str = "unseen", n: int | None = None, seed: int = 0) -> torch.Tensor:
    """Notes of ``part`` ("unseen": the instruments left out of training; "val") in the note VAE's
    model space, at most ``n`` of them (drawn without replacement)."""
    data = subject.data
    if data is None:
        raise ValueError(f"{subject.name}: no prepared audio set kept (build the subject with study.audio_subject)")
    mags = data.magnitudes(part)
    if not len(mags):
        raise ValueError(f"{subject.name}: the audio set has no {part!r} notes")
    return subject.model.to_model(hs.subset(mags, n, seed) if n else mags)


# ---------------------------------------------------------------------------- trade-off


def tradeoff_points(subject: hs.Subject, zoo: Sequence[ZooModel], heldout: torch.Tensor, n: int = 1000,
                    seed: int = 0, theta: float = 0.9, n_steps: int = 100, lr: float = 0.05, batch_size: int = 250,
                    progress: bool = True) -> list[T.TradeoffPoint]:
    """One :class:`~helpers.evaluation.tradeoff.TradeoffPoint` per zoo entry: ``n`` samples of its
    sampler decoded and judged by ``subject.judge``, and ``heldout`` (in the VAE's data space)
    reconstructed through its encoder and by ``n_steps`` of latent optimisation (computed once per
    VAE, shared by its samplers). ``info`` gets the seconds it took."""
    points, errors = [], {}
    for zm in tqdm(zoo, desc="models", disable=not progress):
        start = time.perf_counter()
        z_dim = zm.vae.z_dim
        sampler = zm.sampler if zm.sampler is not None else StandardNormal(z_dim)
        z = sampler.sample(n, generator=torch.Generator().manual_seed(seed)).float()
        samples = subject.decode(z, vae=zm.vae)
        if id(zm.vae) not in errors:
            errors[id(zm.vae)] = novelty.coverage_errors(zm.vae, heldout, n_steps=n_steps, lr=lr,
                                                         batch_size=batch_size, progress=False)
        p = T.tradeoff_point(zm.name, zm.family, samples, subject.judge, zm.vae, heldout, theta=theta,
                             errors=errors[id(zm.vae)], **zm.info)
        p.info["seconds"] = time.perf_counter() - start
        points.append(p)
    return points


def real_spurious(subject: hs.Subject, theta: float = 0.9) -> float:
    """Share of the subject's real held-out examples that its judge reads as spurious (the floor)."""
    x = subject.reference if subject.real is None else subject.real
    inside, _ = T.judged_flags(subject.judge.probs(x), subject.judge, theta)
    return float(1.0 - inside.mean())


# ------------------------------------------------------------------ "Digits that are not"


def iteration_study(name: str, step_fn, starts: torch.Tensor, digit_judge, judge, binarize_share: float | None = None,
                    n_iter: int = 100, vectors=None, ks: Sequence[int] = range(10, 31), theta: float = 0.9,
                    reference_features=None, seed: int = 0, progress: bool = True) -> dict:
    """The procedure of Kazakçı et al. (2016) for one step function: iterate from ``starts``, count
    the distinct fixed points, cluster the end images (k-means on ``vectors(x)`` when given, e.g. the
    sparse autoencoder's codes, else on the pixels; k chosen by the silhouette over ``ks``) and
    judge every cluster (:func:`~helpers.evaluation.clusters.score_clusters`).

    Returns a dict: ``result`` (:class:`~helpers.hacking.iterate.IterationResult`), ``points``
    (:class:`~helpers.hacking.iterate.FixedPoints`), ``clustering``, ``clusters`` (one row per
    cluster), ``types`` (clusters of each type) and ``summary`` (flat numbers for the tables)."""
    from ..evaluation.clusters import KINDS, cluster, member_kinds, score_clusters, type_counts
    from .iterate import fixed_points, iterate

    result = iterate(step_fn, starts, n_iter=n_iter, binarize_share=binarize_share, progress=progress)
    x = result.x.reshape(len(result.x), 1, 28, 28)
    points = fixed_points(x)
    matrix = vectors(x) if vectors is not None else x
    start = time.perf_counter()
    clustering = cluster(matrix, ks=ks, seed=seed, progress=progress)
    table = score_clusters(x, clustering.labels, digit_judge, judge, theta=theta, progress=progress,
                           reference_features=reference_features)
    measures = novelty.measure(x, judge, reference_features=reference_features)
    kinds = member_kinds(digit_judge.probs(x), digit_judge, judge.probs(x), judge, theta)
    types = type_counts(table)
    summary = {"model": name, **result.summary(), "distinct_fixed_points": points.n_distinct,
               "top_point_share": float(points.counts[0]) / len(x) if points.n_distinct else math.nan,
               "k": clustering.k, "cluster_seconds": time.perf_counter() - start,
               **{f"clusters_{t}": v for t, v in types.items()},
               **{f"share_{k}": float(np.mean(kinds == k)) for k in KINDS},
               **{key: measures[key] for key in ("count_in@0.9", "count_out@0.9", "noise@0.9", "objectness",
                                                  "frechet") if key in measures}}
    return {"result": result, "points": points, "clustering": clustering, "clusters": table, "types": types,
            "summary": summary, "images": x}


def iteration_facts(summaries: pd.DataFrame, reference: dict | None = None) -> dict:
    """Sentences read from a table of :func:`iteration_study` summaries (one row per model)."""
    reference = novelty.REFERENCE_VALUES if reference is None else reference
    parts = []
    for row in summaries.to_dict("records"):
        parts.append(f"**{row['model']}**: {row['starts']:,} starts, {100 * row['converged']:.0f}% reached a fixed point "
                     f"(median {row['iterations_median']:.0f} iterations), {row['distinct_fixed_points']:,} distinct end "
                     f"images (the most frequent reached by {100 * row['top_point_share']:.1f}% of the starts); "
                     f"k = {row['k']} clusters: {row['clusters_known']} known types, {row['clusters_new']} new types, "
                     f"{row['clusters_letter-like']} letter-like, {row['clusters_noise']} noise; of the end images "
                     f"{100 * row['share_digit']:.0f}% are confident digits (10-digit judge), "
                     f"{100 * row['share_letter']:.0f}% letters, {100 * row['share_noise']:.0f}% noise and "
                     f"{100 * row['share_new']:.0f}% none of these; letter share count_out@0.9 = "
                     f"{row['count_out@0.9']:.2f}, objectness {row['objectness']:.2f}.")
    ref = "; ".join(f"{k}: {v}" for k, v in reference.items())
    return {"text": " ".join(parts) + f" The authors' code reports, over its sparse autoencoders, {ref}.",
            "most_points": summaries.loc[summaries.distinct_fixed_points.idxmax(), "model"]}


# ------------------------------------------------------------------------- the audio chase

AUDIO_KINDS = ("instrument", "unseen instrument", "noise", "candidate")


def audio_kinds(probs: torch.Tensor, judge, theta: float = 0.9) -> np.ndarray:
    """Per generated note: "instrument" (a training instrument, summed probability above theta),
    "unseen instrument" (an instrument left out of training: new but meaningful), "noise" (the
    noise class above theta), else "candidate" (neither: a new sound or nothing)."""
    inside, out = T.judged_flags(probs, judge, theta)
    kinds = np.full(len(inside), "candidate", dtype=object)
    if judge.noise_index is not None:
        kinds[(torch.as_tensor(probs)[:, judge.noise_index] > theta).numpy()] = "noise"
    kinds[out] = "unseen instrument"
    kinds[inside] = "instrument"
    return kinds


def sample_objectness(probs: torch.Tensor, eps: float = 1e-12) -> np.ndarray:
    """Per sample, KL(p(c|x) || p(c)) with p(c) the batch's mean posterior: the per-sample term of
    the objectness (Inception-score) formula, high for a confident verdict on a rare class."""
    probs = torch.as_tensor(probs, dtype=torch.float64)
    marginal = probs.mean(0, keepdim=True)
    return (probs * ((probs + eps).log() - (marginal + eps).log())).sum(1).numpy()


def audio_sources(subject: hs.Subject, n: int = 500, seed: int = 0, n_iter: int = 30, tol: float = 1e-3,
                  progress: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    """Generated notes (magnitudes ``[n, F, T]``) from four sources: the prior, the model's own
    sampler (density of its codes), and the iteration x <- f(x) (encode, decode the mean, in the VAE's
    model space, at most ``n_iter`` times, stopping per start once no value moves by more than
    ``tol``) started from noise spectra and from prior draws. Returns ``(sources, iterations)``:
    the notes by source, and the :meth:`~helpers.hacking.iterate.IterationResult.summary` of each
    iteration (converged share, iterations, seconds)."""
    from ..evaluation.judges import noise_spectra
    from .iterate import iterate, vae_step

    model = subject.model
    g = lambda: torch.Generator().manual_seed(seed)  # noqa: E731  (the same draws for every source)
    prior_z = StandardNormal(subject.z_dim).sample(n, generator=g()).float()
    own = getattr(model, "prior", None) or subject.density
    out = {"prior": subject.decode(prior_z),
           "own sampler": subject.decode(own.sample(n, generator=g()).float())}
    noise = noise_spectra(n, model.transform, model.n_samples, seed=seed, real=subject.train)
    step = vae_step(subject.vae)
    starts = {"iterated from noise": model.to_model(noise), "iterated from prior draws": model.decode_model(prior_z)}
    info = {}
    for name, x0 in starts.items():
        result = iterate(step, x0, n_iter=n_iter, tol=tol, batch_size=100, progress=progress)
        out[name] = model.from_model(result.x).clamp(0.0, subject.ceiling)
        info[name] = result.summary()
    return out, info


def frame_model(subject: hs.Subject, run_root=None, transform: str = "nsgt", likelihood: str = "gaussian",
                smoke: bool = False, progress: bool = True):
    """Notebook 03's frame model (``audio_preset("frame", transform, likelihood)``, reloaded from the
    run store when notebook 03 trained it) on the subject's notes; its :class:`AudioVAE`."""
    from ..training.audio import train_audio_vae
    from ..training.presets import audio_preset

    data_root = subject.run.config.data_root if subject.run is not None else None
    preset = audio_preset("frame", transform, likelihood, smoke=smoke, data_root=data_root)
    model = train_audio_vae(preset, run_root, progress=progress).model
    if (model.n_freq, model.n_frames) != tuple(subject.reference.shape[1:]):
        raise ValueError(f"the frame model makes spectra of {(model.n_freq, model.n_frames)} (bins, frames), "
                         f"the judge of {subject.name} takes {tuple(subject.reference.shape[1:])}")
    return model


def frame_sources(frame, n: int = 500, seed: int = 0, n_iter: int = 30, tol: float = 1e-3, ceiling: float | None = None,
                  progress: bool = True, iterated: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    """Notes (magnitudes ``[n, F, T]``) of a frame model (one code per spectrum column), as the
    audio chase compares them with the note model's: a prior draw held for the whole note
    ("frame model, steady"), a straight line between two prior draws over the note's frames
    ("frame model, lines"), and the iteration x <- f(x) of every column of a noise spectrum
    ("frame model, iterated from noise"; at most ``n_iter`` steps, per column until no value moves
    by more than ``tol``; left out when not ``iterated``). Returns ``(sources, iterations)`` as
    :func:`audio_sources`."""
    from ..evaluation.judges import noise_spectra
    from ..latent.trajectories import random_line
    from .iterate import iterate, vae_step

    if frame.kind != "frame":
        raise ValueError(f"frame_sources needs a frame model, got a {frame.kind!r} model")
    g = torch.Generator().manual_seed(seed)
    steady = StandardNormal(frame.z_dim).sample(n, generator=g).float()
    lines = torch.stack([random_line(frame.z_dim, frame.n_frames, generator=g) for _ in range(n)]).float()
    out = {"frame model, steady": frame.decode(steady.unsqueeze(1).expand(n, frame.n_frames, frame.z_dim)),
           "frame model, lines": frame.decode(lines)}
    info = {}
    if iterated:
        noise = noise_spectra(n, frame.transform, frame.n_samples, seed=seed)
        columns = frame.to_model(noise)                                        # [n, T, F]
        result = iterate(vae_step(frame.vae), columns.reshape(-1, frame.n_freq), n_iter=n_iter, tol=tol,
                         batch_size=2000, progress=progress)
        out["frame model, iterated from noise"] = frame.from_model(result.x.reshape(columns.shape))
        info["frame model, iterated from noise"] = result.summary()
    if ceiling is not None:
        out = {k: v.clamp(0.0, ceiling) for k, v in out.items()}
    return out, info


def frame_notes(frame, n: int, seed: int = 0, ceiling: float | None = None) -> torch.Tensor:
    """``n`` notes ``[n, F, T]`` of a frame model, alternately a prior draw held for the whole note
    and a line between two prior draws (:func:`frame_sources` without its iteration)."""
    if n < 1:
        raise ValueError(f"n={n}: expected >= 1")
    sources, _ = frame_sources(frame, n=-(-n // 2), seed=seed, ceiling=ceiling, iterated=False, progress=False)
    return torch.stack([sources["frame model, steady"], sources["frame model, lines"]], 1).flatten(0, 1)[:n]


def audio_chase(subject: hs.Subject, sources: dict[str, torch.Tensor], theta: float = 0.9,
                ks: Sequence[int] = range(4, 16), seed: int = 0, progress: bool = True) -> dict:
    """Judge every generated note, cluster them (k-means on the judge's features, k by the
    silhouette over ``ks``) and rank the candidates.

    Returns a dict: ``samples`` (all notes, ``[N, F, T]``), ``table`` (one row per note: source,
    kind, judged class and probability, novelty = distance to the nearest training note in the
    judge's data space, objectness, cluster), ``sources`` (shares of each kind per source, and the
    measures of :func:`~helpers.evaluation.novelty.measure`), ``clusters`` (per cluster: size,
    shares of each kind, most common class and source) and ``candidates`` (rows of kind
    "candidate", most novel and most object-like first: ranked by the mean of the two ranks)."""
    from ..evaluation.clusters import cluster

    names = list(sources)
    samples = torch.cat([sources[k] for k in names])
    source = np.concatenate([[k] * len(sources[k]) for k in names])
    probs, feats = subject.judge.scores(samples, progress=progress)
    _, train_features, train_data = subject._features()
    kinds = audio_kinds(probs, subject.judge, theta)
    novelty_d = novelty.nearest_distances(subject.judge.data_space(samples), train_data).numpy()
    table = pd.DataFrame({"source": source, "kind": kinds,
                          "class": [subject.judge.classes[i] for i in probs.argmax(1).tolist()],
                          "p": probs.max(1).values.numpy(), "novelty": novelty_d,
                          "objectness": sample_objectness(probs)})
    clustering = cluster(feats, ks=ks, seed=seed, pca=None if feats.shape[1] <= 50 else 50, progress=progress)
    table["cluster"] = clustering.labels
    ref_features = subject._features()[0]
    per_source = []
    for name in names:
        member = table.source == name
        idx = torch.as_tensor(np.flatnonzero(member.to_numpy()))
        m = novelty.measure(samples[idx], subject.judge, reference_features=ref_features, scores=(probs[idx], feats[idx]))
        per_source.append({"source": name, "n": int(member.sum()),
                           **{f"share_{k}": float((table.kind[member] == k).mean()) for k in AUDIO_KINDS},
                           "novelty_median": float(table.novelty[member].median()),
                           "objectness": m["objectness"], "frechet": m["frechet"]})
    rows = []
    for c, part in table.groupby("cluster"):
        rows.append({"cluster": int(c), "size": len(part),
                     **{f"share_{k}": float((part.kind == k).mean()) for k in AUDIO_KINDS},
                     "class": part["class"].mode().iloc[0], "source": part.source.mode().iloc[0],
                     "novelty_median": float(part.novelty.median())})
    cand = table[table.kind == "candidate"].copy()
    cand["rank"] = (cand.novelty.rank(ascending=False) + cand.objectness.rank(ascending=False)) / 2
    cand = cand.sort_values("rank")
    return {"samples": samples, "table": table, "sources": pd.DataFrame(per_source).set_index("source"),
            "clusters": pd.DataFrame(rows).set_index("cluster"), "candidates": cand, "clustering": clustering,
            "features": feats, "probs": probs}


def novel_candidates(subject: hs.Subject, n: int = 250, seed: int = 0, n_iter: int = 30,
                     ks: Sequence[int] = range(4, 8), progress: bool = True) -> torch.Tensor:
    """The chase's novel candidates (magnitudes ``[M, F, T]``, most novel and object-like first):
    of ``n`` notes from each of :func:`audio_sources`, those the judge calls neither a training
    instrument, an unseen one, nor noise (:func:`audio_chase`)."""
    sources, _ = audio_sources(subject, n=n, seed=seed, n_iter=n_iter, progress=progress)
    chase = audio_chase(subject, sources, ks=ks, seed=seed, progress=progress)
    return chase["samples"][torch.as_tensor(chase["candidates"].index.to_numpy(copy=True))]


def chase_facts(chase: dict) -> dict:
    """Sentences read from :func:`audio_chase`'s tables."""
    src = chase["sources"]
    parts = [f"{name}: {100 * r.share_instrument:.0f}% training instruments, {100 * r['share_unseen instrument']:.0f}% "
             f"unseen instruments, {100 * r.share_noise:.0f}% noise, {100 * r.share_candidate:.0f}% neither"
             for name, r in src.iterrows()]
    most_new = src["share_unseen instrument"].idxmax()
    cl = chase["clusters"]
    text = ("Of the generated notes, by source: " + "; ".join(parts) + ". "
            f"The source with most notes judged an unseen instrument is **{most_new}** "
            f"({100 * src.loc[most_new, 'share_unseen instrument']:.0f}%). The {len(cl)} clusters of the judge's features "
            f"hold {int((cl.share_candidate > 0.5).sum())} made mostly of candidates and "
            f"{int((cl['share_unseen instrument'] > 0.5).sum())} mostly of unseen-instrument notes; "
            f"{len(chase['candidates'])} notes in all are candidates.")
    return {"text": text, "most_new": most_new}


def novelty_map_inputs(subject: hs.Subject, chase: dict, n_real: int = 300, seed: int = 0) -> dict:
    """What a novelty map of the chase shows: ``n_real`` real training notes, ``n_real`` real notes
    of the unseen instruments, then every generated note of :func:`audio_chase`. Returns
    ``magnitudes`` ``[N, F, T]``, the judge's ``features`` ``[N, D]``, ``kinds`` (the map's
    colours: "real: ..." or "generated: <verdict>"), ``captions`` (one line per point) and
    ``offset`` (the index of the first generated note)."""
    if subject.data is None:
        raise ValueError(f"{subject.name}: no prepared audio set kept (build the subject with study.audio_subject)")
    real_train = hs.subset(subject.data.magnitudes("train"), n_real, seed)
    real_unseen = hs.subset(subject.data.magnitudes("unseen"), n_real, seed)
    gen = chase["table"]
    judge = subject.judge
    captions = ([f"real training note ({c})" for c in judge.predict(real_train)]
                + [f"real unseen-instrument note ({c})" for c in judge.predict(real_unseen)]
                + [f"{r.source}: {r.kind}, judged {r['class']} (p={r.p:.2f}), novelty {r.novelty:.2f}"
                   for _, r in gen.iterrows()])
    kinds = (["real: training instrument"] * len(real_train) + ["real: unseen instrument"] * len(real_unseen)
             + [f"generated: {k}" for k in gen.kind])
    return {"magnitudes": torch.cat([real_train, real_unseen, chase["samples"]]),
            "features": torch.cat([judge.features(real_train), judge.features(real_unseen), chase["features"]]),
            "kinds": kinds, "captions": captions, "offset": len(real_train) + len(real_unseen)}
