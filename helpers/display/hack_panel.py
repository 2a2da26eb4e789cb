"""Live hacking in the latent explorer: a panel that corrupts or bends the decoder while you listen.

The panel sits beside a :class:`~helpers.display.explorer.LatentExplorer` (images or notes): pick a
weight corruption (:mod:`helpers.hacking.corrupt`) or a network bend (:mod:`helpers.hacking.bend`),
the decoder layer it acts on and its amount; every change decodes the explorer's current point
through the hacked decoder, shows and plays it, and reads it with a judge (in-class,
out-of-class and noise probability of what is on screen). Moving the explorer's latent sliders
keeps the hack.

The model is never modified, nor hooked: a corruption acts on a deep copy of the *decoder only* (a
:class:`DecoderView` that names its layers as the whole VAE does, so the same
:class:`~helpers.hacking.Corruption` draws the same noise here as on the whole model, at a third of
the copying cost), made once per change of the hack, not per latent move; a bend hooks one private
copy of the decoder, from the change that chooses it to the next (so "cluster" bends cluster the
channels once, not at every latent move).

As the explorer, the logic needs no browser: :meth:`HackPanel.set` changes the hack and returns the
explorer's new state, so tests and :func:`time_hack_updates` drive it from Python; :meth:`HackPanel.widget`
wraps it in ipywidgets.

>>> panel = hack_panel(note_model, codes=codes, judge=judge)       # or an MNIST VAE
>>> panel.set(method="bend:translate", layer="decoder.net.2", amount=0.2)
>>> panel.describe()        # 'bend:translate on decoder.net.2, amount 0.2 | in-class 0.71, ...'
>>> panel.show()            # static picture and sound, then the live explorer and panel
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import time

import numpy as np
import torch
import torch.nn as nn

from helpers.display.explorer import LatentExplorer
from helpers.hacking import BEND_OPS, CORRUPTIONS, Bend, Corruption, bend, bendable_layers, corrupt, weight_layers
from helpers.hacking.bend import SPATIAL_OPS

__all__ = ["AMOUNTS", "DecoderView", "HackPanel", "hack_panel", "time_hack_updates", "time_updates", "methods"]

#: methods :func:`time_updates` times by default: a noise and a unit corruption, a numerical and
#: a spatial bend
TIMED_METHODS = ("corrupt:gaussian", "corrupt:ablate", "bend:scale", "bend:translate")

#: slider range and default of each method's amount: (min, max, step, default)
AMOUNTS = {
    "corrupt:gaussian": (0.0, 3.0, 0.05, 0.5),          # noise std in units of the layer's weight std
    "corrupt:gaussian_abs": (0.0, 0.5, 0.01, 0.05),     # absolute noise std (weights are ~0.01-0.1)
    "corrupt:multiplicative": (0.0, 3.0, 0.05, 0.5),
    "corrupt:zero": (0.0, 1.0, 0.01, 0.3),               # fractions of weights or units
    "corrupt:ablate": (0.0, 1.0, 0.01, 0.3),
    "corrupt:sign_flip": (0.0, 1.0, 0.01, 0.2),
    "corrupt:permute": (0.0, 1.0, 0.01, 0.3),
    "bend:ablate": (0.0, 1.0, 0.05, 1.0),
    "bend:invert": (0.0, 1.0, 0.05, 1.0),
    "bend:scale": (-4.0, 4.0, 0.05, 2.0),
    "bend:threshold": (-2.0, 2.0, 0.05, 0.5),
    "bend:flip": (0.0, 1.0, 1.0, 1.0),                   # no amount
    "bend:translate": (-0.5, 0.5, 0.01, 0.2),            # share of the map's size
    "bend:rotate": (-180.0, 180.0, 5.0, 45.0),           # degrees
    "bend:erode": (0.0, 4.0, 1.0, 1.0),                  # filter radius
    "bend:dilate": (0.0, 4.0, 1.0, 1.0),
    "bend:zoom": (0.25, 4.0, 0.05, 1.5),                 # factor
}


def methods() -> list[str]:
    """``"none"``, ``"corrupt:<kind>"`` for every corruption and ``"bend:<op>"`` for every bend."""
    return ["none"] + [f"corrupt:{k}" for k in CORRUPTIONS] + [f"bend:{op}" for op in BEND_OPS]


class DecoderView(nn.Module):
    """The decoding half of a VAE: its ``decoder`` (and output distribution) under the same names,
    with ``decode``, ``decode_to_x``, ``x_shape``, ``z_dim`` and ``device``, sharing the VAE's
    modules. :func:`~helpers.hacking.corrupt` copies and corrupts it as it would the whole VAE
    (same layer names, same noise) without copying the encoder."""

    def __init__(self, vae: nn.Module):
        super().__init__()
        self.decoder = vae.decoder
        self.likelihood = vae.likelihood
        self.x_shape, self.z_dim = tuple(vae.x_shape), int(vae.z_dim)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    @torch.no_grad()
    def decode_to_x(self, z: torch.Tensor, mean: bool = True, generator: torch.Generator | None = None) -> torch.Tensor:
        """E[x|z] (as :meth:`helpers.models.VAE.decode_to_x`)."""
        params = self.decode(z.to(self.device))
        return self.likelihood.mean(params) if mean else self.likelihood.sample(params, generator)


def _is_audio(model) -> bool:
    return hasattr(model, "transform") and hasattr(model, "vae")


class HackPanel:
    """A hack (none, a corruption or a bend) applied to the decoder of an explorer's model.

    Args:
        model: a :class:`~helpers.models.VAE` (images) or an :class:`~helpers.models.audio.AudioVAE`.
        explorer: the explorer to drive; its ``decode`` is replaced by the panel's (which
            decodes through the hack). None: one is built (:func:`hack_panel`).
        judge: a :class:`~helpers.evaluation.judges.Judge` reading every output (None: no scores).
        codes: reference codes for bends with ``channels="cluster"``: the channels are clustered
            (k-means, :func:`~helpers.hacking.channel_clusters`) on the activations of a seeded
            random ``cluster_codes`` of them, once per change of the bend (about 0.2 s of CPU for
            32 codes on the note model's 1024-unit layer; latent moves do not re-cluster).
        cluster_codes: how many codes the clustering reads.

    Attributes:
        method, layer, amount, channels, fraction, seed: the current hack (see :meth:`set`).
        output: the last decoded output (image ``[H, W]``, or the note's scaled spectrogram).
        scores: the judge's reading of it: ``in_class``, ``out_of_class``, ``noise`` (probability
            sums over the groups and the noise class) and ``top`` (most probable class).
        timings: seconds of the last change: ``hack`` (copying and corrupting, or clustering and
            hooking), ``judge``.

    The original model is never hooked nor copied whole: corruptions act on fresh copies of its
    decoder, bends on one private copy made here (their hooks stay on that copy while the bend
    is chosen, so a latent move costs one decode).
    """

    def __init__(self, model, explorer: LatentExplorer, judge=None, codes: torch.Tensor | None = None,
                 cluster_codes: int = 32):
        self.model, self.audio, self.judge = model, _is_audio(model), judge
        self.vae = model.vae if self.audio else model
        self.explorer = explorer
        self.codes = None if codes is None else torch.as_tensor(codes, dtype=torch.float32)
        self._cluster_z = None
        if self.codes is not None:
            pick = torch.randperm(len(self.codes), generator=torch.Generator().manual_seed(0))[:int(cluster_codes)]
            self._cluster_z = self.codes[pick]
        self._view = DecoderView(self.vae)
        self._private = self._as_model(copy.deepcopy(self._view).eval())    # the decoder copy bends hook
        self._glue = getattr(explorer, "glue", None)
        if self.audio and self._glue is None:
            raise ValueError("explorer: an audio model needs an explorer from helpers.display.audio_explorer")
        z0 = torch.zeros(1, self.vae.z_dim)
        self.weight_layers = weight_layers(self._view, part="decoder")
        self.layer_shapes = bendable_layers(self.vae, z0)
        self.method, self.layer, self.amount = "none", None, 0.0
        self.channels, self.fraction, self.seed = "all", 0.5, 0
        self._hacked = None          # what decodes under the hack (a corrupted or bent DecoderView, or its wrapper)
        self._bent = None            # the open bend context on the private copy
        self._spec = None
        self.output, self.scores, self.timings = None, {}, {}
        self._ui = None
        explorer.decode = self.decode

    # ------------------------------------------------------------------ the hack
    def layers(self, method: str | None = None) -> list[str]:
        """The layers ``method`` can act on: weight layers for corruptions; for bends every decoder
        module, and for the spatial ones only those whose output has a map (not just channels)."""
        method = self.method if method is None else method
        if method == "none":
            return []
        family, op = method.split(":")
        if family == "corrupt":
            return list(self.weight_layers)
        if op in SPATIAL_OPS:
            return [n for n, s in self.layer_shapes.items() if len(s) > 2]
        return list(self.layer_shapes)

    def spec(self) -> Corruption | Bend | None:
        """The current hack as the config :mod:`helpers.hacking` takes (None for "none")."""
        if self.method == "none":
            return None
        family, op = self.method.split(":")
        if family == "corrupt":
            return Corruption(op, self.amount, pattern=f"^{re.escape(self.layer)}$", part="decoder", seed=self.seed)
        return Bend(self.layer, op, self.amount, channels=self.channels, fraction=self.fraction, seed=self.seed)

    def set(self, method: str | None = None, layer: str | None = None, amount: float | None = None,
            channels: str | None = None, fraction: float | None = None, seed: int | None = None):
        """Change the hack and update the explorer at its current point; returns the explorer's state.

        ``method``: ``"none"``, ``"corrupt:<kind>"`` or ``"bend:<op>"`` (:func:`methods`). A new
        method keeps the layer when it can act on it (else takes the last layer it can) and, given
        no ``amount``, takes the method's default (:data:`AMOUNTS`). Bad values raise
        ``ValueError`` naming the parameter and leave the hack as it was.
        """
        old = (self.method, self.layer, self.amount, self.channels, self.fraction, self.seed)
        if method is not None:
            if method not in methods():
                raise ValueError(f"method={method!r}: expected one of {methods()}")
            if method != self.method and amount is None:
                amount = AMOUNTS[method][3] if method != "none" else 0.0
            self.method = method
        try:
            options = self.layers()
            if layer is not None:
                if layer not in options:
                    raise ValueError(f"layer={layer!r}: {self.method} acts on {options}")
                self.layer = layer
            elif self.method != "none" and self.layer not in options:
                if not options:
                    raise ValueError(f"method={self.method!r}: no decoder layer of this model has a feature map")
                self.layer = options[-1]
            if amount is not None:
                self.amount = float(amount)
            if channels is not None:
                if channels == "cluster" and self.codes is None:
                    raise ValueError("channels='cluster' needs the panel's codes (k-means of the channels)")
                self.channels = channels
            if fraction is not None:
                self.fraction = float(fraction)
            if seed is not None:
                self.seed = int(seed)
            start = time.perf_counter()
            spec = self.spec()                                    # validates amount, channels, fraction
            hacked, bent = None, None
            if isinstance(spec, Corruption):
                hacked = self._as_model(corrupt(self._view, spec))
            elif isinstance(spec, Bend):
                bent = contextlib.ExitStack()
                hacked = bent.enter_context(bend(self._private, spec, z_reference=self._cluster_z))
        except (ValueError, TypeError):
            self.method, self.layer, self.amount, self.channels, self.fraction, self.seed = old
            raise
        if self._bent is not None:
            self._bent.close()
        self._hacked, self._bent, self._spec = hacked, bent, spec
        self.timings = {"hack": time.perf_counter() - start}
        self._push_controls()
        return self.explorer.update()

    def _as_model(self, view: DecoderView):
        """A decoder view as the model it stands for: itself for images, an AudioVAE holding it for audio."""
        if not self.audio:
            return view
        wrapper = copy.copy(self.model)
        wrapper.vae = view
        return wrapper

    def close(self) -> None:
        """Remove the hooks of the current bend from the private copy (the hack becomes "none")."""
        if self._bent is not None:
            self._bent.close()
        self._hacked, self._bent, self._spec, self.method = None, None, None, "none"

    # ------------------------------------------------------------------ decoding
    def _decode_plain(self, model, z: torch.Tensor):
        if self.audio:
            glue = copy.copy(self._glue)
            glue.model = model
            return glue.decode(z)
        x = model.decode_to_x(z)[0]
        return x.reshape(x.shape[-2:]) if x.dim() > 2 else x

    @torch.no_grad()
    def decode(self, z: torch.Tensor):
        """What the explorer shows for ``z [1, D]`` under the current hack (the explorer's ``decode``);
        the judge reads it here too."""
        z = torch.as_tensor(z, dtype=torch.float32).reshape(1, -1)
        out = self._decode_plain(self.model if self._hacked is None else self._hacked, z)
        self.output = out
        start = time.perf_counter()
        self.scores = self.read(out)
        self.timings["judge"] = time.perf_counter() - start
        self._push_scores()
        return out

    def read(self, output) -> dict:
        """The judge's reading of one output: probability sums of the in-class and out-of-class groups,
        of the noise class, and the most probable class (``{}`` without a judge)."""
        if self.judge is None:
            return {}
        x = torch.as_tensor(np.asarray(output), dtype=torch.float32)
        if self.audio:
            x = self._glue.magnitude(x)
        probs = self.judge.scores(x.unsqueeze(0), progress=False)[0][0]
        top = int(probs.argmax())
        noise = self.judge.noise_index
        return {"in_class": float(probs[self.judge.in_index].sum()),
                "out_of_class": float(probs[self.judge.out_index].sum()) if self.judge.out_index else 0.0,
                "noise": float(probs[noise]) if noise is not None else 0.0,
                "top": self.judge.classes[top], "top_p": float(probs[top])}

    def describe(self) -> str:
        """One line: the hack and the judge's reading."""
        hack = "no hack" if self.method == "none" else f"{self.method} on {self.layer}, amount {self.amount:g}"
        if not self.scores:
            return hack
        s = self.scores
        return (f"{hack} | in-class {s['in_class']:.2f}, out-of-class {s['out_of_class']:.2f}, "
                f"noise {s['noise']:.2f} | top: {s['top']} ({s['top_p']:.2f})")

    # ------------------------------------------------------------------ widgets
    def widget(self, slider_labels: list[str] | None = None):
        """The explorer's widget with the hack controls and the judge's reading below it."""
        import ipywidgets as w

        method = w.Dropdown(options=methods(), value=self.method, description="hack")
        layer = w.Dropdown(options=self.layers() or ["-"], description="layer")
        lo, hi, step, _ = AMOUNTS.get(self.method, (0.0, 1.0, 0.01, 0.0))
        amount = w.FloatSlider(value=self.amount, min=lo, max=hi, step=step, description="amount",
                               continuous_update=False)
        channels = w.Dropdown(options=["all", "random"] + (["cluster"] if self.codes is not None else []),
                              value=self.channels, description="channels")
        fraction = w.FloatSlider(value=self.fraction, min=0.05, max=1.0, step=0.05, description="fraction",
                                 continuous_update=False)
        seed = w.IntText(value=self.seed, description="seed")
        reading = w.HTML()
        self._ui = dict(method=method, layer=layer, amount=amount, channels=channels, fraction=fraction, seed=seed,
                        reading=reading, busy=False)

        def changed(name):
            def on_change(change):
                if self._ui["busy"]:
                    return
                try:
                    value = change["new"]
                    self.set(**{name: None if value == "-" else value})
                except ValueError as err:
                    reading.value = f"<b>not applied</b>: {err}"
                    self._push_controls()
            return on_change

        for name in ("method", "layer", "amount", "channels", "fraction", "seed"):
            self._ui[name].observe(changed(name), names="value")
        explorer_ui = self.explorer.widget(slider_labels)
        self._push_controls()
        self._push_scores()
        controls = w.VBox([method, layer, amount, w.HBox([channels, fraction]), seed])
        return w.VBox([explorer_ui, w.HBox([controls, reading])])

    def show(self, slider_labels: list[str] | None = None, what: str = "the decoded output") -> None:
        """Display what stays readable without a kernel (the explorer's current point under the
        current hack, with its sound for audio, and the judge's reading), then the live explorer
        with the hack panel."""
        from IPython.display import Image, Markdown, display

        if self.audio:
            from helpers.display.audio_explorer import explorer_snapshot

            self.explorer.update()
            hack = self.describe().split(" | ")[0]
            caption, fig, player = explorer_snapshot(self.explorer, title=f"explorer: {hack}")
            display(caption, fig, player)
        else:
            self.explorer.update()
            display(Markdown(f"*Static picture of {what} at the explorer's current point*; the sliders below "
                             "need a running kernel."), Image(data=self.explorer.state.png, format="png"))
        display(Markdown(f"*Hack and judge at this point*: {self.describe()}."))
        display(self.widget(slider_labels))

    def _push_controls(self) -> None:
        ui = self._ui
        if ui is None:
            return
        ui["busy"] = True
        try:
            ui["method"].value = self.method
            ui["layer"].options = self.layers() or ["-"]
            ui["layer"].value = self.layer if self.layer in self.layers() else ui["layer"].options[0]
            lo, hi, step, _ = AMOUNTS.get(self.method, (0.0, 1.0, 0.01, 0.0))
            ui["amount"].min, ui["amount"].max = -1e9, 1e9              # no clipping while the range moves
            ui["amount"].min, ui["amount"].max, ui["amount"].step = lo, hi, step
            ui["amount"].value = self.amount
            ui["channels"].value, ui["fraction"].value, ui["seed"].value = self.channels, self.fraction, self.seed
            bending = self.method.startswith("bend:")
            ui["channels"].disabled = not bending
            ui["fraction"].disabled = not bending or self.channels != "random"
        finally:
            ui["busy"] = False

    def _push_scores(self) -> None:
        if self._ui is None:
            return
        ms = 1000 * sum(self.timings.values())
        self._ui["reading"].value = f"{self.describe()}<br><small>hack and judge: {ms:.0f} ms</small>"


def hack_panel(model, codes: torch.Tensor | None = None, judge=None, explorer: LatentExplorer | None = None,
               n_sliders: int = 8, live_n_iter: int | None = None, slider_range: float = 3.0,
               cluster_codes: int = 32) -> HackPanel:
    """The latent explorer of ``model`` with a hack panel.

    Args:
        model: a :class:`~helpers.models.VAE` on images or an :class:`~helpers.models.audio.AudioVAE`.
        codes: posterior means of a data set: the sliders follow their principal axes from their
            mean (:func:`~helpers.latent.basis.principal_basis`); also the reference for bends of a
            channel cluster. None: the first latent axes from the origin.
        judge: reads every output (in-class, out-of-class, noise).
        explorer: an explorer to drive instead of a new one (its ``decode`` is replaced).
        live_n_iter: the audio explorer's Griffin-Lim iterations per update.
        cluster_codes: codes the channel clustering of "cluster" bends reads (:class:`HackPanel`).
    """
    if explorer is None:
        if _is_audio(model):
            from helpers.display.audio_explorer import audio_explorer

            explorer = audio_explorer(model, codes=codes, n_sliders=n_sliders, live_n_iter=live_n_iter,
                                      slider_range=slider_range)
        else:
            from helpers.latent.basis import principal_basis

            origin = basis = None
            if codes is not None:
                origin, basis = principal_basis(codes, n_sliders)
            explorer = LatentExplorer(lambda z: z, model.z_dim, basis=basis, origin=origin, n_sliders=n_sliders,
                                      slider_range=slider_range, cmap="gray", vmin=0.0, vmax=1.0, image_scale=8)
    return HackPanel(model, explorer, judge=judge, codes=codes, cluster_codes=cluster_codes)


class _Clock:
    """Wall-clock and process CPU milliseconds of timed calls. On a busy shared machine the wall
    time includes the waits for a core; the CPU time is what the update itself costs (about its
    wall time on an idle core, with one torch thread)."""

    def __init__(self):
        self.wall, self.cpu = [], []

    def __call__(self, fn, *args, **kwargs):
        w, c = time.perf_counter(), time.process_time()
        out = fn(*args, **kwargs)
        self.wall.append(1000 * (time.perf_counter() - w))
        self.cpu.append(1000 * (time.process_time() - c))
        return out

    def summary(self, name: str, skip: int = 0) -> dict:
        wall, cpu = self.wall[skip:], self.cpu[skip:]
        return {f"{name}_ms_median": float(np.median(wall)), f"{name}_ms_p95": float(np.percentile(wall, 95)),
                f"{name}_cpu_ms_median": float(np.median(cpu))}


def time_hack_updates(panel: HackPanel, method: str, layer: str | None = None, amounts=None, n_updates: int = 20,
                      seed: int = 0, clip: float = 2.0) -> dict:
    """Latency of the panel with ``method`` on ``layer`` (default: its last layer): ``n_updates``
    moves of the latent sliders without a hack (the explorer's own update, with the judge: the
    baseline ``no_hack``), ``n_updates`` changes of the amount (each: a new hack, decode, judge,
    phase reconstruction, PNG and WAV), then ``n_updates`` moves of the latent sliders under the
    hack (standard normal values clipped to +-``clip``), after one warm-up of each.

    Returns the median and 95th percentile of the wall time (ms) of each kind of update and the
    median of its process CPU time (``*_cpu_ms_median``: what it costs without waiting for a
    core), the median of the parts of an amount change (wall), the torch threads and the load
    average. The panel is left without a hack, at the origin."""
    if n_updates < 1:
        raise ValueError(f"n_updates={n_updates}: need at least one update")
    explorer = panel.explorer
    lo, hi, _, default = AMOUNTS[method]
    amounts = list(np.linspace(lo, hi, n_updates + 1)[1:]) if amounts is None else list(amounts)
    random_values = lambda g: torch.randn(explorer.n_sliders, generator=g).clamp(-clip, clip).numpy()  # noqa: E731
    panel.set(method="none")
    g = torch.Generator().manual_seed(seed)
    baseline = _Clock()
    for _ in range(n_updates + 1):                                         # the first is a warm-up
        baseline(explorer.update, random_values(g))
    explorer.update(np.zeros(explorer.n_sliders, dtype=np.float32))
    panel.set(method=method, layer=layer, amount=default)                  # warm-up
    change, parts = _Clock(), {"hack": [], "decode": [], "judge": [], "audio": [], "render": []}
    for a in amounts[:n_updates]:
        state = change(panel.set, amount=float(a))
        parts["hack"].append(1000 * panel.timings["hack"])
        parts["judge"].append(1000 * panel.timings.get("judge", 0.0))
        for k in ("audio", "render"):
            parts[k].append(1000 * state.timings[k])
        parts["decode"].append(1000 * state.timings["decode"] - parts["judge"][-1])
    panel.set(amount=default)
    g = torch.Generator().manual_seed(seed)
    move = _Clock()
    for _ in range(n_updates):
        move(explorer.update, random_values(g))
    layer_used = panel.layer
    panel.set(method="none")
    explorer.update(np.zeros(explorer.n_sliders, dtype=np.float32))
    return {"method": method, "layer": layer_used, "updates": n_updates, "torch_threads": torch.get_num_threads(),
            "load_average_1min": os.getloadavg()[0], **baseline.summary("no_hack", skip=1),
            **change.summary("amount_change"), **move.summary("latent_move"),
            **{f"{k}_ms_median": float(np.median(v)) for k, v in parts.items()}}


def time_updates(model, judge=None, codes: torch.Tensor | None = None, methods: tuple[str, ...] = TIMED_METHODS,
                 n_updates: int = 20, seed: int = 0, target_ms: float = 100.0, live_n_iter: int | None = None) -> dict:
    """The benchmark of the hack panel: a panel over ``model`` (with ``judge`` and ``codes`` as
    :func:`hack_panel`), and :func:`time_hack_updates` for every method of ``methods`` that has a
    layer to act on (spatial bends need feature maps), on its last layer. JSON-ready:
    ``{"methods": {method: timings}, "worst_median_ms", "worst_p95_ms", "within_target", ...}``,
    where the worst is over methods and over both kinds of update (amount change, latent move);
    ``worst_cpu_median_ms`` and ``within_target_cpu`` read the process CPU time instead of the wall
    time (on a busy machine the wall time includes the waits for a core)."""
    panel = hack_panel(model, codes=codes, judge=judge, live_n_iter=live_n_iter)
    results = {m: time_hack_updates(panel, m, n_updates=n_updates, seed=seed) for m in methods if panel.layers(m)}
    if not results:
        raise ValueError(f"methods={methods!r}: none of them has a layer of this model to act on")
    kinds = ("amount_change", "latent_move")
    worst = max(r[f"{k}_ms_median"] for r in results.values() for k in kinds)
    worst_p95 = max(r[f"{k}_ms_p95"] for r in results.values() for k in kinds)
    worst_cpu = max(r[f"{k}_cpu_ms_median"] for r in results.values() for k in kinds)
    return {"target_ms": target_ms, "updates": n_updates, "judge": judge is not None,
            "live_n_iter": getattr(getattr(panel.explorer, "glue", None), "live_n_iter", None),
            "torch_threads": torch.get_num_threads(), "load_average_1min": os.getloadavg()[0],
            "worst_median_ms": worst, "worst_p95_ms": worst_p95, "worst_cpu_median_ms": worst_cpu,
            "within_target": bool(worst <= target_ms), "within_target_cpu": bool(worst_cpu <= target_ms),
            "methods": results}
