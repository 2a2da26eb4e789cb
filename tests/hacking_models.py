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


def bar_images(n: int = 512, seed: int = 0) -> torch.Tensor:
    """``n`` binary 28x28 images of one horizontal or vertical bar, 3 pixels wide: data a small VAE
    learns in seconds, with sharp (unlikely to be grey) decoded means."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 28, 28)
    pos = torch.randint(2, 23, (n,), generator=g)
    vertical = torch.rand(n, generator=g) < 0.5
    for i in range(n):
        p = int(pos[i])
        if vertical[i]:
            x[i, 4:24, p:p + 3] = 1.0
        else:
            x[i, p:p + 3, 4:24] = 1.0
    return x


_TRAINED = {}


def trained_mnist_vae():
    """The narrowed MNIST VAE trained briefly on :func:`bar_images` (cached for the test process)."""
    if "mnist" not in _TRAINED:
        from helpers.training import Trainer, TrainerConfig

        model = mnist_vae()
        trainer = Trainer(model, TrainerConfig(n_epochs=10, batch_size=64, lr=3e-3, progress=False, device="cpu"),
                          run_dir=False)
        trainer.fit(bar_images())
        _TRAINED["mnist"] = model.eval()
    return _TRAINED["mnist"]
