"""Paths through a latent space: interpolations, trajectories, walks, planes, arithmetic."""

from .trajectories import (
    class_means,
    ellipse,
    lerp,
    random_line,
    random_plane,
    random_spherical,
    random_walk,
    shift_towards,
    slerp,
)

__all__ = [
    "class_means",
    "ellipse",
    "lerp",
    "random_line",
    "random_plane",
    "random_spherical",
    "random_walk",
    "shift_towards",
    "slerp",
]
