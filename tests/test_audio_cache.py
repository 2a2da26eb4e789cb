"""Cached dataset spectra: miss, hit, invalidation by config and by files, one entry per
(transform, file), float16 storage, resampling through the one loader, bounded size, clean-up."""

import os

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers.audio import build_transform
from helpers.audio import cache
from helpers.audio.cache import cache_size, cached_spectra, clear_cache, prune_cache
from helpers.audio.synthetic import harmonic_note
from helpers.data.sol import load_waveform

CFG = {"kind": "stft", "sample_rate": 8000, "n_fft": 256, "hop_length": 64}


@pytest.fixture()
def wavs(tmp_path):
    paths = []
    for i, f0 in enumerate((110.0, 220.0, 330.0)):
        p = tmp_path / "audio" / f"note{i}.wav"
        p.parent.mkdir(exist_ok=True)
        sf.write(p, harmonic_note(f0, 4000, 8000).numpy(), 8000, subtype="PCM_16")
        paths.append(p)
    return paths


def entries(cache_dir):
    return sorted(p.name for p in cache_dir.rglob("*" + cache.ENTRY_SUFFIX))


def test_miss_then_hit_within_float16_precision(wavs, tmp_path):
    t = build_transform(CFG)
    first = cached_spectra(wavs, t, tmp_path / "cache", batch_size=2, progress=False)
    assert not first.hit and first.n_computed == 3 and first.path.is_dir()
    assert first.magnitude.shape == (3,) + t.output_shape(4000) and first.magnitude.dtype == torch.float32
    expected = t.analyze(torch.stack([load_waveform(p, 8000) for p in wavs]))
    # float16 keeps 11 bits: relative error below 2^-11 on every bin within 170 dB of the peak
    torch.testing.assert_close(first.magnitude, expected, rtol=2 ** -11, atol=float(expected.max()) * 1e-8)
    assert not torch.equal(first.magnitude, expected)  # it is the stored precision that comes back
    second = cached_spectra(wavs, t, tmp_path / "cache", progress=False)
    assert second.hit and second.n_computed == 0 and second.key == first.key
    assert torch.equal(second.magnitude, first.magnitude)  # a hit gives exactly what the miss gave
    # one entry per file, written atomically (no temporary file left), no pickle needed to read
    assert len(entries(tmp_path / "cache")) == 3
    assert not list((tmp_path / "cache").rglob("*.part"))
    n_freq, n_time = t.output_shape(4000)
    entry = next((tmp_path / "cache").rglob("*" + cache.ENTRY_SUFFIX))
    header, start = cache._read_header(entry.read_bytes())
    assert header["shape"] == [n_freq, n_time] and entry.stat().st_size - start == 2 * n_freq * n_time  # float16


def test_subsets_and_orders_share_the_entries_of_their_files(wavs, tmp_path):
    t = build_transform(CFG)
    whole = cached_spectra(wavs, t, tmp_path, progress=False)
    part = cached_spectra(wavs[1:], t, tmp_path, progress=False)
    backwards = cached_spectra(wavs[::-1], t, tmp_path, progress=False)
    assert part.hit and backwards.hit and len(entries(tmp_path)) == 3  # nothing stored twice
    assert part.key != whole.key != backwards.key
    assert torch.equal(backwards.magnitude, whole.magnitude.flip(0))
    size = cache_size(tmp_path)
    n_freq, n_time = t.output_shape(4000)
    assert 3 * n_freq * n_time * 2 <= size < 3 * n_freq * n_time * 2 + 3 * 400 + 1000  # float16 + small headers


def test_changed_config_never_reuses_a_stale_cache(wavs, tmp_path):
    a = cached_spectra(wavs, build_transform(CFG), tmp_path, progress=False)
    b = cached_spectra(wavs, build_transform(dict(CFG, hop_length=128)), tmp_path, progress=False)
    assert not b.hit and b.path != a.path and b.magnitude.shape[-1] != a.magnitude.shape[-1]
    # settings that do not change the magnitudes share the store
    c = cached_spectra(wavs, build_transform(dict(CFG, gl_n_iter=5, scale="db")), tmp_path, progress=False)
    assert c.hit and c.key == a.key
    # another signal length is another store
    d = cached_spectra(wavs, build_transform(CFG), tmp_path, n_samples=2000, progress=False)
    assert not d.hit and d.path != a.path and d.magnitude.shape == (3,) + build_transform(CFG).output_shape(2000)


