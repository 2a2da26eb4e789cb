"""Do codes of the same class sit together? The share of each point's nearest neighbours that
carry its label, in the latent space itself or in a 2-D projection of it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch


def knn_label_agreement(points, labels, k: int = 10) -> tuple[float, pd.Series]:
    """``(overall, per label)``: the mean share of the ``k`` nearest neighbours (Euclidean, the
    point itself excluded) with the same label, over all points and per label. Chance level is
    the share of each label in the data (about 0.1 for ten balanced classes)."""
    from sklearn.neighbors import NearestNeighbors

    p = np.asarray(points.detach().cpu() if isinstance(points, torch.Tensor) else points, dtype=np.float64)
    y = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(f"expected points [N, D] and N labels, got {p.shape} and {y.shape}")
    if not 1 <= k < len(p):
        raise ValueError(f"k={k}: need 1 <= k < number of points ({len(p)})")
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(p).kneighbors(p)
    same = (y[idx[:, 1:]] == y[:, None]).mean(1)
    per_label = pd.Series(same).groupby(y).mean()
    per_label.index.name = "label"
    return float(same.mean()), per_label


def agreement_table(views: dict, labels, k: int = 10) -> pd.DataFrame:
    """:func:`knn_label_agreement` of several views of the same points (e.g. ``{"32-D codes": z,
    "PCA": p, "UMAP": u}``): one row per view, the column ``all`` then one column per label."""
    rows = {}
    for name, points in views.items():
        overall, per_label = knn_label_agreement(points, labels, k)
        rows[name] = {"all": overall, **{int(c) if str(c).isdigit() else c: v for c, v in per_label.items()}}
    table = pd.DataFrame(rows).T
    table.index.name = f"view ({k} nearest neighbours)"
    return table
