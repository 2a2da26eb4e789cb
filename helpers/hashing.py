"""The one way of hashing a configuration: SHA-1 of its canonical JSON.

Canonical JSON: keys sorted, no spaces, anything JSON does not know written with ``str``
(paths, numpy scalars). The same configuration gives the same hash on any machine and in
any Python session; :meth:`helpers.models.config.Config.config_hash`, run folder names
(:func:`helpers.training.run.new_run_dir`) and the transforms' hashes all use it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(obj: Any) -> str:
    """``obj`` as JSON with sorted keys and no spaces (the text that is hashed)."""
    return json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))


def config_hash(config: Any, length: int = 8) -> str:
    """Short SHA-1 of the config's canonical JSON (same config, same hash, on any machine)."""
    if not 1 <= length <= 40:
        raise ValueError(f"length={length}: a SHA-1 has 1 to 40 hex digits")
    return hashlib.sha1(canonical_json(config).encode()).hexdigest()[:length]
