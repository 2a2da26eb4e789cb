"""Audio decoders outside Python's model code: TorchScript export, and latent trajectories to WAV.

    python -m helpers.render MODEL_DIR trajectory.csv out.wav [--duration 4] [--n-iter 64]
    python -m helpers.render --export MODEL_DIR decoder.pt

``MODEL_DIR`` is the run folder of an audio VAE (``runs/audio-frame-...`` or ``runs/audio-note-...``).
The exported file is a TorchScript module mapping codes to magnitudes, the transform's scaling
included: ``[T, z] -> [F, T]`` for a frame model (one code per frame), ``[N, z] -> [N, F, T]`` for a
note model. The settings phase reconstruction needs (transform config, sample rate, note length,
Griffin-Lim iterations) travel inside the same file (``settings.json`` of its extra files), so a
program in C++ (libtorch) or any TorchScript runtime can decode without this package;
:func:`load_decoder` reads both back. The trajectory file holds one latent point per row (CSV,
with or without a header, or ``.npy``); a frame model's path is resampled to the frames of
``--duration`` seconds, a note model plays one note per row.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

SETTINGS = "settings.json"
FORMAT = 1


class _Decoder(nn.Module):
    """codes -> magnitudes of one audio VAE (the module that is traced)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.vae = model.vae

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.vae.decode_to_x(z)
        if self.model.kind == "frame":                       # [T, F] -> [F, T]
            return self.model.from_model(x)
        return self.model.from_model(x.reshape(-1, *self.vae.x_shape))


def settings_of(model) -> dict:
    """What decoding and phase reconstruction need besides the weights."""
    tf = model.transform
    return {"format": FORMAT, "kind": model.kind, "z_dim": int(model.z_dim), "sample_rate": int(model.sample_rate),
            "n_samples": int(model.n_samples), "n_frames": int(model.n_frames), "n_freq": int(model.n_freq),
            "transform": tf.config.to_dict(), "transform_class": type(tf).__name__,
            "gl_n_iter": int(getattr(tf.config, "gl_n_iter", 0) or 0)}


def export_decoder(model, path: str | os.PathLike) -> Path:
    """Trace ``model``'s decoder (an :class:`~helpers.models.audio.AudioVAE`, eval mode, CPU) to
    TorchScript at ``path`` (written to a temporary file, then renamed: never half written)."""
    path = Path(path)
    module = _Decoder(model).eval().cpu()
    n = 7 if model.kind == "frame" else 3  # odd sizes, so that no batch size is baked in by accident
    example = torch.randn(n, model.z_dim)
    with torch.no_grad():
        traced = torch.jit.trace(module, example, check_trace=False)
    extra = {SETTINGS: json.dumps(settings_of(model))}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.jit.save(traced, tmp, _extra_files=extra)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


@dataclass
class ScriptedDecoder:
    """An exported decoder with the attributes :func:`helpers.latent.audio.decode_trajectory` uses."""

    module: torch.jit.ScriptModule
    settings: dict
    transform: object

    @property
    def kind(self) -> str:
        return self.settings["kind"]

    @property
    def z_dim(self) -> int:
        return self.settings["z_dim"]

    @property
    def sample_rate(self) -> int:
        return self.settings["sample_rate"]

    @property
    def n_samples(self) -> int:
        return self.settings["n_samples"]

    @property
    def n_frames(self) -> int:
        return self.settings["n_frames"]

    @torch.no_grad()
    def decode(self, z: torch.Tensor, n_frames: int | None = None) -> torch.Tensor:
        z = torch.as_tensor(z, dtype=torch.float32)
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"codes of shape [N, {self.z_dim}] expected, got {tuple(z.shape)}")
        return self.module(z)


def load_decoder(path: str | os.PathLike) -> ScriptedDecoder:
    """An exported decoder and its settings (the transform rebuilt from them, for the phase
    reconstruction; its scaling is inside the TorchScript module)."""
    from .audio.transform import build_transform

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no exported decoder there")
    extra = {SETTINGS: ""}
    try:
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except RuntimeError as err:
        raise ValueError(f"{path}: not a TorchScript file ({err.__class__.__name__})") from err
    if not extra[SETTINGS]:
        raise ValueError(f"{path}: a TorchScript file without {SETTINGS}: not exported by helpers.render")
    settings = json.loads(extra[SETTINGS])
    if settings.get("format") != FORMAT:
        raise ValueError(f"{path}: export format {settings.get('format')}, this version reads {FORMAT}")
    transform = build_transform(settings["transform"])
    return ScriptedDecoder(module.eval(), settings, transform)


