"""The VAE core: shapes over a grid of configs, the KL and the likelihoods against torch.distributions,
config round-trips and rebuilding from a config dict."""

import json
import math

import pytest
import torch
from torch import distributions as D

from helpers.models import (
    VAE,
    AutoregressiveBernoulli,
    Bernoulli,
    Gaussian,
    Laplace,
    VAEConfig,
    build_model,
    gaussian_kl,
    log_normal_diag,
    log_normal_standard,
)

LIKELIHOODS = [("bernoulli", "fixed"), ("bernoulli_ar", "fixed"), ("gaussian", "fixed"), ("gaussian", "learned"),
               ("gaussian", "per_feature"), ("laplace", "fixed"), ("laplace", "learned")]
SHAPES = {"mlp": [(28, 28), (24,), (1, 12, 10)], "conv": [(28, 28), (1, 12, 10), (2, 9, 16)],
          "conv_frames": [(1, 12, 10), (2, 9, 16)]}
CASES = [(arch, shape, lik, scale) for arch, shapes in SHAPES.items() for shape in shapes
         for lik, scale in LIKELIHOODS]


def small_config(**kw):
    base = dict(z_dim=3, hidden=(16,), conv_channels=(4, 8), conv_hidden=16)
    base.update(kw)
    return VAEConfig(**base)


@pytest.mark.parametrize("arch,shape,lik,scale", CASES)
def test_shapes_over_configs(arch, shape, lik, scale):
    torch.manual_seed(0)
    model = build_model(small_config(architecture=arch, x_shape=shape, likelihood=lik, scale=scale))
    x = torch.rand(5, *shape)
    out = model(x)
    assert out["loss"].shape == ()
    for key in ("elbo", "rec", "kl"):
        assert out[key].shape == (5,) and torch.isfinite(out[key]).all()
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, 3)
    n_params = 2 if scale == "learned" and lik != "bernoulli" else 1
    assert model.decode(mu).shape == (5, n_params, *shape)
    assert model.reconstruct(x).shape == (5, *shape)
    assert model.sample(4).shape == (4, *shape)
    assert model.sample(4, mean=False).shape == (4, *shape)
    out["loss"].backward()
    assert all(p.grad is not None for p in model.parameters())


def test_conv_with_residual_blocks_and_mnist_defaults():
    model = build_model(VAEConfig(architecture="conv", n_res_blocks=1, conv_channels=(8, 16), conv_hidden=32))
    assert model(torch.rand(2, 28, 28))["elbo"].shape == (2,)
    mlp = build_model(VAEConfig())  # 784-400-20 of pytorch/examples
    sizes = [m.weight.shape for m in mlp.encoder.modules() if isinstance(m, torch.nn.Linear)]
    assert sizes == [(400, 784), (40, 400)]


def test_gaussian_kl_matches_torch_distributions():
    torch.manual_seed(1)
    mu, logvar = torch.randn(7, 5) * 2, torch.randn(7, 5)
    q = D.Normal(mu, torch.exp(0.5 * logvar))
    p = D.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = D.kl_divergence(q, p).sum(-1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), expected, rtol=1e-5, atol=1e-5)
    assert torch.all(gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4)) == 0)


def test_log_normal_densities_match_torch():
    torch.manual_seed(2)
    z, mu, logvar = torch.randn(6, 4), torch.randn(6, 4), torch.randn(6, 4)
    torch.testing.assert_close(log_normal_standard(z), D.Normal(0.0, 1.0).log_prob(z).sum(-1))
    torch.testing.assert_close(log_normal_diag(z, mu, logvar),
                               D.Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1))


def test_likelihoods_match_torch_distributions():
    torch.manual_seed(3)
    shape = (4, 3, 5)
    loc, raw_scale = torch.randn(*shape), torch.randn(*shape) * 0.5
    x_cont, x_bin = torch.randn(*shape), torch.bernoulli(torch.full(shape, 0.3))
    params1, params2 = loc.unsqueeze(1), torch.stack([loc, raw_scale], 1)
    torch.testing.assert_close(Bernoulli().log_prob(params1, x_bin),
                               D.Bernoulli(logits=loc).log_prob(x_bin).sum((1, 2)))
    for cls, ref in ((Gaussian, D.Normal), (Laplace, D.Laplace)):
        fixed = cls((3, 5), scale="fixed", init_scale=0.7)
        torch.testing.assert_close(fixed.log_prob(params1, x_cont), ref(loc, 0.7).log_prob(x_cont).sum((1, 2)))
        learned = cls((3, 5), scale="learned", min_log_scale=-30.0)  # floor far away: s is used as is
        torch.testing.assert_close(learned.log_prob(params2, x_cont),
                                   ref(loc, raw_scale.exp()).log_prob(x_cont).sum((1, 2)), rtol=1e-4, atol=1e-4)
        per_feature = cls((3, 5), scale="per_feature", init_scale=2.0)
        assert per_feature.log_scale_param.shape == (3, 5)
        torch.testing.assert_close(per_feature.log_prob(params1, x_cont),
                                   ref(loc, 2.0).log_prob(x_cont).sum((1, 2)), rtol=1e-4, atol=1e-4)


