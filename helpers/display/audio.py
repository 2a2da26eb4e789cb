"""Spectrogram plots and inline audio players for the notebooks.

- :func:`plot_spectrogram` draws a magnitude in dB on a log-frequency axis labelled in Hz or in
  note names; it takes the bin frequencies, so STFT (linear bins) and NSGT (geometric bins)
  look alike.
- :func:`plot_transform` analyses a waveform with an :class:`~helpers.audio.AudioTransform` and
  plots it with the transform's own axes.
- :func:`audio_player` wraps ``IPython.display.Audio``: non-finite samples raise, the peak is
  normalised without dividing by zero on silence, and the player does not rescale again.
  :func:`true_level_players` plays several sounds at their true relative level (one common
  gain, only to keep the loudest from clipping), so that dynamics can be heard.
- :func:`show_sounds`: a row of spectrograms (dB colour scale) with a player under each.
"""

from __future__ import annotations

import numpy as np

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def hz_to_midi(freq) -> np.ndarray:
    """MIDI note number (A4 = 440 Hz = 69), fractional."""
    return 69 + 12 * np.log2(np.asarray(freq, dtype=float) / 440.0)


def note_name(freq: float) -> str:
    """Name of the nearest equal-tempered note, e.g. ``note_name(261.6) == "C4"``."""
    midi = int(round(float(hz_to_midi(freq))))
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def normalize_peak(wave, peak: float = 0.9) -> np.ndarray:
    """float32 copy scaled so that ``max |wave| == peak``; silence stays zeros. ``ValueError`` on
    non-finite samples (they would play as noise or crash the player)."""
    wave = _to_numpy(wave).astype(np.float32)
    if not np.isfinite(wave).all():
        raise ValueError("wave contains non-finite samples (NaN or Inf)")
    top = float(np.abs(wave).max()) if wave.size else 0.0
    if top > 0:
        wave = wave * (peak / top)
    return wave


#: the caption to show under peak-normalised players
NORMALISED_CAPTION = ("Every player is peak-normalised (each sound scaled to the same peak), so loudness is not "
                      "comparable between players; the spectrograms keep the true levels.")


def audio_player(wave, sample_rate: int, normalize: bool = True, peak: float = 0.9):
    """``IPython.display.Audio`` for a mono ``(n,)`` or ``(channels, n)`` waveform.

    ``normalize=True`` scales the peak to ``peak`` (silence plays as silence); ``False`` plays
    the samples as they are, clipped to [-1, 1].
    """
    from IPython.display import Audio

    wave = np.squeeze(_to_numpy(wave))
    if wave.ndim not in (1, 2):
        raise ValueError(f"wave must be (n,) or (channels, n), got shape {wave.shape}")
    wave = normalize_peak(wave, peak) if normalize else _to_numpy(wave).astype(np.float32)
    if not np.isfinite(wave).all():
        raise ValueError("wave contains non-finite samples (NaN or Inf)")
    return Audio(np.clip(wave, -1.0, 1.0), rate=int(sample_rate), normalize=False)


def true_level_players(waves, sample_rate: int, limit: float = 0.99):
    """Players for several sounds at their true relative levels: no normalisation, one common
    gain for all of them, and that gain only below 0 dB when the loudest peak would exceed
    ``limit`` (a clip guard). Returns ``(players, gain_db)``."""
    arrays = [np.squeeze(_to_numpy(w)).astype(np.float32) for w in waves]
    for a in arrays:
        if not np.isfinite(a).all():
            raise ValueError("wave contains non-finite samples (NaN or Inf)")
    top = max((float(np.abs(a).max()) for a in arrays if a.size), default=0.0)
    gain = min(1.0, limit / top) if top > 0 else 1.0
    players = [audio_player(a * gain, sample_rate, normalize=False) for a in arrays]
    return players, float(20 * np.log10(gain))


