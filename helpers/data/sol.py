"""Read SOL-style trees of single notes into tensors with labels.

One reader for every tree laid out like IRCAM's Studio On Line (SOL) sets, so that a user with
real recordings can point the notebooks at them instead of the rendered default:

- the rendered instrument set (:mod:`helpers.data.instruments`):
  ``train/Strings/Violin/ordinario/Vn-ord-A4-ff-N.wav``
- TinySOL / OrchideaSOL: ``Strings/Violin/ordinario/Vn-ord-A4-ff-4c-N.wav``
  (fields split on ``-``: abbreviation, technique, pitch, dynamics, then extras)
- acidsInstruments-ordinario: ``data/Winds/Flute/ordinario/Fl_nA-2_120-A#3-ff.wav``
  (instrument code at field 0, pitch at field 2, dynamics at field 3)

Labels come from the name (MIDI pitch, dynamics) and from the folders when present
(``<split>/<Family>/<Instrument>/<technique>/<file>``); without family folders the
instrument and family come from the abbreviation (:data:`ABBREVIATIONS`).

:func:`load_sol` resamples every file to the working rate, mixes it to mono, pads or trims
it to a fixed length and returns an :class:`AudioSet`. A file that cannot be read (empty,
truncated, not audio) or whose name does not parse is skipped with one warning listing all
of them, or raises :class:`BadAudioError` / :class:`SolNameError` naming it with ``strict=True``.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch
import torchaudio.functional as AF
from tqdm.auto import tqdm

AUDIO_EXTENSIONS = (".wav", ".aif", ".aiff", ".flac")

# Pitch classes of the note letters; C4 is MIDI 60 and A4 (440 Hz) is MIDI 69, as in SOL.
_PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
_PITCH_RE = re.compile(r"^([A-Ga-g])([#b]{0,2})(-?\d{1,2})$")
_DYNAMICS_RE = re.compile(r"^(p{1,4}|mp|mf|f{1,4}|sfz?|fp)$")
_ACIDS_CODE_RE = re.compile(r"^\d+_\d+$")

# SOL instrument abbreviations (TinySOL, OrchideaSOL, acidsInstruments, the rendered set):
# abbreviation -> (instrument, family). Used only when the tree has no family folders.
ABBREVIATIONS: dict[str, tuple[str, str]] = {
    "Vn": ("Violin", "Strings"),
    "Va": ("Viola", "Strings"),
    "Vc": ("Cello", "Strings"),
    "Cb": ("Contrabass", "Strings"),
    "Hp": ("Harp", "PluckedStrings"),
    "Gtr": ("Guitar", "PluckedStrings"),
    "Fl": ("Flute", "Winds"),
    "Ob": ("Oboe", "Winds"),
    "EH": ("English_Horn", "Winds"),
    "ClBb": ("Clarinet_Bb", "Winds"),
    "Cl": ("Clarinet_Bb", "Winds"),
    "BKl": ("Bass_Clarinet", "Winds"),
    "Bn": ("Bassoon", "Winds"),
    "ASax": ("Alto_Saxophone", "Winds"),
    "Hn": ("Horn", "Brass"),
    "TpC": ("Trumpet_C", "Brass"),
    "Tp": ("Trumpet_C", "Brass"),
    "Tbn": ("Trombone", "Brass"),
    "TTbn": ("Trombone", "Brass"),
    "BTb": ("Bass_Tuba", "Brass"),
    "Acc": ("Accordion", "Keyboards"),
}

# Folder names that mark a family level in a SOL tree (compared case-insensitively).
FAMILIES = ("Brass", "Keyboards", "Strings", "Winds", "Woodwinds", "PluckedStrings", "Percussion")
_FAMILY_KEYS = {f.lower() for f in FAMILIES}


class SolNameError(ValueError):
    """A file name does not follow any of the SOL naming schemes."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot parse SOL file name {str(path)!r}: {reason}")


