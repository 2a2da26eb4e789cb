"""Small untrained models shared by the hacking tests: the MNIST presets' networks (narrowed), a
convolutional image VAE, and the audio note VAE of the smoke preset (frame decoder and conv decoder)."""

import torch

from helpers.models import build_model
from helpers.training.presets import audio_preset, mnist_preset


def mnist_vae(seed: int = 0, hidden=(64, 64), z_dim: int = 8):
    """The MNIST preset's MLP VAE (Bernoulli, [N, 28, 28]), narrowed to run in milliseconds."""
    torch.manual_seed(seed)
    return build_model(mnist_preset("default").model.replace(hidden=hidden, z_dim=z_dim)).eval()


def conv_vae(seed: int = 0):
    """A convolutional Bernoulli VAE on [N, 1, 28, 28] images (Conv2d / ConvTranspose2d decoder)."""
    torch.manual_seed(seed)
    cfg = mnist_preset("default").model.replace(x_shape=(1, 28, 28), architecture="conv", conv_channels=(4, 8),
                                                conv_hidden=16, z_dim=4)
    return build_model(cfg).eval()


def note_vae(seed: int = 0, decoder: str = "frames"):
    """The audio note VAE of ``audio_preset("note", "nsgt", smoke=True)`` (Laplace, magnitudes in model space)."""
    torch.manual_seed(seed)
    return build_model(audio_preset("note", "nsgt", smoke=True, decoder=decoder).resolve().vae).eval()


MODELS = {"mnist": mnist_vae, "conv": conv_vae, "note": note_vae,
          "note_conv": lambda seed=0: note_vae(seed, "conv")}
