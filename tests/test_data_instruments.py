"""The rendered instrument set: plan, naming, atomic and idempotent rendering, and real notes."""

import dataclasses
import json
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers.data import instruments as ins
from helpers.data import sol
from helpers.data.fetch_utils import ChecksumError, sha256sum, verify_checksum


class FakeRenderer:
    """Stands in for the synthesiser: a decaying tone at the note's pitch, louder with velocity.

    Its timbre (number of harmonics) and level depend on the SoundFont file, as with real banks.
    """

    missing_programs: dict = {}  # SoundFont file name -> GM programs it lacks

    def __init__(self, soundfont, config=None):
        self.config = config or ins.InstrumentSetConfig()
        self.name = Path(soundfont).name
        self.harmonics = 1 + len(self.name) % 4
        self.level = 0.2 + 0.1 * (len(self.name) % 3)

    def preset_name(self, program):
        return None if program in self.missing_programs.get(self.name, ()) else f"preset {program}"

    def render(self, program, pitch, velocity):
        sr = self.config.sample_rate
        t = np.arange(int(self.config.duration * sr)) / sr
        freq = 440.0 * 2 ** ((pitch - 69) / 12)
        tone = sum(np.sin(2 * np.pi * k * freq * t) / k for k in range(1, self.harmonics + 1) if k * freq < sr / 2)
        return self.level * velocity / 127 * np.exp(-3 * t) * tone, True


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """Three fake SoundFont files, one per default id (distinct bytes, names and timbres)."""
    monkeypatch.setattr(ins, "NoteRenderer", FakeRenderer)
    monkeypatch.setattr(FakeRenderer, "missing_programs", {})
    files = {}
    for sid, name in zip(ins.DEFAULT_SOUNDFONTS, ("a.sf2", "bb.sf2", "ccc.sf2")):
        files[sid] = tmp_path / name
        files[sid].write_bytes(b"RIFF\x04\x00\x00\x00sfbk" + name.encode())
    return files


SMALL = dict(instruments=("Violin", "Harp"), step=12, dynamics={"pp": 40, "ff": 120})


def test_default_plan():
    plan = ins.note_plan()
    assert {n.soundfont for n in plan} == {"musescore", "timgm6mb", "csoundgm"}
    per_soundfont = len(plan) // 3
    assert 1900 <= per_soundfont <= 2200 and len(plan) == 3 * per_soundfont
    assert len({n.relpath for n in plan}) == len(plan)
    train = {n.instrument.name for n in plan if n.instrument.split == "train"}
    test = {n.instrument.name for n in plan if n.instrument.split == "test"}
    assert len(train) == 11 and len(test) == 5
    assert {n.dynamics: n.velocity for n in plan} == {"pp": 40, "mf": 80, "ff": 120}
    violin = [n.pitch for n in plan if n.instrument.name == "Violin"]
    assert min(violin) == sol.parse_pitch("G3") and max(violin) == sol.parse_pitch("E7")
    assert plan[0].relpath == "train/Strings/Violin/ordinario/Vn-ord-G3-pp-musescore-N.wav"
    assert plan[-1].relpath == "test/Keyboards/Accordion/ordinario/Acc-ord-A6-ff-csoundgm-N.wav"


def test_names_read_back_by_the_sol_reader():
    for note in ins.note_plan():
        labels = sol.labels_for(note.relpath)
        i = note.instrument
        folders = (labels["split"], labels["family"], labels["instrument"], labels["abbr"])
        assert folders == (i.split, i.family, i.name, i.abbr)
        assert (labels["pitch"], labels["dynamics"], labels["scheme"]) == (note.pitch, note.dynamics, "sol")
    parsed = sol.parse_filename("train/Strings/Violin/ordinario/Vn-ord-A4-ff-musescore-N.wav")
    assert (parsed.abbr, parsed.pitch, parsed.dynamics, parsed.extra) == ("Vn", 69, "ff", ("musescore", "N"))
    low = sol.parse_filename(ins.Note(ins.INSTRUMENTS["Harp"], 12, "pp", 40, "csoundgm").relpath)
    assert (low.pitch, low.pitch_name, low.extra) == (12, "C0", ("csoundgm", "N"))


