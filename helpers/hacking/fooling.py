"""Fool your model with a classifier (notebook 06): a classifier that also knows the VAE's own
outputs, style-ambiguity fine-tuning of a decoder copy against a frozen classifier (Elgammal et
al., 2017, "CAN"), and the adversarial variant where the classifier keeps learning.

- :func:`with_generated_class` / :func:`generated_class_judge`: the judge's classifier with one
  more output, "generated", fine-tuned on real examples and on the VAEs' reconstructions, samples
  and novel candidates (through the Trainer and the run store).
- Ambiguity fine-tuning is :func:`~helpers.hacking.finetune.uncanny_finetune` with
  ``critic="ambiguity"`` (the cross-entropy to the uniform distribution over the training classes)
  and a realism term (the ELBO of training data, or the MMD to real features);
  :func:`fooling_measures` reads a batch along training (class entropy against its ceiling log K,
  noise share, Fréchet distance, diversity, the "generated" head).
- :func:`adversarial_fool`: generator and classifier updated in turn (``classifier_steps``
  classifier updates, then one generator update), each at its own learning rate, through the same
  Trainer (:class:`AdversarialObjective` declares the two parameter groups);
  :func:`regime` names what the curves did.

Nothing here changes the models it is given: the decoder and the classifier are copies, and every
trained copy is a run in the store whose key holds its parents' fingerprints.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..evaluation import novelty
from ..models.classifiers import Classifier, pack, pool_frames
from ..models.config import Config
from ..training.callbacks import Callback
from ..training.store import RunStore, fit_or_load, run_key, tensor_fingerprint
from ..training.trainer import Trainer, TrainerConfig
from .corrupt import _as_module, weights_fingerprint
from .finetune import Probe, ambiguity_loss, class_entropy, draw_codes, reconstruction_loss
from .search import _to_judge, decoded_mean

GENERATED = "generated"


# ------------------------------------------------------------------ the "generated" class


def with_generated_class(judge, name: str = GENERATED):
    """A copy of ``judge`` whose classifier has one more output, ``name``: the old outputs keep
    their weights, the new one starts as their mean with a bias below every other (so the copy
    answers as the original until it is trained). The original is not changed."""
    from ..evaluation.judges import Judge

    if name in judge.classes:
        raise ValueError(f"the judge already has a class {name!r}")
    old = judge.model
    config = old.config.replace(n_classes=old.config.n_classes + 1)
    model = Classifier(config)
    state = {k: v.clone() for k, v in old.state_dict().items()}
    w, b = state.pop("out.weight"), state.pop("out.bias")
    model.load_state_dict(state, strict=False)
    with torch.no_grad():
        model.out.weight.copy_(torch.cat([w, w.mean(0, keepdim=True)]))
        model.out.bias.copy_(torch.cat([b, b.min().reshape(1) - 4.0]))
    model.to(old.device).eval()
    return Judge(model, judge.classes + (name,), judge.in_class, judge.out_class, judge.temperature,
                 transform=judge.transform, batch_size=judge.batch_size)


@dataclass
class GeneratedClassConfig(Config):
    """Fine-tuning of a judge with a "generated" class (:func:`generated_class_judge`).

    Attributes:
        n_epochs: passes over the real and generated examples.
        lr: Adam's step size (a fifth of the judges' training rate: the old classes are kept).
        batch_size: examples per step.
        seed: shuffling and dropout.
    """

    n_epochs: int = 3
    lr: float = 4e-4
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self):
        if self.n_epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError(f"n_epochs, batch_size >= 1 and lr > 0 expected, got {self}")


def _as_judge_input(judge, x: torch.Tensor) -> torch.Tensor:
    """What a classifier is trained on: images as they are, magnitudes pooled to its frames."""
    x = torch.as_tensor(x)
    if judge.input == "spectrum":
        return pool_frames(x.float(), judge.model.config.n_frames)
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    return x.reshape(len(x), *judge.model.config.x_shape)


def generated_class_judge(judge, real: tuple[torch.Tensor, torch.Tensor], generated: dict[str, torch.Tensor],
                          heldout_real: tuple[torch.Tensor, torch.Tensor], heldout_generated: dict[str, torch.Tensor],
                          config: GeneratedClassConfig | None = None, run_root: str | Path | None = None,
                          progress: bool = True, name: str = "judge-generated"):
    """Fine-tune :func:`with_generated_class` of ``judge`` on ``real`` (examples, class indices into
    ``judge.classes``) and on every batch of ``generated`` (labelled "generated"), through the
    Trainer and the run store (key: the parent's weights, the data, the config); or reload it.

    Returns ``(new_judge, table)``: the table has one row per test set, before (the original judge)
    and after: accuracy on ``heldout_real`` (its true classes), the share of held-out real examples
    called "generated" (false alarms), and for each held-out generated set the share called
    "generated" (detection)."""
    config = config or GeneratedClassConfig()
    x_real, y_real = real
    if len(x_real) != len(y_real) or not len(x_real):
        raise ValueError(f"real: {len(x_real)} examples for {len(y_real)} labels (at least one expected)")
    if not generated or not any(len(v) for v in generated.values()):
        raise ValueError("generated: no generated examples")
    new = with_generated_class(judge)
    k = len(new.classes) - 1
    xs = [_as_judge_input(judge, x_real)] + [_as_judge_input(judge, v) for v in generated.values() if len(v)]
    ys = [torch.as_tensor(y_real).long()] + [torch.full((len(v),), k, dtype=torch.long)
                                             for v in generated.values() if len(v)]
    data = pack(torch.cat(xs), torch.cat(ys))
    key = run_key({"generated_class": config, "classifier": new.model.config},
                  {"data": tensor_fingerprint(data)},
                  extra={"parent_weights": weights_fingerprint(judge.model), "classes": list(new.classes)})
    run = RunStore(run_root).open(name, key)
    trainer = Trainer(new.model, TrainerConfig(n_epochs=config.n_epochs, batch_size=config.batch_size, lr=config.lr,
                                               seed=config.seed, device=str(judge.model.device), progress=progress,
                                               keep_best=False, name=run.dir.name),
                      run_dir=run.dir, extra_config={"run_key": key})
    result = fit_or_load(run, trainer, data)
    new.model.eval()
    new.run = result

    def shares(j, x):
        p = j.probs(x) if len(x) else torch.zeros(0, len(j.classes))
        return p.argmax(1)

    rows = []
    xh, yh = heldout_real
    for label, j in (("before", judge), ("after", new)):
        pred = shares(j, xh)
        row = {"judge": label, "classes": len(j.classes), "accuracy_real": float((pred == yh).double().mean()),
               "real_called_generated": float((pred == k).double().mean()) if label == "after" else 0.0}
        for set_name, x in heldout_generated.items():
            row[f"detected: {set_name}"] = float((shares(j, x) == k).double().mean()) if label == "after" else 0.0
        rows.append(row)
    table = pd.DataFrame(rows).set_index("judge")
    table.attrs["train_seconds"] = result.train_seconds
    table.attrs["reused"] = result.reused
    return new, table


# ------------------------------------------------------------------------------ measures


def fooling_measures(x: torch.Tensor, judge, real_features: torch.Tensor | None = None,
                     measure_judge=None, generated_judge=None, real_spread: float | None = None) -> dict[str, float]:
    """What notebook 06 follows along a fine-tuning, for a batch ``x`` the judges take:

    - ``class_entropy`` (nats): the mean entropy of ``judge``'s posterior renormalised over its
      in-class classes; its ceiling is ``log_k`` = log K (no class in particular);
    - ``entropy_ratio``: their ratio; ``p_noise``: the mean noise probability of ``judge``;
    - ``noise_share``: the share whose most probable class under ``measure_judge`` (default
      ``judge``) is noise;
    - ``frechet``: Fréchet distance to ``real_features`` in ``judge``'s feature space;
    - ``diversity``: the mean distance between two samples in the judge's data space, divided by
      ``real_spread`` (the same for real data) when given;
    - ``p_generated``: the mean probability of the "generated" class of ``generated_judge``.
    """
    probs, feats = judge.scores(x, progress=False)
    h = class_entropy(probs, judge.in_index)
    out = {"class_entropy": h.mean().item(), "log_k": math.log(len(judge.in_index))}
    out["entropy_ratio"] = out["class_entropy"] / out["log_k"]
    if judge.noise_index is not None:
        out["p_noise"] = probs[:, judge.noise_index].mean().item()
    mj = measure_judge or judge
    if mj.noise_index is not None:
        mp = probs if mj is judge else mj.probs(x)
        out["noise_share"] = (mp.argmax(1) == mj.noise_index).double().mean().item()
    if real_features is not None and len(real_features) >= 2 and len(feats) >= 2:
        out["frechet"] = novelty.frechet_distance(feats, real_features)
    d = judge.data_space(x)
    if len(d) >= 2:
        spread = torch.pdist(d[:256]).mean().item()
        out["diversity"] = spread / real_spread if real_spread else spread
    if generated_judge is not None:
        out["p_generated"] = generated_judge.probs(x)[:, generated_judge.classes.index(GENERATED)].mean().item()
    return out


def data_spread(judge, x: torch.Tensor, n: int = 256) -> float:
    """The mean distance between two examples of ``x`` in the judge's data space (the yardstick of
    ``diversity`` in :func:`fooling_measures`)."""
    return torch.pdist(judge.data_space(x[:n])).mean().item()


# ---------------------------------------------------------------------------- adversarial


@dataclass
class AdversarialConfig(Config):
    """The adversarial variant (:func:`adversarial_fool`).

    Attributes:
        n_steps: generator updates; each follows ``classifier_steps`` classifier updates.
        classifier_steps: classifier updates per generator update.
        lr_generator, lr_classifier: Adam's step sizes of the decoder copy and of the classifier.
        generated_weight: weight of the generator's "do not be called generated" term,
            -log(1 - p(generated | G(z))).
        weight: weight of the reconstruction of training data (realism, nats per example).
        batch_size: codes, real examples and training examples per update.
        seed: seeds the codes, the batches and dropout.
    """

    n_steps: int = 200
    classifier_steps: int = 1
    lr_generator: float = 1e-4
    lr_classifier: float = 1e-4
    generated_weight: float = 1.0
    weight: float = 1.0
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self):
        if self.n_steps < 1 or self.classifier_steps < 1 or self.batch_size < 1:
            raise ValueError(f"n_steps, classifier_steps and batch_size must be >= 1, got {self}")
        if self.lr_generator <= 0 or self.lr_classifier <= 0:
            raise ValueError(f"learning rates must be > 0, got {self.lr_generator}, {self.lr_classifier}")
        if self.weight < 0 or self.generated_weight < 0:
            raise ValueError(f"weight and generated_weight must be >= 0, got {self.weight}, {self.generated_weight}")


class AdversarialObjective(nn.Module):
    """Generator (a decoder copy) and classifier (with a "generated" class) in one module, so that
    the one Trainer trains both: ``forward`` alternates, by its own step counter (kept in the
    checkpoint), ``classifier_steps`` classifier updates (cross-entropy on real examples with their
    classes and on detached generations labelled "generated") and one generator update (style
    ambiguity over the in-class classes + ``generated_weight`` x -log(1 - p(generated)) +
    ``weight`` x reconstruction of training data), the classifier read with its weights detached.
    In each update only one of the two gets gradients; :meth:`optimizer_groups` gives each its rate."""

    def __init__(self, vae: nn.Module, clf: Classifier, config: AdversarialConfig, in_index, generated_index: int,
                 temperature: float, train_x: torch.Tensor, real_x: torch.Tensor, real_y: torch.Tensor,
                 to_judge: Callable, batch_transform: Callable | None = None, codes: torch.Tensor | None = None):
        super().__init__()
        self.vae, self.clf, self.config = vae, clf, config
        self.in_index, self.generated_index, self.temperature = list(in_index), int(generated_index), float(temperature)
        self.to_judge, self.batch_transform = to_judge, batch_transform
        self.register_buffer("train_x", train_x, persistent=False)
        self.register_buffer("real_x", real_x, persistent=False)
        self.register_buffer("real_y", real_y, persistent=False)
        self.register_buffer("codes", codes, persistent=False)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def optimizer_groups(self, lr: float) -> list[dict]:
        return [{"params": [p for p in self.vae.parameters() if p.requires_grad], "lr": self.config.lr_generator},
                {"params": list(self.clf.parameters()), "lr": self.config.lr_classifier}]

    def forward(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.config
        n = len(index)
        device = index.device
        phase = int(self.step) % (cfg.classifier_steps + 1)
        self.step += 1
        z = draw_codes(self.vae, n, device, self.codes)
        nan = torch.full((), float("nan"), device=device)
        if phase < cfg.classifier_steps:  # classifier update
            with torch.no_grad():
                fake = self.to_judge(decoded_mean(self.vae, z))
            pick = torch.randint(len(self.real_x), (n,), device=self.real_x.device)
            x = torch.cat([self.real_x[pick].to(device), fake.to(self.real_x.dtype)])
            y = torch.cat([self.real_y[pick].to(device), torch.full((n,), self.generated_index, device=device)])
            logits, _ = self.clf.logits_and_features(x)
            loss = F.cross_entropy(logits.float(), y)
            with torch.no_grad():
                acc_real = (logits[:n].argmax(1) == y[:n]).float().mean()
                p_gen = torch.softmax(logits[n:].float(), 1)[:, self.generated_index].mean()
            return {"loss": loss, "classifier_loss": loss.detach(), "generator_loss": nan, "p_generated": p_gen,
                    "accuracy_real": acc_real, "ambiguity": nan, "reconstruction": nan}
        # generator update: the classifier's weights detached and its batch statistics frozen
        was = self.clf.training
        self.clf.eval()
        logits, _ = detached_logits(self.clf, self.to_judge(decoded_mean(self.vae, z)))
        self.clf.train(was)
        probs = torch.softmax(logits.float() / self.temperature, 1)
        amb = ambiguity_loss(probs, self.in_index)
        p_gen = probs[:, self.generated_index]
        rec = reconstruction_loss(self.vae, self.train_x, index, self.batch_transform)
        loss = amb.mean() - cfg.generated_weight * torch.log1p(-p_gen.clamp(max=1 - 1e-6)).mean() + cfg.weight * rec.mean()
        return {"loss": loss, "classifier_loss": nan, "generator_loss": loss.detach(), "p_generated": p_gen.mean().detach(),
                "accuracy_real": nan, "ambiguity": amb.mean().detach(), "reconstruction": rec.mean().detach()}



class _Logits(nn.Module):
    def __init__(self, clf: Classifier):
        super().__init__()
        self.clf = clf

    def forward(self, x):
        return self.clf.logits_and_features(x)


def detached_logits(clf: Classifier, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``clf.logits_and_features(x)`` with the classifier's parameters detached: gradients reach
    ``x`` (the generator) and never the classifier."""
    state = {f"clf.{k}": v.detach() for k, v in clf.named_parameters()}
    state.update({f"clf.{k}": v for k, v in clf.named_buffers()})
    return torch.func.functional_call(_Logits(clf), state, (x,))


