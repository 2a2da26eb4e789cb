"""The winner-take-all sparse autoencoder of "Digits that are not": shapes, sparsity, config,
training through the Trainer and the run store."""

import pytest
import torch

from helpers.models import SparseAE, SparseAEConfig, build_model, sparse_ae_config
from helpers.models.sparse_ae import channel_wta, flops_per_image, spatial_wta
from helpers.training import Trainer, TrainerConfig
from helpers.training.cached import cached_fit

SMALL = SparseAEConfig(filters=6)


def digits_like(n=64, seed=0):
    """Blurry strokes: a vertical and a horizontal bar at random places, uint8 like MNIST."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 28, 28, dtype=torch.uint8)
    for i in range(n):
        c, r = torch.randint(6, 20, (2,), generator=g).tolist()
        x[i, 5:23, c:c + 3] = 255
        x[i, r:r + 3, 6:22] = 200
    return x


@pytest.mark.parametrize("shape", [(5, 28, 28), (5, 1, 28, 28)])
def test_shapes_of_code_reconstruction_and_loss(shape):
    model = SparseAE(SMALL).eval()
    x = torch.rand(shape)
    assert model.encode(x).shape == (5, 6, 16, 16)
    x_hat = model.reconstruct(x)
    assert x_hat.shape == (5, 28, 28) and x_hat.min() > 0 and x_hat.max() < 1
    out = model(torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8))
    assert out["loss"].dim() == 0 and out["mse"].shape == (5,) and out["rec"].shape == (5,)
    assert torch.allclose(out["rec"], out["mse"] * 784)
    assert model.code_vectors(x).shape == (5, 6) and model.code_vectors(x, pooled=False).shape == (5, 6 * 256)
    assert torch.equal(model.decoder.bias, torch.tensor([-2.0]))  # starts dark, near MNIST's mean pixel


def test_other_image_sizes_get_the_matching_decoder():
    cfg = SparseAEConfig(x_shape=(32, 32), filters=4)
    assert cfg.code_shape == (20, 20) and cfg.decoder_kernel == (13, 13)
    assert SparseAE(cfg).reconstruct(torch.rand(2, 32, 32)).shape == (2, 32, 32)


def test_spatial_wta_keeps_one_maximum_per_map():
    h = torch.relu(torch.randn(3, 7, 16, 16))
    s = spatial_wta(h)
    assert ((s != 0).flatten(2).sum(2) <= 1).all()
    assert torch.equal(s.flatten(2).amax(2), h.flatten(2).amax(2))  # the kept value is the maximum
    assert torch.equal(spatial_wta(torch.zeros(1, 2, 4, 4)), torch.zeros(1, 2, 4, 4))


def test_channel_wta_keeps_one_winner_per_block_across_channels():
    h = torch.relu(torch.randn(2, 5, 16, 16))
    s = channel_wta(h, 4)
    blocks = (s != 0).view(2, 5, 4, 4, 4, 4).sum(dim=(1, 3, 5))  # [N, 4, 4]: non-zeros per block
    assert (blocks <= 1).all() and (blocks == 1).all()  # random ReLU maps: every block has a winner
    winners = h.view(2, 5, 4, 4, 4, 4).amax(dim=(1, 3, 5))
    assert torch.equal(s.view(2, 5, 4, 4, 4, 4).amax(dim=(1, 3, 5)), winners)
    with pytest.raises(ValueError, match="stride"):
        channel_wta(h, 3)


def test_model_codes_obey_both_sparsities():
    model = SparseAE(SparseAEConfig(filters=32)).eval()
    h = model.encode(torch.rand(4, 28, 28))
    assert ((h != 0).flatten(2).sum(2) <= 1).all()  # spatial: at most one per feature map
    per_block = (h != 0).view(4, 32, 4, 4, 4, 4).sum(dim=(1, 3, 5))
    assert (per_block <= 1).all()  # channel: at most one per 4x4 block
    assert int((h != 0).sum(dim=(1, 2, 3)).max()) <= 16


def test_switching_sparsity_off_keeps_the_dense_code():
    model = SparseAE(SMALL.replace(spatial_wta=False, channel_wta=False)).eval()
    h = model.encode(torch.rand(2, 28, 28))
    assert int((h != 0).flatten(2).sum(2).max()) > 1


def test_config_round_trip_presets_and_errors():
    cfg = sparse_ae_config("narrow")
    assert cfg.filters == 32 and sparse_ae_config("full").filters == 128 == SparseAEConfig().filters
    assert sparse_ae_config(48).filters == 48 and sparse_ae_config(smoke=True).filters == 8
    model = build_model(cfg.to_dict())
    assert isinstance(model, SparseAE) and model.config == cfg
    assert SparseAEConfig.from_json(cfg.to_json()) == cfg
    # the authors' width costs about 0.55 GFLOP per image and pass, about 15 times the narrow one
    assert flops_per_image(SparseAEConfig()) == pytest.approx(0.55e9, rel=0.01)
    assert flops_per_image(SparseAEConfig()) / flops_per_image(cfg) == pytest.approx(14.8, rel=0.01)
    with pytest.raises(ValueError, match="width"):
        sparse_ae_config("huge")
    with pytest.raises(ValueError, match="width"):
        sparse_ae_config(0)
    with pytest.raises(ValueError, match="filters"):
        SparseAEConfig(filters=0)
    with pytest.raises(ValueError, match="channel_stride"):
        SparseAEConfig(channel_stride=3)
    with pytest.raises(ValueError, match="x_shape"):
        SparseAEConfig(x_shape=(8, 8))
    with pytest.raises(ValueError, match=r"\[N, 28, 28\]"):
        SparseAE(SMALL).encode(torch.rand(2, 27, 27))


def test_training_lowers_the_loss_and_an_eval_step_changes_nothing():
    torch.manual_seed(0)
    x = digits_like(64)
    trainer = Trainer(SparseAE(SMALL), TrainerConfig(n_epochs=10, batch_size=8, lr=1e-2, progress=False,
                                                     device="cpu"), run_dir=False)
    before = trainer.evaluate(x)["loss"]
    weights = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.eval_step(x[:8])
    assert all(torch.equal(a, b) for a, b in zip(weights, trainer.model.parameters()))
    trainer.fit(x)
    after = trainer.evaluate(x)["loss"]
    assert after < 0.5 * before
    assert after < x.float().div(255).pow(2).mean()  # better than drawing nothing at all
    assert any(not torch.equal(a, b) for a, b in zip(weights, trainer.model.parameters()))


def test_cached_fit_trains_once_then_reloads(tmp_path):
    x, x_val = digits_like(32), digits_like(16, seed=1)
    tc = TrainerConfig(n_epochs=1, batch_size=16, progress=False, device="cpu")
    first = cached_fit(SMALL, tc, x, x_val, name="sae", run_root=tmp_path)
    second = cached_fit(SMALL, tc, x, x_val, name="sae", run_root=tmp_path)
    assert not first.reused and second.reused and second.run_dir == first.run_dir
    assert isinstance(second.model, SparseAE) and second.history == first.history
    for p, q in zip(first.model.parameters(), second.model.parameters()):
        assert torch.equal(p.cpu(), q.cpu())
    other = cached_fit(SMALL.replace(filters=4), tc, x, x_val, name="sae", run_root=tmp_path)
    assert not other.reused and other.run_dir != first.run_dir
