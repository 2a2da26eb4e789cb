"""The sparse convolutional autoencoder of "Digits that are not" (Kazakçı, Cherti & Kégl, 2016).

The architecture of the authors' reference code (a winner-take-all autoencoder, Makhzani & Frey,
2015, "Winner-take-all autoencoders", Sec. 3):

    x [N, 1, 28, 28] -> 3 x (Conv 5x5, no padding, ReLU)        -> h [N, F, 16, 16]
      -> spatial WTA: each feature map keeps only its maximum    (Makhzani & Frey, 2015, Sec. 3.1)
      -> channel WTA: one winner across channels in each 4x4 block, stride 4
      -> transposed Conv 13x13 (16 + 13 - 1 = 28) -> sigmoid     -> x_hat [N, 1, 28, 28]
    loss = mean over pixels and examples of (x - x_hat)^2

After both sparsities a code has at most one non-zero per 4x4 block (16 for a 28x28 image),
whatever the width F: the decoder draws every image from at most 16 of its F 13x13 strokes.

Cost: the two inner convolutions dominate, ``F^2 * 25 * (20^2 + 16^2)`` multiply-adds per image,
so the width F sets the cost quadratically: F = 128 (the authors') is about 0.55 GFLOP per image
and pass, F = 32 about 15 times less. Measured per training example (batches of 32, one thread
on a shared 2-core CPU): 5.7 ms at F = 32, 17 ms at 64, 76 ms at 128, i.e. about 4.7 minutes
against 63 minutes per pass over the 50000 training digits. :func:`sparse_ae_config` gives the
narrow default for a CPU and the full width one argument away (``width="full"``).

The model trains through the one :class:`~helpers.training.Trainer` (``forward`` returns the loss
terms) and the run store; it is registered as ``build_model({"model": "sparse_ae", ...})``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from .config import Config
from .vae import register_model

#: widths of :func:`sparse_ae_config`: the authors' 128 filters and the narrow CPU default
WIDTHS = {"full": 128, "narrow": 32}


@dataclass
class SparseAEConfig(Config):
    """A winner-take-all convolutional autoencoder (``build_model(config)``).

    Attributes:
        model: registry key, "sparse_ae".
        x_shape: shape of one image as the data hold it, (28, 28) for MNIST.
        filters: channels of every convolution. 128 as in the authors' code (about 0.55 GFLOP per
            image and pass); :func:`sparse_ae_config` gives the narrower CPU default.
        n_conv: number of 5x5 convolutions (no padding: each takes 4 pixels off H and W). 3 as the
            authors': 28 -> 16.
        kernel: size of the encoder's convolutions, 5 as the authors'.
        channel_stride: side of the blocks of the channel sparsity (one winner per block across
            all channels and positions). 4 as the authors': 16 blocks on a 16x16 map.
        spatial_wta: keep only the maximum of every feature map (Makhzani & Frey, 2015).
        channel_wta: keep one winner per ``channel_stride`` block across channels.
        decoder_bias: initial bias of the output layer (the authors' start at 0). -2 starts the
            output at sigmoid(-2) = 0.12, about the mean pixel of MNIST, instead of a mid-grey
            0.5: in 100 Adam steps (16 filters, lr 1e-2) the validation error reached 0.030
            instead of 0.062 (0.115 for a black image).
    """

    model: str = "sparse_ae"
    x_shape: tuple[int, ...] = (28, 28)
    filters: int = 128
    n_conv: int = 3
    kernel: int = 5
    channel_stride: int = 4
    spatial_wta: bool = True
    channel_wta: bool = True
    decoder_bias: float = -2.0

    def __post_init__(self):
        if len(self.x_shape) != 2:
            raise ValueError(f"x_shape={self.x_shape}: expected (H, W)")
        if self.filters < 1:
            raise ValueError(f"filters={self.filters}: expected >= 1")
        if self.n_conv < 1 or self.kernel < 1:
            raise ValueError(f"n_conv={self.n_conv}, kernel={self.kernel}: expected >= 1")
        h, w = self.code_shape
        if h < 1 or w < 1:
            raise ValueError(f"x_shape={self.x_shape} is too small for {self.n_conv} convolutions "
                             f"of {self.kernel}x{self.kernel}")
        if self.channel_stride < 1 or h % self.channel_stride or w % self.channel_stride:
            raise ValueError(f"channel_stride={self.channel_stride} must divide the code's size {h}x{w}")

    @property
    def code_shape(self) -> tuple[int, int]:
        """(H, W) of the feature maps after the convolutions: 16x16 for 28x28 images."""
        shrink = self.n_conv * (self.kernel - 1)
        return self.x_shape[0] - shrink, self.x_shape[1] - shrink

    @property
    def decoder_kernel(self) -> tuple[int, int]:
        """Size of the transposed convolution that takes the code back to ``x_shape``: 13x13 for 28x28."""
        h, w = self.code_shape
        return self.x_shape[0] - h + 1, self.x_shape[1] - w + 1


def sparse_ae_config(width: str | int = "narrow", smoke: bool = False) -> SparseAEConfig:
    """The sparse autoencoder for MNIST: ``width`` "narrow" (32 filters, the CPU default), "full"
    (128, the authors') or a number of filters; ``smoke``: 8 filters (seconds to train).

    32 filters cost about 15 times less per image than 128 (the inner convolutions grow with the
    square of the width), so that the default training fits a few minutes on a CPU.
    """
    if smoke:
        return SparseAEConfig(filters=8)
    if isinstance(width, str):
        if width not in WIDTHS:
            raise ValueError(f"width={width!r}: expected one of {sorted(WIDTHS)} or a number of filters")
        width = WIDTHS[width]
    if int(width) != width or width < 1:
        raise ValueError(f"width={width!r}: expected a positive number of filters")
    return SparseAEConfig(filters=int(width))


def spatial_wta(h: torch.Tensor) -> torch.Tensor:
    """Keep the largest activation of every feature map, zero the rest (Makhzani & Frey, 2015,
    Sec. 3.1): ``[N, C, H, W]`` -> same shape, at most one non-zero per map (ties: the first)."""
    flat = h.flatten(2)
    mask = torch.zeros_like(flat, dtype=torch.bool).scatter_(2, flat.argmax(2, keepdim=True), True)
    return (flat * mask).view_as(h)


def channel_wta(h: torch.Tensor, stride: int = 4) -> torch.Tensor:
    """Keep one winner across all channels in each ``stride`` x ``stride`` block (the authors'
    ``wta_channel_strided``): ``[N, C, H, W]`` -> same shape, at most one non-zero per block."""
    n, c, height, width = h.shape
    if height % stride or width % stride:
        raise ValueError(f"stride={stride} must divide the feature maps' size {height}x{width}")
    blocks = h.view(n, c, height // stride, stride, width // stride, stride).permute(0, 2, 4, 1, 3, 5)
    flat = blocks.reshape(n, height // stride, width // stride, c * stride * stride)
    mask = torch.zeros_like(flat, dtype=torch.bool).scatter_(3, flat.argmax(3, keepdim=True), True)
    mask = mask.view(n, height // stride, width // stride, c, stride, stride).permute(0, 3, 1, 4, 2, 5)
    return h * mask.reshape(n, c, height, width)


class SparseAE(nn.Module):
    """3 x (Conv 5x5 + ReLU), spatial and channel winner-take-all, one 13x13 transposed convolution
    and a sigmoid (Kazakçı et al., 2016; see the module docstring)."""

    def __init__(self, config: SparseAEConfig):
        super().__init__()
        self.config = config
        layers, c_in = [], 1
        for _ in range(config.n_conv):
            layers += [nn.Conv2d(c_in, config.filters, config.kernel), nn.ReLU(inplace=True)]
            c_in = config.filters
        self.encoder = nn.Sequential(*layers)
        self.decoder = nn.ConvTranspose2d(config.filters, 1, config.decoder_kernel)
        for m in self.modules():  # Glorot uniform weights and zero biases as the authors' Lasagne code
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.constant_(self.decoder.bias, config.decoder_bias)

    @classmethod
    def from_config(cls, config: SparseAEConfig) -> "SparseAE":
        return cls(config)

    @property
    def device(self) -> torch.device:
        return self.decoder.weight.device

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Images (uint8 or float in [0, 1], ``[N, H, W]`` or ``[N, 1, H, W]``) -> float ``[N, 1, H, W]``."""
        x = torch.as_tensor(x)
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        shape = tuple(self.config.x_shape)
        if x.dim() == 4 and x.shape[1] == 1:
            x = x[:, 0]
        if x.dim() != 3 or tuple(x.shape[1:]) != shape:
            raise ValueError(f"images of shape [N, {shape[0]}, {shape[1]}] or [N, 1, {shape[0]}, {shape[1]}] "
                             f"expected, got {tuple(x.shape)}")
        return x.float().unsqueeze(1).to(self.device)

    def sparsify(self, h: torch.Tensor) -> torch.Tensor:
        """The two winner-take-all steps the config switches on."""
        if self.config.spatial_wta:
            h = spatial_wta(h)
        if self.config.channel_wta:
            h = channel_wta(h, self.config.channel_stride)
        return h

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The sparse code ``[N, F, 16, 16]`` of images."""
        return self.sparsify(self.encoder(self.prepare(x)))

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """sigmoid(transposed conv 13x13 of the code), ``[N, 1, 28, 28]`` in (0, 1)."""
        return torch.sigmoid(self.decoder(h))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Loss terms for the Trainer: ``loss`` (mean squared error per pixel, the authors'
        objective), and per example ``mse`` (mean over pixels) and ``rec`` (sum over pixels)."""
        x = self.prepare(x)
        x_hat = self.decode(self.sparsify(self.encoder(x))).float()
        se = (x_hat - x).pow(2).flatten(1)
        mse = se.mean(1)
        return {"loss": mse.mean(), "mse": mse, "rec": se.sum(1)}

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) = decode(encode(x)), ``[N, *x_shape]`` in (0, 1): the map "Digits that are not" iterates."""
        return self.decode(self.encode(x)).reshape(len(x), *self.config.x_shape)

    @torch.no_grad()
    def code_vectors(self, x: torch.Tensor, pooled: bool = True, batch_size: int = 1000) -> torch.Tensor:
        """Codes as vectors for clustering: ``pooled`` the strength of each filter (its one
        surviving activation, 0 when it lost every block), ``[N, F]``; else the whole sparse code
        flattened, ``[N, F * 16 * 16]``. CPU float32."""
        out = []
        for start in range(0, len(x), batch_size):
            h = self.encode(x[start:start + batch_size])
            out.append((h.flatten(2).amax(2) if pooled else h.flatten(1)).float().cpu())
        if not out:
            h, w = self.config.code_shape
            return torch.zeros(0, self.config.filters if pooled else self.config.filters * h * w)
        return torch.cat(out)


def flops_per_image(config: SparseAEConfig) -> int:
    """Multiply-adds times 2 of one forward pass (convolutions and the transposed convolution)."""
    h, w = config.x_shape
    total, c_in = 0, 1
    for _ in range(config.n_conv):
        h, w = h - config.kernel + 1, w - config.kernel + 1
        total += h * w * config.filters * c_in * config.kernel ** 2
        c_in = config.filters
    kh, kw = config.decoder_kernel
    total += h * w * config.filters * kh * kw
    return 2 * total


register_model("sparse_ae", SparseAEConfig, SparseAE.from_config)
