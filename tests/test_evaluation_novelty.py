"""Novelty measures on constructed cases with known answers."""

import math

import pytest
import torch
import torch.nn as nn

from helpers.evaluation import novelty
from helpers.evaluation.judges import NOISE, Judge
from helpers.models import Classifier, ClassifierConfig


def one_hot(idx, k):
    return torch.nn.functional.one_hot(torch.as_tensor(idx), k).double()


def test_class_counts_known_shares():
    # classes: 0, 1 in-class; 2, 3 out-of-class; 4 noise
    probs = torch.tensor([
        [0.95, 0.03, 0.01, 0.01, 0.0],   # in (count and max)
        [0.46, 0.46, 0.04, 0.04, 0.0],   # in by count only
        [0.0, 0.0, 0.97, 0.03, 0.0],     # out
        [0.0, 0.0, 0.0, 0.0, 1.0],       # noise class
        [0.3, 0.2, 0.3, 0.2, 0.0],       # confident in neither
    ])
    c = novelty.class_counts(probs, [0, 1], [2, 3], thetas=(0.9,))
    assert c["count_in@0.9"] == pytest.approx(0.4) and c["max_in@0.9"] == pytest.approx(0.2)
    assert c["count_out@0.9"] == pytest.approx(0.2) and c["max_out@0.9"] == pytest.approx(0.2)
    assert c["noise@0.9"] == pytest.approx(0.4)
    c95 = novelty.class_counts(probs, [0, 1], [2, 3], thetas=(0.95,))
    assert c95["count_in@0.95"] == pytest.approx(0.2)  # 0.95 + 0.03 > 0.95, 0.92 is not


def test_probs_are_checked():
    with pytest.raises(ValueError, match="sum to 1"):
        novelty.objectness(torch.full((3, 4), 0.5))
    with pytest.raises(ValueError, match=r"\[N, K\]"):
        novelty.objectness(torch.ones(4))


def test_objectness_entropy_diversity_extremes():
    k = 10
    balanced = one_hot(torch.arange(100) % k, k)
    assert novelty.objectness(balanced) == pytest.approx(k, rel=1e-6)
    assert novelty.normalized_entropy(balanced) == pytest.approx(0.0, abs=1e-9)
    assert novelty.normalized_diversity(balanced) == pytest.approx(1.0)
    same = one_hot(torch.zeros(50, dtype=torch.long), k)
    assert novelty.objectness(same) == pytest.approx(1.0)
    assert novelty.normalized_diversity(same) == 0.0
    uniform = torch.full((20, k), 1.0 / k, dtype=torch.float64)
    assert novelty.objectness(uniform) == pytest.approx(1.0)
    assert novelty.normalized_entropy(uniform) == pytest.approx(1.0)
    half = one_hot(torch.arange(100) % 5, k)  # 5 of 10 classes used
    assert novelty.objectness(half) == pytest.approx(5.0, rel=1e-6)
    assert novelty.normalized_diversity(half) == pytest.approx(math.log(5) / math.log(10))


def test_frechet_distance_zero_for_same_set_and_grows_with_shift():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(500, 8, generator=g)
    assert novelty.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = torch.full((8,), 0.5)
    assert novelty.frechet_distance(a, a + shift) == pytest.approx(8 * 0.25, rel=1e-6)  # ||shift||^2, same covariance
    assert novelty.frechet_distance(a, a + 2 * shift) > novelty.frechet_distance(a, a + shift)
    # a against 2a: ||mu - 2 mu||^2 + Tr(S + 4S - 2 * 2S) = ||mu||^2 + Tr(S)
    expected = (a.mean(0) ** 2).sum().item() + a.var(0).sum().item()
    assert novelty.frechet_distance(a, 2 * a) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="same D"):
        novelty.frechet_distance(a, a[:, :3])


def test_mmd_near_zero_for_one_distribution_and_grows_with_shift():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, 8, generator=g), torch.randn(400, 8, generator=g)
    same = novelty.mmd2(a, b)
    near, far = novelty.mmd2(a, b + 0.5), novelty.mmd2(a, b + 1.0)
    assert abs(same) < 0.05 and near > 10 * abs(same) and far > near


def test_nearest_distances_and_unique_share():
    ref = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    x = torch.tensor([[0.0, 1.0], [3.0, 4.0], [6.0, 8.0]])
    assert novelty.nearest_distances(x, ref, chunk=1).tolist() == pytest.approx([1.0, 0.0, 5.0])
    imgs = torch.zeros(4, 2, 2)
    imgs[1, 0, 0] = 0.9
    imgs[2, 0, 0] = 0.6  # binarises like imgs[1]
    imgs[3, 1, 1] = 1.0
    assert novelty.unique_share(imgs) == pytest.approx(0.5)  # imgs 1 and 2 collide; 0 and 3 are unique
    assert novelty.unique_share((imgs * 255).to(torch.uint8)) == pytest.approx(0.5)


class IdentityVAE(nn.Module):
    """encode = flatten (mu) or zeros; decode = identity: a decoder that can draw anything."""

    def __init__(self, encoder_knows: bool = True):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.encoder_knows = encoder_knows

    def encode(self, x):
        mu = x.flatten(1) if self.encoder_knows else torch.zeros_like(x.flatten(1))
        return mu, torch.zeros_like(mu)

    def decode(self, z):
        return z * self.scale


def test_coverage_identity_decoder_and_latent_optimisation():
    x = torch.rand(20, 4, 4)
    full = novelty.coverage(IdentityVAE(), x, tolerance=1e-3, n_steps=5, progress=False)
    assert full["coverage_encoder"] == 1.0 and full["coverage_optimised"] == 1.0
    model = IdentityVAE(encoder_knows=False)
    found = novelty.coverage(model, x, tolerance=0.05, n_steps=300, lr=0.05, progress=False)
    assert found["coverage_encoder"] == 0.0 and found["coverage_optimised"] == 1.0
    assert model.scale.item() == 1.0 and model.scale.requires_grad  # decoder untouched, flags restored
    with pytest.raises(ValueError, match="tolerance"):
        novelty.coverage(model, x, tolerance=0.0)


def test_measure_keys_and_reference_of_itself():
    torch.manual_seed(0)
    classes = ("0", "1", "A", NOISE)
    judge = Judge(Classifier(ClassifierConfig(n_classes=4, channels=(4, 8), dense=16)), classes, ("0", "1"), ("A",))
    x = torch.rand(50, 28, 28)
    m = novelty.measure(x, judge, reference=x, train=x[:10])
    for key in ("count_in@0.9", "max_out@0.95", "noise@0.9", "objectness", "entropy", "diversity", "frechet", "mmd",
                "nn_feature_mean", "nn_data_median", "unique_binary", "p_noise_class"):
        assert key in m
    assert m["frechet"] == pytest.approx(0.0, abs=1e-3)
    assert m["nn_data_median"] > 0  # 40 of the 50 are not in train
    assert 1.0 <= m["objectness"] <= 4.0
    table = novelty.sanity_table(judge, {"a": x[:5], "b": x[5:10]})
    assert set(table) == {"a", "b"} and table["a"]["n"] == 5
