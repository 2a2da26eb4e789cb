"""Encoders and decoders: an MLP (any flat or image-shaped input), a 2-D convolutional pair, and
a frame-wise decoder for spectrograms (:class:`FrameDecoder`).

Every encoder maps ``x [B, *x_shape]`` to ``[B, 2 * z_dim]`` (mu and logvar side by side);
every decoder maps ``z [B, z_dim]`` to the parameters of the output distribution,
``[B, n_params, *x_shape]``. The VAE core only relies on these two contracts, so the audio
models (frames ``[B, F]``, spectrograms ``[B, 1, F, T]``) reuse the same classes.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU,
               "softplus": nn.Softplus, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (see ``ACTIVATIONS``)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r}: expected one of {tuple(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def _mlp(sizes: list[int], act: str) -> nn.Sequential:
    """Linear layers with an activation after each but the last."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation(act))
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """x -> flatten -> [Linear, act] x len(hidden) -> Linear(2 z) (Kingma & Welling, 2014, App. C)."""

    def __init__(self, x_shape: tuple[int, ...], z_dim: int, hidden: tuple[int, ...] = (400,),
                 act: str = "relu"):
        super().__init__()
        self.x_dim = math.prod(x_shape)
        self.net = _mlp([self.x_dim, *hidden, 2 * z_dim], act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(x.shape[0], self.x_dim))


class MLPDecoder(nn.Module):
    """z -> [Linear, act] x len(hidden) -> Linear(n_params * prod(x_shape)) -> [B, n_params, *x_shape]."""

    def __init__(self, x_shape: tuple[int, ...], z_dim: int, n_params: int = 1,
                 hidden: tuple[int, ...] = (400,), act: str = "relu"):
        super().__init__()
        self.out_shape = (n_params, *x_shape)
        self.net = _mlp([z_dim, *hidden, n_params * math.prod(x_shape)], act)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.out_shape)


class ResBlock(nn.Module):
    """Pre-activation residual block: x + conv3x3(act(conv3x3(act(x)))) (He et al., 2016)."""

    def __init__(self, channels: int, act: str = "relu"):
        super().__init__()
        self.body = nn.Sequential(activation(act), nn.Conv2d(channels, channels, 3, padding=1),
                                  activation(act), nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _image_dims(x_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(C, H, W) of an image-like shape: (H, W) is one channel."""
    if len(x_shape) == 2:
        return 1, x_shape[0], x_shape[1]
    if len(x_shape) == 3:
        return tuple(x_shape)  # type: ignore[return-value]
    raise ValueError(f"a convolutional model needs x_shape (H, W) or (C, H, W), got {x_shape}")


class ConvEncoder(nn.Module):
    """Strided 4x4 convolutions (each halves H and W), optional residual blocks, then an MLP head.

    Inputs whose sides are not multiples of ``2 ** len(channels)`` are zero-padded at the
    bottom/right, so any spectrogram size works; the decoder crops back.
    """

    def __init__(self, x_shape: tuple[int, ...], z_dim: int, channels: tuple[int, ...] = (32, 64),
                 hidden: int = 256, n_res_blocks: int = 0, act: str = "relu"):
        super().__init__()
        c, h, w = _image_dims(x_shape)
        self.x_shape = tuple(x_shape)
        factor = 2 ** len(channels)
        self.grid = (math.ceil(h / factor), math.ceil(w / factor))
        self.pad = (0, self.grid[1] * factor - w, 0, self.grid[0] * factor - h)
        layers: list[nn.Module] = []
        for c_out in channels:
            layers += [nn.Conv2d(c, c_out, 4, stride=2, padding=1), activation(act)]
            layers += [ResBlock(c_out, act) for _ in range(n_res_blocks)]
            c = c_out
        if n_res_blocks:
            layers.append(activation(act))  # pre-activation blocks end un-activated
        self.conv = nn.Sequential(*layers)
        self.head = _mlp([c * self.grid[0] * self.grid[1], hidden, 2 * z_dim], act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, h, w = _image_dims(self.x_shape)
        x = x.reshape(x.shape[0], c, h, w)
        if any(self.pad):
            x = F.pad(x, self.pad)
        return self.head(self.conv(x).flatten(1))


class ConvDecoder(nn.Module):
    """MLP to a coarse grid, 4x4 transposed convolutions (each doubles H and W), a 3x3 output conv.

    Optional residual blocks at every resolution give the decoder more capacity per parameter
    than widening the MLP (a "better decoder" for the same latent code).
    """

    def __init__(self, x_shape: tuple[int, ...], z_dim: int, n_params: int = 1,
                 channels: tuple[int, ...] = (32, 64), hidden: int = 256, n_res_blocks: int = 0,
                 act: str = "relu"):
        super().__init__()
        c_data, h, w = _image_dims(x_shape)
        self.x_shape = tuple(x_shape)
        self.n_params = n_params
        factor = 2 ** len(channels)
        self.grid = (math.ceil(h / factor), math.ceil(w / factor))
        top = channels[-1]
        self.head = nn.Sequential(*_mlp([z_dim, hidden, top * self.grid[0] * self.grid[1]], act),
                                  activation(act))
        layers: list[nn.Module] = []
        rev = list(reversed(channels))
        for i, c_in in enumerate(rev):
            c_out = rev[i + 1] if i + 1 < len(rev) else rev[-1]
            layers += [ResBlock(c_in, act) for _ in range(n_res_blocks)]
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), activation(act)]
        layers.append(nn.Conv2d(rev[-1], n_params * c_data, 3, padding=1))
        self.deconv = nn.Sequential(*layers)
        self.top = top

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        c, h, w = _image_dims(self.x_shape)
        out = self.deconv(self.head(z).view(z.shape[0], self.top, *self.grid))
        out = out[:, :, :h, :w]
        return out.reshape(z.shape[0], self.n_params, *self.x_shape)


class FrameDecoder(nn.Module):
    """z -> a spectrogram ``(C, F, T)`` one frame at a time: every frame ``t`` is an MLP of
    ``[z, e_t]``, with ``e_t`` a learned embedding of the frame's position in the note.

    The MLP outputs a whole spectrum column, as the frame model's decoder does, so partials can
    sit at exact bins of any frequency axis (a stack of transposed convolutions has to build
    them up from a coarse grid); the note's shape in time comes from how ``z`` and ``e_t``
    interact. The weights are shared by all frames, so the cost is ``T`` small MLP passes.
    """

    def __init__(self, x_shape: tuple[int, ...], z_dim: int, n_params: int = 1,
                 hidden: tuple[int, ...] = (512, 1024), time_dim: int = 16, act: str = "relu"):
        super().__init__()
        c, f, t = _image_dims(x_shape)
        self.x_shape, self.n_params = tuple(x_shape), n_params
        self.dims = (c, f, t)
        self.time = nn.Parameter(0.1 * torch.randn(t, time_dim))
        self.net = _mlp([z_dim + time_dim, *hidden, n_params * c * f], act)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        c, f, t = self.dims
        b = z.shape[0]
        inp = torch.cat((z[:, None, :].expand(b, t, z.shape[1]), self.time[None].expand(b, -1, -1)), dim=-1)
        out = self.net(inp).view(b, t, self.n_params, c, f)
        return out.permute(0, 2, 3, 4, 1).reshape(b, self.n_params, *self.x_shape)
