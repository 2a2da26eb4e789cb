"""Readers of the committed benchmark results (``benchmarks/results/*.json``) as tables.

The notebooks show measured numbers from these files instead of re-running a benchmark; each
reader names the file in its error when the file is missing or malformed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from helpers.data.paths import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
AUDIO_VAE_JSON = RESULTS_DIR / "audio_vae.json"

#: names of the note model's decoders in ``benchmarks/audio_vae.py``, as a reader would say them
NOTE_DECODER_NAMES = {"frames": "frame-wise MLP", "conv": "transposed 2-D convolutions"}


def _read_results_json(path: str | Path, keys: tuple[str, ...] = ()) -> dict:
    """The JSON object of a results file; ``FileNotFoundError`` / ``ValueError`` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no benchmark results at {path} (run the benchmark script that writes it)")
    try:
        result = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    missing = [k for k in keys if k not in result]
    if missing:
        raise ValueError(f"{path}: missing the keys {missing}")
    return result


def audio_vae_result(path: str | Path | None = None) -> dict:
    """The whole ``audio_vae.json`` (machine, runs, latency, total time)."""
    return _read_results_json(AUDIO_VAE_JSON if path is None else path, keys=("machine", "runs"))


def audio_vae_runs(path: str | Path | None = None) -> pd.DataFrame:
    """One row per trained run of ``benchmarks/audio_vae.py`` (model, transform, likelihood,
    decoder, epochs, train_s, held-out scores, recognisability)."""
    return pd.DataFrame(audio_vae_result(path)["runs"])


def audio_vae_decoders(path: str | Path | None = None, likelihood: str = "gaussian") -> pd.DataFrame | None:
    """The note model's two decoders side by side for one output distribution, indexed by
    (transform, decoder), or None when the file holds fewer than both decoders."""
    runs = audio_vae_runs(path)
    if runs.empty or "decoder" not in runs:
        return None
    rows = runs[(runs["model"] == "note") & runs["likelihood"].str.startswith(likelihood)]
    if not set(NOTE_DECODER_NAMES) <= set(rows["decoder"]):
        return None
    table = pd.DataFrame({"transform": rows["transform"], "decoder": rows["decoder"].map(NOTE_DECODER_NAMES),
                          "epochs": rows["epochs"], "train_s": rows["train_s"], "mag_sc": rows["mag_sc"],
                          "audio_sc": rows["audio_sc"], "pitch kept": rows["pitch_agreement"],
                          "instrument kept": rows["instrument_acc_recon"]})
    return table.set_index(["transform", "decoder"])


def audio_vae_latency(path: str | Path | None = None) -> pd.DataFrame:
    """One row per timed explorer (model, decoder, transform): median and p95 latency in ms."""
    return pd.DataFrame(audio_vae_result(path).get("latency", []))


def audio_vae_machine(path: str | Path | None = None) -> str:
    """The machine the benchmark ran on, in words (CPU, cores, torch threads)."""
    m = audio_vae_result(path)["machine"]
    return f"{m.get('cpu', 'unknown CPU')}, {m.get('cores', '?')} cores, {m.get('torch_threads', '?')} torch threads"
