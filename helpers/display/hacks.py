"""Figures of notebook 04: batches of hacked outputs side by side (image grids, spectrograms,
players) and measures against a hack's amount."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .audio import audio_player, plot_spectrogram
from .images import show_images

#: how the measures are named on axes and in legends
LABELS = {
    "count_in@0.9": "in-class (p > 0.9)",
    "count_out@0.9": "out-of-class (p > 0.9)",
    "noise@0.9": "noise (neither > 0.9)",
    "objectness": "objectness",
    "frechet": "Fréchet distance to real data",
    "nn_data_median": "distance to the nearest training example",
    "class_kept": "share whose judged class is unchanged",
    "pitch_kept": "share whose pitch is unchanged (< 0.5 semitone)",
    "ink": "mean ink (mean pixel value)",
    "flatness": "median spectral flatness",
    "diversity": "normalised diversity",
}


def label(measure: str) -> str:
    return LABELS.get(measure, measure)


def image_panels(batches: dict, n: int = 16, nrow: int = 4, ncols: int | None = None, size: float = 2.1,
                 title: str | None = None):
    """One grid of the first ``n`` images of each named batch (grey levels 0 = black to 1 = white,
    the decoded pixel probabilities). Returns the figure."""
    import matplotlib.pyplot as plt

    names = list(batches)
    if not names:
        raise ValueError("no batches to show")
    ncols = ncols or min(len(names), 6)
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.35) * nrows), squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.set_axis_off()
    for ax, name in zip(axes.flat, names):
        show_images(np.asarray(batches[name][:n]).reshape(-1, 28, 28), nrow=nrow, ax=ax, title=str(name))
        ax.title.set_fontsize(9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def spectrogram_panels(batches: dict, transform, n_samples: int, k: int = 3, fmin: float = 30.0,
                       size: tuple[float, float] = (2.9, 2.2), title: str | None = None):
    """A row per named batch of magnitudes ``[N, F, T]``: its first ``k`` notes as spectrograms
    (dB, 80 dB range below each note's peak; log frequency from ``fmin`` Hz). Returns the figure."""
    import matplotlib.pyplot as plt

    names = list(batches)
    if not names:
        raise ValueError("no batches to show")
    freqs = np.asarray(transform.frequencies())
    keep = freqs >= fmin
    fig, axes = plt.subplots(len(names), k, figsize=(size[0] * k, size[1] * len(names)), squeeze=False)
    for row, name in zip(axes, names):
        mags = np.asarray(batches[name])
        times = transform.frame_times(n_samples)[:mags.shape[-1]]
        for j, ax in enumerate(row):
            if j >= len(mags):
                ax.set_axis_off()
                continue
            plot_spectrogram(mags[j][keep], freqs[keep], times, ax=ax, colorbar=j == k - 1,
                             title=f"{name}: {j + 1}")
            ax.title.set_fontsize(9)
            if j:
                ax.set_ylabel("")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def sound_players(batches: dict, transform, n_samples: int, k: int = 2, n_iter: int | None = None) -> list:
    """``[(title, player)]``: the first ``k`` notes of each named batch of magnitudes, phase
    reconstructed by the transform (Griffin-Lim, ``n_iter`` iterations) and peak-normalised."""
    out = []
    for name, mags in batches.items():
        for j in range(min(k, len(mags))):
            wave = transform.synthesize(mags[j], n_iter=n_iter, length=n_samples)
            out.append((f"{name}: {j + 1}", audio_player(wave, transform.sample_rate)))
    return out


def plot_against(table, x: str, measures: Sequence[str] = ("count_in@0.9", "count_out@0.9", "noise@0.9"),
                 by: str | None = None, ax=None, xlabel: str | None = None, title: str | None = None,
                 logx: bool = False, reference: dict | None = None):
    """Curves of ``measures`` (shares in [0, 1]) against column ``x``, one line style per value
    of column ``by``; ``reference``: horizontal dotted lines (e.g. the real data's values).
    Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.6))
    groups = [(None, table)] if by is None else list(table.groupby(by, sort=False))
    styles = ["-", "--", ":", "-."]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for gi, (gname, part) in enumerate(groups):
        part = part.sort_values(x)
        for mi, m in enumerate(measures):
            name = label(m) if by is None else f"{label(m)}, {by} {gname}"
            ax.plot(part[x], part[m], styles[gi % len(styles)], marker="o", ms=3, color=colours[mi % len(colours)],
                    label=name)
    for mi, m in enumerate(measures):
        if reference and m in reference:
            ax.axhline(reference[m], color=colours[mi % len(colours)], lw=0.8, ls=":", alpha=0.7)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel("share of samples" if all(m.startswith(("count", "noise", "max", "class_", "pitch_"))
                                            for m in measures) else ", ".join(label(m) for m in measures))
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax
