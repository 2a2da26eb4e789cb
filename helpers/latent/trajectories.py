"""Latent trajectories. Every function returns ``z`` points as a ``[n_steps, latent_dim]`` tensor.

Decode them with a model (and, for audio, the transform's phase reconstruction) to hear or see
the path. Under a standard normal prior most of the mass lies near the sphere of radius
``sqrt(latent_dim)``; spherical interpolation keeps paths there, where the decoder was trained,
while a straight line between two codes passes closer to the origin (White, 2016, "Sampling
generative networks").
"""

from __future__ import annotations

import math

import torch


def _as_vector(z: torch.Tensor, name: str) -> torch.Tensor:
    z = torch.as_tensor(z, dtype=torch.float32)
    if z.dim() == 2 and z.shape[0] == 1:
        z = z[0]
    if z.dim() != 1:
        raise ValueError(f"{name} must be one latent vector [latent_dim], got shape {tuple(z.shape)}")
    if not torch.isfinite(z).all():
        raise ValueError(f"{name} contains non-finite values")
    return z


def _check_steps(n_steps: int) -> None:
    if int(n_steps) < 2:
        raise ValueError(f"n_steps={n_steps}: a trajectory needs at least 2 steps")


def lerp(z0: torch.Tensor, z1: torch.Tensor, n_steps: int = 16) -> torch.Tensor:
    """Straight line from ``z0`` to ``z1`` (both ends included)."""
    z0, z1 = _as_vector(z0, "z0"), _as_vector(z1, "z1")
    _check_steps(n_steps)
    if z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 differ in size: {tuple(z0.shape)} vs {tuple(z1.shape)}")
    t = torch.linspace(0, 1, n_steps, device=z0.device).unsqueeze(1)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, n_steps: int = 16) -> torch.Tensor:
    """Spherical interpolation (Shoemake, 1985; White, 2016): along the great circle, norms blended.

    The angle is that between the two directions; the radius goes linearly from ``|z0|`` to
    ``|z1|``. Falls back to :func:`lerp` when the two directions (nearly) coincide.
    """
    z0, z1 = _as_vector(z0, "z0"), _as_vector(z1, "z1")
    _check_steps(n_steps)
    n0, n1 = z0.norm(), z1.norm()
    if n0 < 1e-8 or n1 < 1e-8:
        return lerp(z0, z1, n_steps)
    u0, u1 = z0 / n0, z1 / n1
    omega = torch.arccos(torch.clamp(torch.dot(u0, u1), -1.0, 1.0))
    if omega < 1e-4:
        return lerp(z0, z1, n_steps)
    t = torch.linspace(0, 1, n_steps, device=z0.device).unsqueeze(1)
    direction = (torch.sin((1 - t) * omega) * u0 + torch.sin(t * omega) * u1) / torch.sin(omega)
    radius = (1 - t) * n0 + t * n1
    return direction * radius


