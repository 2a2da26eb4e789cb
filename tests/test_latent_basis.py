"""Principal axes of latent codes, scaled by their spread."""

import pytest
import torch

from helpers.latent.basis import principal_basis


def test_axes_follow_the_spread_of_the_codes():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5000, 3, generator=g) * torch.tensor([0.1, 3.0, 1.0]) + torch.tensor([1.0, 2.0, 3.0])
    mean, basis = principal_basis(z, 2)
    assert basis.shape == (3, 2)
    assert torch.allclose(mean, torch.tensor([1.0, 2.0, 3.0]), atol=0.1)
    assert basis[:, 0].abs().argmax() == 1 and basis[:, 0].norm() == pytest.approx(3.0, rel=0.05)
    assert basis[:, 1].abs().argmax() == 2 and basis[:, 1].norm() == pytest.approx(1.0, rel=0.05)
    assert abs(float(basis[:, 0] @ basis[:, 1])) < 1e-3


def test_component_count_is_capped_and_bad_input_refused():
    assert principal_basis(torch.randn(10, 3), 8)[1].shape == (3, 3)
    with pytest.raises(ValueError):
        principal_basis(torch.randn(1, 3))


def test_code_gaussian_recovers_the_codes_distribution_and_samples_it():
    from helpers.latent import CodeGaussian

    g = torch.Generator().manual_seed(0)
    a = torch.tensor([[2.0, 0.0, 0.0], [1.0, 0.5, 0.0], [0.0, 0.3, 0.1]])
    z = torch.randn(20000, 3, generator=g) @ a.T + torch.tensor([1.0, -2.0, 0.5])
    fitted = CodeGaussian.fit(z)
    assert torch.allclose(fitted.mean, torch.tensor([1.0, -2.0, 0.5]), atol=0.05)
    cov = fitted.scale_tril @ fitted.scale_tril.T
    assert torch.allclose(cov, a @ a.T, atol=0.08)
    draws = fitted.sample(20000, generator=torch.Generator().manual_seed(1))
    assert draws.shape == (20000, 3)
    assert torch.allclose(torch.cov(draws.T), a @ a.T, atol=0.1)
    cold = fitted.sample(20000, temperature=0.5, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(cold.std(0), 0.5 * draws.std(0), rtol=1e-4)
    with pytest.raises(ValueError, match="two codes"):
        CodeGaussian.fit(z[:1])
    with pytest.raises(ValueError, match="NaN"):
        CodeGaussian.fit(torch.full((4, 3), float("nan")))
    with pytest.raises(ValueError, match="temperature"):
        fitted.sample(2, temperature=-1.0)
