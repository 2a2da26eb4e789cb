"""Pick the compute device: CUDA, then Apple MPS, then CPU."""

from __future__ import annotations

import torch


def pick_device(prefer: str | None = "auto") -> torch.device:
    """Return the device to compute on.

    ``prefer="auto"`` (or ``None``) picks CUDA when available, then Apple MPS, then CPU.
    Any other value (``"cpu"``, ``"cuda:1"``...) is taken as it is, and an unavailable
    accelerator, or a name torch does not know, raises ``ValueError`` naming the parameter
    instead of failing later.
    """
    if prefer in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(prefer)
    except RuntimeError as err:
        raise ValueError(f"device={prefer!r} is not a device name torch knows ({err})") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={prefer!r} was asked for but CUDA is not available")
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device={prefer!r} was asked for but Apple MPS is not available")
    return device
