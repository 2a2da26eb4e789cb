"""Network bending (Broad, Leymarie & Grierson, 2021, "Network bending: expressive manipulation of
deep generative models"): transforms inserted into the decoder's forward pass as removable
forward hooks, so that the weights are never touched and every bend is undone on exit.

Numerical transforms act on any activation (Broad et al., Sec. 3.1), each on the chosen channels:

    ablate     x (1 - amount)                  amount 1 silences the channels
    invert     x + amount (1 - 2x)             amount 1 is the paper's 1 - x
    scale      amount x
    threshold  1 where x >= amount, else 0     the paper's binary threshold

Spatial transforms act on feature maps (Sec. 3.2): 2-D maps of image decoders (``[B, C, H, W]``)
and the 1-D maps of the audio decoders (a :class:`~helpers.models.networks.FrameDecoder`'s
``[B, T, C]`` over time, a Conv1d's ``[B, C, L]``):

    flip       reverse the map along ``axis``
    translate  shift by ``amount`` times the map's size along ``axis`` (zeros come in)
    rotate     rotate by ``amount`` degrees about the centre (2-D maps only)
    erode      min-filter of width 2 round(amount) + 1
    dilate     max-filter of width 2 round(amount) + 1
    zoom       scale by the factor ``amount`` about the centre (> 1 zooms in)

Channels: "all", a seeded "random" fraction, or one "cluster" of a k-means over the channels'
activation maps for reference codes (:func:`channel_clusters`, as in network bending, Sec. 4).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from helpers.models.config import Config

from .corrupt import WEIGHT_MODULES, _as_module

BEND_OPS = ("ablate", "invert", "scale", "threshold", "flip", "translate", "rotate", "erode", "dilate", "zoom")
SPATIAL_OPS = ("flip", "translate", "rotate", "erode", "dilate", "zoom")
CHANNEL_MODES = ("all", "random", "cluster")
AXES = ("x", "y", "both")


@dataclass
class Bend(Config):
    """One transform of one decoder layer's output.

    Attributes:
        layer: a module name, as :func:`bendable_layers` lists them ("decoder.net.0"; the
            "decoder." prefix may be left out).
        op: one of :data:`BEND_OPS` (see the module docstring for what ``amount`` means to each).
        amount: strength of the transform. 1.0 makes ablate and invert the paper's operations.
        channels: "all", "random" (a ``fraction`` of the channels, drawn with ``seed``) or
            "cluster" (the channels of cluster ``cluster`` among ``n_clusters``).
        fraction: share of channels for "random" (at least one channel).
        cluster, n_clusters: which k-means cluster, out of how many (:func:`channel_clusters`).
        seed: seeds the random channels and the k-means.
        axis: spatial transforms on 2-D maps: "x" (width, the last axis), "y" (height) or "both"
            (flip and translate); 1-D maps have only "x".
    """

    layer: str
    op: str
    amount: float = 1.0
    channels: str = "all"
    fraction: float = 0.5
    cluster: int = 0
    n_clusters: int = 4
    seed: int = 0
    axis: str = "x"

    def __post_init__(self):
        if self.op not in BEND_OPS:
            raise ValueError(f"op={self.op!r}: expected one of {BEND_OPS}")
        if self.channels not in CHANNEL_MODES:
            raise ValueError(f"channels={self.channels!r}: expected one of {CHANNEL_MODES}")
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction={self.fraction}: expected a share in (0, 1]")
        if self.n_clusters < 1 or not 0 <= self.cluster < self.n_clusters:
            raise ValueError(f"cluster={self.cluster}, n_clusters={self.n_clusters}: "
                             f"expected 0 <= cluster < n_clusters")
        if self.axis not in AXES:
            raise ValueError(f"axis={self.axis!r}: expected one of {AXES}")
        self.amount = float(self.amount)
        if self.op == "zoom" and self.amount <= 0:
            raise ValueError(f"amount={self.amount}: zoom needs a factor > 0")


@dataclass
class BendChain(Config):
    """Bends applied together (in order where they share a layer); saved and reloaded as JSON."""

    bends: list = field(default_factory=list)

    def __post_init__(self):
        self.bends = [Bend.from_dict(b) if isinstance(b, dict) else b for b in self.bends]
        for b in self.bends:
            if not isinstance(b, Bend):
                raise TypeError(f"bends: expected Bend objects or dicts, got {type(b).__name__}")

    def to_dict(self) -> dict[str, Any]:
        return {"bends": [b.to_dict() for b in self.bends]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BendChain:
        unknown = sorted(set(d) - {"bends"})
        if unknown:
            raise ValueError(f"BendChain: unknown field(s) {unknown}; known: ['bends']")
        return cls([Bend.from_dict(b) for b in d.get("bends", [])])


def _as_bends(spec) -> list[Bend]:
    if isinstance(spec, Bend):
        return [spec]
    if isinstance(spec, BendChain):
        return list(spec.bends)
    if isinstance(spec, (list, tuple)):
        return BendChain(list(spec)).bends
    raise TypeError(f"spec: expected a Bend, a BendChain or a list of Bends, got {type(spec).__name__}")


# ------------------------------------------------------------------------------ layers


def _decoder_modules(module: nn.Module) -> dict[str, nn.Module]:
    """Every module under ``module.decoder`` except containers, by full name, in registration order."""
    decoder = getattr(module, "decoder", None)
    if not isinstance(decoder, nn.Module):
        raise ValueError("model: has no .decoder module to bend")
    return {f"decoder.{n}": m for n, m in decoder.named_modules() if n and not isinstance(m, nn.Sequential)}


def _resolve_layer(modules: dict[str, nn.Module], layer: str) -> str:
    for name in (layer, f"decoder.{layer}"):
        if name in modules:
            return name
    raise ValueError(f"layer={layer!r} is not a decoder module; bendable: {list(modules)}")


def _channels_last(modules: dict[str, nn.Module], name: str) -> bool:
    """Where the channels of ``name``'s output lie: last for a Linear (an MLP's units; the
    frame decoder's ``[B, T, C]``), first after the batch for a convolution. Other modules
    (activations, blocks) take the layout of the nearest weight layer before them, or in them."""
    names = list(modules)
    inside = [m for n, m in modules.items() if n.startswith(name + ".") and isinstance(m, WEIGHT_MODULES)]
    candidates = [modules[name]] + inside + [modules[n] for n in reversed(names[:names.index(name)])]
    for m in candidates:
        if isinstance(m, WEIGHT_MODULES):
            return isinstance(m, nn.Linear)
    return True


def _canonical(y: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """Output -> ``[B, C, *map]``."""
    return y.movedim(-1, 1) if channels_last and y.dim() > 2 else y


def _restore(y: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return y.movedim(1, -1) if channels_last and y.dim() > 2 else y


def bendable_layers(model, z: torch.Tensor) -> dict[str, tuple]:
    """The decoder's modules (containers left out) and the shapes of their outputs for codes ``z``,
    in forward order: ``{"decoder.net.0": (N, 512), ...}``."""
    module = _as_module(model)
    modules = _decoder_modules(module)
    shapes: dict[str, tuple] = {}

    def record(name):
        def hook(mod, inputs, output):
            if isinstance(output, torch.Tensor) and name not in shapes:
                shapes[name] = tuple(output.shape)
        return hook

    handles = [m.register_forward_hook(record(n)) for n, m in modules.items()]
    try:
        with torch.no_grad():
            module.decode(torch.as_tensor(z, dtype=torch.float32).to(next(module.parameters()).device))
    finally:
        for h in handles:
            h.remove()
    return shapes


def _activations(module: nn.Module, name: str, z: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """The output of layer ``name`` for codes ``z`` as ``[N, C, *map]``."""
    modules = _decoder_modules(module)
    out = []
    handle = modules[name].register_forward_hook(lambda m, i, o: out.append(o.detach()))
    try:
        with torch.no_grad():
            module.decode(torch.as_tensor(z, dtype=torch.float32).to(next(module.parameters()).device))
    finally:
        handle.remove()
    return _canonical(out[0], channels_last).float()


def _kmeans(points: torch.Tensor, k: int, seed: int, n_iter: int = 50) -> torch.Tensor:
    """Lloyd's k-means with k-means++ seeding (Arthur & Vassilvitskii, 2007); no cluster left empty."""
    n = len(points)
    g = torch.Generator().manual_seed(seed)
    centres = [points[torch.randint(n, (1,), generator=g).item()]]
    for _ in range(1, k):
        d2 = torch.cdist(points, torch.stack(centres)).pow(2).min(1).values
        probs = d2 / d2.sum() if d2.sum() > 0 else torch.full((n,), 1.0 / n)
        centres.append(points[torch.multinomial(probs, 1, generator=g).item()])
    centres = torch.stack(centres)
    labels = torch.full((n,), -1, dtype=torch.long)
    for _ in range(n_iter):
        dist = torch.cdist(points, centres)
        new = dist.argmin(1)
        for j in range(k):  # an empty cluster takes the point farthest from its centre in a cluster of several
            if not (new == j).any():
                counts = torch.bincount(new, minlength=k)
                movable = counts[new] > 1
                far = torch.where(movable, dist.gather(1, new[:, None])[:, 0], torch.tensor(-1.0))
                new[far.argmax()] = j
        if torch.equal(new, labels):
            break
        labels = new
        centres = torch.stack([points[labels == j].mean(0) for j in range(k)])
    return labels


