"""Compatibility fixes for third-party packages, applied before they are used.

``nsgt==0.19`` (the NSGT package of the brief) calls ``np.clip(M, min_win, np.inf, out=M)``
on an integer array ``M`` in ``nsgt/nsgfwin_sl.py``. Old numpy cast the float result back
silently; numpy >= 1.25 raises ``UFuncOutputCastingError``, so every NSGT constructor fails.
:func:`patch_nsgt` gives that module (and only that module) a numpy whose ``clip`` casts
with ``casting="unsafe"`` when it writes into an integer ``out`` array, which restores the
old behaviour (the values are whole numbers already). The installed package is not modified.
"""

from __future__ import annotations

import types

import numpy as np

_PATCHED_FLAG = "_helpers_clip_patched"


def _clip_into_int(a, a_min=None, a_max=None, out=None, **kwargs):
    """``np.clip`` that may write a float result into an integer ``out`` array."""
    if out is not None and np.issubdtype(np.asarray(out).dtype, np.integer):
        kwargs.setdefault("casting", "unsafe")
    return np.clip(a, a_min, a_max, out=out, **kwargs)


def _numpy_with_int_clip() -> types.ModuleType:
    shim = types.ModuleType("numpy_int_clip_shim", "numpy with an integer-safe clip (helpers.compat)")
    shim.__dict__.update({k: v for k, v in vars(np).items() if not k.startswith("__")})
    shim.clip = _clip_into_int
    setattr(shim, _PATCHED_FLAG, True)
    return shim


def patch_nsgt() -> None:
    """Make ``nsgt`` constructors work on current numpy. Idempotent; safe to call often."""
    from nsgt import nsgfwin_sl

    if getattr(nsgfwin_sl.np, _PATCHED_FLAG, False):
        return
    nsgfwin_sl.np = _numpy_with_int_clip()


def nsgt_module():
    """Import ``nsgt`` with the compatibility fix applied, and return the module."""
    import nsgt

    patch_nsgt()
    return nsgt
