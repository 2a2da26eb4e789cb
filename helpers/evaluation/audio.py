"""Held-out reconstruction quality of the audio VAEs, on magnitudes and on sound.

For every held-out note with magnitude ``S`` (the transform's analysis of the recording):

- on magnitudes: ``S_hat``, the decoded posterior mean, against ``S``;
- after phase reconstruction: ``|analysis(synthesize(S_hat))|`` against ``S``, i.e. what is
  heard, analysed again by the same transform;
- two floors that no model can beat: the phase reconstruction of ``S`` itself
  (``oracle_*``), and for the note model the time pooling of ``S`` alone (``pool_*``).

Measures (:func:`magnitude_metrics`): spectral convergence ``||S - S'||_F / ||S||_F``
(Sturmel & Daudet, 2011) and the log-spectral distance in dB (Gray & Markel, 1976) over an
80 dB range below each note's peak (both magnitudes are floored there, so that the inaudible
tail of the release does not dominate the mean).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from helpers.audio.datasets import pool_time, unpool_time
from helpers.audio.metrics import log_spectral_distance, spectral_convergence


def magnitude_metrics(reference: torch.Tensor, estimate: torch.Tensor,
                      dynamic_range_db: float = 80.0) -> dict[str, torch.Tensor]:
    """Per-note spectral convergence and log-spectral distance (dB) of ``[..., F, T]`` magnitudes.

    The log-spectral distance divides both magnitudes by the reference's peak and floors the
    power ``dynamic_range_db`` below it; a perfect estimate scores 0 on both.
    """
    reference = torch.as_tensor(reference, dtype=torch.float64)
    estimate = torch.as_tensor(estimate, dtype=torch.float64)
    peak = reference.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    lsd = log_spectral_distance(reference / peak, estimate / peak, power_floor=10 ** (-dynamic_range_db / 10))
    return {"sc": spectral_convergence(reference, estimate), "lsd": lsd}


def resynthesize(transform, magnitude: torch.Tensor, n_iter: int | None = None, batch_size: int = 16,
                 length: int | None = None, progress: bool = False, desc: str = "phase reconstruction") -> torch.Tensor:
    """Phase reconstruction of ``[N, F, T]`` magnitudes, ``batch_size`` notes at a time: ``[N, n]``
    (a progress bar over the notes with ``progress=True``)."""
    waves = []
    with tqdm(total=len(magnitude), desc=desc, unit="note", disable=not progress, leave=False) as bar:
        for i in range(0, len(magnitude), batch_size):
            waves.append(transform.synthesize(magnitude[i:i + batch_size], n_iter=n_iter, length=length))
            bar.update(len(waves[-1]))
    return torch.cat(waves)


def _reanalysed(transform, magnitude: torch.Tensor, n_iter: int | None, batch_size: int,
                length: int, progress: bool = False, desc: str = "phase reconstruction") -> torch.Tensor:
    wave = resynthesize(transform, magnitude, n_iter, batch_size, length, progress=progress, desc=desc)
    return transform.analyze(wave)


def common_transform():
    """The one STFT domain every audio model is scored in after phase reconstruction (the default
    :class:`~helpers.audio.transform.STFTConfig`: 22050 Hz, as in notebook 02's comparisons)."""
    from helpers.audio.transform import STFTConfig, build_transform

    return build_transform(STFTConfig())


@torch.no_grad()
def evaluate_reconstructions(model, magnitude: torch.Tensor, n_iter: int | None = 32, batch_size: int = 16,
                             audio: bool = True, oracle: bool = True,
                             dynamic_range_db: float = 80.0, progress: bool = False,
                             waves: torch.Tensor | None = None, common=None) -> pd.DataFrame:
    """One row per note: ``mag_sc``, ``mag_lsd`` (decoded magnitudes), ``audio_sc``, ``audio_lsd``
    (decoded, phase-reconstructed with ``n_iter`` Griffin-Lim iterations and analysed again),
    and the floors ``oracle_sc``/``oracle_lsd`` (the original magnitude through the same phase
    reconstruction) and, for the note model, ``pool_sc``/``pool_lsd`` (time pooling alone).

    ``model`` is an :class:`~helpers.models.audio.AudioVAE`; ``magnitude`` ``[N, F, T]`` are
    full-resolution magnitudes of whole notes (e.g. ``AudioData.magnitudes("val")``).

    With the recordings ``waves [N, n]`` and a ``common`` transform (:func:`common_transform`),
    also ``common_sc``/``common_lsd``: the phase-reconstructed sound and the recording both
    analysed by that one transform, so that models over different transforms compare on one
    yardstick (and ``common_oracle_*``, the original magnitude's phase reconstruction there).
    """
    magnitude = torch.as_tensor(magnitude, dtype=torch.float32)
    transform = model.transform
    length = model.n_samples
    rows: dict[str, torch.Tensor] = {}

    def add_to(prefix, reference, estimate):
        for k, v in magnitude_metrics(reference, estimate, dynamic_range_db).items():
            rows[f"{prefix}_{k}"] = v

    def add(prefix, estimate):
        add_to(prefix, magnitude, estimate)

    recon = torch.cat([model.reconstruct(magnitude[i:i + 64]) for i in range(0, len(magnitude), 64)])
    add("mag", recon)
    if model.kind == "note" and model.time_pool > 1:
        scaled = transform.scale(magnitude)
        add("pool", transform.unscale(unpool_time(pool_time(scaled, model.time_pool), magnitude.shape[-1])))
    if audio:
        both = waves is not None and common is not None
        if both:
            waves = torch.as_tensor(waves, dtype=torch.float32)
            if len(waves) != len(magnitude):
                raise ValueError(f"waves: {len(waves)} recordings for {len(magnitude)} magnitudes")
            reference = common.analyze(waves[..., :length])
        wave = resynthesize(transform, recon, n_iter, batch_size, length, progress=progress,
                            desc="decoded notes to sound")
        add("audio", transform.analyze(wave))
        if both:
            add_to("common", reference, common.analyze(wave))
        if oracle:
            wave = resynthesize(transform, magnitude, n_iter, batch_size, length, progress=progress,
                                desc="original notes to sound")
            add("oracle", transform.analyze(wave))
            if both:
                add_to("common_oracle", reference, common.analyze(wave))
    return pd.DataFrame({k: v.numpy().astype(np.float64) for k, v in rows.items()})


def summarize(table: pd.DataFrame) -> dict[str, float]:
    """Mean of every column of :func:`evaluate_reconstructions`."""
    return {k: float(v) for k, v in table.mean().items()}


def error_by_level(reference: torch.Tensor, estimate: torch.Tensor, loud_db: float = -30.0,
                   quiet_db: float = -60.0, dynamic_range_db: float = 80.0) -> dict[str, float]:
    """Mean absolute level error (dB) in the loud bins of the reference (within ``-loud_db`` dB of
    its note's peak: the partials) and in its quiet bins (more than ``-quiet_db`` dB below: the
    floor between and above the partials), with the share of bins of each kind.

    Shows where a model spends its accuracy: a squared error (Gaussian) weighs the few large
    errors on partials, an absolute error (Laplace) the many small ones on the floor.
    """
    reference = torch.as_tensor(reference, dtype=torch.float64)
    estimate = torch.as_tensor(estimate, dtype=torch.float64)
    peak = reference.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    floor = 10 ** (-dynamic_range_db / 20)
    ref_db = 20 * torch.log10((reference / peak).clamp_min(floor))
    est_db = 20 * torch.log10((estimate / peak).clamp_min(floor))
    err = (ref_db - est_db).abs()
    loud, quiet = ref_db > loud_db, ref_db < quiet_db
    return {"loud_err_db": float(err[loud].mean()), "quiet_err_db": float(err[quiet].mean()),
            "loud_share": float(loud.double().mean()), "quiet_share": float(quiet.double().mean()),
            "loud_db": float(loud_db), "quiet_db": float(quiet_db)}


def spread_rows(n: int, k: int | None) -> np.ndarray:
    """``k`` row indices evenly spread over ``range(n)`` (all of them when ``k`` is None or >= n)."""
    if k is None or k >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def evaluate_run(model, magnitude: torch.Tensor, n_audio: int | None = None, n_iter: int | None = 32,
                 batch_size: int = 16, progress: bool = False, waves: torch.Tensor | None = None,
                 common=None) -> dict[str, float]:
    """Mean held-out scores of a model: magnitude scores over every note of ``magnitude``; sound
    scores (and their oracle floor) over ``n_audio`` of them, evenly spread (all when None); with
    the recordings ``waves`` (one per note of ``magnitude``) and a ``common`` transform, also the
    scores of the sound in that common domain (see :func:`evaluate_reconstructions`)."""
    out = summarize(evaluate_reconstructions(model, magnitude, audio=False))
    rows = spread_rows(len(magnitude), n_audio)
    picked = torch.from_numpy(rows)
    table = evaluate_reconstructions(model, magnitude[picked], n_iter=n_iter, batch_size=batch_size,
                                     progress=progress, waves=None if waves is None else waves[picked], common=common)
    out.update({k: v for k, v in summarize(table).items() if k.startswith(("audio", "oracle", "common"))})
    out["n_notes"], out["n_audio_notes"] = len(magnitude), len(rows)
    return out


# --------------------------------------------------------------------------- recognisability
#
# Spectral convergence weighs every partial by its energy, so a reconstruction can score poorly
# and still be heard as the right note on the right instrument. The two measures below ask that
# question directly: is the pitch the same, and does a classifier trained on real notes name the
# same instrument?


def _pitch_salience(magnitude: torch.Tensor, frequencies, fmin: float, fmax: float, n_harmonics: int,
                    decay: float, range_db: float, step: float, frames: int | None):
    """Subharmonic-summation salience ``[N, candidates]`` of every candidate f0 (a MIDI grid), the
    grid, and which notes are silent (see :func:`estimate_pitch`)."""
    magnitude = torch.as_tensor(magnitude, dtype=torch.float64)
    if magnitude.ndim != 3:
        raise ValueError(f"magnitude must be [N, F, T], got shape {tuple(magnitude.shape)}")
    freqs = np.asarray(frequencies, dtype=np.float64)
    if freqs.ndim != 1 or len(freqs) != magnitude.shape[1] or np.any(np.diff(freqs) <= 0):
        raise ValueError(f"frequencies must be {magnitude.shape[1]} ascending bin centres in Hz")
    if not 0 < fmin < fmax:
        raise ValueError(f"need 0 < fmin < fmax, got fmin={fmin}, fmax={fmax}")
    spec = magnitude[..., :frames].mean(-1).numpy()
    peak = spec.max(-1, keepdims=True)
    silent = peak[:, 0] <= 0
    spec = np.log1p(spec / np.where(silent[:, None], 1.0, peak * 10 ** (-range_db / 20)))
    midi = np.arange(69 + 12 * np.log2(fmin / 440), 69 + 12 * np.log2(fmax / 440), step)
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    salience = np.zeros((len(spec), len(f0)))
    for h in range(1, n_harmonics + 1):
        inside = h * f0 <= freqs[-1]
        if inside.any():
            salience[:, inside] += decay ** (h - 1) * np.stack(
                [np.interp(h * f0[inside], freqs, s) for s in spec])
    return salience, midi, silent


def estimate_pitch(magnitude: torch.Tensor, frequencies, fmin: float = 27.5, fmax: float = 2200.0,
                   n_harmonics: int = 6, decay: float = 0.84, range_db: float = 60.0,
                   step: float = 0.125, frames: int | None = None) -> np.ndarray:
    """Pitch of every note of ``[N, F, T]`` magnitudes as a (fractional) MIDI number, by
    subharmonic summation (Hermes, 1988) on the time-averaged spectrum.

    The spectrum (the first ``frames`` frames, default all) is averaged over time and compressed
    as ``log1p(A / (peak * 10^(-range_db/20)))``, so that weak fundamentals count. Every
    candidate f0 on a grid of ``step`` semitones between ``fmin`` and ``fmax`` scores the sum of
    that spectrum at its first ``n_harmonics`` harmonics (linearly interpolated between bin
    centres ``frequencies`` in Hz, ascending), weighted ``decay ** (h - 1)``; the best wins.
    A silent note gives NaN. On the rendered held-out notes it agrees with the labelled pitch
    within half a semitone for 97% of them (the misses are low bassoon and trombone notes read an
    octave or a twelfth up).
    """
    salience, midi, silent = _pitch_salience(magnitude, frequencies, fmin, fmax, n_harmonics, decay, range_db,
                                             step, frames)
    out = midi[salience.argmax(-1)].astype(np.float64)
    out[silent] = np.nan
    return out


def pitch_clarity(magnitude: torch.Tensor, frequencies, fmin: float = 27.5, fmax: float = 2200.0,
                  n_harmonics: int = 6, decay: float = 0.84, range_db: float = 60.0, step: float = 0.125,
                  frames: int | None = None) -> np.ndarray:
    """How clearly each note of ``[N, F, T]`` magnitudes has one pitch: the best subharmonic-summation
    salience of :func:`estimate_pitch` (Hermes, 1988) over the median salience of all candidate
    f0s. A harmonic note stands far above the other candidates; a flat (noise) spectrum scores
    about 1. A silent note gives NaN."""
    salience, _, silent = _pitch_salience(magnitude, frequencies, fmin, fmax, n_harmonics, decay, range_db,
                                          step, frames)
    out = salience.max(-1) / np.maximum(np.median(salience, -1), 1e-12)
    out[silent] = np.nan
    return out


def segment_features(scaled: torch.Tensor, bounds: tuple[float, ...] = (0.0, 0.125, 0.75, 1.0)) -> np.ndarray:
    """Per-note features ``[N, F * segments]``: the model-scaled spectrum averaged over each time
    segment (default attack, sustain, release of a 1-s note)."""
    scaled = torch.as_tensor(scaled, dtype=torch.float32)
    T = scaled.shape[-1]
    edges = [min(T - 1, int(round(b * T))) for b in bounds[:-1]] + [T]
    return torch.cat([scaled[..., a:max(b, a + 1)].mean(-1) for a, b in zip(edges[:-1], edges[1:])], -1).numpy()


class InstrumentProbe:
    """A linear classifier of the instrument of a note, trained on real notes' magnitudes.

    Features: :func:`segment_features` of the transform's model scaling, standardised, then a
    multinomial logistic regression (scikit-learn). It names the instrument of 99-100% of the
    held-out rendered notes; applied to decoded notes it tells whether the timbre survived.

    >>> probe = InstrumentProbe(transform).fit(train_magnitudes, train_instruments)
    >>> probe.accuracy(decoded_magnitudes, val_instruments)
    """

    def __init__(self, transform, C: float = 0.1, max_iter: int = 2000):
        self.transform, self.C, self.max_iter = transform, C, max_iter
        self.classes_: np.ndarray | None = None
        self._model = None

    def features(self, magnitude: torch.Tensor) -> np.ndarray:
        return segment_features(self.transform.scale(torch.as_tensor(magnitude, dtype=torch.float32)))

    def fit(self, magnitude: torch.Tensor, labels) -> "InstrumentProbe":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        labels = np.asarray(labels)
        if len(labels) != len(magnitude):
            raise ValueError(f"{len(magnitude)} magnitudes but {len(labels)} labels")
        if len(np.unique(labels)) < 2:
            raise ValueError("an instrument probe needs notes of at least two instruments")
        self._model = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=self.max_iter))
        self._model.fit(self.features(magnitude), labels)
        self.classes_ = self._model.classes_
        return self

    def predict(self, magnitude: torch.Tensor) -> np.ndarray:
        if self._model is None:
            raise RuntimeError("call fit() before predict()")
        return self._model.predict(self.features(magnitude))

    def accuracy(self, magnitude: torch.Tensor, labels) -> float:
        return float(np.mean(self.predict(magnitude) == np.asarray(labels)))