def channel_clusters(model, layer: str, z: torch.Tensor, n_clusters: int, seed: int = 0) -> torch.Tensor:
    """Cluster index of every channel of ``layer``, ``LongTensor [C]``: k-means over the channels'
    activation maps for the codes ``z`` (each channel one point of ``N * prod(map)`` values), as
    network bending groups the features of a layer (Broad et al., 2021, Sec. 4)."""
    module = _as_module(model)
    modules = _decoder_modules(module)
    name = _resolve_layer(modules, layer)
    acts = _activations(module, name, z, _channels_last(modules, name))
    n_channels = acts.shape[1]
    if not 1 <= n_clusters <= n_channels:
        raise ValueError(f"n_clusters={n_clusters}: layer {name} has {n_channels} channels")
    points = acts.movedim(1, 0).reshape(n_channels, -1)
    return _kmeans(points, n_clusters, seed)


# ------------------------------------------------------------------------------ transforms


def _shift(x: torch.Tensor, shift: int, dim: int) -> torch.Tensor:
    """Translate along ``dim`` by ``shift`` elements, zeros coming in."""
    n = x.shape[dim]
    if shift == 0:
        return x
    if abs(shift) >= n:
        return torch.zeros_like(x)
    idx = torch.arange(n, device=x.device)
    keep = ((idx - shift >= 0) & (idx - shift < n)).to(x.dtype)
    shape = [1] * x.dim()
    shape[dim] = n
    return torch.roll(x, shift, dim) * keep.view(shape)


