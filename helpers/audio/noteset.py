"""The notes of an audio experiment in model space: read, split, scaled and laid out.

    data = prepare_audio_data(config)       # config: helpers.training.audio.AudioExperimentConfig
    data.examples("train")                  # what the VAE trains on (frames or whole notes)
    data.part("val")                        # labels of the held-out notes
    data.magnitudes("unseen", rows)         # full-resolution spectra, from the spectra cache

Any SOL-style tree works (the rendered set, TinySOL, OrchideaSOL, acidsInstruments): its notes
are listed with :func:`helpers.data.splits.note_table` (instrument names made canonical,
``metadata.csv`` columns joined), split with :func:`helpers.data.splits.note_splits` (the
tree's ``train/`` folder, or a seeded per-instrument held-out split when it has none; unseen
instruments by name or from a second tree; or one SoundFont left out) and analysed through the
spectra cache, which reads every file through the project's one waveform loader
(:func:`helpers.data.sol.load_waveform`: any rate, channels and bit depth).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from helpers.audio.cache import file_fingerprints
from helpers.audio.datasets import frames, iter_spectra, load_spectra, notes, to_model_space
from helpers.audio.transform import AudioTransform, build_transform

if TYPE_CHECKING:  # the config class lives with the training code; only its data fields are read here
    from helpers.training.audio import AudioExperimentConfig

PARTS = ("train", "val", "unseen")
#: the config fields that :func:`prepare_audio_data` depends on
DATA_FIELDS = ("model", "transform", "data_root", "unseen_root", "unseen_instruments", "soundfonts",
               "holdout_soundfont", "val_fraction", "split_seed", "instruments", "dynamics", "max_per_instrument",
               "n_samples", "frame_stride", "time_pool")


@dataclass
class AudioData:
    """The notes of an experiment in model space.

    ``labels``: one row per note with a ``part`` column ("train", "val", "unseen");
    ``x[part]``: scaled ``[N, F, T']`` (every ``frame_stride``-th frame, or frames pooled by
    ``time_pool``); ``transform``: with the scaling fitted on the "train" part only.
    """

    config: "AudioExperimentConfig"
    labels: pd.DataFrame
    transform: AudioTransform
    x: dict[str, torch.Tensor]
    n_frames: int
    chunk: int = 128

    def part(self, name: str) -> pd.DataFrame:
        """Labels of one part, in the row order of ``x[name]``."""
        return self.labels[self.labels["part"] == name].reset_index(drop=True)

    def examples(self, name: str) -> torch.Tensor:
        """What the VAE trains on: frames ``[N * T', F]`` or notes ``[N, 1, F, T']``."""
        x = self.x[name]
        return frames(x) if self.config.model == "frame" else notes(x)

    def magnitudes(self, name: str, rows: list[int] | np.ndarray | None = None) -> torch.Tensor:
        """Full-resolution magnitudes ``[n, F, T]`` of a part (or of some of its rows), from the
        spectra cache."""
        paths = self.part(name)["path"].tolist()
        wanted = np.arange(len(paths)) if rows is None else np.asarray(rows, dtype=np.int64)
        if not len(wanted):
            return torch.zeros(0, *self.transform.output_shape(self.config.n_samples))
        return load_spectra([paths[int(i)] for i in wanted], self.transform, chunk=self.chunk,
                            n_samples=self.config.n_samples)

    def waves(self, name: str, rows) -> torch.Tensor:
        """The notes' waveforms ``[n, n_samples]`` (mono, at the transform's rate), read by the
        same loader as the spectra."""
        from helpers.data.sol import load_waveform

        paths = self.part(name)["path"].tolist()
        return torch.stack([load_waveform(paths[int(i)], self.transform.sample_rate, self.config.n_samples)
                            for i in rows])

    def fingerprint(self) -> str:
        """Hex SHA-256 (20 digits) of the data actually used: the data fields of the config, every
        note's file (resolved path, size, modification time) and the part it is in."""
        files = file_fingerprints(self.labels["path"].tolist())
        blob = json.dumps({"data": data_key(self.config), "files": files, "parts": self.labels["part"].tolist()},
                          sort_keys=True, separators=(",", ":"), default=float)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]


def data_key(config: "AudioExperimentConfig") -> dict[str, Any]:
    """The config fields that :func:`prepare_audio_data` depends on (:data:`DATA_FIELDS`)."""
    d = config.to_dict()
    return {k: d[k] for k in DATA_FIELDS}


def note_parts(config: "AudioExperimentConfig", progress: bool = True) -> pd.DataFrame:
    """The note table of ``config`` with its ``part`` column, rows ordered train, val, unseen.

    Reads names, folders and ``metadata.csv`` only (no audio): the rendered set when
    ``config.data_root`` is None (fetched when missing), else that tree, plus
    ``config.unseen_root``; filters ``instruments``, ``dynamics``, ``soundfonts`` and
    ``max_per_instrument``; parts from :func:`helpers.data.splits.note_splits` with
    ``unseen_instruments`` and, when ``holdout_soundfont`` is set, that SoundFont's notes of the
    training instruments as the evaluation part.
    """
    from helpers.data.splits import note_splits, note_table

    root = config.data_root
    if root is None:
        from helpers.data.instruments import fetch_instruments

        root = fetch_instruments(progress=progress)
    table = note_table(root, instruments=config.instruments or None, dynamics=config.dynamics or None,
                       max_per_instrument=config.max_per_instrument, soundfonts=config.soundfonts or None,
                       unseen_root=config.unseen_root)
    holdout = {"soundfont": config.holdout_soundfont} if config.holdout_soundfont else None
    parts = note_splits(table, config.val_fraction, config.split_seed, unseen_instruments=config.unseen_instruments,
                        holdout=holdout)
    table["part"] = ""
    for name, rows in parts.items():
        table.loc[rows, "part"] = name
    return pd.concat([table[table["part"] == name] for name in PARTS]).reset_index(drop=True)


def prepare_audio_data(config: "AudioExperimentConfig", progress: bool = True, chunk: int = 128) -> AudioData:
    """Read (through the spectra cache), split, scale and lay out the notes of ``config``.

    The parts come from :func:`note_parts` (by default a stratified 10% of every training
    instrument held out; the unseen instruments apart); the transform's scaling is fitted on the
    training part only.
    """
    table = note_parts(config, progress)
    transform = build_transform(config.transform)
    train_paths = table.loc[table["part"] == "train", "path"].tolist()
    transform.fit_scaling(iter_spectra(train_paths, transform, chunk=chunk, n_samples=config.n_samples,
                                       progress=progress))
    if config.model == "frame":
        def reduce(m):
            return transform.scale(m[..., ::config.frame_stride])
    else:
        def reduce(m):
            return to_model_space(transform, m, config.time_pool)
    x = {}
    for name in PARTS:
        paths = table.loc[table["part"] == name, "path"].tolist()
        x[name] = load_spectra(paths, transform, reduce, chunk=chunk, n_samples=config.n_samples) if paths \
            else torch.zeros(0, *transform.output_shape(config.n_samples))
    n_frames = transform.output_shape(config.n_samples)[1]
    return AudioData(config, table, transform, x, n_frames, chunk)
