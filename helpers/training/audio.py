"""Audio VAE experiments: one config, the note data in model space, training with reuse.

    config = audio_preset("note", "stft")               # helpers.training.presets
    run = train_audio_vae(config)                       # trains, or loads the run that matches
    run.model.reconstruct(magnitude)                    # an AudioVAE (helpers.models.audio)

:class:`AudioExperimentConfig` holds everything that defines a run: the transform config, the
VAE config (``x_shape`` is filled in from the transform and the layout), the trainer config and
the data options. :func:`train_audio_vae` trains through the project :class:`Trainer` and writes
into the run folder, next to the Trainer's checkpoints, ``experiment.json`` (the config),
``transform.pt`` (the scaling fitted on the training notes) and ``done.json`` (training time,
last metrics). The run folder comes from the one run store (:mod:`helpers.training.store`),
keyed by the resolved config, the bytes of the sound files read and the transform: a later call
with the same key loads the run instead of training again; any change of a field that shapes the
result (not the progress bar, the run folder, the device or the name), of a data file or of the
transform trains a new run.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from helpers.audio.noteset import AudioData, data_key, prepare_audio_data  # noqa: F401 (re-exported)
from helpers.audio.transform import AudioTransform, STFTConfig, TransformConfig, build_transform
from helpers.audio.transform import config_from_dict as transform_config_from_dict
from helpers.models.audio import MODEL_KINDS, AudioVAE
from helpers.models.config import Config
from helpers.models.vae import VAEConfig, build_model

from .callbacks import BetaWarmup, TensorBoardLogger, TimeBudget
from helpers.data.fetch_utils import atomic_path

from .checkpoint import load_checkpoint, save_json
from .seed import seed_everything
from .store import COSMETIC_FIELDS, DONE_FILE, RunStore, files_fingerprint, fit_or_load, run_key
from .trainer import Trainer, TrainerConfig

EXPERIMENT_FILE = "experiment.json"
TRANSFORM_FILE = "transform.pt"


@dataclass
class AudioExperimentConfig(Config):
    """One audio VAE run: what data, which transform and layout, which VAE, how to train.

    Attributes:
        name: prefix of the run folder (``<name>-<hash>-<time>``).
        model: "frame" (one spectrum frame per example, MLP) or "note" (one whole note per
            example, 2-D convolutions); see :mod:`helpers.models.audio`.
        transform: the audio transform (:class:`STFTConfig` or :class:`NSGTConfig`), including
            its magnitude compression and normalisation.
        vae: the VAE (:class:`VAEConfig`); ``x_shape`` is set by :meth:`resolve` from the
            transform and the layout.
        trainer: the :class:`TrainerConfig`.
        warmup_epochs: KL warm-up from beta = 0 to ``vae.beta`` over this many epochs (0: none).
            A few epochs let the decoder use the latent code before the KL term pulls it to
            the prior (Bowman et al., 2016).
        time_budget_min: stop before an epoch that would end after this many minutes
            (:class:`TimeBudget`); None: train ``trainer.n_epochs`` epochs. Keeps the default
            notebook run inside its time on a slow machine.
        data_root: a SOL-style tree (the rendered set, TinySOL, OrchideaSOL, acidsInstruments; any
            rate, channels and bit depth); None: the rendered instrument set (fetched when missing).
        unseen_root: a second tree whose notes are the unseen instruments (None: none).
        unseen_instruments: instruments (any spelling: "Tuba", "BTb", "Bass_Tuba") kept out of
            training and validation, as the "unseen" part. None: the tree's ``test/`` folder, or,
            for a tree without split folders, the instruments the rendered set keeps unseen
            (:data:`helpers.data.splits.DEFAULT_UNSEEN`) that it holds; (): none.
        soundfonts: keep only the notes of these SoundFonts (the ``soundfont`` column of the
            tree's metadata.csv; empty: all).
        holdout_soundfont: leave one SoundFont out: the training instruments' notes of this
            SoundFont are the evaluation part ("val") and the other SoundFonts' notes train
            (None: the stratified split below).
        val_fraction: share of every training instrument's notes held out for evaluation.
            10%, stratified by instrument (:func:`helpers.data.splits.note_splits`).
        split_seed: seed of that split.
        instruments: keep only these instruments (empty: all).
        dynamics: keep only these dynamics (empty: all).
        max_per_instrument: keep that many notes per instrument, spread over the pitch range
            (None: all); for quick runs.
        n_samples: length every note is padded or trimmed to (1 s at 22050 Hz).
        frame_stride: frame model: train on every ``frame_stride``-th frame of every note.
            Neighbouring frames of a held note are nearly equal; striding cuts the epoch time
            by that factor for little loss.
        time_pool: note model: frames averaged into one before the network (and linearly
            interpolated back after it). The notes' envelopes are slow; pooling to ~20 frames
            per note makes the 2-D network affordable on a CPU.
        tensorboard: log scalars to ``<run>/tensorboard``.
        restore_best: early stopping on the held-out ELBO: the model returned (and reloaded later)
            holds the weights of the epoch with the best held-out ELBO (``checkpoints/best.pt``)
            rather than those of the last epoch.
        sample_density: what :meth:`AudioVAE.sample` draws codes from: "prior" (N(0, I)), or
            "gaussian" / "mixture" fitted on the posterior means of the training examples after
            training (:mod:`helpers.models.priors`; saved as ``density.pt`` in the run folder),
            the two-stage remedy of Dai & Wipf (2019) for a prior the codes do not fill.
        augment_gain_db: training batches only: every note raised or lowered by a gain drawn
            uniformly in +-this many dB (the label of a note does not depend on its level).
        augment_pitch_bins: constant-Q transforms only: every note shifted by a whole number of
            frequency bins drawn in +-this (a small pitch shift; one NSGT bin is half a semitone at
            24 bins per octave).
        augment_time_shift: every note shifted in time by a whole number of model columns drawn in
            +-this (the vacated columns are silence).
    """

    name: str = "audio-vae"
    model: str = "frame"
    transform: TransformConfig = field(default_factory=STFTConfig)
    vae: VAEConfig = field(default_factory=lambda: VAEConfig(likelihood="gaussian", scale="per_feature"))
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    warmup_epochs: float = 0.0
    time_budget_min: float | None = None
    data_root: str | None = None
    unseen_root: str | None = None
    unseen_instruments: tuple[str, ...] | None = None
    soundfonts: tuple[str, ...] = ()
    holdout_soundfont: str | None = None
    val_fraction: float = 0.1
    split_seed: int = 0
    instruments: tuple[str, ...] = ()
    dynamics: tuple[str, ...] = ()
    max_per_instrument: int | None = None
    n_samples: int = 22050
    frame_stride: int = 1
    time_pool: int = 1
    tensorboard: bool = False
    restore_best: bool = False
    sample_density: str = "prior"
    augment_gain_db: float = 0.0
    augment_pitch_bins: int = 0
    augment_time_shift: int = 0

    #: fields written by :meth:`to_dict` only when they differ from their default, so that the
    #: configs (and run keys) of runs made before they existed stay the same
    OPTIONAL_FIELDS = {"restore_best": False, "sample_density": "prior", "augment_gain_db": 0.0,
                       "augment_pitch_bins": 0, "augment_time_shift": 0}

    def __post_init__(self):
        if self.model not in MODEL_KINDS:
            raise ValueError(f"model={self.model!r}: expected one of {MODEL_KINDS}")
        if isinstance(self.transform, dict):
            self.transform = transform_config_from_dict(self.transform)
        if isinstance(self.vae, dict):
            self.vae = VAEConfig.from_dict(self.vae)
        if isinstance(self.trainer, dict):
            self.trainer = TrainerConfig.from_dict(self.trainer)
        self.instruments, self.dynamics = tuple(self.instruments), tuple(self.dynamics)
        self.soundfonts = (self.soundfonts,) if isinstance(self.soundfonts, str) else tuple(self.soundfonts)
        if self.unseen_instruments is not None:
            names = self.unseen_instruments
            self.unseen_instruments = (names,) if isinstance(names, str) else tuple(names)
        self.data_root = None if self.data_root is None else str(self.data_root)
        self.unseen_root = None if self.unseen_root is None else str(self.unseen_root)
        if self.frame_stride < 1 or self.time_pool < 1:
            raise ValueError("frame_stride and time_pool must be >= 1")
        from helpers.models.priors import ALL_DENSITIES as DENSITIES

        if self.sample_density not in DENSITIES:
            raise ValueError(f"sample_density={self.sample_density!r}: expected one of {DENSITIES}")
        if self.augment_gain_db < 0 or self.augment_pitch_bins < 0 or self.augment_time_shift < 0:
            raise ValueError("augment_gain_db, augment_pitch_bins and augment_time_shift must be >= 0")
        if self.augment_pitch_bins and self.transform.kind == "stft":
            raise ValueError("augment_pitch_bins shifts constant-Q bins; on the linear STFT axis a bin shift "
                             "is not a pitch shift (use 0)")

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.update(transform=self.transform.to_dict(), vae=self.vae.to_dict(), trainer=self.trainer.to_dict())
        for k, default in self.OPTIONAL_FIELDS.items():
            if d.get(k) == default:
                d.pop(k)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AudioExperimentConfig":
        d = dict(d)  # the nested configs first, so that the checks of __post_init__ see them
        if isinstance(d.get("transform"), dict):
            d["transform"] = transform_config_from_dict(d["transform"])
        if isinstance(d.get("vae"), dict):
            d["vae"] = VAEConfig.from_dict(d["vae"])
        if isinstance(d.get("trainer"), dict):
            d["trainer"] = TrainerConfig.from_dict(d["trainer"])
        return super().from_dict(d)

    def x_shape(self) -> tuple[int, ...]:
        """Shape of one VAE example for this transform and layout."""
        n_freq, n_frames = build_transform(self.transform).output_shape(self.n_samples)
        return (n_freq,) if self.model == "frame" else (1, n_freq, -(-n_frames // self.time_pool))

    def resolve(self) -> "AudioExperimentConfig":
        """A copy whose ``vae.x_shape`` matches the data (and whose ``trainer.name`` is ``name``)."""
        return dataclasses.replace(self, vae=self.vae.replace(x_shape=self.x_shape()),
                                   trainer=self.trainer.replace(name=self.name))

    def reuse_key(self) -> dict[str, Any]:
        """The resolved config without the fields that do not change the trained model."""
        d = self.resolve().to_dict()
        for k in COSMETIC_FIELDS:
            d["trainer"].pop(k, None)
            d.pop(k, None)
        return d


# --------------------------------------------------------------------------- data
# The notes in model space live with the audio data (helpers.audio.noteset); re-exported here.


# --------------------------------------------------------------------------- runs


@dataclass
class AudioRun:
    """A trained (or reloaded) audio VAE and where it lives."""

    config: AudioExperimentConfig
    model: AudioVAE
    run_dir: Path
    history: list[dict]
    train_seconds: float
    epochs: int
    reused: bool

    @property
    def transform(self) -> AudioTransform:
        return self.model.transform

    @property
    def vae(self):
        return self.model.vae

    def summary(self) -> dict:
        """One line of a results table: layout, transform, likelihood, epochs, time, last losses."""
        last = self.history[-1] if self.history else {}
        return {"model": self.config.model, "transform": self.config.transform.kind,
                "likelihood": f"{self.config.vae.likelihood}/{self.config.vae.scale}",
                "z_dim": self.config.vae.z_dim, "epochs": self.epochs,
                "train_s": round(self.train_seconds, 1),
                "val_loss": last.get("val_loss"), "val_rec": last.get("val_rec"), "val_kl": last.get("val_kl"),
                "run": self.run_dir.name}


def audio_data_fingerprint(config: AudioExperimentConfig, progress: bool = False) -> dict[str, str | None]:
    """Fingerprints of the sound files an experiment reads (names and bytes, see
    :func:`~helpers.training.store.files_fingerprint`), with the tree's ``metadata.csv``: the
    default rendered set is fetched first if missing."""
    from helpers.data.sol import list_audio_files

    roots = {"data_root": config.data_root, "unseen_root": config.unseen_root}
    if roots["data_root"] is None:
        from helpers.data.instruments import fetch_instruments

        roots["data_root"] = str(fetch_instruments(progress=progress))
    out: dict[str, str | None] = {}
    for name, root in roots.items():
        if root is None:
            out[name] = None
            continue
        files = list(list_audio_files(root))
        if (Path(root) / "metadata.csv").is_file():
            files.append(Path(root) / "metadata.csv")
        out[name] = files_fingerprint(files, root, progress=progress)
    return out


def audio_run_key(config: AudioExperimentConfig, progress: bool = False) -> dict:
    """The store key of an audio VAE run: the resolved experiment (cosmetic fields dropped),
    the fingerprint of the files it reads and the transform's identity."""
    config = config.resolve()
    return run_key({"experiment": config}, audio_data_fingerprint(config, progress),
                   transform={"kind": config.transform.kind, **config.transform.to_dict()})


def find_run(config: AudioExperimentConfig, run_root: str | Path | None = None,
             finished: bool = True) -> Path | None:
    """The run folder of ``config`` when it finished training (``finished=True``) or holds a
    checkpoint to resume from (``finished=False``), else None."""
    run = RunStore(run_root).open(config.name, audio_run_key(config))
    if finished:
        return run.dir if run.status == "done" else None
    return run.dir if run.status == "partial" else None


def load_audio_run(run_dir: str | Path, device: str | torch.device = "cpu") -> AudioRun:
    """Rebuild the :class:`AudioRun` saved in ``run_dir`` (model from ``checkpoints/last.pt``)."""
    run_dir = Path(run_dir)
    saved = _read_json(run_dir / EXPERIMENT_FILE)
    done = _read_json(run_dir / DONE_FILE) or {}
    if saved is None:
        raise FileNotFoundError(f"{run_dir / EXPERIMENT_FILE} is missing: not an audio VAE run")
    config = AudioExperimentConfig.from_dict(saved["config"])
    ckpt = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    vae = build_model(ckpt["config"]["model"])
    vae.load_state_dict(_weights(run_dir, config, ckpt))
    vae.to(device).eval()
    transform = build_transform(config.transform, torch.load(run_dir / TRANSFORM_FILE, weights_only=True))
    model = AudioVAE(vae, transform, config.model, config.n_samples, config.time_pool)
    _attach_density(model, config, run_dir)
    return AudioRun(config, model, run_dir, list(ckpt.get("metrics", [])), float(done.get("train_seconds", 0.0)),
                    int(ckpt.get("epoch", 0)), reused=True)


def _weights(run_dir: Path, config: AudioExperimentConfig, last: dict) -> dict:
    """The model state a run serves: ``best.pt``'s with ``restore_best`` (when it exists), else the last."""
    best = run_dir / "checkpoints" / "best.pt"
    if config.restore_best and best.is_file():
        return load_checkpoint(best)["model_state"]
    return last["model_state"]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class NoteAugment:
    """Label-keeping augmentation of training batches in model space ``[B, ..., F, T']`` (the
    transform's dB scaling, ``x = (dB - mean) / std`` with a global mean and std): a gain of
    +-``gain_db`` dB, a shift of +-``pitch_bins`` frequency bins and of +-``time_shift`` columns,
    drawn per note; whatever a shift uncovers, and anything pushed below it, is the dB floor."""

    def __init__(self, transform: AudioTransform, gain_db: float = 0.0, pitch_bins: int = 0, time_shift: int = 0):
        scaler = transform.scaler
        if scaler.scale != "db" or scaler.normalize != "global":
            raise ValueError("NoteAugment needs a transform scaled to dB with a global mean and std "
                             f"(scale={scaler.scale!r}, normalize={scaler.normalize!r})")
        self.mean, self.std = float(scaler.mean), float(scaler.std)
        self.floor = (scaler.db_floor - self.mean) / self.std
        self.gain_db, self.pitch_bins, self.time_shift = float(gain_db), int(pitch_bins), int(time_shift)

    def _shift(self, x: torch.Tensor, shifts: torch.Tensor, dim: int) -> torch.Tensor:
        out = torch.full_like(x, self.floor)
        size = x.shape[dim]
        for s in shifts.unique().tolist():
            rows = shifts == s
            src = x[rows]
            if s == 0:
                out[rows] = src
                continue
            keep = size - abs(s)
            if keep <= 0:
                continue
            part = out[rows]
            part.narrow(dim, max(s, 0), keep).copy_(src.narrow(dim, max(-s, 0), keep))
            out[rows] = part
        return out

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b = len(x)
        if self.gain_db > 0:
            gain = (2 * torch.rand(b, device=x.device) - 1) * self.gain_db / self.std
            x = (x + gain.view(b, *([1] * (x.dim() - 1)))).clamp_min(self.floor)
        if self.pitch_bins > 0:
            x = self._shift(x, torch.randint(-self.pitch_bins, self.pitch_bins + 1, (b,)), x.dim() - 2)
        if self.time_shift > 0:
            x = self._shift(x, torch.randint(-self.time_shift, self.time_shift + 1, (b,)), x.dim() - 1)
        return x


DENSITY_FILE = "density.pt"


@torch.no_grad()
def training_codes(vae, examples: torch.Tensor, max_codes: int = 20000, batch_size: int = 256) -> torch.Tensor:
    """Posterior means ``[N, z]`` of training examples (at most ``max_codes``, evenly spread)."""
    examples = examples[::max(1, -(-len(examples) // max_codes))]
    return torch.cat([vae.encode(b.to(vae.device))[0].float().cpu() for b in examples.split(batch_size)])


def _attach_density(model: AudioVAE, config: AudioExperimentConfig, run_dir: Path, examples=None) -> None:
    """Give ``model`` the sampling density of ``config`` (loaded from the run folder, or fitted on
    the codes of ``examples`` and saved there)."""
    from helpers.models.priors import density_from_state, density_state, fit_density

    if config.sample_density == "prior":
        return
    path = run_dir / DENSITY_FILE
    if path.is_file():
        model.prior = density_from_state(torch.load(path, weights_only=True))
        return
    if examples is None:
        raise FileNotFoundError(f"{path} is missing: the run's {config.sample_density} density was never fitted")
    model.prior = fit_density(config.sample_density, training_codes(model.vae, examples))
    with atomic_path(path) as tmp:
        torch.save(density_state(model.prior), tmp)


def train_audio_vae(config: AudioExperimentConfig, run_root: str | Path | None = None, reuse: bool = True,
                    data: AudioData | None = None, progress: bool | None = None) -> AudioRun:
    """Train the audio VAE of ``config``, or load the finished run of the same key.

    Args:
        config: the experiment (resolved here: ``vae.x_shape`` follows the data).
        run_root: folder of run folders; default ``$NOVELTY_RUNS_DIR`` or ``./runs``.
        reuse: load the finished run of the same key (:func:`audio_run_key`: the config, the
            bytes of the sound files, the transform) instead of training, and resume an
            interrupted one from its last checkpoint; False trains again in the same folder.
        data: prepared notes (:func:`prepare_audio_data`) to share between runs that read the
            same data; must match the config's data fields.
        progress: progress bars (default: the trainer config's ``progress``).
    """
    config = config.resolve()
    if progress is not None:
        config = dataclasses.replace(config, trainer=config.trainer.replace(progress=progress))
    run = RunStore(run_root).open(config.name, audio_run_key(config, progress=config.trainer.progress))
    if reuse and run.status == "done" and (config.sample_density == "prior" or (run.dir / DENSITY_FILE).is_file()):
        return load_audio_run(run.dir)
    if data is None:
        data = prepare_audio_data(config, progress=config.trainer.progress)
    elif data_key(data.config) != data_key(config):
        raise ValueError("the prepared data were made for other data options than this config's")
    save_json({"config": config.to_dict(), "key": config.reuse_key()}, run.dir / EXPERIMENT_FILE)
    torch.save(data.transform.state_dict(), run.dir / TRANSFORM_FILE)

    seed_everything(config.trainer.seed)  # the same initial weights for the same config
    vae = build_model(config.vae)
    callbacks = []
    if config.warmup_epochs > 0:
        callbacks.append(BetaWarmup(n_epochs=config.warmup_epochs))
    if config.time_budget_min is not None:
        callbacks.append(TimeBudget(config.time_budget_min))
    if config.tensorboard:
        callbacks.append(TensorBoardLogger(every_n_steps=0))
    augment = None
    if config.augment_gain_db or config.augment_pitch_bins or config.augment_time_shift:
        augment = NoteAugment(data.transform, config.augment_gain_db, config.augment_pitch_bins,
                              config.augment_time_shift)
    trainer = Trainer(vae, config.trainer, callbacks, run_dir=run.dir, batch_transform=augment,
                      extra_config={"audio_experiment": config.to_dict(), "run_key": run.key})
    result = fit_or_load(run, trainer, data.examples("train"),
                         data.examples("val") if len(data.x["val"]) else None, retrain=not reuse)
    if config.restore_best:
        vae.load_state_dict(_weights(run.dir, config, {"model_state": vae.state_dict()}))
    vae.to("cpu").eval()
    model = AudioVAE(vae, data.transform, config.model, config.n_samples, config.time_pool)
    _attach_density(model, config, run.dir, data.examples("train"))
    return AudioRun(config, model, run.dir, result.history, result.train_seconds, result.epochs, reused=False)
