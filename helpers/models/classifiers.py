"""Small CNN classifiers for the judges: digits, digits + letters, instruments (magnitude spectra).

One network, :class:`Classifier`, built from a :class:`ClassifierConfig` through the model
registry (``build_model({"model": "classifier", ...})``), so that it trains through the one
:class:`~helpers.training.Trainer` and the run store like every other model.

Labelled data travels as ONE tensor (:func:`pack`): every example flattened, with its class
index appended as the last element. The Trainer cuts batches of that tensor as it does for
unlabelled data, and the run store's fingerprint of the training tensor covers the labels too.
``Classifier.forward(batch)`` unpacks it and returns the loss terms the Trainer expects:
``loss`` (mean cross-entropy), ``nll`` and ``error`` per example.

Inputs (``config.input``):

- ``"image"``: pixels in [0, 1] (or uint8), ``[N, 28, 28]`` or ``[N, 1, 28, 28]``.
- ``"spectrum"``: raw magnitudes ``[N, F, T]`` of an :class:`~helpers.audio.transform.AudioTransform`
  (any T). :meth:`Classifier.prepare` pools time to ``n_frames`` frames (mean of the magnitude),
  converts to dB and normalises every note by its own peak (``0`` dB at the loudest bin, floor at
  ``-db_range``): the level of a note, which depends on the dynamics and on the sample set, is
  removed before the network sees it.

Augmentation (training mode only, one random affine ``grid_sample`` per batch):

- images: rotation, scale and translation (small: the digits stay digits);
- spectra: time shift, pitch shift (a translation of the frequency axis for a constant-Q
  transform, a scaling of it for a linear-frequency STFT: ``f -> f * 2^(s/12)``) and a random
  floor (``db_range`` jittered), which acts as a gain change against the noise floor.

The architecture follows the digit classifier of Cherti et al.'s code (3 convolutions with
max-pooling, a dense layer, dropout), with batch normalisation after every convolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import Config
from .vae import register_model

INPUTS = ("image", "spectrum")
FREQ_AXES = ("linear", "log")
LEVEL_NORMS = ("note", "frame")
#: fields added after judges had been trained and stored (left out of ``to_dict`` at their default)
ADDED_FIELDS = ("eq_db", "tilt_db_per_octave", "mixup", "time_pool", "level_norm")


@dataclass
class ClassifierConfig(Config):
    """A CNN classifier (``build_model(config)``).

    Attributes:
        model: registry key, "classifier".
        input: "image" (pixels in [0, 1]) or "spectrum" (raw magnitudes, see the module docstring).
        x_shape: shape of one example as the data hold it: (28, 28) for MNIST, (F, T) for spectra.
        n_classes: number of output classes (a background class, when used, is one of them).
        channels: output channels of the 3x3 convolutions, each followed by batch norm, ReLU and
            2x2 max-pooling. (32, 64, 128): a quarter of the 64/128/256 of Cherti et al.'s
            network in multiply-adds, so that the digit judge trains in minutes on 2 CPU cores.
        dense: width of the penultimate layer (the judge's feature space).
        dropout: before the last layer (Srivastava et al., 2014).
        n_frames: spectrum input: frames the time axis is mean-pooled to.
        freq_pool: spectrum input: adjacent frequency bins averaged (in dB) before the network;
            2 halves the cost of the 513-bin STFT.
        db_range: spectrum input: dB below each note's peak kept (the floor).
        freq_axis: spectrum input: "linear" (STFT) or "log" (constant-Q NSGT); decides how a
            pitch shift acts on the frequency axis.
        bins_per_octave: log axis: bins per octave (to turn semitones into bins).
        augment: augment the training batches (never in eval mode).
        rotate_deg, scale, shift_px: image augmentation ranges (uniform in +-range).
        pitch_semitones, time_shift_frames, floor_jitter_db: spectrum augmentation ranges.
        eq_db: spectrum augmentation: a smooth random equaliser curve, uniform in +-``eq_db`` dB
            at one knot per octave and linear in log-frequency between them, added to the dB
            spectrum (the sample sets of one instrument differ mostly in their EQ).
        tilt_db_per_octave: spectrum augmentation: a random spectral tilt, uniform in
            +-``tilt_db_per_octave`` dB per octave around the middle of the axis.
        mixup: Beta(mixup, mixup) weight of mixup (Zhang et al., 2018): each batch is mixed with
            a shuffled copy of itself, labels mixed alike; 0 turns it off.
        level_norm: spectrum input: "note" (every note's dB relative to its own peak) or "frame"
            (every pooled frame relative to its own peak: the note's loudness envelope, which
            differs between sample sets of one instrument, removed too).
        time_pool: features averaged over the time axis after the convolutions (invariance to
            where in the note a pattern sits), instead of flattened.
    """

    added_fields = ADDED_FIELDS

    model: str = "classifier"
    input: str = "image"
    x_shape: tuple[int, ...] = (28, 28)
    n_classes: int = 10
    channels: tuple[int, ...] = (32, 64, 128)
    dense: int = 256
    dropout: float = 0.5
    n_frames: int = 16
    freq_pool: int = 1
    db_range: float = 80.0
    freq_axis: str = "linear"
    bins_per_octave: int = 24
    augment: bool = True
    rotate_deg: float = 10.0
    scale: float = 0.1
    shift_px: float = 2.0
    pitch_semitones: float = 0.5
    time_shift_frames: float = 2.0
    floor_jitter_db: float = 10.0
    eq_db: float = 0.0
    tilt_db_per_octave: float = 0.0
    mixup: float = 0.0
    time_pool: bool = False
    level_norm: str = "note"

    def __post_init__(self):
        if self.input not in INPUTS:
            raise ValueError(f"input={self.input!r}: expected one of {INPUTS}")
        if self.level_norm not in LEVEL_NORMS:
            raise ValueError(f"level_norm={self.level_norm!r}: expected one of {LEVEL_NORMS}")
        if self.freq_axis not in FREQ_AXES:
            raise ValueError(f"freq_axis={self.freq_axis!r}: expected one of {FREQ_AXES}")
        if self.n_classes < 2:
            raise ValueError(f"n_classes={self.n_classes}: expected >= 2")
        if self.freq_pool < 1 or self.n_frames < 1:
            raise ValueError("freq_pool and n_frames must be >= 1")
        if len(self.x_shape) != 2:
            raise ValueError(f"x_shape={self.x_shape}: expected (H, W) or (F, T)")
        if not self.channels:
            raise ValueError("channels must name at least one convolution")
        for name in ("eq_db", "tilt_db_per_octave", "mixup"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)}: expected >= 0")

    @property
    def net_shape(self) -> tuple[int, int]:
        """(H, W) the convolutions see: the image, or (F, n_frames) for spectra."""
        return tuple(self.x_shape) if self.input == "image" else (self.x_shape[0] // self.freq_pool, self.n_frames)


def pack(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Examples ``[N, ...]`` and class indices ``[N]`` -> one tensor ``[N, prod(...) + 1]`` (labels
    last), the labelled layout :class:`Classifier` trains on. uint8 images stay uint8."""
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)} labels")
    y = torch.as_tensor(y)
    if x.dtype == torch.uint8 and (y.min() < 0 or y.max() > 255):
        raise ValueError("labels must be in [0, 255] to be packed with uint8 images")
    return torch.cat([x.reshape(len(x), -1), y.reshape(-1, 1).to(x.dtype)], dim=1)


