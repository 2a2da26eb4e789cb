"""Spurious share against coverage: per-sample verdicts, shares, bootstrap correlation."""

import math

import numpy as np
import pytest
import torch

from helpers.evaluation import tradeoff as T


class _Judge:
    in_index, out_index = [0, 1], [2]


def _point(name, spurious, coverage, n=400, m=300, seed=0):
    rng = np.random.default_rng(seed)
    inside = rng.random(n) >= spurious
    out = ~inside & (rng.random(n) < 0.5)
    err = np.where(rng.random(m) < coverage, 0.05, 0.5)
    return T.TradeoffPoint(name, "test", inside, out, err, err * 0.5)


def test_judged_flags_follow_group_sums():
    probs = torch.tensor([[0.5, 0.45, 0.05], [0.0, 0.05, 0.95], [0.3, 0.3, 0.4]])
    inside, out = T.judged_flags(probs, _Judge(), theta=0.9)
    assert inside.tolist() == [True, False, False] and out.tolist() == [False, True, False]
    with pytest.raises(ValueError, match="theta"):
        T.judged_flags(probs, _Judge(), theta=0.3)


def test_point_values_and_table():
    p = T.TradeoffPoint("a", "f", [True, False, False, True], [False, True, False, False],
                        [0.05, 0.2, 0.3], [0.05, 0.08, 0.3], {"z_dim": 4})
    v = p.values(0.1)
    assert v["spurious"] == 0.5 and v["out"] == 0.25 and v["noise"] == 0.25
    assert v["coverage_encoder"] == pytest.approx(1 / 3) and v["coverage_optimised"] == pytest.approx(2 / 3)
    table = T.tradeoff_table([p], tolerance=0.1)
    assert table.loc[0, "z_dim"] == 4 and table.loc[0, "n_samples"] == 4 and table.loc[0, "n_heldout"] == 3
    with pytest.raises(ValueError, match="both in-class and out-of-class"):
        T.TradeoffPoint("b", "f", [True], [True], [0.1], [0.1])
    with pytest.raises(ValueError, match="err_encoder has 2"):
        T.TradeoffPoint("b", "f", [True], [False], [0.1, 0.2], [0.1])


def test_bootstrap_correlation_finds_a_built_in_trade_off():
    points = [_point(f"m{i}", s, c, seed=i) for i, (s, c) in enumerate([(0.1, 0.2), (0.3, 0.4), (0.5, 0.6), (0.7, 0.8)])]
    r = T.bootstrap_correlation(points, tolerance=0.1, n_boot=200)
    assert r["r"] > 0.9 and 0 < r["low"] <= r["r"] <= r["high"] <= 1 and r["valid"] == 200
    anti = [_point(f"m{i}", s, c, seed=i) for i, (s, c) in enumerate([(0.1, 0.8), (0.3, 0.6), (0.5, 0.4), (0.7, 0.2)])]
    r2 = T.bootstrap_correlation(anti, tolerance=0.1, n_boot=200, method="spearman")
    assert r2["high"] < 0
    facts = T.tradeoff_facts(T.tradeoff_table(points, 0.1), r)
    assert facts["sign"] == 1 and f"{r['r']:+.2f}" in facts["text"]
    assert T.tradeoff_facts(T.tradeoff_table(anti, 0.1), r2)["sign"] == -1


def test_bootstrap_correlation_too_few_models_is_nan():
    r = T.bootstrap_correlation([_point("a", 0.1, 0.2), _point("b", 0.5, 0.5)], tolerance=0.1, n_boot=10)
    assert math.isnan(r["r"]) and r["n_models"] == 2
    assert T.tradeoff_facts(T.tradeoff_table([_point("a", 0.1, 0.2)], 0.1), r)["sign"] is None
    with pytest.raises(ValueError, match="expected two of"):
        T.bootstrap_correlation([], tolerance=0.1, x="nope")


def test_tradeoff_point_measures_a_model():
    from test_evaluation_novelty import IdentityVAE

    class J(_Judge):
        def probs(self, x):
            return torch.tensor([[1.0, 0.0, 0.0]] * len(x))

    x = torch.rand(6, 4)
    p = T.tradeoff_point("id", "test", x, J(), IdentityVAE(), x, n_steps=2)
    assert p.values(1e-3)["spurious"] == 0.0 and p.values(1e-3)["coverage_encoder"] == 1.0
    low, high = T.share_interval(p, 1e-3, "coverage_optimised", n_boot=20)
    assert low == high == 1.0


def test_share_intervals_bracket_each_points_shares():
    points = [_point("a", 0.2, 0.7, seed=1), _point("b", 0.6, 0.3, seed=2)]
    bars = T.share_intervals(points, tolerance=0.1, n_boot=100)
    assert set(bars) == {"a", "b"}
    for p in points:
        v, (xl, xh, yl, yh) = p.values(0.1), bars[p.name]
        assert xl <= v["spurious"] <= xh and yl <= v["coverage_optimised"] <= yh and xl < xh