@torch.no_grad()
def note_recognition(model, magnitude: torch.Tensor, probe: InstrumentProbe, tolerance: float = 0.5,
                     batch_size: int = 64, n_iter: int | None = None, progress: bool = False) -> pd.DataFrame:
    """One row per note of ``magnitude [N, F, T]``: what the reconstruction by ``model`` (an
    :class:`~helpers.models.audio.AudioVAE`) keeps of it.

    Columns: ``pitch_original`` and ``pitch_recon`` (:func:`estimate_pitch` over the held part,
    the first three quarters of the frames), ``pitch_kept`` (within ``tolerance`` semitones),
    ``heard_as_original`` and ``heard_as`` (the ``probe``'s instrument for the note and for its
    reconstruction), and ``sc`` (spectral convergence of the decoded magnitude).

    With ``n_iter``, the same questions asked of the sound: each reconstruction is turned into
    a waveform (``n_iter`` Griffin-Lim iterations) and analysed again by the model's transform,
    what a listener gets; columns ``pitch_sound``, ``pitch_kept_sound`` and ``heard_as_sound``.
    """
    magnitude = torch.as_tensor(magnitude, dtype=torch.float32)
    recon = torch.cat([model.reconstruct(magnitude[i:i + batch_size]) for i in range(0, len(magnitude), batch_size)])
    freqs = model.transform.frequencies()
    frames = max(1, magnitude.shape[-1] * 3 // 4)  # the held part, before the release
    p_orig = estimate_pitch(magnitude, freqs, frames=frames)
    p_rec = estimate_pitch(recon, freqs, frames=frames)
    table = pd.DataFrame({"pitch_original": p_orig, "pitch_recon": p_rec,
                          "pitch_kept": np.abs(p_rec - p_orig) <= tolerance,
                          "heard_as_original": probe.predict(magnitude), "heard_as": probe.predict(recon),
                          "sc": magnitude_metrics(magnitude, recon)["sc"].numpy()})
    if n_iter is not None:
        sound = _reanalysed(model.transform, recon, n_iter, 16, model.n_samples, progress=progress,
                            desc="decoded notes to sound")[..., :magnitude.shape[-1]]
        p_sound = estimate_pitch(sound, freqs, frames=frames)
        table["pitch_sound"] = p_sound
        table["pitch_kept_sound"] = np.abs(p_sound - p_orig) <= tolerance
        table["heard_as_sound"] = probe.predict(sound)
    return table


def recognisability(model, magnitude: torch.Tensor, pitches, instruments, probe: InstrumentProbe,
                    tolerance: float = 0.5, batch_size: int = 64, n_iter: int | None = None,
                    n_sound: int | None = None) -> dict[str, float]:
    """Are decoded notes heard as the same pitch on the same instrument?

    ``model``: an :class:`~helpers.models.audio.AudioVAE`; ``magnitude`` ``[N, F, T]`` held-out
    notes with their labelled MIDI ``pitches`` and ``instruments``; ``probe`` fitted on training
    notes. Returns the share of notes whose reconstruction's estimated pitch is within
    ``tolerance`` semitones of the original's (``pitch_agreement``), the estimator's own accuracy
    on the originals against the labels (``pitch_acc_original``, its ceiling), and the probe's
    accuracy on reconstructions and on the originals (``instrument_acc_recon``,
    ``instrument_acc_original``). With ``n_iter``, the same of the sound after phase
    reconstruction (``pitch_agreement_sound``, ``instrument_acc_sound``), over ``n_sound`` of
    the notes evenly spread (all when None; ``n_sound`` in the result). Per note:
    :func:`note_recognition`.
    """
    magnitude = torch.as_tensor(magnitude, dtype=torch.float32)
    table = note_recognition(model, magnitude, probe, tolerance, batch_size)
    pitches, instruments = np.asarray(pitches, dtype=np.float64), np.asarray(instruments)
    out = {
        "pitch_agreement": float(table["pitch_kept"].mean()),
        "pitch_acc_original": float(np.mean(np.abs(table["pitch_original"].to_numpy() - pitches) <= tolerance)),
        "instrument_acc_recon": float(np.mean(table["heard_as"].to_numpy() == instruments)),
        "instrument_acc_original": float(np.mean(table["heard_as_original"].to_numpy() == instruments)),
    }
    if n_iter is not None:
        rows = spread_rows(len(magnitude), n_sound)
        sound = note_recognition(model, magnitude[torch.from_numpy(rows)], probe, tolerance, batch_size, n_iter=n_iter)
        out["pitch_agreement_sound"] = float(sound["pitch_kept_sound"].mean())
        out["instrument_acc_sound"] = float(np.mean(sound["heard_as_sound"].to_numpy() == instruments[rows]))
        out["n_sound"] = len(rows)
    return out


def path_smoothness(magnitude: torch.Tensor, dynamic_range_db: float = 80.0) -> dict[str, float]:
    """How smoothly a decoded latent path changes: ``magnitude [F, T]`` (frames in time order,
    e.g. ``decode_trajectory(..., return_magnitude=True)`` of the frame model).

    Each frame is taken to dB relative to the path's peak, floored ``dynamic_range_db`` below;
    a step is the RMS difference (dB) between consecutive frames. Returns the largest and the
    mean step, the RMS difference between the first and the last frame, and ``max_step_ratio``
    = largest step / first-to-last difference: ``1 / (T - 1)`` for a straight crossfade in dB, 1
    for a hard cut from one end to the other.
    """
    magnitude = torch.as_tensor(magnitude, dtype=torch.float64)
    if magnitude.ndim != 2 or magnitude.shape[1] < 2:
        raise ValueError(f"magnitude must be [F, T] with T >= 2 frames, got shape {tuple(magnitude.shape)}")
    peak = magnitude.max().clamp_min(1e-12)
    db = 20 * torch.log10((magnitude / peak).clamp_min(10 ** (-dynamic_range_db / 20)))
    steps = (db[:, 1:] - db[:, :-1]).pow(2).mean(0).sqrt()
    ends = float((db[:, -1] - db[:, 0]).pow(2).mean().sqrt())
    return {"max_step_db": float(steps.max()), "mean_step_db": float(steps.mean()), "end_to_end_db": ends,
            "max_step_ratio": float(steps.max()) / ends if ends > 0 else float("inf")}


def spectral_flatness(magnitude: torch.Tensor, active_db: float = -40.0) -> np.ndarray:
    """Tonality of every note of ``[N, F, T]`` magnitudes: the spectral flatness (Wiener entropy,
    geometric over arithmetic mean of the power spectrum; Johnston, 1988) of each frame,
    averaged over the frames within ``active_db`` dB of the note's loudest frame.

    Near 0 for a few clean partials, about 0.56 for white noise (e^-gamma); the held-out rendered notes have a
    median below 0.001 (0.0007 through the NSGT, 0.0002 through the STFT).
    A silent note gives NaN.
    """
    magnitude = torch.as_tensor(magnitude, dtype=torch.float64)
    if magnitude.ndim != 3:
        raise ValueError(f"magnitude must be [N, F, T], got shape {tuple(magnitude.shape)}")
    power = magnitude ** 2
    energy = power.sum(1)                                             # [N, T]
    peak = energy.amax(-1, keepdim=True)
    active = (energy >= peak * 10 ** (active_db / 10)) & (peak > 0)
    tiny = torch.finfo(torch.float64).tiny
    flat = torch.exp(torch.log(power.clamp_min(tiny)).mean(1)) / power.mean(1).clamp_min(tiny)
    out = (flat * active).sum(-1) / active.sum(-1).clamp_min(1)
    out[~active.any(-1)] = float("nan")
    return out.numpy()


# --------------------------------------------------------------------------- comparisons for notebook 03

SCORES = ("mag_sc", "mag_lsd", "audio_sc", "audio_lsd")


def likelihood_vote(scores: pd.DataFrame, metrics=SCORES, tie_break: str = "mag_sc") -> tuple[str, dict[str, int]]:
    """The output distribution that is best (lowest) on most of the held-out ``metrics``.

    ``scores``: one row per candidate (index: its name), one column per metric. Returns the
    winner and ``{candidate: number of metrics on which it is lowest}``; a tie in that count goes
    to the lowest ``tie_break`` score. ``KeyError`` naming a missing metric column.
    """
    missing = [m for m in (*metrics, tie_break) if m not in scores.columns]
    if missing:
        raise KeyError(f"scores lack the columns {missing}; they have {list(scores.columns)}")
    if scores.empty:
        raise ValueError("no candidates to compare")
    wins = {name: int(sum(scores.loc[name, m] == scores[m].min() for m in metrics)) for name in scores.index}
    top = max(wins.values())
    winner = min((n for n in scores.index if wins[n] == top), key=lambda n: scores.loc[n, tie_break])
    return winner, wins


def describe_likelihoods(scores: pd.DataFrame, levels: pd.DataFrame, metrics=SCORES) -> str:
    """A paragraph that states the measured comparison of two or more output distributions:
    how many held-out scores each wins, the magnitude scores, and the mean level error on
    loud and quiet bins (``levels``: rows of :func:`error_by_level`, same index as ``scores``).
    Every number and every comparison word is read off the values."""
    winner, wins = likelihood_vote(scores, metrics)
    others = [n for n in scores.index if n != winner]
    if not others:
        return f"Only one output distribution was trained ({winner})."
    o = others[0]
    w_lv, o_lv = levels.loc[winner], levels.loc[o]

    def closer(column):
        a, b = float(levels.loc[winner, column]), float(levels.loc[o, column])
        return "equal" if a == b else f"the {winner if a < b else o} is closer"

    ties = " (ties count for both)" if sum(wins.values()) > len(metrics) else ""
    return (f"**{winner.capitalize()}** is lower on {wins[winner]} of the {len(metrics)} held-out scores, the {o} on "
            f"{wins[o]}{ties} (SC {scores.loc[winner, 'mag_sc']:.3f} against {scores.loc[o, 'mag_sc']:.3f} on the magnitudes, "
            f"LSD {scores.loc[winner, 'mag_lsd']:.2f} dB against {scores.loc[o, 'mag_lsd']:.2f} dB). "
            f"{100 * w_lv['loud_share']:.1f}% of the bins are loud (within {-w_lv.get('loud_db', -30.0):g} dB of their "
            f"note's peak: the partials) and {100 * w_lv['quiet_share']:.1f}% lie more than "
            f"{-w_lv.get('quiet_db', -60.0):g} dB down (the floor). On the loud bins the {winner} "
            f"errs by {w_lv['loud_err_db']:.2f} dB and the {o} by {o_lv['loud_err_db']:.2f} dB ({closer('loud_err_db')}); "
            f"on the quiet bins by {w_lv['quiet_err_db']:.2f} dB and {o_lv['quiet_err_db']:.2f} dB "
            f"({closer('quiet_err_db')}).")


def recognition_by_instrument(model, magnitude: torch.Tensor, instruments, probe: InstrumentProbe) -> pd.DataFrame:
    """Per instrument of ``magnitude [N, F, T]`` (labelled ``instruments``): mean spectral convergence
    of the reconstructions by ``model``, share of notes whose pitch is kept, and what the
    ``probe`` most often hears in the reconstructions (``heard_as``) with its share."""
    table = note_recognition(model, magnitude, probe)
    table["instrument"] = np.asarray(instruments)
    rows = []
    for name, g in table.groupby("instrument", sort=True):
        counts = g["heard_as"].value_counts()
        rows.append({"instrument": name, "n": len(g), "sc": float(g["sc"].mean()),
                     "pitch kept": float(g["pitch_kept"].mean()), "heard_as": counts.index[0],
                     "heard_as_share": float(counts.iloc[0] / len(g))})
    return pd.DataFrame(rows).set_index("instrument")


def flatness_summary(magnitudes: dict, noise_level: float | None = None) -> pd.DataFrame:
    """Median and mean :func:`spectral_flatness` of each named set of ``[N, F, T]`` magnitudes.

    With ``noise_level`` (the flatness of broadband noise, :func:`noise_flatness`), also the share
    of sounds flatter than half of it (``noise_like``): broadband noise rather than partials."""
    rows = {}
    for name, m in magnitudes.items():
        f = spectral_flatness(m)
        rows[name] = {"median": float(np.nanmedian(f)), "mean": float(np.nanmean(f)), "n": int(len(f))}
        if noise_level is not None:
            rows[name]["noise_like"] = float(np.mean(f > 0.5 * noise_level))
    return pd.DataFrame(rows).T


def noise_flatness(transform, seconds: float = 2.0, seed: int = 0) -> float:
    """Spectral flatness of broadband noise as ``transform`` sees it: Gaussian noise analysed by
    the transform, each bin then scaled to the same mean power, so that the noise is flat in the
    transform's own bins (white noise for the linear STFT, closer to pink noise for a constant-Q
    NSGT, whose wider high bins would otherwise collect more power). About e^-gamma = 0.56, the
    flatness of a periodogram of white noise, for any transform."""
    g = torch.Generator().manual_seed(seed)
    noise = 0.1 * torch.randn(int(seconds * transform.sample_rate), generator=g)
    power = transform.analyze(noise).double() ** 2
    power = power / power.mean(-1, keepdim=True).clamp_min(1e-30)
    return float(spectral_flatness(power.sqrt().unsqueeze(0))[0])


def level_and_centroid(waves: torch.Tensor, labels: pd.DataFrame, sample_rate: int,
                       by: tuple[str, str] = ("instrument", "dynamics")) -> pd.DataFrame:
    """Median peak level (dBFS) and spectral centroid (Hz, of the whole note's power spectrum)
    per ``by`` group of notes ``waves [N, n]``: does a louder dynamics only raise the level, or
    also brighten the sound (a higher centroid)?"""
    waves = torch.as_tensor(waves, dtype=torch.float64)
    if len(waves) != len(labels):
        raise ValueError(f"{len(waves)} waves but {len(labels)} label rows")
    peak = 20 * torch.log10(waves.abs().amax(1).clamp_min(1e-6))
    power = torch.fft.rfft(waves, dim=1).abs() ** 2
    freqs = torch.fft.rfftfreq(waves.shape[1], 1 / sample_rate, dtype=torch.float64)
    centroid = (power * freqs).sum(1) / power.sum(1).clamp_min(1e-20)
    table = labels[list(by)].assign(peak_dbfs=peak.numpy(), centroid_hz=centroid.numpy())
    return table.groupby(list(by)).median()


def successive_lsd(magnitudes: torch.Tensor) -> tuple[np.ndarray, float]:
    """Log-spectral distances (dB) between consecutive notes of a decoded path ``[K, F, T]``, and
    between its two ends: how evenly a path of notes moves."""
    magnitudes = torch.as_tensor(magnitudes)
    if magnitudes.ndim != 3 or len(magnitudes) < 2:
        raise ValueError(f"need at least two notes [K, F, T], got shape {tuple(magnitudes.shape)}")
    steps = magnitude_metrics(magnitudes[:-1], magnitudes[1:])["lsd"].numpy()
    ends = float(magnitude_metrics(magnitudes[:1], magnitudes[-1:])["lsd"][0])
    return steps, ends


def frame_pitches(magnitude: torch.Tensor, frequencies, **kwargs) -> np.ndarray:
    """:func:`estimate_pitch` of every frame of one magnitude ``[F, T]`` (e.g. a decoded morph):
    ``[T]`` fractional MIDI numbers."""
    magnitude = torch.as_tensor(magnitude)
    if magnitude.ndim != 2:
        raise ValueError(f"magnitude must be [F, T], got shape {tuple(magnitude.shape)}")
    return estimate_pitch(magnitude.T.unsqueeze(-1), frequencies, **kwargs)


def score_table(runs: dict, scores: dict) -> pd.DataFrame:
    """One row per run ``{(model, transform, likelihood): AudioRun}`` with its epochs, training
    seconds, whether it was reloaded, and its held-out ``scores`` (:func:`evaluate_run`)."""
    rows = []
    for key, run in runs.items():
        m, t, lik = key
        rows.append({"model": m, "transform": t, "likelihood": lik, "epochs": run.epochs,
                     "train_s": round(float(run.train_seconds), 1), "reused": run.reused,
                     **{k: round(float(v), 3) for k, v in scores[key].items() if not k.startswith("n_")}})
    return pd.DataFrame(rows)


def rows_per_group(labels: pd.DataFrame, k: int, by: str = "instrument") -> np.ndarray:
    """Row positions of about ``k`` notes of every ``by`` group, evenly spread over the group's
    rows (all of a group with fewer); sorted."""
    if by not in labels:
        raise KeyError(f"labels need a {by!r} column; they have {list(labels.columns)}")
    positions = np.arange(len(labels))
    keep = [positions[(labels[by] == g).to_numpy()] for g in sorted(labels[by].unique())]
    return np.sort(np.concatenate([p[spread_rows(len(p), k)] for p in keep])) if keep else np.zeros(0, np.int64)


def unseen_summary(per_model: dict, held_out: dict, held_name: str = "(held-out training instruments)"):
    """Three tables (instrument x model) from ``{model: recognition_by_instrument(...)}``: mean
    spectral convergence, share of pitch kept (each with a last row ``held_name`` from
    ``held_out = {model: (sc, pitch kept)}``), and what the probe hears (``name (share%)``)."""
    ood = pd.concat(per_model, names=["model"])
    sc, pitch = ood["sc"].unstack(0), ood["pitch kept"].unstack(0)
    sc.loc[held_name] = pd.Series({m: v[0] for m, v in held_out.items()})
    pitch.loc[held_name] = pd.Series({m: v[1] for m, v in held_out.items()})
    heard = (ood["heard_as"] + " (" + (100 * ood["heard_as_share"]).round().astype(int).astype(str) + "%)").unstack(0)
    return sc, pitch, heard


def train_val_gap(history: list[dict]) -> dict[str, float]:
    """Training against held-out loss at the kept epoch (the best held-out ELBO, as ``best.pt``):
    ``train`` and ``val`` negative ELBO per example (nats), ``ratio`` = val / train (1: no gap;
    only meaningful when both are positive) and that ``epoch``."""
    rows = [h for h in history if "val_elbo" in h and "train_elbo" in h]
    if not rows:
        raise ValueError("the history has no epoch with both train_elbo and val_elbo")
    best = max(rows, key=lambda h: h["val_elbo"])
    train, val = -float(best["train_elbo"]), -float(best["val_elbo"])
    return {"train": train, "val": val, "ratio": val / train if train else float("nan"), "epoch": int(best["epoch"])}