def unpack(batch: torch.Tensor, x_shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of :func:`pack`: ``(x [N, *x_shape], y int64 [N])``."""
    n_features = math.prod(x_shape)
    if batch.dim() != 2 or batch.shape[1] != n_features + 1:
        raise ValueError(f"a packed batch of {tuple(x_shape)} examples has shape [N, {n_features + 1}], "
                         f"got {tuple(batch.shape)}")
    return batch[:, :n_features].reshape(len(batch), *x_shape), batch[:, -1].round().long()


class Classifier(nn.Module):
    """Conv(3x3)-BN-ReLU-MaxPool blocks, a dense ReLU layer (the features), dropout, logits."""

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        blocks, c_in = [], 1
        h, w = config.net_shape
        for c in config.channels:
            blocks += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            c_in, h, w = c, h // 2, w // 2
        if h < 1 or w < 1:
            raise ValueError(f"x_shape {config.net_shape} is too small for {len(config.channels)} poolings")
        self.conv = nn.Sequential(*blocks)
        n_flat = c_in * h * (1 if config.time_pool else w)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(n_flat, config.dense), nn.ReLU(inplace=True))
        self.drop = nn.Dropout(config.dropout)
        self.out = nn.Linear(config.dense, config.n_classes)

    @classmethod
    def from_config(cls, config: ClassifierConfig) -> "Classifier":
        return cls(config)

    @property
    def device(self) -> torch.device:
        return self.out.weight.device

    # ---------------------------------------------------------------------- input stage
    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Raw input -> ``[N, 1, H, W]`` float in [0, 1] (see the module docstring)."""
        cfg = self.config
        x = torch.as_tensor(x)
        if cfg.input == "image":
            if x.dtype == torch.uint8:
                x = x.float() / 255.0
            if x.dim() == 4 and x.shape[1] == 1:
                x = x[:, 0]
            if x.dim() != 3 or tuple(x.shape[1:]) != tuple(cfg.x_shape):
                raise ValueError(f"images of shape [N, {cfg.x_shape[0]}, {cfg.x_shape[1]}] or "
                                 f"[N, 1, {cfg.x_shape[0]}, {cfg.x_shape[1]}] expected, got {tuple(x.shape)}")
            return x.float().clamp(0, 1).unsqueeze(1)
        if x.dim() == 4 and x.shape[1] == 1:
            x = x[:, 0]
        if x.dim() != 3 or x.shape[1] != cfg.x_shape[0]:
            raise ValueError(f"magnitudes of shape [N, {cfg.x_shape[0]}, T] expected, got {tuple(x.shape)}")
        x = magnitude_to_unit(pool_frames(x.float(), cfg.n_frames), cfg.db_range,
                              per_frame=cfg.level_norm == "frame").unsqueeze(1)
        return F.avg_pool2d(x, (cfg.freq_pool, 1)) if cfg.freq_pool > 1 else x

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        """One random affine resampling per example (training only)."""
        cfg, n = self.config, len(x)
        u = lambda: torch.rand(n, device=x.device) * 2 - 1  # noqa: E731  uniform in [-1, 1]
        theta = torch.zeros(n, 2, 3, device=x.device)
        h, w = x.shape[-2:]
        if cfg.input == "image":
            angle = u() * math.radians(cfg.rotate_deg)
            s = 1 + u() * cfg.scale
            theta[:, 0, 0], theta[:, 0, 1] = torch.cos(angle) / s, -torch.sin(angle) / s
            theta[:, 1, 0], theta[:, 1, 1] = torch.sin(angle) / s, torch.cos(angle) / s
            theta[:, 0, 2], theta[:, 1, 2] = u() * cfg.shift_px * 2 / w, u() * cfg.shift_px * 2 / h
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)
        # spectra: x = time (W), y = frequency (H, row 0 = lowest bin)
        semitones = u() * cfg.pitch_semitones
        theta[:, 0, 0] = 1.0
        theta[:, 0, 2] = u() * cfg.time_shift_frames * 2 / w
        if cfg.freq_axis == "log":  # constant-Q: a pitch shift is a translation
            theta[:, 1, 1] = 1.0
            theta[:, 1, 2] = -semitones * cfg.bins_per_octave / 12 * 2 / h
        else:  # linear frequency: f_in = f_out / 2^(s/12), around f = 0 (y = -1)
            factor = 2.0 ** (-semitones / 12)
            theta[:, 1, 1], theta[:, 1, 2] = factor, factor - 1
        grid = F.affine_grid(theta, list(x.shape), align_corners=True)
        x = F.grid_sample(x, grid, padding_mode="border", align_corners=True)
        # a random floor: dB range jittered, i.e. more or less of the quiet detail above the floor
        floor = (cfg.db_range + u() * cfg.floor_jitter_db).clamp_min(10.0) / cfg.db_range
        x = ((x - (1 - floor[:, None, None, None])) / floor[:, None, None, None]).clamp(0, 1)
        if cfg.eq_db > 0 or cfg.tilt_db_per_octave > 0:
            x = self._equalise(x)
        return x

    def _octaves(self, n_rows: int, device) -> torch.Tensor:
        """Position of every frequency row in octaves (relative: only differences matter)."""
        cfg, i = self.config, torch.arange(n_rows, device=device, dtype=torch.float32)
        if cfg.freq_axis == "log":
            return i * (cfg.x_shape[0] / n_rows) / cfg.bins_per_octave
        return torch.log2(((i + 0.5) / n_rows).clamp_min(1 / 256))  # 1 = Nyquist; ~8 octaves kept

    def _equalise(self, x: torch.Tensor) -> torch.Tensor:
        """A random smooth EQ curve and tilt (dB) added above the floor of unit spectra
        ``[N, 1, F, T]``, then each note's peak set back to 0 dB."""
        cfg, n = self.config, len(x)
        octave = self._octaves(x.shape[2], x.device)
        lo, hi = float(octave.min()), float(octave.max())
        n_knots = int(math.ceil(hi - lo)) + 2
        knots = (torch.rand(n, n_knots, device=x.device) * 2 - 1) * cfg.eq_db
        pos = (octave - lo).clamp(0, n_knots - 1 - 1e-4)
        left = pos.floor().long()
        frac = pos - left
        curve = knots[:, left] * (1 - frac) + knots[:, left + 1] * frac
        slope = (torch.rand(n, 1, device=x.device) * 2 - 1) * cfg.tilt_db_per_octave
        curve = curve + slope * (octave - (lo + hi) / 2)
        above = x > 0
        x = torch.where(above, x + curve[:, None, :, None] / cfg.db_range, x)
        peak = x.flatten(1).amax(1).clamp_min(1e-6)[:, None, None, None]
        return torch.where(above, x - (peak - 1), x).clamp(0, 1)

    # ---------------------------------------------------------------------------- network
    def _features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        return self.fc(h.mean(-1) if self.config.time_pool else h)

    def logits_and_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``[N, K]`` and penultimate features ``[N, dense]`` of raw inputs (no augmentation)."""
        h = self._features(self.prepare(x.to(self.device)))
        return self.out(self.drop(h)), h

    def forward(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Loss terms of a :func:`pack`-ed batch: ``loss`` (mean cross-entropy), ``nll``, ``error``."""
        x, y = unpack(batch, self.config.x_shape)
        x = self.prepare(x)
        mix = None
        if self.training and self.config.augment:
            x = self._augment(x)
            if self.config.mixup > 0:  # Zhang et al. (2018), Eq. 1: one weight per batch
                lam = float(torch.distributions.Beta(self.config.mixup, self.config.mixup).sample())
                perm = torch.randperm(len(x), device=x.device)
                x, mix = lam * x + (1 - lam) * x[perm], (lam, y[perm])
        logits = self.out(self.drop(self._features(x))).float()
        nll = F.cross_entropy(logits, y, reduction="none")
        if mix is not None:
            nll = mix[0] * nll + (1 - mix[0]) * F.cross_entropy(logits, mix[1], reduction="none")
        return {"loss": nll.mean(), "nll": nll, "error": (logits.argmax(1) != y).float()}


def pool_frames(magnitude: torch.Tensor, n_frames: int) -> torch.Tensor:
    """Mean of the magnitude over ``n_frames`` equal time blocks: ``[..., F, T] -> [..., F, n_frames]``."""
    lead, (n_freq, n_time) = magnitude.shape[:-2], magnitude.shape[-2:]
    out = F.adaptive_avg_pool1d(magnitude.reshape(-1, n_freq, n_time), n_frames)
    return out.reshape(*lead, n_freq, n_frames)


def magnitude_to_unit(magnitude: torch.Tensor, db_range: float = 80.0, per_frame: bool = False) -> torch.Tensor:
    """Per-note level normalisation: dB relative to each note's peak (``per_frame``: to each
    frame's peak), ``[-db_range, 0] -> [0, 1]``.

    Bins at or below ``1e-7`` (-140 dB, silence) map to 0, so a silent note maps to zeros.
    """
    db = 20 * torch.log10(magnitude.clamp_min(1e-7))
    peak = db.amax(-2, keepdim=True) if per_frame else db.flatten(-2).amax(-1)[..., None, None]
    return ((db - peak) / db_range + 1).clamp(0, 1) * (magnitude > 1e-7)


register_model("classifier", ClassifierConfig, Classifier.from_config)
