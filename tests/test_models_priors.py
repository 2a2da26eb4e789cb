"""Densities over latent codes: log-densities agree with torch.distributions, samples follow
the fitted density, the mixture picks its components by held-out likelihood."""

import math

import pytest
import torch

from helpers.models.priors import CodeGaussian, CodeMixture, StandardNormal, fit_density


def blobs(n_per=400, centres=((-4.0, 0.0), (4.0, 0.0), (0.0, 5.0)), seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.cat([torch.tensor(c) + 0.5 * torch.randn(n_per, 2, generator=g) for c in centres])


def test_standard_normal_log_prob_matches_torch():
    z = torch.randn(50, 3, generator=torch.Generator().manual_seed(1))
    expected = torch.distributions.MultivariateNormal(torch.zeros(3), torch.eye(3)).log_prob(z)
    assert torch.allclose(StandardNormal(3).log_prob(z).float(), expected, atol=1e-5)
    assert StandardNormal(3).sample(7, generator=torch.Generator().manual_seed(0)).shape == (7, 3)


def test_code_gaussian_log_prob_matches_torch_and_samples_follow_it():
    g = torch.Generator().manual_seed(0)
    a = torch.tensor([[1.0, 0.0, 0.0], [0.8, 0.5, 0.0], [-0.3, 0.2, 0.3]])
    z = torch.randn(5000, 3, generator=g) @ a.T + torch.tensor([1.0, -2.0, 0.5])
    q = CodeGaussian.fit(z)
    ref = torch.distributions.MultivariateNormal(z.mean(0), torch.cov(z.T))
    assert torch.allclose(q.log_prob(z[:20]).float(), ref.log_prob(z[:20]), atol=1e-3)
    draws = q.sample(20000, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(torch.cov(draws.T), torch.cov(z.T), atol=0.05)


def test_mixture_chooses_the_number_of_blobs_and_samples_them():
    z = blobs()
    q = CodeMixture.fit(z, n_components=(1, 2, 3, 6), seed=0)
    assert set(q.selection) == {1, 2, 3, 6}
    assert q.selection[3] > q.selection[2] > q.selection[1]
    assert q.n_components in (3, 6)
    assert q.log_prob(z).mean() > CodeGaussian.fit(z).log_prob(z).mean() + 0.5
    draws = q.sample(3000, generator=torch.Generator().manual_seed(0))
    # every draw lies near one of the blobs, none in the empty middle between them
    centres = torch.tensor([[-4.0, 0.0], [4.0, 0.0], [0.0, 5.0]])
    assert (torch.cdist(draws, centres).min(1).values < 2.5).float().mean() > 0.99
    # the density integrates to about one (grid over the box holding the blobs)
    xs = torch.linspace(-8, 8, 161)
    grid = torch.cartesian_prod(xs, torch.linspace(-4, 9, 131))
    mass = q.log_prob(grid).exp().sum().item() * (16 / 160) * (13 / 130)
    assert mass == pytest.approx(1.0, abs=0.02)


def test_mixture_is_seeded_and_temperature_shrinks():
    q = CodeMixture.fit(blobs(), n_components=3)
    a = q.sample(100, generator=torch.Generator().manual_seed(5))
    b = q.sample(100, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    cold = q.sample(2000, generator=torch.Generator().manual_seed(0), temperature=0.1)
    assert torch.cdist(cold, q.means).min(1).values.max() < 0.5


def test_fit_density_and_bad_input():
    z = blobs(n_per=50)
    assert isinstance(fit_density("prior", z), StandardNormal)
    assert isinstance(fit_density("gaussian", z), CodeGaussian)
    assert isinstance(fit_density("mixture", z, n_components=2), CodeMixture)
    with pytest.raises(ValueError, match="kind"):
        fit_density("flow", z)
    with pytest.raises(ValueError, match="n_components"):
        CodeMixture.fit(z, n_components=0)
    with pytest.raises(ValueError, match="NaN"):
        CodeMixture.fit(torch.full((10, 2), math.nan))
    with pytest.raises(ValueError, match="temperature"):
        CodeMixture.fit(z, n_components=1).sample(3, temperature=-1)


def test_code_kde_picks_a_bandwidth_on_held_out_codes_and_round_trips():
    from helpers.models.priors import CodeKDE, density_from_state, density_state, fit_density

    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[4.0, 0.0], [-4.0, 0.0]])
    z = centres[torch.randint(0, 2, (400,), generator=g)] + 0.3 * torch.randn(400, 2, generator=g)
    kde = fit_density("kde", z, bandwidths=(0.01, 0.1, 1.0, 3.0))
    assert isinstance(kde, CodeKDE) and set(kde.selection) == {0.01, 0.1, 1.0, 3.0}
    assert kde.bandwidth == max(kde.selection, key=kde.selection.get) and kde.bandwidth not in (0.01, 3.0)
    draws = kde.sample(500, generator=torch.Generator().manual_seed(1))
    assert draws.shape == (500, 2)
    # draws stay near the two clusters, never in the empty middle
    assert (draws[:, 0].abs() > 2).float().mean() > 0.97
    assert kde.log_prob(torch.tensor([[4.0, 0.0]])) > kde.log_prob(torch.tensor([[0.0, 0.0]])) + 5
    back = density_from_state(density_state(kde))
    assert torch.allclose(back.log_prob(draws[:5]), kde.log_prob(draws[:5])) and back.bandwidth == pytest.approx(kde.bandwidth)
    with pytest.raises(ValueError, match="bandwidths"):
        CodeKDE.fit(z, bandwidths=(0.0,))
