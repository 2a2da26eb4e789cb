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
instrument and family come from the abbreviation. Every instrument name goes through one
alias table (:data:`INSTRUMENT_ALIASES`: ``Violoncello``, ``Cello``, ``Vc`` -> ``Cello``).
Only folders below the root count, so a tree without split folders has ``split == ""``.
A ``metadata.csv`` at the root with a ``path`` column adds its other columns (``soundfont``:
``""`` without one). Symbolic links are followed (:func:`list_audio_files`).

:func:`load_waveform` is the one loader of the project (the spectra cache reads through it
too): any rate, channel count and bit depth of WAV, AIFF or FLAC, resampled to the working
rate, mixed to mono, padded or trimmed. :func:`load_sol` reads a tree with it into an
:class:`AudioSet`; :func:`scan_tree` gives the labels alone. A file that cannot be read (empty,
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

# One alias table for the instrument names of the three naming schemes (TinySOL/OrchideaSOL,
# acidsInstruments / full SOL, the rendered set) and their folder spellings:
# canonical name -> (family, aliases). The canonical names are the rendered set's folder names
# (helpers.data.instruments), so every table, probe and notebook speaks of one "Cello" whatever
# the tree called it ("Violoncello", "Vc"). Aliases are compared after normalisation
# (:func:`_alias_key`: case, "-", "_" and spaces ignored).
INSTRUMENT_ALIASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Violin": ("Strings", ("Vn", "Violino", "Violon")),
    "Viola": ("Strings", ("Va", "Alto_Viola")),
    "Cello": ("Strings", ("Vc", "Violoncello", "Violoncelle", "Violoncello_Cello")),
    "Contrabass": ("Strings", ("Cb", "Double_Bass", "Contrebasse", "String_Bass")),
    "Harp": ("PluckedStrings", ("Hp", "Harpe")),
    "Guitar": ("PluckedStrings", ("Gtr", "Guitare", "Classical_Guitar")),
    "Flute": ("Winds", ("Fl", "Flute_C")),
    "Piccolo": ("Winds", ("Picc", "Pic")),
    "Oboe": ("Winds", ("Ob", "Hautbois")),
    "English_Horn": ("Winds", ("EH", "Cor_anglais")),
    "Clarinet_Bb": ("Winds", ("ClBb", "Cl", "Clarinet", "Bb_Clarinet", "Clarinet_in_Bb", "Clarinette")),
    "Bass_Clarinet": ("Winds", ("BKl", "BCl", "Bass_Clarinet_Bb", "Clarinette_basse")),
    "Bassoon": ("Winds", ("Bn", "Bsn", "Basson", "Fagott")),
    "Contrabassoon": ("Winds", ("CBn", "Cbsn", "Contrabasson")),
    "Alto_Saxophone": ("Winds", ("ASax", "Sax_Alto", "Alto_Sax", "Saxophone_Alto")),
    "Horn": ("Brass", ("Hn", "French_Horn", "Horn_F", "Cor")),
    "Trumpet_C": ("Brass", ("TpC", "Tp", "Tpt", "Trumpet", "C_Trumpet", "Trumpet_in_C", "Trompette")),
    "Trombone": ("Brass", ("Tbn", "TTbn", "Tenor_Trombone", "Trombone_Tenor")),
    "Bass_Trombone": ("Brass", ("BTbn", "Trombone_Bass")),
    "Bass_Tuba": ("Brass", ("BTb", "Tuba", "Tuba_Bass")),
    "Accordion": ("Keyboards", ("Acc", "Accordeon")),
}


def _alias_key(name: str) -> str:
    """Normalised spelling: lower case without ``-``, ``_``, spaces or dots."""
    return re.sub(r"[\s_\-.]+", "", str(name)).lower()


_CANONICAL: dict[str, str] = {}
for _name, (_family, _aliases) in INSTRUMENT_ALIASES.items():
    for _alias in (_name, *_aliases):
        _CANONICAL.setdefault(_alias_key(_alias), _name)


def canonical_instrument(name: str) -> str:
    """The one name of an instrument: ``"Violoncello"``, ``"Cello"``, ``"Vc"`` -> ``"Cello"``.

    Any spelling in :data:`INSTRUMENT_ALIASES` (case, ``-``, ``_`` and spaces ignored) maps to
    its canonical name; an unknown name is returned unchanged (never dropped).
    """
    return _CANONICAL.get(_alias_key(name), str(name))


