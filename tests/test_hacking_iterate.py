"""Iterative generation from noise (Kazakçı et al., 2016): the loop, early stopping, binarisation,
step functions for the sparse autoencoder and a VAE, fixed-point counting."""

import pytest
import torch

from helpers.hacking.iterate import (
    IteratedSampler,
    binarize_to_share,
    fixed_points,
    iterate,
    model_step,
    sparse_ae_step,
    train_sparse_ae,
    uniform_starts,
    vae_step,
    white_share,
)
from helpers.models import SparseAE, SparseAEConfig, VAE, VAEConfig


def test_identity_converges_after_one_iteration():
    x0 = uniform_starts(7, seed=1)
    result = iterate(lambda x: x, x0, n_iter=100, progress=False)
    assert torch.equal(result.x, x0)
    assert result.n_iter.tolist() == [1] * 7 and result.converged.all()
    assert result.summary()["iterations_max"] == 1 and result.summary()["converged"] == 1.0


def test_each_start_stops_on_its_own():
    # f halves the distance to 0.5; start i is at distance 2^-i.. so each needs a different count
    x0 = torch.stack([torch.full((2, 2), 0.5 + 2.0 ** -k) for k in range(1, 6)])
    calls = []

    def halve(x):
        calls.append(len(x))
        return 0.5 + (x - 0.5) / 2

    result = iterate(halve, x0, n_iter=50, tol=1e-3, progress=False)
    assert result.converged.all()
    # change at iteration t is 2^-(k+t); it is <= 1e-3 (2^-10 < 1e-3 < 2^-9) once k + t >= 10
    assert result.n_iter.tolist() == [9, 8, 7, 6, 5]
    assert calls[0] == 5 and calls[-1] == 1  # stopped starts are not computed again
    assert (result.x - 0.5).abs().max() < 2e-3


def test_a_cycle_runs_to_n_iter_without_converging():
    result = iterate(lambda x: 1 - x, torch.zeros(3, 4, 4), n_iter=6, progress=False)
    assert result.n_iter.tolist() == [6, 6, 6] and not result.converged.any()
    assert torch.equal(result.x, torch.zeros(3, 4, 4))  # an even number of flips


def test_batches_give_the_same_result_as_one_batch():
    x0 = uniform_starts(10, shape=(3, 3), seed=2)
    step = lambda x: (x * 0.5).round(decimals=2)  # noqa: E731
    a = iterate(step, x0, n_iter=20, batch_size=3, progress=False)
    b = iterate(step, x0, n_iter=20, batch_size=100, progress=False)
    assert torch.equal(a.x, b.x) and torch.equal(a.n_iter, b.n_iter) and torch.equal(a.converged, b.converged)


def test_binarisation_keeps_the_white_share():
    x = torch.rand(6, 28, 28)
    for share in (0.0, 0.13, 0.5, 1.0):
        b = binarize_to_share(x, share)
        assert set(b.unique().tolist()) <= {0.0, 1.0}
        assert (b.flatten(1).sum(1) == round(share * 784)).all()
    b = binarize_to_share(x, 0.1)
    kept = x.flatten(1)[b.flatten(1) == 1].view(6, -1).min(1).values
    dropped = x.flatten(1)[b.flatten(1) == 0].view(6, -1).max(1).values
    assert (kept >= dropped).all()  # the brightest pixels are the ones kept
    with pytest.raises(ValueError, match="share"):
        binarize_to_share(x, 1.5)


def test_iterate_with_binarisation_ends_on_binary_images_of_that_share():
    blur = lambda x: torch.nn.functional.avg_pool2d(x[:, None], 3, 1, 1)[:, 0]  # noqa: E731
    result = iterate(blur, uniform_starts(8, seed=3), n_iter=30, binarize_share=0.2, progress=False)
    assert set(result.x.unique().tolist()) <= {0.0, 1.0}
    assert (result.x.flatten(1).sum(1) == round(0.2 * 784)).all()
    assert result.converged.any()


