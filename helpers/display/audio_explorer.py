"""The latent explorer (:class:`~helpers.display.explorer.LatentExplorer`) for an audio VAE.

Sliders move along the principal axes of the codes of a data set (each slider unit is one
standard deviation along its axis, from the mean code); every update decodes the point to a
one-second spectrogram, shows it (scaled, low frequencies at the bottom) and plays it after a
*cheap* phase reconstruction (``live_n_iter`` Griffin-Lim iterations from the phase-vocoder
start) so that an update stays within about 100 ms; :func:`export_wave` renders the current
point again with the full reconstruction.

The frame model has no notion of time inside a code: its point is one spectrum frame, held for
one second (a steady tone).
"""

from __future__ import annotations

import numpy as np
import torch

from helpers.display.explorer import LatentExplorer
from helpers.latent.basis import principal_basis

#: Griffin-Lim iterations for live updates, per transform: the most that keeps decode +
#: reconstruction of one second under 100 ms on a 2-core CPU (benchmarks/audio_vae.py).
LIVE_N_ITER = {"stft": 16, "nsgt": 2}


class AudioExplorerGlue:
    """Decode and sound functions of an audio VAE in the form :class:`LatentExplorer` takes."""

    def __init__(self, model, live_n_iter: int | None = None, export_n_iter: int | None = None):
        self.model = model
        kind = model.transform.config.kind
        self.live_n_iter = LIVE_N_ITER.get(kind, 8) if live_n_iter is None else int(live_n_iter)
        self.export_n_iter = export_n_iter

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z [1, z_dim]`` -> the scaled spectrogram ``[F, T]`` of one second (what is shown)."""
        model = self.model
        x = model.decode_model(torch.as_tensor(z, dtype=torch.float32).reshape(1, -1))
        if model.kind == "frame":
            return x.reshape(-1, 1).expand(-1, model.n_frames)
        return model.scaled(x)[0]

    def magnitude(self, scaled) -> torch.Tensor:
        return self.model.transform.unscale(torch.as_tensor(np.asarray(scaled), dtype=torch.float32))

    @torch.no_grad()
    def to_audio(self, scaled, n_iter: int | None = None) -> torch.Tensor:
        """Scaled spectrogram -> one second of sound (``live_n_iter`` iterations by default)."""
        n_iter = self.live_n_iter if n_iter is None else n_iter
        return self.model.transform.synthesize(self.magnitude(scaled), n_iter=n_iter, length=self.model.n_samples)

    def encode_file(self, path) -> torch.Tensor:
        """One code for a sound file: the note model's code of its first second; for the frame
        model, the code of its loudest frame."""
        from helpers.latent.audio import encode_wave, load_sound

        wave = load_sound(path, self.model.sample_rate)
        z = encode_wave(self.model, wave)
        if self.model.kind == "note":
            return z[0]
        energy = self.model.transform.analyze(wave).pow(2).sum(0)
        return z[int(torch.argmax(energy[:len(z)]))]


def audio_explorer(model, codes: torch.Tensor | None = None, n_sliders: int = 8, live_n_iter: int | None = None,
                   export_n_iter: int | None = None, slider_range: float = 3.0) -> LatentExplorer:
    """A :class:`LatentExplorer` over an audio VAE.

    Args:
        model: an :class:`~helpers.models.audio.AudioVAE`.
        codes: posterior means of a data set; the sliders follow their principal axes from
            their mean. None: the first latent axes from the origin.
        live_n_iter: Griffin-Lim iterations per update (default :data:`LIVE_N_ITER`).
        export_n_iter: iterations of :func:`export_wave` (default: the transform's own).
    """
    glue = AudioExplorerGlue(model, live_n_iter, export_n_iter)
    basis = origin = None
    if codes is not None:
        origin, basis = principal_basis(codes, n_sliders)
    scaled_range = model.transform.scale(torch.tensor([0.0, 1e9]))  # the floor and a loud value
    explorer = LatentExplorer(glue.decode, model.z_dim, basis=basis, origin=origin, n_sliders=n_sliders,
                              slider_range=slider_range, to_audio=glue.to_audio, sample_rate=model.sample_rate,
                              encode_file=glue.encode_file, flip_vertical=True,
                              vmin=float(scaled_range[0]), image_scale=1)
    explorer.glue = glue
    return explorer


def export_wave(explorer: LatentExplorer, values=None) -> torch.Tensor:
    """The sound of the explorer's current point (or of ``values``) with the full phase reconstruction."""
    glue = explorer.glue
    z = explorer.z_from_values(explorer.values if values is None else values)
    return glue.to_audio(glue.decode(z.unsqueeze(0)), n_iter=glue.export_n_iter if glue.export_n_iter is not None
                         else glue.model.transform.config.gl_n_iter)


def time_updates(explorer: LatentExplorer, n_updates: int = 50, seed: int = 0, clip: float = 2.0) -> dict:
    """Latency of ``n_updates`` explorer updates at random slider values (standard normal, clipped
    to +-``clip``), after one warm-up update at the origin: median and 95th percentile (ms) of
    decode + phase reconstruction (the live sound) and of the whole update (with PNG and WAV
    encoding). The loop of ``benchmarks/audio_vae.py`` and of notebook 03."""
    if n_updates < 1:
        raise ValueError(f"n_updates={n_updates}: need at least one update")
    g = torch.Generator().manual_seed(seed)
    explorer.update(np.zeros(explorer.n_sliders, dtype=np.float32))  # warm-up (caches, allocator)
    live, total = [], []
    for _ in range(n_updates):
        state = explorer.update(torch.randn(explorer.n_sliders, generator=g).clamp(-clip, clip).numpy())
        live.append(1000 * (state.timings["decode"] + state.timings["audio"]))
        total.append(1000 * state.seconds)
    explorer.update(np.zeros(explorer.n_sliders, dtype=np.float32))  # leave it at the origin
    return {"live_n_iter": explorer.glue.live_n_iter, "updates": n_updates,
            "decode_and_phase_ms_median": float(np.median(live)),
            "decode_and_phase_ms_p95": float(np.percentile(live, 95)),
            "update_ms_median": float(np.median(total)), "update_ms_p95": float(np.percentile(total, 95))}


def plot_explorer_state(explorer: LatentExplorer, ax=None, title: str | None = None):
    """The spectrogram of the explorer's current point with its frequency and time axes and a
    dB colour scale (what the live widget shows as a bare image); returns the Axes."""
    from helpers.display.audio import plot_spectrogram

    glue = explorer.glue
    if explorer.state is None:
        explorer.update()
    model = glue.model
    magnitude = glue.magnitude(glue.decode(explorer.state.z.reshape(1, -1)))
    times = np.asarray(model.transform.frame_times(model.n_samples))
    times = times if len(times) == magnitude.shape[-1] else None
    return plot_spectrogram(magnitude, model.transform.frequencies(), times, ax=ax, title=title)


def explorer_snapshot(explorer: LatentExplorer, title: str = "explorer, first state"):
    """Outputs that stay readable in an exported page (no kernel): a caption saying that the
    sliders need a live kernel, the spectrogram of the current point and its (peak-normalised)
    sound. Returns ``(markdown, figure, audio player)`` for ``IPython.display.display``."""
    import matplotlib.pyplot as plt
    from IPython.display import Audio, Markdown

    fig, ax = plt.subplots(figsize=(8, 3.2))
    plot_explorer_state(explorer, ax=ax, title=title)
    fig.tight_layout()
    plt.close(fig)
    values = ", ".join(f"{v:+.1f}" for v in explorer.values)
    caption = Markdown(f"*Static snapshot of the explorer's current state* (sliders at {values}): the sliders above "
                       "need a running kernel (JupyterLab or Jupyter Notebook); a page exported to HTML shows only "
                       "this picture and this sound (peak-normalised, live phase reconstruction).")
    return caption, fig, Audio(explorer.state.wav, autoplay=False)
