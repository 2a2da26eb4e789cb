"""Notebook 06's studies: for the note VAE (with the 11-instrument judge) and the MNIST VAE (with
the 10-digit judge), a classifier that also knows the VAE's outputs, the ambiguity fine-tuning
swept over the weight of its realism term, and the adversarial variant at a few learning rates.

It reuses notebook 04's subjects (:mod:`helpers.hacking.study`: the VAE, its richer judge — 36
classes for MNIST, 16 for audio — and its real data) and :mod:`helpers.hacking.fooling`.

>>> fs = fool_subject(hs.mnist_subject(run_root), run_root)
>>> judge2, table = generated_class(fs, run_root)
>>> sweep = ambiguity_sweep(fs, weights=(0, 1e-3, 1e-2), run_root=run_root, gen_judge=judge2)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..evaluation import novelty
from ..training.store import tensor_fingerprint
from . import study as hs
from .corrupt import weights_fingerprint
from .finetune import Probe, UncannyConfig, class_entropy, uncanny_finetune
from .fooling import (GENERATED, AdversarialConfig, GeneratedClassConfig, adversarial_fool, data_spread,
                      fooling_measures, generated_class_judge, regime)


@dataclass
class FoolSubject:
    """One VAE and what notebook 06 fools it with.

    Attributes:
        subject: notebook 04's :class:`~helpers.hacking.study.Subject` (VAE, measuring judge,
            real data, code density).
        judge: the classifier the decoder is made ambiguous against: its in-class classes are the
            training classes (10 digits; 11 instruments), plus noise.
        real: labelled training examples for the classifiers (judge input, class indices).
        heldout: labelled held-out examples (the judge's own test set).
        codes: a bank of codes from the VAE's own sampler (the draws every fine-tuning uses).
        probe_z: the fixed codes measured along training.
        real_features: ``judge``'s features of held-out real examples (the Fréchet distance's
            reference); ``spread``: their mean pairwise distance in the judge's data space.
    """

    subject: hs.Subject
    judge: object
    real: tuple
    heldout: tuple
    codes: torch.Tensor
    probe_z: torch.Tensor
    real_features: torch.Tensor
    spread: float
    info: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.subject.kind

    def batch_transform(self):
        from ..data.mnist import dynamic_binarize

        return dynamic_binarize if self.kind == "image" else None

    def measure(self, x: torch.Tensor, gen_judge=None) -> dict:
        """:func:`~helpers.hacking.fooling.fooling_measures` of decoded outputs ``x`` (in the VAE's
        space: converted here), plus the measuring judge's in/out/noise shares at p > 0.9."""
        x = self.to_judge(x)
        out = fooling_measures(x, self.judge, self.real_features, self.subject.judge, gen_judge, self.spread)
        probs = self.subject.judge.probs(x)
        counts = novelty.class_counts(probs, self.subject.judge.in_index, self.subject.judge.out_index, (0.9,))
        out.update({k.replace("@0.9", ""): v for k, v in counts.items() if k.endswith("@0.9")})
        return out

    def to_judge(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "image":
            return x.reshape(len(x), 1, 28, 28).float()
        if x.dim() == 4 or (x.dim() == 3 and x.shape[-1] != self.subject.model.n_frames):
            return self.subject.model.from_model(x).clamp(0.0, self.subject.ceiling)
        return x


def fool_subject(subject: hs.Subject, run_root=None, smoke: bool = False, n_codes: int = 10000, n_probe: int = 256,
                 n_real: int = 10000, seed: int = 0, data_root=None) -> FoolSubject:
    """The :class:`FoolSubject` of notebook 04's ``subject``: the 10-digit judge for the MNIST VAE
    (``n_real`` labelled training digits), the 11-instrument judge of the same transform for the
    note VAE (its training notes with their instruments); codes drawn from the VAE's own sampler."""
    from ..evaluation import judges as J

    if smoke:
        n_real = min(n_real, 300)
    g = torch.Generator().manual_seed(seed)
    own = getattr(subject.model, "prior", None) or subject.density
    codes = own.sample(n_codes, generator=g).float()
    probe_z = own.sample(n_probe, generator=torch.Generator().manual_seed(seed + 1)).float()
    if subject.kind == "image":
        from ..data.mnist import load_mnist

        judge = J.digit_judge(smoke=smoke, run_root=run_root)
        x, y = load_mnist("train")
        n = min(n_real, len(x))
        real = (x[:n].float() / 255.0, y[:n].long())
        heldout = judge.test_sets.get("mnist_test")
        if heldout is None:
            xt, yt = load_mnist("test")
            heldout = (xt.float() / 255.0, yt.long())
    else:
        if subject.data is None:
            raise ValueError(f"{subject.name}: no prepared audio set kept (build it with study.audio_subject)")
        judge = J.instrument_judge(_transform_name(subject), unseen=False, smoke=smoke, root=data_root,
                                   run_root=run_root)
        labels = subject.data.part("train")
        keep = labels["instrument"].isin(judge.classes).to_numpy()
        mags = subject.data.magnitudes("train")[torch.as_tensor(np.flatnonzero(keep))]
        y = torch.tensor([judge.classes.index(c) for c in labels["instrument"][keep]], dtype=torch.long)
        pick = torch.randperm(len(mags), generator=g)[:n_real]
        real = (mags[pick], y[pick])
        heldout = judge.test_sets["heldout_notes"]
    ref = heldout[0][: (200 if smoke else 1000)]
    real_features = judge.features(ref)
    return FoolSubject(subject, judge, real, heldout, codes, probe_z, real_features, data_spread(judge, ref),
                       {"judge_accuracy": {k: v["accuracy"] for k, v in judge.metrics.get("tests", {}).items()}})


def _transform_name(subject: hs.Subject) -> str:
    name = type(subject.model.transform).__name__.lower()
    return "nsgt" if "nsgt" in name else "stft"


# ------------------------------------------------------------------- 1. "generated" class


def generated_sets(fs: FoolSubject, n: int = 500, seed: int = 0, candidates: torch.Tensor | None = None,
                   extra: dict | None = None) -> dict:
    """What the VAE makes, in the judge's input space: reconstructions of training examples,
    prior draws, draws of its own sampler, ``candidates`` (e.g. notebook 05's novel candidates)
    and the batches of ``extra`` (other models' outputs, e.g. the frame model's) when given; at
    most ``n`` of each."""
    s = fs.subject
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(fs.real[0]), generator=g)[:n]
    x = fs.real[0][idx]
    if s.kind == "image":
        rec = s.decode(s.vae.encode(x.reshape(len(x), *s.vae.x_shape).float())[0].detach())
    else:
        rec = s.model.reconstruct(x).clamp(0.0, s.ceiling)
    out = {"reconstructions": rec, "prior draws": s.decode(s.prior().sample(n, generator=g).float()),
           "own sampler": s.decode(fs.codes[torch.randperm(len(fs.codes), generator=g)[:n]])}
    if candidates is not None and len(candidates):
        out["novel candidates"] = candidates[:n]
    for name, x in (extra or {}).items():
        if len(x):
            out[name] = x[:n]
    return {k: v.detach() for k, v in out.items()}