def _affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample ``[B, C, H, W]`` through the affine map ``theta`` (output -> input, normalised coordinates)."""
    grid = F.affine_grid(theta.to(x.dtype).expand(len(x), 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _spatial(x: torch.Tensor, bend: Bend, name: str) -> torch.Tensor:
    """A spatial transform of ``[B, C, *map]`` with a 1-D or 2-D map."""
    n_map = x.dim() - 2
    if n_map not in (1, 2):
        raise ValueError(f"op={bend.op!r} acts on feature maps; layer {name} gives {tuple(x.shape)} "
                         f"(channels only): use ablate, invert, scale or threshold there")
    if n_map == 1 and bend.axis != "x":
        raise ValueError(f"axis={bend.axis!r}: the 1-D maps of layer {name} have only the axis 'x'")
    dims = {"x": [-1], "y": [-2], "both": [-2, -1]}[bend.axis]
    a = bend.amount
    if bend.op == "flip":
        return x.flip(dims)
    if bend.op == "translate":
        for d in dims:
            x = _shift(x, int(round(a * x.shape[d])), d)
        return x
    if bend.op in ("erode", "dilate"):
        r = max(0, int(round(a)))
        if r == 0:
            return x
        pool = F.max_pool1d if n_map == 1 else F.max_pool2d
        sign = 1 if bend.op == "dilate" else -1
        return sign * pool(sign * x, 2 * r + 1, stride=1, padding=r)
    if bend.op == "rotate":
        if n_map == 1:
            raise ValueError(f"op='rotate' needs a 2-D feature map; layer {name} gives 1-D maps {tuple(x.shape)}")
        h, w = x.shape[-2:]
        t = math.radians(a)
        theta = torch.tensor([[math.cos(t), -math.sin(t) * h / w, 0.0],
                              [math.sin(t) * w / h, math.cos(t), 0.0]], device=x.device)
        return _affine(x, theta[None])
    # zoom
    if n_map == 1:
        theta = torch.tensor([[[1 / a, 0.0, 0.0], [0.0, 1.0, 0.0]]], device=x.device)
        return _affine(x.unsqueeze(-2), theta).squeeze(-2)
    theta = torch.tensor([[[1 / a, 0.0, 0.0], [0.0, 1 / a, 0.0]]], device=x.device)
    return _affine(x, theta)


def apply_op(x: torch.Tensor, bend: Bend, name: str = "?") -> torch.Tensor:
    """``bend.op`` on a canonical ``[B, C, *map]`` activation (all channels)."""
    a = bend.amount
    if bend.op == "ablate":
        return x * (1 - a)
    if bend.op == "invert":
        return x + a * (1 - 2 * x)
    if bend.op == "scale":
        return x * a
    if bend.op == "threshold":
        return (x >= a).to(x.dtype)
    return _spatial(x, bend, name)


def _random_channels(n_channels: int, fraction: float, seed: int) -> torch.Tensor:
    k = max(1, int(round(fraction * n_channels)))
    idx = torch.randperm(n_channels, generator=torch.Generator().manual_seed(seed))[:k]
    mask = torch.zeros(n_channels, dtype=torch.bool)
    mask[idx] = True
    return mask


# ------------------------------------------------------------------------------ the hooks


@contextmanager
def bend(model, spec, z_reference: torch.Tensor | None = None):
    """Bend ``model``'s decoder inside a ``with`` block: forward hooks on the named modules apply the
    transforms; the hooks are removed on exit, also when the block raises.

    ``spec``: a :class:`Bend`, a :class:`BendChain` or a list of bends. Bends with
    ``channels="cluster"`` need ``z_reference``, the codes whose activations the channels are
    clustered on (:func:`channel_clusters`, computed once on entry, on the unbent model).
    Yields ``model`` itself (a wrapper with a ``.vae`` is bent through its VAE).
    """
    module = _as_module(model)
    bends = _as_bends(spec)
    modules = _decoder_modules(module)
    plans = []
    for b in bends:
        name = _resolve_layer(modules, b.layer)
        mask = None
        if b.channels == "cluster":
            if z_reference is None:
                raise ValueError(f"z_reference: bend {b.op!r} of {name} with channels='cluster' needs reference "
                                 f"codes to cluster the channels on")
            mask = channel_clusters(module, name, z_reference, b.n_clusters, b.seed) == b.cluster
        plans.append((name, b, mask, _channels_last(modules, name)))
    handles = []
    try:
        for name, b, mask, last in plans:
            handles.append(modules[name].register_forward_hook(_make_hook(name, b, mask, last)))
        yield model
    finally:
        for h in handles:
            h.remove()


def _make_hook(name: str, b: Bend, mask: torch.Tensor | None, channels_last: bool):
    masks: dict[int, torch.Tensor] = {}

    def hook(module, inputs, output):
        x = _canonical(output, channels_last)
        n_channels = x.shape[1]
        if b.channels == "all":
            out = apply_op(x, b, name)
        else:
            m = mask if mask is not None else masks.setdefault(n_channels, _random_channels(n_channels, b.fraction,
                                                                                            b.seed))
            if len(m) != n_channels:
                raise ValueError(f"layer {name}: {len(m)} channel labels for {n_channels} channels")
            m = m.to(x.device).view(1, n_channels, *([1] * (x.dim() - 2)))
            out = torch.where(m, apply_op(x, b, name), x)
        return _restore(out, channels_last)

    return hook
