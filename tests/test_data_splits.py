"""Stratified held-out split of the note set: deterministic, every instrument on both sides."""

import numpy as np
import pandas as pd
import pytest

from helpers.data.splits import note_splits, stratified_split


def _table(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for name, n in (("Violin", 40), ("Flute", 23), ("Horn", 11), ("Oboe", 2)):
        rows += [{"path": f"train/{name}/{name}-{i:03d}.wav", "split": "train", "instrument": name} for i in range(n)]
    rows += [{"path": f"test/Harp/Harp-{i:03d}.wav", "split": "test", "instrument": "Harp"} for i in range(15)]
    table = pd.DataFrame(rows)
    return table.iloc[rng.permutation(len(table))].reset_index(drop=True)


def test_every_instrument_on_both_sides_about_ten_percent():
    table = _table()
    parts = note_splits(table, val_fraction=0.1, seed=0)
    assert set(parts) == {"train", "val", "unseen"}
    all_rows = np.concatenate(list(parts.values()))
    assert sorted(all_rows) == list(range(len(table)))  # a partition
    for name, group in table[table.split == "train"].groupby("instrument"):
        n_val = table.loc[parts["val"]].instrument.eq(name).sum()
        n_train = table.loc[parts["train"]].instrument.eq(name).sum()
        assert n_val >= 1 and n_train >= 1, name
        assert n_val == max(1, round(0.1 * len(group))) or len(group) == 2
    held = len(parts["val"]) / (table.split == "train").sum()
    assert 0.08 < held < 0.14


def test_unseen_instruments_never_in_train_or_val():
    table = _table()
    parts = note_splits(table)
    assert set(table.loc[parts["unseen"], "instrument"]) == {"Harp"}
    assert "Harp" not in set(table.loc[np.concatenate([parts["train"], parts["val"]]), "instrument"])


def test_deterministic_and_independent_of_row_order():
    a, b = _table(seed=0), _table(seed=1)  # same rows, shuffled differently
    val_a = set(a.loc[note_splits(a, seed=3)["val"], "path"])
    val_b = set(b.loc[note_splits(b, seed=3)["val"], "path"])
    assert val_a == val_b
    assert val_a == set(a.loc[note_splits(a, seed=3)["val"], "path"])
    assert val_a != set(a.loc[note_splits(a, seed=4)["val"], "path"])


def test_bad_fraction_and_singletons():
    with pytest.raises(ValueError, match="fraction"):
        stratified_split(["a", "b"], fraction=1.0)
    kept, held = stratified_split(["a", "b", "b"], fraction=0.5)
    assert list(held) == [1] or list(held) == [2]
    assert 0 in kept  # a group of one stays on the training side


def test_middle_notes_picks_the_median_pitch_of_each_instrument_whatever_the_row_order():
    from helpers.data.splits import middle_notes

    rows = [{"path": f"{name}-{p}-{d}.wav", "instrument": name, "pitch": p, "dynamics": d}
            for name, pitches in (("Violin", range(55, 70)), ("Flute", range(60, 67)))
            for p in pitches for d in ("pp", "mf")]
    table = pd.DataFrame(rows)
    picks = middle_notes(table, dynamics="mf")
    assert [table.loc[i, "instrument"] for i in picks] == ["Flute", "Violin"]
    assert [table.loc[i, "pitch"] for i in picks] == [63, 62]
    assert all(table.loc[i, "dynamics"] == "mf" for i in picks)
    shuffled = table.sample(frac=1.0, random_state=3)
    assert middle_notes(shuffled, dynamics="mf") == picks  # same labels, any order
    with pytest.raises(KeyError, match="Oboe"):
        middle_notes(table, groups=["Oboe"])


def _flat_table():
    """A tree without split folders, three SoundFonts: the table a TinySOL-style tree gives."""
    rows = [{"path": f"{name}/{sf}-{i:02d}.wav", "split": "", "instrument": name, "soundfont": sf}
            for name in ("Violin", "Cello", "Horn", "Bass_Tuba", "Harp") for sf in ("musescore", "timgm6mb", "csound")
            for i in range(10)]
    return pd.DataFrame(rows)


def test_no_split_folders_stratified_split_and_default_unseen_instruments():
    table = _flat_table()
    parts = note_splits(table, val_fraction=0.1, seed=0)
    assert sorted(np.concatenate(list(parts.values()))) == list(range(len(table)))
    assert set(table.loc[parts["unseen"], "instrument"]) == {"Bass_Tuba", "Harp"}  # as in the rendered set
    for name in ("Violin", "Cello", "Horn"):
        assert table.loc[parts["val"]].instrument.eq(name).sum() == 3  # 10% of 30
    none_unseen = note_splits(table, unseen_instruments=())
    assert len(none_unseen["unseen"]) == 0
    named = note_splits(table, unseen_instruments=["Violoncello", "Hn"])  # any spelling
    assert set(table.loc[named["unseen"], "instrument"]) == {"Cello", "Horn"}
    with pytest.raises(ValueError, match="unseen_instruments.*Oboe"):
        note_splits(table, unseen_instruments=["Oboe"])
    with pytest.raises(ValueError, match="no training notes"):
        note_splits(table, unseen_instruments=["Violin", "Cello", "Horn", "Tuba", "Harp"])


def test_leave_one_soundfont_out():
    table = _flat_table()
    parts = note_splits(table, holdout={"soundfont": "timgm6mb"})
    val, train = table.loc[parts["val"]], table.loc[parts["train"]]
    assert set(val.soundfont) == {"timgm6mb"} and set(train.soundfont) == {"musescore", "csound"}
    assert set(val.instrument) == set(train.instrument) == {"Violin", "Cello", "Horn"}
    assert len(val) == 30 and len(train) == 60
    assert set(table.loc[parts["unseen"], "instrument"]) == {"Bass_Tuba", "Harp"}  # every SoundFont
    with pytest.raises(ValueError, match="holdout.*fluid"):
        note_splits(table, holdout={"soundfont": "fluid"})
    with pytest.raises(KeyError, match="holdout.*velocity"):
        note_splits(table, holdout={"velocity": "80"})
    with pytest.raises(ValueError, match="leaves no training note"):
        note_splits(table, holdout={"soundfont": ["musescore", "timgm6mb", "csound"]})


def test_note_table_filters_soundfonts_and_adds_a_second_tree(tmp_path):
    from helpers.data.splits import note_table
    from helpers.data.toy import write_toy_note_set

    write_toy_note_set(tmp_path / "a", pitches=(60, 64), dynamics=("ff",), train=("Violin", "Horn"), unseen=())
    write_toy_note_set(tmp_path / "b", pitches=(60,), dynamics=("ff",), train=("Flute",), unseen=())
    rel = sorted(p.relative_to(tmp_path / "a").as_posix() for p in (tmp_path / "a").rglob("*.wav"))
    pd.DataFrame({"path": rel, "soundfont": ["x", "y"] * 2}).to_csv(tmp_path / "a" / "metadata.csv", index=False)
    table = note_table(tmp_path / "a", soundfonts=["x"], unseen_root=tmp_path / "b")
    assert set(table.loc[table.split == "train", "soundfont"]) == {"x"} and (table.split == "train").sum() == 2
    assert table.loc[table.split == "test", "instrument"].tolist() == ["Flute"]
    parts = note_splits(table, val_fraction=0.5)
    assert table.loc[parts["unseen"], "instrument"].tolist() == ["Flute"]
    with pytest.raises(FileNotFoundError, match="no SOL-style notes"):
        note_table(tmp_path / "a", soundfonts=["z"])