def _edges(centres: np.ndarray, log: bool) -> np.ndarray:
    """Bin edges between centres (geometric means on a log axis), extrapolated at the ends."""
    c = np.asarray(centres, dtype=float)
    if len(c) == 1:
        return np.array([c[0] * 0.5, c[0] * 1.5]) if log else np.array([c[0] - 0.5, c[0] + 0.5])
    if log:
        c = c.copy()
        if c[0] <= 0:  # DC bin: put it half a step below the first positive bin
            c[0] = c[1] / (c[2] / c[1]) if len(c) > 2 and c[1] > 0 else c[1] / 2
        mid = np.sqrt(c[:-1] * c[1:])
        first, last = c[0] ** 2 / mid[0], c[-1] ** 2 / mid[-1]
    else:
        mid = (c[:-1] + c[1:]) / 2
        first, last = 2 * c[0] - mid[0], 2 * c[-1] - mid[-1]
    return np.concatenate(([first], mid, [last]))


def plot_spectrogram(magnitude, frequencies=None, times=None, ax=None, db: bool = True,
                     db_range: float = 80.0, freq_scale: str = "log", freq_labels: str = "hz",
                     title: str | None = None, cmap: str = "magma", colorbar: bool = True):
    """Plot a ``(freq, time)`` magnitude; returns the matplotlib ``Axes``.

    Args:
        magnitude: 2-D array or tensor (a batch of one is squeezed).
        frequencies: centre of every bin in Hz (``transform.frequencies()``); default bin index.
        times: time of every frame in s (``transform.frame_times(n)``); default frame index.
        db: show ``20 log10`` of the magnitude, ``db_range`` dB below its maximum (a silent
            input shows a flat floor instead of NaN).
        freq_scale: "log" or "linear" frequency axis.
        freq_labels: "hz" or "note" (C1, C2, ... ticks).
    """
    import matplotlib.pyplot as plt

    mag = np.squeeze(_to_numpy(magnitude)).astype(np.float64)
    if mag.ndim != 2:
        raise ValueError(f"magnitude must be 2-D (freq, time), got shape {mag.shape}")
    if not np.isfinite(mag).all():
        raise ValueError("magnitude contains non-finite values (NaN or Inf)")
    if freq_scale not in ("log", "linear"):
        raise ValueError(f"freq_scale must be 'log' or 'linear', got {freq_scale!r}")
    if freq_labels not in ("hz", "note"):
        raise ValueError(f"freq_labels must be 'hz' or 'note', got {freq_labels!r}")
    n_freq, n_time = mag.shape
    if db:
        floor = max(float(np.abs(mag).max()), 1e-12) * 10 ** (-db_range / 20)
        image = 20 * np.log10(np.maximum(np.abs(mag), floor))
    else:
        image = mag
    have_hz = frequencies is not None
    freqs = np.asarray(frequencies, dtype=float) if have_hz else np.arange(n_freq, dtype=float)
    if len(freqs) != n_freq:
        raise ValueError(f"{len(freqs)} frequencies for {n_freq} bins")
    t = np.asarray(times, dtype=float) if times is not None else np.arange(n_time, dtype=float)
    if len(t) != n_time:
        raise ValueError(f"{len(t)} times for {n_time} frames")
    log_axis = freq_scale == "log" and have_hz
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    mesh = ax.pcolormesh(_edges(t, False), _edges(freqs, log_axis), image, cmap=cmap,
                         shading="flat", rasterized=True)
    if log_axis:
        ax.set_yscale("log")
    if have_hz and freq_labels == "note":
        lo, hi = ax.get_ylim()
        octaves = [16.352 * 2 ** k for k in range(11)]  # C0 .. C10
        ticks = [f for f in octaves if lo <= f <= hi]
        ax.set_yticks(ticks, [note_name(f) for f in ticks])
        ax.minorticks_off()
        ax.set_ylabel("note")
    else:
        ax.set_ylabel("frequency (Hz)" if have_hz else "bin")
    ax.set_xlabel("time (s)" if times is not None else "frame")
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label="dB" if db else "magnitude")
    return ax