def instrument_family(name: str) -> str:
    """Family of an instrument name or alias (``"Hn"`` -> ``"Brass"``); ``""`` when unknown."""
    entry = INSTRUMENT_ALIASES.get(canonical_instrument(name))
    return entry[0] if entry else ""


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


def labels_for(path: str | os.PathLike, root: str | os.PathLike | None = None) -> dict:
    """Labels of one file: its name parsed, plus instrument/family/split from the folders.

    In ``<split>/<Family>/<Instrument>/<technique>/<file>`` (or without the technique
    level) the family folder is found by name (:data:`FAMILIES`); without one, instrument
    and family come from the abbreviation. The instrument is given its canonical name
    (:func:`canonical_instrument`; an unknown one is kept as written). With ``root`` only the
    folders below it count, so a tree without split folders (TinySOL) has ``split == ""``
    whatever the root folder is called.
    """
    path = Path(path)
    parsed = parse_filename(path)
    where = path.relative_to(root) if root is not None else path
    parents = where.parents
    technique_folder = ""
    family = instrument = split = ""
    for level in (2, 1):  # family folder above <instrument>/<technique>/ or directly above <instrument>/
        if len(parents) > level and parents[level].name.lower() in _FAMILY_KEYS:
            family = parents[level].name
            instrument = canonical_instrument(parents[level - 1].name)
            technique_folder = where.parent.name if level == 2 else ""
            split = parents[level + 1].name if len(parents) > level + 1 else ""
            break
    if not family:
        instrument = canonical_instrument(parsed.abbr)
        family = instrument_family(instrument)
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

LABEL_COLUMNS = ["path", "split", "family", "instrument", "abbr", "technique", "pitch", "pitch_name", "dynamics",
                 "scheme", "soundfont"]
METADATA_FILE = "metadata.csv"