def test_a_changed_file_replaces_its_entry_and_a_removed_one_is_pruned(wavs, tmp_path):
    t = build_transform(CFG)
    a = cached_spectra(wavs, t, tmp_path, progress=False)
    sf.write(wavs[0], harmonic_note(440.0, 4000, 8000).numpy(), 8000, subtype="PCM_16")
    st = os.stat(wavs[0])
    os.utime(wavs[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    again = cached_spectra(wavs, t, tmp_path, progress=False)
    assert not again.hit and again.n_computed == 1 and again.key != a.key
    assert not torch.equal(again.magnitude[0], a.magnitude[0])
    assert torch.equal(again.magnitude[1:], a.magnitude[1:])
    assert len(entries(tmp_path)) == 3  # replaced, not accumulated
    wavs[2].unlink()
    assert prune_cache(tmp_path) == 1 and len(entries(tmp_path)) == 2
    assert cached_spectra(wavs[:2], t, tmp_path, progress=False).hit


def test_least_recently_used_stores_go_when_the_cache_is_over_its_bound(wavs, tmp_path, monkeypatch):
    old = cached_spectra(wavs, build_transform(CFG), tmp_path, progress=False)
    os.utime(old.path / cache.META_FILE, (1, 1))  # used long ago
    one_store = cache_size(tmp_path)
    monkeypatch.setenv(cache.MAX_BYTES_ENV, str(1.5 * one_store / 1e9))
    new = cached_spectra(wavs, build_transform(dict(CFG, hop_length=128)), tmp_path, progress=False)
    assert new.path.is_dir() and not old.path.exists()
    assert cache_size(tmp_path) <= 1.5 * one_store
    monkeypatch.setenv(cache.MAX_BYTES_ENV, "lots")
    with pytest.raises(ValueError, match=cache.MAX_BYTES_ENV):
        cache.max_cache_bytes()


def test_any_rate_and_channels_are_read_through_the_one_loader(tmp_path):
    """A 44.1 kHz stereo 24-bit file is resampled and mixed to mono, as load_sol does."""
    t = build_transform(CFG)
    x = harmonic_note(220.0, 22050, 44100).numpy()
    stereo = tmp_path / "stereo44.wav"
    sf.write(stereo, np.stack([x, 0.5 * x], axis=1), 44100, subtype="PCM_24")
    got = cached_spectra([stereo], t, tmp_path / "cache", n_samples=4000, progress=False)
    expected = t.analyze(load_waveform(stereo, 8000, 4000)[None])
    torch.testing.assert_close(got.magnitude, expected, rtol=2 ** -11, atol=1e-6)
    # the default length is the first file's, at the transform's rate
    assert cached_spectra([stereo], t, tmp_path / "cache", progress=False).magnitude.shape[-1] == \
        t.output_shape(4000)[1]


def test_bad_input_names_the_file_or_parameter(wavs, tmp_path):
    t = build_transform(CFG)
    with pytest.raises(FileNotFoundError, match="missing"):
        cached_spectra([tmp_path / "missing.wav"], t, tmp_path, progress=False)
    with pytest.raises(ValueError, match="empty"):
        cached_spectra([], t, tmp_path, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        cached_spectra(wavs, t, tmp_path, batch_size=0, progress=False)
    (tmp_path / "audio" / "noise.wav").write_text("not audio")
    with pytest.raises(ValueError, match="noise.wav"):
        cached_spectra([tmp_path / "audio" / "noise.wav"], t, tmp_path, progress=False)


def test_a_damaged_entry_is_computed_again(wavs, tmp_path):
    t = build_transform(CFG)
    a = cached_spectra(wavs, t, tmp_path, progress=False)
    victim = next(tmp_path.rglob("*" + cache.ENTRY_SUFFIX))
    victim.write_bytes(victim.read_bytes()[:100])
    b = cached_spectra(wavs, t, tmp_path, progress=False)
    assert b.n_computed == 1 and torch.equal(a.magnitude, b.magnitude)


def test_clear_cache_and_the_command_line(wavs, tmp_path, monkeypatch, capsys):
    t = build_transform(CFG)
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "mine"))
    assert cache.default_cache_dir() == tmp_path / "mine" / "spectra"
    cached_spectra(wavs, t, progress=False)
    (tmp_path / "mine" / "spectra" / "spectra-stft-0123.pt").write_bytes(b"format 1")  # an old cache file
    assert cache.main(["size"]) == 0 and "MB" in capsys.readouterr().out
    assert cache.main(["clean"]) == 0
    assert "removed 6 file(s)" in capsys.readouterr().out  # 3 entries, the store marks, the old file
    assert not list((tmp_path / "mine").rglob("*" + cache.ENTRY_SUFFIX)) and not list((tmp_path / "mine").rglob("*.pt"))
    assert clear_cache(tmp_path / "nowhere") == 0


def test_nsgt_spectra_use_the_transform_length(wavs, tmp_path):
    t = build_transform({"kind": "nsgt", "sample_rate": 8000, "n_samples": 4500, "fmin": 60.0,
                         "fmax": 3000.0, "bins_per_octave": 12})
    got = cached_spectra(wavs, t, tmp_path, progress=False)  # files of 4000 padded to 4500
    assert got.magnitude.shape == (3,) + t.output_shape(4500)
    assert cached_spectra(wavs, t, tmp_path, progress=False).hit
