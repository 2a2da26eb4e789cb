"""Latent regions: every region's draws have the property it claims."""

import math

import pytest
import torch

from helpers.latent import regions
from helpers.models import VAE, VAEConfig
from helpers.models.priors import CodeGaussian, StandardNormal
from helpers.models.vae import gaussian_kl

D = 6


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def codes():
    """Training codes in a thin blob away from the origin: the prior's holes are easy to find."""
    g = gen(1)
    return torch.randn(2000, D, generator=g) * 0.4 + torch.tensor([1.0, -0.5, 0, 0, 0, 0])


@pytest.fixture(scope="module")
def density(codes):
    return CodeGaussian.fit(codes)


def test_every_region_is_a_seeded_sampler(codes, density):
    made = [regions.data_region(density), regions.holes(density, D), regions.shell(D, 2.0),
            regions.inactive(torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0, 0.001]), push=3.0),
            regions.extrapolation(codes, 1.5)]
    names = ["data", "holes", "shell", "inactive", "extrapolation"]
    params = ["temperature", "quantile", "radius", "push", "t"]
    for region, name, param in zip(made, names, params):
        assert (region.name, region.parameter, region.dim) == (name, param, D)
        a, b = region.sample(50, generator=gen(3)), region.sample(50, generator=gen(3))
        assert a.shape == (50, D) and a.dtype == torch.float32 and torch.isfinite(a).all()
        assert torch.equal(a, b), name
        assert not torch.equal(a, region.sample(50, generator=gen(4))), name
        with pytest.raises(ValueError, match="n=0"):
            region.sample(0)
    assert made[2].value == 2.0 and made[4].value == 1.5


def test_data_region_draws_the_density(density):
    z = regions.data_region(density, temperature=0.5).sample(2000, generator=gen())
    assert torch.equal(z, density.sample(2000, generator=gen(), temperature=0.5))
    assert torch.allclose(z.mean(0), density.mean, atol=0.05)
    with pytest.raises(ValueError, match="temperature"):
        regions.data_region(density, temperature=-1.0)
    with pytest.raises(ValueError, match="density"):
        regions.data_region(torch.zeros(3))


@pytest.mark.parametrize("radius", [1.0, 2.0, 3.0])
def test_shell_radii_and_uniform_directions(radius):
    z = regions.shell(32, radius).sample(4000, generator=gen())
    assert torch.allclose(z.norm(dim=1), torch.full((4000,), radius * math.sqrt(32)), rtol=1e-5)
    directions = z / z.norm(dim=1, keepdim=True)
    assert directions.mean(0).abs().max() < 0.02                                # no preferred direction
    # radius 1 is where the prior lives: |z| / sqrt(D) of prior draws is about 1
    prior_norms = StandardNormal(32).sample(4000, generator=gen()).norm(dim=1) / math.sqrt(32)
    assert abs(prior_norms.mean().item() - 1.0) < 0.05
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="radius"):
            regions.shell(32, bad)
    with pytest.raises(ValueError, match="dim"):
        regions.shell(0, 1.0)


def test_holes_are_prior_likely_and_posterior_unlikely(density):
    region = regions.holes(density, D, quantile=0.05)
    z = region.sample(1000, generator=gen())
    prior = StandardNormal(D)
    z_prior = prior.sample(1000, generator=gen(7))
    log_q_holes, log_q_prior = density.log_prob(z), density.log_prob(z_prior)
    assert (log_q_holes <= region.threshold + 1e-6).all()
    assert log_q_holes.mean() < log_q_prior.mean() - 5                       # posterior-unlikely
    assert (log_q_holes < torch.quantile(log_q_prior, 0.2)).float().mean() > 0.95
    # prior draws: mostly within the prior's own range (the lowest q lies in the prior's outer part)
    log_p_prior = prior.log_prob(z_prior)
    assert (prior.log_prob(z) > torch.quantile(log_p_prior, 0.001)).float().mean() > 0.9
    # with prior_quantile, prior-likely by construction: all in the prior's more likely half
    likely = regions.holes(density, D, quantile=0.05, prior_quantile=0.5)
    z_likely = likely.sample(500, generator=gen())
    assert (prior.log_prob(z_likely) >= likely.prior_floor - 1e-6).all()
    assert (prior.log_prob(z_likely) > torch.quantile(log_p_prior, 0.45)).all()
    assert density.log_prob(z_likely).mean() < log_q_prior.mean() - 2
    # the holes of this density lie opposite its centre: the holes' mean points away from it
    assert torch.dot(z.mean(0), density.mean) < 0
    for kwargs, name in [({"quantile": 0.0}, "quantile"), ({"quantile": 1.0}, "quantile"),
                         ({"oversample": 0}, "oversample"), ({"prior_quantile": 1.0}, "prior_quantile")]:
        with pytest.raises(ValueError, match=name):
            regions.holes(density, D, **kwargs)
    with pytest.raises(ValueError, match="dim"):
        regions.holes(density, D + 1)