class AdversarialHistory(Callback):
    """One row per update of :class:`AdversarialObjective` (kept in the checkpoint)."""

    KEYS = ("classifier_loss", "generator_loss", "p_generated", "accuracy_real", "ambiguity", "reconstruction")

    def __init__(self):
        self.rows: list[dict] = []

    def on_step_end(self, trainer, outputs) -> None:
        values = torch.stack([outputs[k].float().reshape(()) for k in self.KEYS]).tolist()
        self.rows.append({"step": trainer.global_step, **dict(zip(self.KEYS, values))})

    def state_dict(self) -> dict:
        return {"rows": self.rows}

    def load_state_dict(self, state: dict) -> None:
        self.rows = list(state.get("rows", []))


@dataclass
class Adversarial:
    """What :func:`adversarial_fool` returns.

    Attributes:
        model: the generator copy (a wrapper when a wrapper was given).
        judge: the classifier copy as a judge (with its "generated" class).
        history: one row per update (classifier and generator updates interleaved; the columns of
            the other kind are NaN).
        probes: the :class:`~helpers.hacking.finetune.Probe` rows (every ``probe.every`` updates).
        run_dir, train_seconds, cached: as :class:`~helpers.hacking.finetune.FineTuned`.
    """

    model: object
    judge: object
    history: pd.DataFrame
    probes: pd.DataFrame
    run_dir: Path
    train_seconds: float
    cached: bool


