"""The one Trainer of the project: any model whose ``forward(x)`` returns a dict of loss terms.

Contract with the model: ``model(x)`` returns ``{"loss": scalar to minimise, name: [B] per
example or scalar, ...}``; everything but ``loss`` is averaged over the examples and logged.
If the model has a ``config`` (a :class:`helpers.models.Config`), it is saved with every
checkpoint so that the model can be rebuilt (:func:`helpers.training.load_model`).

Data stays in memory: ``fit(x_train, x_val)`` takes tensors (uint8 images, float spectra...),
moves them once to the device, and cuts shuffled batches by indexing; an optional
``batch_transform`` (e.g. dynamic binarisation) runs on each batch there. No DataLoader, no
per-item Python. Loss terms are summed on the device and read once per epoch.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from helpers.device import pick_device
from helpers.models.config import Config

from .callbacks import Callback
from .checkpoint import library_versions, load_checkpoint, save_checkpoint, save_json
from .run import new_run_dir
from .seed import seed_everything

LR_SCHEDULES = ("constant", "exponential", "cosine")
PRECISIONS = ("fp32", "bf16", "auto")


def has_fast_bf16(device: torch.device) -> bool:
    """True where bfloat16 matrix products run natively: CUDA with compute capability >= 8.0
    (Ampere and later), or a CPU with AVX512-BF16 or AMX-BF16 (read from /proc/cpuinfo)."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device)[0] >= 8
    if device.type != "cpu":
        return False
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split()
                    return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        pass
    return False


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the last good checkpoint is left untouched."""


@dataclass
class TrainerConfig(Config):
    """How to train (the model's own config says what to train).

    Attributes:
        n_epochs: passes over the training set. 20 takes the 784-400-20 MNIST VAE to about
            its plateau in a few minutes on a CPU.
        batch_size: 128 as in pytorch/examples and Kingma & Welling (2014, 100): small enough
            for many updates per epoch, large enough to keep the CPU busy.
        lr: Adam step size; 1e-3 is Adam's usual default for VAEs (Kingma & Ba, 2015).
        lr_schedule: "constant", "exponential" or "cosine" (per epoch, from ``lr`` to
            ``lr_final`` at the last epoch). Constant by default: the simplest baseline.
        lr_final: learning rate reached at the last epoch by a decaying schedule. 1e-4: a
            tenfold decay gains a few nats on MNIST at no cost.
        weight_decay: Adam's L2 penalty; 0 because the KL term already regularises.
        grad_clip: max gradient norm, or None (no clipping, no extra cost). Useful for the
            learned-variance Gaussian, whose gradients can spike.
        seed: seeds Python, NumPy and torch at the start of a fresh fit, and the shuffling.
        device: "auto" (CUDA, then MPS, then CPU) or an explicit device string.
        precision: "fp32", "bf16" (autocast of the forward pass: 1.6 times as fast as fp32 for
            the 784-400-20 MNIST VAE on a 2-core CPU that multiplies bfloat16 natively, with the
            same training loss to within 0.2%; the loss terms stay in fp32), or "auto" (bf16
            where :func:`has_fast_bf16`, else fp32).
            fp32 by default: exact and the same on every machine.
        eval_batch_size: batch size for validation/evaluation (no gradients: larger is faster).
        checkpoint_every: write ``checkpoints/last.pt`` every this many epochs (and at the
            end). 1: an interruption loses at most the epoch in progress.
        keep_best: also keep ``checkpoints/best.pt``, the epoch with the best validation score
            (:meth:`Trainer.selection_score`: the negative validation ELBO when the model
            reports ``elbo``, so that a beta warm-up, whose early epochs weigh the KL less,
            cannot make an early epoch look best; else the validation loss).
        nan_check_every: look for a non-finite loss every this many steps (and at the end of
            every epoch). 50 keeps device synchronisation rare yet stops a diverged run quickly.
        progress: show tqdm progress bars.
        name: prefix of the run folder (``<name>-<config hash>-<timestamp>``).
        run_root: folder holding run folders; None: ``$NOVELTY_RUNS_DIR`` or ``./runs``.
    """

    n_epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    lr_schedule: str = "constant"
    lr_final: float = 1e-4
    weight_decay: float = 0.0
    grad_clip: float | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    eval_batch_size: int = 1000
    checkpoint_every: int = 1
    keep_best: bool = True
    nan_check_every: int = 50
    progress: bool = True
    name: str = "run"
    run_root: str | None = None

    def __post_init__(self):
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule={self.lr_schedule!r}: expected one of {LR_SCHEDULES}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision={self.precision!r}: expected one of {PRECISIONS}")
        if self.batch_size < 1 or self.n_epochs < 0:
            raise ValueError("batch_size must be >= 1 and n_epochs >= 0")


def _first(data):
    """The tensor of ``data`` or of ``(x, labels, ...)``."""
    return data[0] if isinstance(data, (tuple, list)) else data


class Trainer:
    """Train, evaluate, checkpoint and resume any model that returns a dict of loss terms.

    Args:
        model: the module to train (moved to ``config.device``).
        config: a :class:`TrainerConfig`.
        callbacks: :class:`~helpers.training.callbacks.Callback` objects, run in order.
        batch_transform: applied on the device to every training batch (e.g.
            ``helpers.data.mnist.dynamic_binarize``).
        eval_transform: applied to every evaluation batch; "same" (default) reuses
            ``batch_transform``.
        run_dir: folder for checkpoints, the resolved config, metrics and TensorBoard logs.
            None creates a fresh one at the first fit; False keeps everything in memory.
        extra_config: anything else to record in ``config.json`` (data split, notes...).
    """

    def __init__(self, model: nn.Module, config: TrainerConfig | None = None,
                 callbacks: Iterable[Callback] = (), batch_transform: Callable | None = None,
                 eval_transform: Callable | None | str = "same", run_dir: str | Path | None | bool = None,
                 extra_config: dict | None = None):
        self.config = config or TrainerConfig()
        self.device = pick_device(self.config.device)
        self.model = model.to(self.device)
        self.callbacks = list(callbacks)
        self.batch_transform = batch_transform
        self.eval_transform = batch_transform if eval_transform == "same" else eval_transform
        self.extra_config = extra_config or {}
        self._run_dir = None if run_dir in (None, False) else Path(run_dir)
        self._in_memory = run_dir is False
        self.optimizer = self._make_optimizer()
        self.scheduler = self._make_scheduler()
        self.epoch = 0  # completed epochs
        self.global_step = 0
        self.steps_per_epoch = 1
        self.history: list[dict] = []
        self.best_val = math.inf
        self._shuffle_gen = torch.Generator().manual_seed(self.config.seed)
        self._started = False
        self.stop_training = False  # a callback sets it to end fit after the current epoch
        self.precision = self.config.precision
        if self.precision == "auto":
            self.precision = "bf16" if has_fast_bf16(self.device) else "fp32"
        self._autocast = (lambda: torch.autocast(self.device.type, dtype=torch.bfloat16)) \
            if self.precision == "bf16" else contextlib.nullcontext

    # ----------------------------------------------------------------- construction helpers
    def _make_optimizer(self) -> torch.optim.Optimizer:
        """Adam (Kingma & Ba, 2015); the fused kernel where the device has one (one launch per step).

        A model with ``optimizer_groups(lr)`` gets those parameter groups (each a dict with
        ``params`` and its own ``lr``: e.g. a generator and a classifier trained at two rates); a
        parameter left without a gradient in a step (``None``) is not moved by Adam in that step."""
        groups = getattr(self.model, "optimizer_groups", None)
        params = groups(self.config.lr) if callable(groups) else \
            [p for p in self.model.parameters() if p.requires_grad]
        kwargs = dict(lr=self.config.lr, weight_decay=self.config.weight_decay)
        if self.device.type in ("cpu", "cuda"):
            kwargs["fused"] = True
        return torch.optim.Adam(params, **kwargs)

    def _make_scheduler(self):
        """Per-epoch schedule from ``lr`` to ``lr_final`` over ``n_epochs`` (None when constant)."""
        cfg = self.config
        if cfg.lr_schedule == "constant":
            return None
        span = max(1, cfg.n_epochs - 1)
        if cfg.lr_schedule == "exponential":
            gamma = (cfg.lr_final / cfg.lr) ** (1.0 / span)
            return torch.optim.lr_scheduler.ExponentialLR(self.optimizer, gamma=gamma)
        return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=span, eta_min=cfg.lr_final)

    @property
    def model_config(self) -> dict | None:
        """The model's config dict, if it has one (what :func:`build_model` needs)."""
        cfg = getattr(self.model, "config", None)
        return cfg.to_dict() if isinstance(cfg, Config) else None

    def resolved_config(self) -> dict:
        """Everything that defines the run: model config, trainer config, extras."""
        return {"model": self.model_config, "trainer": self.config.to_dict(), "extra": self.extra_config}

    @property
    def run_dir(self) -> Path | None:
        """The run folder (created on first use unless the trainer is in-memory only)."""
        if self._run_dir is None and not self._in_memory:
            self._run_dir = new_run_dir(self.config.name, self.resolved_config(), self.config.run_root)
        return self._run_dir

    @property
    def checkpoint_dir(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "checkpoints"

    @property
    def last_checkpoint(self) -> Path | None:
        """``checkpoints/last.pt`` of this run, if it exists."""
        d = self.checkpoint_dir
        return d / "last.pt" if d is not None and (d / "last.pt").exists() else None

    # ----------------------------------------------------------------------------- steps
    def train_step(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimisation step on batch ``x`` (moved to the trainer's device if it is not there);
        returns the detached loss terms (no sync)."""
        x = x.to(self.device, non_blocking=True)
        self.model.train()
        with self._autocast():
            out = self.model(x)
        self.optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        if self.config.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return {k: v.detach() for k, v in out.items()}

    @torch.no_grad()
    def eval_step(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Loss terms on batch ``x`` in eval mode, without gradients; the weights do not change."""
        x = x.to(self.device, non_blocking=True)
        self.model.eval()
        with self._autocast():
            out = self.model(x)
        return {k: v.detach() for k, v in out.items()}

    @staticmethod
    def _accumulate(sums: dict | None, out: dict[str, torch.Tensor], n: int) -> dict:
        """Running sums over examples, on the device: per-example terms summed, scalars times n."""
        if sums is None:
            dtype = torch.float32 if next(iter(out.values())).device.type == "mps" else torch.float64
            sums = {k: torch.zeros((), device=v.device, dtype=dtype) for k, v in out.items()}
        for k, v in out.items():
            sums[k] += v.sum() if v.dim() else v * n
        return sums

    @staticmethod
    def _means(sums: dict | None, count: int, prefix: str) -> dict[str, float]:
        """Per-example means from the running sums, read back in one transfer."""
        if not sums:
            return {}
        values = torch.stack([v for v in sums.values()]).cpu().tolist()  # one sync
        return {f"{prefix}{k}": v / max(1, count) for k, v in zip(sums, values)}

    @torch.no_grad()
    def evaluate(self, x, transform: Callable | None | str = "same", batch_size: int | None = None,
                 prefix: str = "") -> dict[str, float]:
        """Mean loss terms over a whole dataset (in order, eval mode, no gradients)."""
        x = _first(x)
        transform = self.eval_transform if transform == "same" else transform
        bs = batch_size or self.config.eval_batch_size
        sums, count = None, 0
        for start in range(0, len(x), bs):
            xb = x[start:start + bs].to(self.device, non_blocking=True)
            if transform is not None:
                xb = transform(xb)
            sums = self._accumulate(sums, self.eval_step(xb), len(xb))
            count += len(xb)
        return self._means(sums, count, prefix)

    # ------------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """Everything needed to rebuild and resume this run (see :mod:`.checkpoint`)."""
        rng = {"torch": torch.get_rng_state(), "shuffle": self._shuffle_gen.get_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "format": 1,
            "model_state": self.model.state_dict(),
            "optimizer_state": self.optimizer.state_dict(),
            "scheduler_state": self.scheduler.state_dict() if self.scheduler is not None else None,
            "config": self.resolved_config(),
            "epoch": self.epoch,
            "global_step": self.global_step,
            "metrics": self.history,
            "best_val": self.best_val,
            "versions": library_versions(),
            "rng": rng,
            "callbacks": {f"{i}:{type(cb).__name__}": cb.state_dict() for i, cb in enumerate(self.callbacks)},
        }

    def load_state_dict(self, state: dict, restore_rng: bool = True) -> None:
        """Restore model, optimizer, schedule, counters, history, callbacks and RNG states."""
        self.model.load_state_dict(state["model_state"])
        self.optimizer.load_state_dict(state["optimizer_state"])
        if self.scheduler is not None and state.get("scheduler_state") is not None:
            self.scheduler.load_state_dict(state["scheduler_state"])
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.history = list(state.get("metrics", []))
        self.best_val = float(state.get("best_val", math.inf))
        for i, cb in enumerate(self.callbacks):
            key = f"{i}:{type(cb).__name__}"
            if key in state.get("callbacks", {}):
                cb.load_state_dict(state["callbacks"][key])
        if restore_rng and "rng" in state:
            torch.set_rng_state(state["rng"]["torch"])
            self._shuffle_gen.set_state(state["rng"]["shuffle"])
            if "cuda" in state["rng"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self._started = True

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        """Atomically write the full state to ``path`` (default ``checkpoints/last.pt``)."""
        if path is None:
            if self.checkpoint_dir is None:
                raise ValueError("this trainer has no run folder (run_dir=False): give a path")
            path = self.checkpoint_dir / "last.pt"
        return save_checkpoint(self.state_dict(), path)

    def load_checkpoint(self, path: str | Path, restore_rng: bool = True) -> dict:
        """Restore the state saved at ``path`` (loaded with ``weights_only=True``)."""
        state = load_checkpoint(path, map_location="cpu")
        self.load_state_dict(state, restore_rng=restore_rng)
        return state

    @classmethod
    def from_checkpoint(cls, path: str | Path, callbacks: Iterable[Callback] = (),
                        batch_transform: Callable | None = None, eval_transform="same",
                        run_dir: str | Path | None = None, **config_changes) -> Trainer:
        """Rebuild model and trainer from a checkpoint and restore its state, ready to ``fit`` on.

        ``config_changes`` override trainer settings (e.g. ``n_epochs=50`` to train longer).
        The run folder defaults to the one holding ``path`` (``<run>/checkpoints/last.pt``).
        """
        from helpers.models import build_model

        path = Path(path)
        state = load_checkpoint(path, map_location="cpu")
        model_config = state["config"].get("model")
        if model_config is None:
            raise ValueError(f"{path} holds no model config; build the model yourself and use load_checkpoint")
        config = TrainerConfig.from_dict({**state["config"]["trainer"], **config_changes})
        if run_dir is None and path.parent.name == "checkpoints":
            run_dir = path.parent.parent
        trainer = cls(build_model(model_config), config, callbacks, batch_transform, eval_transform,
                      run_dir=run_dir if run_dir is not None else False,
                      extra_config=state["config"].get("extra"))
        trainer.load_state_dict(state)
        return trainer

    # -------------------------------------------------------------------------------- fit
    def _check_finite(self, value: torch.Tensor, where: str) -> None:
        """Raise :class:`NonFiniteLossError` (naming the last good checkpoint) if ``value`` is NaN/inf."""
        if not bool(torch.isfinite(value)):
            last = self.last_checkpoint if not self._in_memory else None
            kept = (f"The last good checkpoint, {last} (epoch {self.epoch}), is intact; reload it with "
                    f"Trainer.from_checkpoint or trainer.load_checkpoint." if last is not None
                    else "No checkpoint had been written yet.")
            raise NonFiniteLossError(
                f"Non-finite loss ({float(value)}) {where} (epoch {self.epoch + 1}, step "
                f"{self.global_step}); training stopped. {kept} Try a lower learning rate, "
                f"gradient clipping (grad_clip) or a KL warm-up, and check the data for NaNs.")

    def _train_epoch(self, x_train: torch.Tensor) -> dict[str, float]:
        """One pass over shuffled in-memory batches; loss terms summed on the device, read once."""
        cfg = self.config
        n, bs = len(x_train), cfg.batch_size
        perm = torch.randperm(n, generator=self._shuffle_gen).to(self.device, non_blocking=True)
        sums, count = None, 0
        bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {self.epoch + 1}/{cfg.n_epochs}",
                   leave=False, disable=not cfg.progress, mininterval=0.5)
        for b in range(self.steps_per_epoch):
            x = x_train[perm[b * bs:(b + 1) * bs]]
            if self.batch_transform is not None:
                x = self.batch_transform(x)
            for cb in self.callbacks:
                cb.on_step_begin(self)
            out = self.train_step(x)
            sums = self._accumulate(sums, out, len(x))
            count += len(x)
            self.global_step += 1
            for cb in self.callbacks:
                cb.on_step_end(self, out)
            if cfg.nan_check_every > 0 and self.global_step % cfg.nan_check_every == 0:
                self._check_finite(sums["loss"], "in training")
            bar.update(1)
        bar.close()
        if sums is not None:
            self._check_finite(sums["loss"], "in training")
        return self._means(sums, count, "train_")

    def fit(self, x_train, x_val=None, resume: bool = False) -> list[dict]:
        """Train from ``self.epoch`` up to ``config.n_epochs``; returns the per-epoch history.

        ``resume=True`` first restores ``<run_dir>/checkpoints/last.pt`` when it exists, so that
        rerunning the same cell after an interruption continues where the last completed
        epoch ended. A non-finite loss raises :class:`NonFiniteLossError` before anything is
        written for the failing epoch.
        """
        cfg = self.config
        if resume and self._run_dir is not None and self.last_checkpoint is not None:
            self.load_checkpoint(self.last_checkpoint)
        if not self._started:
            seed_everything(cfg.seed)
            self._shuffle_gen.manual_seed(cfg.seed)
            self._started = True
        x_train = _first(x_train).to(self.device)
        x_val = _first(x_val).to(self.device) if x_val is not None else None
        self.steps_per_epoch = math.ceil(len(x_train) / cfg.batch_size)
        if self.run_dir is not None:
            save_json({**self.resolved_config(), "versions": library_versions()}, self.run_dir / "config.json")
        self.stop_training = False
        for cb in self.callbacks:
            cb.on_fit_begin(self)
        epochs = tqdm(range(self.epoch, cfg.n_epochs), desc="epochs", disable=not cfg.progress,
                      initial=self.epoch, total=cfg.n_epochs)
        try:
            for _ in epochs:
                for cb in self.callbacks:
                    cb.on_epoch_begin(self)
                start = time.perf_counter()
                metrics = {"epoch": self.epoch + 1, **self._train_epoch(x_train)}
                metrics["time_s"] = time.perf_counter() - start
                if x_val is not None:
                    metrics.update(self.evaluate(x_val, prefix="val_"))
                    self._check_finite(torch.tensor(metrics["val_loss"]), "on the validation set")
                metrics["lr"] = self.optimizer.param_groups[0]["lr"]
                if hasattr(self.model, "beta"):
                    metrics["beta"] = float(self.model.beta)
                if self.scheduler is not None:
                    self.scheduler.step()
                self.epoch += 1
                self.history.append(metrics)
                for cb in self.callbacks:
                    cb.on_epoch_end(self, metrics)
                self._save_epoch(metrics)
                epochs.set_postfix({k: f"{v:.2f}" for k, v in metrics.items() if k.endswith("loss")})
                if self.stop_training:
                    break
        finally:
            epochs.close()
            for cb in self.callbacks:
                cb.on_fit_end(self)
        return self.history

    @staticmethod
    def selection_score(metrics: dict) -> float | None:
        """What ``best.pt`` minimises: -``val_elbo`` (the unweighted rec + KL, K&W 2014 Eq. 10)
        when the model reports an ELBO, else ``val_loss``; None without validation data.

        The beta-weighted ``val_loss`` is not comparable across the epochs of a KL warm-up
        (beta < 1 makes the early epochs look better than they are)."""
        if "val_elbo" in metrics:
            return -metrics["val_elbo"]
        return metrics.get("val_loss")

    def _save_epoch(self, metrics: dict) -> None:
        """Write last.pt (every ``checkpoint_every`` epochs and at the end), best.pt, metrics.json."""
        if self.run_dir is None:
            return
        cfg = self.config
        val = self.selection_score(metrics)
        improved = val is not None and val < self.best_val
        if improved:
            self.best_val = val
        if self.epoch % max(1, cfg.checkpoint_every) == 0 or self.epoch == cfg.n_epochs:
            state = self.state_dict()
            save_checkpoint(state, self.checkpoint_dir / "last.pt")
            if improved and cfg.keep_best:
                save_checkpoint(state, self.checkpoint_dir / "best.pt")
        elif improved and cfg.keep_best:
            save_checkpoint(self.state_dict(), self.checkpoint_dir / "best.pt")
        save_json(self.history, self.run_dir / "metrics.json")