def test_inactive_pushes_only_the_dimensions_below_threshold(density):
    kl = torch.tensor([2.0, 0.5, 0.001, 0.3, 0.0, 0.02])
    region = regions.inactive(kl, push=4.0, threshold=0.01, base=density)
    assert region.dims.tolist() == [2, 4]
    z = region.sample(500, generator=gen())
    assert torch.equal(z[:, [2, 4]].abs(), torch.full((500, 2), 4.0))
    assert (z[:, 2] > 0).float().mean().item() == pytest.approx(0.5, abs=0.08)  # both signs
    base = density.sample(500, generator=gen())
    active = [0, 1, 3, 5]
    assert torch.equal(z[:, active], base[:, active])                          # the rest unchanged
    prior_region = regions.inactive(kl, push=0.0)
    assert prior_region.sample(10, generator=gen()).abs()[:, [2, 4]].max() == 0
    assert prior_region.parameter == "push" and prior_region.value == 0.0
    with pytest.raises(ValueError, match="threshold"):
        regions.inactive(torch.ones(D), push=3.0)
    assert regions.inactive(torch.arange(1.0, 7.0), push=3.0, at_least=2).dims.tolist() == [0, 1]
    with pytest.raises(ValueError, match="push"):
        regions.inactive(kl, push=-1.0)
    with pytest.raises(ValueError, match="base"):
        regions.inactive(kl, push=1.0, base=StandardNormal(D + 1))
    with pytest.raises(ValueError, match="kl_per_dim"):
        regions.inactive(torch.ones(2, 3), push=1.0)


def test_extrapolation_lies_on_the_line_beyond_z_b():
    codes = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    t = 2.5
    z = regions.extrapolation(codes, t).sample(200, generator=gen())
    # every draw is z_a + t (z_b - z_a) for some ordered pair a != b of the codes
    candidates = torch.stack([codes[a] + t * (codes[b] - codes[a]) for a in range(4) for b in range(4) if a != b])
    nearest = torch.cdist(z, candidates).min(1).values
    assert nearest.max() < 1e-5
    assert len(torch.unique(z, dim=0)) > 6                                       # many pairs used
    # beyond z_b: farther from z_a than z_b is, on the same ray
    for a in range(4):
        for b in range(4):
            if a != b:
                point = codes[a] + t * (codes[b] - codes[a])
                assert (point - codes[a]).norm() == pytest.approx(t * (codes[b] - codes[a]).norm())
    at_one = regions.extrapolation(codes, 1.0).sample(50, generator=gen())
    assert torch.cdist(at_one, codes).min(1).values.max() < 1e-6                 # t = 1: the codes
    with pytest.raises(ValueError, match="t=0.5"):
        regions.extrapolation(codes, 0.5)
    with pytest.raises(ValueError, match="codes"):
        regions.extrapolation(codes[:1], 2.0)


def test_kl_per_dimension_sums_to_the_kl_and_finds_collapsed_units():
    torch.manual_seed(0)
    model = VAE.from_config(VAEConfig(x_shape=(4, 4), z_dim=5, hidden=(16,)))
    last = model.encoder.net[-1]
    with torch.no_grad():  # unit 3: mu = 0 and logvar = 0 for every x, q(z_3|x) = N(0, 1)
        for row in (3, 5 + 3):
            last.weight[row] = 0
            last.bias[row] = 0
    x = (torch.rand(37, 4, 4) * 255).to(torch.uint8)
    model.train()
    kl = regions.kl_per_dimension(model, x, batch_size=10, progress=False)
    assert kl.shape == (5,) and model.training                                   # mode restored
    mu, logvar = model.encode(x.float() / 255)
    assert kl.sum().item() == pytest.approx(gaussian_kl(mu, logvar).mean().item(), rel=1e-5)
    assert kl[3].item() == pytest.approx(0.0, abs=1e-7)
    assert regions.inactive_dimensions(kl).tolist() == [3]
    with pytest.raises(ValueError, match="x is empty"):
        regions.kl_per_dimension(model, x[:0])
    with pytest.raises(ValueError, match="batch_size"):
        regions.kl_per_dimension(model, x, batch_size=0)


def test_distance_to_data_euclidean_and_mahalanobis():
    codes = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    z = torch.tensor([[0.0, 2.0], [7.0, 0.0], [10.0, 0.0]])
    assert regions.distance_to_data(z, codes).tolist() == pytest.approx([2.0, 3.0, 0.0])
    g = CodeGaussian(torch.zeros(2), torch.diag(torch.tensor([1.0, 4.0])))     # spread 4 along axis 1
    assert regions.distance_to_data(z, codes, gaussian=g).tolist() == pytest.approx([0.5, 3.0, 0.0])
    assert regions.mahalanobis_norm(torch.tensor([[0.0, 4.0], [2.0, 0.0]]), g).tolist() == \
        pytest.approx([1 / math.sqrt(2), 2 / math.sqrt(2)])
    with pytest.raises(ValueError, match="same D"):
        regions.distance_to_data(z, torch.zeros(3, 3))
