"""Notebook 04's subjects and tables: a trained generator, its judge and its reference data, and
every hack of it measured in one table shape.

A :class:`Subject` holds one trained VAE (the MNIST model of notebook 01 or the note model of
notebook 03), the judge that scores its outputs (36 classes: digits in-class, letters
out-of-class; or 16 instruments: the 11 training ones in-class, the 5 unseen ones out-of-class)
and the real data its measures compare with. Every table below draws the SAME latent codes for
every row (common random numbers), so that two rows differ only by the hack.

>>> s = mnist_subject(run_root)
>>> regions = region_table(s, n=1000)
>>> sweep = corruption_table(s, kinds=("gaussian",), levels=(0.5, 1, 2), depths=("first", "last"))
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..evaluation import novelty
from ..models.priors import CodeGaussian, CodeMixture, StandardNormal


def vae_of(model):
    """The ``nn.Module`` VAE of a model (an :class:`~helpers.models.audio.AudioVAE` wraps one)."""
    return getattr(model, "vae", model)


@dataclass
class Subject:
    """One trained generator and what its measures need.

    Attributes:
        name: shown in tables ("MNIST VAE", "note VAE (NSGT)").
        kind: "image" or "audio".
        model: the VAE (images) or the :class:`~helpers.models.audio.AudioVAE` (audio).
        judge: the :class:`~helpers.evaluation.judges.Judge` of its outputs.
        codes: posterior means of the training examples ``[N, D]``.
        reference: real held-out examples in the judge's input space (Fréchet distance, MMD).
        train: training examples in the judge's input space (nearest-neighbour distances).
        density: a model of the aggregate posterior (``sample``/``log_prob``), fitted to ``codes``.
        run: the cached run the model came from (its training time, whether it was reused).
        x_train: the training data as the VAE takes it (fine-tuning, ELBO), images or model space.
        real: other real held-out examples, measured like samples (:meth:`real_measures`): their
            Fréchet distance to ``reference`` is the floor of every table's.
        data: audio, the prepared note set (:func:`~helpers.training.audio.prepare_audio_data`):
            its other parts, e.g. the unseen instruments.
    """

    name: str
    kind: str
    model: object
    judge: object
    codes: torch.Tensor
    reference: torch.Tensor
    train: torch.Tensor
    density: object = None
    run: object = None
    x_train: torch.Tensor | None = None
    real: torch.Tensor | None = None
    data: object = None
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.kind not in ("image", "audio"):
            raise ValueError(f"kind={self.kind!r}: expected 'image' or 'audio'")
        if self.density is None:
            self.density = CodeMixture.fit(self.codes)

    @property
    def vae(self):
        return vae_of(self.model)

    @property
    def z_dim(self) -> int:
        return self.codes.shape[1]

    def prior(self):
        return StandardNormal(self.z_dim)

    def with_vae(self, vae):
        """The subject's model with another VAE inside (a corrupted or fine-tuned copy)."""
        if vae is None or vae is self.vae:
            return self.model
        if self.kind == "image":
            return vae
        other = copy.copy(self.model)
        other.vae = vae.eval()
        return other

    @torch.no_grad()
    def decode(self, z: torch.Tensor, vae=None, batch_size: int | None = None) -> torch.Tensor:
        """E[x|z] in the judge's input space: images ``[N, 1, 28, 28]`` or magnitudes ``[N, F, T]``,
        ``batch_size`` codes at a time (default 500 images, 100 notes: a bent note decoder holds
        several copies of its activations)."""
        model = self.with_vae(vae)
        batch_size = batch_size or (500 if self.kind == "image" else 100)
        z = torch.as_tensor(z, dtype=torch.float32)
        out = []
        for start in range(0, len(z), batch_size):
            zb = z[start:start + batch_size]
            if self.kind == "image":
                out.append(model.decode_to_x(zb).float().cpu().reshape(len(zb), 1, 28, 28))
            else:
                out.append(model.decode(zb).float().cpu())
        x = torch.cat(out)
        if self.kind == "audio":  # a wrecked decoder can overflow: inf/NaN magnitudes become the ceiling/silence
            x = torch.nan_to_num(x, nan=0.0, posinf=self.ceiling, neginf=0.0).clamp(0.0, self.ceiling)
        return x

    @property
    def ceiling(self) -> float:
        """Audio: the largest magnitude a decoded note may take, 100 times the loudest reference
        note's peak (40 dB above it); :func:`describe_samples` counts the notes that reach it."""
        if "ceiling" not in self._cache:
            self._cache["ceiling"] = 100.0 * float(torch.as_tensor(self.reference).abs().max())
        return self._cache["ceiling"]

    def _features(self):
        if "reference" not in self._cache:
            self._cache["reference"] = self.judge.features(self.reference)
            self._cache["train"] = self.judge.features(self.train)
            self._cache["train_data"] = self.judge.data_space(self.train)
        return self._cache["reference"], self._cache["train"], self._cache["train_data"]

    def scores(self, samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The judge's ``(probs, features)`` of ``samples``, remembered for the last batch (the
        measures and the descriptions of one row read them once)."""
        last = self._cache.get("scores")
        if last is None or last[0] is not samples:
            last = self._cache["scores"] = (samples, *self.judge.scores(samples))
        return last[1], last[2]

    def measure(self, samples: torch.Tensor) -> dict[str, float]:
        """:func:`helpers.evaluation.novelty.measure` with the subject's reference and training
        features, computed once."""
        ref, tr, tr_data = self._features()
        return novelty.measure(samples, self.judge, reference_features=ref, train_features=tr, train_data=tr_data,
                               scores=self.scores(samples))

    def real_measures(self) -> dict[str, float]:
        """The measures of real held-out examples (``real``, else ``reference`` itself): the row
        every table compares with."""
        if "real" not in self._cache:
            x = self.reference if self.real is None else self.real
            self._cache["real"] = {**self.measure(x), **describe_samples(self, x)}
        return self._cache["real"]

    def codes_for(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` prior draws, the same for a given seed (the common random numbers of the sweeps)."""
        return self.prior().sample(n, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- subjects


def subset(x: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` rows of ``x`` drawn without replacement (all of them when there are fewer): EM for a
    mixture of 20 full-covariance components over 60,000 codes costs minutes, over 5,000 seconds."""
    if len(x) <= n:
        return x
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]]


def as_images(x: torch.Tensor) -> torch.Tensor:
    """MNIST digits (uint8 0-255 or float 0-1, ``[N, 28, 28]`` or flat) as float ``[N, 1, 28, 28]`` in [0, 1]."""
    x = torch.as_tensor(x)
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    return x.reshape(-1, 1, 28, 28)


def mnist_subject(run_root=None, smoke: bool = False, seed: int = 0, minutes: float = 3.0,
                  n_train_reference: int = 10000, n_reference: int = 2000, judge=None) -> Subject:
    """Notebook 01's main MNIST VAE (the ``"default"`` preset, same arguments, so it is reloaded
    from the run store), the 36-class digits-and-letters judge, ``n_reference`` MNIST test digits as
    the reference (Fréchet distance, MMD: quadratic in it), the next ``n_reference / 2`` as the real
    row, and ``n_train_reference`` training digits for the nearest-neighbour distances."""
    from ..data.mnist import load_mnist
    from ..evaluation import judges as J
    from ..evaluation import mnist_studies as study
    from ..evaluation.latent import encode_dataset

    data = study.mnist_data(n_train=2000 if smoke else None, n_test=100 if smoke else 1000)
    run = study.train_preset("default", data.x_train, run_root, epochs=1 if smoke else None,
                             minutes=0.5 if smoke else minutes, seed=seed)
    vae = run.model.cpu().eval()
    judge = judge or J.digit_letter_judge(smoke=smoke, run_root=run_root)
    codes, _ = encode_dataset(vae, as_images(data.x_train).reshape(-1, 28, 28))
    x_test, _ = load_mnist("test")
    n_ref = 200 if smoke else n_reference
    n_tr = 500 if smoke else n_train_reference
    density = CodeMixture.fit(subset(codes, 5000, seed), n_components=(1, 2, 4) if smoke else (1, 5, 10, 20), seed=seed)
    return Subject("MNIST VAE", "image", vae, judge, codes, as_images(x_test[:n_ref]), as_images(data.x_train[:n_tr]),
                   density, run, data.x_train, real=as_images(x_test[n_ref:n_ref + n_ref // 2]))


def conv_config(smoke: bool = False):
    """The convolutional MNIST VAE whose feature maps network bending acts on: two strided
    convolutions (16 and 32 channels, 28 -> 14 -> 7), a 128-unit dense layer, z = 32, mirrored by
    transposed convolutions (7 -> 14 -> 28); Bernoulli output."""
    from ..models.vae import VAEConfig

    if smoke:
        return VAEConfig(z_dim=8, architecture="conv", conv_channels=(4, 8), conv_hidden=16)
    return VAEConfig(z_dim=32, architecture="conv", conv_channels=(16, 32), conv_hidden=128)


def mnist_conv_subject(run_root=None, smoke: bool = False, seed: int = 0, minutes: float = 2.0, epochs: int = 10,
                       judge=None, reference_from: Subject | None = None) -> Subject:
    """A convolutional MNIST VAE (:func:`conv_config`) trained for at most ``minutes`` (cached in
    the run store), for the spatial bends (flip, translate, rotate, erode, dilate, zoom) that an
    MLP decoder has no feature maps for. ``reference_from``: share the judge and real data of
    the MLP subject."""
    from ..data.mnist import dynamic_binarize, load_mnist
    from ..evaluation import judges as J
    from ..evaluation.latent import encode_dataset
    from ..training.cached import cached_fit
    from ..training.trainer import TrainerConfig

    x_train, _ = load_mnist("train_full")
    if smoke:
        x_train = x_train[:2000]
    trainer = TrainerConfig(n_epochs=1 if smoke else epochs, lr=1e-3, lr_schedule="exponential", lr_final=1e-4,
                            precision="auto", progress=True, seed=seed, name="mnist-conv")
    run = cached_fit(conv_config(smoke), trainer, x_train, name="mnist-conv", run_root=run_root,
                     warmup_epochs=0 if smoke else 1, minutes=0.5 if smoke else minutes,
                     batch_transform=dynamic_binarize)
    vae = run.model.cpu().eval()
    codes, _ = encode_dataset(vae, as_images(x_train).reshape(-1, 28, 28))
    if reference_from is not None:
        judge, reference, train, real = reference_from.judge, reference_from.reference, reference_from.train, reference_from.real
    else:
        judge = judge or J.digit_letter_judge(smoke=smoke, run_root=run_root)
        x_test, _ = load_mnist("test")
        n_ref = 200 if smoke else 2000
        reference, real = as_images(x_test[:n_ref]), as_images(x_test[n_ref:n_ref + n_ref // 2])
        train = as_images(x_train[:500 if smoke else 10000])
    density = CodeGaussian.fit(codes)  # the bends decode prior draws; no mixture needed here
    return Subject("convolutional MNIST VAE", "image", vae, judge, codes, reference, train, density, run, x_train,
                   real=real)


def audio_subject(run_root=None, smoke: bool = False, transform: str = "nsgt", likelihood: str = "laplace",
                  data_root=None, judge=None, progress: bool = True) -> Subject:
    """Notebook 03's note VAE of ``transform`` (``audio_preset("note", transform, likelihood)``,
    reloaded from the run store), the 16-instrument judge of the same transform, half of the
    held-out notes of the training instruments as the reference (the other half is the real row)
    and the training notes for the nearest-neighbour distances."""
    from ..evaluation import judges as J
    from ..latent.audio import data_codes
    from ..training.audio import prepare_audio_data, train_audio_vae
    from ..training.presets import audio_preset

    preset = audio_preset("note", transform, likelihood, smoke=smoke, data_root=data_root)
    data = prepare_audio_data(preset.resolve(), progress=progress)
    run = train_audio_vae(preset, run_root, data=data, progress=progress)
    judge = judge or J.instrument_judge(transform, unseen=True, smoke=smoke, root=data_root, run_root=run_root)
    codes = data_codes(run.model, data, "train")
    # a mixture needs a few codes per dimension; a tiny set (SMOKE) gets the regularised Gaussian
    density = CodeMixture.fit(codes, n_components=(1, 2, 4, 8, 16), seed=0) if len(codes) >= 4 * (codes.shape[1] + 1) \
        else CodeGaussian.fit(codes)
    val = data.magnitudes("val")  # two halves: the reference, and the real row measured against it
    return Subject(f"note VAE ({transform.upper()})", "audio", run.model, judge, codes, val[0::2],
                   data.magnitudes("train"), density, run, data.x["train"], real=val[1::2], data=data)


# ------------------------------------------------------------------------------- tables


def describe_samples(subject: Subject, x: torch.Tensor, base: torch.Tensor | None = None) -> dict[str, float]:
    """What the judges' measures do not say about a batch: images, the mean ink (mean pixel
    value: strokes thicker or thinner); audio, the median spectral flatness (0 for clean partials,
    0.56 for white noise) and the spectral centroid in Hz. With ``base`` (the same codes decoded by
    the unhacked model): the share of samples whose judged class is unchanged and, for audio,
    whose pitch stays within half a semitone: timbre against pitch."""
    out = {}
    if subject.kind == "image":
        out["ink"] = x.float().mean().item()
    else:
        from ..evaluation.audio import spectral_flatness

        out["flatness"] = float(np.nanmedian(spectral_flatness(x)))
        out["at_ceiling"] = (x.flatten(1).amax(1) >= subject.ceiling).double().mean().item()
        freqs = torch.as_tensor(subject.model.transform.frequencies(), dtype=torch.float64)
        power = x.double().pow(2).mean(-1)
        out["centroid_hz"] = float(torch.nanmedian((power * freqs).sum(1) / power.sum(1).clamp_min(1e-30)))
    if base is not None:
        from ..evaluation.audio import estimate_pitch

        freqs = subject.model.transform.frequencies() if subject.kind == "audio" else None
        cached = subject._cache.get("base")
        if cached is None or cached[0] is not base:  # the base batch is scored once per table
            pitch = estimate_pitch(base, freqs) if freqs is not None else None
            cached = subject._cache["base"] = (base, subject.judge.probs(base).argmax(1), pitch)
        out["class_kept"] = (subject.scores(x)[0].argmax(1) == cached[1]).double().mean().item()
        if freqs is not None:
            out["pitch_kept"] = float(np.mean(np.abs(estimate_pitch(x, freqs) - cached[2]) < 0.5))
    return out


def _row(subject: Subject, samples: torch.Tensor, base: torch.Tensor | None = None, **labels) -> dict:
    start = time.perf_counter()
    out = dict(labels)
    out.update(subject.measure(samples))
    out.update(describe_samples(subject, samples, base))
    if base is not None:
        out["change"] = (samples - base).flatten(1).norm(dim=1).median().item()
    out["seconds"] = time.perf_counter() - start
    return out


def region_table(subject: Subject, n: int = 1000, seed: int = 0, radii: Sequence[float] = (1.0, 1.5, 2.0, 3.0),
                 pushes: Sequence[float] = (2.0, 4.0, 8.0), ts: Sequence[float] = (1.0, 1.5, 2.0, 3.0),
                 hole_quantile: float = 0.05, progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Section 1: the judges' measures of ``n`` decoded draws from each latent region.

    Rows: the prior, the data region (draws of ``subject.density``), the holes (draws of the
    prior's more likely half whose code density is in its lowest ``hole_quantile``), the shell at each
    radius (in units of sqrt(d)), the inactive dimensions pushed to each value, extrapolation
    beyond pairs of training codes at each t. Columns: ``region``, ``parameter``, ``value``,
    ``dist_to_codes`` (median distance of the draws to the nearest training code), then the
    measures. Returns ``(table, {row label: decoded samples})`` for the grids.
    """
    from ..latent import regions as R

    kl = R.kl_per_dimension(subject.vae, subject.x_train[:2000], progress=progress)
    d = subject.z_dim
    samplers = {"prior": (None, None, subject.prior()), "data": (None, None, R.data_region(subject.density)),
                f"holes (lowest {100 * hole_quantile:g}%)": ("quantile", hole_quantile,
                                                             R.holes(subject.density, d, quantile=hole_quantile, prior_quantile=0.5))}
    for r in radii:
        samplers[f"shell {r:g}"] = ("radius", r, R.shell(d, r))
    if int((kl < 0.01).sum()):
        for p in pushes:
            samplers[f"inactive {p:g}"] = ("push", p, R.inactive(kl, p, base=subject.density))
    for t in ts:
        samplers[f"extrapolation {t:g}"] = ("t", t, R.extrapolation(subject.codes, t))
    rows, shown = [], {}
    for label, (parameter, value, sampler) in tqdm(samplers.items(), desc="regions", disable=not progress):
        z = sampler.sample(n, generator=torch.Generator().manual_seed(seed))
        x = subject.decode(z)
        row = _row(subject, x, region=label.split(" ")[0], label=label, parameter=parameter, value=value)
        row["dist_to_codes"] = R.distance_to_data(z, subject.codes).median().item()
        row["z_norm"] = z.norm(dim=1).median().item() / d ** 0.5
        rows.append(row)
        shown[label] = x[:16].clone()  # a copy: a view would keep the whole batch alive
    table = pd.DataFrame(rows).set_index("label")
    table.attrs["inactive_dims"] = int((kl < 0.01).sum())
    table.attrs["kl_per_dim"] = kl.tolist()
    return table, shown


def corruption_table(subject: Subject, kinds: Sequence[str] = ("gaussian",), levels: Sequence[float] = (0.5, 1.0, 2.0),
                     depths: Sequence = ("first", "last", None), n: int = 1000, seed: int = 0,
                     keep: Sequence[tuple] | None = None, progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Section 2: each corruption ``kind`` of the decoder at each ``level`` and ``depth`` ("first"
    or "last" weight layer of the decoder, or None: all of them), the same ``n`` prior codes
    decoded by every corrupted copy. Returns ``(table, {(kind, depth, level): 16 samples})`` for
    the points in ``keep`` (None: all; the depth None is written "all" in both)."""
    from . import Corruption, corrupt, weights_fingerprint

    z = subject.codes_for(n, seed)
    before = weights_fingerprint(subject.vae)
    rows, shown = [], {}
    base = subject.decode(z)
    rows.append(_row(subject, base, kind="none", depth="-", level=0.0))
    points = [(k, dp, lv) for k in kinds for dp in depths for lv in levels]
    for kind, depth, level in tqdm(points, desc="corruption sweep", disable=not progress):
        spec = Corruption(kind=kind, amount=float(level), part="decoder", depth=depth, seed=seed)
        x = subject.decode(z, vae=corrupt(subject.vae, spec))
        label = "all" if depth is None else str(depth)
        rows.append(_row(subject, x, base, kind=kind, depth=label, level=float(level)))
        if keep is None or (kind, label, float(level)) in keep:
            shown[kind, label, float(level)] = x[:16].clone()  # a copy: a view would keep the whole batch alive
    if weights_fingerprint(subject.vae) != before:
        raise RuntimeError("a corruption modified the original model")
    return pd.DataFrame(rows), shown


def bend_table(subject: Subject, bends: dict, n: int = 1000, seed: int = 0, z_reference: torch.Tensor | None = None,
               progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Section 3: the measures of the same ``n`` prior codes decoded under each named bend
    (a :class:`~helpers.hacking.bend.Bend` or chain). Returns ``(table, {name: 16 samples})``."""
    from . import bend, weights_fingerprint

    z = subject.codes_for(n, seed)
    before = weights_fingerprint(subject.vae)
    base = subject.decode(z)
    rows, shown = [_row(subject, base, bend="none")], {"none": base[:16].clone()}
    zr = subject.codes[:500] if z_reference is None else z_reference
    for name, spec in tqdm(bends.items(), desc="bends", disable=not progress):
        with bend(subject.vae, spec, z_reference=zr):
            x = subject.decode(z)
        rows.append(_row(subject, x, base, bend=name))
        shown[name] = x[:16].clone()  # a copy: a view would keep the whole batch alive
    if weights_fingerprint(subject.vae) != before:
        raise RuntimeError("a bend modified the original model")
    return pd.DataFrame(rows).set_index("bend"), shown


def search_table(subject: Subject, objectives: Sequence[str] = ("unlikelihood", "noise", "out"), n_codes: int = 256,
                 n_steps: int = 200, lr: float = 0.05, radius: float | None = 1.5, project: bool = True, seed: int = 0,
                 n_show: int = 16, progress: bool = True) -> tuple[pd.DataFrame, dict, dict]:
    """Section 4: latent search with the generator frozen, one run of ``n_codes`` codes from the
    same prior draws per objective (:func:`~helpers.hacking.search.latent_search`). ``project``:
    codes that leave the ball of radius ``radius * sqrt(d)`` are put back on its surface after
    each step (a hard limit; the penalty alone lets an unbounded objective, such as the negative
    ELBO of a Laplace decoder, pull codes far beyond it).

    Returns ``(table, histories, shown)``: the measures of the final codes' decodings (and of the
    starting ones, row "start"), the per-step history of each search, and the ``n_show`` samples
    of each search with the highest final objective."""
    from . import SearchConfig, latent_search, weights_fingerprint

    z0 = subject.codes_for(n_codes, seed + 1)
    before = weights_fingerprint(subject.vae)
    start = subject.decode(z0)
    rows, histories, shown = [_row(subject, start, objective="start")], {}, {}
    rows[0]["z_norm"] = z0.norm(dim=1).median().item() / subject.z_dim ** 0.5
    for objective in objectives:
        config = SearchConfig(objective=objective, n_steps=n_steps, lr=lr, radius=radius, project=project, seed=seed)
        result = latent_search(subject.model, z0.clone(), config, judge=subject.judge, progress=progress)
        x = subject.decode(result.z)
        row = _row(subject, x, start, objective=objective)
        row["z_norm"] = result.z.norm(dim=1).median().item() / subject.z_dim ** 0.5
        row["objective_start"] = float(result.history["objective_mean"].iloc[0])
        row["objective_end"] = float(result.history["objective_mean"].iloc[-1])
        row["search_seconds"] = float(result.history["seconds"].iloc[-1])
        rows.append(row)
        histories[objective] = result.history
        shown[objective] = x[torch.as_tensor(result.objective).argsort(descending=True)[:n_show]]
    if weights_fingerprint(subject.vae) != before:
        raise RuntimeError("the latent search modified the model")
    return pd.DataFrame(rows).set_index("objective"), histories, shown


def _run_key(run) -> dict | None:
    """The run key of a cached run (its ``key.json``), recorded in the keys of its fine-tuned copies."""
    import json

    path = getattr(run, "run_dir", None)
    if path is None or not (path / "key.json").is_file():
        return None
    return json.loads((path / "key.json").read_text())


def uncanny_copies(subject: Subject, weights: Sequence[float] = (0.0, 1.0, 10.0), critic: str = "vae",
                   n_steps: int = 200, lr: float = 1e-4, batch_size: int = 128, seed: int = 0, run_root=None,
                   progress: bool = True):
    """``(weight, FineTuned)`` for each weight: the subject's decoder fine-tuned "to the uncanny"
    (:func:`~helpers.hacking.finetune.uncanny_finetune`, cached in the run store; a generator, one
    copy at a time). Notebook 05 calls it with notebook 04's settings to reload the same copies."""
    from . import UncannyConfig, uncanny_finetune

    from ..data.mnist import dynamic_binarize

    binarize = dynamic_binarize if subject.kind == "image" else None  # as the MNIST VAE was trained
    parent_key = _run_key(subject.run)
    for w in weights:
        config = UncannyConfig(critic=critic, weight=float(w), n_steps=n_steps, lr=lr, batch_size=batch_size, seed=seed)
        yield w, uncanny_finetune(subject.model, subject.x_train, config, judge=subject.judge, run_root=run_root,
                                  progress=progress, batch_transform=binarize, parent_key=parent_key)


def uncanny_table(subject: Subject, weights: Sequence[float] = (0.0, 1.0, 10.0), critic: str = "vae",
                  n_steps: int = 200, lr: float = 1e-4, batch_size: int = 128, n: int = 1000, seed: int = 0,
                  run_root=None, progress: bool = True) -> tuple[pd.DataFrame, dict, dict]:
    """Section 4, fine-tuning variant: a copy of the decoder fine-tuned so that its samples are
    judged unlikely by the frozen original (``critic="vae"``) or by the judge, for each weight of
    the term that keeps reconstructing the training data (:func:`~helpers.hacking.finetune.uncanny_finetune`,
    cached in the run store). The same ``n`` prior codes are decoded by every copy.

    Returns ``(table, histories, shown)``: a row per weight (and "original"), the fine-tuning
    histories, and 16 samples of each copy."""
    from . import weights_fingerprint

    z = subject.codes_for(n, seed)
    before = weights_fingerprint(subject.vae)
    base = subject.decode(z)
    rows, histories, shown = [_row(subject, base, weight="original")], {}, {"original": base[:16].clone()}
    copies = uncanny_copies(subject, weights, critic, n_steps, lr, batch_size, seed, run_root, progress)
    for w, tuned in tqdm(copies, total=len(weights), desc="fine-tuned copies", disable=not progress):
        x = subject.decode(z, vae=vae_of(tuned.model))
        row = _row(subject, x, base, weight=f"{w:g}")
        row["train_seconds"] = tuned.train_seconds
        row["reused"] = bool(tuned.cached)
        rows.append(row)
        histories[f"{w:g}"] = tuned.history
        shown[f"{w:g}"] = x[:16].clone()  # a copy: a view would keep the whole batch alive
    if weights_fingerprint(subject.vae) != before:
        raise RuntimeError("fine-tuning modified the original model")
    return pd.DataFrame(rows).set_index("weight"), histories, shown


# ------------------------------------------------------------------ sentences from the tables
# Each *_facts function returns {"text": markdown, ...the values it states}: every number and
# every comparison in the text is read from the table it is given.

IN, OUT, NOISE = "count_in@0.9", "count_out@0.9", "noise@0.9"


def _triple(row) -> str:
    return f"in-class {row[IN]:.2f}, out-of-class {row[OUT]:.2f}, noise {row[NOISE]:.2f}"


def _trend(part: pd.DataFrame, measure: str, x: str = "value") -> str:
    part = part.sort_values(x)
    a, b = part.iloc[0], part.iloc[-1]
    return f"{measure.split('@')[0].replace('count_', '')} {a[measure]:.2f} at {a[x]:g} → {b[measure]:.2f} at {b[x]:g}"


def region_facts(table: pd.DataFrame) -> dict:
    """Sentences on :func:`region_table`: the reference rows, the most out-of-class and the
    noisiest regions, and how in-class, out-of-class and noise move along each region parameter."""
    out = {"most_out": table[OUT].idxmax(), "noisiest": table[NOISE].idxmax()}
    lines = [f"Data region (draws of the mixture): {_triple(table.loc['data'])}; prior: {_triple(table.loc['prior'])}."]
    mo, nz = table.loc[out["most_out"]], table.loc[out["noisiest"]]
    lines.append(f"The highest out-of-class share is **{mo[OUT]:.2f}**, from *{out['most_out']}* (noise {mo[NOISE]:.2f} there); "
                 f"the highest noise share is **{nz[NOISE]:.2f}**, from *{out['noisiest']}*.")
    for region, name in (("shell", "radius r"), ("inactive", "value of the inactive dimensions"), ("extrapolation", "t")):
        part = table[table.region == region]
        if len(part) > 1:
            lines.append(f"Along the {region} ({name}): " + "; ".join(_trend(part, m) for m in (IN, OUT, NOISE)) + ".")
    if not (table.region == "inactive").any():
        lines.append("The model has no inactive dimension (every one carries more than 0.01 nats of KL over the "
                     "training data), so that region is empty.")
    d = table["nn_data_median"]
    lines.append(f"The median distance of a sample to its nearest training example goes from {d['data']:.2f} (data region) "
                 f"to {d.max():.2f} (*{d.idxmax()}*).")
    out["text"] = "\n\n".join(lines)
    return out


def _first_below(part: pd.DataFrame, measure: str, threshold: float) -> float | None:
    part = part.sort_values("level")
    below = part[part[measure] < threshold]
    return float(below["level"].iloc[0]) if len(below) else None


def _where(depth: str) -> str:
    return {"first": "the first decoder layer", "last": "the last decoder layer", "all": "every decoder layer"}.get(
        str(depth), f"decoder layer {depth}")


def corruption_facts(sweep: pd.DataFrame, base, kind_of_data: str = "image") -> dict:
    """Sentences on :func:`corruption_table`: for each kind and layer, the first level at which
    in-class falls below half of the unhacked model's; and the corrupted copies that move each
    descriptive measure (ink; or flatness, pitch kept against class kept) the most."""
    hacked = sweep[sweep.kind != "none"].reset_index(drop=True)
    lines, half = [], base[IN] / 2
    for kind, part in hacked.groupby("kind", sort=False):
        bits = []
        for depth, sub in part.groupby("depth", sort=False):
            lv = _first_below(sub, IN, half)
            bits.append(f"{_where(depth)}: " + (f"from level {lv:g}" if lv is not None else
                                                 f"not up to level {sub['level'].max():g}"))
        lines.append(f"**{kind}**: in-class falls below half of the unhacked {base[IN]:.2f} — " + "; ".join(bits) + ".")
    key = lambda r: f"{r['kind']} on {_where(r['depth'])} at level {r['level']:g}"
    out = {}
    if kind_of_data == "image":
        hi, lo = hacked.loc[hacked["ink"].idxmax()], hacked.loc[hacked["ink"].idxmin()]
        out.update(most_ink=key(hi), least_ink=key(lo))
        lines.append(f"Mean ink (the unhacked decoder: {base['ink']:.3f}) rises most with {key(hi)} "
                     f"(×{hi['ink'] / base['ink']:.2f}) and falls most with {key(lo)} (×{lo['ink'] / base['ink']:.2f}).")
    else:
        hi = hacked.loc[hacked["flatness"].idxmax()]
        gap = hacked["pitch_kept"] - hacked["class_kept"]
        tim = hacked.loc[gap.idxmax()]
        out.update(flattest=key(hi), timbre=key(tim))
        lead = (f"{key(tim)} keeps the pitch of the most notes relative to their instrument (a change of timbre "
                f"rather than pitch)" if gap.max() > 0 else
                f"No corrupted copy keeps the pitch of more notes than their instrument; the closest is {key(tim)}")
        lines.append(f"Spectral flatness (unhacked {base['flatness']:.4f}) rises most with {key(hi)} ({hi['flatness']:.4f}). "
                     f"{lead}: pitch kept for {100 * tim['pitch_kept']:.0f}% of the notes, instrument for "
                     f"{100 * tim['class_kept']:.0f}%.")
    noisy = hacked.loc[hacked[NOISE].idxmax()]
    outc = hacked.loc[hacked[OUT].idxmax()]
    out.update(noisiest=key(noisy), most_out=key(outc))
    lines.append(f"The noisiest copy is {key(noisy)} (noise {noisy[NOISE]:.2f}); the highest out-of-class share, "
                 f"{outc[OUT]:.2f}, comes from {key(outc)} (noise {outc[NOISE]:.2f} there).")
    out["text"] = "\n\n".join(lines)
    return out


def bend_facts(table: pd.DataFrame) -> dict:
    """Sentences on :func:`bend_table`: the bends that change the output most and least, keep the
    judged class least, and give the most out-of-class and the most noise."""
    bent = table.drop(index="none")
    base = table.loc["none"]
    big, small = bent["change"].idxmax(), bent["change"].idxmin()
    lost = bent["class_kept"].idxmin()
    lines = [f"The unbent decoder: {_triple(base)}.",
             f"The largest change of the output is *{big}* (median distance {bent.loc[big, 'change']:.2f} to the unbent "
             f"output), the smallest *{small}* ({bent.loc[small, 'change']:.2f}). *{lost}* keeps the judged class of the "
             f"fewest samples ({100 * bent.loc[lost, 'class_kept']:.0f}%).",
             f"Most out-of-class: *{bent[OUT].idxmax()}* ({bent[OUT].max():.2f}, noise {bent.loc[bent[OUT].idxmax(), NOISE]:.2f}); "
             f"most noise: *{bent[NOISE].idxmax()}* ({bent[NOISE].max():.2f})."]
    return {"text": "\n\n".join(lines), "largest_change": big, "most_out": bent[OUT].idxmax()}


def search_facts(table: pd.DataFrame) -> dict:
    """Sentences on :func:`search_table`: each objective from its start to its end, and the
    measures of the codes it found against the starting codes."""
    start = table.loc["start"]
    lines = [f"The starting codes (prior draws): {_triple(start)}, median |z|/√d {start['z_norm']:.2f}."]
    for objective, row in table.drop(index="start").iterrows():
        lines.append(f"**{objective}**: objective {row['objective_start']:.3g} → {row['objective_end']:.3g} in "
                     f"{row['search_seconds']:.1f} s; the codes found give {_triple(row)}, median |z|/√d {row['z_norm']:.2f}, "
                     f"judged class kept for {100 * row['class_kept']:.0f}%.")
    return {"text": "\n\n".join(lines)}


def uncanny_facts(table: pd.DataFrame, max_noise: float = 0.5) -> dict:
    """Sentences on :func:`uncanny_table`: each weight's measures, and the copy that changes its
    samples most among those whose noise share stays below ``max_noise`` (outputs that left the
    data without becoming noise)."""
    base = table.loc["original"]
    copies = table.drop(index="original")
    lines = [f"Original decoder: {_triple(base)}."]
    for w, row in copies.iterrows():
        lines.append(f"Weight {w}: {_triple(row)}; judged class kept for {100 * row['class_kept']:.0f}%, median change "
                     f"{row['change']:.2f}" + (" (reloaded)." if row.get("reused") else f" ({row['train_seconds']:.0f} s of fine-tuning)."))
    ok = copies[copies[NOISE] < max_noise]
    out = {"chosen": None}
    if len(ok):
        w = ok["change"].idxmax()
        out["chosen"] = w
        lines.append(f"Among the copies whose noise share stays below {max_noise:g}, weight {w} moves its samples furthest "
                     f"(median change {ok.loc[w, 'change']:.2f}, class kept {100 * ok.loc[w, 'class_kept']:.0f}%).")
    else:
        lines.append(f"Every fine-tuned copy has a noise share of {max_noise:g} or more.")
    out["text"] = "\n\n".join(lines)
    return out


def region_answer(name: str, table: pd.DataFrame, real: dict, max_noise: float = 0.5) -> str:
    """The answer to "which latent regions generate novel examples?" for one model: regions
    ranked by out-of-class share, and those whose samples are further from the training data than
    the data region's while their noise share stays below ``max_noise``."""
    ranked = table.sort_values(OUT, ascending=False)
    top = ", ".join(f"*{k}* {v:.2f}" for k, v in ranked[OUT].head(3).items())
    far = table[(table["nn_data_median"] > table.loc["data", "nn_data_median"]) & (table[NOISE] < max_noise)]
    far = far.drop(index=[k for k in ("prior", "data") if k in far.index])
    text = (f"**{name}.** Real held-out data reads out-of-class {real[OUT]:.2f} and noise {real[NOISE]:.2f}. "
            f"Highest out-of-class shares: {top}. ")
    if len(far):
        text += ("Regions whose samples lie further from the training examples than the data region's "
                 f"({table.loc['data', 'nn_data_median']:.2f}) with a noise share below {max_noise:g}: "
                 + ", ".join(f"*{k}* (distance {r['nn_data_median']:.2f}, out-of-class {r[OUT]:.2f}, noise {r[NOISE]:.2f})"
                             for k, r in far.sort_values(OUT, ascending=False).iterrows()) + ".")
    else:
        text += (f"No region gives samples further from the training examples than the data region's "
                 f"({table.loc['data', 'nn_data_median']:.2f}) with a noise share below {max_noise:g}.")
    return text


# ------------------------------------------------------------------- is the judge fooled?


def independent_pixels(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A control batch for images: every pixel drawn independently, white with the probability of
    the batch's mean image at that pixel (and black otherwise). Same ink, same spatial spread, no
    strokes: whatever the judge reads in it, it reads in texture alone."""
    x = torch.as_tensor(x).float()
    p = x.mean(0, keepdim=True).clamp(0, 1).expand_as(x)
    return torch.bernoulli(p, generator=torch.Generator().manual_seed(seed))


def out_of_class_check(subject: Subject, sweep: pd.DataFrame, n: int = 1000, seed: int = 0, top: int = 3) -> dict:
    """For the corrupted copy of ``sweep`` (a :func:`corruption_table`) with the highest out-of-class
    share: the classes its judge names most often, and the same measures on the control batch of
    :func:`independent_pixels`. When the control also reads out-of-class, that share says the
    judge's letters answer texture, not letter shapes. Returns ``text``, ``samples`` and
    ``control`` (16 of each), ``classes`` (name -> count) and the two out-of-class shares."""
    from collections import Counter

    from . import Corruption, corrupt

    if subject.kind != "image":
        raise ValueError(f"{subject.name}: the independent-pixel control is for images")
    rows = sweep[sweep.kind != "none"]
    if rows.empty:
        raise ValueError("sweep: no corrupted copy in the table")
    row = rows.loc[rows[OUT].idxmax()]
    depth = None if row.depth == "all" else row.depth
    spec = Corruption(kind=row.kind, amount=float(row.level), part="decoder", depth=depth, seed=seed)
    x = subject.decode(subject.codes_for(n, seed), vae=corrupt(subject.vae, spec))
    control = independent_pixels(x, seed)
    classes = Counter(subject.judge.predict(x)).most_common(top)
    probs = subject.judge.probs(control)
    out_control = novelty.class_counts(probs, subject.judge.in_index, subject.judge.out_index, (0.9,))[OUT]
    control_classes = Counter(subject.judge.predict(control)).most_common(top)
    label = f"{row.kind} on {_where(str(row.depth))} at level {row.level:g}"
    text = (f"The copy with the most out-of-class samples, {label} ({row[OUT]:.2f}), is mostly named "
            + ", ".join(f"{c} ({k})" for c, k in classes)
            + f". Control: images whose pixels are drawn independently with that copy's mean ink at each pixel "
            f"(no strokes) read out-of-class {out_control:.2f}, mostly "
            + ", ".join(f"{c} ({k})" for c, k in control_classes) + ".")
    return {"text": text, "label": label, "samples": x[:16].clone(), "control": control[:16].clone(),
            "classes": dict(classes), "out_copy": float(row[OUT]), "out_control": float(out_control)}
