"""The rendered instrument set: plan, naming, atomic and idempotent rendering, and real notes."""

import warnings

import numpy as np
import pytest
import soundfile as sf

from helpers.data import instruments as ins
from helpers.data import sol
from helpers.data.fetch_utils import sha256sum


class FakeRenderer:
    """Stands in for the synthesiser: a decaying sine at the note's pitch, louder with velocity."""

    missing_programs: set = set()

    def __init__(self, soundfont, config=None):
        self.config = config or ins.InstrumentSetConfig()

    def preset_name(self, program):
        return None if program in self.missing_programs else f"preset {program}"

    def render(self, program, pitch, velocity):
        sr = self.config.sample_rate
        t = np.arange(int(self.config.duration * sr)) / sr
        freq = 440.0 * 2 ** ((pitch - 69) / 12)
        return 0.4 * velocity / 127 * np.exp(-3 * t) * np.sin(2 * np.pi * freq * t), True


@pytest.fixture
def fake(monkeypatch, tmp_path):
    monkeypatch.setattr(ins, "NoteRenderer", FakeRenderer)
    monkeypatch.setattr(FakeRenderer, "missing_programs", set())
    soundfont = tmp_path / "fake.sf2"
    soundfont.write_bytes(b"RIFF\x04\x00\x00\x00sfbk")
    return soundfont


SMALL = dict(instruments=("Violin", "Harp"), step=12, dynamics={"pp": 40, "ff": 120})


def test_default_plan():
    plan = ins.note_plan()
    assert 1900 <= len(plan) <= 2200
    assert len({n.relpath for n in plan}) == len(plan)
    train = {n.instrument.name for n in plan if n.instrument.split == "train"}
    test = {n.instrument.name for n in plan if n.instrument.split == "test"}
    assert len(train) == 11 and len(test) == 5
    assert {n.dynamics: n.velocity for n in plan} == {"pp": 40, "mf": 80, "ff": 120}
    violin = [n.pitch for n in plan if n.instrument.name == "Violin"]
    assert min(violin) == sol.parse_pitch("G3") and max(violin) == sol.parse_pitch("E7")
    assert plan[0].relpath == "train/Strings/Violin/ordinario/Vn-ord-G3-pp-N.wav"


def test_names_read_back_by_the_sol_reader():
    for note in ins.note_plan():
        labels = sol.labels_for(note.relpath)
        i = note.instrument
        assert (labels["split"], labels["family"], labels["instrument"], labels["abbr"]) == (i.split, i.family, i.name, i.abbr)
        assert (labels["pitch"], labels["dynamics"], labels["scheme"]) == (note.pitch, note.dynamics, "sol")


def test_config_round_trip_and_hash():
    config = ins.InstrumentSetConfig(**SMALL)
    again = ins.InstrumentSetConfig.from_dict(config.to_dict())
    assert again == config and again.config_hash() == config.config_hash()
    assert ins.InstrumentSetConfig(**{**SMALL, "hold": 0.7}).config_hash() != config.config_hash()
    with pytest.raises(ValueError, match="Kazoo"):
        ins.InstrumentSetConfig(instruments=("Kazoo",))


def test_render_writes_set_with_one_gain(fake, tmp_path):
    config = ins.InstrumentSetConfig(**SMALL)
    dest = ins.render_instrument_set(tmp_path / "set", fake, config, progress=False)
    meta = ins.check_instrument_set(dest)
    assert len(meta) == len(ins.note_plan(config))
    assert list(meta.columns[:9]) == ins.METADATA_COLUMNS
    assert meta["peak_dbfs"].max() == pytest.approx(config.peak_dbfs, abs=0.01)
    by_dyn = meta.groupby(["instrument", "pitch", "dynamics"])["peak_dbfs"].first().unstack()
    assert (by_dyn["ff"] - by_dyn["pp"]).round(1).eq(round(20 * np.log10(3), 1)).all()  # dynamics kept
    marker = ins.read_marker(dest)
    assert marker["config_hash"] == config.config_hash() and marker["soundfont"]["sha256"] == sha256sum(fake)
    assert ins.is_complete(dest, config) and not ins.is_complete(dest, ins.InstrumentSetConfig())
    x, rate = sf.read(dest / meta["path"][0], dtype="int16")
    assert rate == 22050 and x.shape == (22050,)


def test_missing_preset_is_reported(fake, tmp_path):
    FakeRenderer.missing_programs = {46}
    with pytest.warns(UserWarning, match="Harp"):
        dest = ins.render_instrument_set(tmp_path / "set", fake, ins.InstrumentSetConfig(**SMALL), progress=False)
    assert set(ins.load_metadata(dest)["instrument"]) == {"Violin"}
    assert ins.read_marker(dest)["missing_presets"] == ["Harp"]


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


def test_fetch_is_idempotent(fake, tmp_path, monkeypatch):
    config = ins.InstrumentSetConfig(**SMALL)
    dest = ins.fetch_instruments(root=tmp_path, soundfont=fake, config=config, progress=False)
    assert dest == tmp_path / "instruments" and ins.is_complete(dest, config)

    def no_render(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr(ins, "render_instrument_set", no_render)
    assert ins.fetch_instruments(root=tmp_path, config=config) == dest
    assert ins.fetch_instruments(root=tmp_path, soundfont=fake, config=config) == dest
    with pytest.raises(AssertionError, match="rendered again"):
        ins.fetch_instruments(root=tmp_path, soundfont=fake, config=config, force=True)


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


# ---------------------------------------------------------------- with the real SoundFont

SOUNDFONT = ins.cached_soundfont()
needs_soundfont = pytest.mark.skipif(SOUNDFONT is None, reason="SoundFont not fetched (make data)")


@pytest.fixture(scope="module")
def renderer():
    return ins.NoteRenderer(SOUNDFONT)


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
@needs_soundfont
def test_real_render_tiny_subset_deterministic(tmp_path):
    config = ins.InstrumentSetConfig(instruments=("Violin",), step=24, dynamics={"pp": 40, "ff": 120})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = ins.render_instrument_set(tmp_path / "a", SOUNDFONT, config, progress=False)
        b = ins.render_instrument_set(tmp_path / "b", SOUNDFONT, config, progress=False)
    meta = ins.check_instrument_set(a)  # not silent, not clipped, right shape
    assert len(meta) == 4
    for rel in meta["path"]:
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    assert (a / "metadata.csv").read_bytes() == (b / "metadata.csv").read_bytes()
    data = sol.load_sol(a, progress=False)
    assert len(data) == 4 and data.waves.abs().amax(dim=1).min() > 0.01


@pytest.mark.data
@pytest.mark.skipif(ins.read_marker(ins.instruments_dir()) is None, reason="instrument set not rendered (make data)")
def test_full_rendered_set():
    meta = ins.check_instrument_set(expect_default=True)
    counts = meta.groupby("split")["instrument"].nunique()
    assert counts["train"] == 11 and counts["test"] == 5
    assert meta["peak_dbfs"].max() <= -0.9 and meta["peak_dbfs"].min() > -60