def test_bernoulli_is_stable_for_extreme_logits():
    logits = torch.tensor([[-200.0, 200.0, 0.0]]).unsqueeze(1)
    x = torch.tensor([[1.0, 0.0, 1.0]])
    lp = Bernoulli().log_prob(logits, x)
    torch.testing.assert_close(lp, torch.tensor([-400.0 - math.log(2)]))


def test_learned_scale_has_a_floor_and_samples_have_the_right_spread():
    g = Gaussian((1000,), scale="learned", min_log_scale=-3.0)
    params = torch.stack([torch.zeros(2, 1000), torch.full((2, 1000), -50.0)], 1)
    assert torch.all(g.log_scale(params) >= -3.0)
    gen = torch.Generator().manual_seed(0)
    for dist, std in ((Gaussian((20000,), init_scale=0.5), 0.5), (Laplace((20000,), init_scale=0.5), 0.5 * math.sqrt(2))):
        s = dist.sample(torch.zeros(1, 1, 20000), generator=gen)
        assert abs(float(s.std()) - std) < 0.03 and abs(float(s.mean())) < 0.03
    b = Bernoulli().sample(torch.zeros(3, 1, 50), generator=gen)
    assert set(b.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("cls", [Gaussian, Laplace])
def test_learned_scale_starts_at_init_scale(cls):
    dist = cls((3, 5), scale="learned", init_scale=0.2, min_log_scale=-30.0)
    loc, raw = torch.randn(4, 3, 5), torch.randn(4, 3, 5) * 0.5
    torch.testing.assert_close(dist.log_scale(torch.stack([loc, torch.zeros_like(loc)], 1)),
                               torch.full((4, 3, 5), math.log(0.2)))
    ref = D.Normal if cls is Gaussian else D.Laplace  # the decoder's output is an offset from log 0.2
    x = torch.randn(4, 3, 5)
    torch.testing.assert_close(dist.log_prob(torch.stack([loc, raw], 1), x),
                               ref(loc, 0.2 * raw.exp()).log_prob(x).sum((1, 2)), rtol=1e-4, atol=1e-4)
    torch.manual_seed(0)  # a fresh model starts near init_scale, whatever init_scale is
    for init in (0.05, 3.0):
        model = build_model(small_config(x_shape=(24,), likelihood=cls.__name__.lower(), scale="learned",
                                         init_scale=init))
        scale = model.likelihood.log_scale(model.decode(torch.randn(64, 3))).exp()
        assert init / 2 < float(scale.median()) < init * 2


def test_config_json_round_trip_and_rebuild():
    config = VAEConfig(architecture="conv", x_shape=(1, 12, 10), hidden=(64, 32), conv_channels=(4, 8),
                       likelihood="gaussian", scale="learned", beta=2.5)
    d = json.loads(json.dumps(config.to_dict()))
    again = VAEConfig.from_dict(d)
    assert again == config and isinstance(again.x_shape, tuple) and isinstance(again.hidden, tuple)
    assert VAEConfig.from_json(config.to_json()) == config
    model = build_model(d)
    assert isinstance(model, VAE) and model.beta == 2.5 and model.config == config
    torch.manual_seed(0)
    a = build_model(config)
    b = build_model(config.to_dict())
    b.load_state_dict(a.state_dict())
    x = torch.rand(3, 1, 12, 10)
    torch.testing.assert_close(a.reconstruct(x), b.reconstruct(x))


def test_config_hash_is_the_sha1_of_the_canonical_json_everywhere():
    import hashlib

    from helpers.hashing import canonical_json, config_hash
    from helpers.training import run

    assert canonical_json({"b": (1, 2), "a": 0.5}) == '{"a":0.5,"b":[1,2]}'
    assert config_hash({"b": (1, 2), "a": 0.5}) == hashlib.sha1(b'{"a":0.5,"b":[1,2]}').hexdigest()[:8]
    assert run.config_hash is config_hash  # run folders keep their names
    config = VAEConfig(z_dim=4, hidden=(8, 8))
    assert config.config_hash() == config_hash(config.to_dict())
    assert VAEConfig.from_json(config.to_json()).config_hash() == config.config_hash()
    assert config.replace(beta=2.0).config_hash() != config.config_hash()
    assert len(config.config_hash(12)) == 12
    with pytest.raises(ValueError, match="length"):
        config.config_hash(41)


def test_config_rejects_unknown_fields_and_values():
    with pytest.raises(ValueError, match="unknown field.*z_size"):
        VAEConfig.from_dict({"z_size": 3})
    with pytest.raises(ValueError, match="architecture"):
        build_model(VAEConfig(architecture="transformer"))
    with pytest.raises(ValueError, match="likelihood"):
        build_model(VAEConfig(likelihood="poisson"))
    with pytest.raises(ValueError, match="not registered"):
        build_model({"model": "nope"})


def ar_with_random_links(x_shape, seed=0):
    dist = AutoregressiveBernoulli(x_shape)
    with torch.no_grad():
        dist.weight.copy_(torch.randn(dist.dim, dist.dim, generator=torch.Generator().manual_seed(seed)))
    return dist


def test_autoregressive_bernoulli_matches_a_pixel_by_pixel_loop():
    dist = ar_with_random_links((2, 3))
    h = torch.randn(4, 1, 2, 3)
    x = torch.bernoulli(torch.full((4, 2, 3), 0.5))
    xf, hf, a = x.reshape(4, 6), h.reshape(4, 6), dist.weight
    expected = torch.zeros(4)
    for i in range(6):
        logit = hf[:, i] + (xf[:, :i] * a[i, :i]).sum(1)  # only the elements before i
        expected += D.Bernoulli(logits=logit).log_prob(xf[:, i])
    torch.testing.assert_close(dist.log_prob(h, x), expected, rtol=1e-5, atol=1e-5)
    fresh = AutoregressiveBernoulli((2, 3))  # zero links: the plain Bernoulli
    torch.testing.assert_close(fresh.log_prob(h, x), Bernoulli().log_prob(h, x))
    torch.testing.assert_close(fresh.mean(h), torch.sigmoid(h[:, 0]))


def test_autoregressive_bernoulli_is_causal_and_samples_its_conditionals():
    dist = ar_with_random_links((5,), seed=1)
    x = torch.rand(1, 5, requires_grad=True)
    jac = torch.autograd.functional.jacobian(lambda v: dist.logits(torch.zeros(1, 1, 5), v)[0], x)[:, 0]
    below = torch.ones(5, 5).tril(-1).bool()
    assert torch.all(jac[~below] == 0) and torch.all(jac[below] != 0)  # logit i depends on x_<i only
    two = AutoregressiveBernoulli((2,))
    with torch.no_grad():
        two.weight[1, 0] = 2.0
    h = torch.tensor([0.3, -0.2]).view(1, 1, 2).expand(40000, 1, 2)
    s = two.sample(h, generator=torch.Generator().manual_seed(0))
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    p1 = float(s[:, 0].mean())
    p2_given_1 = float(s[s[:, 0] == 1, 1].mean())
    p2_given_0 = float(s[s[:, 0] == 0, 1].mean())
    assert abs(p1 - torch.sigmoid(torch.tensor(0.3)).item()) < 0.01
    assert abs(p2_given_1 - torch.sigmoid(torch.tensor(1.8)).item()) < 0.01
    assert abs(p2_given_0 - torch.sigmoid(torch.tensor(-0.2)).item()) < 0.015
    m = two.mean(h[:1])  # mean field: the second element sees the probability of the first
    expected = torch.sigmoid(torch.tensor(-0.2 + 2.0 * torch.sigmoid(torch.tensor(0.3)).item()))
    torch.testing.assert_close(m[0, 1], expected)


def test_autoregressive_links_stay_in_fp32_under_bf16_autocast():
    dist = ar_with_random_links((8, 8), seed=2)
    h = torch.randn(16, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    x = torch.bernoulli(torch.full((16, 8, 8), 0.3), generator=torch.Generator().manual_seed(1))
    expected = dist.log_prob(h, x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        in_bf16 = dist.log_prob(h, x)
        links_bf16 = x.reshape(16, 64) @ dist.masked_weight().T  # what autocast does to a plain product
    assert in_bf16.dtype == torch.float32 and links_bf16.dtype == torch.bfloat16
    torch.testing.assert_close(in_bf16, expected, rtol=1e-6, atol=1e-5)
    exact = x.reshape(16, 64) @ dist.masked_weight().T
    assert (links_bf16.float() - exact).abs().max() > 1e-3  # the tolerance above is tight enough to see bf16


def test_frame_decoder_draws_each_frame_from_z_and_its_position():
    from helpers.models.networks import FrameDecoder

    torch.manual_seed(0)
    dec = FrameDecoder((1, 7, 5), z_dim=3, n_params=2, hidden=(16,))
    z = torch.randn(4, 3)
    out = dec(z)
    assert out.shape == (4, 2, 1, 7, 5)
    # frame t depends on z and on t only: the same z gives the same frames, in any batch
    assert torch.allclose(dec(z[:1]), out[:1], atol=1e-6)
    with torch.no_grad():
        dec.time[2] = dec.time[1]
    same = dec(z)
    assert torch.allclose(same[..., 1], same[..., 2]) and not torch.allclose(same[..., 0], same[..., 1])
    # it learns: a few steps fit one spectrogram
    target = torch.rand(1, 1, 7, 5)
    opt = torch.optim.Adam(dec.parameters(), lr=1e-2)
    losses = []
    for _ in range(50):
        opt.zero_grad()
        loss = ((dec(z[:1])[:, :1] - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]
