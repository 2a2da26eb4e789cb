"""Clusters of generated images and what the judges make of each ("Digits that are not",
Kazakçı, Cherti & Kégl, 2016, Sec. 4: known types, and the new types a model generates).

- :func:`cluster`: k-means (Lloyd, 1982; scikit-learn's k-means++ start) on any vectors (the
  sparse autoencoder's codes, pixels; on their first 50 principal components by default), with
  k chosen by a stated criterion over a range (10 to 30 by default): the mean silhouette
  coefficient (Rousseeuw, 1987; the default) or the Caliński-Harabasz index (Caliński &
  Harabasz, 1974), the largest wins. Returns labels, centroids and the criterion table.
- :func:`score_clusters`: one row per cluster: the novelty measures of its members
  (:func:`helpers.evaluation.novelty.measure` under the digits-and-letters judge), the share of
  its members of each kind and the cluster's type:

  * a member is a "digit" when the digit judge gives one digit p > theta; else a "letter" when
    the digits-and-letters judge gives the letters together p > theta (count_out, Kégl et al.,
    2018); else "noise" when that judge's noise class has p > theta; else "new";
  * the cluster's type is its most common member kind: "known" (digits: a type the digit judge
    recognises with confidence), "letter-like" (out-of-class), "noise", or "new" (neither a
    known type nor a letter nor noise: a candidate new type). Ties go in that order.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import novelty

CRITERIA = ("silhouette", "calinski_harabasz")
KINDS = ("digit", "letter", "noise", "new")
TYPES = {"digit": "known", "letter": "letter-like", "noise": "noise", "new": "new"}


def _as_matrix(x, name: str = "x") -> np.ndarray:
    x = torch.as_tensor(x)
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    if x.dim() < 2 or not len(x):
        raise ValueError(f"{name}: expected a non-empty batch [N, ...], got shape {tuple(x.shape)}")
    return x.flatten(1).double().cpu().numpy()


@dataclass
class Clustering:
    """What :func:`cluster` returns.

    Attributes:
        labels: cluster of every row, ``[N]`` int64, 0 to k - 1 (largest cluster first).
        centroids: ``[k, D]`` float64.
        k: the number of clusters.
        criterion: how k was chosen ("silhouette", "calinski_harabasz", "given" or "distinct":
            fewer distinct rows than the smallest k tried, so one cluster per distinct row).
        table: one row per k tried: ``k``, ``score`` (the criterion), ``inertia`` (sum of squared
            distances to the centroids, in the space k-means ran in); empty when k was given.
    """

    labels: np.ndarray
    centroids: np.ndarray
    k: int
    criterion: str
    table: pd.DataFrame

    @property
    def sizes(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.k)


def _kmeans(x: np.ndarray, k: int, seed: int, n_init: int):
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(x)
    return km.labels_.astype(np.int64), km.cluster_centers_, float(km.inertia_)


def _by_size(labels: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber clusters from the largest to the smallest."""
    order = np.argsort(-np.bincount(labels, minlength=len(centroids)), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[labels], centroids[order]


def _project(matrix: np.ndarray, pca: int | None, seed: int) -> tuple[np.ndarray, float]:
    """The first ``pca`` principal components of the rows (and the share of variance they keep),
    or the rows themselves when they have no more columns than that."""
    if pca is None or matrix.shape[1] <= pca or len(matrix) <= pca:
        return matrix, 1.0
    from sklearn.decomposition import PCA

    p = PCA(pca, random_state=seed).fit(matrix)
    return p.transform(matrix), float(p.explained_variance_ratio_.sum())


def _centroids(matrix: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    return np.stack([matrix[labels == i].mean(0) for i in range(k)])


def cluster(x, k: int | None = None, ks: Sequence[int] = range(10, 31), criterion: str = "silhouette",
            pca: int | None = 50, seed: int = 0, n_init: int = 4, sample_size: int | None = 2000,
            progress: bool = True) -> Clustering:
    """k-means on the rows of ``x`` (``[N, ...]``, flattened; uint8 read as value / 255).

    Args:
        k: the number of clusters; None chooses it among ``ks`` by ``criterion``.
        ks: the values of k tried (those >= the number of distinct rows are left out). From 10:
            fewer clusters than the ten digits cannot hold the known types apart from new ones.
        criterion: "silhouette" (mean silhouette coefficient, Rousseeuw, 1987, on at most
            ``sample_size`` rows) or "calinski_harabasz" (between- over within-cluster
            dispersion, Caliński & Harabasz, 1974); the k with the largest score wins.
        pca: k-means and the criterion run on the first ``pca`` principal components when the
            rows are longer (the sparse codes have 8192 entries, the pixels 784: 50 components
            make k-means many times faster); None: on the rows themselves. The centroids are
            returned in the original space (the mean of each cluster's rows);
            ``table.attrs["explained_variance"]`` is the share of variance the components keep.
        seed, n_init: k-means++ starts (the best of ``n_init`` kept), reproducible for a seed.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion={criterion!r}: expected one of {CRITERIA}")
    if pca is not None and pca < 1:
        raise ValueError(f"pca={pca}: expected a number of components >= 1, or None")
    matrix = _as_matrix(x)
    n_distinct = len(np.unique(matrix, axis=0))
    empty = pd.DataFrame(columns=["k", "score", "inertia"])
    if k is not None:
        if not 1 <= k <= n_distinct:
            raise ValueError(f"k={k}: expected 1 <= k <= {n_distinct} (the number of distinct rows)")
        reduced, explained = _project(matrix, pca, seed)
        labels, _, _ = _kmeans(reduced, k, seed, n_init)
        labels, centroids = _by_size(labels, _centroids(matrix, labels, k))
        empty.attrs["explained_variance"] = explained
        return Clustering(labels, centroids, k, "given", empty)
    ks = sorted({int(v) for v in ks})
    if not ks or ks[0] < 2:
        raise ValueError(f"ks={ks}: expected values >= 2 (a criterion compares at least two clusters)")
    usable = [v for v in ks if v < n_distinct]
    if not usable:  # too few distinct rows to compare partitions: one cluster per distinct row
        _, labels = np.unique(matrix, axis=0, return_inverse=True)
        labels = labels.reshape(-1).astype(np.int64)
        labels, centroids = _by_size(labels, _centroids(matrix, labels, n_distinct))
        return Clustering(labels, centroids, n_distinct, "distinct", empty)
    from sklearn.metrics import calinski_harabasz_score, silhouette_score

    reduced, explained = _project(matrix, pca, seed)
    rows, fits = [], {}
    for v in tqdm(usable, desc=f"k-means ({criterion})", disable=not progress, leave=False):
        labels, _, inertia = _kmeans(reduced, v, seed, n_init)
        if criterion == "silhouette":
            size = sample_size if sample_size is not None and sample_size < len(reduced) else None
            score = float(silhouette_score(reduced, labels, sample_size=size, random_state=seed))
        else:
            score = float(calinski_harabasz_score(reduced, labels))
        rows.append({"k": v, "score": score, "inertia": inertia})
        fits[v] = labels
    table = pd.DataFrame(rows)
    table.attrs["explained_variance"] = explained
    best = int(table.loc[table["score"].idxmax(), "k"])
    labels, centroids = _by_size(fits[best], _centroids(matrix, fits[best], best))
    return Clustering(labels, centroids, best, criterion, table)


# ------------------------------------------------------------------------- judging clusters


def member_kinds(digit_probs: torch.Tensor, digit_judge, probs: torch.Tensor, judge,
                 theta: float = 0.9) -> np.ndarray:
    """"digit", "letter", "noise" or "new" for every image (the rule of the module docstring)."""
    digit_probs, probs = torch.as_tensor(digit_probs), torch.as_tensor(probs)
    if len(digit_probs) != len(probs):
        raise ValueError(f"digit_probs has {len(digit_probs)} rows but probs {len(probs)}")
    is_digit = digit_probs[:, digit_judge.in_index].max(1).values > theta
    out_index = list(judge.out_index)
    is_letter = probs[:, out_index].sum(1) > theta if out_index else torch.zeros(len(probs), dtype=torch.bool)
    noise = judge.noise_index
    is_noise = probs[:, noise] > theta if noise is not None else torch.zeros(len(probs), dtype=torch.bool)
    kinds = np.full(len(probs), "new", dtype=object)
    kinds[is_noise.numpy()] = "noise"
    kinds[is_letter.numpy()] = "letter"
    kinds[is_digit.numpy()] = "digit"
    return kinds


def _most_common(names: list[str]) -> str:
    return Counter(names).most_common(1)[0][0] if names else ""


def score_clusters(images, labels, digit_judge, judge, theta: float = 0.9, progress: bool = True,
                   **measure_kwargs) -> pd.DataFrame:
    """One row per cluster of ``images`` (``labels`` from :func:`cluster`), sorted by cluster.

    Columns: ``cluster``, ``size``, ``type`` (see the module docstring), ``share_digit``,
    ``share_letter``, ``share_noise``, ``share_new`` (member kinds), ``digit`` (the digit judge's
    most common class), ``letter`` (``judge``'s most common out-of-class class, "" without
    one), then every key of :func:`~helpers.evaluation.novelty.measure` of the members under
    ``judge`` (the digits-and-letters judge), except ``n`` and ``seconds``. ``measure_kwargs``
    (e.g. ``reference_features``, ``train_features``, ``train_data``) go to ``measure`` for
    clusters of at least two members.
    """
    images = torch.as_tensor(images)
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(images):
        raise ValueError(f"labels has {len(labels)} entries but images {len(images)}")
    if not 0.0 < theta < 1.0:
        raise ValueError(f"theta={theta}: expected a probability in (0, 1)")
    digit_probs, probs = digit_judge.probs(images), judge.probs(images)
    kinds = member_kinds(digit_probs, digit_judge, probs, judge, theta)
    digit_names = [digit_judge.in_class[i] for i in digit_probs[:, digit_judge.in_index].argmax(1).tolist()]
    out_index = list(judge.out_index)
    letter_names = ([judge.out_class[i] for i in probs[:, out_index].argmax(1).tolist()] if out_index
                    else [""] * len(labels))
    rows = []
    for c in tqdm(np.unique(labels), desc="clusters", disable=not progress, leave=False):
        member = labels == c
        idx = np.flatnonzero(member)
        shares = {f"share_{kind}": float(np.mean(kinds[member] == kind)) for kind in KINDS}
        plurality = max(KINDS, key=lambda kind: (shares[f"share_{kind}"], -KINDS.index(kind)))
        row = {"cluster": int(c), "size": int(member.sum()), "type": TYPES[plurality], **shares,
               "digit": _most_common([digit_names[i] for i in idx]),
               "letter": _most_common([letter_names[i] for i in idx]) if out_index else ""}
        kwargs = measure_kwargs if len(idx) >= 2 else {}
        measures = novelty.measure(images[torch.as_tensor(idx)], judge, **kwargs)
        row.update({k: v for k, v in measures.items() if k not in ("n", "seconds")})
        rows.append(row)
    return pd.DataFrame(rows)


def type_counts(table: pd.DataFrame) -> dict[str, int]:
    """Clusters of each type in a :func:`score_clusters` table, every type present (0 if none)."""
    counts = table["type"].value_counts()
    return {t: int(counts.get(t, 0)) for t in TYPES.values()}


def cluster_examples(images, labels, n: int = 16, vectors=None, centroids=None) -> dict[int, torch.Tensor]:
    """Up to ``n`` members of every cluster, for a grid per cluster: the ones nearest their
    centroid first when ``vectors`` (what was clustered) and ``centroids`` are given, else in order."""
    images = torch.as_tensor(images)
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(images):
        raise ValueError(f"labels has {len(labels)} entries but images {len(images)}")
    matrix = _as_matrix(vectors, "vectors") if vectors is not None else None
    out = {}
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if matrix is not None and centroids is not None:
            d = ((matrix[idx] - np.asarray(centroids)[c]) ** 2).sum(1)
            idx = idx[np.argsort(d, kind="stable")]
        out[int(c)] = images[torch.as_tensor(idx[:n])]
    return out

