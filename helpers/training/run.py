"""Run folders: ``<root>/<name>-<config hash>-<timestamp>``, so that two runs never collide."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from helpers.hashing import config_hash  # re-exported: the one config hash of the project

RUNS_ENV = "NOVELTY_RUNS_DIR"

__all__ = ["RUNS_ENV", "config_hash", "latest_run_dir", "new_run_dir", "runs_root"]


def runs_root(root: str | os.PathLike | None = None) -> Path:
    """Where run folders go: ``root``, else ``$NOVELTY_RUNS_DIR``, else ``./runs``."""
    if root is not None:
        return Path(root).expanduser()
    return Path(os.environ.get(RUNS_ENV, "runs")).expanduser()


def new_run_dir(name: str, config: Any, root: str | os.PathLike | None = None) -> Path:
    """Create and return a fresh folder ``<root>/<name>-<hash>-<YYYYmmdd-HHMMSS>[-n]``."""
    base = runs_root(root)
    base.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-{config_hash(config)}-{time.strftime('%Y%m%d-%H%M%S')}"
    for n in range(10000):
        path = base / (stem if n == 0 else f"{stem}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a fresh run folder under {base}")


def latest_run_dir(name: str, root: str | os.PathLike | None = None,
                   require: str | None = "checkpoints/last.pt") -> Path | None:
    """The most recent run folder ``<root>/<name>-*`` (that holds ``require``, if given), or None."""
    base = runs_root(root)
    if not base.is_dir():
        return None
    runs = [p for p in base.glob(f"{name}-*") if p.is_dir() and (require is None or (p / require).exists())]
    return max(runs, key=lambda p: (p / "config.json").stat().st_mtime if (p / "config.json").exists()
               else p.stat().st_mtime, default=None)
