"""Audio VAE experiments: config round trip, model shapes over transforms, training, reuse."""

import dataclasses
import json

import pytest
import torch

from helpers.audio import NSGTConfig, STFTConfig
from helpers.data.toy import write_toy_note_set
from helpers.models import VAEConfig, build_model
from helpers.training import TrainerConfig
from helpers.training.audio import (AudioExperimentConfig, find_run, load_audio_run, prepare_audio_data,
                                    train_audio_vae)

SR, N = 8000, 4000
TRANSFORMS = {"stft": STFTConfig(sample_rate=SR, n_fft=256, hop_length=64, scale="db", db_floor=-60.0),
              "nsgt": NSGTConfig(sample_rate=SR, n_samples=N, fmin=100.0, fmax=3785.0, bins_per_octave=6,
                                 scale="db", db_floor=-80.0)}


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    return str(write_toy_note_set(tmp_path_factory.mktemp("toy"), SR, N))


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("NOVELTY_DATA_DIR", str(tmp_path / "data"))  # the spectra cache goes there
    monkeypatch.setenv("NOVELTY_RUNS_DIR", str(tmp_path / "runs"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny steps: one thread is fastest, and steady on a busy machine
    yield
    torch.set_num_threads(threads)


def tiny_config(root, model="frame", transform="stft", **changes):
    vae = VAEConfig(z_dim=4, hidden=(32,), conv_channels=(4, 8), conv_hidden=16,
                    architecture="mlp" if model == "frame" else "conv", likelihood="laplace", scale="per_feature",
                    init_scale=0.3)
    trainer = TrainerConfig(n_epochs=2, batch_size=32 if model == "frame" else 8, lr=3e-3, progress=False)
    config = AudioExperimentConfig(name=f"tiny-{model}-{transform}", model=model, transform=TRANSFORMS[transform],
                                   vae=vae, trainer=trainer, data_root=root, n_samples=N, val_fraction=0.2,
                                   frame_stride=2, time_pool=4 if transform == "stft" else 24)
    return dataclasses.replace(config, **changes)


def test_config_json_round_trip(toy_root):
    config = tiny_config(toy_root, "note", "nsgt", dynamics=("ff",))
    back = AudioExperimentConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert back == config
    assert isinstance(back.transform, NSGTConfig) and back.dynamics == ("ff",)
    with pytest.raises(ValueError, match="model="):
        AudioExperimentConfig(model="song")


@pytest.mark.parametrize("transform", ["stft", "nsgt"])
@pytest.mark.parametrize("model", ["frame", "note"])
def test_shapes_of_both_models_over_transforms(toy_root, model, transform):
    config = tiny_config(toy_root, model, transform).resolve()
    data = prepare_audio_data(config, progress=False)
    n_freq, n_frames = data.transform.output_shape(N)
    assert data.n_frames == n_frames
    x = data.examples("train")
    n_train = int((data.labels.part == "train").sum())
    if model == "frame":
        assert config.vae.x_shape == (n_freq,)
        assert x.shape == (n_train * -(-n_frames // 2), n_freq)
    else:
        assert config.vae.x_shape == (1, n_freq, -(-n_frames // config.time_pool))
        assert x.shape == (n_train, *config.vae.x_shape)
    vae = build_model(config.vae)
    out = vae(x[:5])
    assert out["rec"].shape == (5,) and torch.isfinite(out["loss"])
    assert vae.decode(torch.zeros(3, 4)).shape == (3, vae.likelihood.n_params, *config.vae.x_shape)
    # the scaling is fitted on the training part only
    train_mag = data.magnitudes("train")
    assert abs(float(data.transform.scale(train_mag).mean())) < 1e-3
    assert set(data.labels.part) == {"train", "val", "unseen"}
    assert set(data.part("unseen").instrument) == {"Harp"}


def test_training_lowers_the_loss_and_reuses_the_checkpoint(toy_root, tmp_path):
    config = tiny_config(toy_root, "frame", "stft", trainer=TrainerConfig(n_epochs=4, batch_size=32, lr=3e-3,
                                                                         progress=False))
    config = dataclasses.replace(config, tensorboard=True)
    run = train_audio_vae(config)
    losses = [h["train_loss"] for h in run.history]
    assert not run.reused and run.epochs == 4 and losses[-1] < losses[0]
    assert (run.run_dir / "done.json").is_file() and (run.run_dir / "transform.pt").is_file()
    assert list((run.run_dir / "tensorboard").glob("events.out.tfevents.*"))

    again = train_audio_vae(config)
    assert again.reused and again.run_dir == run.run_dir
    for a, b in zip(run.vae.state_dict().values(), again.vae.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.equal(again.transform.state_dict()["mean"], run.transform.state_dict()["mean"])
    # a cosmetic change (progress bar) still reuses; a change of the model trains anew
    cosmetic = dataclasses.replace(config, trainer=config.trainer.replace(progress=True))
    assert train_audio_vae(cosmetic).reused
    changed = dataclasses.replace(config, vae=config.vae.replace(z_dim=3),
                                  trainer=config.trainer.replace(n_epochs=1))
    other = train_audio_vae(changed)
    assert not other.reused and other.run_dir != run.run_dir and other.model.z_dim == 3
    assert find_run(config) == run.run_dir
    assert load_audio_run(run.run_dir).config.reuse_key() == config.reuse_key()
    assert not train_audio_vae(changed, reuse=False).reused


def test_audio_presets_build_every_model_and_reject_unknown_names():
    from helpers.training.presets import audio_preset

    for model, decoder, arch in (("frame", "frames", "mlp"), ("note", "frames", "conv_frames"), ("note", "conv", "conv")):
        for transform in ("stft", "nsgt"):
            config = audio_preset(model, transform, "gaussian", decoder=decoder, smoke=True).resolve()
            assert config.vae.architecture == arch and config.model == model
            vae = build_model(config.vae)
            x = torch.randn(2, *config.vae.x_shape)
            assert vae(x)["elbo"].shape == (2,)
    assert audio_preset("note", "stft", decoder="frames").trainer.n_epochs != audio_preset("note", "stft", decoder="conv").trainer.n_epochs
    assert audio_preset("frame", "stft").tensorboard and not audio_preset("frame", "stft", smoke=True).tensorboard
    for kw, name in (({"decoder": "lstm", "model": "note"}, "decoder"), ({"model": "clip"}, "model"),
                     ({"transform": "mfcc"}, "transform")):
        with pytest.raises(ValueError, match=name):
            audio_preset(**kw)


def test_data_options_round_trip_and_leave_one_soundfont_out(tmp_path):
    import pandas as pd

    from helpers.training.audio import data_key

    root = write_toy_note_set(tmp_path / "set", SR, N, pitches=(57, 60, 64), dynamics=("ff",))
    rel = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.wav"))
    pd.DataFrame({"path": rel, "soundfont": ["a", "b", "c"] * (len(rel) // 3)}).to_csv(root / "metadata.csv", index=False)
    config = tiny_config(str(root), unseen_instruments=["Tuba"], soundfonts="a", holdout_soundfont="b")
    assert config.unseen_instruments == ("Tuba",) and config.soundfonts == ("a",)
    back = AudioExperimentConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert back == config
    for field_name in ("unseen_root", "unseen_instruments", "soundfonts", "holdout_soundfont"):
        assert field_name in data_key(config)
    loo = tiny_config(str(root), holdout_soundfont="b", soundfonts=("a", "b"))
    data = prepare_audio_data(loo, progress=False)
    assert set(data.part("val").soundfont) == {"b"} and set(data.part("train").soundfont) == {"a"}
    assert set(data.part("unseen").instrument) == {"Harp"}
    other = prepare_audio_data(tiny_config(str(root), holdout_soundfont="c", soundfonts=("a", "c")), progress=False)
    assert other.fingerprint() != data.fingerprint() and data.fingerprint() == data.fingerprint()


def test_note_augment_keeps_the_floor_and_shifts_by_whole_bins(toy_root):
    from helpers.training.audio import NoteAugment

    config = tiny_config(toy_root, "note", "nsgt").resolve()
    data = prepare_audio_data(config, progress=False)
    x = data.examples("train")[:6]
    aug = NoteAugment(data.transform, gain_db=6.0)
    torch.manual_seed(0)
    y = aug(x)
    assert y.shape == x.shape and torch.all(y >= aug.floor - 1e-6)
    # above the floor every bin of a note moves by the same gain, at most 6 dB
    delta = (y - x)[x > aug.floor + 1.0]
    assert delta.abs().max() <= 6.0 / aug.std + 1e-5 and delta.abs().max() > 0
    shifted = NoteAugment(data.transform, pitch_bins=2, time_shift=1)._shift(x, torch.tensor([1, 0, -1, 2, 0, 0]), 2)
    assert torch.equal(shifted[1], x[1]) and torch.equal(shifted[0, :, 1:], x[0, :, :-1])
    assert torch.all(shifted[0, :, 0] == aug.floor) and torch.equal(shifted[2, :, :-1], x[2, :, 1:])
    with pytest.raises(ValueError, match="augment_pitch_bins"):
        tiny_config(toy_root, "note", "stft", augment_pitch_bins=1)
    # a pitch-shifting config over the NSGT is read back from its saved form (the run's config.json)
    pitched = tiny_config(toy_root, "note", "nsgt", augment_pitch_bins=1)
    assert AudioExperimentConfig.from_dict(json.loads(json.dumps(pitched.to_dict()))) == pitched
    with pytest.raises(ValueError, match="augment_pitch_bins"):
        AudioExperimentConfig.from_dict({**pitched.to_dict(), "transform": {"kind": "stft"}})


def test_restore_best_and_a_fitted_sampling_density_survive_a_reload(toy_root):
    from helpers.models.priors import CodeGaussian
    from helpers.training.checkpoint import load_checkpoint

    config = tiny_config(toy_root, "note", "nsgt", restore_best=True, sample_density="gaussian",
                         augment_gain_db=3.0, augment_time_shift=1,
                         trainer=TrainerConfig(n_epochs=3, batch_size=8, lr=3e-3, progress=False))
    assert AudioExperimentConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert "restore_best" not in tiny_config(toy_root).to_dict()  # defaults are not written: old keys hold
    run = train_audio_vae(config)
    best = load_checkpoint(run.run_dir / "checkpoints" / "best.pt")["model_state"]
    for k, v in run.vae.state_dict().items():
        assert torch.equal(v, best[k])
    assert isinstance(run.model.prior, CodeGaussian) and (run.run_dir / "density.pt").is_file()
    again = train_audio_vae(config)
    assert again.reused and isinstance(again.model.prior, CodeGaussian)
    assert torch.equal(again.model.prior.mean, run.model.prior.mean)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.allclose(again.model.sample(3, generator=g()), run.model.sample(3, generator=g()))
    plain = train_audio_vae(tiny_config(toy_root, "note", "nsgt"))
    assert plain.model.prior is None
    z = torch.randn(3, plain.model.z_dim, generator=g())
    assert torch.allclose(plain.model.sample(3, generator=g()), plain.model.decode(z))
    with pytest.raises(ValueError, match="sample_density"):
        tiny_config(toy_root, sample_density="flow")
