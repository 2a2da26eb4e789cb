"""A user's tree of real recordings trains end to end: TinySOL layout without split folders,
44.1 kHz stereo 24-bit notes, folder spellings of another naming scheme, a symlinked folder;
read, counted, split and trained through the functions the notebooks call."""

import os

import numpy as np
import pytest
import torch

from helpers.audio.noteset import note_parts
from helpers.data.sol import load_sol
from helpers.training.audio import prepare_audio_data, train_audio_vae
from helpers.training.presets import audio_preset
from sol_trees import TINYSOL_INSTRUMENTS, counts_on_disk, write_tinysol_tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return write_tinysol_tree(tmp_path_factory.mktemp("tinysol") / "TinySOL")


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("NOVELTY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NOVELTY_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("NOVELTY_DATA_DIR", str(tmp_path / "no-data"))  # the rendered set is never read


def test_note_counts_per_canonical_instrument_match_the_files(tree):
    on_disk = counts_on_disk(tree)
    assert set(on_disk) == {name for *_, name, _ in TINYSOL_INSTRUMENTS}  # Cello, Horn, Trombone ...
    config = audio_preset("frame", "stft", smoke=True, data_root=str(tree), max_per_instrument=None)
    table = note_parts(config, progress=False)
    assert table.groupby("instrument").size().to_dict() == on_disk
    assert set(table["split"]) == {""} and set(table["soundfont"]) == {""}
    # no split folders: a stratified held-out share of every training instrument; the instruments the
    # rendered set keeps unseen (tuba, alto sax) are the unseen part
    assert set(table.loc[table.part == "unseen", "instrument"]) == {"Bass_Tuba", "Alto_Saxophone"}
    for name, group in table[table.part != "unseen"].groupby("instrument"):
        assert (group.part == "val").sum() == 1 and (group.part == "train").sum() == 5, name
    # the same counts through the reader of notebooks 00 and 02, at the working rate, mono
    notes = load_sol(tree, sample_rate=22050, duration=1.0, progress=False)
    assert notes.labels.groupby("instrument").size().to_dict() == on_disk
    assert notes.waves.shape == (sum(on_disk.values()), 22050)


def test_unseen_instruments_by_name_and_by_second_root(tree, tmp_path):
    config = audio_preset("frame", "stft", smoke=True, data_root=str(tree), max_per_instrument=None,
                          unseen_instruments=("Violoncello", "Gtr"))  # folder spelling and abbreviation
    table = note_parts(config, progress=False)
    assert set(table.loc[table.part == "unseen", "instrument"]) == {"Cello", "Guitar"}
    assert {"Bass_Tuba", "Alto_Saxophone"} <= set(table.loc[table.part == "train", "instrument"])
    with pytest.raises(ValueError, match="unseen_instruments.*Celesta"):
        note_parts(config.replace(unseen_instruments=("Celesta",)), progress=False)

    seen, other = tmp_path / "seen", tmp_path / "other"
    write_tinysol_tree(seen, pitches=(60,), instruments=TINYSOL_INSTRUMENTS[:3])
    write_tinysol_tree(other, pitches=(60,), instruments=TINYSOL_INSTRUMENTS[3:4])
    table = note_parts(config.replace(data_root=str(seen), unseen_root=str(other), unseen_instruments=None),
                       progress=False)
    assert set(table.loc[table.part == "unseen", "instrument"]) == {"Trombone"}
    assert set(table.loc[table.part != "unseen", "instrument"]) == {"Violin", "Cello", "Horn"}


def test_a_symlinked_tree_reads_the_same(tree, tmp_path):
    (tmp_path / "linked").mkdir()
    os.symlink(tree, tmp_path / "linked" / "train", target_is_directory=True)
    config = audio_preset("frame", "stft", smoke=True, data_root=str(tmp_path / "linked"), max_per_instrument=None)
    table = note_parts(config, progress=False)
    assert table.groupby("instrument").size().to_dict() == counts_on_disk(tree)
    assert set(table["split"]) == {"train"}  # the link's name is the split folder


@pytest.mark.parametrize("model", ["frame", "note"])
def test_frame_and_note_models_train_one_epoch_on_the_tree(tree, model):
    config = audio_preset(model, "stft", smoke=True, data_root=str(tree))
    run = train_audio_vae(config)  # the call of notebook 03
    assert not run.reused and run.epochs == 1
    assert np.isfinite(run.history[-1]["train_loss"]) and np.isfinite(run.history[-1]["val_loss"])
    data = prepare_audio_data(config.resolve(), progress=False)
    assert data.transform.sample_rate == 22050  # 44.1 kHz stereo files resampled, mixed to mono
    assert len(data.part("train")) == 9 and len(data.part("val")) == 9 and len(data.part("unseen")) == 4
    wave = data.waves("train", [0])
    assert wave.shape == (1, config.n_samples) and float(wave.abs().max()) > 0.05
    x = data.magnitudes("val")[:2]
    recon = run.model.reconstruct(x)
    assert recon.shape == x.shape and torch.isfinite(recon).all()
    assert train_audio_vae(config).reused  # the same call again finds the finished run