def generated_class(fs: FoolSubject, run_root=None, n: int = 500, seed: int = 0, candidates=None,
                    config: GeneratedClassConfig | None = None, progress: bool = True, extra: dict | None = None):
    """Section 1: :func:`~helpers.hacking.fooling.generated_class_judge` of the subject's judge,
    trained on half of each generated set (:func:`generated_sets`) and tested on the other half.
    Returns ``(judge, table)``."""
    sets = generated_sets(fs, n, seed, candidates, extra)
    train = {k: v[0::2] for k, v in sets.items()}
    test = {k: v[1::2] for k, v in sets.items()}
    kind = "images" if fs.kind == "image" else "notes"
    return generated_class_judge(fs.judge, fs.real, train, fs.heldout, test, config, run_root=run_root,
                                 progress=progress, name=f"judge-generated-{kind}")


# ------------------------------------------------------------------ 2. ambiguity sweep


def _probe_key(fs: FoolSubject, every: int, gen_judge=None) -> dict:
    return {"z": tensor_fingerprint(fs.probe_z),
            "every": every, "judge": weights_fingerprint(fs.judge.model),
            "measure_judge": weights_fingerprint(fs.subject.judge.model),
            "generated_judge": weights_fingerprint(gen_judge.model) if gen_judge is not None else None}


