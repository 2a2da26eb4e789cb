"""IWAE bound against the ELBO and against an exact log-likelihood; active units; latent grids."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from helpers.evaluation import (
    active_units,
    decode_manifold_grid,
    elbo_terms,
    evaluate_model,
    iwae_log_likelihood,
    manifold_grid_z,
    prior_samples,
    project_latent,
    reconstructions,
)
from helpers.models import VAE, Gaussian, VAEConfig, build_model


def linear_gaussian_vae(seed=0, x_dim=5, z_dim=2, sigma=0.5):
    """x = W z + b + sigma * noise: log p(x) = log N(x; b, W W^T + sigma^2 I) is known exactly."""
    torch.manual_seed(seed)
    encoder = nn.Linear(x_dim, 2 * z_dim)
    decoder = nn.Sequential(nn.Linear(z_dim, x_dim), nn.Unflatten(1, (1, x_dim)))
    return VAE(encoder, decoder, Gaussian((x_dim,), init_scale=sigma), z_dim, (x_dim,))


def exact_log_px(model, x, sigma=0.5):
    w, b = model.decoder[0].weight, model.decoder[0].bias
    cov = w @ w.T + sigma**2 * torch.eye(len(b))
    return torch.distributions.MultivariateNormal(b, cov).log_prob(x)


def test_iwae_bound_tightens_towards_the_exact_log_likelihood():
    model = linear_gaussian_vae()
    x = torch.randn(200, 5)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        exact = exact_log_px(model, x)
        l1 = iwae_log_likelihood(model, x, k=1, generator=g).mean()
        l10 = iwae_log_likelihood(model, x, k=10, generator=g).mean()
        l500 = iwae_log_likelihood(model, x, k=500, batch_size=50, max_rows=3000, generator=g).mean()
    assert l1 < l10 < l500 <= exact.mean() + 0.01
    assert exact.mean() - l500 < 0.2 * (exact.mean() - l1)


def test_iwae_at_k1_equals_the_elbo_in_expectation_and_bounds_it_above():
    model = build_model(VAEConfig(x_shape=(6, 6), z_dim=3, hidden=(16,)))
    x = (torch.rand(400, 6, 6, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    g = torch.Generator().manual_seed(2)
    elbo = elbo_terms(model, x, generator=g)["elbo"]  # analytic KL
    l1 = torch.stack([iwae_log_likelihood(model, x, k=1, generator=g) for _ in range(10)]).mean(0)
    diff = l1 - elbo
    assert abs(float(diff.mean())) < 3 * float(diff.std()) / math.sqrt(len(diff)) + 0.05
    l20 = iwae_log_likelihood(model, x, k=20, generator=g)
    assert float(l20.mean()) > float(elbo.mean())


def exact_posterior_vae(x_dim=5, z_dim=2, sigma=0.5):
    """Linear Gaussian model whose encoder is its exact posterior (diagonal: W has orthogonal columns)."""
    model = linear_gaussian_vae(x_dim=x_dim, z_dim=z_dim, sigma=sigma)
    q, _ = torch.linalg.qr(torch.randn(x_dim, z_dim, generator=torch.Generator().manual_seed(4)))
    w = q * torch.tensor([1.5, 0.7])
    b = torch.randn(x_dim, generator=torch.Generator().manual_seed(5))
    post_var = 1.0 / (1.0 + (w * w).sum(0) / sigma**2)  # (I + W^T W / sigma^2)^-1, diagonal
    a = post_var[:, None] * w.T / sigma**2  # posterior mean = a (x - b)
    with torch.no_grad():
        model.decoder[0].weight.copy_(w)
        model.decoder[0].bias.copy_(b)
        model.encoder.weight.zero_()
        model.encoder.weight[:z_dim] = a
        model.encoder.bias[:z_dim] = -a @ b
        model.encoder.bias[z_dim:] = post_var.log()
    return model


def test_with_the_exact_posterior_every_importance_weight_is_p_x():
    model = exact_posterior_vae()
    x = torch.randn(30, 5) * 2
    exact = exact_log_px(model, x)
    for k, batch_size, max_rows in ((1, 30, 10_000), (40, 30, 10_000), (40, 7, 50)):
        estimate = iwae_log_likelihood(model, x, k=k, batch_size=batch_size, max_rows=max_rows)
        assert estimate.shape == (30,)
        torch.testing.assert_close(estimate, exact, rtol=0, atol=1e-4)
    with pytest.raises(ValueError):
        iwae_log_likelihood(model, x, k=0)


def test_active_units_counts_only_dimensions_that_depend_on_x():
    model = build_model(VAEConfig(x_shape=(4, 4), z_dim=5, hidden=(8,)))
    with torch.no_grad():
        last = model.encoder.net[-1]
        last.weight[[1, 3]] = 0.0  # mu_1 and mu_3 ignore x
        last.bias[[1, 3]] = 0.7
    n, activity = active_units(model, torch.rand(300, 4, 4))
    assert activity.shape == (5,) and activity[1] == 0 and activity[3] == 0
    assert n == int((activity > 0.01).sum()) and n <= 3


def test_manifold_grid_uses_the_inverse_normal_cdf():
    z = manifold_grid_z(n=5, z_dim=3, dims=(0, 2), eps=0.05)
    assert z.shape == (25, 3) and torch.all(z[:, 1] == 0)
    assert z[0, 0] == pytest.approx(-1.6449, abs=1e-3) and z[4, 0] == pytest.approx(1.6449, abs=1e-3)
    assert z[0, 2] == pytest.approx(1.6449, abs=1e-3) and z[-1, 2] == pytest.approx(-1.6449, abs=1e-3)
    assert z[12, 0] == pytest.approx(0.0, abs=1e-6)
    model = build_model(VAEConfig(x_shape=(4, 4), z_dim=2, hidden=(8,)))
    assert decode_manifold_grid(model, n=3).shape == (9, 4, 4)


def test_projection_reconstructions_samples_and_summary():
    z = np.random.default_rng(0).normal(size=(50, 6))
    assert project_latent(z).shape == (50, 2)
    assert np.array_equal(project_latent(z[:, :2]), z[:, :2].astype(np.float32))
    with pytest.raises(ValueError):
        project_latent(z, method="tsne")
    model = build_model(VAEConfig(x_shape=(4, 4), z_dim=3, hidden=(8,)))
    x = (torch.rand(20, 4, 4) > 0.5).float()
    seen, rec = reconstructions(model, x)
    assert seen.shape == rec.shape == (20, 4, 4) and rec.min() >= 0 and rec.max() <= 1
    a, b = prior_samples(model, 6, seed=1), prior_samples(model, 6, seed=1)
    assert a.shape == (6, 4, 4) and torch.equal(a, b)
    summary = evaluate_model(model, x, k=5, generator=torch.Generator().manual_seed(7))
    assert set(summary) == {"elbo", "rec", "kl", "nll", "k", "active_units"}
    assert summary["nll"] <= -summary["elbo"] + 1.0
    # rec and kl by hand from the same draw of z (the first use of the generator): BCE of the
    # decoder's probabilities and the closed-form Gaussian KL
    with torch.no_grad():
        mu, logvar = model.encode(x)
        eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(7))
        probs = torch.sigmoid(model.decode(mu + torch.exp(0.5 * logvar) * eps)[:, 0])
        rec = nn.functional.binary_cross_entropy(probs, x, reduction="none").sum((1, 2)).mean()
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
    assert summary["rec"] == pytest.approx(float(rec), rel=1e-5)
    assert summary["kl"] == pytest.approx(float(kl), rel=1e-5)
    assert summary["elbo"] == pytest.approx(-summary["rec"] - summary["kl"], rel=1e-6)
