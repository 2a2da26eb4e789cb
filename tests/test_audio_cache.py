"""Cached dataset spectra: miss, hit, invalidation by config and by files, atomic writes."""

import os

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers.audio import build_transform
from helpers.audio.cache import cached_spectra, clear_cache, load_audio
from helpers.audio.synthetic import harmonic_note

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


def test_miss_then_hit(wavs, tmp_path):
    t = build_transform(CFG)
    first = cached_spectra(wavs, t, tmp_path / "cache", batch_size=2, progress=False)
    assert not first.hit and first.path.is_file()
    assert first.magnitude.shape == (3,) + t.output_shape(4000)
    expected = t.analyze(torch.from_numpy(np.stack([load_audio(p, 8000) for p in wavs])))
    assert torch.allclose(first.magnitude, expected)
    second = cached_spectra(wavs, t, tmp_path / "cache", progress=False)
    assert second.hit and second.key == first.key
    assert torch.equal(second.magnitude, first.magnitude)
    # written atomically: no temporary file left behind; readable with weights_only
    assert [f.name for f in (tmp_path / "cache").iterdir()] == [first.path.name]
    assert set(torch.load(first.path, weights_only=True)) >= {"magnitude", "key", "paths"}


def test_changed_config_never_reuses_a_stale_cache(wavs, tmp_path):
    a = cached_spectra(wavs, build_transform(CFG), tmp_path, progress=False)
    b = cached_spectra(wavs, build_transform(dict(CFG, hop_length=128)), tmp_path, progress=False)
    assert not b.hit and b.key != a.key and b.magnitude.shape[-1] != a.magnitude.shape[-1]
    # settings that do not change the magnitudes share the cache
    c = cached_spectra(wavs, build_transform(dict(CFG, gl_n_iter=5, scale="db")), tmp_path,
                       progress=False)
    assert c.hit and c.key == a.key


def test_changed_files_invalidate(wavs, tmp_path):
    t = build_transform(CFG)
    a = cached_spectra(wavs, t, tmp_path, progress=False)
    assert not cached_spectra(wavs[:2], t, tmp_path, progress=False).hit  # another file list
    sf.write(wavs[0], harmonic_note(440.0, 4000, 8000).numpy(), 8000, subtype="PCM_16")
    st = os.stat(wavs[0])
    os.utime(wavs[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    again = cached_spectra(wavs, t, tmp_path, progress=False)
    assert not again.hit and not torch.equal(again.magnitude[0], a.magnitude[0])
    assert torch.equal(again.magnitude[1:], a.magnitude[1:])
    assert clear_cache(tmp_path, keep=[again.key]) >= 1
    assert [f.name for f in tmp_path.glob("spectra-*.pt")] == [again.path.name]


def test_lengths_rates_and_bad_files(wavs, tmp_path):
    t = build_transform(CFG)
    short = cached_spectra(wavs, t, tmp_path, n_samples=2000, progress=False)
    assert short.magnitude.shape == (3,) + t.output_shape(2000)
    with pytest.raises(ValueError, match="sample_rate"):
        cached_spectra(wavs, build_transform(dict(CFG, sample_rate=16000)), tmp_path, progress=False)
    with pytest.raises(FileNotFoundError, match="missing"):
        cached_spectra([tmp_path / "missing.wav"], t, tmp_path, progress=False)
    with pytest.raises(ValueError, match="empty"):
        cached_spectra([], t, tmp_path, progress=False)
    padded = load_audio(wavs[0], 8000, 5000)
    assert len(padded) == 5000 and np.all(padded[4000:] == 0)


def test_nsgt_spectra_use_the_transform_length(wavs, tmp_path):
    t = build_transform({"kind": "nsgt", "sample_rate": 8000, "n_samples": 4500, "fmin": 60.0,
                         "fmax": 3000.0, "bins_per_octave": 12})
    got = cached_spectra(wavs, t, tmp_path, progress=False)  # files of 4000 padded to 4500
    assert got.magnitude.shape == (3,) + t.output_shape(4500)
    assert cached_spectra(wavs, t, tmp_path, progress=False).hit
