"""Latent trajectories: endpoints, norms, planes, walks, arithmetic, bad input."""

import math

import pytest
import torch

from helpers import latent


def test_lerp_endpoints_and_midpoint():
    z0, z1 = torch.zeros(4), torch.ones(4) * 2
    path = latent.lerp(z0, z1, 5)
    assert path.shape == (5, 4)
    assert torch.allclose(path[0], z0) and torch.allclose(path[-1], z1)
    assert torch.allclose(path[2], torch.ones(4))


def test_slerp_keeps_norm_when_ends_share_it():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(2, 16, generator=g)
    z1 = z1 / z1.norm() * z0.norm()
    path = latent.slerp(z0, z1, 9)
    assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)
    assert torch.allclose(path.norm(dim=1), z0.norm().expand(9), atol=1e-4)
    # a straight line dips towards the origin, the spherical path does not
    assert latent.lerp(z0, z1, 9)[4].norm() < path[4].norm() - 1e-3


def test_slerp_parallel_vectors_fall_back_to_lerp():
    z0 = torch.tensor([1.0, 0.0])
    assert torch.allclose(latent.slerp(z0, 3 * z0, 3), latent.lerp(z0, 3 * z0, 3))


def test_random_trajectories_are_seeded():
    a = latent.random_spherical(8, 6, torch.Generator().manual_seed(1))
    b = latent.random_spherical(8, 6, torch.Generator().manual_seed(1))
    c = latent.random_line(8, 6, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and a.shape == c.shape == (6, 8)


def test_random_walk_pull_keeps_it_bounded():
    g = torch.Generator().manual_seed(0)
    free = latent.random_walk(torch.zeros(32), 2000, 0.1, pull=0.0, generator=g)
    held = latent.random_walk(torch.zeros(32), 2000, 0.1, pull=0.05, generator=g)
    assert free.shape == (2000, 32)
    expected = 0.1 / math.sqrt(1 - 0.95 ** 2) * math.sqrt(32)  # stationary norm of the OU walk
    assert held[-500:].norm(dim=1).mean() == pytest.approx(expected, rel=0.25)
    assert free[-1].norm() > held[-500:].norm(dim=1).mean()
    with pytest.raises(ValueError, match="pull=1.0"):
        latent.random_walk(torch.zeros(3), 4, 0.1, pull=1.0)


def test_ellipse_lies_in_its_plane_and_closes():
    g = torch.Generator().manual_seed(0)
    u, v = latent.random_plane(10, g)
    assert abs(torch.dot(u, v)) < 1e-5 and torch.allclose(u.norm(), torch.tensor(1.0))
    center = torch.randn(10, generator=g)
    path = latent.ellipse(center, 3 * u + v, v, a=2.0, b=1.0, n_steps=40)
    assert path.shape == (40, 10)
    assert torch.allclose(path[0], path[-1], atol=1e-5)
    rel = path - center
    basis = torch.stack([u, v], 1)
    assert torch.allclose(basis @ (basis.T @ rel.T), rel.T, atol=1e-4)  # in span(u, v)
    circle = latent.ellipse(center, u, v, a=1.5, n_steps=16, closed=False)
    assert torch.allclose((circle - center).norm(dim=1), torch.full((16,), 1.5), atol=1e-5)
    with pytest.raises(ValueError, match="linearly independent"):
        latent.ellipse(center, u, 2 * u)


def test_class_means_and_shift():
    z = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    means = latent.class_means(z, ["vn", "vn", "tpt"])
    assert torch.allclose(means["vn"], torch.tensor([1.0, 0.0]))
    moved = latent.shift_towards(z[0], means["vn"], means["tpt"], alphas=[0.0, 1.0])
    assert torch.allclose(moved[0], z[0]) and torch.allclose(moved[1], torch.tensor([-1.0, 4.0]))
    with pytest.raises(ValueError, match="one label per row"):
        latent.class_means(z, ["a"])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="z0 contains non-finite"):
        latent.lerp(torch.tensor([float("nan")]), torch.zeros(1))
    with pytest.raises(ValueError, match="n_steps=1"):
        latent.slerp(torch.ones(2), torch.zeros(2), 1)
    with pytest.raises(ValueError, match="differ in size"):
        latent.lerp(torch.ones(2), torch.zeros(3))
