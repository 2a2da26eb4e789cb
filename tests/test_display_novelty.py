"""Notebook 05's figures: the trade-off plot, cluster strips, the playable novelty map."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from helpers.display import novelty as show  # noqa: E402


def test_plot_tradeoff_points_bars_and_legend():
    table = pd.DataFrame({"name": ["a", "b", "c"], "family": ["f", "f", "g"], "spurious": [0.1, 0.5, 0.9],
                          "coverage_optimised": [0.2, 0.5, 0.8]})
    ax = show.plot_tradeoff(table, intervals={"a": (0.05, 0.15, 0.1, 0.3)}, real_spurious=0.3,
                            corr={"method": "pearson", "r": 0.99, "low": 0.9, "high": 1.0}, annotate=["c"])
    offsets = np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])
    assert {(0.1, 0.2), (0.5, 0.5), (0.9, 0.8)} <= {tuple(np.round(o, 3)) for o in offsets}
    legend = ax.get_legend()
    assert "r = +0.99" in legend.get_title().get_text()
    assert any("real held-out" in t.get_text() for t in legend.get_texts())
    assert ax.get_xlabel().startswith("spurious share")


def test_cluster_grids_one_strip_per_cluster():
    table = pd.DataFrame({"cluster": [0, 1], "type": ["known", "new"], "size": [5, 2], "digit": ["3", "1"],
                          "letter": ["", ""]})
    examples = {0: torch.rand(5, 1, 28, 28), 1: torch.rand(2, 1, 28, 28)}
    fig = show.cluster_grids(examples, table, n=4, per_row=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["cluster 0: known 3, 5 images", "cluster 1: new, 2 images"]
    with pytest.raises(ValueError, match="no cluster"):
        show.cluster_grids({}, table)


def test_novelty_map_player_checks_lengths_and_index():
    from helpers.audio import STFTConfig
    from helpers.audio.transform import build_transform

    tf = build_transform(STFTConfig(sample_rate=8000, n_fft=256, hop_length=64, gl_n_iter=2))
    mags = tf.analyze(torch.randn(3, 2000, generator=torch.Generator().manual_seed(0)))
    player = show.NoveltyMapPlayer(np.random.rand(3, 2), ["real", "generated", "generated"], mags, tf, 2000,
                                   ["a", "b", "c"], n_iter=2)
    fig = player.figure(1)
    assert "1: b" in fig.axes[-1].get_title() or any("1: b" in ax.get_title() for ax in fig.axes)
    assert player.player(2) is not None
    with pytest.raises(IndexError, match="index=3"):
        player.figure(3)
    with pytest.raises(ValueError, match="one entry per point"):
        show.NoveltyMapPlayer(np.zeros((2, 2)), ["a"], mags, tf, 2000, ["a", "b"])


def test_plot_coverage_curves_rise_from_zero_to_one_and_name_missing_points():
    from helpers.evaluation.tradeoff import TradeoffPoint

    p = TradeoffPoint("m", "f", [True, False], [False, False], [0.1, 0.3], [0.05, 0.2])
    ax = show.plot_coverage_curves([p], ["m"], tolerance=0.15, tolerances=np.array([0.0, 0.1, 0.25, 0.5]))
    solid, dashed = ax.lines[0].get_ydata(), ax.lines[1].get_ydata()
    assert list(solid) == [0.0, 0.5, 1.0, 1.0] and list(dashed) == [0.0, 0.5, 0.5, 1.0]
    assert ax.lines[0].get_color() == ax.lines[1].get_color() and ax.lines[-1].get_xdata()[0] == 0.15
    with pytest.raises(ValueError, match="no point called"):
        show.plot_coverage_curves([p], ["other"])
