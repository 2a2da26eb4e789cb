"""What every benchmark result records about the machine it was measured on."""

from __future__ import annotations

import importlib.metadata
import math
import os
import platform
from pathlib import Path

import torch

LIBRARIES = ("torch", "torchaudio", "numpy", "nsgt")


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's model name from ``cpuinfo`` (Linux's /proc/cpuinfo), else what ``platform`` knows."""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> dict:
    """CPU model, cores, torch threads, accelerator, library versions and the load average now."""
    info = {"cpu": cpu_model(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "platform": platform.platform(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    info.update({name: _version(name) for name in LIBRARIES})
    if hasattr(os, "getloadavg"):
        info["load_average_at_start"] = [round(v, 2) for v in os.getloadavg()]
    return info


def round_floats(d, digits: int = 4):
    """A JSON-ready copy of nested dicts and lists with every float rounded to ``digits``; NaN and
    infinities become None (JSON has no literal for them)."""
    if isinstance(d, dict):
        return {k: round_floats(v, digits) for k, v in d.items()}
    if isinstance(d, list):
        return [round_floats(v, digits) for v in d]
    if isinstance(d, float):
        return round(d, digits) if math.isfinite(d) else None
    return d


def parser(doc: str, results, smoke: str = "tiny models and batches (seconds)"):
    """The argument parser every area benchmark starts from: its docstring as the description,
    ``--smoke`` (help ``smoke``), ``--out`` (default ``results``) and ``--run-root``."""
    import argparse
    from pathlib import Path

    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help=smoke)
    p.add_argument("--out", type=Path, default=Path(results))
    p.add_argument("--run-root", default=None, help="run store folder (default $NOVELTY_RUNS_DIR or ./runs)")
    return p


def merge_into(path):
    """A ``merge`` for :func:`finish`: the new result's top-level parts replace those of the JSON
    already at ``path``, whose other parts are kept (None when there is no file yet)."""
    import json
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        return None
    return lambda new: {**json.loads(path.read_text()), **new}


def finish(out: dict, path, start: float, merge=None) -> dict:
    """End of a benchmark: add ``total_seconds`` (since ``start``, a ``time.perf_counter()``) and the
    load average, round the floats (:func:`round_floats`), let ``merge(out)`` combine it with an
    earlier result when given, print the JSON and write it to ``path`` atomically. Returns the
    written dict."""
    import json
    import time

    from helpers.data.fetch_utils import atomic_write_bytes

    out["total_seconds"] = time.perf_counter() - start
    if hasattr(os, "getloadavg"):
        out["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    out = round_floats(out)
    if merge is not None:
        out = merge(out)
    text = json.dumps(out, indent=1)
    print(text)
    atomic_write_bytes(path, (text + "\n").encode())
    return out