@dataclass
class AudioSet:
    """Notes read from a SOL-style tree.

    ``waves[i]`` is the mono note of ``paths[i]`` with labels ``labels.iloc[i]`` (columns
    path, split, family, instrument, abbr, technique, pitch, pitch_name, dynamics, scheme,
    soundfont, then any extra columns of the tree's ``metadata.csv``).
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
    """Audio files under a folder (recursively, sorted) or the given files, in order.

    Symbolic links to files and folders are followed; a linked folder already visited (a loop
    back to an ancestor, or a second link to the same folder) is not entered again, and a link
    whose target is missing is left out; both with one warning naming them. Paths keep the
    names they have under ``source`` (the labels come from those folders).
    """
    if not isinstance(source, (str, os.PathLike)):
        return [Path(p) for p in source]
    root = Path(source)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"no such folder or file: {root}")
    exts = {e.lower() for e in extensions}
    visited = {os.path.realpath(root)}
    found: list[Path] = []
    revisits: list[str] = []
    broken: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        kept = []
        for d in sorted(dirnames):
            if d.startswith("."):
                continue
            real = os.path.realpath(os.path.join(dirpath, d))
            if real in visited:
                revisits.append(f"{os.path.join(dirpath, d)} -> {real}")
                continue
            visited.add(real)
            kept.append(d)
        dirnames[:] = kept
        for name in filenames:
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in exts:
                continue
            path = Path(dirpath) / name
            if not path.exists():
                broken.append(str(path))
                continue
            found.append(path)
    problems = [f"  {p}: folder already read (symbolic link loop or second link), not entered again"
                for p in revisits] + [f"  {p}: symbolic link to a missing file, left out" for p in broken]
    if problems:
        warnings.warn(f"{len(problems)} link(s) under {root} not followed:\n" + "\n".join(problems), stacklevel=2)
    return sorted(found)


def _relative_key(path: str | os.PathLike) -> str:
    """A relative path as written in ``metadata.csv``: POSIX separators, no leading ``./``."""
    text = str(path).replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    return text


def read_metadata(root: str | os.PathLike) -> pd.DataFrame | None:
    """``<root>/metadata.csv`` indexed by its ``path`` column (paths relative to ``root``),
    or None when the tree has none. A file without a ``path`` column raises ``ValueError``
    naming it."""
    path = Path(root) / METADATA_FILE
    if not path.is_file():
        return None
    table = pd.read_csv(path, keep_default_na=False)
    if "path" not in table:
        raise ValueError(f"{path}: needs a 'path' column (file paths relative to {root}); "
                         f"it has {list(table.columns)}")
    table["path"] = table["path"].map(_relative_key)
    return table.drop_duplicates("path", keep="last").set_index("path")


def scan_tree(
    source: str | os.PathLike | Iterable[str | os.PathLike], strict: bool = False
) -> tuple[pd.DataFrame, list[tuple[Path, str]]]:
    """Labels of every note of a SOL-style tree (or list of files), without reading audio.

    Returns ``(labels, skipped)``: one row per file whose name parses (columns
    :data:`LABEL_COLUMNS`, then the extra columns of the root's ``metadata.csv`` joined on
    the relative path), and the ``(file, why)`` of names that do not parse (``strict``:
    raise :class:`SolNameError` on the first). ``soundfont`` comes from ``metadata.csv``
    when it has that column, else it is ``""``.
    """
    root = Path(source) if isinstance(source, (str, os.PathLike)) and Path(source).is_dir() else None
    rows, skipped = [], []
    for path in list_audio_files(source):
        try:
            row = labels_for(path, root)
        except SolNameError as err:
            if strict:
                raise
            skipped.append((path, f"name does not parse ({err.reason})"))
            continue
        row["soundfont"] = ""
        rows.append(row)
    labels = pd.DataFrame(rows, columns=LABEL_COLUMNS)
    metadata = read_metadata(root) if root is not None else None
    if metadata is not None and len(labels):
        keys = [_relative_key(Path(p).relative_to(root).as_posix()) for p in labels["path"]]
        extra = [c for c in metadata.columns if c not in LABEL_COLUMNS or c == "soundfont"]
        joined = metadata.reindex(keys)[extra].reset_index(drop=True)
        if "soundfont" in joined:
            labels["soundfont"] = joined.pop("soundfont").fillna("").astype(str).to_numpy()
        labels = pd.concat([labels, joined], axis=1)
    labels["pitch"] = labels["pitch"].astype("int64")
    return labels, skipped


def _as_set(value: str | Iterable[str] | None) -> set[str] | None:
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def select_notes(
    labels: pd.DataFrame,
    split: str | Iterable[str] | None = None,
    instruments: str | Iterable[str] | None = None,
    families: str | Iterable[str] | None = None,
    dynamics: str | Iterable[str] | None = None,
    soundfonts: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """The rows of a label table that match every filter given (None: no filter).

    Instrument names go through the alias table (``"Violoncello"``, ``"Vc"`` and ``"Cello"``
    select the same notes); an abbreviation as written in the file names matches too.
    """
    keep = np.ones(len(labels), dtype=bool)
    wanted = _as_set(instruments)
    if wanted is not None:
        names = {canonical_instrument(n) for n in wanted}
        keep &= (labels["instrument"].isin(names) | labels["abbr"].isin(wanted)).to_numpy()
    for column, value in (("split", split), ("family", families), ("dynamics", dynamics), ("soundfont", soundfonts)):
        values = _as_set(value)
        if values is not None:
            keep &= labels[column].astype(str).isin(values).to_numpy()
    return labels[keep]


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
    soundfonts: str | Iterable[str] | None = None,
) -> AudioSet:
    """Read the notes of a SOL-style tree (a root folder or a list of files).

    Every note is resampled to ``sample_rate``, mixed to mono and padded/trimmed to
    ``duration`` seconds. ``split``, ``instruments``, ``families``, ``dynamics`` and
    ``soundfonts`` keep only the matching notes (:func:`select_notes`: instrument names in any
    spelling of the alias table, e.g. ``"Violin"`` or ``"Vn"``). Names that do not parse and
    files that cannot be read are skipped with one warning listing them all, or raise on the
    first one if ``strict``.
    """
    n_samples = int(round(duration * sample_rate))
    labels, skipped = scan_tree(source, strict=strict)
    labels = select_notes(labels, split, instruments, families, dynamics, soundfonts).reset_index(drop=True)

    waves: list[torch.Tensor] = []
    kept: list[int] = []
    for i, path in enumerate(tqdm(labels["path"], desc="reading notes", unit="file", disable=not progress)):
        try:
            waves.append(load_waveform(path, sample_rate, n_samples))
        except BadAudioError as err:
            if strict:
                raise
            skipped.append((Path(path), err.reason))
            continue
        kept.append(i)

    _report_skipped(skipped)
    labels = labels.iloc[kept].reset_index(drop=True)
    stacked = torch.stack(waves) if waves else torch.zeros(0, n_samples)
    return AudioSet(
        waves=stacked.to(torch.float32).contiguous(),
        sample_rate=sample_rate,
        labels=labels,
        paths=[Path(p) for p in labels["path"]],
        skipped=skipped,
    )