def ambiguity_sweep(fs: FoolSubject, weights: Sequence[float], run_root=None, n_steps: int = 300, lr: float = 1e-4,
                    batch_size: int = 64, mmd_weights: Sequence[float] = (), gen_judge=None, probe_every: int = 25,
                    n: int = 500, seed: int = 0, progress: bool = True) -> dict:
    """Section 2: the decoder fine-tuned for style ambiguity against the frozen judge, once per
    weight of the realism term (the ELBO of training data; ``mmd_weights``: the MMD to real
    features instead), all from the same codes. Returns ``table`` (a row per run and "original":
    the measures of ``n`` codes of the own sampler), ``curves`` (the probes along training, one
    frame per run), ``runs`` (the fine-tuned copies) and ``z`` (the ``n`` codes)."""
    s = fs.subject
    z = fs.codes[:n]
    base = s.decode(z)
    rows = [{"run": "original", "realism": "-", "weight": np.nan, **fs.measure(base, gen_judge), "train_seconds": 0.0}]
    curves, runs = {}, {}
    settings = [("elbo", float(w)) for w in weights] + [("mmd", float(w)) for w in mmd_weights]
    key = _probe_key(fs, probe_every, gen_judge)
    for realism, w in tqdm(settings, desc="ambiguity runs", disable=not progress):
        name = f"{realism} x {w:g}"
        probe = Probe(fs.probe_z, lambda x: fs.measure(x, gen_judge), every=probe_every)
        config = UncannyConfig(critic="ambiguity", weight=w, n_steps=n_steps, lr=lr, batch_size=batch_size,
                               seed=seed, realism=realism)
        start = time.perf_counter()
        tuned = uncanny_finetune(s.model, s.x_train, config, judge=fs.judge, run_root=run_root, progress=False,
                                 batch_transform=fs.batch_transform(), parent_key=hs._run_key(s.run), codes=fs.codes,
                                 real_features=fs.real_features if realism == "mmd" else None,
                                 probe=probe, probe_key=key, name=f"ambiguity-{fs.kind}")
        x = s.decode(z, vae=hs.vae_of(tuned.model))
        rows.append({"run": name, "realism": realism, "weight": w, **fs.measure(x, gen_judge),
                     "train_seconds": tuned.train_seconds, "reused": bool(tuned.cached),
                     "seconds": time.perf_counter() - start})
        curves[name] = pd.DataFrame(probe.rows)
        runs[name] = tuned
    return {"table": pd.DataFrame(rows).set_index("run"), "curves": curves, "runs": runs, "z": z, "base": base}


def ambiguous_not_noise(fs: FoolSubject, x: torch.Tensor, k: int = 8, theta: float = 0.5) -> np.ndarray:
    """Indices of the ``k`` samples of ``x`` with the highest class entropy under the judge among
    those that neither judge (the judge, the measuring judge) calls noise: noise is not their most
    probable class and its probability stays below ``theta``."""
    x = fs.to_judge(x)
    probs = fs.judge.probs(x)
    h = class_entropy(probs, fs.judge.in_index).numpy()
    ok = np.ones(len(x), dtype=bool)
    for j, p in ((fs.judge, probs), (fs.subject.judge, None)):
        if j.noise_index is not None:
            p = p if p is not None else j.probs(x)
            ok &= (p[:, j.noise_index].numpy() < theta) & (p.argmax(1).numpy() != j.noise_index)
    order = np.argsort(-h)
    return order[ok[order]][:k]


