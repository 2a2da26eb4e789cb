"""Sounds to latent trajectories and back, through tiny audio VAEs over both transforms."""

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers.audio import NSGTConfig, STFTConfig
from helpers.data.toy import toy_note
from helpers.latent import lerp, random_walk
from helpers.latent.audio import (crossfade_concat, decode_trajectory, encode_file, encode_wave, load_sound,
                                  reconstruct_wave, resample_path)
from helpers.models import VAEConfig
from helpers.training import TrainerConfig
from helpers.training.audio import AudioExperimentConfig, train_audio_vae

SR, N = 8000, 4000
TRANSFORMS = {"stft": STFTConfig(sample_rate=SR, n_fft=256, hop_length=64, scale="db", db_floor=-60.0, gl_n_iter=4),
              "nsgt": NSGTConfig(sample_rate=SR, n_samples=N, fmin=100.0, fmax=3785.0, bins_per_octave=6,
                                 scale="db", db_floor=-80.0, gl_n_iter=4)}


@pytest.fixture(scope="module")
def models(toy_audio_root):
    root = toy_audio_root
    out = {}
    for kind in ("frame", "note"):
        for name, transform in TRANSFORMS.items():
            vae = VAEConfig(z_dim=3, architecture="mlp" if kind == "frame" else "conv", hidden=(16,),
                            conv_channels=(4, 8), conv_hidden=16, likelihood="laplace", scale="per_feature")
            config = AudioExperimentConfig(name=f"tiny-{kind}-{name}", model=kind, transform=transform, vae=vae,
                                           trainer=TrainerConfig(n_epochs=1, batch_size=16, progress=False),
                                           data_root=str(root / "notes"), n_samples=N, val_fraction=0.3,
                                           frame_stride=4, time_pool=4 if name == "stft" else 24)
            out[kind, name] = train_audio_vae(config, run_root=root / "runs").model
    yield out


@pytest.fixture(scope="module")
def stereo_file(tmp_path_factory):
    """2.5 s of stereo at 44.1 kHz: a tone on the left, another on the right."""
    path = tmp_path_factory.mktemp("sound") / "stereo.wav"
    n = int(2.5 * 44100)
    left = np.tile(toy_note("Violin", 60, "ff", 44100, 44100), 3)[:n]
    right = np.tile(toy_note("Flute", 67, "mf", 44100, 44100), 3)[:n]
    sf.write(path, np.stack([left, right], axis=1), 44100)
    return path


def test_load_sound_mixes_and_resamples(stereo_file):
    wave = load_sound(stereo_file, SR)
    assert wave.dim() == 1 and abs(len(wave) - int(2.5 * SR)) <= 1


@pytest.mark.parametrize("transform", ["stft", "nsgt"])
@pytest.mark.parametrize("kind", ["frame", "note"])
def test_encode_and_decode_an_arbitrary_file(models, stereo_file, kind, transform):
    model = models[kind, transform]
    wave = load_sound(stereo_file, SR)
    z = encode_file(model, stereo_file)
    if kind == "frame":  # one code per frame of the 2.5 s sound
        assert z.shape == (model.transform.output_shape(len(wave))[1], model.z_dim)
    else:  # one code per note-long segment, the last one padded
        assert z.shape == (-(-len(wave) // N), model.z_dim)
    back = reconstruct_wave(model, wave)
    assert back.shape == wave.shape and torch.isfinite(back).all()
    assert torch.equal(encode_wave(model, wave.numpy()), z)


@pytest.mark.parametrize("transform", ["stft", "nsgt"])
def test_frame_model_decodes_any_path_to_the_requested_duration(models, transform):
    model = models["frame", transform]
    g = torch.Generator().manual_seed(0)
    path = lerp(torch.randn(3, generator=g), torch.randn(3, generator=g), 5)
    wave, magnitude = decode_trajectory(model, path, duration=0.75, n_iter=2, return_magnitude=True)
    assert len(wave) == int(0.75 * SR) and torch.isfinite(wave).all()
    assert magnitude.shape == model.transform.output_shape(len(wave))
    walk = random_walk(torch.zeros(3), n_steps=40, step_size=0.2, generator=g)
    short = decode_trajectory(model, walk, n_iter=0)  # one frame per point by default
    assert abs(len(short) - 40 * model.n_samples / model.n_frames) <= model.n_samples / model.n_frames + 1


@pytest.mark.parametrize("transform", ["stft", "nsgt"])
def test_note_model_decodes_a_path_to_crossfaded_notes(models, transform):
    model = models["note", transform]
    path = lerp(-torch.ones(3), torch.ones(3), 4)
    wave, notes = decode_trajectory(model, path, n_iter=2, crossfade=0.05, return_magnitude=True)
    fade = int(0.05 * SR)
    assert notes.shape == (4, *model.transform.output_shape(N))
    assert len(wave) == 4 * N - 3 * fade
    cut = decode_trajectory(model, path, n_iter=0, note_seconds=0.25, crossfade=0.0)
    assert len(cut) == 4 * int(0.25 * SR)


def test_resample_path_and_crossfade():
    z = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    r = resample_path(z, 5)
    assert torch.allclose(r[:, 0], torch.linspace(0, 1, 5)) and torch.allclose(r[-1], z[-1])
    assert resample_path(z[:1], 3).shape == (3, 2)
    joined = crossfade_concat(torch.ones(3, 100), 20)
    assert len(joined) == 260 and torch.allclose(joined[10:250], torch.ones(240), atol=0.03)


def test_reconstruct_magnitudes_matches_the_model_and_write_stereo_pair(models, tmp_path):
    from helpers.latent.audio import reconstruct_magnitude_wave, reconstruct_magnitudes, write_stereo_pair

    model = models["note", "stft"]
    wave = torch.as_tensor(toy_note("Horn", 64, "ff", SR, N))
    magnitude = model.transform.analyze(wave)
    batch = torch.stack([magnitude, 0.5 * magnitude, 2 * magnitude])
    out = reconstruct_magnitudes(model, batch, batch_size=2)
    assert out.shape == batch.shape and torch.allclose(out, model.reconstruct(batch), atol=1e-5)
    assert torch.allclose(reconstruct_magnitudes(model, magnitude), out[0], atol=1e-5)
    assert reconstruct_magnitude_wave(model, magnitude, n_iter=2).shape == (N,)
    a, b = wave.numpy(), 0.5 * wave.numpy()
    path = write_stereo_pair(a, b, SR, tmp_path / "pair.wav", out_rate=16000)
    data, rate = sf.read(path)
    assert rate == 16000 and data.shape == (5 * N, 2)  # 2.5 notes at twice the rate
    left, right = data[:, 0], data[:, 1]
    assert np.abs(left[:2 * N]).max() == pytest.approx(np.abs(a).max(), rel=0.05)
    assert np.abs(right[:2 * N]).max() == pytest.approx(0.5 * np.abs(b).max(), rel=0.05)
