"""Figures of notebook 05: the spurious-versus-coverage plot, a grid per cluster of generated
images, and a novelty map of real and generated sounds whose points can be played by index."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .images import show_images

AXIS_LABELS = {
    "spurious": "spurious share (out-of-class + noise, p ≤ 0.9 in-class)",
    "out": "out-of-class share",
    "noise": "noise share",
    "coverage_encoder": "coverage through the encoder",
    "coverage_optimised": "coverage through latent optimisation",
}


def plot_tradeoff(table, x: str = "spurious", y: str = "coverage_optimised", intervals: dict | None = None,
                  ax=None, title: str | None = None, real_spurious: float | None = None, corr: dict | None = None,
                  annotate: Sequence[str] = ()):
    """One point per row of a :func:`~helpers.evaluation.tradeoff.tradeoff_table`, coloured by
    ``family``; ``intervals``: ``{name: (x_low, x_high, y_low, y_high)}`` error bars;
    ``real_spurious``: a vertical line at the real data's spurious share; ``corr``: the
    correlation and its interval in the legend's title; ``annotate``: names written beside their
    points. Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    markers = "osD^vP*X"
    for i, (family, part) in enumerate(table.groupby("family", sort=False)):
        c, m = colours[i % len(colours)], markers[i % len(markers)]
        if intervals:
            for row in part.itertuples():
                lo = intervals.get(row.name)
                if lo is not None:
                    ax.errorbar(getattr(row, x), getattr(row, y),
                                xerr=[[getattr(row, x) - lo[0]], [lo[1] - getattr(row, x)]],
                                yerr=[[getattr(row, y) - lo[2]], [lo[3] - getattr(row, y)]],
                                color=c, alpha=0.35, lw=0.8)
        ax.scatter(part[x], part[y], color=c, marker=m, s=36, label=f"{family} ({len(part)})", zorder=3)
    for name in annotate:
        row = table[table.name == name]
        if len(row):
            ax.annotate(name, (row[x].iloc[0], row[y].iloc[0]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    if real_spurious is not None:
        ax.axvline(real_spurious, color="k", ls=":", lw=1, label=f"real held-out examples ({real_spurious:.2f})")
    ax.set_xlabel(AXIS_LABELS.get(x, x))
    ax.set_ylabel(AXIS_LABELS.get(y, y))
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    legend_title = None
    if corr is not None and corr.get("r") == corr.get("r"):  # not NaN
        legend_title = f"{corr['method']} r = {corr['r']:+.2f} [{corr['low']:+.2f}, {corr['high']:+.2f}]"
    ax.legend(fontsize=7, title=legend_title, title_fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    if title:
        ax.set_title(title)
    return ax


def cluster_grids(examples: dict, table, n: int = 8, per_row: int = 2, size: float = 0.55, title: str | None = None):
    """One strip of up to ``n`` images per cluster (``examples``: cluster -> images, from
    :func:`~helpers.evaluation.clusters.cluster_examples`), titled with its row of a
    :func:`~helpers.evaluation.clusters.score_clusters` table: type, size, most common digit or
    letter. ``per_row`` strips side by side. Returns the figure."""
    import matplotlib.pyplot as plt

    rows = table.set_index("cluster")
    keys = [c for c in rows.index if c in examples]
    if not keys:
        raise ValueError("no cluster has examples to show")
    nrows = -(-len(keys) // per_row)
    fig, axes = plt.subplots(nrows, per_row, figsize=(per_row * n * size + 0.4, nrows * (size + 0.42)), squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.set_axis_off()
    for ax, c in zip(axes.flat, keys):
        r = rows.loc[c]
        imgs = np.asarray(examples[c][:n]).reshape(-1, 28, 28)
        if len(imgs) < n:  # keep every strip the same width
            imgs = np.concatenate([imgs, np.ones((n - len(imgs), 28, 28))])
        what = r["digit"] if r["type"] == "known" else (r["letter"] if r["type"] == "letter-like" else "")
        show_images(imgs, nrow=n, ax=ax, title=f"cluster {c}: {r['type']}{' ' + str(what) if what else ''}, "
                                                f"{int(r['size'])} images")
        ax.title.set_fontsize(8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def novelty_map(points, kinds, ax=None, title: str | None = None, highlight: Sequence[int] = (), s: float = 6.0,
                axis: str = "UMAP"):
    """A 2-D map (e.g. UMAP of the judge's features) of real and generated sounds, coloured by
    ``kinds`` (strings such as "real: training instrument", "generated: candidate");
    ``highlight``: indices circled and numbered; ``axis``: the projection's name on the axes. Returns the Axes."""
    from .latent_maps import latent_map

    points = np.asarray(points)
    ax = latent_map(points, np.asarray(kinds, dtype=object), ax=ax, title=title, s=s, xlabel=f"{axis} 1",
                    ylabel=f"{axis} 2")
    for i in highlight:
        ax.scatter(*points[i], s=90, facecolors="none", edgecolors="k", linewidths=1.2, zorder=4)
        ax.annotate(str(i), points[i], fontsize=8, xytext=(5, 5), textcoords="offset points")
    return ax


class NoveltyMapPlayer:
    """Choose a point of a novelty map by index and hear it: a widget with an index box, the
    map with that point circled, its spectrogram, its verdict and a player.

    Args:
        points: ``[N, 2]`` map coordinates.
        kinds: ``[N]`` colour labels of the map.
        magnitudes: ``[N, F, T]`` the sounds (real or generated), in the transform's magnitudes.
        transform: the audio transform (spectrogram axes, Griffin-Lim).
        n_samples: length of a note in samples.
        captions: ``[N]`` one line per point (source, judged class, novelty).
    """

    def __init__(self, points, kinds, magnitudes, transform, n_samples: int, captions: Sequence[str],
                 n_iter: int | None = None, axis: str = "UMAP"):
        if not (len(points) == len(kinds) == len(magnitudes) == len(captions)):
            raise ValueError(f"points ({len(points)}), kinds ({len(kinds)}), magnitudes ({len(magnitudes)}) and "
                             f"captions ({len(captions)}) must have one entry per point")
        self.points, self.kinds, self.magnitudes = np.asarray(points), np.asarray(kinds, dtype=object), magnitudes
        self.transform, self.n_samples, self.captions, self.n_iter = transform, int(n_samples), list(captions), n_iter
        self.axis = axis

    def figure(self, index: int):
        """The map with ``index`` circled, beside its spectrogram. Returns the figure."""
        import matplotlib.pyplot as plt

        from .audio import plot_spectrogram

        if not 0 <= index < len(self.points):
            raise IndexError(f"index={index}: expected 0 <= index < {len(self.points)}")
        fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.25, 1]})
        novelty_map(self.points, self.kinds, ax=a, highlight=[index], s=4, axis=self.axis)
        freqs = np.asarray(self.transform.frequencies())
        keep = freqs >= 30.0
        mag = np.asarray(self.magnitudes[index])
        plot_spectrogram(mag[keep], freqs[keep], self.transform.frame_times(self.n_samples)[:mag.shape[-1]], ax=b,
                         title=f"{index}: {self.captions[index]}")
        b.title.set_fontsize(9)
        fig.tight_layout()
        return fig

    def player(self, index: int):
        from .audio import audio_player

        wave = self.transform.synthesize(self.magnitudes[index], n_iter=self.n_iter, length=self.n_samples)
        return audio_player(wave, self.transform.sample_rate)

    def widget(self, index: int = 0):
        """An ipywidgets box: an index box, then the figure and the player of the chosen point."""
        import ipywidgets as W
        import matplotlib.pyplot as plt
        from IPython.display import display

        box = W.BoundedIntText(value=index, min=0, max=len(self.points) - 1, description="point")
        out = W.Output()

        def show(change=None):
            out.clear_output(wait=True)
            with out:
                fig = self.figure(box.value)
                plt.show(fig)
                display(self.player(box.value))

        box.observe(show, names="value")
        show()
        return W.VBox([box, out])


def plot_coverage_curves(points, names: Sequence[str], tolerance: float | None = None, tolerances=None, ax=None,
                         title: str = "Coverage against the tolerance",
                         xlabel: str = "tolerance: RMSE per example in the model's data space"):
    """For each named :class:`~helpers.evaluation.tradeoff.TradeoffPoint`, the share of held-out
    examples covered as a function of the tolerance, after latent optimisation (solid) and through
    the encoder (dashed, same colour); ``tolerance``: a vertical line at the one used. Returns the Axes."""
    import matplotlib.pyplot as plt

    by_name = {p.name: p for p in points}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ValueError(f"names: no point called {missing}")
    if tolerances is None:
        top = max(float(np.max(by_name[n].err_encoder)) for n in names)
        tolerances = np.linspace(0.0, top * 1.02, 60)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.6))
    for name in dict.fromkeys(names):
        p = by_name[name]
        line, = ax.plot(tolerances, [(p.err_optimised <= t).mean() for t in tolerances],
                        label=f"{name}, latent optimisation")
        ax.plot(tolerances, [(p.err_encoder <= t).mean() for t in tolerances], "--", color=line.get_color(),
                label=f"{name}, encoder")
    if tolerance is not None:
        ax.axvline(tolerance, color="k", ls=":", lw=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share of held-out examples covered")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax
