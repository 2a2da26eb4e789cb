"""The nsgt compatibility fix and the device helper."""

import warnings

import numpy as np
import pytest
import torch

from helpers.compat import nsgt_module, patch_nsgt
from helpers.device import pick_device


@pytest.mark.parametrize("bins", [12, 48])
def test_patched_cq_nsgt_reconstructs_perfectly(bins):
    nsgt = nsgt_module()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        transform = nsgt.CQ_NSGT(40.0, 10000.0, bins, 22050, 4410, real=True, matrixform=True)
    x = np.random.default_rng(0).standard_normal(4410)
    coefs = transform.forward(x)
    y = np.asarray(transform.backward(coefs))[: len(x)]
    assert np.linalg.norm(y - x) / np.linalg.norm(x) < 1e-10


def test_patch_is_idempotent_and_local():
    from nsgt import nsgfwin_sl

    patch_nsgt()
    shim = nsgfwin_sl.np
    patch_nsgt()
    assert nsgfwin_sl.np is shim
    # numpy itself is untouched: an integer out array still refuses a float result
    m = np.array([1, 5, 9])
    with pytest.raises(TypeError):
        np.clip(m, 4, np.inf, out=m)
    shim.clip(m, 4, np.inf, out=m)
    assert m.tolist() == [4, 5, 9]


def _fake_accelerators(monkeypatch, cuda: bool, mps: bool):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (True, False, "cuda"),
                                                 (False, True, "mps"), (False, False, "cpu")])
def test_pick_device_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    _fake_accelerators(monkeypatch, cuda, mps)
    assert pick_device() == torch.device(expected)
    assert pick_device("auto") == pick_device(None) == torch.device(expected)


def test_pick_device_explicit_is_taken_as_given_or_refused_naming_the_parameter(monkeypatch):
    _fake_accelerators(monkeypatch, cuda=False, mps=False)
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"device='cuda:1'.*CUDA is not available"):
        pick_device("cuda:1")
    with pytest.raises(ValueError, match=r"device='mps'.*MPS is not available"):
        pick_device("mps")
    _fake_accelerators(monkeypatch, cuda=True, mps=True)
    assert pick_device("cuda:1") == torch.device("cuda", 1)
    assert pick_device("mps") == torch.device("mps")
    assert pick_device("cpu") == torch.device("cpu")  # an explicit CPU even where CUDA exists
    with pytest.raises(ValueError, match="device='tpu-ish'"):
        pick_device("tpu-ish")


@pytest.mark.parametrize("preset, expected", [(None, "1"), ("0", "0")])
def test_importing_helpers_turns_on_huge_pages_unless_the_user_chose(preset, expected):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    if preset is not None:
        env["THP_MEM_ALLOC_ENABLE"] = preset
    out = subprocess.run([sys.executable, "-c", "import os, helpers; print(os.environ['THP_MEM_ALLOC_ENABLE'])"],
                         env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert out == expected