class BadAudioError(ValueError):
    """An audio file is unreadable, empty, truncated or not audio."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"bad audio file {str(path)!r}: {reason}")


# --------------------------------------------------------------------------- pitch names


def parse_pitch(name: str) -> int:
    """MIDI number of a pitch name: ``"A4"`` -> 69, ``"A#3"``/``"Bb3"`` -> 58, ``"C-1"`` -> 0.

    Raises :class:`ValueError` for anything else (including results outside 0-127).
    """
    m = _PITCH_RE.match(name.strip())
    if m is None:
        raise ValueError(f"not a pitch name: {name!r}")
    letter, accidentals, octave = m.groups()
    midi = 12 * (int(octave) + 1) + _PITCH_CLASS[letter.upper()]
    midi += accidentals.count("#") - accidentals.count("b")
    if not 0 <= midi <= 127:
        raise ValueError(f"pitch {name!r} is outside MIDI 0-127")
    return midi


def pitch_name(midi: int, flats: bool = False) -> str:
    """Name of MIDI pitch ``midi`` with sharps (``58`` -> ``"A#3"``) or flats (``"Bb3"``)."""
    if not 0 <= int(midi) <= 127:
        raise ValueError(f"MIDI pitch {midi} is outside 0-127")
    names = _FLAT_NAMES if flats else _SHARP_NAMES
    return f"{names[int(midi) % 12]}{int(midi) // 12 - 1}"


# --------------------------------------------------------------------------- file names


@dataclass(frozen=True)
class SolName:
    """What a SOL-style file name says about its note."""

    scheme: str  # "sol" (TinySOL, OrchideaSOL, the rendered set) or "acids" (acidsInstruments)
    abbr: str  # instrument abbreviation: "Vn", "EH"
    technique: str  # playing technique from the name ("ord"); "" when the scheme has none
    pitch: int  # MIDI pitch
    pitch_name: str  # the pitch as written in the name
    dynamics: str  # "pp", "mf", "ff", ...
    extra: tuple[str, ...] = ()  # remaining fields (string, "N", ...)


def _split_fields(stem: str) -> list[str]:
    """Split on ``-`` but keep negative octaves (``C#-1``) inside their pitch field."""
    raw = stem.split("-")
    fields: list[str] = []
    i = 0
    while i < len(raw):
        tok = raw[i]
        if re.fullmatch(r"[A-Ga-g][#b]{0,2}", tok) and i + 1 < len(raw) and raw[i + 1].isdigit():
            tok = f"{tok}-{raw[i + 1]}"
            i += 1
        fields.append(tok)
        i += 1
    return fields


def parse_filename(name: str | os.PathLike) -> SolName:
    """Parse a SOL-style file name (a path or just its name); raise :class:`SolNameError`.

    Both schemes put the pitch at field 2 and the dynamics at field 3 of the ``-``-split stem;
    an acidsInstruments name is recognised by its ``<code>_<variant>`` first field or its
    ``<n>_<n>`` second field, and carries no technique.
    """
    path = Path(name)
    fields = _split_fields(path.stem)
    if len(fields) < 4:
        raise SolNameError(path, f"expected at least 4 '-'-separated fields, found {len(fields)}")
    first, second, pitch_field, dynamics = fields[:4]
    try:
        pitch = parse_pitch(pitch_field)
    except ValueError as err:
        raise SolNameError(path, f"field 3 ({pitch_field!r}) is not a pitch: {err}") from None
    if not _DYNAMICS_RE.match(dynamics):
        raise SolNameError(path, f"field 4 ({dynamics!r}) is not a dynamics marking")
    if not first:
        raise SolNameError(path, "empty instrument field")
    if "_" in first or _ACIDS_CODE_RE.match(second):
        return SolName("acids", first.split("_")[0], "", pitch, pitch_field, dynamics, tuple(fields[4:]))
    return SolName("sol", first, second, pitch, pitch_field, dynamics, tuple(fields[4:]))


def labels_for(path: str | os.PathLike) -> dict:
    """Labels of one file: its name parsed, plus instrument/family/split from the folders.

    In ``<split>/<Family>/<Instrument>/<technique>/<file>`` (or without the technique
    level) the family folder is found by name (:data:`FAMILIES`); without one, instrument
    and family come from :data:`ABBREVIATIONS` (or the abbreviation itself and ``""``).
    """
    path = Path(path)
    parsed = parse_filename(path)
    parents = path.parents
    technique_folder = ""
    family = instrument = split = ""
    for level in (2, 1):  # family folder above <instrument>/<technique>/ or directly above <instrument>/
        if len(parents) > level and parents[level].name.lower() in _FAMILY_KEYS:
            family = parents[level].name
            instrument = parents[level - 1].name
            technique_folder = path.parent.name if level == 2 else ""
            split = parents[level + 1].name if len(parents) > level + 1 else ""
            break
    if not family:
        instrument, family = ABBREVIATIONS.get(parsed.abbr, (parsed.abbr, ""))
    return {
        "path": str(path),
        "split": split,
        "family": family,
        "instrument": instrument,
        "abbr": parsed.abbr,
        "technique": technique_folder or parsed.technique,
        "pitch": parsed.pitch,
        "pitch_name": pitch_name(parsed.pitch),
        "dynamics": parsed.dynamics,
        "scheme": parsed.scheme,
    }


# --------------------------------------------------------------------------- audio


def _declared_frames(path: Path) -> int | None:
    """Frames that a WAV or AIFF header declares, or None when unknown.

    libsndfile silently shortens a truncated file to the bytes it finds, so the header's own
    count (WAV ``data`` chunk size / block size, AIFF ``COMM`` frame count) is the only sign
    that the end of the file is missing.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12:
            return None
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            order, block_align = "<", None
        elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
            order, block_align = ">", None
        else:
            return None
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            cid, size = chunk[:4], int.from_bytes(chunk[4:], "little" if order == "<" else "big")
            if order == "<" and cid == b"fmt " and size >= 16:
                fmt = f.read(size)
                tag, block_align = int.from_bytes(fmt[:2], "little"), int.from_bytes(fmt[12:14], "little")
                if tag not in (1, 3, 0xFFFE) or block_align == 0:  # compressed: no simple frame count
                    return None
                size = 0
            elif order == "<" and cid == b"data":
                if block_align is None or size in (0, 0xFFFFFFFF):  # streaming writers leave 0 or -1
                    return None
                return size // block_align
            elif order == ">" and cid == b"COMM" and size >= 18:
                comm = f.read(size)
                return int.from_bytes(comm[2:6], "big")
            f.seek(size + (size & 1), os.SEEK_CUR)  # chunks are padded to an even size


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read an audio file as float32 ``[channels, frames]`` and its sample rate.

    Raises :class:`BadAudioError` naming the file when it is missing, empty, not audio,
    truncated (fewer frames than its header declares) or has no frames.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as err:
        raise BadAudioError(path, f"cannot open: {err.strerror or err}") from None
    if size == 0:
        raise BadAudioError(path, "empty file (0 bytes)")
    try:
        with sf.SoundFile(path) as f:
            sample_rate = f.samplerate
            data = f.read(dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise BadAudioError(path, f"not readable as audio ({err})") from None
    if data.shape[0] == 0:
        raise BadAudioError(path, "no audio frames")
    declared = _declared_frames(path)
    if declared is not None and data.shape[0] < declared:
        raise BadAudioError(path, f"truncated: header declares {declared} frames, read {data.shape[0]}")
    if not np.isfinite(data).all():
        raise BadAudioError(path, "contains NaN or infinite samples")
    return data.T.copy(), int(sample_rate)


def to_mono(x: torch.Tensor) -> torch.Tensor:
    """Mix ``[channels, T]`` to ``[T]`` by averaging the channels (a ``[T]`` input is returned)."""
    return x if x.dim() == 1 else x.mean(dim=0)


def resample(x: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample along the last axis with torchaudio's windowed-sinc resampler (identity if equal)."""
    if int(orig_rate) == int(new_rate):
        return x
    return AF.resample(x, int(orig_rate), int(new_rate))


def fix_length(x: torch.Tensor, n_samples: int) -> torch.Tensor:
    """Trim the last axis to ``n_samples``, or pad it with zeros at the end."""
    if x.shape[-1] >= n_samples:
        return x[..., :n_samples]
    return torch.nn.functional.pad(x, (0, n_samples - x.shape[-1]))


def load_waveform(
    path: str | os.PathLike, sample_rate: int = 22050, n_samples: int | None = None
) -> torch.Tensor:
    """One file as a mono float32 ``[T]`` tensor at ``sample_rate``, padded/trimmed to ``n_samples``."""
    data, rate = read_audio(path)
    x = resample(to_mono(torch.from_numpy(data)), rate, sample_rate)
    return x if n_samples is None else fix_length(x, n_samples)


# --------------------------------------------------------------------------- the reader

LABEL_COLUMNS = ["path", "split", "family", "instrument", "abbr", "technique", "pitch", "pitch_name", "dynamics", "scheme"]


@dataclass
class AudioSet:
    """Notes read from a SOL-style tree.

    ``waves[i]`` is the mono note of ``paths[i]`` with labels ``labels.iloc[i]`` (columns
    path, split, family, instrument, abbr, technique, pitch, pitch_name, dynamics, scheme).
    """

    waves: torch.Tensor  # [N, T] float32
    sample_rate: int
    labels: pd.DataFrame
    paths: list[Path]
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, why) not read

    def __len__(self) -> int:
        return self.waves.shape[0]

    @property
    def duration(self) -> float:
        """Length of every note in seconds."""
        return self.waves.shape[1] / self.sample_rate

    def codes(self, column: str) -> tuple[torch.Tensor, list]:
        """Integer codes of a label column and the sorted categories they index."""
        categories = sorted(self.labels[column].unique())
        index = {c: i for i, c in enumerate(categories)}
        return torch.tensor([index[v] for v in self.labels[column]], dtype=torch.long), categories

    def select(self, mask) -> "AudioSet":
        """The notes where boolean ``mask`` (array or Series over ``labels``) is true."""
        keep = np.asarray(mask, dtype=bool)
        idx = np.flatnonzero(keep)
        return AudioSet(
            waves=self.waves[torch.from_numpy(idx)],
            sample_rate=self.sample_rate,
            labels=self.labels.iloc[idx].reset_index(drop=True),
            paths=[self.paths[i] for i in idx],
            skipped=list(self.skipped),
        )


