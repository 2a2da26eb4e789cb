"""Held-out reconstruction metrics of the audio VAEs."""


import pytest
import torch

from helpers.audio import STFTConfig
from helpers.evaluation.audio import evaluate_reconstructions, magnitude_metrics, resynthesize, summarize
from helpers.models import VAEConfig
from helpers.training import TrainerConfig
from helpers.training.audio import AudioExperimentConfig, prepare_audio_data, train_audio_vae

SR, N = 8000, 4000


def test_perfect_reconstruction_scores_zero():
    g = torch.Generator().manual_seed(0)
    m = torch.rand(3, 20, 30, generator=g) ** 4
    perfect = magnitude_metrics(m, m.clone())
    assert perfect["sc"].shape == (3,) and perfect["lsd"].shape == (3,)
    assert torch.allclose(perfect["sc"], torch.zeros(3), atol=1e-6)
    assert torch.allclose(perfect["lsd"], torch.zeros(3), atol=1e-6)
    double = magnitude_metrics(m, 2 * m)
    assert torch.allclose(double["sc"], torch.ones(3), atol=1e-5)
    # every bin 6.02 dB off, except those below the 80 dB floor of each note
    assert torch.all(double["lsd"] <= 20 * torch.log10(torch.tensor(2.0)) + 1e-4)
    assert torch.all(double["lsd"] > 5.0)


@pytest.fixture(scope="module")
def tiny_run(toy_audio_root):
    root = toy_audio_root
    config = AudioExperimentConfig(
        name="tiny-eval", model="note",
        transform=STFTConfig(sample_rate=SR, n_fft=256, hop_length=64, scale="db", db_floor=-60.0, gl_n_iter=8),
        vae=VAEConfig(z_dim=3, architecture="conv", conv_channels=(4, 8), conv_hidden=16, likelihood="gaussian",
                      scale="per_feature", init_scale=0.3),
        trainer=TrainerConfig(n_epochs=2, batch_size=4, progress=False), data_root=str(root / "notes"),
        n_samples=N, val_fraction=0.3, time_pool=4)
    run = train_audio_vae(config, run_root=root / "runs")
    data = prepare_audio_data(run.config, progress=False)
    yield run, data


def test_held_out_metrics_on_magnitudes_and_after_phase_reconstruction(tiny_run):
    run, data = tiny_run
    magnitude = data.magnitudes("val")
    assert len(magnitude) == (data.labels.part == "val").sum() > 0
    table = evaluate_reconstructions(run.model, magnitude, n_iter=8)
    expected = {f"{p}_{m}" for p in ("mag", "audio", "oracle", "pool") for m in ("sc", "lsd")}
    assert set(table.columns) == expected and len(table) == len(magnitude)
    means = summarize(table)
    assert all(v == v and v >= 0 for v in means.values())
    # the phase reconstruction of the true magnitude is much closer than an untrained-ish model
    assert means["oracle_sc"] < 0.5 and means["pool_sc"] < means["mag_sc"] + 1e-6
    only_mag = evaluate_reconstructions(run.model, magnitude, audio=False)
    assert set(only_mag.columns) == {"mag_sc", "mag_lsd", "pool_sc", "pool_lsd"}


def test_resynthesize_batches(tiny_run):
    run, data = tiny_run
    magnitude = data.magnitudes("val")[:3]
    waves = resynthesize(run.transform, magnitude, n_iter=2, batch_size=2, length=N)
    assert waves.shape == (len(magnitude), N) and torch.isfinite(waves).all()


def test_error_by_level_separates_partials_from_the_floor():
    from helpers.evaluation.audio import error_by_level

    m = torch.full((1, 10, 4), 1e-4)
    m[0, 2] = 1.0  # one loud "partial" row, the rest 80 dB down
    est = m.clone()
    est[0, 2] = 0.5  # 6 dB off on the partial only
    out = error_by_level(m, est)
    assert abs(out["loud_err_db"] - 6.02) < 0.01 and out["quiet_err_db"] < 1e-9
    assert abs(out["loud_share"] - 0.1) < 1e-9 and abs(out["quiet_share"] - 0.9) < 1e-9
