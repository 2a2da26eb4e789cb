"""Interactive latent explorer: sliders over latent directions, the decoded image or
spectrogram, and an audio player that updates when a slider is released.

The logic lives in :class:`LatentExplorer`, which needs no browser: ``update(values)`` decodes
and renders one point and returns what the widget would show, so it can be tested and timed.
``widget()`` wraps it in ipywidgets (sliders with ``continuous_update=False``, a "random
point" button and an "encode this file" box). A widget needs a running kernel: an exported HTML
page shows an empty area in its place, so ``show()`` also displays a static picture of the
starting point with a sentence that says so.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch


def array_to_png(image: np.ndarray, cmap: str = "magma", vmin: float | None = None,
                 vmax: float | None = None, flip_vertical: bool = False, scale: int = 1) -> bytes:
    """Render a 2-D array as PNG bytes through a matplotlib colormap (fast: no figure)."""
    from matplotlib import colormaps
    from PIL import Image

    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D, got shape {image.shape}")
    lo = float(np.nanmin(image)) if vmin is None else vmin
    hi = float(np.nanmax(image)) if vmax is None else vmax
    norm = np.clip((image - lo) / max(hi - lo, 1e-12), 0, 1)
    if flip_vertical:
        norm = norm[::-1]
    rgb = (colormaps[cmap](norm)[..., :3] * 255).astype(np.uint8)
    pil = Image.fromarray(rgb)
    if scale != 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def wave_to_wav_bytes(wave: np.ndarray, sample_rate: int) -> bytes:
    """16-bit WAV bytes of a mono wave, peak-normalised to 0.9 (silence stays silent)."""
    import soundfile as sf

    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    wave = np.nan_to_num(wave)
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    if peak > 0:
        wave = 0.9 * wave / peak
    buf = io.BytesIO()
    sf.write(buf, wave, int(sample_rate), format="WAV", subtype="PCM_16")
    return buf.getvalue()


#: CSS classes of the widget's parts (``widget()``): the whole explorer, each slider, the picture,
#: the audio player and the line that reports the update time
CSS = {"box": "latent-explorer", "slider": "latent-explorer-slider", "image": "latent-explorer-image",
       "audio": "latent-explorer-audio", "info": "latent-explorer-info"}


@dataclass
class ExplorerState:
    """What one update produced: the latent point, the picture, the sound and the time it took."""

    values: np.ndarray
    z: torch.Tensor
    png: bytes
    wav: bytes | None
    seconds: float
    timings: dict = field(default_factory=dict)


class LatentExplorer:
    """Move through a latent space along ``basis`` directions from ``origin``.

    Parameters
    ----------
    decode: maps ``z [1, latent_dim]`` to what is shown (an image ``[H, W]`` or a magnitude
        spectrogram ``[F, T]``), as a tensor or array.
    latent_dim: size of z.
    basis: ``[latent_dim, n_sliders]`` directions (e.g. principal axes of the codes of a data
        set, scaled by their standard deviations); default: the first ``n_sliders`` latent axes.
    origin: the point where all sliders are 0 (default: the origin, the prior's mean).
    to_audio: maps the decoded output to a mono wave (e.g. the transform's phase
        reconstruction with few iterations for live use); ``None`` for images.
    encode_file: maps a sound file path to a latent vector (for the "encode this file" box).
    """

    def __init__(self, decode: Callable, latent_dim: int, basis: torch.Tensor | None = None,
                 origin: torch.Tensor | None = None, n_sliders: int = 8, slider_range: float = 3.0,
                 to_audio: Callable | None = None, sample_rate: int = 22050,
                 encode_file: Callable | None = None, cmap: str = "magma", flip_vertical: bool = False,
                 image_scale: int = 1, vmin: float | None = None, vmax: float | None = None):
        if basis is None:
            n_sliders = min(int(n_sliders), int(latent_dim))
            basis = torch.eye(latent_dim)[:, :n_sliders]
        basis = torch.as_tensor(basis, dtype=torch.float32)
        if basis.dim() != 2 or basis.shape[0] != latent_dim:
            raise ValueError(f"basis must be [latent_dim={latent_dim}, n_sliders], got {tuple(basis.shape)}")
        self.decode, self.to_audio, self.encode_file_fn = decode, to_audio, encode_file
        self.latent_dim, self.basis = int(latent_dim), basis
        self.origin = torch.zeros(latent_dim) if origin is None else torch.as_tensor(origin, dtype=torch.float32)
        if self.origin.shape != (latent_dim,):
            raise ValueError(f"origin must be [latent_dim={latent_dim}], got {tuple(self.origin.shape)}")
        self.slider_range, self.sample_rate = float(slider_range), int(sample_rate)
        self.render_kw = dict(cmap=cmap, flip_vertical=flip_vertical, scale=image_scale, vmin=vmin, vmax=vmax)
        self.values = np.zeros(basis.shape[1], dtype=np.float32)
        self.state: ExplorerState | None = None
        self._ui = None

    @property
    def n_sliders(self) -> int:
        return self.basis.shape[1]

    def z_from_values(self, values) -> torch.Tensor:
        """The latent point ``origin + basis @ values``."""
        values = torch.as_tensor(np.asarray(values, dtype=np.float32))
        if values.shape != (self.n_sliders,):
            raise ValueError(f"expected {self.n_sliders} slider values, got shape {tuple(values.shape)}")
        return self.origin + self.basis @ values

    def values_from_z(self, z: torch.Tensor) -> np.ndarray:
        """Least-squares slider values of a latent point (its coordinates in the basis)."""
        z = torch.as_tensor(z, dtype=torch.float32).reshape(-1) - self.origin
        sol = torch.linalg.lstsq(self.basis, z.unsqueeze(1)).solution.squeeze(1)
        return sol.clamp(-self.slider_range, self.slider_range).numpy()

    @torch.no_grad()
    def update(self, values=None) -> ExplorerState:
        """Decode the point at ``values`` (default: the current ones), render it, and return it."""
        if values is not None:
            self.values = np.asarray(values, dtype=np.float32).reshape(-1)
        start = time.perf_counter()
        z = self.z_from_values(self.values)
        decoded = self.decode(z.unsqueeze(0))
        decoded = decoded.detach().cpu().numpy() if torch.is_tensor(decoded) else np.asarray(decoded)
        decoded = np.squeeze(decoded)
        t_decode = time.perf_counter()
        wav = None
        if self.to_audio is not None:
            wave = self.to_audio(decoded)
            wave = wave.detach().cpu().numpy() if torch.is_tensor(wave) else np.asarray(wave)
            wav = wave_to_wav_bytes(wave, self.sample_rate)
        t_audio = time.perf_counter()
        png = array_to_png(decoded, **self.render_kw)
        end = time.perf_counter()
        self.state = ExplorerState(self.values.copy(), z, png, wav, end - start,
                                   {"decode": t_decode - start, "audio": t_audio - t_decode,
                                    "render": end - t_audio})
        self._push_to_ui()
        return self.state

    def random_point(self, generator: torch.Generator | None = None) -> ExplorerState:
        """Jump to slider values drawn from N(0, 1), clipped to the slider range."""
        values = torch.randn(self.n_sliders, generator=generator).clamp(-self.slider_range, self.slider_range)
        return self.update(values.numpy())

    def encode_file(self, path: str) -> ExplorerState:
        """Jump to the slider values closest to the code of a sound file."""
        if self.encode_file_fn is None:
            raise RuntimeError("this explorer was built without encode_file")
        z = self.encode_file_fn(path)
        return self.update(self.values_from_z(z))

    def snapshot(self, values=None) -> bytes:
        """PNG of the point at ``values`` (default: every slider at 0, the origin), as the widget
        first shows it; the explorer is left at that point."""
        return self.update(np.zeros(self.n_sliders) if values is None else values).png

    def static_view(self, what: str = "the decoded image") -> tuple[str, bytes]:
        """``(sentence, png)`` for readers without a kernel: the starting point of the explorer."""
        png = self.snapshot()
        text = (f"*Static picture of the starting point* (every slider at 0): {what} that the explorer "
                f"below first shows. Moving the sliders needs a live Python kernel (JupyterLab or Jupyter "
                f"Notebook running this notebook); in an exported HTML page the explorer stays empty.")
        return text, png

    def show(self, slider_labels: list[str] | None = None, what: str = "the decoded image") -> None:
        """Display the static picture of :meth:`static_view`, then the live widget."""
        from IPython.display import Image, Markdown, display

        text, png = self.static_view(what)
        display(Markdown(text), Image(data=png, format="png"))
        display(self.widget(slider_labels))

    # ---------------------------------------------------------------- widgets
    def widget(self, slider_labels: list[str] | None = None):
        """The ipywidgets UI; sliders update on release. Its parts carry CSS classes (:data:`CSS`) that
        a browser test (or a stylesheet) can find them by."""
        import ipywidgets as w

        labels = slider_labels or [f"axis {i}" for i in range(self.n_sliders)]
        sliders = [w.FloatSlider(value=float(v), min=-self.slider_range, max=self.slider_range, step=0.05,
                                 description=lab, continuous_update=False) for v, lab in zip(self.values, labels)]
        image = w.Image(format="png")
        audio = w.Audio(format="wav", autoplay=False, loop=False) if self.to_audio is not None else None
        info = w.Label()
        random_button = w.Button(description="random point")
        path_box = w.Text(placeholder="path/to/sound.wav", description="file")
        encode_button = w.Button(description="encode this file", disabled=self.encode_file_fn is None)
        self._ui = dict(sliders=sliders, image=image, audio=audio, info=info, busy=False)

        def on_slider(_change):
            if not self._ui["busy"]:
                self.update([s.value for s in sliders])

        for s in sliders:
            s.observe(on_slider, names="value")
        random_button.on_click(lambda _b: self.random_point())

        def on_encode(_b):
            try:
                self.encode_file(path_box.value)
            except (OSError, ValueError, RuntimeError) as err:
                info.value = f"could not encode {path_box.value!r}: {err}"

        encode_button.on_click(on_encode)
        self.update()
        right = [image] + ([audio] if audio is not None else []) + [info]
        controls = w.VBox(sliders + [random_button, w.HBox([path_box, encode_button])])
        box = w.HBox([controls, w.VBox(right)])
        for part, name in ((box, "box"), (image, "image"), (audio, "audio"), (info, "info")):
            if part is not None:
                part.add_class(CSS[name])
        for s in sliders:
            s.add_class(CSS["slider"])
        return box

    def _push_to_ui(self) -> None:
        ui, state = self._ui, self.state
        if ui is None or state is None:
            return
        ui["busy"] = True
        try:
            for s, v in zip(ui["sliders"], state.values):
                s.value = float(v)
        finally:
            ui["busy"] = False
        ui["image"].value = state.png
        if ui["audio"] is not None and state.wav is not None:
            ui["audio"].value = state.wav
        ui["info"].value = f"updated in {1000 * state.seconds:.0f} ms"
