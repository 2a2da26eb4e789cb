"""Latent search with a frozen generator: the objective rises, the radius holds, the model is untouched."""

import math

import pandas as pd
import pytest
import torch

from hacking_models import mnist_vae, note_vae, trained_mnist_vae
from helpers.evaluation.judges import NOISE, Judge
from helpers.hacking import (SearchConfig, judge_score, latent_search, negative_elbo, time_search_step,
                             weights_fingerprint)
from helpers.hacking.search import decoded_mean
from helpers.models import Classifier, ClassifierConfig, build_model
from helpers.models.vae import VAEConfig


def image_judge(noise=True, seed=0):
    torch.manual_seed(seed)
    classes = ("0", "1", "A") + ((NOISE,) if noise else ())
    model = Classifier(ClassifierConfig(n_classes=len(classes), channels=(4,), dense=8))
    return Judge(model, classes, ("0", "1"), ("A",), temperature=0.5)


def spectrum_judge(n_freq=204, seed=0):
    torch.manual_seed(seed)
    model = Classifier(ClassifierConfig(input="spectrum", x_shape=(n_freq, 16), n_classes=3, channels=(4,), dense=8,
                                        freq_axis="log"))
    return Judge(model, ("violin", "tuba", NOISE), ("violin",), ("tuba",))


def model_state(model):
    return weights_fingerprint(model), [p.requires_grad for p in model.parameters()], \
        [p.grad is None for p in model.parameters()]


def test_negative_elbo_is_per_example_and_differentiable_in_x():
    model = mnist_vae()
    x = torch.rand(5, 28, 28, requires_grad=True)
    value = negative_elbo(model, x, n_samples=2, generator=torch.Generator().manual_seed(0))
    assert value.shape == (5,) and torch.isfinite(value).all()
    (grad,) = torch.autograd.grad(value.sum(), x)
    assert grad.shape == x.shape and grad.abs().sum() > 0
    mu, logvar = model.encode(x)
    manual = -model.log_prob(model.decode(mu), x) + 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1)
    assert torch.allclose(negative_elbo(model, x, n_samples=0), manual)
    a = negative_elbo(model, x, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, negative_elbo(model, x, generator=torch.Generator().manual_seed(3)))


def test_decoded_mean_matches_the_model_and_keeps_the_gradient():
    model = mnist_vae()
    z = torch.randn(4, 8, requires_grad=True)
    x = decoded_mean(model, z)
    assert torch.allclose(x.detach(), model.decode_to_x(z.detach())) and x.requires_grad
    ar = build_model(VAEConfig(x_shape=(6, 6), z_dim=3, hidden=(8,), likelihood="bernoulli_ar"))
    with torch.no_grad():
        ar.likelihood.weight.normal_(0, 0.3)
    z = torch.randn(4, 3)
    assert torch.allclose(decoded_mean(ar, z, n_iter=36), ar.decode_to_x(z), atol=1e-5)  # exact after D steps


def test_judge_scores_add_up_and_are_differentiable():
    judge = image_judge()
    x = torch.rand(6, 28, 28, requires_grad=True)
    noise, out, inside = (judge_score(judge, x, k) for k in ("noise", "out", "in"))
    assert torch.allclose(noise + out + inside, torch.ones(6), atol=1e-5)
    assert torch.allclose(noise.detach(), judge.probs(x.detach())[:, 3], atol=1e-6)
    assert torch.autograd.grad(noise.sum(), x)[0].abs().sum() > 0
    plain = image_judge(noise=False)
    probs = plain.probs(x.detach())
    assert torch.allclose(judge_score(plain, x, "noise").detach(), 1 - probs[:, :2].max(1).values, atol=1e-6)
    with pytest.raises(ValueError, match="kind"):
        judge_score(judge, x, "weird")