def sweep_facts(fs: FoolSubject | None, sweep: dict, max_noise: float = 0.1, collapsed: float = 0.5) -> dict:
    """Sentences read from :func:`ambiguity_sweep`'s table: the original, the most ambiguous copy,
    and the most ambiguous copy whose noise share is at most ``max_noise`` (``best``, None when
    there is none); a copy whose diversity is below ``collapsed`` x the original's is said to
    have collapsed onto a few outputs."""
    t = sweep["table"]
    orig = t.loc["original"]
    runs = t.drop(index="original")
    quiet = runs[runs.noise_share <= max_noise]
    best = quiet.entropy_ratio.idxmax() if len(quiet) else None
    highest = runs.entropy_ratio.idxmax()

    def describe(name):
        r = runs.loc[name]
        text = (f"{100 * r.entropy_ratio:.0f}% of log K, noise share {100 * r.noise_share:.0f}%, Fréchet distance "
                f"{r.frechet:.1f}")
        if "diversity" in r and "diversity" in orig and r.diversity < collapsed * orig.diversity:
            text += f"; its diversity fell to {r.diversity:.2f} from the original's {orig.diversity:.2f}: it collapsed onto a few outputs"
        return text

    text = (f"The original decoder's samples have a class entropy of {orig.class_entropy:.2f} nats "
            f"({100 * orig.entropy_ratio:.0f}% of the ceiling log K = {orig.log_k:.2f}), noise share {100 * orig.noise_share:.0f}%, "
            f"Fréchet distance {orig.frechet:.1f}. The most ambiguous copy is **{highest}** ({describe(highest)}).")
    if best is not None and best != highest:
        text += (f" Among the copies with a noise share of at most {100 * max_noise:.0f}%, **{best}** is the most ambiguous "
                 f"({describe(best)}).")
    elif best is None:
        text += f" No copy keeps its noise share at or below {100 * max_noise:.0f}%."
    return {"text": text, "best": best, "highest": highest}


# ---------------------------------------------------------------------- 3. adversarial


def run_name(config: AdversarialConfig) -> str:
    """A short label of an adversarial run: the generator's and the classifier's learning rates
    (G, C) and the classifier updates per generator update when more than one."""
    name = f"G {config.lr_generator:g}, C {config.lr_classifier:g}"
    return name + (f", {config.classifier_steps} C-steps" if config.classifier_steps != 1 else "")


def adversarial_runs(fs: FoolSubject, gen_judge, settings: Sequence[dict], run_root=None, n_steps: int = 200,
                     batch_size: int = 64, weight: float = 1.0, probe_every: int = 10, seed: int = 0,
                     progress: bool = True) -> dict:
    """Section 3: :func:`~helpers.hacking.fooling.adversarial_fool` once per setting (a dict of
    :class:`~helpers.hacking.fooling.AdversarialConfig` fields: learning rates, classifier steps),
    measured along training with the live classifier's p(generated) (``p_generated_live``).
    Returns ``table`` (one row per run: the settings, the regime and why, the last probe), ``curves``
    and ``runs``."""
    s = fs.subject
    rows, curves, runs = [], {}, {}
    key = _probe_key(fs, probe_every, gen_judge)

    def measure(x, live):
        out = fs.measure(x)
        out["p_generated_live"] = live.probs(fs.to_judge(x))[:, live.classes.index(GENERATED)].mean().item()
        return out

    for setting in tqdm(settings, desc="adversarial runs", disable=not progress):
        config = AdversarialConfig(**{"n_steps": n_steps, "batch_size": batch_size, "weight": weight, "seed": seed,
                                      **setting})
        name = run_name(config)
        out = adversarial_fool(s.model, gen_judge, s.x_train, fs.real, config, run_root=run_root, progress=False,
                               codes=fs.codes, batch_transform=fs.batch_transform(), measure=measure,
                               probe_every=probe_every, probe_z=fs.probe_z, probe_key=key,
                               parent_key=hs._run_key(s.run), name=f"adversarial-{fs.kind}")
        r = regime(out.probes)
        last = out.probes.iloc[-1].to_dict()
        rows.append({"run": name, **setting, "regime": r["regime"], "why": r["why"],
                     **{k: last[k] for k in ("entropy_ratio", "noise_share", "frechet", "diversity", "p_generated_live")
                        if k in last},
                     "train_seconds": out.train_seconds, "reused": bool(out.cached)})
        curves[name] = out.probes
        runs[name] = out
    return {"table": pd.DataFrame(rows).set_index("run"), "curves": curves, "runs": runs}
