"""Image grids and latent plots."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from helpers.display.images import latent_scatter, show_images, show_manifold, show_reconstructions, tile_images


def test_tile_images_places_every_image():
    x = torch.arange(5).float().view(5, 1, 1).expand(5, 2, 3) / 10
    mosaic = tile_images(x, nrow=3, pad=1, pad_value=-1)
    assert mosaic.shape == (2 * 3 + 1, 3 * 4 + 1)
    assert mosaic[1, 1] == 0.0 and mosaic[1, 5] == pytest.approx(0.1) and mosaic[4, 5] == pytest.approx(0.4)
    assert mosaic[4, 9] == -1  # the sixth cell is empty
    assert tile_images(torch.rand(4, 3, 5, 5)).shape == (2 * 6 + 1, 2 * 6 + 1, 3)
    with pytest.raises(ValueError):
        tile_images(torch.rand(4, 5))


def test_plots_return_axes():
    import matplotlib.pyplot as plt

    x = torch.rand(9, 6, 6)
    assert show_images(x, title="t").get_title() == "t"
    assert show_reconstructions(x, x.flip(0), n=4) is not None
    ax = show_manifold(x, n=3)
    assert ax.get_xlabel() == "z1"
    ax = latent_scatter(np.random.rand(30, 2), labels=np.arange(30) % 3, title="z")
    assert ax.get_title() == "z"
    with pytest.raises(ValueError):
        latent_scatter(np.random.rand(30))
    plt.close("all")
