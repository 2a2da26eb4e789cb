"""Trainer callbacks: KL warm-up, TensorBoard logging (scalars, and images when asked).

A callback overrides any of the hooks below; each receives the trainer, whose attributes
(``model``, ``epoch``, ``global_step``, ``steps_per_epoch``, ``run_dir``, ``history``) it may
read. ``state_dict`` / ``load_state_dict`` let a callback's state travel in checkpoints.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

import torch


class Callback:
    """Base class: every hook is a no-op."""

    def on_fit_begin(self, trainer) -> None: ...

    def on_epoch_begin(self, trainer) -> None: ...

    def on_step_begin(self, trainer) -> None: ...

    def on_step_end(self, trainer, outputs: dict[str, torch.Tensor]) -> None: ...

    def on_epoch_end(self, trainer, metrics: dict[str, float]) -> None: ...

    def on_fit_end(self, trainer) -> None: ...

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None: ...


WARMUP_MODES = ("linear", "cyclical")


def beta_schedule(t: float, beta_max: float = 1.0, n_epochs: float = 10.0, mode: str = "linear",
                  n_cycles: int = 4, ratio: float = 0.5) -> float:
    """KL weight after ``t`` epochs (fractional): 0 -> ``beta_max`` over ``n_epochs``.

    ``linear``: beta_max * min(1, t / n_epochs) (Bowman et al., 2016; Sonderby et al., 2016).
    ``cyclical``: ``n_cycles`` cycles over ``n_epochs``; in each, beta rises linearly during the
    first ``ratio`` of the cycle and then stays at beta_max (Fu et al., 2019, Eq. 7); after
    ``n_epochs`` beta stays at beta_max. ``n_epochs <= 0`` means no warm-up.
    """
    if mode not in WARMUP_MODES:
        raise ValueError(f"mode={mode!r}: expected one of {WARMUP_MODES}")
    if n_epochs <= 0 or t >= n_epochs:
        return float(beta_max)
    t = max(0.0, float(t))
    if mode == "linear":
        return float(beta_max) * t / n_epochs
    if n_cycles < 1 or not 0 < ratio <= 1:
        raise ValueError(f"cyclical warm-up needs n_cycles >= 1 and 0 < ratio <= 1, got {n_cycles}, {ratio}")
    period = n_epochs / n_cycles
    tau = math.fmod(t, period) / period
    return float(beta_max) * min(1.0, tau / ratio)


class BetaWarmup(Callback):
    """Sets ``trainer.model.beta`` from :func:`beta_schedule` before every step (or every epoch).

    ``beta_max=None`` takes the model's own ``beta`` (its config value) as the target.
    """

    def __init__(self, n_epochs: float = 10.0, beta_max: float | None = None, mode: str = "linear",
                 n_cycles: int = 4, ratio: float = 0.5, per_step: bool = True):
        if mode not in WARMUP_MODES:
            raise ValueError(f"mode={mode!r}: expected one of {WARMUP_MODES}")
        self.n_epochs, self.beta_max, self.mode = n_epochs, beta_max, mode
        self.n_cycles, self.ratio, self.per_step = n_cycles, ratio, per_step

    def on_fit_begin(self, trainer) -> None:
        if self.beta_max is None:
            config = getattr(trainer.model, "config", None)
            self.beta_max = float(getattr(config, "beta", trainer.model.beta))

    def beta_at(self, global_step: int, steps_per_epoch: int) -> float:
        """beta for the step about to run."""
        t = global_step / max(1, steps_per_epoch)
        if not self.per_step:
            t = math.floor(t)
        return beta_schedule(t, self.beta_max, self.n_epochs, self.mode, self.n_cycles, self.ratio)

    def on_step_begin(self, trainer) -> None:
        trainer.model.beta = self.beta_at(trainer.global_step, trainer.steps_per_epoch)

    def state_dict(self) -> dict:
        return {"beta_max": self.beta_max}

    def load_state_dict(self, state: dict) -> None:
        self.beta_max = state.get("beta_max", self.beta_max)


class TimeBudget(Callback):
    """Ends training before an epoch that would overrun ``minutes`` of wall time (mean epoch time
    so far as the forecast); the run then ends as if ``n_epochs`` had been reached."""

    def __init__(self, minutes: float):
        self.seconds = 60.0 * minutes
        self.start = None
        self.epoch_times: list[float] = []

    def on_fit_begin(self, trainer) -> None:
        self.start = time.perf_counter()
        self._epoch_start = self.start

    def on_epoch_begin(self, trainer) -> None:
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, trainer, metrics) -> None:
        now = time.perf_counter()
        self.epoch_times.append(now - self._epoch_start)
        mean = sum(self.epoch_times) / len(self.epoch_times)
        if now - self.start + mean > self.seconds:
            trainer.stop_training = True


def _pca_2d(z: torch.Tensor) -> torch.Tensor:
    """First two principal components of ``z`` (rows are points); ``z`` itself if it has <= 2 columns."""
    if z.shape[1] <= 2:
        return z
    zc = z - z.mean(0)
    _, _, v = torch.linalg.svd(zc, full_matrices=False)
    return zc @ v[:2].T


def _grid(images: torch.Tensor, nrow: int) -> torch.Tensor:
    """``[N, C, H, W]`` images in [0, 1] -> one ``[C, H', W']`` grid image."""
    from torchvision.utils import make_grid

    return make_grid(images.clamp(0, 1).float().cpu(), nrow=nrow, padding=1, pad_value=0.5)


def _default_to_image(x: torch.Tensor) -> torch.Tensor:
    """Model output ``[N, *x_shape]`` -> ``[N, C, H, W]``: (H, W) gets a channel; (F,) becomes a row."""
    if x.dim() == 3:
        return x.unsqueeze(1)
    if x.dim() == 2:
        return x.view(x.shape[0], 1, 1, x.shape[1])
    return x


class TensorBoardLogger(Callback):
    """TensorBoard: every loss term per epoch (train and val), the loss and beta every
    ``every_n_steps`` steps, and, when ``x_ref`` is given, reconstructions, prior samples and a
    latent scatter (PCA to 2-D, coloured by ``y_ref``) every ``image_every`` epochs.

    ``to_image`` maps model outputs ``[N, *x_shape]`` to images ``[N, C, H, W]`` in [0, 1]
    (the audio models pass a spectrogram renderer). Prior samples use one fixed set of codes,
    so that the grids of successive epochs are comparable; no global random state is used.
    """

    def __init__(self, log_dir: str | Path | None = None, every_n_steps: int = 100,
                 x_ref: torch.Tensor | None = None, y_ref: torch.Tensor | None = None,
                 n_images: int = 64, image_every: int = 1,
                 to_image: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 ref_transform: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.log_dir, self.every_n_steps = log_dir, every_n_steps
        self.x_ref, self.y_ref = x_ref, y_ref
        self.n_images, self.image_every = n_images, image_every
        self.to_image = to_image or _default_to_image
        self.ref_transform = ref_transform
        self.writer = None
        self._z_fixed: torch.Tensor | None = None

    def on_fit_begin(self, trainer) -> None:
        from torch.utils.tensorboard import SummaryWriter

        if self.log_dir is None and trainer.run_dir is None:
            raise ValueError("TensorBoardLogger needs log_dir when the trainer has no run folder (run_dir=False)")
        log_dir = Path(self.log_dir) if self.log_dir is not None else trainer.run_dir / "tensorboard"
        # purge_step drops events written after the checkpoint we resume from
        self.writer = SummaryWriter(str(log_dir), purge_step=trainer.global_step or None)

    def on_step_end(self, trainer, outputs) -> None:
        step = trainer.global_step
        if self.writer is None or self.every_n_steps <= 0 or step % self.every_n_steps:
            return
        self.writer.add_scalar("step/loss", float(outputs["loss"]), step)
        if hasattr(trainer.model, "beta"):
            self.writer.add_scalar("step/beta", float(trainer.model.beta), step)

    def on_epoch_end(self, trainer, metrics) -> None:
        if self.writer is None:
            return
        for key, value in metrics.items():
            if key == "epoch" or not isinstance(value, (int, float)):
                continue
            split, _, name = key.partition("_")
            tag = f"{name}/{split}" if split in ("train", "val") and name else f"epoch/{key}"
            self.writer.add_scalar(tag, value, trainer.epoch)
        if self.x_ref is not None and self.image_every > 0 and trainer.epoch % self.image_every == 0:
            self.log_images(trainer)
        self.writer.flush()

    @torch.no_grad()
    def log_images(self, trainer) -> None:
        """Reconstructions (originals above, reconstructions below), prior samples, latent scatter."""
        model = trainer.model
        was_training = model.training
        model.eval()
        try:
            x = self.x_ref.to(trainer.device)
            if self.ref_transform is not None:
                x = self.ref_transform(x)
            n = min(self.n_images, len(x))
            nrow = max(1, int(math.sqrt(self.n_images)))
            if hasattr(model, "reconstruct"):
                k = min(nrow, n)
                pair = torch.cat([self.to_image(x[:k].float()), self.to_image(model.reconstruct(x[:k]))])
                self.writer.add_image("images/reconstructions", _grid(pair, k), trainer.epoch)
            if hasattr(model, "decode_to_x"):
                if self._z_fixed is None:
                    g = torch.Generator().manual_seed(0)
                    self._z_fixed = torch.randn(self.n_images, model.z_dim, generator=g)
                samples = model.decode_to_x(self._z_fixed.to(trainer.device))
                self.writer.add_image("images/prior_samples", _grid(self.to_image(samples), nrow), trainer.epoch)
            if hasattr(model, "encode"):
                mu = torch.cat([model.encode(xb)[0] for xb in x.split(1000)]).float().cpu()
                title = "E_q[z], first two principal components" if mu.shape[1] > 2 else "E_q[z]"
                self._scatter(_pca_2d(mu), trainer.epoch, title)
        finally:
            model.train(was_training)

    def _scatter(self, points: torch.Tensor, epoch: int, title: str) -> None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 5))
        ax = fig.add_subplot()
        c = self.y_ref.cpu().numpy() if self.y_ref is not None else None
        ax.scatter(points[:, 0].numpy(), points[:, -1].numpy(), c=c, s=3, cmap="tab10")
        ax.set_title(title)
        self.writer.add_figure("images/latent_scatter", fig, epoch)

    def on_fit_end(self, trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
