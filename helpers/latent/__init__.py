"""Paths through a latent space: interpolations, trajectories, walks, planes, arithmetic."""

from .basis import CodeGaussian, principal_basis
from .trajectories import (
    class_means,
    ellipse,
    lerp,
    principal_circle,
    random_line,
    random_plane,
    random_spherical,
    random_walk,
    shift_towards,
    slerp,
)

__all__ = [
    "CodeGaussian",
    "principal_basis",
    "class_means",
    "ellipse",
    "lerp",
    "principal_circle",
    "random_line",
    "random_plane",
    "random_spherical",
    "random_walk",
    "shift_towards",
    "slerp",
]
