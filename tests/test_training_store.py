"""The one run store: keys hold the configs, the data's bytes and the transform; cosmetic fields
do not count; a finished run reloads, an interrupted one resumes, a tampered folder is refused."""

import dataclasses
import json

import pytest
import soundfile as sf
import torch

from helpers.audio import STFTConfig
from helpers.data.toy import write_toy_note_set
from helpers.models import VAEConfig
from helpers.training import TrainerConfig
from helpers.training.audio import AudioExperimentConfig, train_audio_vae
from helpers.training.store import (KEY_FILE, RunKeyMismatch, RunStore, files_fingerprint, run_key,
                                    strip_cosmetic)

SR, N = 8000, 4000


def test_files_fingerprint_follows_the_bytes_not_the_location(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        (root / "x").mkdir(parents=True)
        (root / "x" / "one.wav").write_bytes(b"1234")
        (root / "two.wav").write_bytes(b"abcd")
    files = lambda root: sorted(root.rglob("*.wav"))  # noqa: E731
    assert files_fingerprint(files(a), a) == files_fingerprint(files(b), b)
    (b / "two.wav").write_bytes(b"abce")  # same size, one byte changed
    assert files_fingerprint(files(a), a) != files_fingerprint(files(b), b)
    (a / "three.wav").write_bytes(b"")
    assert files_fingerprint(files(a), a) != files_fingerprint(files(a)[:-1], a)
    with pytest.raises(FileNotFoundError, match="nothere.wav"):
        files_fingerprint([a / "nothere.wav"], a)


def test_cosmetic_fields_are_dropped_at_every_level():
    key = run_key({"trainer": TrainerConfig(progress=True, device="cpu", name="x")}, {"x": "1"})
    assert key == run_key({"trainer": TrainerConfig()}, {"x": "1"})
    assert key != run_key({"trainer": TrainerConfig(lr=5e-4)}, {"x": "1"})
    assert strip_cosmetic({"a": {"progress": 1, "b": [{"device": 2, "c": 3}]}}) == {"a": {"b": [{"c": 3}]}}


def test_a_folder_whose_key_was_edited_is_not_reused(tmp_path):
    store = RunStore(tmp_path)
    key = run_key({"c": {"lr": 1}}, {"x": "abc"})
    run = store.open("r", key)
    assert json.loads((run.dir / KEY_FILE).read_text()) == key and run.status == "new"
    (run.dir / KEY_FILE).write_text(json.dumps({**key, "data": {"x": "other"}}))
    with pytest.raises(RunKeyMismatch, match=str(run.dir.name)):
        store.open("r", key)


@pytest.fixture()
def tree(tmp_path, monkeypatch):
    monkeypatch.setenv("NOVELTY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NOVELTY_RUNS_DIR", str(tmp_path / "runs"))
    return write_toy_note_set(tmp_path / "notes", SR, N)


def _config(root, **changes):
    config = AudioExperimentConfig(
        name="store-test", model="frame", data_root=str(root), n_samples=N, val_fraction=0.2, frame_stride=2,
        transform=STFTConfig(sample_rate=SR, n_fft=256, hop_length=64, scale="db", db_floor=-60.0),
        vae=VAEConfig(z_dim=2, hidden=(16,), likelihood="gaussian", scale="per_feature"),
        trainer=TrainerConfig(n_epochs=1, batch_size=64, progress=False))
    return dataclasses.replace(config, **changes)


@pytest.mark.slow
def test_audio_runs_retrain_on_lr_data_or_transform_and_reload_on_cosmetic_changes(tree):
    first = train_audio_vae(_config(tree))
    assert not first.reused and first.epochs == 1
    mtime = (first.run_dir / "checkpoints" / "last.pt").stat().st_mtime_ns

    cosmetic = _config(tree, name="renamed", tensorboard=False,
                       trainer=TrainerConfig(n_epochs=1, batch_size=64, progress=True, device="cpu"))
    again = train_audio_vae(cosmetic)
    assert again.reused and again.run_dir == first.run_dir
    assert (first.run_dir / "checkpoints" / "last.pt").stat().st_mtime_ns == mtime  # nothing written

    lr = train_audio_vae(_config(tree, trainer=TrainerConfig(n_epochs=1, batch_size=64, lr=5e-4, progress=False)))
    assert not lr.reused and lr.run_dir != first.run_dir

    other_transform = _config(tree, transform=STFTConfig(sample_rate=SR, n_fft=256, hop_length=64, scale="db",
                                                         db_floor=-70.0))
    tr = train_audio_vae(other_transform)
    assert not tr.reused and tr.run_dir not in (first.run_dir, lr.run_dir)

    one_file = sorted(tree.rglob("*.wav"))[0]
    x, sr = sf.read(one_file)
    sf.write(one_file, 0.5 * x, sr)  # one data file changes: its run is stale
    changed = train_audio_vae(_config(tree))
    assert not changed.reused and changed.run_dir != first.run_dir


def test_an_interrupted_cached_fit_resumes_to_the_same_weights(tmp_path):
    from helpers.training.cached import cached_fit
    from helpers.training.callbacks import Callback

    class StopAfter(Callback):
        def on_epoch_end(self, trainer, metrics):
            if trainer.epoch == 2:
                raise KeyboardInterrupt

    x = torch.rand(96, 8, generator=torch.Generator().manual_seed(1))
    model = VAEConfig(x_shape=(8,), z_dim=2, hidden=(8,), likelihood="gaussian")
    trainer = TrainerConfig(n_epochs=4, batch_size=32, checkpoint_every=1)
    whole = cached_fit(model, trainer, x, name="whole", run_root=tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        cached_fit(model, trainer, x, name="cut", run_root=tmp_path / "b", callbacks=[StopAfter()])
    resumed = cached_fit(model, trainer, x, name="cut", run_root=tmp_path / "b")
    assert not resumed.reused and resumed.epochs == 4
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