def test_config_round_trip_and_hash():
    config = ins.InstrumentSetConfig(**SMALL)
    again = ins.InstrumentSetConfig.from_dict(config.to_dict())
    assert again == config and again.config_hash() == config.config_hash()
    assert again.soundfonts == ("musescore", "timgm6mb", "csoundgm")
    assert ins.InstrumentSetConfig(**{**SMALL, "hold": 0.7}).config_hash() != config.config_hash()
    two = ins.InstrumentSetConfig(**SMALL, soundfonts=("musescore", "timgm6mb"))
    assert two.config_hash() != config.config_hash()
    with pytest.raises(ValueError, match="Kazoo"):
        ins.InstrumentSetConfig(instruments=("Kazoo",))
    for bad in (("muse_score",), ("muse-score",), ("musescore", "musescore"), ()):
        with pytest.raises(ValueError, match="soundfonts"):
            ins.InstrumentSetConfig(soundfonts=bad)


def test_render_writes_set_with_one_gain_per_soundfont(fake, tmp_path):
    config = ins.InstrumentSetConfig(**SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dest = ins.render_instrument_set(tmp_path / "set", fake, config, progress=False)
    meta = ins.check_instrument_set(dest)
    assert len(meta) == len(ins.note_plan(config)) == 3 * 22
    assert list(meta.columns[:10]) == ins.METADATA_COLUMNS
    assert all(f"-{sid}-N.wav" in path for sid, path in zip(meta["soundfont"], meta["path"]))
    loudest = meta.groupby("soundfont")["peak_dbfs"].max()
    assert loudest.to_dict() == pytest.approx({sid: config.peak_dbfs for sid in fake}, abs=0.01)
    by_dyn = meta.groupby(["soundfont", "instrument", "pitch", "dynamics"])["peak_dbfs"].first().unstack()
    assert (by_dyn["ff"] - by_dyn["pp"]).round(1).eq(round(20 * np.log10(3), 1)).all()  # dynamics kept
    marker = ins.read_marker(dest)
    assert marker["config_hash"] == config.config_hash() and marker["missing_soundfonts"] == {}
    gains = set()
    for sid, path in fake.items():
        part = marker["soundfonts"][sid]
        assert (part["name"], part["sha256"]) == (path.name, sha256sum(path))
        assert part["counts"] == {"train/Violin": 8, "test/Harp": 14} and part["missing_presets"] == []
        assert part["loudest_note_dbfs"] == pytest.approx(-1.0, abs=0.01) and part["quietest_note_dbfs"] < -1.0
        gains.add(round(part["gain"], 6))
    assert len(gains) == 3  # each SoundFont's own level
    timbre = marker["timbre_distance_db"]
    assert set(timbre["soundfonts"]) == {"musescore/timgm6mb", "musescore/csoundgm", "timgm6mb/csoundgm"}
    assert all(d > 1.0 for pair in timbre["soundfonts"].values() for d in pair.values())  # other harmonics
    assert all(d < 0.01 for part in timbre["dynamics"].values() for d in part.values())  # velocity: level only
    assert ins.is_complete(dest, config) and not ins.is_complete(dest, ins.InstrumentSetConfig())
    assert ins.is_complete(dest, config, {"timgm6mb": sha256sum(fake["timgm6mb"])})
    assert not ins.is_complete(dest, config, {"timgm6mb": sha256sum(fake["musescore"])})
    x, rate = sf.read(dest / meta["path"][0], dtype="int16")
    assert rate == 22050 and x.shape == (22050,)
    data = sol.load_sol(dest, progress=False)
    assert len(data) == len(meta) and set(data.labels["instrument"]) == {"Violin", "Harp"}


def test_render_is_deterministic(fake, tmp_path):
    config = ins.InstrumentSetConfig(**SMALL)
    a = ins.render_instrument_set(tmp_path / "a", fake, config, progress=False)
    b = ins.render_instrument_set(tmp_path / "b", fake, config, progress=False)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file() and p.name != "dataset.json")
    assert len(files) == 3 * 22 + 1
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file() and p.name != "dataset.json")
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes()


