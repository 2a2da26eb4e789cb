"""Same-label share of nearest neighbours."""

import numpy as np
import pytest

from helpers.evaluation.neighbours import agreement_table, knn_label_agreement


def test_separated_clusters_agree_fully_and_shuffled_labels_near_chance():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    points = rng.normal(size=(200, 2)) * 0.1 + labels[:, None] * 10.0
    overall, per_label = knn_label_agreement(points, labels, k=5)
    assert overall == 1.0 and list(per_label.index) == [0, 1, 2, 3]
    shuffled, _ = knn_label_agreement(points, rng.permutation(labels), k=5)
    assert shuffled == pytest.approx(0.25, abs=0.1)


def test_the_point_itself_is_not_its_own_neighbour():
    points = np.array([[0.0], [1.0], [10.0], [11.0]])
    overall, _ = knn_label_agreement(points, np.array([0, 1, 0, 1]), k=1)
    assert overall == 0.0


def test_agreement_table_and_errors():
    points = np.array([[0.0, 0], [0.1, 0], [5, 5], [5.1, 5]])
    table = agreement_table({"a": points, "b": points[[0, 2, 1, 3]]}, np.array([0, 0, 1, 1]), k=1)
    assert list(table.index) == ["a", "b"] and list(table.columns) == ["all", 0, 1]
    assert table.loc["a", "all"] == 1.0 and table.loc["b", "all"] == 0.0  # in b each point's neighbour has the other label
    with pytest.raises(ValueError, match="k=4"):
        knn_label_agreement(points, [0, 0, 1, 1], k=4)
