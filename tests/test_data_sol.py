"""SOL-style reader: pitch names, the three naming schemes, bad files, resampling, mono, length."""

import os
import warnings

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from helpers.data import sol

SR = 22050


def write_tone(path, freq=440.0, sr=SR, seconds=0.5, channels=1, fmt=None, amp=0.5):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sr * seconds)) / sr
    x = amp * np.sin(2 * np.pi * freq * t)
    data = np.stack([x * (c + 1) / channels for c in range(channels)], axis=1) if channels > 1 else x
    sf.write(path, data.astype(np.float32), sr, subtype="PCM_16", format=fmt)
    return path


@pytest.mark.parametrize(
    "name, midi",
    [("A4", 69), ("C4", 60), ("A#3", 58), ("Bb3", 58), ("C-1", 0), ("C#-1", 1), ("G9", 127),
     ("e2", 40), ("Cb4", 59), ("B#3", 60), ("F##2", 43)],
)
def test_parse_pitch(name, midi):
    assert sol.parse_pitch(name) == midi


@pytest.mark.parametrize("name", ["H4", "A", "4", "G#9", "Cb-1", "A#b", "ord", ""])
def test_parse_pitch_rejects(name):
    with pytest.raises(ValueError):
        sol.parse_pitch(name)


def test_pitch_name_round_trip():
    for midi in range(128):
        assert sol.parse_pitch(sol.pitch_name(midi)) == midi
        assert sol.parse_pitch(sol.pitch_name(midi, flats=True)) == midi
    assert sol.pitch_name(58) == "A#3" and sol.pitch_name(58, flats=True) == "Bb3"


@pytest.mark.parametrize(
    "name, scheme, abbr, technique, pitch, dyn, extra",
    [
        ("Vn-ord-A4-ff-N.wav", "sol", "Vn", "ord", 69, "ff", ("N",)),  # the rendered set
        ("Vn-ord-A#3-ff-4c-N.wav", "sol", "Vn", "ord", 58, "ff", ("4c", "N")),  # TinySOL
        ("Fl-flatt-C4-mf-N-T10d.wav", "sol", "Fl", "flatt", 60, "mf", ("N", "T10d")),  # OrchideaSOL
        ("ClBb-ord-Bb3-pp-N.aif", "sol", "ClBb", "ord", 58, "pp", ("N",)),
        ("Hp-ord-C#-1-p-N.wav", "sol", "Hp", "ord", 1, "p", ("N",)),  # negative octave
        ("EH_nA-4_120-A#3-ff.wav", "acids", "EH", "", 58, "ff", ()),  # acidsInstruments
        ("Fl_nA-2_120-C5-pp.aif", "acids", "Fl", "", 72, "pp", ()),
    ],
)
def test_parse_filename_schemes(name, scheme, abbr, technique, pitch, dyn, extra):
    parsed = sol.parse_filename(name)
    assert (parsed.scheme, parsed.abbr, parsed.technique, parsed.pitch, parsed.dynamics, parsed.extra) == (
        scheme, abbr, technique, pitch, dyn, extra)


@pytest.mark.parametrize("name", ["README.wav", "Vn-ord-A4.wav", "Vn-ord-X4-ff-N.wav", "Vn-ord-A4-loud-N.wav", "-ord-A4-ff.wav"])
def test_parse_filename_rejects_and_names_file(name):
    with pytest.raises(sol.SolNameError, match=name.split(".")[0]):
        sol.parse_filename(f"/some/dir/{name}")


def test_labels_from_folders_and_abbreviations(tmp_path):
    ours = sol.labels_for(tmp_path / "train/Strings/Violin/ordinario/Vn-ord-A4-ff-N.wav")
    assert (ours["split"], ours["family"], ours["instrument"], ours["pitch"], ours["dynamics"]) == (
        "train", "Strings", "Violin", 69, "ff")
    tiny = sol.labels_for(tmp_path / "TinySOL/Winds/Clarinet_Bb/ordinario/ClBb-ord-D3-pp-N.wav")
    assert (tiny["family"], tiny["instrument"], tiny["technique"], tiny["pitch"]) == ("Winds", "Clarinet_Bb", "ordinario", 50)
    acids = sol.labels_for(tmp_path / "data/Brass/English-Horn/ordinario/EH_nA-4_120-A#3-ff.wav")
    assert (acids["family"], acids["instrument"], acids["abbr"], acids["pitch"], acids["scheme"]) == (
        "Brass", "English_Horn", "EH", 58, "acids")
    no_technique = sol.labels_for(tmp_path / "Strings/Cello/Vc-ord-C2-mf-N.wav")
    assert (no_technique["family"], no_technique["instrument"]) == ("Strings", "Cello")
    flat = sol.labels_for(tmp_path / "notes/Hn-ord-F3-pp-N.wav")
    assert (flat["family"], flat["instrument"], flat["split"]) == ("Brass", "Horn", "")
    unknown = sol.labels_for(tmp_path / "Xyz-ord-F3-pp-N.wav")
    assert (unknown["family"], unknown["instrument"]) == ("", "Xyz")


