"""Weight corruption: pure functions that return a corrupted copy of a model ("stochastic model
rewriting" in the taxonomy of Broad, Berns et al., 2021, "Active divergence with generative deep
learning"; the noise variants follow the weight-noise tools of Broad's network-bending code).

    gaussian        w + N(0, (amount * std(w))^2)       noise scaled to each layer's weight spread
    gaussian_abs    w + N(0, amount^2)                  the absolute variant
    multiplicative  w * (1 + amount * N(0, 1))
    zero            a random fraction ``amount`` of the weights set to 0 (dropconnect-like)
    ablate          a random fraction of output units / filters zeroed (weights and bias)
    sign_flip       a random fraction of the weights negated
    permute         a random fraction of output units exchanged among themselves (cyclically)

Layers are chosen by :func:`weight_layers` (part, name pattern, depth). :func:`corrupt` never
touches the model it is given: it corrupts a deep copy, in eval mode. Every layer draws its
noise from a generator seeded by ``(seed, layer name)``, so the same spec gives the same copy
and corrupting one more layer leaves the noise of the others as it was.
"""

from __future__ import annotations

import copy
import hashlib
import re
import zlib
from dataclasses import dataclass

import torch
import torch.nn as nn

from helpers.models.config import Config

CORRUPTIONS = ("gaussian", "gaussian_abs", "multiplicative", "zero", "ablate", "sign_flip", "permute")
#: corruptions whose amount is a fraction of weights or units (in [0, 1])
FRACTION_KINDS = ("zero", "ablate", "sign_flip", "permute")
PARTS = ("encoder", "decoder")
WEIGHT_MODULES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d)


def _as_module(model) -> nn.Module:
    """The ``nn.Module`` of ``model``: itself, or the ``.vae`` of a wrapper such as
    :class:`~helpers.models.audio.AudioVAE`."""
    if isinstance(model, nn.Module):
        return model
    inner = getattr(model, "vae", None)
    if isinstance(inner, nn.Module):
        return inner
    raise TypeError(f"model: expected a torch.nn.Module or an object with a .vae module, got {type(model).__name__}")


def _forward_order(module: nn.Module, names: list[str]) -> list[str]:
    """``names`` in the order the modules run: traced with one zero input when the model is a
    VAE (``x_shape``, ``z_dim``: encoder then decoder), else the order of registration."""
    x_shape, z_dim = getattr(module, "x_shape", None), getattr(module, "z_dim", None)
    if x_shape is None or z_dim is None or not hasattr(module, "encode") or not hasattr(module, "decode"):
        return names
    seen: list[str] = []
    modules = dict(module.named_modules())
    handles = [modules[n].register_forward_hook(lambda m, i, o, n=n: seen.append(n) if n not in seen else None)
               for n in names]
    try:
        device = next(module.parameters()).device
        with torch.no_grad():
            module.encode(torch.zeros(1, *x_shape, device=device))
            module.decode(torch.zeros(1, z_dim, device=device))
    except Exception:  # a model that cannot run on zeros: registration order is the forward order here
        seen = []
    finally:
        for h in handles:
            h.remove()
    return seen + [n for n in names if n not in seen]


def weight_layers(model, pattern: str | None = None, part: str | None = None, depth=None) -> list[str]:
    """Names of the weight-bearing modules (Linear, Conv1d/2d, ConvTranspose1d/2d) in forward order.

    Args:
        model: a VAE (or any module; a wrapper with a ``.vae``).
        pattern: a regular expression searched in the module name (``re.search``).
        part: "encoder" or "decoder": only the modules under that child.
        depth: after the other filters, an index (negative from the end), a list of indices, a
            slice, or "first"/"last".

    Raises ``ValueError`` naming the parameter when nothing matches.
    """
    module = _as_module(model)
    if part is not None and part not in PARTS:
        raise ValueError(f"part={part!r}: expected one of {PARTS} or None")
    names = [n for n, m in module.named_modules() if isinstance(m, WEIGHT_MODULES)]
    if part is not None:
        names = [n for n in names if n == part or n.startswith(part + ".")]
        if not names:
            raise ValueError(f"part={part!r}: the model has no weight layers under {part!r}")
    if pattern is not None:
        try:
            regex = re.compile(pattern)
        except re.error as e:
            raise ValueError(f"pattern={pattern!r} is not a regular expression: {e}") from e
        matched = [n for n in names if regex.search(n)]
        if not matched:
            raise ValueError(f"pattern={pattern!r} matches none of the weight layers {names}")
        names = matched
    names = _forward_order(module, names)
    if depth is None:
        return names
    return _select_depth(names, depth)


def _select_depth(names: list[str], depth) -> list[str]:
    n = len(names)
    if isinstance(depth, str):
        if depth == "first":
            return names[:1]
        if depth == "last":
            return names[-1:]
        raise ValueError(f"depth={depth!r}: expected an int, a list of ints, a slice, 'first' or 'last'")
    if isinstance(depth, slice):
        out = names[depth]
        if not out:
            raise ValueError(f"depth={depth!r} selects none of the {n} layers {names}")
        return out
    indices = [depth] if isinstance(depth, int) else list(depth) if isinstance(depth, (list, tuple)) else None
    if indices is None or not indices or not all(isinstance(i, int) and not isinstance(i, bool) for i in indices):
        raise ValueError(f"depth={depth!r}: expected an int, a list of ints, a slice, 'first' or 'last'")
    bad = [i for i in indices if not -n <= i < n]
    if bad:
        raise ValueError(f"depth={depth!r}: index {bad[0]} is out of range for {n} layers {names}")
    return [names[i] for i in dict.fromkeys(i % n for i in indices)]


