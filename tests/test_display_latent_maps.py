"""Latent maps: named categories in a legend outside the points, numbers on a colour bar."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from helpers.display.latent_maps import latent_map, plot_latent_maps


def _outside(ax):
    ax.figure.canvas.draw()
    return ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1


def test_categories_get_their_names_and_numbers_a_colour_bar():
    import matplotlib.pyplot as plt

    points = np.random.default_rng(0).normal(size=(40, 2))
    ax = latent_map(points, np.array(["Flute", "Horn"] * 20), label_name="instrument")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Flute", "Horn"] and _outside(ax)
    ax = latent_map(points, np.linspace(40, 80, 40), label_name="pitch")
    assert ax.figure.axes[-1].get_label() == "<colorbar>" and ax.figure.axes[-1].get_ylabel() == "pitch"
    plt.close("all")


def test_plot_latent_maps_projects_each_method_and_labels_axes():
    import matplotlib.pyplot as plt

    z = np.random.default_rng(1).normal(size=(60, 5))
    fig, points = plot_latent_maps(z, np.arange(60) % 3, methods=("pca",))
    assert points["pca"].shape == (60, 2)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "PCA component 1" and _outside(ax)
    with pytest.raises(ValueError, match="methods is empty"):
        plot_latent_maps(z, np.arange(60) % 3, methods=())
    plt.close("all")
