"""Fine-tuned copies of a decoder, after Broad, Leymarie & Grierson (2020), "Amplifying the uncanny":
the generator is fine-tuned so that a frozen critic rejects what it makes. Here the critic is the
frozen original VAE (its negative ELBO of the copy's prior samples) or a frozen judge (its noise
or out-of-class score), and a second term keeps the copy reconstructing the training data:

    loss = - mean_z unlikelihood(G'(z)) + weight * mean_x [-log p'(x | z ~ q(z|x))],   z ~ N(0, I)

The same machinery fine-tunes for style ambiguity (Elgammal et al., 2017, CAN; notebook 06):
critic "ambiguity" is the cross-entropy between the frozen judge's posterior on G'(z) and the
uniform distribution over its in-class classes, and ``realism="mmd"`` replaces the reconstruction
term by the MMD between the judge's features of G'(z) and of real data (the divergent synthesis of
Chemla-Romeu-Santos & Esling: away from every class, near the data as a whole). Codes may come
from a bank (the model's own sampler) instead of N(0, I), and a :class:`Probe` measures fixed
codes along training.

Only the copy's decoder learns (its encoder and output distribution stay the parent's). The run
goes through the one run store (:func:`helpers.training.store.fit_or_load`): its key holds the
config, the parent's weights fingerprint, the critic's, and the fingerprint of the training
data, so that a second call loads the copy instead of training it again.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import torch
import torch.nn as nn

from helpers.models.config import Config
from helpers.models.vae import reparameterize
from helpers.training.callbacks import Callback
from helpers.training.store import RunStore, fit_or_load, run_key, tensor_fingerprint
from helpers.training.trainer import Trainer, TrainerConfig

from .corrupt import _as_module, weights_fingerprint
from .search import _to_judge, as_examples, decoded_mean, judge_score, negative_elbo

CRITICS = ("vae", "noise", "out", "ambiguity")
REALISM = ("elbo", "mmd")


@dataclass
class UncannyConfig(Config):
    """A fine-tuning of a decoder copy (:func:`uncanny_finetune`).

    Attributes:
        critic: "vae" (the frozen original's negative ELBO of the samples, in nats), "noise" or
            "out" (a frozen judge's noise or out-of-class probability, in [0, 1]), or
            "ambiguity" (minus the cross-entropy between the judge's posterior and the uniform
            distribution over its in-class classes: :func:`ambiguity_loss`).
        weight: weight of the realism term that keeps the copy close to the data; 0 lets the
            samples go anywhere the critic dislikes. "elbo": the reconstruction loss of training
            data (nats per example; with a judge critic the first term is a probability, and
            weights around 1e-3 balance the two); "mmd": the MMD^2 between the judge's features
            of the samples and of real data.
        realism: "elbo" or "mmd" (see ``weight``).
        n_steps: Adam steps (one batch of prior samples and one of training data each).
        lr: Adam's step size; 1e-4, a tenth of the training rate, for a gradual drift.
        batch_size: prior samples and training examples per step.
        seed: seeds the prior samples, the posterior draws and the choice of training batches.
    """

    critic: str = "vae"
    weight: float = 1.0
    n_steps: int = 300
    lr: float = 1e-4
    batch_size: int = 128
    seed: int = 0
    realism: str = "elbo"

    added_fields = ("realism",)  # runs stored before it existed keep their keys

    def __post_init__(self):
        if self.critic not in CRITICS:
            raise ValueError(f"critic={self.critic!r}: expected one of {CRITICS}")
        if self.realism not in REALISM:
            raise ValueError(f"realism={self.realism!r}: expected one of {REALISM}")
        if self.weight < 0:
            raise ValueError(f"weight={self.weight}: must be >= 0")
        if self.n_steps < 1:
            raise ValueError(f"n_steps={self.n_steps}: must be >= 1")
        if self.lr <= 0:
            raise ValueError(f"lr={self.lr}: must be > 0")
        if self.batch_size < 1:
            raise ValueError(f"batch_size={self.batch_size}: must be >= 1")


@dataclass
class FineTuned:
    """The fine-tuned copy, its history (one row per step) and its run.

    Attributes:
        model: the copy (eval mode); a wrapper when a wrapper was given.
        history: step, loss, unlikelihood (mean over the step's samples, as the critic measures
            it), reconstruction (nats per training example), seconds.
        run_dir: the run folder in the store.
        train_seconds: training time (of the first call when loaded).
        cached: True when loaded from the store, nothing trained.
    """

    model: object
    history: pd.DataFrame
    run_dir: Path
    train_seconds: float
    cached: bool


def ambiguity_loss(probs: torch.Tensor, in_index, eps: float = 1e-12) -> torch.Tensor:
    """Cross-entropy between the uniform distribution over the classes ``in_index`` and ``probs``
    ``[N, K]``, per sample ``[N]``: -mean_c log p(c|x) over those classes (Elgammal et al., 2017).
    Its minimum, log K_in, is reached when every in-class class gets 1/K_in (and any other class,
    noise included, nothing)."""
    return -(probs[:, list(in_index)] + eps).log().mean(1)


def class_entropy(probs: torch.Tensor, in_index, eps: float = 1e-12) -> torch.Tensor:
    """Entropy (nats) of the posterior renormalised over the classes ``in_index``, per sample
    ``[N]``: 0 for one class, log K_in for none in particular."""
    p = probs[:, list(in_index)]
    p = p / p.sum(1, keepdim=True).clamp_min(eps)
    return -(p * (p + eps).log()).sum(1)


def mmd2_rbf(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Biased MMD^2 between two feature batches with a Gaussian kernel whose width is the median
    pairwise distance of ``b`` (differentiable in ``a``)."""
    with torch.no_grad():
        d_bb = torch.cdist(b, b)
        sigma2 = d_bb[d_bb > 0].median().pow(2).clamp_min(1e-8) if (d_bb > 0).any() else torch.tensor(1.0)
    k = lambda x, y: torch.exp(-torch.cdist(x, y).pow(2) / (2 * sigma2))  # noqa: E731
    return k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()


def draw_codes(vae: nn.Module, n: int, device, codes: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` codes for one fine-tuning step: N(0, I), or rows of the bank ``codes`` drawn with replacement."""
    if codes is None:
        return torch.randn(n, vae.z_dim, device=device)
    return codes[torch.randint(len(codes), (n,), device=codes.device)].to(device)


def reconstruction_loss(vae: nn.Module, train_x: torch.Tensor, index: torch.Tensor,
                        batch_transform: Callable | None = None) -> torch.Tensor:
    """-log p(x | z), z ~ q(z|x), of the training examples ``train_x[index]`` (uint8 scaled to [0, 1],
    then ``batch_transform``), per example ``[B]``: the term that keeps a fine-tuned decoder near the data."""
    x = train_x[index.long()]
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    if batch_transform is not None:
        x = batch_transform(x)
    mu, logvar = vae.encode(x)
    return -vae.log_prob(vae.decode(reparameterize(mu.float(), logvar.float())).float(), x)


class UncannyObjective(nn.Module):
    """What the Trainer trains: ``forward(indices)`` returns the loss terms of one step.

    ``vae`` (the copy) is the only registered child; the critic and the training data are kept
    out of the state dict (the critic is the parent, fingerprinted in the run key; the data are
    fingerprinted too), so a checkpoint holds the copy alone. ``codes``: a bank the step's codes
    are drawn from (None: N(0, I)); ``real_features``: the judge's features of real data
    (``realism="mmd"``).
    """

    def __init__(self, vae: nn.Module, config: UncannyConfig, train_x: torch.Tensor, critic: nn.Module | None,
                 judge=None, to_judge: Callable | None = None, batch_transform: Callable | None = None,
                 codes: torch.Tensor | None = None, real_features: torch.Tensor | None = None):
        super().__init__()
        self.vae = vae
        self.config = config
        self._critic = (critic, judge)
        self.to_judge = to_judge or (lambda x: x)
        self.batch_transform = batch_transform
        self.register_buffer("train_x", train_x, persistent=False)
        self.register_buffer("codes", codes, persistent=False)
        self.register_buffer("real_features", real_features, persistent=False)

    def forward(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        critic, judge = self._critic
        z = draw_codes(self.vae, len(index), index.device, self.codes)
        samples = decoded_mean(self.vae, z)
        feats = None
        if self.config.critic == "vae":
            unlikelihood = negative_elbo(critic, samples)
        elif self.config.critic == "ambiguity":
            logits, feats = judge.model.logits_and_features(self.to_judge(samples))
            unlikelihood = -ambiguity_loss(torch.softmax(logits.float() / judge.temperature, 1), judge.in_index)
        else:
            unlikelihood = judge_score(judge, self.to_judge(samples), self.config.critic)
        if self.config.realism == "mmd":
            if feats is None:
                feats = judge.model.logits_and_features(self.to_judge(samples))[1]
            pick = torch.randint(len(self.real_features), (len(index),), device=self.real_features.device)
            rec = mmd2_rbf(feats.float(), self.real_features[pick].to(feats.device)).expand(len(index))
        else:
            rec = reconstruction_loss(self.vae, self.train_x, index, self.batch_transform)
        loss = -unlikelihood.mean() + self.config.weight * rec.mean()
        return {"loss": loss, "unlikelihood": unlikelihood, "reconstruction": rec}


class Probe(Callback):
    """Measures fixed codes every ``every`` steps of a fine-tuning (and before the first): the copy
    decodes ``z`` (its mean output, as the VAE takes data) and ``measure(x) -> {name: value}``
    reads it (e.g. class entropy, noise share, Fréchet distance; an audio measure converts to
    magnitudes itself). Rows are kept in the checkpoint, so a reloaded run has them too."""

    def __init__(self, z: torch.Tensor, measure: Callable[[torch.Tensor], dict], every: int = 25):
        self.z, self.measure, self.every = z, measure, max(1, int(every))
        self.rows: list[dict] = []

    @torch.no_grad()
    def probe(self, trainer, step: int) -> None:
        vae = getattr(trainer.model, "vae", trainer.model)
        was_training = vae.training
        vae.eval()
        x = decoded_mean(vae, self.z.to(next(vae.parameters()).device)).float().cpu()
        vae.train(was_training)
        self.rows.append({"step": step, **{k: float(v) for k, v in self.measure(x).items()}})

    def on_fit_begin(self, trainer) -> None:
        if not self.rows:
            self.probe(trainer, trainer.global_step)

    def on_step_end(self, trainer, outputs) -> None:
        if trainer.global_step % self.every == 0:
            self.probe(trainer, trainer.global_step)

    def state_dict(self) -> dict:
        return {"rows": self.rows}

    def load_state_dict(self, state: dict) -> None:
        self.rows = list(state.get("rows", []))


class StepHistory(Callback):
    """One row per training step (kept in the checkpoint, so a reloaded run has it too)."""

    def __init__(self):
        self.rows: list[dict] = []
        self._start = 0.0

    def on_fit_begin(self, trainer) -> None:
        self._start = time.perf_counter() - (self.rows[-1]["seconds"] if self.rows else 0.0)

    def on_step_end(self, trainer, outputs: dict[str, torch.Tensor]) -> None:
        values = torch.stack([outputs["loss"].float(), outputs["unlikelihood"].float().mean(),
                              outputs["reconstruction"].float().mean()]).tolist()
        self.rows.append({"step": trainer.global_step, "loss": values[0], "unlikelihood": values[1],
                          "reconstruction": values[2], "seconds": time.perf_counter() - self._start})

    def state_dict(self) -> dict:
        return {"rows": self.rows}

    def load_state_dict(self, state: dict) -> None:
        self.rows = list(state.get("rows", []))


def _callable_name(fn: Callable | None) -> str | None:
    if fn is None:
        return None
    return f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


def uncanny_key(model, train_x: torch.Tensor, config: UncannyConfig, judge=None,
                batch_transform: Callable | None = None, parent_key: dict | None = None,
                codes: torch.Tensor | None = None, real_features: torch.Tensor | None = None,
                probe: dict | None = None) -> dict:
    """The run-store key of a fine-tuning: config, parent weights and config, critic, data (and the
    code bank, the real features and the probe's settings when given)."""
    module = _as_module(model)
    parent_config = getattr(module, "config", None)
    judge_id = None
    if config.critic != "vae":
        judge_id = {"weights": weights_fingerprint(judge.model), "classes": list(judge.classes),
                    "in_class": list(judge.in_class), "out_class": list(judge.out_class),
                    "temperature": float(judge.temperature)}
    transform = getattr(model, "transform", None) if not isinstance(model, nn.Module) else None
    transform_id = None
    if transform is not None and config.critic != "vae":
        state = transform.state_dict()
        transform_id = {"config": transform.config.to_dict(),
                        "scaling": {k: tensor_fingerprint(v) for k, v in sorted(state.items())}}
    if config.critic == "vae" and config.realism == "mmd":
        raise ValueError("realism='mmd' needs a judge critic (its features)")
    if config.realism != "elbo" and judge_id is None:
        judge_id = {"weights": weights_fingerprint(judge.model)}
    data = {"train_x": tensor_fingerprint(train_x)}
    extra = {"parent_weights": weights_fingerprint(module), "parent_key": parent_key,
             "judge": judge_id, "batch_transform": _callable_name(batch_transform)}
    if codes is not None:
        data["codes"] = tensor_fingerprint(codes)
    if real_features is not None:
        data["real_features"] = tensor_fingerprint(real_features)
    if probe is not None:
        extra["probe"] = probe
    return run_key({"uncanny": config, "parent": parent_config.to_dict() if parent_config is not None else None},
                   data, transform=transform_id, extra=extra)


def uncanny_finetune(model, train_x: torch.Tensor, config: UncannyConfig | None = None, judge=None,
                     run_root: str | Path | None = None, progress: bool = True, *,
                     to_judge: Callable | None = None, batch_transform: Callable | None = None,
                     parent_key: dict | None = None, name: str | None = None, retrain: bool = False,
                     codes: torch.Tensor | None = None, real_features: torch.Tensor | None = None,
                     probe: Probe | None = None, probe_key: dict | None = None) -> FineTuned:
    """Fine-tune a copy of ``model``'s decoder so that its prior samples are judged unlikely by the
    frozen original (``critic="vae"``) or by the frozen ``judge``, while ``config.weight`` times
    the reconstruction loss of ``train_x`` keeps it near the data; or load the finished run.

    ``model`` is never modified. ``train_x``: examples as the VAE takes them (``[N, *x_shape]``,
    uint8 images allowed, ``[N, 1, 28, 28]`` or flat ones reshaped); with an audio wrapper
    (:class:`~helpers.models.audio.AudioVAE`) magnitudes ``[N, F, T]`` are also accepted and the
    judge sees magnitudes. ``to_judge`` maps decoder outputs to the judge's input otherwise.
    ``batch_transform`` (e.g. :func:`helpers.data.mnist.dynamic_binarize`) runs on every training
    batch; its name goes into the key. ``parent_key``: the parent's own run key, recorded in
    this run's key. ``retrain`` trains again in the same folder. ``codes``: a bank the prior
    samples are drawn from (e.g. 10000 draws of the model's own sampler) instead of N(0, I);
    ``real_features``: the judge's features of real data, for ``realism="mmd"``; ``probe``: a
    :class:`Probe` run along training, whose settings ``probe_key`` (anything JSON) name in the key.
    """
    config = config or UncannyConfig()
    module = _as_module(model)
    if config.critic != "vae" and judge is None:
        raise ValueError(f"judge: critic={config.critic!r} needs a judge")
    if config.critic == "out" and not judge.out_class:
        raise ValueError("critic='out': the judge has no out-of-class group")
    if config.realism == "mmd" and (judge is None or real_features is None or len(real_features) < 2):
        raise ValueError("realism='mmd' needs a judge and real_features (the judge's features of >= 2 real examples)")
    if codes is not None and (codes.dim() != 2 or codes.shape[1] != _as_module(model).z_dim or len(codes) == 0):
        raise ValueError(f"codes: expected [N, {_as_module(model).z_dim}], got {tuple(codes.shape)}")
    x = torch.as_tensor(train_x)
    is_wrapper = not isinstance(model, nn.Module)
    if is_wrapper and x.dim() == 3 and tuple(x.shape[1:]) == (getattr(model, "n_freq", None),
                                                              getattr(model, "n_frames", None)):
        x = model.to_model(x)  # magnitudes of whole notes -> the note model's inputs
    if x.dtype == torch.uint8:  # kept as bytes (a quarter of the memory), scaled batch by batch
        if x.dim() < 1 or x.shape[1:].numel() != torch.Size(module.x_shape).numel():
            raise ValueError(f"train_x: expected examples of shape {tuple(module.x_shape)}, got {tuple(x.shape)}")
        x = x.reshape(len(x), *module.x_shape)
    else:
        x = as_examples(module, x, "train_x")
    if len(x) == 0:
        raise ValueError("train_x: no examples")
    device = next(module.parameters()).device
    codes = codes.float() if codes is not None else None
    real_features = real_features.float() if real_features is not None else None
    key = uncanny_key(model, x, config, judge, batch_transform, parent_key, codes, real_features,
                      probe_key if probe is not None else None)
    run = RunStore(run_root).open(name or f"uncanny-{config.critic}", key)

    copy_vae = copy.deepcopy(module).eval()
    for p in copy_vae.parameters():
        p.requires_grad_(False)
    for p in copy_vae.decoder.parameters():
        p.requires_grad_(True)
    critic = None
    frozen_judge = None
    if config.critic == "vae":
        critic = copy.deepcopy(module).eval().requires_grad_(False)
    else:
        frozen_judge = copy.copy(judge)
        frozen_judge.model = copy.deepcopy(judge.model).eval().requires_grad_(False)
    objective = UncannyObjective(copy_vae, config, x, critic, frozen_judge,
                                 _to_judge(model, to_judge), batch_transform, codes, real_features)
    g = torch.Generator().manual_seed(config.seed)
    index = torch.randint(len(x), (config.n_steps * config.batch_size,), generator=g)
    history = StepHistory()
    trainer = Trainer(objective, TrainerConfig(n_epochs=1, batch_size=config.batch_size, lr=config.lr,
                                               seed=config.seed, device=str(device), progress=progress,
                                               keep_best=False, name=run.dir.name),
                      callbacks=[history] + ([probe] if probe is not None else []), run_dir=run.dir,
                      extra_config={"run_key": key})
    result = fit_or_load(run, trainer, index, retrain=retrain)
    tuned = objective.vae.eval()
    for p, q in zip(tuned.parameters(), module.parameters()):
        p.requires_grad_(q.requires_grad)
    out = tuned
    if is_wrapper:
        out = copy.copy(model)
        out.vae = tuned
    frame = pd.DataFrame(history.rows, columns=["step", "loss", "unlikelihood", "reconstruction", "seconds"])
    return FineTuned(out, frame, run.dir, result.train_seconds, result.reused)
