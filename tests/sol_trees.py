"""Trees of real-recording layout for the tests: TinySOL names and folder spellings, 44.1 kHz,
stereo, 24-bit, no split folders (what a user's copy of TinySOL / OrchideaSOL looks like)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from helpers.audio.synthetic import harmonic_note
from helpers.data.sol import pitch_name

#: (family folder, instrument folder as spelled in the tree, abbreviation, canonical name,
#:  brightness of the synthetic tone)
TINYSOL_INSTRUMENTS = (
    ("Strings", "Violin", "Vn", "Violin", 0.8),
    ("Strings", "Violoncello", "Vc", "Cello", 1.0),
    ("Brass", "French_Horn", "Hn", "Horn", 1.8),
    ("Brass", "Tenor_Trombone", "TTbn", "Trombone", 1.3),
    ("PluckedStrings", "Guitar", "Gtr", "Guitar", 2.2),
    ("Strings", "Viola", "Va", "Viola", 0.9),
    ("Strings", "Double_Bass", "Cb", "Contrabass", 1.1),
    ("Winds", "Clarinet", "ClBb", "Clarinet_Bb", 1.2),
    ("Winds", "Bassoon", "Bn", "Bassoon", 1.4),
    ("Brass", "Tuba", "BTb", "Bass_Tuba", 1.5),  # unseen by default (as in the rendered set)
    ("Winds", "Sax_Alto", "ASax", "Alto_Saxophone", 0.6),  # unseen by default
)


def write_tinysol_tree(root, pitches=(55, 60, 67), dynamics=("pp", "ff"), sample_rate: int = 44100,
                       seconds: float = 1.2, instruments=TINYSOL_INSTRUMENTS) -> Path:
    """Write ``<root>/<Family>/<Instrument>/ordinario/<Abbr>-ord-<Pitch>-<dyn>-4c-N.wav`` notes:
    stereo (the right channel at half level), 24-bit PCM at ``sample_rate``."""
    root = Path(root)
    for family, folder, abbr, _, brightness in instruments:
        target = root / family / folder / "ordinario"
        target.mkdir(parents=True, exist_ok=True)
        for k, pitch in enumerate(pitches):
            f0 = 440.0 * 2 ** ((pitch - 69) / 12)
            x = harmonic_note(f0, int(seconds * sample_rate), sample_rate, brightness=brightness, seed=k).numpy()
            for dyn in dynamics:
                level = 0.2 if dyn == "pp" else 0.9
                sf.write(target / f"{abbr}-ord-{pitch_name(pitch)}-{dyn}-4c-N.wav",
                         np.stack([level * x, 0.5 * level * x], axis=1), sample_rate, subtype="PCM_24")
    return root


def counts_on_disk(root) -> dict[str, int]:
    """Files per canonical instrument, counted from the folders (what the reader must find)."""
    names = {folder: name for _, folder, _, name, _ in TINYSOL_INSTRUMENTS}
    counts: dict[str, int] = {}
    for path in Path(root).rglob("*.wav"):
        name = names[path.parent.parent.name]
        counts[name] = counts.get(name, 0) + 1
    return counts
