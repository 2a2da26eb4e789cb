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


def test_time_updates_counts_every_update_and_leaves_the_origin(model):
    from helpers.display.audio_explorer import time_updates

    explorer = audio_explorer(model, codes=torch.randn(50, model.z_dim, generator=torch.Generator().manual_seed(0)),
                              n_sliders=3, live_n_iter=1)
    calls = []
    update = explorer.update
    explorer.update = lambda values=None: calls.append(np.asarray(values)) or update(values)
    timing = time_updates(explorer, 4, seed=0, clip=0.5)
    assert timing["updates"] == 4 and timing["live_n_iter"] == 1 and len(calls) == 6  # warm-up, 4, back to 0
    assert all(np.abs(v).max() <= 0.5 for v in calls[1:5]) and not calls[-1].any()
    assert 0 < timing["decode_and_phase_ms_median"] <= timing["update_ms_median"]
    assert timing["update_ms_p95"] >= timing["update_ms_median"]
    with pytest.raises(ValueError, match="n_updates=0"):
        time_updates(explorer, 0)


def test_snapshot_says_it_needs_a_kernel_and_shows_the_current_point(model):
    import matplotlib

    matplotlib.use("Agg")
    from helpers.display.audio_explorer import explorer_snapshot

    explorer = audio_explorer(model, n_sliders=2, live_n_iter=1)
    explorer.update([0.5, -1.0])
    caption, fig, player = explorer_snapshot(explorer)
    assert "running kernel" in caption.data and "+0.5, -1.0" in caption.data
    ax = fig.axes[0]
    assert ax.get_ylabel() == "frequency (Hz)" and any(a.get_ylabel() == "dB" for a in fig.axes)
    image = ax.collections[0].get_array().reshape(len(model.transform.frequencies()), -1)
    expected = explorer.glue.magnitude(explorer.glue.decode(explorer.state.z.reshape(1, -1))).numpy()
    assert np.allclose(image, 20 * np.log10(np.maximum(expected, expected.max() * 1e-4)), atol=1e-3)
    assert player.data == explorer.state.wav