def test_missing_preset_is_reported(fake, tmp_path):
    FakeRenderer.missing_programs = {fake["timgm6mb"].name: {46}}
    with pytest.warns(UserWarning, match="Harp") as caught:
        dest = ins.render_instrument_set(tmp_path / "set", fake, ins.InstrumentSetConfig(**SMALL), progress=False)
    assert len(caught) == 1
    meta = ins.load_metadata(dest)
    assert set(meta.loc[meta["soundfont"] == "timgm6mb", "instrument"]) == {"Violin"}
    assert set(meta.loc[meta["soundfont"] == "csoundgm", "instrument"]) == {"Violin", "Harp"}
    marker = ins.read_marker(dest)
    assert marker["soundfonts"]["timgm6mb"]["missing_presets"] == ["Harp"]
    assert marker["soundfonts"]["musescore"]["missing_presets"] == []
    ins.check_instrument_set(dest)


def test_interrupted_render_leaves_nothing_trusted(fake, tmp_path, monkeypatch):
    config = ins.InstrumentSetConfig(**SMALL)
    calls = []

    def failing_write(*args, **kwargs):
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return real_write(*args, **kwargs)

    real_write = sf.write
    monkeypatch.setattr(ins.sf, "write", failing_write)
    with pytest.raises(KeyboardInterrupt):
        ins.render_instrument_set(tmp_path / "set", fake, config, progress=False)
    assert list(tmp_path.glob("set*")) == [] and list(tmp_path.glob(".set*")) == []
    assert not ins.is_complete(tmp_path / "set", config)
    monkeypatch.setattr(ins.sf, "write", real_write)
    ins.render_instrument_set(tmp_path / "set", fake, config, progress=False)
    before = sorted(p.name for p in (tmp_path / "set").rglob("*"))
    calls.clear()
    monkeypatch.setattr(ins.sf, "write", failing_write)
    with pytest.raises(KeyboardInterrupt):
        ins.render_instrument_set(tmp_path / "set", fake, config, progress=False)
    assert sorted(p.name for p in (tmp_path / "set").rglob("*")) == before  # old set untouched
    ins.check_instrument_set(tmp_path / "set")


def no_render(*args, **kwargs):
    raise AssertionError("rendered again")


def test_fetch_is_idempotent(fake, tmp_path, monkeypatch):
    config = ins.InstrumentSetConfig(**SMALL)
    dest = ins.fetch_instruments(root=tmp_path, soundfont=fake, config=config, progress=False)
    assert dest == tmp_path / "instruments" and ins.is_complete(dest, config)
    assert set(ins.load_metadata(dest)["soundfont"]) == set(fake)

    monkeypatch.setattr(ins, "render_instrument_set", no_render)
    assert ins.fetch_instruments(root=tmp_path, config=config) == dest
    assert ins.fetch_instruments(root=tmp_path, soundfont=fake, config=config) == dest
    with pytest.raises(AssertionError, match="rendered again"):  # another file for MuseScore's place
        ins.fetch_instruments(root=tmp_path, soundfont={**fake, "musescore": fake["timgm6mb"]}, config=config)
    with pytest.raises(AssertionError, match="rendered again"):
        ins.fetch_instruments(root=tmp_path, soundfont=fake, config=config, force=True)
    assert ins.soundfont_files(fake["timgm6mb"], config) == {"musescore": fake["timgm6mb"]}  # MuseScore's place
    with pytest.raises(ValueError, match="fluid"):
        ins.fetch_instruments(root=tmp_path, soundfont={"fluid": fake["musescore"]}, config=config)


def test_fetch_renders_an_old_single_soundfont_set_again(fake, tmp_path):
    config = ins.InstrumentSetConfig(**SMALL)
    old = tmp_path / "instruments"
    old.mkdir()
    (old / "metadata.csv").write_text("path,split\n")
    old_config = {k: v for k, v in config.to_dict().items() if k != "soundfonts"}
    (old / "dataset.json").write_text(json.dumps({
        "config": old_config, "config_hash": "24f38eeb00265006", "n_notes": 0,
        "soundfont": {"name": "MuseScore_General_Lite.sf3", "sha256": sha256sum(fake["musescore"])}}))
    assert not ins.is_complete(old, config)
    dest = ins.fetch_instruments(root=tmp_path, soundfont=fake, config=config, progress=False)
    assert set(ins.check_instrument_set(dest)["soundfont"]) == set(fake)