def _prior_pair(latent_dim: int, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    if int(latent_dim) < 1:
        raise ValueError(f"latent_dim={latent_dim}: must be >= 1")
    z = torch.randn(2, int(latent_dim), generator=generator)
    return z[0], z[1]


def random_line(latent_dim: int, n_steps: int = 16, generator: torch.Generator | None = None) -> torch.Tensor:
    """A straight line between two points drawn from the prior N(0, I)."""
    return lerp(*_prior_pair(latent_dim, generator), n_steps)


def random_spherical(latent_dim: int, n_steps: int = 16,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """A spherical interpolation between two points drawn from the prior N(0, I)."""
    return slerp(*_prior_pair(latent_dim, generator), n_steps)


def random_walk(z0: torch.Tensor, n_steps: int = 64, step_size: float = 0.1,
                pull: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """A Gaussian random walk from ``z0``: ``z_{t+1} = (1 - pull) z_t + step_size * eps``.

    ``pull`` in [0, 1) draws the walk back to the origin (an Ornstein-Uhlenbeck process, whose
    stationary law is N(0, step_size^2 / (1 - (1 - pull)^2) I)); ``pull=0`` is a free walk that
    wanders off the prior's typical set as sqrt(n_steps) * step_size.
    """
    z0 = _as_vector(z0, "z0")
    _check_steps(n_steps)
    if step_size < 0:
        raise ValueError(f"step_size={step_size}: must be >= 0")
    if not 0.0 <= pull < 1.0:
        raise ValueError(f"pull={pull}: must be in [0, 1)")
    eps = torch.randn(n_steps - 1, z0.numel(), generator=generator).to(z0.device)
    out = [z0]
    for e in eps:
        out.append((1 - pull) * out[-1] + step_size * e)
    return torch.stack(out)


def random_plane(latent_dim: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Two orthonormal directions spanning a random 2-D plane of the latent space (Gram-Schmidt)."""
    if int(latent_dim) < 2:
        raise ValueError(f"latent_dim={latent_dim}: a plane needs at least 2 dimensions")
    q, _ = torch.linalg.qr(torch.randn(int(latent_dim), 2, generator=generator))
    return q[:, 0], q[:, 1]


def ellipse(center: torch.Tensor, u: torch.Tensor, v: torch.Tensor, a: float = 1.0, b: float | None = None,
            n_steps: int = 32, closed: bool = True) -> torch.Tensor:
    """``center + a cos(t) u + b sin(t) v`` for t over one turn: a circle when ``a == b``.

    ``u`` and ``v`` are orthonormalised first, so any two independent directions (two latent
    axes, two principal axes, :func:`random_plane`) define the plane. With ``closed=True`` the
    last point equals the first, so the decoded sound loops seamlessly.
    """
    center, u, v = _as_vector(center, "center"), _as_vector(u, "u"), _as_vector(v, "v")
    _check_steps(n_steps)
    b = a if b is None else b
    q, r = torch.linalg.qr(torch.stack([u, v], dim=1))
    if r.diagonal().abs().min() < 1e-6:
        raise ValueError("u and v must be linearly independent directions")
    u, v = q[:, 0] * torch.sign(r[0, 0]), q[:, 1] * torch.sign(r[1, 1])
    t = torch.linspace(0, 2 * math.pi, n_steps + (0 if closed else 1), device=center.device)
    if not closed:
        t = t[:-1]
    t = t.unsqueeze(1)
    return center + a * torch.cos(t) * u + b * torch.sin(t) * v


def class_means(z: torch.Tensor, labels) -> dict:
    """Mean latent code of each label value: ``{label: z[labels == label].mean(0)}``."""
    z = torch.as_tensor(z, dtype=torch.float32)
    labels = list(labels)
    if z.dim() != 2 or len(labels) != z.shape[0]:
        raise ValueError(f"z must be [N, latent_dim] with one label per row; got {tuple(z.shape)} "
                         f"and {len(labels)} labels")
    means = {}
    for value in dict.fromkeys(labels):
        mask = torch.tensor([lab == value for lab in labels])
        means[value] = z[mask].mean(0)
    return means


def shift_towards(z: torch.Tensor, source_mean: torch.Tensor, target_mean: torch.Tensor,
                  alphas=(0.0, 0.25, 0.5, 0.75, 1.0)) -> torch.Tensor:
    """Latent arithmetic: ``z + alpha (target_mean - source_mean)`` for each alpha.

    E.g. move a violin note towards the trumpet by the difference of the instruments' mean
    codes (the "smile vector" of White, 2016). Returns ``[len(alphas), latent_dim]``.
    """
    z = _as_vector(z, "z")
    delta = _as_vector(target_mean, "target_mean") - _as_vector(source_mean, "source_mean")
    alphas = torch.as_tensor(alphas, dtype=z.dtype, device=z.device).reshape(-1, 1)
    return z + alphas * delta


def principal_circle(z: torch.Tensor, n_points: int = 48, closed: bool = True) -> tuple[torch.Tensor, float]:
    """A circle around the mean of codes ``z [N, D]`` in the plane of their first two principal
    axes (:func:`~helpers.latent.basis.principal_basis`), of radius the mean of the codes'
    standard deviations along those two axes. Returns ``(points, radius)``: ``n_points`` distinct
    points, plus the first one again at the end when ``closed`` (a seamless loop)."""
    from helpers.latent.basis import principal_basis

    _check_steps(n_points)
    mean, basis = principal_basis(z, 2)
    if basis.shape[1] < 2:
        raise ValueError(f"a circle needs codes of at least 2 dimensions, got shape {tuple(torch.as_tensor(z).shape)}")
    radius = float(basis.norm(dim=0).mean())
    return ellipse(mean, basis[:, 0], basis[:, 1], a=radius, n_steps=n_points + int(closed), closed=closed), radius