def adversarial_fool(model, gen_judge, train_x: torch.Tensor, real: tuple[torch.Tensor, torch.Tensor],
                     config: AdversarialConfig | None = None, run_root: str | Path | None = None,
                     progress: bool = True, *, codes: torch.Tensor | None = None,
                     batch_transform: Callable | None = None, measure: Callable | None = None,
                     probe_every: int = 25, probe_z: torch.Tensor | None = None, probe_key: dict | None = None,
                     parent_key: dict | None = None, name: str = "adversarial") -> Adversarial:
    """The adversarial variant: copies of ``model``'s decoder and of ``gen_judge``'s classifier
    (a judge with a "generated" class, :func:`generated_class_judge`) trained in turn
    (:class:`AdversarialObjective`) on ``train_x`` (the VAE's training examples, for the realism
    term) and ``real`` (examples and class indices for the classifier); or the finished run reloaded.

    ``codes``: a bank of codes (the model's own sampler) instead of N(0, I). ``measure(x, clf_judge)
    -> dict`` is called on the decodings of ``probe_z`` every ``probe_every`` updates, with the live
    classifier as a judge (``probe_key`` names its settings in the run key)."""
    from ..evaluation.judges import Judge

    config = config or AdversarialConfig()
    if GENERATED not in gen_judge.classes:
        raise ValueError(f"gen_judge: needs a {GENERATED!r} class (see generated_class_judge), has {gen_judge.classes}")
    module = _as_module(model)
    is_wrapper = not isinstance(model, nn.Module)
    x = torch.as_tensor(train_x)
    if is_wrapper and x.dim() == 3 and tuple(x.shape[1:]) == (model.n_freq, model.n_frames):
        x = model.to_model(x)
    x = x.reshape(len(x), *module.x_shape)
    real_x, real_y = _as_judge_input(gen_judge, real[0]), torch.as_tensor(real[1]).long()
    if len(real_x) != len(real_y) or not len(real_x):
        raise ValueError(f"real: {len(real_x)} examples for {len(real_y)} labels (at least one expected)")
    convert = _to_judge(model, None)
    to_judge = (lambda v: _as_judge_input(gen_judge, convert(v))) if gen_judge.input == "spectrum" else \
        (lambda v: convert(v).reshape(len(v), *gen_judge.model.config.x_shape))
    codes = codes.float() if codes is not None else None
    key = run_key({"adversarial": config, "parent": module.config.to_dict() if hasattr(module, "config") else None},
                  {"train_x": tensor_fingerprint(x), "real_x": tensor_fingerprint(real_x),
                   "real_y": tensor_fingerprint(real_y), "codes": tensor_fingerprint(codes) if codes is not None else None},
                  extra={"parent_weights": weights_fingerprint(module), "parent_key": parent_key,
                         "classifier_weights": weights_fingerprint(gen_judge.model), "classes": list(gen_judge.classes),
                         "batch_transform": getattr(batch_transform, "__qualname__", None),
                         "probe": probe_key if measure is not None else None})
    run = RunStore(run_root).open(name, key)
    vae = copy.deepcopy(module).eval()
    for p in vae.parameters():
        p.requires_grad_(False)
    for p in vae.decoder.parameters():
        p.requires_grad_(True)
    clf = copy.deepcopy(gen_judge.model)
    clf.requires_grad_(True)
    objective = AdversarialObjective(vae, clf, config, gen_judge.in_index, gen_judge.classes.index(GENERATED),
                                     gen_judge.temperature, x, real_x, real_y, to_judge, batch_transform, codes)
    live = Judge(clf, gen_judge.classes, gen_judge.in_class, gen_judge.out_class, gen_judge.temperature,
                 transform=gen_judge.transform, batch_size=gen_judge.batch_size)
    history = AdversarialHistory()
    callbacks = [history]
    probe = None
    if measure is not None:
        z = probe_z if probe_z is not None else (codes[:256] if codes is not None else torch.randn(256, module.z_dim))

        def read(xb):
            was = clf.training
            clf.eval()
            out = measure(convert(xb), live)
            clf.train(was)
            return out

        probe = Probe(z, read, every=probe_every)
        callbacks.append(probe)
    n_updates = config.n_steps * (config.classifier_steps + 1)
    g = torch.Generator().manual_seed(config.seed)
    index = torch.randint(len(x), (n_updates * config.batch_size,), generator=g)
    trainer = Trainer(objective, TrainerConfig(n_epochs=1, batch_size=config.batch_size, lr=config.lr_generator,
                                               seed=config.seed, device=str(next(module.parameters()).device),
                                               progress=progress, keep_best=False, name=run.dir.name,
                                               nan_check_every=0),
                      callbacks=callbacks, run_dir=run.dir, extra_config={"run_key": key})
    result = fit_or_load(run, trainer, index)
    vae.eval()
    clf.eval()
    out = vae
    if is_wrapper:
        out = copy.copy(model)
        out.vae = vae
    return Adversarial(out, live, pd.DataFrame(history.rows), pd.DataFrame(probe.rows if probe else []),
                       run.dir, result.train_seconds, result.reused)