def list_audio_files(
    source: str | os.PathLike | Iterable[str | os.PathLike], extensions: Sequence[str] = AUDIO_EXTENSIONS
) -> list[Path]:
    """Audio files under a folder (recursively, sorted) or the given files, in order."""
    if isinstance(source, (str, os.PathLike)):
        root = Path(source)
        if root.is_file():
            return [root]
        if not root.is_dir():
            raise FileNotFoundError(f"no such folder or file: {root}")
        exts = {e.lower() for e in extensions}
        return sorted(p for p in root.rglob("*") if p.suffix.lower() in exts and not p.name.startswith("."))
    return [Path(p) for p in source]


def _as_set(value: str | Iterable[str] | None) -> set[str] | None:
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def _report_skipped(skipped: list[tuple[Path, str]]) -> None:
    if skipped:
        lines = "\n".join(f"  {path}: {why}" for path, why in skipped)
        warnings.warn(f"skipped {len(skipped)} file(s) that could not be used:\n{lines}", stacklevel=3)


def load_sol(
    source: str | os.PathLike | Iterable[str | os.PathLike],
    sample_rate: int = 22050,
    duration: float = 1.0,
    split: str | Iterable[str] | None = None,
    instruments: str | Iterable[str] | None = None,
    families: str | Iterable[str] | None = None,
    dynamics: str | Iterable[str] | None = None,
    strict: bool = False,
    progress: bool = True,
) -> AudioSet:
    """Read the notes of a SOL-style tree (a root folder or a list of files).

    Every note is resampled to ``sample_rate``, mixed to mono and padded/trimmed to
    ``duration`` seconds. ``split``, ``instruments``, ``families`` and ``dynamics`` keep only
    the matching notes (instrument names as in the folders, e.g. ``"Violin"``, or as
    abbreviations, e.g. ``"Vn"``). Names that do not parse and files that cannot be read are
    skipped with one warning listing them all, or raise on the first one if ``strict``.
    """
    files = list_audio_files(source)
    n_samples = int(round(duration * sample_rate))
    keep_split, keep_instr = _as_set(split), _as_set(instruments)
    keep_family, keep_dyn = _as_set(families), _as_set(dynamics)

    skipped: list[tuple[Path, str]] = []
    rows: list[dict] = []
    for path in files:
        try:
            row = labels_for(path)
        except SolNameError as err:
            if strict:
                raise
            skipped.append((path, f"name does not parse ({err.reason})"))
            continue
        if keep_split is not None and row["split"] not in keep_split:
            continue
        if keep_instr is not None and row["instrument"] not in keep_instr and row["abbr"] not in keep_instr:
            continue
        if keep_family is not None and row["family"] not in keep_family:
            continue
        if keep_dyn is not None and row["dynamics"] not in keep_dyn:
            continue
        rows.append(row)

    waves: list[torch.Tensor] = []
    kept: list[dict] = []
    for row in tqdm(rows, desc="reading notes", unit="file", disable=not progress):
        try:
            waves.append(load_waveform(row["path"], sample_rate, n_samples))
        except BadAudioError as err:
            if strict:
                raise
            skipped.append((Path(row["path"]), err.reason))
            continue
        kept.append(row)

    _report_skipped(skipped)
    labels = pd.DataFrame(kept, columns=LABEL_COLUMNS)
    labels["pitch"] = labels["pitch"].astype("int64")
    stacked = torch.stack(waves) if waves else torch.zeros(0, n_samples)
    return AudioSet(
        waves=stacked.to(torch.float32).contiguous(),
        sample_rate=sample_rate,
        labels=labels,
        paths=[Path(r["path"]) for r in kept],
        skipped=skipped,
    )
