"""The explorer's audio glue: an update decodes, reconstructs the phase and returns a wav."""

import io

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers.audio import STFTConfig
from helpers.data.toy import toy_note, write_toy_note_set
from helpers.display.audio_explorer import audio_explorer, export_wave
from helpers.models import VAEConfig
from helpers.training import TrainerConfig
from helpers.training.audio import AudioExperimentConfig, train_audio_vae

SR, N = 8000, 4000


@pytest.fixture(scope="module", params=["frame", "note"])
def model(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    write_toy_note_set(root / "notes", SR, N, pitches=(60, 67), dynamics=("ff",))
    mp = pytest.MonkeyPatch()
    mp.setenv("NOVELTY_DATA_DIR", str(root / "data"))
    kind = request.param
    vae = VAEConfig(z_dim=4, architecture="mlp" if kind == "frame" else "conv", hidden=(16,), conv_channels=(4, 8),
                    conv_hidden=16, likelihood="gaussian", scale="per_feature")
    config = AudioExperimentConfig(
        name=f"tiny-explorer-{kind}", model=kind, vae=vae, data_root=str(root / "notes"), n_samples=N,
        transform=STFTConfig(sample_rate=SR, n_fft=256, hop_length=64, scale="db", db_floor=-60.0, gl_n_iter=4),
        trainer=TrainerConfig(n_epochs=1, batch_size=16, progress=False), frame_stride=4, time_pool=4)
    yield train_audio_vae(config, run_root=root / "runs").model
    mp.undo()


def test_update_returns_a_wav_of_one_note(model, tmp_path):
    codes = torch.randn(50, model.z_dim, generator=torch.Generator().manual_seed(0))
    explorer = audio_explorer(model, codes=codes, n_sliders=3, live_n_iter=2)
    state = explorer.update([1.0, -0.5, 0.0])
    wave, rate = sf.read(io.BytesIO(state.wav))
    assert rate == SR and len(wave) == N and np.isfinite(wave).all()
    assert state.png.startswith(b"\x89PNG") and set(state.timings) == {"decode", "audio", "render"}
    assert explorer.random_point(torch.Generator().manual_seed(1)).wav is not None
    full = export_wave(explorer)
    assert full.shape == (N,)
    path = tmp_path / "note.wav"
    sf.write(path, np.stack([toy_note("Horn", 64, "ff", 16000, 12000)] * 2, axis=1), 16000)
    encoded = explorer.encode_file(str(path))
    assert encoded.wav is not None and np.abs(encoded.values).max() <= explorer.slider_range