@dataclass
class Corruption(Config):
    """One corruption of a model's weights.

    Attributes:
        kind: one of :data:`CORRUPTIONS` (see the module docstring).
        amount: the noise level (gaussian: in units of each layer's weight std; gaussian_abs:
            absolute std; multiplicative: relative std) or the fraction of weights or units (zero,
            ablate, sign_flip, permute, in [0, 1]). 0 leaves the model as it is.
        pattern: a regular expression on the layer names (None: every layer of ``part``).
        part: "decoder" (default: what the samples come from), "encoder", or None (both).
        depth: which of the selected layers (see :func:`weight_layers`): an index, a list, a
            slice, "first" or "last"; None: all.
        seed: seeds the noise (with each layer's name).
    """

    kind: str
    amount: float
    pattern: str | None = None
    part: str | None = "decoder"
    depth: object = None
    seed: int = 0

    def __post_init__(self):
        if self.kind not in CORRUPTIONS:
            raise ValueError(f"kind={self.kind!r}: expected one of {CORRUPTIONS}")
        self.amount = float(self.amount)
        if not self.amount >= 0:
            raise ValueError(f"amount={self.amount}: must be >= 0")
        if self.kind in FRACTION_KINDS and self.amount > 1:
            raise ValueError(f"amount={self.amount}: {self.kind!r} takes a fraction in [0, 1]")
        if self.part is not None and self.part not in PARTS:
            raise ValueError(f"part={self.part!r}: expected one of {PARTS} or None")
        if isinstance(self.depth, list):
            self.depth = tuple(self.depth)

    def layers(self, model) -> list[str]:
        """The layer names this corruption acts on."""
        return weight_layers(model, self.pattern, self.part, self.depth)


def _generator(seed: int, name: str, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed((int(seed) * 1_000_003 + zlib.crc32(name.encode())) % (2 ** 63))
    return g


def _out_axis(layer: nn.Module) -> int:
    """The axis of the weight that indexes output units (1 for transposed convolutions)."""
    return 1 if isinstance(layer, (nn.ConvTranspose1d, nn.ConvTranspose2d)) else 0


def _random_subset(n: int, fraction: float, g: torch.Generator, device) -> torch.Tensor:
    """``round(fraction * n)`` distinct indices out of ``n``."""
    k = int(round(fraction * n))
    return torch.randperm(n, generator=g, device=device)[:k]


@torch.no_grad()
def _corrupt_layer(layer: nn.Module, kind: str, amount: float, g: torch.Generator) -> None:
    w = layer.weight
    b = layer.bias
    if kind == "gaussian":
        std = w.float().std() if w.numel() > 1 else w.float().abs().mean()
        w.add_(torch.randn(w.shape, generator=g, device=w.device, dtype=w.dtype) * amount * std)
    elif kind == "gaussian_abs":
        w.add_(torch.randn(w.shape, generator=g, device=w.device, dtype=w.dtype) * amount)
    elif kind == "multiplicative":
        w.mul_(1 + amount * torch.randn(w.shape, generator=g, device=w.device, dtype=w.dtype))
    elif kind in ("zero", "sign_flip"):
        idx = _random_subset(w.numel(), amount, g, w.device)
        flat = w.view(-1)
        flat[idx] = 0.0 if kind == "zero" else -flat[idx]
    else:  # units: ablate, permute
        axis = _out_axis(layer)
        n_units = w.shape[axis]
        idx = _random_subset(n_units, amount, g, w.device)
        if kind == "ablate":
            w.index_fill_(axis, idx, 0.0)
            if b is not None:
                b.index_fill_(0, idx, 0.0)
        elif len(idx) > 1:  # permute: unit idx[i] takes the weights of idx[i + 1] (a cycle: every one moves)
            src = idx.roll(-1)
            w.index_copy_(axis, idx, w.index_select(axis, src).clone())
            if b is not None:
                b.index_copy_(0, idx, b.index_select(0, src).clone())


def corrupt(model, spec: Corruption | list[Corruption]):
    """A corrupted deep copy of ``model`` in eval mode; ``model`` itself is never modified.

    ``spec`` is one :class:`Corruption` or a list applied in order. A wrapper with a ``.vae``
    (an :class:`~helpers.models.audio.AudioVAE`) comes back as a shallow copy holding the
    corrupted VAE (the transform is shared).
    """
    specs = [spec] if isinstance(spec, Corruption) else list(spec)
    for s in specs:
        if not isinstance(s, Corruption):
            raise TypeError(f"spec: expected Corruption objects, got {type(s).__name__}")
    if not isinstance(model, nn.Module):
        wrapper = copy.copy(model)
        wrapper.vae = corrupt(_as_module(model), specs)
        return wrapper
    out = copy.deepcopy(model).eval()
    modules = dict(out.named_modules())
    for s in specs:
        for name in s.layers(out):
            layer = modules[name]
            _corrupt_layer(layer, s.kind, s.amount, _generator(s.seed, name, layer.weight.device))
    return out


def weights_fingerprint(model) -> str:
    """SHA-1 over the names, shapes, dtypes and bytes of every parameter and buffer (16 hex digits):
    equal fingerprints mean equal weights."""
    module = _as_module(model)
    h = hashlib.sha1()
    tensors = list(module.named_parameters()) + list(module.named_buffers())
    for name, t in sorted(tensors, key=lambda item: item[0]):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{tuple(t.shape)}|{t.dtype}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]
