"""Image grids, the 2-D manifold and latent scatter plots."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from helpers.display.images import (latent_scatter, manifold_and_codes, show_images, show_manifold,
                                    show_reconstructions, tile_images)


def test_tile_images_places_every_image():
    x = torch.arange(5).float().view(5, 1, 1).expand(5, 2, 3) / 10
    mosaic = tile_images(x, nrow=3, pad=1, pad_value=-1)
    assert mosaic.shape == (2 * 3 + 1, 3 * 4 + 1)
    assert mosaic[1, 1] == 0.0 and mosaic[1, 5] == pytest.approx(0.1) and mosaic[4, 5] == pytest.approx(0.4)
    assert mosaic[4, 9] == -1  # the sixth cell is empty
    assert tile_images(torch.rand(4, 3, 5, 5)).shape == (2 * 6 + 1, 2 * 6 + 1, 3)
    with pytest.raises(ValueError):
        tile_images(torch.rand(4, 5))


def test_show_images_and_reconstructions_draw_the_mosaic():
    import matplotlib.pyplot as plt

    x = torch.rand(4, 6, 6)
    ax = show_images(x, nrow=2)
    np.testing.assert_allclose(ax.images[0].get_array(), tile_images(x, 2, pad_value=1.0))
    ax = show_reconstructions(x, 1 - x, n=3)
    shown = ax.images[0].get_array()
    np.testing.assert_allclose(shown[1:7, 1:7], x[0].numpy())          # top row: inputs
    np.testing.assert_allclose(shown[8:14, 1:7], 1 - x[0].numpy())     # bottom row: reconstructions
    plt.close("all")


def test_manifold_ticks_follow_the_given_axis_values():
    import matplotlib.pyplot as plt

    ax = show_manifold(torch.rand(9, 4, 4), n=3, z1=[-3.0, -0.01, 3.0], z2=[-1.0, 0.5, 2.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-3.0", "0.0", "3.0"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2.0", "0.5", "-1.0"]  # z2 up: top row is the largest
    assert ax.get_xlabel().startswith("z1") and ax.get_ylabel().startswith("z2")
    prior = show_manifold(torch.rand(9, 4, 4), n=3)  # default: prior quantiles 0.05 .. 0.95
    assert prior.get_xticklabels()[0].get_text() == "-1.6"
    with pytest.raises(ValueError, match="n \\* n"):
        show_manifold(torch.rand(8, 4, 4))
    with pytest.raises(ValueError, match="z1 and z2"):
        show_manifold(torch.rand(9, 4, 4), z1=[0.0, 1.0])
    plt.close("all")


def _legend_outside(ax):
    ax.figure.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    return legend.x0 >= ax.get_window_extent().x1


def test_latent_scatter_labels_axes_and_keeps_the_legend_off_the_points():
    import matplotlib.pyplot as plt

    points = np.random.default_rng(0).random((30, 2))
    ax = latent_scatter(points, labels=np.arange(30) % 3, xlabel="z1", ylabel="z2")
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("z1", "z2")
    np.testing.assert_allclose(ax.collections[0].get_offsets(), points)
    assert len(ax.get_legend().get_texts()) == 3 and _legend_outside(ax)
    with pytest.raises(ValueError):
        latent_scatter(np.random.rand(30))
    plt.close("all")


def test_manifold_and_codes_draws_the_grid_span_over_the_codes():
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    z1, z2 = np.linspace(-2, 2, 3), np.linspace(-1, 3, 3)
    fig = manifold_and_codes(torch.rand(9, 4, 4), z1, z2, torch.randn(50, 2), np.arange(50) % 10)
    scatter_ax = fig.axes[1]
    box = next(p for p in scatter_ax.patches if isinstance(p, Rectangle))
    # the box spans the outer cell edges: centres +- half a cell
    assert box.get_x() == pytest.approx(-3.0) and box.get_width() == pytest.approx(6.0)
    assert box.get_y() == pytest.approx(-2.0) and box.get_height() == pytest.approx(6.0)
    assert _legend_outside(scatter_ax)
    plt.close("all")