def test_missing_source_builds_the_set_from_the_others(fake, tmp_path, monkeypatch):
    config = ins.InstrumentSetConfig(**SMALL)
    real_find = ins.find_soundfont

    def find_without_csound(soundfont=None, root=None, download=True, source="musescore"):
        if soundfont is None and source == "csoundgm":
            raise ins.FetchError("`apt-get download csound-soundfont=1:6.18.1+dfsg-1` failed: no network")
        return real_find(fake[source] if soundfont is None else soundfont)

    monkeypatch.setattr(ins, "find_soundfont", find_without_csound)
    with pytest.warns(UserWarning) as caught:
        dest = ins.fetch_instruments(root=tmp_path, config=config, progress=False)
    assert len(caught) == 1 and "csoundgm left out: `apt-get download" in str(caught[0].message)
    assert set(ins.load_metadata(dest)["soundfont"]) == {"musescore", "timgm6mb"}
    assert list(ins.read_marker(dest)["missing_soundfonts"]) == ["csoundgm"]
    with pytest.raises(ins.InstrumentSetError, match="csoundgm missing"):
        ins.check_instrument_set(dest, expect_default=True)

    monkeypatch.setattr(ins, "render_instrument_set", no_render)
    with pytest.warns(UserWarning, match="still cannot be had") as caught:  # tried again, set kept
        assert ins.fetch_instruments(root=tmp_path, config=config, progress=False) == dest
    assert len(caught) == 1
    monkeypatch.undo()
    monkeypatch.setattr(ins, "NoteRenderer", FakeRenderer)
    monkeypatch.setattr(ins, "find_soundfont", lambda soundfont=None, root=None, download=True, source="": (
        real_find(fake[source] if soundfont is None else soundfont)))
    ins.fetch_instruments(root=tmp_path, config=config, progress=False)  # the source is back
    assert set(ins.load_metadata(dest)["soundfont"]) == set(fake)
    assert ins.read_marker(dest)["missing_soundfonts"] == {}

    monkeypatch.setattr(ins, "find_soundfont", lambda **kw: (_ for _ in ()).throw(ins.FetchError("offline")))
    with pytest.raises(ins.FetchError, match="no SoundFont could be had"):
        ins.fetch_instruments(root=tmp_path / "other", config=config, progress=False)


def test_command_line_soundfont_files(tmp_path, monkeypatch):
    from helpers.data.__main__ import main

    calls = []
    monkeypatch.setattr(ins, "fetch_instruments",
                        lambda root, soundfont=None, force=False: calls.append(soundfont) or root)
    main(["fetch", "instruments", "--root", str(tmp_path)])
    main(["fetch", "instruments", "--root", str(tmp_path), "--soundfont", "my.sf2", "--soundfont", "timgm6mb=tim.sf2"])
    assert calls == [None, {"musescore": "my.sf2", "timgm6mb": "tim.sf2"}]


def test_check_finds_silent_clipped_and_unlisted(fake, tmp_path):
    dest = ins.render_instrument_set(tmp_path / "set", fake, ins.InstrumentSetConfig(**SMALL), progress=False)
    meta = ins.load_metadata(dest)
    sf.write(dest / meta["path"][0], np.zeros(22050, np.int16), 22050, subtype="PCM_16")
    sf.write(dest / meta["path"][1], np.full(22050, 32767, np.int16), 22050, subtype="PCM_16")
    sf.write(dest / "train/extra.wav", np.zeros(10, np.int16), 22050, subtype="PCM_16")
    with pytest.raises(ins.InstrumentSetError) as info:
        ins.check_instrument_set(dest)
    message = str(info.value)
    assert f"{meta['path'][0]}: silent" in message and f"{meta['path'][1]}: clipped" in message
    assert "train/extra.wav: not in metadata.csv" in message


def test_find_soundfont_sources(tmp_path, monkeypatch):
    monkeypatch.setattr(ins, "SYSTEM_SOUNDFONTS", ())
    not_sf = tmp_path / "notes.sf2"
    not_sf.write_bytes(b"RIFF\x00\x00\x00\x00WAVE")
    with pytest.raises(ValueError, match="not a SoundFont"):
        ins.find_soundfont(not_sf)
    with pytest.raises(FileNotFoundError):
        ins.find_soundfont(tmp_path / "absent.sf3")
    cached = ins.soundfont_dir(tmp_path) / ins.SOUNDFONT_NAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"RIFF\x00\x00\x00\x00sfbk corrupt")
    with pytest.warns(UserWarning, match="SHA-256"), pytest.raises(FileNotFoundError, match="downloading is off"):
        ins.find_soundfont(root=tmp_path, download=False)
    assert not cached.exists()



