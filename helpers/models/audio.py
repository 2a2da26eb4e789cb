"""The audio VAEs: the one VAE core paired with an audio transform.

Two ways to lay a magnitude spectrogram ``[F, T]`` out for the same :class:`~helpers.models.VAE`:

- ``"frame"``: every spectrum frame ``[F]`` is one example (MLP encoder/decoder). A sound of any
  length becomes a latent *trajectory*, one code per frame, and any latent path decodes to a
  sound frame by frame.
- ``"note"``: a whole one-second note, scaled and averaged over blocks of ``time_pool`` frames,
  ``[1, F, T / time_pool]``, is one example (2-D convolutional encoder/decoder). A latent point is
  a note; prior samples are whole notes.

:class:`AudioVAE` holds the VAE, the transform (with its scaling fitted on the training notes)
and the layout; it maps magnitudes to codes and codes to magnitudes. Sound comes from the
transform's phase reconstruction (``transform.synthesize``).
"""

from __future__ import annotations

import torch

from helpers.audio.datasets import from_model_space, pool_time, unpool_time
from helpers.audio.transform import AudioTransform
from helpers.models.priors import StandardNormal

MODEL_KINDS = ("frame", "note")


class AudioVAE:
    """A trained VAE seen through an audio transform (magnitudes in, magnitudes out).

    Args:
        vae: a :class:`~helpers.models.VAE` with ``x_shape`` ``(F,)`` (frame) or
            ``(1, F, ceil(n_frames / time_pool))`` (note).
        transform: the :class:`~helpers.audio.AudioTransform` whose fitted scaling maps
            magnitudes to what the VAE sees.
        kind: "frame" or "note".
        n_samples: length of one note in samples (the note model's unit of sound).
        time_pool: frames averaged into one by the note model (1 for the frame model).
        batch_size: examples per forward pass when encoding or decoding many at once.
        prior: the density :meth:`sample` draws codes from (anything with ``sample(n, generator=...,
            temperature=...)``, e.g. a :class:`~helpers.models.priors.CodeMixture` fitted on the
            training codes); None: the VAE prior N(0, I).
    """

    def __init__(self, vae, transform: AudioTransform, kind: str, n_samples: int = 22050,
                 time_pool: int = 1, batch_size: int = 4096, prior=None):
        if kind not in MODEL_KINDS:
            raise ValueError(f"kind={kind!r}: expected one of {MODEL_KINDS}")
        self.vae, self.transform, self.kind = vae.eval(), transform, kind
        self.n_samples, self.time_pool = int(n_samples), int(time_pool) if kind == "note" else 1
        self.n_freq, self.n_frames = transform.output_shape(self.n_samples)
        self.batch_size = int(batch_size)
        self.prior = prior
        expected = (self.n_freq,) if kind == "frame" else \
            (1, self.n_freq, -(-self.n_frames // self.time_pool))
        if tuple(vae.x_shape) != expected:
            raise ValueError(f"the VAE takes x_shape {tuple(vae.x_shape)}, the {kind} model of this "
                             f"transform needs {expected}")

    @property
    def z_dim(self) -> int:
        return self.vae.z_dim

    @property
    def sample_rate(self) -> int:
        return self.transform.sample_rate

    def _batched(self, fn, x: torch.Tensor) -> torch.Tensor | tuple:
        outs = [fn(x[i:i + self.batch_size]) for i in range(0, len(x), self.batch_size)]
        if isinstance(outs[0], tuple):
            return tuple(torch.cat(parts) for parts in zip(*outs))
        return torch.cat(outs)

    # ------------------------------------------------------------------ model space
    def to_model(self, magnitude: torch.Tensor) -> torch.Tensor:
        """Magnitudes ``[..., F, T]`` -> VAE inputs: frames ``[..., T, F]`` or notes ``[..., 1, F, T']``."""
        x = self.transform.scale(torch.as_tensor(magnitude, dtype=torch.float32))
        if self.kind == "frame":
            return x.transpose(-1, -2)
        if x.shape[-1] != self.n_frames:
            raise ValueError(f"the note model takes notes of {self.n_frames} frames, got {x.shape[-1]}")
        return pool_time(x, self.time_pool).unsqueeze(-3)

    def from_model(self, x: torch.Tensor, n_frames: int | None = None) -> torch.Tensor:
        """VAE outputs (frames ``[..., T, F]`` or notes ``[..., 1, F, T']``) -> magnitudes ``[..., F, T]``."""
        if self.kind == "frame":
            return self.transform.unscale(x.transpose(-1, -2))
        return from_model_space(self.transform, x.squeeze(-3), n_frames or self.n_frames)

    def scaled(self, x: torch.Tensor) -> torch.Tensor:
        """VAE outputs as a scaled ``[..., F, T]`` image (frames transposed, notes unpooled)."""
        if self.kind == "frame":
            return x.transpose(-1, -2)
        return unpool_time(x.squeeze(-3), self.n_frames)

    # ------------------------------------------------------------------ codes
    @torch.no_grad()
    def encode(self, magnitude: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x): ``[..., T, z]`` per frame (frame model) or ``[..., z]`` per note."""
        x = self.to_model(magnitude)
        shape = x.shape[:-1] if self.kind == "frame" else x.shape[:-3]
        flat = x.reshape(-1, *self.vae.x_shape).to(self.vae.device)
        mu, logvar = self._batched(self.vae.encode, flat)
        return mu.float().cpu().reshape(*shape, -1), logvar.float().cpu().reshape(*shape, -1)

    @torch.no_grad()
    def decode_model(self, z: torch.Tensor) -> torch.Tensor:
        """E[x|z] in model space: ``[..., z] -> [..., F]`` (frame) or ``[..., 1, F, T']`` (note)."""
        z = torch.as_tensor(z, dtype=torch.float32)
        flat = z.reshape(-1, z.shape[-1])
        x = self._batched(lambda b: self.vae.decode_to_x(b).float().cpu(), flat)
        return x.reshape(*z.shape[:-1], *self.vae.x_shape)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, n_frames: int | None = None) -> torch.Tensor:
        """Magnitudes of codes. Frame model: a trajectory ``[..., T, z]`` -> ``[..., F, T]``;
        note model: ``[..., z]`` -> notes ``[..., F, n_frames]``."""
        return self.from_model(self.decode_model(z), n_frames)

    @torch.no_grad()
    def reconstruct(self, magnitude: torch.Tensor) -> torch.Tensor:
        """Magnitudes decoded from the posterior means of ``magnitude``'s codes (same shape)."""
        magnitude = torch.as_tensor(magnitude, dtype=torch.float32)
        mu, _ = self.encode(magnitude)
        return self.decode(mu, magnitude.shape[-1])

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, n_frames: int | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        """Magnitudes of draws z ~ ``prior`` (N(0, I) when None; ``temperature`` scales its spread):
        ``n`` notes ``[n, F, T]`` (note model), or one steady sound ``[n, F, n_frames]`` per draw
        (frame model: the same frame repeated)."""
        prior = self.prior if self.prior is not None else StandardNormal(self.z_dim)
        z = prior.sample(n, generator=generator, temperature=temperature).float()
        if self.kind == "note":
            return self.decode(z)
        frames = n_frames or self.n_frames
        return self.decode(z.unsqueeze(1).expand(n, frames, self.z_dim))