def read_trajectory(path: str | os.PathLike, z_dim: int | None = None) -> torch.Tensor:
    """Latent points ``[K, z_dim]`` from a CSV (comma separated, optional header line) or ``.npy``
    file; ``ValueError`` naming the file for anything else (no rows, ragged rows, text, NaN or
    infinite values, the wrong number of columns)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no trajectory file there")
    try:
        if path.suffix == ".npy":
            z = np.load(path, allow_pickle=False)
        else:
            lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
            if lines and not _numeric(lines[0]):
                lines = lines[1:]  # a header
            rows = [[float(v) for v in ln.split(",")] for ln in lines]
            if len({len(r) for r in rows}) > 1:
                raise ValueError("rows of different lengths")
            z = np.asarray(rows, dtype=np.float64)
    except (ValueError, OSError) as err:
        raise ValueError(f"{path}: not a trajectory of latent points ({err})") from err
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 1 and z.size:
        z = z[None]
    if z.ndim != 2 or not len(z):
        raise ValueError(f"{path}: expected one latent point per row, got shape {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError(f"{path}: NaN or infinite values")
    if z_dim is not None and z.shape[1] != z_dim:
        raise ValueError(f"{path}: points of {z.shape[1]} values, the model's latent space has {z_dim}")
    return torch.as_tensor(z, dtype=torch.float32)


def _numeric(line: str) -> bool:
    try:
        [float(v) for v in line.split(",")]
        return True
    except ValueError:
        return False


def render(decoder, trajectory: torch.Tensor, duration: float | None = None, n_iter: int | None = None,
           progress: bool = True) -> torch.Tensor:
    """The wave of a latent path (:func:`~helpers.latent.audio.decode_trajectory` with ``decoder``:
    an exported :class:`ScriptedDecoder` or an :class:`~helpers.models.audio.AudioVAE`)."""
    from tqdm.auto import tqdm

    from .latent.audio import decode_trajectory

    z = torch.as_tensor(trajectory, dtype=torch.float32)
    if decoder.kind == "frame" or len(z) <= 16:
        with tqdm(total=1, desc="decoding and phase reconstruction", disable=not progress) as bar:
            wave = decode_trajectory(decoder, z, duration=duration, n_iter=n_iter)
            bar.update(1)
        return wave
    # a long note sequence: one progress step per 16 notes, joined as decode_trajectory joins them
    from .latent.audio import crossfade_concat

    waves = []
    for i in tqdm(range(0, len(z), 16), desc="notes", disable=not progress):
        mags = decoder.decode(z[i:i + 16])
        waves.append(decoder.transform.synthesize(mags, n_iter=n_iter, length=decoder.n_samples))
    return crossfade_concat(torch.cat(waves), int(round(0.05 * decoder.sample_rate)))


def write_wav(wave: torch.Tensor, sample_rate: int, path: str | os.PathLike) -> Path:
    """Peak-normalised 16-bit WAV (written to a temporary file, then renamed)."""
    import soundfile as sf

    path = Path(path)
    w = np.asarray(torch.as_tensor(wave, dtype=torch.float32).reshape(-1))
    peak = float(np.abs(w).max()) if w.size else 0.0
    if peak > 0:
        w = 0.9 * w / peak
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    sf.write(str(tmp), w, int(sample_rate), subtype="PCM_16", format="WAV")
    os.replace(tmp, path)
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m helpers.render", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir", help="an audio VAE run folder, or an exported decoder file (.pt)")
    p.add_argument("trajectory", nargs="?", help="CSV or .npy of latent points (one per row)")
    p.add_argument("out", help="the WAV to write (with --export: the TorchScript file)")
    p.add_argument("--export", action="store_true", help="only export the decoder to OUT")
    p.add_argument("--duration", type=float, default=None, help="seconds (frame model; default one frame per point)")
    p.add_argument("--n-iter", type=int, default=None, help="Griffin-Lim iterations (default the transform's)")
    args = p.parse_args(argv)
    src = Path(args.model_dir)
    if args.export:
        if args.trajectory is not None:
            p.error("--export takes MODEL_DIR and OUT only")
        from .training.audio import load_audio_run

        path = export_decoder(load_audio_run(src).model, args.out)
        print(f"exported {src} -> {path}")
        return 0
    if args.trajectory is None:
        p.error("the trajectory file is missing")
    if src.is_file():
        decoder = load_decoder(src)
    else:
        from .training.audio import load_audio_run

        exported = src / "export" / "decoder.pt"
        if not exported.is_file():
            export_decoder(load_audio_run(src).model, exported)
        decoder = load_decoder(exported)
    z = read_trajectory(args.trajectory, decoder.z_dim)
    wave = render(decoder, z, duration=args.duration, n_iter=args.n_iter)
    path = write_wav(wave, decoder.sample_rate, args.out)
    print(f"{len(z)} latent points -> {path} ({len(wave) / decoder.sample_rate:.2f} s at {decoder.sample_rate} Hz)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
