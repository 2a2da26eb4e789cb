"""Sweep tables: one row per sampler or grid point, the measure keys as columns, the reference seen once."""

import math
from functools import partial

import matplotlib
import pytest
import torch

from helpers.evaluation import sweeps
from helpers.evaluation.judges import NOISE, Judge
from helpers.latent import regions
from helpers.models import VAE, Classifier, ClassifierConfig, VAEConfig
from helpers.models.priors import StandardNormal

matplotlib.use("Agg")

Z = 4


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return VAE.from_config(VAEConfig(x_shape=(28, 28), z_dim=Z, hidden=(32,))).eval()


@pytest.fixture
def judge():
    """An untrained 4-class image judge whose feature passes are counted."""
    torch.manual_seed(0)
    j = Judge(Classifier(ClassifierConfig(n_classes=4, channels=(4, 8), dense=16)), ("0", "1", "A", NOISE),
              ("0", "1"), ("A",))
    j.calls = {"features": [], "data_space": []}
    features, data_space = j.features, j.data_space
    j.features = lambda x: j.calls["features"].append(len(x)) or features(x)
    j.data_space = lambda x: j.calls["data_space"].append(len(x)) or data_space(x)
    return j


def test_decode_batches_without_gradients(vae):
    z = torch.randn(23, Z, generator=torch.Generator().manual_seed(0))
    vae.train()
    x = sweeps.decode(vae, z, batch_size=5)
    assert vae.training                                                  # mode restored
    assert x.shape == (23, 28, 28) and not x.requires_grad and x.device.type == "cpu"
    assert torch.allclose(x, vae.eval().decode_to_x(z), atol=1e-6)
    assert 0 <= x.min() and x.max() <= 1
    with pytest.raises(ValueError, match="z must be"):
        sweeps.decode(vae, z[0])
    with pytest.raises(ValueError, match="latent space"):
        sweeps.decode(vae, torch.zeros(2, Z + 1))
    with pytest.raises(ValueError, match="batch_size"):
        sweeps.decode(vae, z, batch_size=0)


def test_measure_samplers_rows_columns_and_one_reference_pass(vae, judge):
    g = torch.Generator().manual_seed(0)
    reference, train = torch.rand(30, 28, 28, generator=g), torch.rand(25, 28, 28, generator=g)
    codes = torch.randn(100, Z, generator=g)
    samplers = {f"shell {r:g}": regions.shell(Z, r) for r in (1.0, 2.0, 3.0)}
    samplers["data"] = regions.data_region(StandardNormal(Z))
    table = sweeps.measure_samplers(samplers, partial(sweeps.decode, vae), judge, n=20, reference=reference,
                                    train=train, codes=codes, progress=False)
    assert list(table.index) == list(samplers)
    for col in ("parameter", "value", "count_in@0.9", "count_out@0.9", "noise@0.9", "objectness", "frechet", "mmd",
                "nn_feature_mean", "nn_data_median", "z_norm_mean", "z_nn_median", "draw_seconds", "seconds"):
        assert col in table.columns, col
    assert table.loc["shell 2", "parameter"] == "radius" and table.loc["shell 3", "value"] == 3.0
    assert table.loc["shell 3", "z_norm_mean"] == pytest.approx(3.0, rel=1e-5)   # |z| / sqrt(D) of the draws
    assert (table["n"] == 20).all()
    assert table.loc["shell 3", "z_nn_median"] > table.loc["shell 1", "z_nn_median"]
    # reference and train seen by the judge once for the whole table (features: reference, train)
    assert judge.calls["features"] == [30, 25]
    assert judge.calls["data_space"].count(25) == 1
    # the same seed draws the same samples: the measures repeat exactly
    again = sweeps.measure_samplers(samplers, vae, judge, n=20, reference=reference, train=train, progress=False)
    measured = ["count_in@0.9", "objectness", "frechet", "nn_data_mean"]
    assert table[measured].equals(again[measured])


def test_measure_samplers_without_decoder_and_bad_input(judge):
    class ImageSampler:                                                   # draws images itself (a VAE's sample)
        def sample(self, n, generator=None):
            return torch.rand(n, 28, 28, generator=generator)

    table = sweeps.measure_samplers({"images": ImageSampler()}, None, judge, n=10, progress=False)
    assert list(table.index) == ["images"] and "parameter" not in table and "z_norm_mean" not in table
    assert "frechet" not in table                                         # no reference given
    with pytest.raises(ValueError, match="samplers"):
        sweeps.measure_samplers({}, None, judge)
    with pytest.raises(ValueError, match=r"samplers\['bad'\]"):
        sweeps.measure_samplers({"bad": object()}, None, judge)
    with pytest.raises(ValueError, match="n=1"):
        sweeps.measure_samplers({"images": ImageSampler()}, None, judge, n=1)
    with pytest.raises(ValueError, match="decode_fn"):
        sweeps.measure_samplers({"images": ImageSampler()}, 3, judge, n=4)
    z, x = sweeps.draw(regions.shell(Z, 2.0), None, n=3, seed=1)
    assert z is None and x.shape == (3, Z)