@pytest.mark.skipif(ins.shutil.which("dpkg-deb") is None, reason="dpkg-deb not installed")
def test_debian_soundfont_unpacked_and_checked(tmp_path, monkeypatch):
    """A pinned .deb is unpacked with dpkg-deb (nothing installed) and its .sf2 checked and cached."""
    tree = tmp_path / "pkg"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN/control").write_text("Package: fake-soundfont\nVersion: 1.0-1\nArchitecture: all\n"
                                         "Maintainer: nobody <nobody@example.org>\nDescription: test\n")
    sf2 = tree / "usr/share/sounds/sf2/Fake.sf2"
    sf2.parent.mkdir(parents=True)
    sf2.write_bytes(b"RIFF\x04\x00\x00\x00sfbk fake")
    deb = tmp_path / "fake-soundfont_1.0-1_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(tree), str(deb)], check=True, capture_output=True)
    source = ins.SoundFontSource("fakegm", "Fake GM", "Fake.sf2", sha256sum(sf2), "none", "fake-soundfont", "1.0-1",
                                 "pool/main/f/fake/" + deb.name, sha256sum(deb), "usr/share/sounds/sf2/Fake.sf2")
    monkeypatch.setitem(ins.SOUNDFONTS, "fakegm", source)
    real_which = ins.shutil.which
    monkeypatch.setattr(ins.shutil, "which", lambda name: None if name == "apt-get" else real_which(name))
    fetched = []

    def pool_download(url, dest, expected=None, algo="md5", desc=None):
        fetched.append(url)
        shutil.copy(deb, dest)
        verify_checksum(dest, expected, algo)
        return Path(dest)

    monkeypatch.setattr(ins, "download", pool_download)
    path = ins.find_soundfont(root=tmp_path / "data", source="fakegm")
    assert path == tmp_path / "data/soundfonts/Fake.sf2" and path.read_bytes() == sf2.read_bytes()
    assert fetched == [ins.DEBIAN_POOL + "pool/main/f/fake/" + deb.name]
    assert ins.find_soundfont(root=tmp_path / "data", source="fakegm", download=False) == path  # cached
    assert [p.name for p in (tmp_path / "data/soundfonts").iterdir()] == ["Fake.sf2"]  # no temp folder left

    monkeypatch.setitem(ins.SOUNDFONTS, "fakegm", dataclasses.replace(source, sha256="0" * 64))
    with pytest.warns(UserWarning, match="SHA-256"), pytest.raises(ChecksumError, match="Fake.sf2"):
        ins.find_soundfont(root=tmp_path / "data", source="fakegm")
    assert not path.exists()
    with pytest.raises(ValueError, match="no known source"):
        ins.find_soundfont(root=tmp_path / "data", source="fluid")


def test_log_spectral_distance_ignores_level_and_sees_timbre():
    t = np.arange(22050) / 22050
    tone = np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 440 * t)
    brighter = tone + 0.5 * np.sin(2 * np.pi * 660 * t) + 0.3 * np.sin(2 * np.pi * 880 * t)
    assert ins.log_spectral_distance(tone, 0.1 * tone) == pytest.approx(0.0, abs=1e-6)
    assert ins.log_spectral_distance(tone, brighter) > 5.0
    assert ins.log_spectral_distance(tone, brighter) == pytest.approx(ins.log_spectral_distance(brighter, tone))


# ---------------------------------------------------------------- with the real SoundFonts

REAL = {sid: ins.cached_soundfont(source=sid) for sid in ins.SOUNDFONTS}
SOUNDFONT = REAL["musescore"]
needs_soundfont = pytest.mark.skipif(SOUNDFONT is None, reason="SoundFont not fetched (make data)")
needs_all = pytest.mark.skipif(None in REAL.values(), reason="SoundFonts not fetched (make data)")


_LOADED: dict = {}


