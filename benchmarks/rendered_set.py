"""Benchmark of the rendered instrument set, measured in one run, written as JSON.

    python benchmarks/rendered_set.py              # renders the full set into a temporary folder (minutes)
    python benchmarks/rendered_set.py --tiny       # seconds: two instruments, one pitch per octave

Sections of ``benchmarks/results/rendered_set.json``:

- ``machine``: CPU model, cores, library versions.
- ``render``: wall time of :func:`helpers.data.instruments.render_instrument_set` over every
  SoundFont (both passes, writing included), notes and disk size (bytes of the files).
- ``soundfonts``: per SoundFont: notes, gain, loudest and quietest note peak (dBFS).
- ``timbre``: mean log-spectral distance (dB, :func:`log_spectral_distance`) between the same
  note (instrument, pitch, dynamics) rendered by two SoundFonts, against the distance between
  the softest and the loudest dynamics of one note of one SoundFont; per instrument too, so that
  instruments two SoundFonts play from the same samples show up (distance near 0).

The SoundFonts are the cached ones (``make data`` fetches them).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from helpers.benchmarking import machine_description
from helpers.data import instruments as ins

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "rendered_set.json"


def timbre_table(root: Path, meta) -> dict:
    """Mean log-spectral distances across SoundFonts (same note) and across dynamics (same SoundFont)."""
    spectra = {
        (row.soundfont, row.instrument, row.pitch, row.dynamics): ins.log_spectrum(sf.read(root / row.path)[0])
        for row in tqdm(meta.itertuples(), total=len(meta), desc="log spectra", unit="note")
    }

    def lsd(a, b) -> float:
        return float(np.sqrt(np.mean((spectra[a] - spectra[b]) ** 2)))

    marks = list(dict.fromkeys(meta["dynamics"]))
    soft, loud = marks[0], marks[-1]
    ids = list(dict.fromkeys(meta["soundfont"]))
    pairs = {}
    for a, b in combinations(ids, 2):
        per_instrument = {}
        for (s, name, pitch, dyn) in spectra:
            if s == a and (b, name, pitch, dyn) in spectra:
                per_instrument.setdefault(name, []).append(lsd((a, name, pitch, dyn), (b, name, pitch, dyn)))
        values = [v for vs in per_instrument.values() for v in vs]
        pairs[f"{a}/{b}"] = {
            "mean_db": round(float(np.mean(values)), 2),
            "notes": len(values),
            "per_instrument_db": {k: round(float(np.mean(v)), 2) for k, v in per_instrument.items()},
        }
    dynamics = {}
    for s in ids:
        values = [
            lsd((s, name, pitch, soft), (s, name, pitch, loud))
            for (s2, name, pitch, dyn) in spectra
            if s2 == s and dyn == soft and (s, name, pitch, loud) in spectra
        ]
        dynamics[s] = {"mean_db": round(float(np.mean(values)), 2), "notes": len(values), "pair": f"{soft}/{loud}"}
    return {"soundfonts": pairs, "dynamics": dynamics}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="two instruments, one pitch per octave (seconds)")
    parser.add_argument("--out", type=Path, default=None, help=f"JSON file (default {RESULTS}; --tiny: stdout)")
    args = parser.parse_args(argv)

    config = ins.InstrumentSetConfig()
    if args.tiny:
        config = ins.InstrumentSetConfig(instruments=("Violin", "Harp"), step=12)
    files = {sid: ins.find_soundfont(source=sid, download=False) for sid in config.soundfonts}
    with tempfile.TemporaryDirectory(prefix="rendered-set-") as tmp:
        start = time.perf_counter()
        dest = ins.render_instrument_set(Path(tmp) / "instruments", files, config, progress=True)
        seconds = time.perf_counter() - start
        meta = ins.check_instrument_set(dest)
        marker = ins.read_marker(dest)
        disk = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
        peaks = meta.groupby("soundfont")["peak_dbfs"]
        result = {
            "machine": machine_description(),
            "config": config.to_dict(),
            "render": {"seconds": round(seconds, 1), "notes": len(meta), "disk_bytes": disk,
                       "disk_mb": round(disk / 1e6, 1)},
            "soundfonts": {
                sid: {
                    "file": part["name"],
                    "sha256": part["sha256"],
                    "notes": int(part["n_notes"]),
                    "gain": round(part["gain"], 4),
                    "loudest_dbfs": round(float(peaks.max()[sid]), 2),
                    "quietest_dbfs": round(float(peaks.min()[sid]), 2),
                    "missing_presets": part["missing_presets"],
                }
                for sid, part in marker["soundfonts"].items()
            },
            "timbre": timbre_table(dest, meta),
        }
    text = json.dumps(result, indent=2) + "\n"
    out = args.out or (None if args.tiny else RESULTS)
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
