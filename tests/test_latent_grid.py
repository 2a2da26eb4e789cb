"""A grid of 2-D codes between quantiles of the codes, its coverage and its smoothness."""

import numpy as np
import pytest
import torch

from helpers.latent.grid import code_quantile_grid, grid_coverage, neighbour_change


def test_grid_spans_the_quantiles_of_each_axis_in_display_order():
    z = torch.stack([torch.linspace(-4, 4, 1001), torch.linspace(0, 10, 1001)], dim=1)
    grid, z1, z2 = code_quantile_grid(z, n=5, lo=0.0, hi=1.0)
    np.testing.assert_allclose(z1, np.linspace(-4, 4, 5), atol=1e-6)
    np.testing.assert_allclose(z2, np.linspace(0, 10, 5), atol=1e-6)
    assert grid.shape == (25, 2)
    # first row at the top (largest z2), columns left to right (increasing z1)
    np.testing.assert_allclose(grid[0].numpy(), [-4, 10], atol=1e-5)
    np.testing.assert_allclose(grid[4].numpy(), [4, 10], atol=1e-5)
    np.testing.assert_allclose(grid[-1].numpy(), [4, 0], atol=1e-5)
    _, z1, _ = code_quantile_grid(z, n=5, lo=0.1, hi=0.9)
    assert z1[0] == pytest.approx(-3.2, abs=0.02) and z1[-1] == pytest.approx(3.2, abs=0.02)


def test_grid_rejects_bad_input():
    with pytest.raises(ValueError, match="\\[N, 2\\]"):
        code_quantile_grid(torch.randn(10, 3))
    with pytest.raises(ValueError, match="lo < hi"):
        code_quantile_grid(torch.randn(10, 2), lo=0.9, hi=0.1)


def test_coverage_counts_codes_inside_and_empty_cells():
    z1 = z2 = np.array([0.0, 1.0, 2.0])  # cells from -0.5 to 2.5 on both axes
    codes = torch.tensor([[0.0, 0.0], [0.1, 0.2], [2.0, 2.0], [5.0, 5.0]])
    cover = grid_coverage(codes, z1, z2)
    assert cover["inside"] == pytest.approx(0.75)
    assert cover["n_cells"] == 9 and cover["empty_cells"] == 7
    assert cover["z_max"] == [5.0, 5.0] and cover["z_min"] == [0.0, 0.0]


def test_neighbour_change_is_small_for_a_smooth_grid_and_near_one_for_noise():
    n = 6
    ramp = torch.linspace(0, 1, n)
    smooth = (ramp[:, None, None, None] + ramp[None, :, None, None]).expand(n, n, 4, 4).reshape(n * n, 4, 4) / 2
    assert neighbour_change(smooth, n)["ratio"] < 0.5
    noise = torch.rand(n * n, 4, 4, generator=torch.Generator().manual_seed(0))
    assert neighbour_change(noise, n)["ratio"] == pytest.approx(1.0, abs=0.1)