def plot_transform(transform, wave, ax=None, fmin: float | None = None, **kwargs):
    """Analyse one waveform ``(n,)`` with ``transform`` and plot it with its Hz and time axes
    (from ``fmin`` Hz up to Nyquist when given: below some 30 Hz there are no partials, only
    the lowest bins)."""
    wave = _to_numpy(wave).astype(np.float32)
    if wave.ndim != 1:
        raise ValueError(f"wave must be 1-D, got shape {wave.shape}")
    magnitude = transform.analyze(wave)
    ax = plot_spectrogram(magnitude, transform.frequencies(), transform.frame_times(len(wave)),
                          ax=ax, **kwargs)
    if fmin is not None:
        ax.set_ylim(fmin, transform.sample_rate / 2)
    return ax


def show_sounds(transform, sounds, sample_rate: int | None = None, fmin: float | None = 30.0,
                width: float = 4.2, height: float = 3.0, players: bool = True, normalize: bool = True):
    """A row of spectrograms, one per ``(title, wave)`` of ``sounds``, each with its dB colour
    bar, then (with ``players``) a labelled player per sound (peak-normalised unless
    ``normalize=False``: see :func:`true_level_players`). Displays and returns the figure."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    sounds = list(sounds)
    if not sounds:
        raise ValueError("no sounds to show")
    sample_rate = int(sample_rate or transform.sample_rate)
    fig, axes = plt.subplots(1, len(sounds), figsize=(width * len(sounds), height), squeeze=False)
    for ax, (title, wave) in zip(axes[0], sounds):
        plot_transform(transform, wave, ax=ax, fmin=fmin, title=title)
    fig.tight_layout()
    display(fig)
    plt.close(fig)
    if players:
        waves = [w for _, w in sounds]
        found = true_level_players(waves, sample_rate)[0] if not normalize else \
            [audio_player(w, sample_rate) for w in waves]
        for (title, _), player in zip(sounds, found):
            display(Markdown(f"{title}:"), player)
    return fig


def plot_pitch_ranges(labels, ax=None, colours=None):
    """One horizontal bar per (split, instrument) from its lowest to its highest MIDI pitch,
    octaves marked C0..C8; ``labels`` needs the columns split, instrument and pitch."""
    import matplotlib.pyplot as plt

    ranges = labels.groupby(["split", "instrument"]).pitch.agg(["min", "max"]).reset_index()
    ranges = ranges.sort_values(["split", "min"], ascending=[False, True]).reset_index(drop=True)
    splits = list(dict.fromkeys(ranges["split"]))
    colours = colours or dict(zip(splits, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.32 * len(ranges) + 1.2))
    for i, row in ranges.iterrows():
        ax.plot([row["min"], row["max"]], [i, i], lw=6, solid_capstyle="butt", color=colours[row["split"]])
    ax.set_yticks(range(len(ranges)), [f"{r.instrument} ({r.split})" for r in ranges.itertuples()])
    octaves = np.arange(12, 109, 12)
    ax.set_xticks(octaves, [f"C{o // 12 - 1}\n{o}" for o in octaves])
    ax.set_xlabel("pitch (note name and MIDI number)")
    handles = [plt.Line2D([], [], lw=6, color=colours[s], label=s) for s in splits]
    ax.legend(handles=handles, title="split", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return ax


def legend_outside(ax, **kwargs):
    """Move an Axes' legend to the right of the plot, off the data."""
    legend = ax.get_legend()
    if legend is None:
        return None
    handles, texts = legend.legend_handles, [t.get_text() for t in legend.get_texts()]
    title = legend.get_title().get_text() or None
    return ax.legend(handles, texts, title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                     frameon=False, **{"fontsize": "small", **kwargs})


def midi_name(midi: float) -> str:
    """Name of the nearest equal-tempered note of a MIDI number, e.g. ``midi_name(67) == "G4"``;
    "?" for NaN (no pitch found)."""
    if midi is None or not np.isfinite(midi):
        return "?"
    m = int(round(float(midi)))
    return f"{NOTE_NAMES[m % 12]}{m // 12 - 1}"


def show_path(wave, transform, title: str, fmin: float | None = 30.0) -> None:
    """Display one wide spectrogram of a decoded latent path (dB colour bar) and its player
    (returns nothing, so that a cell ending with it shows the figure once)."""
    show_sounds(transform, [(title, wave)], fmin=fmin, width=10, height=3)