@pytest.mark.parametrize("factory", [trained_mnist_vae, note_vae])
def test_unlikelihood_search_raises_the_objective_and_leaves_the_model_alone(factory):
    model = factory()
    state = model_state(model)
    z0 = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    result = latent_search(model, z0, SearchConfig(n_steps=30, lr=0.1), progress=False)
    assert model_state(model) == state  # weights, requires_grad flags and .grad untouched
    start = negative_elbo(model, decoded_mean(model, z0), n_samples=8, generator=torch.Generator().manual_seed(1))
    assert result.objective.mean() > start.detach().mean() + 10.0
    assert result.z.shape == z0.shape and result.x.shape == (16, *model.x_shape) and result.objective.shape == (16,)
    assert not result.x.requires_grad and not result.z.requires_grad
    h = result.history
    assert isinstance(h, pd.DataFrame) and list(h.columns) == ["step", "objective_mean", "objective_median",
                                                               "radius_mean", "seconds"]
    assert len(h) == 30 and h["step"].tolist() == list(range(1, 31)) and h["seconds"].is_monotonic_increasing
    assert h["objective_mean"].iloc[-5:].mean() > h["objective_mean"].iloc[:5].mean()


def test_the_radius_penalty_pulls_the_codes_in_and_projection_holds_them():
    model = note_vae()  # its unlikelihood grows with |z|: the codes are pushed outwards
    z0 = torch.randn(16, 8, generator=torch.Generator().manual_seed(0)) * 0.3
    radius = lambda z: z.norm(dim=1) / math.sqrt(8)  # noqa: E731
    runs = {name: latent_search(model, z0, SearchConfig(n_steps=40, lr=0.1, **kw), progress=False)
            for name, kw in [("free", dict(radius=None)), ("penalty", dict(radius=0.7, penalty=1000.0)),
                             ("project", dict(radius=0.7, project=True))]}
    assert radius(runs["free"].z).min() > 1.1  # without a limit every code leaves the ball
    assert radius(runs["penalty"].z).mean() < 0.9  # a strong penalty holds them near the radius
    assert radius(runs["project"].z).max() <= 0.7 + 1e-5
    assert runs["project"].history["radius_mean"].iloc[-1] == pytest.approx(float(radius(runs["project"].z).mean()),
                                                                            rel=1e-5)
    bounded = latent_search(trained_mnist_vae(), z0 * 6, SearchConfig(n_steps=40, lr=0.1, radius=1.0, penalty=10.0),
                            progress=False)
    assert radius(bounded.z).max() < 1.1  # a bounded objective: the penalty alone holds the radius


def test_judge_objectives_on_images_and_on_audio_magnitudes():
    model, judge = trained_mnist_vae(), image_judge()
    z0 = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    before = judge_score(judge, model.decode_to_x(z0), "noise")
    state, judge_fp = model_state(model), weights_fingerprint(judge.model)
    result = latent_search(model, z0, SearchConfig(objective="noise", n_steps=30, lr=0.2), judge=judge, progress=False)
    assert result.objective.mean() > before.mean() and model_state(model) == state
    assert weights_fingerprint(judge.model) == judge_fp
    audio, sjudge = note_vae(), spectrum_judge()
    to_mag = lambda x: x.squeeze(1).exp()  # noqa: E731  model space -> positive magnitudes [N, F, T]
    before = judge_score(sjudge, to_mag(audio.decode_to_x(z0)), "out")
    result = latent_search(audio, z0, SearchConfig(objective="out", n_steps=30, lr=0.2), judge=sjudge,
                           to_judge=to_mag, progress=False)
    assert result.objective.mean() > before.mean()


def test_bad_search_settings_raise_errors_naming_the_parameter():
    for kwargs, name in [(dict(objective="likelihood"), "objective"), (dict(n_steps=-1), "n_steps"),
                         (dict(lr=0.0), "lr"), (dict(radius=-1.0), "radius"), (dict(penalty=-1.0), "penalty")]:
        with pytest.raises(ValueError, match=name):
            SearchConfig(**kwargs)
    with pytest.raises(ValueError, match="judge"):
        latent_search(mnist_vae(), torch.randn(2, 8), SearchConfig(objective="noise"), progress=False)
    with pytest.raises(ValueError, match="z0"):
        latent_search(mnist_vae(), torch.randn(2, 5), SearchConfig(n_steps=1), progress=False)
    assert SearchConfig.from_json(SearchConfig(radius=None).to_json()) == SearchConfig(radius=None)


def test_time_search_step_returns_seconds():
    seconds = time_search_step(mnist_vae(), n_codes=64, n_steps=2)
    assert 0 < seconds < 5
