"""The audio reader under property-based fuzzing (Hypothesis): random bytes, truncated files,
NaN/inf samples, every common sample format, 1-8 channels, odd sample rates. Nothing escapes but
:class:`~helpers.data.sol.BadAudioError` (which names the file), a valid file always loads with
its shape and rate, and a tree with broken files loads the others and names every skipped one."""

import io
import warnings

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.data.sol import BadAudioError, load_sol, read_audio

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# (container, subtypes it can hold, the most channels the tests use)
FORMATS = {"WAV": (".wav", ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")),
           # not 8-bit AIFF: libsndfile's writer pads odd-length 8-bit data and declares the pad as a frame
           "AIFF": (".aiff", ("PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")),
           "FLAC": (".flac", ("PCM_S8", "PCM_16", "PCM_24"))}
RATES = (8000, 11025, 12345, 16000, 22050, 44100, 48000, 88200, 96000, 176400, 192000)
#: quantisation step of each subtype on [-1, 1]
STEP = {"PCM_U8": 2 / 255, "PCM_S8": 2 / 255, "PCM_16": 2 ** -15, "PCM_24": 2 ** -23, "PCM_32": 2 ** -31,
        "FLOAT": 1e-7, "DOUBLE": 1e-7}


@st.composite
def audio_files(draw):
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    suffix, subtypes = FORMATS[fmt]
    subtype = draw(st.sampled_from(subtypes))
    channels = draw(st.integers(1, 8))
    rate = draw(st.sampled_from(RATES))
    frames = draw(st.integers(1, 4000))
    seed = draw(st.integers(0, 2 ** 16))
    data = np.random.default_rng(seed).uniform(-0.99, 0.99, size=(frames, channels))
    buf = io.BytesIO()
    sf.write(buf, data, rate, subtype=subtype, format=fmt)
    return suffix, buf.getvalue(), data, rate, subtype


def _read(tmp_path, name, payload):
    path = tmp_path / name
    path.write_bytes(payload)
    return path, read_audio(path)


@FUZZ
@given(payload=st.binary(max_size=2048), suffix=st.sampled_from([".wav", ".aiff", ".flac", ".mp3", ".txt", ""]))
def test_random_bytes_raise_only_bad_audio_error_naming_the_file(tmp_path, payload, suffix):
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(payload)
    try:
        data, rate = read_audio(path)
    except BadAudioError as err:
        assert str(path) in str(err) and err.path == path
    else:  # a payload that happens to parse must still be usable audio
        assert data.ndim == 2 and data.shape[1] > 0 and np.isfinite(data).all() and rate > 0


@FUZZ
@given(f=audio_files())
def test_every_valid_file_loads_with_its_shape_rate_and_samples(tmp_path, f):
    suffix, payload, data, rate, subtype = f
    path, (read, read_rate) = _read(tmp_path, f"ok{suffix}", payload)
    assert read_rate == rate and read.shape == (data.shape[1], data.shape[0]) and read.dtype == np.float32
    assert np.abs(read.T - data).max() <= 1.01 * STEP[subtype] + 1e-6


@FUZZ
@given(f=audio_files(), cut=st.floats(0.0, 0.999))
def test_truncated_files_are_refused_by_name_or_load_finite(tmp_path, f, cut):
    suffix, payload, data, rate, _ = f
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(payload[:int(len(payload) * cut)])
    try:
        read, read_rate = read_audio(path)
    except BadAudioError as err:
        assert str(path) in str(err)
    else:  # a cut inside trailing chunks can leave every declared frame intact
        assert read.shape[1] >= 1 and np.isfinite(read).all() and read_rate == rate


@FUZZ
@given(fmt=st.sampled_from(["WAV", "AIFF"]), bad=st.sampled_from([np.nan, np.inf, -np.inf]),
       where=st.integers(0, 99), channels=st.integers(1, 8))
def test_non_finite_samples_are_refused(tmp_path, fmt, bad, where, channels):
    data = np.zeros((100, channels), dtype=np.float32)
    data[where, where % channels] = bad
    path = tmp_path / f"nan{FORMATS[fmt][0]}"
    sf.write(path, data, 22050, subtype="FLOAT", format=fmt)
    with pytest.raises(BadAudioError, match="NaN or infinite"):
        read_audio(path)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_empty_and_zero_frame_files_are_refused(tmp_path, fmt):
    suffix = FORMATS[fmt][0]
    empty = tmp_path / f"empty{suffix}"
    empty.write_bytes(b"")
    with pytest.raises(BadAudioError, match="empty file"):
        read_audio(empty)
    zero = tmp_path / f"zero{suffix}"
    sf.write(zero, np.zeros((0, 1)), 22050, format=fmt, subtype="PCM_16")
    with pytest.raises(BadAudioError, match=str(zero.name)):
        read_audio(zero)


def test_a_long_file_loads_whole(tmp_path):
    path = tmp_path / "long.flac"
    sf.write(path, np.full((60 * 8000, 2), 0.25), 8000, subtype="PCM_16")
    data, rate = read_audio(path)
    assert rate == 8000 and data.shape == (2, 480000)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(broken=st.sets(st.integers(0, 5), min_size=1, max_size=4), seed=st.integers(0, 1000))
def test_a_tree_with_broken_files_loads_the_rest_and_names_every_skip(tmp_path_factory, broken, seed):
    from sol_trees import write_tinysol_tree

    root = tmp_path_factory.mktemp("tree")
    write_tinysol_tree(root, pitches=(60, 67), dynamics=("ff",), sample_rate=8000, seconds=0.3)
    files = sorted(root.rglob("*.wav"))[:6]
    rng = np.random.default_rng(seed)
    for i in broken:
        files[i].write_bytes(rng.bytes(int(rng.integers(0, 300))))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        notes = load_sol(root, sample_rate=8000, duration=0.3, progress=False)
    message = "\n".join(str(w.message) for w in caught)
    assert all(files[i].name in message for i in broken)
    assert len(notes.waves) == len(sorted(root.rglob("*.wav"))) - len(broken)