def test_sweep_one_row_per_grid_point(judge):
    train = torch.zeros(12, 28, 28)
    seen = []

    def make_samples(point):
        seen.append(dict(point))
        return torch.full((8, 28, 28), point["level"])                    # flat images of that grey level

    grid = {"level": [0.0, 0.25, 0.5], "part": ["encoder", "decoder"]}
    table = sweeps.sweep(make_samples, grid, judge, reference=torch.rand(10, 28, 28), train=train, progress=False)
    assert len(table) == 6 and seen == [{"level": lv, "part": p} for lv in grid["level"] for p in grid["part"]]
    assert list(table.columns[:3]) == ["level", "part", "make_seconds"]
    assert {"count_in@0.9", "noise@0.9", "frechet", "nn_data_mean"} <= set(table.columns)
    # each row measures its own point: distance of a flat image of level l to black images = 28 l
    assert table["nn_data_mean"].tolist() == pytest.approx([28 * lv for lv in grid["level"] for _ in range(2)],
                                                           abs=1e-4)
    assert judge.calls["features"] == [10, 12] and judge.calls["data_space"].count(12) == 1
    with pytest.raises(ValueError, match=r"grid\['part'\]"):
        sweeps.sweep(make_samples, {"level": [0.0], "part": []}, judge)
    with pytest.raises(ValueError, match="grid"):
        sweeps.sweep(make_samples, {}, judge)
    with pytest.raises(ValueError, match="make_samples"):
        sweeps.sweep(None, grid, judge)


def test_plot_measures_curves_and_labels(vae, judge):
    import matplotlib.pyplot as plt

    samplers = {f"t={t:g}": regions.extrapolation(torch.randn(20, Z), t) for t in (1.0, 2.0, 4.0)}
    table = sweeps.measure_samplers(samplers, vae, judge, n=10, progress=False)
    ax = sweeps.plot_measures(table, x="value")
    assert ax.get_xlabel() == "t" and ax.get_ylabel() == "share of samples"
    assert len(ax.lines) == 3 and list(ax.lines[0].get_xdata()) == [1.0, 2.0, 4.0]
    assert "in-class" in ax.lines[0].get_label()
    grid = sweeps.sweep(lambda p: torch.rand(6, 28, 28) * p["level"], {"layer": ["a", "b"], "level": [0.1, 1.0]},
                        judge, progress=False)
    ax = sweeps.plot_measures(grid, x="level", measures=("objectness", "entropy"), hue="layer")
    assert len(ax.lines) == 4 and ax.get_ylabel() == "objectness, entropy"
    assert any("layer=b" in line.get_label() for line in ax.lines)
    import pandas as pd

    digits_only = pd.DataFrame({"value": [1.0, 2.0], "count_in@0.9": [0.9, 0.5], "noise@0.9": [0.1, 0.5]})
    ax = sweeps.plot_measures(digits_only, x="value")                     # no out-of-class group: two curves
    assert len(ax.lines) == 2 and ax.get_xlabel() == "value"
    with pytest.raises(ValueError, match="'count_out@0.9'"):
        sweeps.plot_measures(digits_only, x="value", measures=("count_in@0.9", "count_out@0.9"))
    with pytest.raises(ValueError, match="'frechet'"):
        sweeps.plot_measures(grid, x="level", measures=("frechet",))
    with pytest.raises(ValueError, match="'radius'"):
        sweeps.plot_measures(grid, x="radius")
    plt.close("all")


def test_decode_and_kl_of_audio_models(toy_audio_root):
    from helpers.audio import STFTConfig
    from helpers.training import TrainerConfig
    from helpers.training.audio import AudioExperimentConfig, train_audio_vae

    from conftest import TOY_N, TOY_SR

    for kind in ("frame", "note"):
        vae = VAEConfig(z_dim=3, architecture="mlp" if kind == "frame" else "conv", hidden=(16,),
                        conv_channels=(4, 8), conv_hidden=16, likelihood="laplace", scale="per_feature")
        config = AudioExperimentConfig(
            name=f"tiny-sweeps-{kind}", model=kind, vae=vae, data_root=str(toy_audio_root / "notes"), n_samples=TOY_N,
            transform=STFTConfig(sample_rate=TOY_SR, n_fft=256, hop_length=64, scale="db", db_floor=-60.0),
            trainer=TrainerConfig(n_epochs=1, batch_size=16, progress=False), frame_stride=4, time_pool=4)
        model = train_audio_vae(config, run_root=toy_audio_root / "runs").model
        z = torch.randn(7, 3, generator=torch.Generator().manual_seed(0))
        mags = sweeps.decode(model, z, batch_size=3)
        assert mags.shape == (7, model.n_freq, model.n_frames) and (mags >= 0).all()
        if kind == "note":
            assert torch.allclose(mags, model.decode(z), atol=1e-6)
        else:                                                             # one frame held for a note
            assert torch.allclose(mags[..., 0], mags[..., -1])
        kl = regions.kl_per_dimension(model, mags, batch_size=4, progress=False)
        assert kl.shape == (3,) and (kl >= 0).all() and math.isfinite(kl.sum().item())
