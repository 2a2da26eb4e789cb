"""Latent codes of sounds, and sounds of latent paths, through an audio VAE.

- :func:`load_sound`: any sound file (any length, any sample rate, stereo mixed to mono) as a
  mono wave at the model's rate.
- :func:`encode_wave` / :func:`encode_file`: the frame model gives one code per spectrum frame,
  a latent *trajectory* ``[T, z]``; the note model one code per second (the sound is cut into
  note-long segments, the last one zero-padded), ``[S, z]``.
- :func:`decode_trajectory`: any latent path to sound through the transform's phase
  reconstruction. Frame model: the path is resampled to the frame rate of the requested
  duration and decoded frame by frame, so a path morphs continuously; note model: every point
  is a note, and the notes are joined with crossfades (:func:`crossfade_concat`).
- :func:`reconstruct_wave`: encode and decode a sound (its length is kept).

``model`` is always an :class:`~helpers.models.audio.AudioVAE`.
"""

from __future__ import annotations

import os

import numpy as np
import torch


@torch.no_grad()
def data_codes(model, data, part: str = "train", per_note: bool = True, max_frames: int = 20000) -> torch.Tensor:
    """Posterior means of a part of an :class:`~helpers.training.audio.AudioData` set.

    Note model: one code per note ``[N, z]``. Frame model: the mean of each note's frame codes
    ``[N, z]`` (``per_note=True``), or the codes of the frames themselves, at most
    ``max_frames`` of them evenly spread (``per_note=False``).
    """
    x = data.x[part]
    vae = model.vae
    if model.kind == "note":
        return torch.cat([vae.encode(b.to(vae.device))[0].float().cpu()
                          for b in data.examples(part).split(256)])
    frames = x.transpose(-1, -2)  # [N, T', F]
    if per_note:
        return torch.stack([vae.encode(f.to(vae.device))[0].float().cpu().mean(0) for f in frames])
    flat = frames.reshape(-1, frames.shape[-1])
    flat = flat[::max(1, len(flat) // max_frames)]
    return torch.cat([vae.encode(b.to(vae.device))[0].float().cpu() for b in flat.split(4096)])


def load_sound(path: str | os.PathLike, sample_rate: int) -> torch.Tensor:
    """Mono float32 ``[n]`` at ``sample_rate`` (channels averaged, resampled), full length."""
    from helpers.data.sol import load_waveform

    return load_waveform(path, sample_rate)


def _segments(wave: torch.Tensor, n_samples: int) -> torch.Tensor:
    n_seg = max(1, -(-len(wave) // n_samples))
    padded = torch.nn.functional.pad(wave, (0, n_seg * n_samples - len(wave)))
    return padded.view(n_seg, n_samples)


@torch.no_grad()
def encode_wave(model, wave: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Posterior means of a mono wave: ``[T, z]`` (frame model, one per frame) or ``[S, z]``
    (note model, one per ``model.n_samples`` segment)."""
    wave = torch.as_tensor(np.asarray(wave, dtype=np.float32)).reshape(-1)
    if model.kind == "frame":
        if len(wave) < model.transform.min_samples():
            wave = torch.nn.functional.pad(wave, (0, model.transform.min_samples() - len(wave)))
        return model.encode(model.transform.analyze(wave))[0]
    return model.encode(model.transform.analyze(_segments(wave, model.n_samples)))[0]


def encode_file(model, path: str | os.PathLike) -> torch.Tensor:
    """:func:`encode_wave` of a sound file read with :func:`load_sound`."""
    return encode_wave(model, load_sound(path, model.sample_rate))


def resample_path(z: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` points along the piecewise-linear path through the rows of ``z`` (ends kept)."""
    z = torch.as_tensor(z, dtype=torch.float32)
    if z.dim() != 2:
        raise ValueError(f"z must be [n_points, z_dim], got shape {tuple(z.shape)}")
    if len(z) == n:
        return z
    if len(z) == 1:
        return z.expand(n, -1).clone()
    return torch.nn.functional.interpolate(z.T.unsqueeze(0), size=int(n), mode="linear",
                                           align_corners=True)[0].T


def frame_hop_seconds(model) -> float:
    """Seconds between two frames of the transform (for one note)."""
    return model.n_samples / model.n_frames / model.sample_rate


def crossfade_concat(waves: torch.Tensor, crossfade: int) -> torch.Tensor:
    """Join ``[K, n]`` waves end to start, overlapping ``crossfade`` samples with linear fades."""
    waves = torch.as_tensor(waves, dtype=torch.float32)
    k, n = waves.shape
    crossfade = int(min(max(crossfade, 0), n // 2))
    hop = n - crossfade
    out = torch.zeros(hop * (k - 1) + n)
    ramp = torch.linspace(0, 1, crossfade + 2)[1:-1] if crossfade else torch.zeros(0)
    for i, w in enumerate(waves):
        w = w.clone()
        if crossfade and i > 0:
            w[:crossfade] *= ramp
        if crossfade and i < k - 1:
            w[n - crossfade:] *= ramp.flip(0)
        out[i * hop:i * hop + n] += w
    return out


@torch.no_grad()
def decode_trajectory(model, z: torch.Tensor, duration: float | None = None, n_iter: int | None = None,
                      note_seconds: float | None = None, crossfade: float = 0.05,
                      return_magnitude: bool = False):
    """Sound of a latent path ``z [K, z_dim]`` (phase reconstruction with ``n_iter`` iterations,
    default the transform's).

    Frame model: the path is resampled to the frames of ``duration`` seconds (default: one
    frame per point) and decoded frame by frame. Note model: every point becomes a note,
    cut to ``note_seconds`` (default the whole note) and joined with ``crossfade`` seconds of
    overlap. ``return_magnitude=True`` also returns the decoded magnitude ``[F, T]`` (frame
    model) or notes ``[K, F, T]`` (note model).
    """
    z = torch.as_tensor(z, dtype=torch.float32)
    if z.dim() == 1:
        z = z.unsqueeze(0)
    transform, sr = model.transform, model.sample_rate
    if model.kind == "frame":
        if duration is None:
            length = max(transform.min_samples(), int(round(len(z) * frame_hop_seconds(model) * sr)))
        else:
            length = max(transform.min_samples(), int(round(duration * sr)))
        n_frames = transform.output_shape(length)[1]
        magnitude = model.decode(resample_path(z, n_frames))
        wave = transform.synthesize(magnitude, n_iter=n_iter, length=length)
        return (wave, magnitude) if return_magnitude else wave
    magnitude = model.decode(z)
    waves = torch.cat([transform.synthesize(magnitude[i:i + 16], n_iter=n_iter, length=model.n_samples)
                       for i in range(0, len(magnitude), 16)])
    if note_seconds is not None:
        waves = waves[:, :max(1, int(round(note_seconds * sr)))]
    wave = crossfade_concat(waves, int(round(crossfade * sr)))
    return (wave, magnitude) if return_magnitude else wave


@torch.no_grad()
def reconstruct_wave(model, wave: torch.Tensor | np.ndarray, n_iter: int | None = None) -> torch.Tensor:
    """Encode and decode a mono wave; the result has the same number of samples."""
    wave = torch.as_tensor(np.asarray(wave, dtype=np.float32)).reshape(-1)
    z = encode_wave(model, wave)
    transform = model.transform
    if model.kind == "frame":
        length = max(len(wave), transform.min_samples())
        return transform.synthesize(model.decode(z), n_iter=n_iter, length=length)[:len(wave)]
    waves = transform.synthesize(model.decode(z), n_iter=n_iter, length=model.n_samples)
    return waves.reshape(-1)[:len(wave)]


@torch.no_grad()
def reconstruct_magnitudes(model, magnitude: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """Decoded posterior means of full-resolution magnitudes ``[N, F, T]`` (or one ``[F, T]``),
    ``batch_size`` notes at a time; same shape as the input."""
    magnitude = torch.as_tensor(magnitude, dtype=torch.float32)
    single = magnitude.dim() == 2
    batch = magnitude.unsqueeze(0) if single else magnitude
    out = torch.cat([model.reconstruct(b) for b in batch.split(batch_size)])
    return out[0] if single else out


@torch.no_grad()
def reconstruct_magnitude_wave(model, magnitude: torch.Tensor, n_iter: int | None = None) -> torch.Tensor:
    """The sound of a note's reconstruction: decode the magnitude ``[F, T]`` and run the phase
    reconstruction (``n_iter`` iterations, default the transform's); ``[model.n_samples]``."""
    recon = reconstruct_magnitudes(model, magnitude)
    return model.transform.synthesize(recon, n_iter=n_iter, length=model.n_samples)


def write_stereo_pair(a, b, sample_rate: int, path: str | os.PathLike | None = None, out_rate: int = 44100) -> str:
    """A stereo test file at ``out_rate`` from two mono notes ``a`` and ``b`` at ``sample_rate``:
    left a, b, then half of a; right 0.5 b, a, then half of b (2.5 note lengths). Written
    atomically as 16-bit WAV to ``path`` (default: a new temporary folder); returns the path."""
    import tempfile

    import soundfile as sf

    import torchaudio.functional as AF

    from helpers.data.fetch_utils import atomic_path

    a, b = (AF.resample(torch.as_tensor(np.asarray(w, dtype=np.float32)), int(sample_rate), int(out_rate)).numpy()
            for w in (a, b))
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    left = np.concatenate([a, b, a[: n // 2]])
    right = np.concatenate([0.5 * b, a, b[: n // 2]])
    stereo = np.clip(np.stack([left, right], axis=1), -1, 1)
    if path is None:
        path = os.path.join(tempfile.mkdtemp(), "two_notes_stereo_44k.wav")
    with atomic_path(path) as tmp:
        sf.write(str(tmp), stereo, out_rate, format="WAV", subtype="PCM_16")
    return str(path)
