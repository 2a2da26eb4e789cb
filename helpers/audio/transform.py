"""The one interface every audio model uses: :class:`AudioTransform`.

A transform turns waveforms into a magnitude "image" and back::

    transform = build_transform({"kind": "nsgt", "bins_per_octave": 24})
    magnitude = transform.analyze(wave)             # (batch, freq, time) float32
    transform.fit_scaling(train_magnitudes)         # dataset mean/std of the compressed values
    x = transform.scale(magnitude)                  # what the model sees
    wave_hat = transform.synthesize(transform.unscale(x_hat))   # phase reconstruction

- :meth:`AudioTransform.forward_complex` / :meth:`AudioTransform.inverse_complex` are the exact
  analysis and (dual-frame) synthesis; the round trip is exact up to rounding.
- :meth:`AudioTransform.synthesize` rebuilds a phase for a magnitude alone (fast Griffin-Lim
  started from a phase-vocoder estimate, see :mod:`helpers.audio.griffinlim`).
- The model-facing scaling (:class:`MagnitudeScaler`) is log1p or dB with a floor, then the
  dataset mean/std; its state is two plain tensors (:meth:`AudioTransform.state_dict`) that go
  into a checkpoint next to ``transform.config.to_dict()``.

Parameters live in dataclasses (:class:`STFTConfig`, :class:`NSGTConfig`) with documented fields,
``to_dict``/``from_dict`` and a stable hash; :func:`build_transform` rebuilds a transform from the
dict (and optionally the scaling state). Shapes follow ``torch.stft``: leading dimensions are
kept, ``(..., n_samples) -> (..., freq, time)``.
"""

from __future__ import annotations

import abc
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Iterable

import numpy as np
import torch

from helpers.audio.griffinlim import griffin_lim
from helpers.hashing import config_hash
from helpers.models.config import Config

SCALES = ("log1p", "db", "none")
NORMALIZATIONS = ("global", "per_bin", "none")
PHASE_INITS = ("peaks", "zeros", "random")


# --------------------------------------------------------------------------- configs


