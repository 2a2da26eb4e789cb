"""Plain checkpoints: one dict of tensors and JSON-like values, written atomically, read with
``weights_only=True``; the model is rebuilt from its config, never unpickled.

Layout of a checkpoint dict::

    {"format": 1, "model_state", "optimizer_state", "scheduler_state",
     "config": {"model": {...}, "trainer": {...}, "extra": {...}},
     "epoch", "global_step", "metrics": [per-epoch dicts], "best_val",
     "versions": {...}, "rng": {...}, "callbacks": {...}}
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from helpers.data.fetch_utils import sweep_stale, temp_prefix

FORMAT = 1


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape a checkpoint."""
    import numpy

    import helpers

    return {"python": sys.version.split()[0], "torch": str(torch.__version__), "numpy": str(numpy.__version__),
            "helpers": str(helpers.__version__), "platform": platform.platform()}


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, fsync, then ``os.replace`` it over ``path``.

    A failure (disk full, read-only folder, no permission) leaves ``path`` as it was and no
    temporary file, and raises an ``OSError`` of the same kind whose message names ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale(path.parent, path.name)  # what a process killed while writing this file left
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path.name), suffix=".tmp")
    except OSError as err:
        raise type(err)(err.errno, f"{path}: cannot write in {path.parent} ({err.strerror or err})") from err
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise type(err)(err.errno, f"{path}: writing failed, the file was left as it was "
                                   f"({err.strerror or err})") from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Atomically save a checkpoint dict (an interruption never leaves a half-written file)."""
    path = Path(path)
    _atomic_write(path, lambda f: torch.save(state, f))
    return path


class CheckpointError(ValueError):
    """A checkpoint that cannot be trusted or read (names the file)."""


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> dict[str, Any]:
    """Load a checkpoint dict with ``weights_only=True`` (no code is unpickled).

    A file that holds pickled code or objects other than tensors and plain containers is refused
    with :class:`CheckpointError` naming it, as is a truncated or corrupted one; a missing file
    raises ``FileNotFoundError``."""
    import pickle

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint there")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(f"{path}: refused, it holds pickled code or objects that are not tensors or plain "
                              f"containers (checkpoints are read with weights_only=True; this file was not "
                              f"written by helpers or was altered)") from err
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupted: {err.__class__.__name__})") \
            from err


def save_json(obj: Any, path: str | os.PathLike) -> Path:
    """Atomically write ``obj`` as indented JSON."""
    path = Path(path)
    text = json.dumps(obj, indent=2, sort_keys=False, default=str).encode()
    _atomic_write(path, lambda f: f.write(text))
    return path


def load_model(path: str | os.PathLike, device: str | torch.device | None = None) -> torch.nn.Module:
    """Rebuild a model from a checkpoint's config and load its weights; returned in eval mode."""
    from helpers.models import build_model

    ckpt = load_checkpoint(path)
    model_config = ckpt.get("config", {}).get("model")
    if model_config is None:
        raise ValueError(f"{path} holds no model config: it cannot be rebuilt without the code that made it")
    model = build_model(model_config)
    model.load_state_dict(ckpt["model_state"])
    if device is not None:
        model.to(device)
    return model.eval()