# ------------------------------------------------------------------------------- regimes

REGIMES = ("collapse", "oscillation", "drift", "stable ambiguous", "stable, not ambiguous")


def regime_rules(**changes) -> str:
    """The rules of :func:`regime` as a sentence, with its thresholds (its defaults, or ``changes``)."""
    import inspect

    t = {k: v.default for k, v in inspect.signature(regime).parameters.items() if k != "probes"} | changes
    return (f"in order: diversity below {t['collapse']:g} x its first value → collapse; the live classifier's "
            f"p(generated) crossing its median, by more than {t['swing']:g} either side, at least {t['crossings']} "
            f"times → oscillation; Fréchet distance above {t['drift']:g} x its first value and still rising over "
            f"the last third → drift; over the last third, class entropy at least {t['ambiguous']:g} log K with a "
            f"standard deviation below {t['steady']:g} and a noise share below {t['noise']:g} → stable ambiguous; "
            "else stable, not ambiguous")


def regime(probes: pd.DataFrame, collapse: float = 0.5, swing: float = 0.15, crossings: int = 3,
           drift: float = 2.0, ambiguous: float = 0.8, steady: float = 0.05, noise: float = 0.5) -> dict:
    """Name what an adversarial run did, from its probe rows (``diversity``, ``p_generated_live``,
    ``frechet``, ``entropy_ratio``, ``noise_share``), by the first rule that holds:

    - **collapse**: the last diversity is below ``collapse`` x the first;
    - **oscillation**: the live classifier's p(generated) crosses its median, by more than
      ``swing`` either side, at least ``crossings`` times;
    - **drift**: the last Fréchet distance is above ``drift`` x the first and still rising over
      the last third of the run;
    - **stable ambiguous**: over the last third, the mean entropy ratio is at least ``ambiguous``,
      its standard deviation below ``steady``, and the noise share below ``noise``;
    - else **stable, not ambiguous**.

    Returns ``{"regime": name, "why": sentence with the values}``."""
    if len(probes) < 3:
        raise ValueError(f"probes: {len(probes)} rows; at least 3 are needed to read a regime")
    p = probes.reset_index(drop=True)
    third = p.iloc[-max(2, len(p) // 3):]
    if "diversity" in p and p.diversity.iloc[-1] < collapse * p.diversity.iloc[0]:
        return {"regime": "collapse", "why": f"diversity fell from {p.diversity.iloc[0]:.3g} to {p.diversity.iloc[-1]:.3g}"}
    if "p_generated_live" in p:
        s = p.p_generated_live.to_numpy()
        med = float(np.median(s))
        side = np.where(s > med + swing, 1, np.where(s < med - swing, -1, 0))
        side = side[side != 0]
        n_cross = int((np.diff(side) != 0).sum()) if len(side) > 1 else 0
        if n_cross >= crossings:
            return {"regime": "oscillation",
                    "why": f"the classifier's p(generated) swung across {med:.2f} ± {swing:g} {n_cross} times"}
    if "frechet" in p:
        f = p.frechet.to_numpy()
        slope = np.polyfit(np.arange(len(third)), third.frechet.to_numpy(), 1)[0] if len(third) >= 2 else 0.0
        if f[-1] > drift * max(f[0], 1e-12) and slope > 0:
            return {"regime": "drift", "why": f"the Fréchet distance grew from {f[0]:.3g} to {f[-1]:.3g} and was still rising"}
    er, ns_ = third.entropy_ratio, third.get("noise_share", pd.Series([0.0]))
    if er.mean() >= ambiguous and er.std() < steady and ns_.mean() < noise:
        return {"regime": "stable ambiguous",
                "why": f"entropy ratio {er.mean():.2f} ± {er.std():.2f} over the last third, noise share {ns_.mean():.2f}"}
    return {"regime": "stable, not ambiguous",
            "why": f"entropy ratio {er.mean():.2f} ± {er.std():.2f} over the last third, noise share {ns_.mean():.2f}"}