def loaded_renderer(soundfont, config=None):
    """A NoteRenderer per SoundFont and synthesis settings, loaded once per test session.

    MuseScore General takes seconds to load (its samples are Ogg-compressed); reuse also checks
    that a note does not depend on the notes rendered before it.
    """
    config = config or ins.InstrumentSetConfig()
    key = (str(soundfont), config.render_rate, config.sample_rate, config.duration, config.hold, config.fade_out,
           config.bank)
    if key not in _LOADED:
        _LOADED[key] = ins.NoteRenderer(soundfont, config)
    return _LOADED[key]


@pytest.fixture
def reuse_renderers(monkeypatch):
    monkeypatch.setattr(ins, "NoteRenderer", loaded_renderer)


@pytest.fixture(scope="module")
def renderer():
    return loaded_renderer(SOUNDFONT)


@pytest.mark.data
@needs_soundfont
def test_real_notes_state_independent(renderer):
    violin = renderer.render(40, 69, 80)
    renderer.render(46, 24, 120)  # a low harp note rings long after its note-off
    again = renderer.render(40, 69, 80)
    np.testing.assert_array_equal(violin[0], again[0])
    assert violin[1] and violin[0].shape == (22050,)
    pp, ff = renderer.render(42, 48, 40)[0], renderer.render(42, 48, 120)[0]
    assert np.abs(ff).max() > 2 * np.abs(pp).max()  # dynamics stay audible


@pytest.mark.data
@needs_all
def test_real_soundfonts_have_every_preset_and_differ_in_timbre():
    config = ins.InstrumentSetConfig(instruments=("Contrabass", "Flute", "Cello"))
    notes = {}
    for sid, path in REAL.items():
        renderer = loaded_renderer(path)
        assert all(renderer.preset_name(i.program) for i in ins.INSTRUMENTS.values()), sid
        for name in config.instruments:
            i = ins.INSTRUMENTS[name]
            middle = i.pitches()[len(i.pitches()) // 2]
            for dyn, vel in config.dynamics.items():
                notes[sid, name, dyn] = renderer.render(i.program, middle, vel)[0]
    timbre = ins.timbre_distances(notes, config)
    assert set(timbre["soundfonts"]) == {"musescore/timgm6mb", "musescore/csoundgm", "timgm6mb/csoundgm"}
    within = max(d for part in timbre["dynamics"].values() for d in part.values())
    assert all(timbre["soundfonts"][pair]["Flute"] > 2 * within for pair in timbre["soundfonts"])
    assert timbre["soundfonts"]["musescore/csoundgm"]["Cello"] > 2 * within
    assert timbre["soundfonts"]["timgm6mb/csoundgm"]["Contrabass"] < 0.1  # both banks hold the same samples


@pytest.mark.data
@needs_all
def test_real_render_tiny_subset_deterministic(tmp_path, reuse_renderers):
    config = ins.InstrumentSetConfig(instruments=("Violin",), step=24, dynamics={"pp": 40, "ff": 120})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = ins.render_instrument_set(tmp_path / "a", REAL, config, progress=False)
        b = ins.render_instrument_set(tmp_path / "b", REAL, config, progress=False)
    meta = ins.check_instrument_set(a)  # not silent, not clipped, right shape
    assert len(meta) == 3 * 4 and meta.groupby("soundfont").size().to_dict() == {sid: 4 for sid in REAL}
    for rel in meta["path"]:
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    assert (a / "metadata.csv").read_bytes() == (b / "metadata.csv").read_bytes()
    data = sol.load_sol(a, progress=False)
    assert len(data) == 12 and data.waves.abs().amax(dim=1).min() > 0.01


@pytest.mark.data
@pytest.mark.skipif(not ins.is_complete(ins.instruments_dir()), reason="instrument set not rendered (make data)")
def test_full_rendered_set():
    meta = ins.check_instrument_set(expect_default=True)
    counts = meta.groupby("split")["instrument"].nunique()
    assert counts["train"] == 11 and counts["test"] == 5
    assert set(meta["soundfont"]) == {"musescore", "timgm6mb", "csoundgm"}
    peaks = meta.groupby("soundfont")["peak_dbfs"]
    assert (peaks.max() <= -0.9).all() and (peaks.max() >= -1.1).all() and meta["peak_dbfs"].min() > -60
