"""Deterministic held-out splits of a note set, stratified by a label (the instrument).

:func:`stratified_split` keeps a fraction of every group (every instrument) for evaluation,
so that each training instrument appears in both parts in the same proportion; the choice
depends only on the seed, the group name and the file paths, never on the order of the rows
or on the machine. :func:`note_splits` applies it to the training part of a SOL-style set
and keeps the notes of the other splits (the unseen instruments of the rendered set) apart.
"""

from __future__ import annotations

import zlib
from typing import Sequence

import numpy as np
import pandas as pd


def stratified_split(groups: Sequence, keys: Sequence[str] | None = None, fraction: float = 0.1,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(kept, held_out)`` with ``round(fraction * n_g)`` rows of every group held out.

    Args:
        groups: one group label per row (e.g. the instrument).
        keys: one sort key per row (e.g. the file path): rows are ordered by it inside their
            group before the seeded shuffle, so that the split does not depend on row order.
            Default: the row position.
        fraction: share of every group held out, in (0, 1). Every group of at least two rows
            keeps at least one row on each side; a group of one row stays in ``kept``.
        seed: the same seed, groups and keys give the same split on any machine (the group's
            generator is seeded by ``seed`` and the CRC-32 of the group name).

    Returns two sorted ``int64`` index arrays that partition ``range(len(groups))``.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction={fraction}: must be in (0, 1)")
    groups = [str(g) for g in groups]
    keys = [str(i) for i in range(len(groups))] if keys is None else [str(k) for k in keys]
    if len(keys) != len(groups):
        raise ValueError(f"{len(keys)} keys for {len(groups)} rows")
    held: list[int] = []
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    for g in sorted(by_group):
        rows = sorted(by_group[g], key=lambda i: keys[i])
        n = len(rows)
        if n < 2:
            continue
        n_held = min(n - 1, max(1, int(round(fraction * n))))
        rng = np.random.default_rng([int(seed), zlib.crc32(g.encode())])
        held += [rows[j] for j in rng.permutation(n)[:n_held]]
    held_arr = np.array(sorted(held), dtype=np.int64)
    kept_arr = np.setdiff1d(np.arange(len(groups), dtype=np.int64), held_arr)
    return kept_arr, held_arr


def note_splits(labels: pd.DataFrame, val_fraction: float = 0.1, seed: int = 0, by: str = "instrument",
                train_split: str = "train") -> dict[str, np.ndarray]:
    """``{"train", "val", "unseen"}`` row indices of a note table (columns ``split``, ``by``, ``path``).

    Rows whose ``split`` is ``train_split`` are divided by :func:`stratified_split` (``val``:
    ``val_fraction`` of every ``by`` group, for held-out evaluation); every other row (the
    unseen instruments, split "test" in the rendered set) goes to ``unseen`` and never into
    training or validation.
    """
    for column in ("split", by):
        if column not in labels:
            raise KeyError(f"labels need a {column!r} column; they have {list(labels.columns)}")
    in_train = (labels["split"] == train_split).to_numpy()
    if not in_train.any():
        raise ValueError(f"no row has split == {train_split!r} (splits: {sorted(labels['split'].unique())})")
    rows = np.flatnonzero(in_train)
    sub = labels.iloc[rows]
    keys = sub["path"].astype(str).tolist() if "path" in sub else None
    kept, held = stratified_split(sub[by].tolist(), keys, fraction=val_fraction, seed=seed)
    return {"train": rows[kept], "val": rows[held], "unseen": np.flatnonzero(~in_train)}


def note_table(root, splits: str | Sequence[str] | None = None,
               instruments: str | Sequence[str] | None = None,
               dynamics: str | Sequence[str] | None = None,
               max_per_instrument: int | None = None) -> pd.DataFrame:
    """Labels of the notes of a SOL-style tree, read from the names and folders only (no audio).

    Columns as :func:`helpers.data.sol.load_sol` (path, split, family, instrument, abbr,
    technique, pitch, pitch_name, dynamics, scheme), sorted by split, instrument and path.
    Files whose name does not parse are left out. ``max_per_instrument`` keeps that many notes
    of every (split, instrument), evenly spaced over its pitch range (a small, deterministic
    subset for quick runs).
    """
    from helpers.data.sol import SolNameError, labels_for, list_audio_files

    keep = {name: ({v} if isinstance(v, str) else set(v)) if v is not None else None
            for name, v in (("split", splits), ("instrument", instruments), ("dynamics", dynamics))}
    rows = []
    for path in list_audio_files(root):
        try:
            row = labels_for(path)
        except SolNameError:
            continue
        if keep["instrument"] is not None and row["instrument"] not in keep["instrument"] \
                and row["abbr"] not in keep["instrument"]:
            continue
        if any(keep[c] is not None and row[c] not in keep[c] for c in ("split", "dynamics")):
            continue
        rows.append(row)
    if not rows:
        raise FileNotFoundError(f"no SOL-style notes match under {root}")
    table = pd.DataFrame(rows).sort_values(["split", "instrument", "path"], kind="stable")
    table["pitch"] = table["pitch"].astype("int64")
    if max_per_instrument is not None:
        parts = []
        for _, group in table.groupby(["split", "instrument"], sort=True):
            group = group.sort_values(["pitch", "dynamics", "path"], kind="stable")
            take = np.unique(np.linspace(0, len(group) - 1, min(len(group), max_per_instrument)).round().astype(int))
            parts.append(group.iloc[take])
        table = pd.concat(parts).sort_values(["split", "instrument", "path"], kind="stable")
    return table.reset_index(drop=True)


def middle_notes(table: pd.DataFrame, by: str = "instrument", dynamics: str | None = None,
                 groups: Sequence[str] | None = None) -> list:
    """One row label per group (per instrument by default): the note nearest the median pitch
    of the group, ties broken by path, so that the choice never depends on the row order.

    ``dynamics`` keeps only notes of that dynamics (e.g. "mf") when the group has any;
    ``groups`` fixes which groups and in which order (default: sorted names). A group named
    in ``groups`` that has no note raises ``KeyError`` naming it.
    """
    if by not in table or "pitch" not in table:
        raise KeyError(f"middle_notes needs the columns {by!r} and 'pitch'; got {list(table.columns)}")
    names = sorted(table[by].unique()) if groups is None else list(groups)
    picks = []
    for name in names:
        rows = table[table[by] == name]
        if rows.empty:
            raise KeyError(f"no note with {by} == {name!r}")
        if dynamics is not None and (rows["dynamics"] == dynamics).any():
            rows = rows[rows["dynamics"] == dynamics]
        distance = (rows["pitch"] - rows["pitch"].median()).abs()
        order = pd.DataFrame({"d": distance, "path": rows["path"] if "path" in rows else rows.index.astype(str)})
        picks.append(order.sort_values(["d", "path"], kind="stable").index[0])
    return picks
