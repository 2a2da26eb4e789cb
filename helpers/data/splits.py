"""Deterministic held-out splits of a note set, stratified by a label (the instrument).

:func:`stratified_split` keeps a fraction of every group (every instrument) for evaluation,
so that each training instrument appears in both parts in the same proportion; the choice
depends only on the seed, the group name and the file paths, never on the order of the rows
or on the machine. :func:`note_splits` applies it to the training part of a SOL-style set
(the ``train/`` folder, or the whole tree when it has no split folders) and keeps the unseen
instruments apart (the rendered set's ``test/`` folder, instruments named by the user, or a
second tree); a leave-one-out option holds out one label value instead (one SoundFont).
"""

from __future__ import annotations

import zlib
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from helpers.data.instruments import INSTRUMENTS


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


#: instruments the rendered set keeps unseen (its ``test/`` split: tuba, English horn, alto sax,
#: harp, accordion); the default "unseen" instruments of a tree without split folders, so that
#: every set holds out the same timbres
DEFAULT_UNSEEN = tuple(name for name, inst in INSTRUMENTS.items() if inst.split == "test")


def note_splits(labels: pd.DataFrame, val_fraction: float = 0.1, seed: int = 0, by: str = "instrument",
                train_split: str = "train", unseen_instruments: Sequence[str] | None = None,
                unseen_split: str = "test",
                holdout: Mapping[str, str | Sequence[str]] | None = None) -> dict[str, np.ndarray]:
    """``{"train", "val", "unseen"}`` row indices of a note table (columns ``split``, ``by``, ``path``).

    - The training pool: the rows whose ``split`` is ``train_split``; when no row has it (a
      tree without split folders, TinySOL), every row not in ``unseen_split`` (the rows of a
      second tree, see :func:`note_table`). Rows outside the pool (split "test" of the
      rendered set) go to ``unseen`` and never into training or validation.
    - ``unseen_instruments``: instruments (any spelling of the alias table,
      :func:`helpers.data.sol.canonical_instrument`) moved from the pool to ``unseen``.
      None: when every row is in the pool (no split folders, no second tree), those of
      :data:`DEFAULT_UNSEEN` that the table holds, else none. A named instrument the table
      lacks raises ``ValueError`` naming it.
    - The rest of the pool is divided by :func:`stratified_split` (``val``: ``val_fraction``
      of every ``by`` group), or, with ``holdout`` (``{"soundfont": "timgm6mb"}``: a column and
      one or several values), leave-one-out: the matching rows are ``val``, the others
      ``train``.
    """
    from helpers.data.sol import canonical_instrument

    for column in ("split", by):
        if column not in labels:
            raise KeyError(f"labels need a {column!r} column; they have {list(labels.columns)}")
    if not len(labels):
        raise ValueError("the note table is empty")
    in_pool = (labels["split"] == train_split).to_numpy().copy()
    if not in_pool.any():
        in_pool = (labels["split"] != unseen_split).to_numpy().copy()
    if unseen_instruments is None:
        names = set(DEFAULT_UNSEEN) if in_pool.all() else set()
    else:
        names = {canonical_instrument(n) for n in ([unseen_instruments] if isinstance(unseen_instruments, str)
                                                   else unseen_instruments)}
        missing = sorted(names - set(labels["instrument"]))
        if missing:
            raise ValueError(f"unseen_instruments: {missing} not in the notes "
                             f"(instruments: {sorted(labels['instrument'].unique())})")
    in_pool &= ~labels["instrument"].isin(names).to_numpy()
    if not in_pool.any():
        raise ValueError(f"no training notes left: every instrument is unseen "
                         f"(splits: {sorted(labels['split'].unique())}, unseen_instruments: {sorted(names)})")
    rows = np.flatnonzero(in_pool)
    unseen = np.flatnonzero(~in_pool)
    if holdout:
        held = np.zeros(len(rows), dtype=bool)
        for column, values in holdout.items():
            if column not in labels:
                raise KeyError(f"holdout: labels have no {column!r} column; they have {list(labels.columns)}")
            values = {values} if isinstance(values, str) else set(values)
            present = set(labels[column].iloc[rows].astype(str))
            if not values & present:
                raise ValueError(f"holdout: no training note has {column} in {sorted(values)} "
                                 f"(values: {sorted(present)})")
            held |= labels[column].iloc[rows].astype(str).isin(values).to_numpy()
        if held.all():
            raise ValueError(f"holdout {dict(holdout)} leaves no training note")
        return {"train": rows[~held], "val": rows[held], "unseen": unseen}
    sub = labels.iloc[rows]
    keys = sub["path"].astype(str).tolist() if "path" in sub else None
    kept, held_out = stratified_split(sub[by].tolist(), keys, fraction=val_fraction, seed=seed)
    return {"train": rows[kept], "val": rows[held_out], "unseen": unseen}


def note_table(root, splits: str | Sequence[str] | None = None,
               instruments: str | Sequence[str] | None = None,
               dynamics: str | Sequence[str] | None = None,
               max_per_instrument: int | None = None,
               soundfonts: str | Sequence[str] | None = None,
               unseen_root=None, unseen_split: str = "test") -> pd.DataFrame:
    """Labels of the notes of a SOL-style tree, read from the names, folders and the tree's
    ``metadata.csv`` only (no audio).

    Columns as :func:`helpers.data.sol.load_sol` (path, split, family, instrument, abbr,
    technique, pitch, pitch_name, dynamics, scheme, soundfont, and the extra columns of
    ``metadata.csv``), sorted by split, instrument and path. Files whose name does not parse
    are left out. Filters as :func:`helpers.data.sol.select_notes` (instrument names in any
    spelling of the alias table). ``unseen_root``: a second tree whose notes are added with
    ``split = unseen_split`` (the instruments never trained on; ``soundfonts`` filters it only
    when its notes have a SoundFont label). ``max_per_instrument`` keeps
    that many notes of every (split, instrument), evenly spaced over its pitch range (a small,
    deterministic subset for quick runs).
    """
    from helpers.data.sol import scan_tree, select_notes

    table = select_notes(scan_tree(root)[0], splits, instruments, None, dynamics, soundfonts)
    if unseen_root is not None:
        other = scan_tree(unseen_root)[0]
        labelled = (other["soundfont"] != "").any()  # recordings have no SoundFont to filter on
        other = select_notes(other, None, None, None, dynamics, soundfonts if labelled else None)
        if not len(other):
            raise FileNotFoundError(f"no SOL-style notes match under unseen_root={unseen_root}")
        table = pd.concat([table, other.assign(split=unseen_split)], ignore_index=True)
    if not len(table):
        raise FileNotFoundError(f"no SOL-style notes match under {root}")
    table = table.sort_values(["split", "instrument", "path"], kind="stable")
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
