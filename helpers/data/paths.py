"""Where data lives: ``$NOVELTY_DATA_DIR`` if set, else ``data/`` at the repository root."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "NOVELTY_DATA_DIR"
REPO_ROOT = Path(__file__).resolve().parents[2]


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Return the data folder: ``root`` if given, else ``$NOVELTY_DATA_DIR``, else ``<repo>/data``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return REPO_ROOT / "data"