def test_white_share_of_uint8_and_float():
    x = torch.zeros(2, 10, 10, dtype=torch.uint8)
    x[0, :3] = 255
    assert white_share(x) == pytest.approx(0.15)
    assert white_share(x.float() / 255) == pytest.approx(0.15)
    with pytest.raises(ValueError, match="x"):
        white_share(torch.zeros(0, 10, 10))


def test_bad_parameters_raise_naming_them():
    x0 = torch.rand(2, 4, 4)
    with pytest.raises(ValueError, match="n_iter"):
        iterate(lambda x: x, x0, n_iter=0)
    with pytest.raises(ValueError, match="tol"):
        iterate(lambda x: x, x0, tol=-1)
    with pytest.raises(ValueError, match="binarize_share"):
        iterate(lambda x: x, x0, binarize_share=2.0)
    with pytest.raises(ValueError, match="batch_size"):
        iterate(lambda x: x, x0, batch_size=0)
    with pytest.raises(ValueError, match="step_fn"):
        iterate(lambda x: x[:, :2], x0, progress=False)
    with pytest.raises(ValueError, match="model"):
        model_step(torch.nn.Linear(2, 2))


def test_step_functions_of_the_sparse_ae_and_a_vae():
    sae = SparseAE(SparseAEConfig(filters=4))
    vae = VAE.from_config(VAEConfig(z_dim=2, hidden=(16,)))
    x = uniform_starts(5, seed=4)
    for model, expected in ((sae, sae.reconstruct(x)), (vae, vae.decode_to_x(vae.encode(x)[0]))):
        step = model_step(model)
        y = step(x)
        assert y.shape == x.shape and torch.allclose(y, expected.reshape(x.shape))
        assert not model.training
    assert torch.equal(sparse_ae_step(sae)(x), model_step(sae)(x))
    assert torch.equal(vae_step(vae)(x), model_step(vae)(x))
    result = iterate(model_step(vae), x, n_iter=5, progress=False)
    assert result.x.shape == x.shape and (result.n_iter <= 5).all()


def test_fixed_points_count_duplicates():
    a, b, c = torch.zeros(4, 4), torch.ones(4, 4), torch.eye(4)
    x = torch.stack([b, a, c, a, a, b * 0.9, a + 0.2])  # 0.9 -> 1 and 0.2 -> 0 after binarisation
    points = fixed_points(x)
    assert points.n_distinct == 3
    assert points.counts.tolist() == [4, 2, 1]
    assert torch.equal(points.images[0], a) and torch.equal(points.images[1], b) and torch.equal(points.images[2], c)
    assert points.index.tolist() == [1, 0, 2, 0, 0, 1, 0]
    assert len(set(points.keys)) == 3
    table = points.table()
    assert table["count"].tolist() == [4, 2, 1] and table["share"].sum() == pytest.approx(1.0)
    assert fixed_points(x, threshold=0.95).n_distinct == 3  # 0.9 -> 0: b * 0.9 joins a
    assert fixed_points(x, threshold=0.95).counts.tolist() == [5, 1, 1]
    assert fixed_points(torch.zeros(0, 4, 4)).n_distinct == 0


def test_iterated_sampler_draws_what_iterate_draws():
    step = lambda x: (x > 0.5).float()  # noqa: E731
    sampler = IteratedSampler(step, shape=(5, 5), n_iter=10, progress=False)
    x = sampler.sample(4, torch.Generator().manual_seed(7))
    expected = iterate(step, uniform_starts(4, (5, 5), seed=7), n_iter=10, progress=False)
    assert torch.equal(x, expected.x) and sampler.last.converged.all()
    assert sampler.last.n_iter.tolist() == [2] * 4  # one step to binary, one to see it stay


@pytest.mark.slow
def test_train_sparse_ae_smoke_is_cached(tmp_path, monkeypatch):
    import helpers.data.mnist as mnist

    fake = torch.randint(0, 256, (1200, 28, 28), dtype=torch.uint8)
    monkeypatch.setattr(mnist, "load_mnist", lambda split="train", **kw: (fake, torch.zeros(len(fake))))
    first = train_sparse_ae(tmp_path, smoke=True, progress=False)
    second = train_sparse_ae(tmp_path, smoke=True, progress=False)
    assert not first.reused and second.reused and second.model.config.filters == 8
    assert not second.model.training