def test_read_audio_formats_and_mono_mix(tmp_path):
    wav = write_tone(tmp_path / "a.wav", channels=2)
    aif = write_tone(tmp_path / "b.aif", fmt="AIFF")
    x, sr = sol.read_audio(wav)
    assert x.shape == (2, SR // 2) and sr == SR
    assert sol.read_audio(aif)[0].shape == (1, SR // 2)
    mono = sol.to_mono(torch.from_numpy(x))
    torch.testing.assert_close(mono, torch.from_numpy(x).mean(0))
    assert sol.to_mono(mono) is mono


def test_resampling_keeps_frequency(tmp_path):
    path = write_tone(tmp_path / "hi.wav", freq=1000.0, sr=44100, seconds=1.0, channels=2)
    x = sol.load_waveform(path, sample_rate=SR, n_samples=SR)
    assert x.shape == (SR,) and x.dtype == torch.float32
    spectrum = torch.fft.rfft(x * torch.hann_window(SR, periodic=False)).abs()
    freqs = torch.fft.rfftfreq(SR, 1 / SR)
    assert abs(freqs[spectrum.argmax()].item() - 1000.0) <= 1.0
    # stereo channels at amplitudes 0.25 and 0.5 mix to 0.375
    assert x[2000:20000].abs().max().item() == pytest.approx(0.375, abs=0.01)


def test_fix_length_pads_and_trims():
    x = torch.arange(1.0, 6.0)
    assert sol.fix_length(x, 3).tolist() == [1, 2, 3]
    assert sol.fix_length(x, 7).tolist() == [1, 2, 3, 4, 5, 0, 0]
    assert sol.fix_length(torch.ones(2, 4), 6).shape == (2, 6)


def make_tree(root):
    """A tiny SOL-style tree: rendered-set, TinySOL and acids names, varied rates and lengths."""
    write_tone(root / "train/Strings/Violin/ordinario/Vn-ord-A4-ff-N.wav", 440.0, seconds=1.0)
    write_tone(root / "train/Strings/Violin/ordinario/Vn-ord-A5-pp-N.wav", 880.0, seconds=0.3)  # short: padded
    write_tone(root / "train/Brass/Horn/ordinario/Hn-ord-C3-mf-N.wav", 130.8, sr=44100, seconds=1.5, channels=2)
    write_tone(root / "test/Winds/English-Horn/ordinario/EH_nA-4_120-A#3-ff.aif", 233.1, sr=48000, fmt="AIFF")
    return root


def test_load_sol_tree(tmp_path):
    root = make_tree(tmp_path / "set")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean tree reads without any warning
        data = sol.load_sol(root, sample_rate=SR, duration=1.0, progress=False)
    assert data.waves.shape == (4, SR) and data.waves.dtype == torch.float32
    assert len(data) == 4 and data.duration == 1.0 and data.skipped == []
    labels = data.labels.set_index(data.labels["path"].map(lambda p: p.split("/")[-1]))
    assert labels.loc["Hn-ord-C3-mf-N.wav", ["family", "instrument", "pitch", "dynamics"]].tolist() == ["Brass", "Horn", 48, "mf"]
    assert labels.loc["EH_nA-4_120-A#3-ff.aif", ["split", "instrument", "pitch"]].tolist() == ["test", "English_Horn", 58]
    short = data.paths.index(root / "train/Strings/Violin/ordinario/Vn-ord-A5-pp-N.wav")
    assert data.waves[short, int(0.3 * SR) + 10 :].abs().max() == 0  # zero padding after the note
    assert pd.api.types.is_integer_dtype(data.labels["pitch"])
    codes, cats = data.codes("instrument")
    assert cats == ["English_Horn", "Horn", "Violin"] and codes.tolist() == [cats.index(i) for i in data.labels["instrument"]]


def test_load_sol_filters_and_file_list(tmp_path):
    root = make_tree(tmp_path / "set")
    assert len(sol.load_sol(root, split="train", progress=False)) == 3
    assert len(sol.load_sol(root, instruments="Vn", progress=False)) == 2
    assert len(sol.load_sol(root, instruments=["Horn", "EH"], dynamics="ff", progress=False)) == 1
    assert len(sol.load_sol(root, families="Winds", progress=False)) == 1
    files = sorted(root.rglob("*.wav"))
    data = sol.load_sol(files, progress=False)
    assert data.paths == files
    sub = data.select(data.labels["pitch"] > 60)
    assert len(sub) == 2 and sub.labels["pitch"].tolist() == [69, 81]


def make_bad_files(root):
    bad = root / "train/Strings/Viola/ordinario"
    bad.mkdir(parents=True)
    (bad / "Va-ord-C4-pp-N.wav").write_bytes(b"")  # empty
    (bad / "Va-ord-D4-pp-N.wav").write_text("this is not audio")  # not audio
    truncated = write_tone(bad / "Va-ord-E4-pp-N.wav", seconds=1.0)
    truncated.write_bytes(truncated.read_bytes()[:5000])  # header says 1 s, half is missing
    sf.write(bad / "Va-ord-F4-pp-N.wav", np.zeros(0, np.float32), SR)  # a header without frames
    write_tone(bad / "viola_notes.wav")  # a name that does not parse
    return sorted(p.name for p in bad.iterdir())


def test_bad_files_skipped_with_one_warning(tmp_path):
    root = make_tree(tmp_path / "set")
    names = make_bad_files(root)
    with pytest.warns(UserWarning) as record:
        data = sol.load_sol(root, progress=False)
    assert len(record) == 1
    message = str(record[0].message)
    assert "skipped 5 file(s)" in message
    for name in names:
        assert name in message
    assert "empty" in message and "truncated" in message and "not readable" in message
    assert len(data) == 4 and len(data.skipped) == 5


@pytest.mark.parametrize(
    "bad_name, error",
    [("Va-ord-C4-pp-N.wav", sol.BadAudioError), ("Va-ord-E4-pp-N.wav", sol.BadAudioError), ("viola_notes.wav", sol.SolNameError)],
)
def test_strict_mode_raises_naming_the_file(tmp_path, bad_name, error):
    root = make_tree(tmp_path / "set")
    make_bad_files(root)
    others = [p for p in root.rglob("*") if p.is_file() and "Viola" in str(p) and p.name != bad_name]
    for p in others:
        p.unlink()
    with pytest.raises(error, match=bad_name) as info:
        sol.load_sol(root, strict=True, progress=False)
    assert info.value.path.name == bad_name


def test_missing_source(tmp_path):
    with pytest.raises(FileNotFoundError):
        sol.load_sol(tmp_path / "nowhere", progress=False)
    with pytest.raises(sol.BadAudioError, match="gone.wav"):
        sol.read_audio(tmp_path / "gone.wav")


@pytest.mark.parametrize(
    "spellings, canonical",
    [(("Violoncello", "Cello", "Vc", "violoncello", "Violon-cello"), "Cello"),
     (("French_Horn", "Horn", "Hn", "French-Horn", "french horn"), "Horn"),
     (("Tenor_Trombone", "Trombone", "TTbn", "Tbn", "Tenor-Trombone"), "Trombone"),
     (("Trumpet_C", "Trumpet", "TpC", "Tp", "Trumpet-C"), "Trumpet_C"),
     (("Clarinet_Bb", "Clarinet", "ClBb", "Cl", "Clarinet-Bb"), "Clarinet_Bb"),
     (("Bass_Tuba", "Tuba", "BTb", "Bass-Tuba"), "Bass_Tuba"),
     (("English_Horn", "Cor_anglais", "EH", "English-Horn"), "English_Horn"),
     (("Alto_Saxophone", "Sax_Alto", "ASax", "Alto-Saxophone"), "Alto_Saxophone"),
     (("Contrabass", "Double_Bass", "Cb", "Double-Bass"), "Contrabass")],
)
def test_alias_table_maps_every_spelling_to_one_name(spellings, canonical):
    assert {sol.canonical_instrument(s) for s in spellings} == {canonical}


def test_alias_table_keeps_the_rendered_set_names_and_unknown_names():
    from helpers.data.instruments import INSTRUMENTS

    for name, inst in INSTRUMENTS.items():  # the rendered set's names and abbreviations are canonical
        assert sol.canonical_instrument(name) == name and sol.canonical_instrument(inst.abbr) == name
        assert sol.instrument_family(inst.abbr) == inst.family
    owners = {}
    for name, (_, aliases) in sol.INSTRUMENT_ALIASES.items():
        for alias in (name, *aliases):
            owners.setdefault(sol._alias_key(alias), set()).add(name)
    assert all(len(names) == 1 for names in owners.values())  # no spelling points at two instruments
    assert sol.canonical_instrument("Theremin") == "Theremin" and sol.instrument_family("Theremin") == ""


def test_tree_folders_spelled_another_way_and_without_split_folders(tmp_path):
    root = tmp_path / "TinySOL"
    write_tone(root / "Strings/Violoncello/ordinario/Vc-ord-C3-ff-4c-N.wav", 130.8, sr=44100)
    write_tone(root / "Brass/French_Horn/ordinario/Hn-ord-F3-pp-N.wav", 174.6)
    write_tone(root / "Brass/Tenor_Trombone/ordinario/TTbn-ord-A#2-mf-N.wav", 116.5)
    write_tone(root / "Winds/Theremin/ordinario/Thr-ord-A4-mf-N.wav")  # unknown: kept as written
    write_tone(root / "Tuba-notes/BTb-ord-C2-ff-N.wav", 65.4)  # no family folder: from the abbreviation
    labels = sol.load_sol(root, progress=False).labels.sort_values("pitch")
    assert labels["instrument"].tolist() == ["Bass_Tuba", "Trombone", "Cello", "Horn", "Theremin"]
    assert labels["family"].tolist() == ["Brass", "Brass", "Strings", "Brass", "Winds"]
    assert set(labels["split"]) == {""}  # the root folder's own name is not a split
    assert set(labels["soundfont"]) == {""}
    assert len(sol.load_sol(root, instruments=["Violoncello", "Hn"], progress=False)) == 2


def test_symlinked_files_and_folders_are_followed_and_loops_stopped(tmp_path):
    store = make_tree(tmp_path / "store")
    root = tmp_path / "linked"
    (root / "train/Strings").mkdir(parents=True)
    os.symlink(store / "train/Brass", root / "train/Brass", target_is_directory=True)
    (root / "train/Strings/Violin/ordinario").mkdir(parents=True)
    for f in (store / "train/Strings/Violin/ordinario").iterdir():
        os.symlink(f, root / "train/Strings/Violin/ordinario" / f.name)
    os.symlink(root / "train", root / "train/Strings/loop", target_is_directory=True)  # a loop
    os.symlink(tmp_path / "gone.wav", root / "train/Strings/Violin/ordinario/Vn-ord-C4-ff-N.wav")  # broken
    with pytest.warns(UserWarning, match="2 link") as record:
        data = sol.load_sol(root, progress=False)
    message = str(record[0].message)
    assert "loop" in message and "Vn-ord-C4-ff-N.wav" in message
    assert sorted(data.labels["instrument"]) == ["Horn", "Violin", "Violin"]
    assert set(data.labels["split"]) == {"train"} and all(str(p).startswith(str(root)) for p in data.paths)


def test_metadata_columns_join_the_labels(tmp_path):
    root = make_tree(tmp_path / "set")
    pd.DataFrame({"path": ["train/Strings/Violin/ordinario/Vn-ord-A4-ff-N.wav", "./train/Brass/Horn/ordinario/Hn-ord-C3-mf-N.wav"],
                  "instrument": ["ignored", "ignored"], "soundfont": ["musescore", "timgm6mb"],
                  "velocity": [120, 80]}).to_csv(root / "metadata.csv", index=False)
    labels = sol.load_sol(root, progress=False).labels
    by_name = labels.set_index(labels["path"].map(lambda p: p.split("/")[-1]))
    assert by_name.loc["Vn-ord-A4-ff-N.wav", ["instrument", "soundfont", "velocity"]].tolist() == ["Violin", "musescore", 120]
    assert by_name.loc["Hn-ord-C3-mf-N.wav", "soundfont"] == "timgm6mb"
    assert by_name.loc["Vn-ord-A5-pp-N.wav", "soundfont"] == ""  # a file the table does not list
    assert len(sol.load_sol(root, soundfonts="timgm6mb", progress=False)) == 1
    (root / "metadata.csv").write_text("file,soundfont\nx.wav,a\n")
    with pytest.raises(ValueError, match="metadata.csv.*'path'"):
        sol.load_sol(root, progress=False)


@pytest.mark.parametrize("fmt, subtype", [("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "PCM_32"), ("WAV", "FLOAT"),
                                          ("AIFF", "PCM_24"), ("FLAC", "PCM_24"), ("FLAC", "PCM_16")])
def test_one_loader_for_every_format_rate_and_channel_count(tmp_path, fmt, subtype):
    """What load_sol and the spectra cache read: the same note whatever the file's encoding."""
    t = np.arange(44100) / 44100
    x = 0.5 * np.sin(2 * np.pi * 440.0 * t)
    path = tmp_path / f"Vn-ord-A4-ff-N.{fmt.lower()}"
    sf.write(path, np.stack([x, 0.5 * x], axis=1).astype(np.float32), 44100, subtype=subtype, format=fmt)
    wave = sol.load_waveform(path, SR, SR)
    reference = sol.resample(torch.from_numpy(0.75 * x).float(), 44100, SR)
    assert wave.shape == (SR,)
    torch.testing.assert_close(wave, reference, atol=2e-4 if subtype == "PCM_16" else 1e-5, rtol=0)
