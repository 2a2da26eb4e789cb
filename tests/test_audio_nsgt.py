"""The PyTorch NSGT against the nsgt package: same coefficients, same inverse, exact round
trips, gradients, and the frame helpers."""

import numpy as np
import pytest
import torch

from helpers.audio.nsgt_ref import NSGTReference, band_frequencies, check_nsgt_params, package_frame
from helpers.audio.nsgt_torch import TorchNSGT, frame_condition, smooth_fmax
from helpers.audio.synthetic import chirp, harmonic_note

SR = 22050


def rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


@pytest.mark.parametrize("bins", [12, 24, 48])
def test_torch_equals_package_on_random_input(bins):
    n = 11025
    fmax = 5000.0
    ref = NSGTReference(32.7, fmax, bins, SR, n)
    nsgt = TorchNSGT(32.7, fmax, bins, SR, n)
    x = np.random.default_rng(bins).standard_normal((2, n))
    c_ref = ref.forward(x)
    c = nsgt.forward(torch.from_numpy(x))
    assert c.shape == c_ref.shape == (2, nsgt.n_bins, nsgt.n_frames)
    assert rel(c.numpy(), c_ref) < 1e-12
    # the inverse of arbitrary coefficients (not only consistent ones) matches as well
    rng = np.random.default_rng(1)
    coefs = rng.standard_normal(c_ref.shape) + 1j * rng.standard_normal(c_ref.shape)
    assert rel(nsgt.backward(torch.from_numpy(coefs)).numpy(), ref.backward(coefs)) < 1e-12


def test_torch_equals_package_on_real_like_signals_in_float32():
    n = SR
    fmax = 10712.5
    ref = NSGTReference(32.7, fmax, 24, SR, n)
    nsgt = TorchNSGT(32.7, fmax, 24, SR, n)
    x = torch.stack([harmonic_note(110.0), chirp(50.0, 8000.0)])
    c_ref = ref.forward(x.double().numpy())
    c = nsgt.forward(x)
    assert c.dtype == torch.complex64
    assert rel(c.numpy(), c_ref) < 1e-5
    assert rel(nsgt.backward(c).numpy(), ref.backward(c_ref)) < 1e-5


@pytest.mark.parametrize("bins", [12, 48])
def test_exact_round_trip_torch_and_package(bins):
    n = 8000
    fmax = 3900.0
    x = np.random.default_rng(0).standard_normal((3, n))
    nsgt = TorchNSGT(40.0, fmax, bins, 8000, n)
    y = nsgt.backward(nsgt.forward(torch.from_numpy(x))).numpy()
    assert rel(y, x) < 1e-12
    ref = NSGTReference(40.0, fmax, bins, 8000, n)
    assert rel(ref.backward(ref.forward(x)), x) < 1e-12
    x32 = torch.from_numpy(x).float()
    assert rel(nsgt.backward(nsgt.forward(x32)).numpy(), x32.numpy()) < 1e-5


def test_leading_dims_are_kept_and_chunking_changes_nothing():
    nsgt = TorchNSGT(40.0, 3000.0, 12, 8000, 4000)
    x = torch.randn(2, 3, 4000, dtype=torch.float64)
    c = nsgt.forward(x)
    assert c.shape == (2, 3) + nsgt.shape
    nsgt.chunk_elements = 1  # one signal at a time
    assert torch.allclose(nsgt.forward(x), c, atol=1e-12)
    assert nsgt.backward(c).shape == x.shape
    assert nsgt.backward(nsgt.forward(torch.zeros(0, 4000))).shape == (0, 4000)


@pytest.mark.parametrize("args,fast", [((200.0, 900.0, 2, 2000, 64), False),
                                       ((100.0, 900.0, 3, 2000, 256), True)])
def test_gradients_flow_gradcheck_float64(args, fast):
    nsgt = TorchNSGT(*args)
    x = torch.randn(1, args[-1], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: torch.view_as_real(nsgt.forward(s)), (x,),
                                    atol=1e-8, fast_mode=fast)
    c = torch.randn((1,) + nsgt.shape, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(nsgt.backward, (c,), atol=1e-8, fast_mode=fast)


def test_gradient_of_magnitude_loss_is_finite_and_nonzero():
    nsgt = TorchNSGT(40.0, 3000.0, 12, 8000, 4000)
    x = torch.randn(2, 4000, requires_grad=True)
    loss = nsgt.forward(x).abs().pow(2).sum()
    loss.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    nsgt = TorchNSGT(40.0, 3000.0, 12, 8000, 4000)
    x = torch.randn(2, 4000, dtype=torch.float64)
    c = nsgt.forward(x.cuda())
    assert torch.allclose(c.cpu(), nsgt.forward(x), atol=1e-10)
    assert torch.allclose(nsgt.backward(c).cpu(), x, atol=1e-10)


def test_layout_facts():
    nsgt = TorchNSGT(32.7, 10712.5, 24, SR, SR)
    freqs = band_frequencies(32.7, 10712.5, 24, SR)
    assert nsgt.shape == (len(freqs), 625)  # DC band, constant-Q bands, Nyquist band
    assert freqs[0] == 0 and freqs[-1] == SR / 2
    assert nsgt.centre_bins[0] == 0 and nsgt.centre_bins[-1] == SR // 2


def test_smooth_fmax_gives_smooth_well_conditioned_frame():
    fmax = smooth_fmax(32.7, 24, SR, SR)
    assert fmax == 10712.5
    frame = package_frame(32.7, fmax, 24, SR, SR)
    assert frame.M[0] == 625 and frame_condition(frame) < 100
    # fmax a hair below Nyquist: a degenerate top band, a near-singular frame
    assert frame_condition(package_frame(32.7, SR / 2 - 1e-3, 24, SR, SR)) > 1e6


def test_bad_parameters_name_the_parameter():
    with pytest.raises(ValueError, match="fmax"):
        check_nsgt_params(32.7, SR / 2, 24, SR, SR)
    with pytest.raises(ValueError, match="n_samples"):
        check_nsgt_params(32.7, 8000.0, 24, SR, 100)
    with pytest.raises(ValueError, match="bins_per_octave"):
        check_nsgt_params(32.7, 8000.0, 0, SR, SR)
    nsgt = TorchNSGT(40.0, 3000.0, 12, 8000, 4000)
    with pytest.raises(ValueError, match="n_samples"):
        nsgt.forward(torch.randn(1, 3999))
    with pytest.raises(ValueError, match="shape"):
        nsgt.backward(torch.zeros(1, 3, 3, dtype=torch.complex64))
