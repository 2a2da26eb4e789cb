"""Exported decoders equal the Python ones, and the render command turns a trajectory file into a WAV."""

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers import render as R
from helpers.audio import STFTConfig
from helpers.audio.transform import build_transform
from helpers.latent.audio import decode_trajectory
from test_evaluation_generation import N, tiny_model


def transform():
    tf = build_transform(STFTConfig(sample_rate=8000, n_fft=256, hop_length=64, scale="db", db_floor=-60.0, gl_n_iter=4))
    tf.fit_scaling(torch.rand(8, *tf.output_shape(N), generator=torch.Generator().manual_seed(0)))
    return tf


@pytest.mark.parametrize("kind", ["frame", "note"])
def test_exported_decoder_equals_the_python_decoder(kind, tmp_path):
    model = tiny_model(transform(), kind)
    path = R.export_decoder(model, tmp_path / "decoder.pt")
    dec = R.load_decoder(path)
    assert dec.kind == kind and dec.z_dim == model.z_dim and dec.sample_rate == 8000
    for n in (1, 5, 12):  # batch sizes other than the traced one
        z = torch.randn(n, model.z_dim, generator=torch.Generator().manual_seed(n))
        ref = model.decode(z.unsqueeze(0) if kind == "frame" else z)
        ref = ref[0] if kind == "frame" else ref
        out = dec.decode(z)
        assert out.shape == ref.shape
        assert torch.allclose(out, ref, atol=1e-5, rtol=1e-5)
    assert dec.settings["transform"] == model.transform.config.to_dict()
    wave = R.render(dec, torch.randn(3, model.z_dim), duration=0.5, n_iter=2, progress=False)
    ref_wave = decode_trajectory(model, torch.randn(3, model.z_dim), duration=0.5, n_iter=2)
    assert wave.shape == ref_wave.shape and torch.isfinite(wave).all()


def test_read_trajectory_accepts_csv_and_npy_and_names_the_file_on_bad_input(tmp_path):
    good = tmp_path / "path.csv"
    good.write_text("z0,z1,z2\n0,1,2\n3,4,5\n")
    assert R.read_trajectory(good, 3).tolist() == [[0, 1, 2], [3, 4, 5]]
    np.save(tmp_path / "path.npy", np.ones((4, 3)))
    assert R.read_trajectory(tmp_path / "path.npy", 3).shape == (4, 3)
    cases = {"empty.csv": "", "ragged.csv": "1,2,3\n4,5\n", "text.csv": "a,b\nx,y\n", "nan.csv": "1,nan,3\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=name):
            R.read_trajectory(tmp_path / name, 3)
    with pytest.raises(ValueError, match="the model's latent space has 4"):
        R.read_trajectory(good, 4)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        R.read_trajectory(tmp_path / "missing.csv")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="junk.pt"):
        R.load_decoder(tmp_path / "junk.pt")


def test_render_command_writes_a_wav_from_an_exported_decoder(tmp_path):
    model = tiny_model(transform(), "frame")
    exported = R.export_decoder(model, tmp_path / "decoder.pt")
    traj = tmp_path / "path.csv"
    np.savetxt(traj, np.random.default_rng(0).normal(size=(5, model.z_dim)), delimiter=",")
    out = tmp_path / "out.wav"
    assert R.main([str(exported), str(traj), str(out), "--duration", "0.75", "--n-iter", "2"]) == 0
    wave, sr = sf.read(out)
    assert sr == 8000 and abs(len(wave) - 6000) <= 64 and 0 < np.abs(wave).max() <= 0.91
