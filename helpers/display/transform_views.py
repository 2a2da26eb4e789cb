"""Figures and players of notebook 02: the same notes through the STFT and the NSGT, the quality
of phase reconstruction against iterations, and the original beside its reconstructions. Every
spectrogram has its colour bar (dB); legends sit outside the data."""

from __future__ import annotations

import numpy as np

from .audio import audio_player, plot_transform


def plot_views(stft, nsgt, waves, names, fmin: float = 40.0):
    """Top row: STFT magnitude (log-frequency axis in Hz, from ``fmin``); bottom row: NSGT
    magnitude labelled in note names; one column per wave. Returns the figure."""
    import matplotlib.pyplot as plt

    if len(waves) != len(names):
        raise ValueError(f"{len(waves)} waves but {len(names)} names")
    fig, axes = plt.subplots(2, len(waves), figsize=(4.8 * len(waves), 6.8), squeeze=False)
    for j, (wave, name) in enumerate(zip(waves, names)):
        plot_transform(stft, wave, ax=axes[0, j], colorbar=True, title=f"{name}: STFT")
        axes[0, j].set_ylim(fmin, stft.sample_rate / 2)
        plot_transform(nsgt, wave, ax=axes[1, j], colorbar=True, freq_labels="note", title=f"{name}: NSGT")
    fig.tight_layout()
    return fig


def plot_phase_curves(table):
    """Spectral convergence against Griffin-Lim iterations (log-log), per transform, in the common
    STFT domain (solid) and in the transform's own domain (dashed). Returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    for label, marker in zip(table["transform"].unique(), "osd^v"):
        part = table[table["transform"] == label]
        ax.plot(part.iterations, part["SC, common STFT domain"], marker=marker, label=f"{label}, common STFT domain")
        ax.plot(part.iterations, part["SC, own domain"], marker=marker, ls="--", label=f"{label}, own domain")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set(xlabel="Griffin-Lim iterations (log scale)", ylabel="spectral convergence (log scale, lower is better)",
           title="Phase reconstruction quality, mean over the notes")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def plot_versions(stft, versions: dict, name: str, fmin: float = 40.0):
    """One STFT spectrogram (with colour bar) per version of a note, e.g. ``{"original": x,
    "STFT + Griffin-Lim": y}``, on the same dB scale (the loudest version's maximum on top)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(versions), figsize=(4.9 * len(versions), 3.6), squeeze=False)
    top = max(20 * np.log10(max(float(stft.analyze(np.asarray(w, dtype=np.float32)).abs().max()), 1e-12))
              for w in versions.values())
    for ax, (title, wave) in zip(axes[0], versions.items()):
        plot_transform(stft, np.asarray(wave, dtype=np.float32), ax=ax, colorbar=True, title=f"{name}: {title}")
        ax.collections[0].set_clim(top - 80, top)
        ax.set_ylim(fmin, stft.sample_rate / 2)
    fig.tight_layout()
    return fig


def true_level_players(versions: dict, sample_rate: int) -> list:
    """``[(label, peak in dBFS, player)]``: players at the true level of every version (no
    normalisation; samples beyond +-1 would be clipped, which the peak level shows)."""
    out = []
    for label, wave in versions.items():
        wave = np.asarray(wave, dtype=np.float32)
        peak = float(np.abs(wave).max())
        out.append((label, 20 * np.log10(peak) if peak > 0 else -np.inf,
                    audio_player(wave, sample_rate, normalize=False)))
    return out


def true_level_table(versions: dict, sample_rate: int):
    """An HTML table with one row per version: its name, its peak level in dBFS and a player at
    its true level (see :func:`true_level_players`), so that each player is labelled."""
    from html import escape

    from IPython.display import HTML

    rows = "".join(f"<tr><td style='text-align:left'>{escape(str(label))}</td><td>{peak:.1f} dBFS</td>"
                   f"<td>{player._repr_html_()}</td></tr>"
                   for label, peak, player in true_level_players(versions, sample_rate))
    return HTML("<table><thead><tr><th>version</th><th>peak level</th><th>player (not normalised)</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>")