@dataclass
class TransformConfig(Config):
    """Fields shared by every transform (see the subclasses for the analysis parameters).

    A :class:`~helpers.models.config.Config` whose dict carries its ``kind``."""

    kind: ClassVar[str] = ""
    #: fields that change the magnitudes (the spectra cache is keyed by these only)
    analysis_fields: ClassVar[tuple[str, ...]] = ("sample_rate",)

    #: Sampling rate in Hz; 22050 is the rate of the rendered instrument notes.
    sample_rate: int = 22050
    #: Compression before normalisation: "log1p" (log(1 + |S|), gentle, exact at 0), "db"
    #: (20 log10 |S| floored at ``db_floor``) or "none".
    scale: str = "log1p"
    #: Floor of the "db" scale in dB (absolute magnitude 10^(floor/20)); -80 dB keeps the tails
    #: of the notes and drops rounding noise.
    db_floor: float = -80.0
    #: Normalisation after compression, fitted on a dataset: "global" (one mean/std),
    #: "per_bin" (one per frequency bin) or "none".
    normalize: str = "global"
    #: Griffin-Lim iterations used by ``synthesize`` by default; 128 reaches a spectral
    #: convergence of about 0.01 (STFT) from the phase-vocoder start.
    gl_n_iter: int = 128
    #: Fast Griffin-Lim momentum (Perraudin et al. 2013 recommend 0.99).
    gl_momentum: float = 0.99
    #: Initial phase of Griffin-Lim: "peaks" (phase vocoder from interpolated spectral peaks,
    #: the best start measured here), "zeros" (torchaudio's default) or "random".
    gl_init: str = "peaks"

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first invalid field."""
        if not (isinstance(self.sample_rate, (int, np.integer)) and self.sample_rate > 0):
            raise ValueError(f"sample_rate must be a positive integer, got {self.sample_rate!r}")
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {self.normalize!r}")
        if not math.isfinite(self.db_floor):
            raise ValueError(f"db_floor must be finite, got {self.db_floor!r}")
        if self.gl_n_iter < 0:
            raise ValueError(f"gl_n_iter must be >= 0, got {self.gl_n_iter}")
        if not 0 <= self.gl_momentum < 1:
            raise ValueError(f"gl_momentum must be in [0, 1), got {self.gl_momentum}")
        if self.gl_init not in PHASE_INITS:
            raise ValueError(f"gl_init must be one of {PHASE_INITS}, got {self.gl_init!r}")

    def __post_init__(self) -> None:
        self.validate()

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with a ``kind`` entry; JSON-serialisable; inverse of :meth:`from_dict`."""
        return {"kind": self.kind, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TransformConfig":
        d = dict(d)
        kind = d.pop("kind", cls.kind)
        if kind != cls.kind:
            raise ValueError(f"config kind {kind!r} does not match {cls.__name__} ({cls.kind!r})")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {unknown}")
        return cls(**d)

    def stable_hash(self, analysis_only: bool = False) -> str:
        """16 hex digits of :func:`helpers.hashing.config_hash` of the fields (or of the analysis
        fields: what the magnitudes depend on)."""
        return config_hash(self.analysis_dict() if analysis_only else self.to_dict(), 16)

    def analysis_dict(self) -> dict[str, Any]:
        """The fields that determine the magnitudes, with ``kind``."""
        d = self.to_dict()
        return {"kind": self.kind, **{k: d[k] for k in self.analysis_fields}}


@dataclass
class STFTConfig(TransformConfig):
    """Short-time Fourier transform (Hann window, centred frames, reflect padding)."""

    kind: ClassVar[str] = "stft"
    analysis_fields: ClassVar[tuple[str, ...]] = ("sample_rate", "n_fft", "hop_length",
                                                  "win_length", "window", "center")

    #: FFT size: 1024 at 22050 Hz gives 21.5 Hz bins and 46 ms frames, enough to resolve the
    #: partials of low notes while keeping attacks sharp.
    n_fft: int = 1024
    #: Hop in samples; n_fft/4 (75 % overlap) is the usual redundancy for Griffin-Lim, and
    #: halving it measured no better here once the phase-vocoder start is used.
    hop_length: int = 256
    #: Window length (``None`` = ``n_fft``).
    win_length: int | None = None
    #: Window: "hann" (the only one Griffin-Lim is tuned for here) or "hamming".
    window: str = "hann"
    #: Centre frames on their time stamps (torch.stft convention).
    center: bool = True
    #: Length ``synthesize`` returns by default when it fits the number of frames (1-s
    #: notes); otherwise ``(frames - 1) * hop_length``. Does not change the analysis.
    n_samples: int = 22050

    def validate(self) -> None:
        super().validate()
        if self.n_fft < 2:
            raise ValueError(f"n_fft must be >= 2, got {self.n_fft}")
        if not 0 < self.hop_length <= (self.win_length or self.n_fft):
            raise ValueError(f"hop_length must be in (0, win_length], got {self.hop_length}")
        if self.win_length is not None and not 0 < self.win_length <= self.n_fft:
            raise ValueError(f"win_length must be in (0, n_fft], got {self.win_length}")
        if self.window not in ("hann", "hamming"):
            raise ValueError(f"window must be 'hann' or 'hamming', got {self.window!r}")
        if self.n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {self.n_samples}")


@dataclass
class NSGTConfig(TransformConfig):
    """Constant-Q non-stationary Gabor transform (``nsgt`` CQ_NSGT, real, matrix form)."""

    kind: ClassVar[str] = "nsgt"
    analysis_fields: ClassVar[tuple[str, ...]] = ("sample_rate", "n_samples", "fmin", "fmax",
                                                  "bins_per_octave")

    #: Signal length the frame is built for (1-s notes); other lengths get their own frame on
    #: first use (the number of frames depends on the length).
    n_samples: int = 22050
    #: Lowest constant-Q band in Hz: C1, below the lowest note of the orchestral set.
    fmin: float = 32.70
    #: Highest constant-Q band in Hz. 10712.5 is what ``smooth_fmax(32.7, 24, 22050, 22050)``
    #: returns: M = 625 = 5^4 frames (FFT-friendly) and a frame condition of 21. An fmax at or
    #: a hair below Nyquist leaves a degenerate top band (condition 1e5..1e8) on which
    #: Griffin-Lim diverges.
    fmax: float = 10712.5
    #: Bands per octave: 24 (quarter tones) resolves the partials of low notes; 48 measured a
    #: slightly better phase reconstruction at twice the bins, 12 a worse one.
    bins_per_octave: int = 24

    def validate(self) -> None:
        super().validate()
        from helpers.audio.nsgt_ref import check_nsgt_params

        check_nsgt_params(self.fmin, self.fmax, self.bins_per_octave, self.sample_rate,
                          self.n_samples)


#: config class of every transform kind (filled by :func:`register_transform`)
CONFIGS: dict[str, type[TransformConfig]] = {}


def _unknown_kind(kind: Any) -> ValueError:
    return ValueError(f"unknown transform kind {kind!r}; known kinds: {sorted(TRANSFORMS)}")


def config_from_dict(d: dict[str, Any]) -> TransformConfig:
    """Config dataclass of the ``kind`` named in ``d``."""
    kind = d.get("kind")
    if kind not in CONFIGS:
        raise _unknown_kind(kind)
    return CONFIGS[kind].from_dict(d)


# --------------------------------------------------------------------------- scaling


class MagnitudeScaler:
    """Compression (log1p / dB with a floor) then dataset mean/std, and its inverse.

    The fitted state is two plain tensors (``mean``, ``std``; scalars for "global", ``(freq, 1)``
    for "per_bin"), saved with :meth:`state_dict` and restored with :meth:`load_state_dict`.
    A standard deviation below ``min_std`` (a constant dataset, e.g. silence) is clamped to it,
    so scaling never divides by zero.
    """

    min_std = 1e-5

    def __init__(self, scale: str = "log1p", db_floor: float = -80.0, normalize: str = "global"):
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        self.scale, self.db_floor, self.normalize = scale, float(db_floor), normalize
        self.mean: torch.Tensor | None = None
        self.std: torch.Tensor | None = None

    @property
    def fitted(self) -> bool:
        return self.normalize == "none" or self.mean is not None

    def compress(self, magnitude: torch.Tensor) -> torch.Tensor:
        if self.scale == "log1p":
            return torch.log1p(magnitude.clamp_min(0))
        if self.scale == "db":
            floor = 10.0 ** (self.db_floor / 20)
            return 20 * torch.log10(magnitude.clamp_min(floor))
        return magnitude

    def decompress(self, y: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`compress` (values at the dB floor come back as the floor)."""
        if self.scale == "log1p":
            return torch.expm1(y).clamp_min(0)
        if self.scale == "db":
            return torch.pow(10.0, y / 20)
        return y.clamp_min(0)

    def fit(self, magnitudes: torch.Tensor | Iterable[torch.Tensor]) -> "MagnitudeScaler":
        """Mean/std of the compressed values over ``(N, freq, time)`` or an iterable of batches."""
        if self.normalize == "none":
            return self
        if isinstance(magnitudes, torch.Tensor):
            magnitudes = [magnitudes]
        total = total_sq = count = None
        for batch in magnitudes:
            batch = torch.as_tensor(batch)
            if batch.ndim < 2:
                raise ValueError(f"magnitudes must be (..., freq, time), got shape {tuple(batch.shape)}")
            if not torch.isfinite(batch).all():
                raise ValueError("magnitudes contain non-finite values (NaN or Inf)")
            y = self.compress(batch.double()).reshape(-1, *batch.shape[-2:])
            dims = (0, 2) if self.normalize == "per_bin" else (0, 1, 2)
            s, s2 = y.sum(dim=dims), (y * y).sum(dim=dims)
            n = y.numel() // (s.numel() if self.normalize == "per_bin" else 1)
            total = s if total is None else total + s
            total_sq = s2 if total_sq is None else total_sq + s2
            count = n if count is None else count + n
        if total is None:
            raise ValueError("fit needs at least one batch of magnitudes")
        mean = total / count
        std = (total_sq / count - mean ** 2).clamp_min(0).sqrt().clamp_min(self.min_std)
        if self.normalize == "per_bin":
            mean, std = mean.unsqueeze(-1), std.unsqueeze(-1)
        self.mean, self.std = mean.float(), std.float()
        return self

    def _stats(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.fitted:
            raise RuntimeError("the scaling is not fitted: call fit_scaling(magnitudes) first "
                               "(or use normalize='none')")
        if self.normalize == "none":
            return torch.zeros((), dtype=like.dtype), torch.ones((), dtype=like.dtype)
        return self.mean.to(like), self.std.to(like)

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        y = self.compress(magnitude)
        mean, std = self._stats(y)
        return (y - mean) / std

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(x)
        return self.decompress(x * std + mean)

    def state_dict(self) -> dict[str, torch.Tensor]:
        if self.normalize == "none" or self.mean is None:
            return {}
        return {"mean": self.mean.clone(), "std": self.std.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if self.normalize == "none":
            return
        if set(state) != {"mean", "std"}:
            raise ValueError(f"scaling state must hold 'mean' and 'std', got {sorted(state)}")
        mean, std = torch.as_tensor(state["mean"]).float(), torch.as_tensor(state["std"]).float()
        if self.normalize == "global" and (mean.ndim or std.ndim):
            raise ValueError("a 'global' scaling state holds scalar mean and std")
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all() and (std > 0).all()):
            raise ValueError("scaling state must have finite mean and positive std")
        self.mean, self.std = mean, std


# --------------------------------------------------------------------------- interface


class AudioTransform(abc.ABC):
    """Analysis, exact synthesis, phase reconstruction and model-facing scaling of audio."""

    config: TransformConfig

    def __init__(self, config: TransformConfig):
        config.validate()
        self.config = config
        self.scaler = MagnitudeScaler(config.scale, config.db_floor, config.normalize)

    # -- shapes and axes -----------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @abc.abstractmethod
    def output_shape(self, n_samples: int) -> tuple[int, int]:
        """``(n_freq, n_frames)`` of the magnitude of one signal of ``n_samples``."""

    @abc.abstractmethod
    def frequencies(self) -> np.ndarray:
        """Centre frequency of every bin in Hz (for plots)."""

    @abc.abstractmethod
    def frame_times(self, n_samples: int) -> np.ndarray:
        """Time of every frame in seconds for a signal of ``n_samples`` (for plots)."""

    @abc.abstractmethod
    def min_samples(self) -> int:
        """Shortest signal accepted (one frame)."""

    # -- exact analysis / synthesis -------------------------------------------------------
    @abc.abstractmethod
    def forward_complex(self, wave: torch.Tensor) -> torch.Tensor:
        """``(..., n)`` real -> ``(..., freq, time)`` complex coefficients (input precision)."""

    @abc.abstractmethod
    def inverse_complex(self, coefficients: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Exact inverse of :meth:`forward_complex` (dual frame): ``(..., freq, time) -> (..., n)``."""

    @abc.abstractmethod
    def initial_phase(self, magnitude: torch.Tensor, length: int) -> torch.Tensor:
        """Phase-vocoder estimate of the phase of ``magnitude`` (unit complex, same shape)."""

    def analyze(self, wave: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Magnitude ``(..., freq, time)`` as float32."""
        return self.forward_complex(wave).abs().float()

    def check_wave(self, wave: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``wave`` as a real floating tensor; ``ValueError`` for non-finite samples or a signal
        shorter than :meth:`min_samples`."""
        wave = torch.as_tensor(wave)
        if wave.is_complex():
            raise ValueError("wave must be real")
        if not wave.is_floating_point():
            wave = wave.float()
        if wave.ndim == 0:
            raise ValueError("wave must have a time axis (..., n_samples)")
        if not torch.isfinite(wave).all():
            raise ValueError("wave contains non-finite samples (NaN or Inf)")
        if wave.shape[-1] < self.min_samples():
            raise ValueError(f"wave of {wave.shape[-1]} samples is shorter than one frame of this "
                             f"transform ({self.min_samples()} samples; {self._frame_param()})")
        return wave

    def _frame_param(self) -> str:
        return ""

    def synthesize(self, magnitude: torch.Tensor, n_iter: int | None = None,
                   length: int | None = None, init: str | None = None,
                   momentum: float | None = None, history: list | None = None) -> torch.Tensor:
        """Waveform ``(..., n)`` whose magnitude approximates ``magnitude`` (fast Griffin-Lim).

        Defaults come from the config (``gl_n_iter``, ``gl_momentum``, ``gl_init``); ``history``
        collects the spectral convergence of every iterate (see :func:`griffin_lim`).
        """
        magnitude = torch.as_tensor(magnitude)
        if magnitude.is_complex():
            raise ValueError("magnitude must be real (pass coefficients.abs())")
        if not magnitude.is_floating_point():
            magnitude = magnitude.float()
        if not torch.isfinite(magnitude).all():
            raise ValueError("magnitude contains non-finite values (NaN or Inf)")
        if (magnitude < 0).any():
            raise ValueError("magnitude must be >= 0 (unscale the model output first)")
        length = self._default_length(magnitude, length)
        init = self.config.gl_init if init is None else init
        if init not in PHASE_INITS:
            raise ValueError(f"init must be one of {PHASE_INITS}, got {init!r}")
        if init == "peaks":
            phase = self.initial_phase(magnitude, length)
        elif init == "random":
            phase = torch.polar(torch.ones_like(magnitude), 2 * torch.pi * torch.rand_like(magnitude))
        else:
            phase = None
        return griffin_lim(magnitude, self.forward_complex,
                           lambda c: self.inverse_complex(c, length),
                           n_iter=self.config.gl_n_iter if n_iter is None else n_iter,
                           momentum=self.config.gl_momentum if momentum is None else momentum,
                           init_phase=phase, history=history)

    @abc.abstractmethod
    def _default_length(self, magnitude: torch.Tensor, length: int | None) -> int:
        """The signal length to synthesise (checked against the magnitude's frame count)."""

    # -- model-facing scaling ------------------------------------------------------------
    def fit_scaling(self, magnitudes: torch.Tensor | Iterable[torch.Tensor]) -> "AudioTransform":
        """Fit the dataset mean/std of the compressed magnitudes (see :class:`MagnitudeScaler`)."""
        self.scaler.fit(magnitudes)
        return self

    def scale(self, magnitude: torch.Tensor) -> torch.Tensor:
        """Magnitude -> model space (compressed, normalised)."""
        return self.scaler.forward(magnitude)

    def unscale(self, x: torch.Tensor) -> torch.Tensor:
        """Model space -> magnitude (inverse of :meth:`scale`)."""
        return self.scaler.inverse(x)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Fitted scaling as plain tensors (empty before fitting); pair with ``config.to_dict()``."""
        return self.scaler.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.scaler.load_state_dict(state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"


#: transform class of every kind: the modules that define a transform register it
#: (``@register_transform(STFTConfig)`` in :mod:`helpers.audio.stft`); importing
#: :mod:`helpers.audio` imports them all, and this module imports none of them.
TRANSFORMS: dict[str, type[AudioTransform]] = {}


def register_transform(config_cls: type[TransformConfig]):
    """Class decorator: make ``build_transform({"kind": config_cls.kind, ...})`` build this class."""
    if not config_cls.kind:
        raise ValueError(f"{config_cls.__name__} has no kind")

    def register(cls: type[AudioTransform]) -> type[AudioTransform]:
        CONFIGS[config_cls.kind] = config_cls
        TRANSFORMS[config_cls.kind] = cls
        return cls

    return register


def build_transform(config: dict[str, Any] | TransformConfig,
                    state: dict[str, torch.Tensor] | None = None) -> AudioTransform:
    """Transform from a config dict (``{"kind": "stft" | "nsgt", ...}``) or dataclass, with an
    optional scaling state from :meth:`AudioTransform.state_dict`. An unknown kind raises
    ``ValueError`` listing the registered ones."""
    if not isinstance(config, TransformConfig):
        config = config_from_dict(config)
    if config.kind not in TRANSFORMS:
        raise _unknown_kind(config.kind)
    transform = TRANSFORMS[config.kind](config)
    if state:
        transform.load_state_dict(state)
    return transform
