"""k-means with a chosen k, and clusters scored by the judges (known, letter-like, noise, new)."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from helpers.evaluation.clusters import (
    cluster,
    cluster_examples,
    member_kinds,
    score_clusters,
    type_counts,
)
from helpers.evaluation.judges import DIGITS, LETTERS, NOISE


def blobs(k=4, per=40, dim=5, spread=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.eye(dim)[:k] * 3
    x = torch.cat([c + spread * torch.randn(per, dim, generator=g) for c in centres])
    return x, np.repeat(np.arange(k), per)


@pytest.mark.parametrize("criterion", ["silhouette", "calinski_harabasz"])
@pytest.mark.parametrize("k", [3, 5])
def test_k_selection_finds_well_separated_blobs(criterion, k):
    x, truth = blobs(k=k)
    result = cluster(x, ks=range(2, 9), criterion=criterion, progress=False)
    assert result.k == k and result.criterion == criterion
    assert result.table["k"].tolist() == list(range(2, 9))
    assert result.table.loc[result.table["score"].idxmax(), "k"] == k
    assert result.centroids.shape == (k, 5) and result.labels.shape == (len(x),)
    # the partition is the true one, up to renaming
    pairs = set(zip(truth.tolist(), result.labels.tolist()))
    assert len(pairs) == k
    assert (result.sizes == 40).all()


def test_principal_components_find_the_blobs_and_centroids_stay_in_the_original_space():
    x, truth = blobs(k=4, dim=100)
    result = cluster(x, ks=range(2, 8), pca=10, progress=False)
    assert result.k == 4 and result.centroids.shape == (4, 100)
    assert 0.9 < result.table.attrs["explained_variance"] <= 1.0
    for c in range(4):
        assert np.allclose(result.centroids[c], x.double().numpy()[result.labels == c].mean(0))
    assert len(set(zip(truth.tolist(), result.labels.tolist()))) == 4


def test_given_k_sorted_by_size_and_reproducible():
    x = torch.cat([blobs(k=2, per=30)[0], blobs(k=3, per=10, seed=1)[0][20:]])  # blobs of 30, 30 and 10
    a = cluster(x, k=3, progress=False)
    b = cluster(x, k=3, progress=False)
    assert a.criterion == "given" and a.table.empty
    assert np.array_equal(a.labels, b.labels)
    assert list(a.sizes) == sorted(a.sizes, reverse=True)


def test_images_and_few_distinct_rows():
    x = torch.zeros(12, 4, 4, dtype=torch.uint8)
    x[6:] = 255
    result = cluster(x, progress=False)  # 2 distinct rows: no k in 2..20 is below that
    assert result.k == 2 and result.criterion == "distinct"
    assert sorted(result.sizes.tolist()) == [6, 6]
    assert result.centroids.shape == (2, 16) and set(result.centroids.max(1).round(6)) == {0.0, 1.0}
    three = torch.cat([x, torch.full((3, 4, 4), 128, dtype=torch.uint8)])
    assert cluster(three, ks=range(2, 10), progress=False).k == 2  # only k = 2 < 3 distinct rows


def test_bad_parameters_raise_naming_them():
    x, _ = blobs()
    with pytest.raises(ValueError, match="criterion"):
        cluster(x, criterion="elbow")
    with pytest.raises(ValueError, match="ks"):
        cluster(x, ks=[1, 2])
    with pytest.raises(ValueError, match="k="):
        cluster(x, k=0)
    with pytest.raises(ValueError, match="pca"):
        cluster(x, pca=0)
    with pytest.raises(ValueError, match="x"):
        cluster(torch.zeros(0, 3))


class FakeJudge:
    """Probabilities from the mean of each 4x4 image, so that the test knows every answer."""

    def __init__(self, classes, in_class, out_class, rule):
        self.classes, self.in_class, self.out_class, self.rule = tuple(classes), in_class, out_class, rule
        self.input = "image"
        self.model = SimpleNamespace(prepare=lambda x: x)

    in_index = property(lambda self: [self.classes.index(c) for c in self.in_class])
    out_index = property(lambda self: [self.classes.index(c) for c in self.out_class])
    noise_index = property(lambda self: self.classes.index(NOISE) if NOISE in self.classes else None)

    def scores(self, x, progress=True):
        x = torch.as_tensor(x).float()
        probs = torch.full((len(x), len(self.classes)), 0.02 / (len(self.classes) - 1))
        for i, m in enumerate(x.flatten(1).mean(1).tolist()):
            winner = self.rule(m)
            if winner is None:
                probs[i] = 1.0 / len(self.classes)
            else:
                probs[i, self.classes.index(winner)] = 0.98
        return probs, x.flatten(1)

    def probs(self, x):
        return self.scores(x)[0]

    def features(self, x):
        return self.scores(x)[1]


def fake_judges():
    # mean < 0.2: a 3; 0.2-0.4: the letter K; 0.4-0.6: noise; above: unsure (uniform)
    digit = FakeJudge(DIGITS + (NOISE,), DIGITS, (), lambda m: "3" if m < 0.2 else None)
    both = FakeJudge(DIGITS + LETTERS + (NOISE,), DIGITS, LETTERS,
                     lambda m: "3" if m < 0.2 else "K" if m < 0.4 else NOISE if m < 0.6 else None)
    return digit, both


def test_member_kinds_follow_the_rule():
    digit, both = fake_judges()
    x = torch.stack([torch.full((4, 4), v) for v in (0.1, 0.3, 0.5, 0.8)])
    kinds = member_kinds(digit.probs(x), digit, both.probs(x), both)
    assert kinds.tolist() == ["digit", "letter", "noise", "new"]


def test_score_clusters_types_and_measures():
    digit, both = fake_judges()
    values = [0.1] * 6 + [0.3] * 5 + [0.5] * 4 + [0.8] * 3 + [0.1, 0.8, 0.8]  # cluster 4: mostly new
    x = torch.stack([torch.full((4, 4), v) for v in values])
    labels = np.array([0] * 6 + [1] * 5 + [2] * 4 + [3] * 3 + [4] * 3)
    table = score_clusters(x, labels, digit, both, progress=False)
    assert table["cluster"].tolist() == [0, 1, 2, 3, 4]
    assert table["size"].tolist() == [6, 5, 4, 3, 3]
    assert table["type"].tolist() == ["known", "letter-like", "noise", "new", "new"]
    assert table.loc[0, "digit"] == "3" and table.loc[1, "letter"] == "K"
    assert table.loc[4, "share_digit"] == pytest.approx(1 / 3) and table.loc[4, "share_new"] == pytest.approx(2 / 3)
    assert table.loc[0, "count_in@0.9"] == 1.0 and table.loc[1, "count_out@0.9"] == 1.0
    assert table.loc[3, "noise@0.9"] == 1.0 and "objectness" in table and "n" not in table
    assert type_counts(table) == {"known": 1, "letter-like": 1, "noise": 1, "new": 2}
    with pytest.raises(ValueError, match="labels"):
        score_clusters(x, labels[:-1], digit, both, progress=False)
    with pytest.raises(ValueError, match="theta"):
        score_clusters(x, labels, digit, both, theta=1.5, progress=False)


def test_cluster_examples_nearest_first():
    x, _ = blobs(k=2, per=5)
    result = cluster(x, k=2, progress=False)
    shown = cluster_examples(x, result.labels, n=3, vectors=x, centroids=result.centroids)
    assert sorted(shown) == [0, 1] and all(len(v) == 3 for v in shown.values())
    for c, images in shown.items():
        d = ((images.double().numpy() - result.centroids[c]) ** 2).sum(1)
        assert list(d) == sorted(d)
    assert len(cluster_examples(x, result.labels, n=100)[0]) == 5
