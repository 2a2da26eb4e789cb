"""Judges: trained classifiers that know their classes and which are in-class or out-of-class.

A :class:`Judge` gives ``probs(x)`` and ``features(x)`` (the penultimate layer) for any batch of
images (``[N, 28, 28]`` or ``[N, 1, 28, 28]`` in [0, 1] or uint8) or raw magnitude spectra
(``[N, F, T]``); :mod:`helpers.evaluation.novelty` turns them into measures. Judges are trained
once through the one Trainer and the run store (:func:`helpers.training.cached.cached_fit`);
a second call reloads them. Every judge reports, kept in its run folder
(``CachedRun.cached_metrics``): accuracy per test set, confusion matrix, expected calibration
error before and after temperature scaling, and its training time.

Rejection of noise: a background class. Classifiers are over-confident far from their data
(Nguyen et al., 2015; Hein et al., 2019): a softmax over digits only must give its mass to some
digit, whatever the input. Every judge here therefore has one more class, ``"noise"``, trained
on generated noise (:func:`noise_images`: uniform, smoothed blobs, sparse dots, pixel-shuffled
real images; :func:`noise_spectra`: white, pink and brown noise, band-limited noise and
frequency-shuffled real notes), and a temperature fitted on held-out data (Guo et al., 2017)
so that its confidences are calibrated. We chose it over an energy or distance threshold
because it needs no threshold of its own (the measures of Kégl et al. use one theta for all
groups), because the noise class's probability is itself a reading (``p_noise_class``), and
because it measured clean separations at no extra cost: in ``benchmarks/results/judges.json``
uniform noise and white noise go to the noise class, while the held-out notes of the training
instruments are counted in-class rather than out-of-class, those of the unseen instruments
out-of-class rather than in-class, the MNIST test digits in-class and the held-out letters
out-of-class. The fitted temperatures and the calibration errors before and after are kept
with every judge there.

What the instrument judges learn. Notes of one instrument rendered from different SoundFonts
differ in their sample sets: level, EQ, attack, and the quiet detail far below the peak. Each
note is therefore seen relative to its own peak and only down to 50 dB below it
(:func:`instrument_config`, which lists what else was measured); the judges are scored on
held-out pitches and, trained without one SoundFont, on that SoundFont's notes
(leave-one-SoundFont-out, :func:`instrument_splits`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from helpers.models.classifiers import Classifier, ClassifierConfig, pack
from helpers.training.trainer import TrainerConfig

NOISE = "noise"
DIGITS = tuple(str(d) for d in range(10))
LETTERS = tuple(chr(ord("A") + i) for i in range(26))


# ------------------------------------------------------------------------------ the judge


@dataclass
class Judge:
    """A trained :class:`~helpers.models.classifiers.Classifier` and the meaning of its classes.

    Attributes:
        model: the classifier (eval mode).
        classes: one name per output.
        in_class: names of the in-class group C_in (digits; training instruments).
        out_class: names of the out-of-class group C_out (letters; unseen instruments).
        temperature: logits are divided by it (fitted on held-out data, Guo et al., 2017).
        metrics: accuracy, confusion matrix, calibration, training time (see :func:`train_judge`).
        transform: audio judges: the :class:`~helpers.audio.transform.AudioTransform` whose
            magnitudes they take (to analyse waves, e.g. white noise).
        batch_size: examples per forward pass.
        run: the :class:`~helpers.training.cached.CachedRun` it was trained or reloaded in.
        test_sets: ``{name: (x, y)}`` the accuracies were measured on (in memory only).
    """

    model: Classifier
    classes: tuple[str, ...]
    in_class: tuple[str, ...]
    out_class: tuple[str, ...] = ()
    temperature: float = 1.0
    metrics: dict = field(default_factory=dict)
    transform: object | None = None
    batch_size: int = 1000
    run: object | None = None
    test_sets: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.classes = tuple(self.classes)
        if len(self.classes) != self.model.config.n_classes:
            raise ValueError(f"{len(self.classes)} class names for a classifier with "
                             f"{self.model.config.n_classes} outputs")
        for group in (self.in_class, self.out_class):
            unknown = sorted(set(group) - set(self.classes))
            if unknown:
                raise ValueError(f"classes {unknown} are not among the judge's classes {self.classes}")
        self.model.eval()

    @property
    def input(self) -> str:
        """"image" or "spectrum"."""
        return self.model.config.input

    @property
    def in_index(self) -> list[int]:
        return [self.classes.index(c) for c in self.in_class]

    @property
    def out_index(self) -> list[int]:
        return [self.classes.index(c) for c in self.out_class]

    @property
    def noise_index(self) -> int | None:
        return self.classes.index(NOISE) if NOISE in self.classes else None

    @torch.no_grad()
    def scores(self, x, progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Calibrated probabilities ``[N, K]`` and features ``[N, D]`` in one pass (CPU, float32)."""
        x = torch.as_tensor(x)
        probs, feats = [], []
        starts = range(0, len(x), self.batch_size)
        for start in tqdm(starts, desc="judge", disable=not progress or len(starts) < 2, leave=False):
            logits, h = self.model.logits_and_features(x[start:start + self.batch_size])
            probs.append(F.softmax(logits.float() / self.temperature, dim=1).cpu())
            feats.append(h.float().cpu())
        if not probs:
            return torch.zeros(0, len(self.classes)), torch.zeros(0, self.model.config.dense)
        return torch.cat(probs), torch.cat(feats)

    def probs(self, x) -> torch.Tensor:
        """p(c|x), ``[N, K]``, temperature-scaled."""
        return self.scores(x)[0]

    def features(self, x) -> torch.Tensor:
        """Penultimate-layer features ``[N, D]`` (the space of the Fréchet distance and MMD)."""
        return self.scores(x)[1]

    def predict(self, x) -> list[str]:
        """The most probable class name of each example."""
        return [self.classes[i] for i in self.probs(x).argmax(1).tolist()]

    @torch.no_grad()
    def data_space(self, x) -> torch.Tensor:
        """Examples as the network's input sees them, flattened: pixels in [0, 1], or per-note
        normalised dB spectra (``(dB - peak) / db_range + 1`` in [0, 1]) for audio judges."""
        x = torch.as_tensor(x)
        out = [self.model.prepare(x[s:s + self.batch_size]).flatten(1).cpu() for s in range(0, len(x), self.batch_size)]
        return torch.cat(out) if out else torch.zeros(0, math.prod(self.model.config.net_shape))


# ------------------------------------------------------------------------- calibration


def expected_calibration_error(probs: torch.Tensor, y: torch.Tensor, n_bins: int = 15) -> float:
    """ECE = sum_b |B_b|/N |acc(B_b) - conf(B_b)| over equal-width confidence bins (Guo et al., 2017, Eq. 3)."""
    if len(probs) == 0:
        return float("nan")
    conf, pred = probs.max(1)
    correct = (pred == y).float()
    bins = torch.clamp((conf * n_bins).long(), max=n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.float().mean().item() * abs(correct[mask].mean().item() - conf[mask].mean().item())
    return ece


def fit_temperature(logits: torch.Tensor, y: torch.Tensor, max_iter: int = 100) -> float:
    """Temperature T minimising the NLL of softmax(logits / T) on held-out data (Guo et al., 2017, Sec. 4.2)."""
    logits, y = logits.double(), y.long()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, n_classes: int) -> list[list[int]]:
    """Counts ``[true, predicted]`` as nested lists (JSON-ready)."""
    idx = y_true.long() * n_classes + y_pred.long()
    return torch.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes).tolist()


def top_confusions(matrix: list[list[int]], classes: Sequence[str], k: int = 10,
                   rows: Sequence[str] | None = None) -> list[str]:
    """The ``k`` largest off-diagonal cells as ``"true->predicted: count"`` (only rows in ``rows``)."""
    cells = []
    for i, row in enumerate(matrix):
        if rows is not None and classes[i] not in rows:
            continue
        cells += [(n, classes[i], classes[j]) for j, n in enumerate(row) if j != i and n > 0]
    return [f"{a}->{b}: {n}" for n, a, b in sorted(cells, key=lambda c: -c[0])[:k]]


# ------------------------------------------------------------------------------ training


@torch.no_grad()
def _logits(model: Classifier, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    model.eval()
    starts = range(0, len(x), batch_size)
    parts = [model.logits_and_features(x[s:s + batch_size])[0].float().cpu()
             for s in tqdm(starts, desc="scoring", leave=False, disable=len(starts) < 2)]
    return torch.cat(parts) if parts else torch.zeros(0, model.config.n_classes)


def train_judge(name: str, config: ClassifierConfig, trainer: TrainerConfig, classes: Sequence[str],
                in_class: Sequence[str], out_class: Sequence[str], train: tuple[torch.Tensor, torch.Tensor],
                val: tuple[torch.Tensor, torch.Tensor], tests: dict[str, tuple[torch.Tensor, torch.Tensor]],
                run_root: str | None = None, minutes: float | None = None, transform=None,
                extra: dict | None = None) -> Judge:
    """Train (or reload) a classifier and wrap it in a :class:`Judge`.

    ``train``, ``val`` and every test set are ``(x, y)`` with class indices into ``classes``.
    The temperature is fitted on ``val``; ``tests`` are scored after it. What is measured is
    kept in the run folder (``eval-judge.json``) and read back on a second run.
    """
    from helpers.training.cached import cached_fit

    classes = tuple(classes)
    run = cached_fit(config, trainer, pack(*train), name=name, run_root=run_root, minutes=minutes, extra=extra)
    model = run.model.cpu().eval()

    def compute() -> dict:
        temperature = fit_temperature(_logits(model, val[0]), val[1]) if len(val[0]) else 1.0
        out = {"train_seconds": run.train_seconds, "epochs": run.epochs, "stopped_early": run.stopped_early,
               "load_average_1min_after_training": os.getloadavg()[0], "torch_threads": torch.get_num_threads(),
               "n_train": len(train[0]), "n_val": len(val[0]), "temperature": temperature, "tests": {}}
        for test_name, (x, y) in tests.items():
            logits = _logits(model, x)
            pred = logits.argmax(1)
            matrix = confusion_matrix(y, pred, len(classes))
            out["tests"][test_name] = {
                "n": len(y), "accuracy": float((pred == y).float().mean()) if len(y) else float("nan"),
                "ece": expected_calibration_error(F.softmax(logits, 1), y),
                "ece_calibrated": expected_calibration_error(F.softmax(logits / temperature, 1), y),
                "confusion": matrix, "top_confusions": top_confusions(matrix, classes)}
        return out

    metrics = run.cached_metrics("judge", compute)
    metrics["reused"] = run.reused
    return Judge(model, classes, tuple(in_class), tuple(out_class), metrics["temperature"], metrics,
                 transform=transform, run=run, test_sets=dict(tests))


# ------------------------------------------------------------------------------ noise


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of ``[N, 1, H, W]`` with a separable kernel."""
    radius = max(1, int(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1))


def noise_images(n: int, real: torch.Tensor | None = None, seed: int = 0, shape=(28, 28)) -> torch.Tensor:
    """``n`` uint8 images that are no character: uniform noise, smoothed noise blobs, sparse dots,
    and (given ``real`` images) real images with their pixels shuffled (same grey-level histogram,
    no shape). Deterministic in ``seed``."""
    g = torch.Generator().manual_seed(seed)
    kinds = torch.arange(n) % (4 if real is not None else 3)
    out = torch.zeros(n, 1, *shape)
    m = int((kinds == 0).sum())
    out[kinds == 0] = torch.rand(m, 1, *shape, generator=g) * torch.rand(m, 1, 1, 1, generator=g).add(0.2).clamp(max=1)
    idx = torch.nonzero(kinds == 1).flatten()
    for i in idx.tolist():
        blob = _blur(torch.rand(1, 1, *shape, generator=g), float(torch.empty(1).uniform_(1.0, 3.0, generator=g)))
        blob = (blob - blob.min()) / (blob.max() - blob.min() + 1e-8)
        out[i] = (blob > torch.rand(1, generator=g) * 0.4 + 0.4).float() * blob if i % 2 else blob
    m = int((kinds == 2).sum())
    out[kinds == 2] = (torch.rand(m, 1, *shape, generator=g) < torch.rand(m, 1, 1, 1, generator=g) * 0.3).float()
    if real is not None:
        idx = torch.nonzero(kinds == 3).flatten()
        src = torch.as_tensor(real)[torch.randint(len(real), (len(idx),), generator=g)].reshape(len(idx), -1)
        if src.dtype == torch.uint8:
            src = src.float() / 255
        perm = torch.argsort(torch.rand(len(idx), src.shape[1], generator=g), dim=1)
        out[idx] = torch.gather(src, 1, perm).reshape(len(idx), 1, *shape)
    return (out[:, 0].clamp(0, 1) * 255).round().to(torch.uint8)


def noise_waves(n: int, n_samples: int, sample_rate: int, seed: int = 0) -> torch.Tensor:
    """``n`` noise signals ``[n, n_samples]``: white, pink (1/f), brown (1/f^2) and band-limited
    noise, with random envelopes and levels. Deterministic in ``seed``."""
    g = torch.Generator().manual_seed(seed)
    white = torch.randn(n, n_samples, generator=g)
    spec = torch.fft.rfft(white)
    f = torch.fft.rfftfreq(n_samples, 1 / sample_rate).clamp_min(20.0)
    kinds = torch.arange(n) % 4
    shape = torch.ones(n, len(f))
    shape[kinds == 1] = f.rsqrt()
    shape[kinds == 2] = 1 / f
    for i in torch.nonzero(kinds == 3).flatten().tolist():
        lo = float(torch.empty(1).uniform_(50, 4000, generator=g))
        shape[i] = ((f > lo) & (f < lo * float(torch.empty(1).uniform_(1.5, 4.0, generator=g)))).float()
    wave = torch.fft.irfft(spec * shape, n=n_samples)
    wave = wave / wave.abs().amax(1, keepdim=True).clamp_min(1e-8)
    t = torch.linspace(0, 1, n_samples)
    fade = torch.rand(n, 1, generator=g) * 0.3
    envelope = torch.clamp(t / (fade + 1e-3), max=1.0) * torch.clamp((1 - t) / (fade + 1e-3), max=1.0)
    level = 10 ** (-torch.rand(n, 1, generator=g) * 2)  # 0 to -40 dB
    return wave * envelope * level * 0.9


def noise_spectra(n: int, transform, n_samples: int, seed: int = 0, real: torch.Tensor | None = None,
                  n_frames: int | None = None) -> torch.Tensor:
    """Magnitudes ``[n, F, T]`` of :func:`noise_waves` (and, given ``real`` magnitudes, a quarter of
    them real notes with their frequency bins shuffled: the level and envelope of a note, no
    harmonic structure), time-pooled to ``n_frames`` when given."""
    from helpers.models.classifiers import pool_frames

    n_real = n // 4 if real is not None else 0
    waves = noise_waves(n - n_real, n_samples, transform.sample_rate, seed)
    mags = [transform.analyze(waves[s:s + 64]) for s in range(0, len(waves), 64)]
    mags = torch.cat(mags)
    if n_frames is not None:
        mags = pool_frames(mags, n_frames)
    if n_real:
        g = torch.Generator().manual_seed(seed + 1)
        src = real[torch.randint(len(real), (n_real,), generator=g)]
        if n_frames is not None:
            src = pool_frames(src, n_frames)
        perm = torch.stack([torch.randperm(src.shape[1], generator=g) for _ in range(n_real)])
        src = torch.gather(src, 1, perm[:, :, None].expand_as(src))
        mags = torch.cat([mags, src])
    return mags


# --------------------------------------------------------------------------- image judges


def digit_config(n_classes: int, smoke: bool = False) -> ClassifierConfig:
    """The image judge network (see :class:`ClassifierConfig`): convolutions of 16/32/64 channels
    and a 128-unit dense layer, an eighth of the 64/128/256 + 1024 of Cherti et al.'s digit
    classifier in multiply-adds, so that ten epochs train in under 3 minutes on a 2-core CPU
    (99.52% on the MNIST test set, measured in ``benchmarks/results/judges.json``); ``smoke``: a
    tiny one."""
    if smoke:
        return ClassifierConfig(n_classes=n_classes, channels=(8, 16), dense=32, dropout=0.2)
    return ClassifierConfig(n_classes=n_classes, channels=(16, 32, 64), dense=128, dropout=0.3)


def digit_trainer(smoke: bool = False, n_epochs: int = 10) -> TrainerConfig:
    """Adam 2e-3 with a cosine decay to 1e-5 (one short run: the decay replaces a long tail)."""
    return TrainerConfig(n_epochs=1 if smoke else n_epochs, batch_size=128, lr=2e-3, lr_schedule="cosine",
                         lr_final=1e-5, progress=False, eval_batch_size=2000, name="judge")


def _with_noise(x: torch.Tensor, y: torch.Tensor, noise_label: int, share: float, seed: int):
    """``(x, y)`` plus ``share * len(x)`` noise images labelled ``noise_label``, shuffled."""
    n = int(round(share * len(x)))
    xn = noise_images(n, real=x, seed=seed)
    x, y = torch.cat([x, xn]), torch.cat([y, torch.full((n,), noise_label, dtype=torch.long)])
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    return x[perm], y[perm]


def _mnist_parts(smoke: bool, n_train: int | None):
    """MNIST train, val and test images and labels; ``smoke``/``n_train``: the first
    ``n_train`` (default 2000) training images and a quarter as many of the others."""
    from helpers.data.mnist import load_mnist

    x, y = load_mnist("train")
    xv, yv = load_mnist("val")
    xt, yt = load_mnist("test")
    if smoke or n_train is not None:
        n = n_train or 2000
        x, y, xv, yv, xt, yt = x[:n], y[:n], xv[:n // 4], yv[:n // 4], xt[:n // 4], yt[:n // 4]
    return x, y, xv, yv, xt, yt


def digit_judge(smoke: bool = False, run_root: str | None = None, n_epochs: int = 10, noise_share: float = 0.1,
                minutes: float | None = None, n_train: int | None = None, config: ClassifierConfig | None = None,
                trainer: TrainerConfig | None = None) -> Judge:
    """The 10-digit judge (+ noise class): MNIST train (50000) for training, val (10000) for the
    temperature, test (10000) for the accuracy. ``smoke``: 2000 images, one epoch, a tiny net;
    ``n_train``: that many training images (a quarter as many for val and test); ``config`` and
    ``trainer`` replace the network and the training set-up."""
    x, y, xv, yv, xt, yt = _mnist_parts(smoke, n_train)
    classes = DIGITS + (NOISE,)
    k = len(classes) - 1
    train = _with_noise(x, y, k, noise_share, seed=1)
    val = _with_noise(xv, yv, k, noise_share, seed=2)
    return train_judge("judge-digits" + ("-smoke" if smoke else ""), config or digit_config(len(classes), smoke),
                       trainer or digit_trainer(smoke, n_epochs), classes, DIGITS, (), train, val,
                       {"mnist_test": (xt, yt)}, run_root=run_root, minutes=minutes,
                       extra={"noise_share": noise_share})


def digit_letter_judge(smoke: bool = False, run_root: str | None = None, n_epochs: int = 10,
                       noise_share: float = 0.1, minutes: float | None = None, n_train: int | None = None,
                       load_letters: Callable | None = None, config: ClassifierConfig | None = None,
                       trainer: TrainerConfig | None = None) -> Judge:
    """The 36-class judge (digits in-class, letters A-Z out-of-class, + noise).

    Letters come from ``helpers.data.letters.load_letters(split) -> (x uint8 [N, 28, 28],
    y int64 0-25)``, "train" fonts for training (a tenth of them for the temperature) and the
    held-out fonts ("test") for the accuracy. ``load_letters`` replaces that loader (tests); the
    other arguments as :func:`digit_judge`.

    Some letters are drawn like digits (O/0, Z/2, S/5, Q/9, I/l/1): the judge splits such a
    glyph's probability between the two, and the digit targets and the letter targets pull
    against each other. ``benchmarks/judges.py`` measures how (``digit_prior_tradeoff``: a
    prior shift towards the digits buys digit accuracy with letter accuracy); class-balanced
    weights would shift the other way, the letter classes being the smaller ones.
    :func:`look_alike_separability` measures how far any judge can go on these pairs.
    """
    if load_letters is None:
        from helpers.data.letters import load_letters
    lx, ly = load_letters("train")
    ltx, lty = load_letters("test")
    x, y, xv, yv, xt, yt = _mnist_parts(smoke, n_train)
    perm = torch.randperm(len(lx), generator=torch.Generator().manual_seed(0))
    n_val = max(1, len(lx) // 10)
    lxv, lyv, lx, ly = lx[perm[:n_val]], ly[perm[:n_val]], lx[perm[n_val:]], ly[perm[n_val:]]
    classes = DIGITS + LETTERS + (NOISE,)
    k = len(classes) - 1
    train = _with_noise(torch.cat([x, lx]), torch.cat([y, ly.long() + 10]), k, noise_share, seed=1)
    val = _with_noise(torch.cat([xv, lxv]), torch.cat([yv, lyv.long() + 10]), k, noise_share, seed=2)
    return train_judge("judge-digits-letters" + ("-smoke" if smoke else ""),
                       config or digit_config(len(classes), smoke), trainer or digit_trainer(smoke, n_epochs),
                       classes, DIGITS, LETTERS, train, val,
                       {"mnist_test": (xt, yt), "letters_heldout_fonts": (ltx, lty.long() + 10)},
                       run_root=run_root, minutes=minutes, extra={"noise_share": noise_share})


LOOK_ALIKE_PAIRS: tuple[tuple[str, str], ...] = (
    ("0", "O"), ("1", "IL"), ("2", "Z"), ("5", "S"), ("6", "B"), ("8", "B"), ("9", "QG"))
"""Digits and the letters drawn like them: the digit->letter confusions of the 36-class judge
(``benchmarks/results/judges.json``, ``digits_letters``), lower and upper case merged."""


def look_alike_separability(pairs: Sequence[tuple[str, str]] = LOOK_ALIKE_PAIRS, smoke: bool = False,
                            run_root: str | None = None, n_epochs: int = 10, n_train: int | None = None,
                            load_letters: Callable | None = None, config: ClassifierConfig | None = None,
                            trainer: TrainerConfig | None = None, digit_share: float = 0.99,
                            letter_share: float = 0.92) -> dict:
    """How well can a digit be told from the letters drawn like it, by a judge that does nothing else?

    For every ``(digit, letters)`` pair a two-class judge (the image judge network) is trained on
    that digit's MNIST training images against those letters from the training fonts, and scored
    on the MNIST test images of the digit and the letters of the held-out fonts. Its scores set
    what the 36-class judge can reach on these classes: with ``digit_share`` of the test digits
    kept (the threshold on p(letter) at their ``digit_share`` quantile), ``letter_recall`` is the
    share of held-out letters still called letters; with ``letter_share`` of the letters kept,
    ``digit_recall`` the share of digits still called digits (both shares are returned with each
    pair). ``train_*``: the same judge's
    accuracy on its own training images (no augmentation), which shows whether the two classes
    overlap or the judge merely fails to transfer. Returns ``{"0/O": {...}, ...}``; arguments as
    :func:`digit_letter_judge`.
    """
    if load_letters is None:
        from helpers.data.letters import load_letters
    lx, ly = load_letters("train")
    ltx, lty = load_letters("test")
    ly, lty = ly.long(), lty.long()
    x, y, xv, yv, xt, yt = _mnist_parts(smoke, n_train)
    n_val = max(1, len(lx) // 10)
    perm = torch.randperm(len(lx), generator=torch.Generator().manual_seed(0))
    lxv, lyv, lx, ly = lx[perm[:n_val]], ly[perm[:n_val]], lx[perm[n_val:]], ly[perm[n_val:]]
    out = {}
    for digit, letters in pairs:
        d = DIGITS.index(digit)
        ids = torch.tensor([LETTERS.index(c) for c in letters])

        def part(xd, yd, xl, yl):
            a, b = xd[yd == d], xl[torch.isin(yl, ids)]
            return torch.cat([a, b]), torch.cat([torch.zeros(len(a), dtype=torch.long),
                                                 torch.ones(len(b), dtype=torch.long)])

        train, val, test = part(x, y, lx, ly), part(xv, yv, lxv, lyv), part(xt, yt, ltx, lty)
        if min(int((t[1] == c).sum()) for t in (train, test) for c in (0, 1)) == 0:
            raise ValueError(f"pair {digit}/{letters}: no training or test images of one side")
        shuffle = torch.randperm(len(train[0]), generator=torch.Generator().manual_seed(1))
        train = (train[0][shuffle], train[1][shuffle])
        judge = train_judge(f"judge-lookalike-{digit}-{letters}" + ("-smoke" if smoke else ""),
                            config or digit_config(2, smoke), trainer or digit_trainer(smoke, n_epochs),
                            (digit, letters), (digit,), (letters,), train, val, {"test": test}, run_root=run_root)
        p_test = F.softmax(_logits(judge.model, test[0]), 1)[:, 1]
        p_train = F.softmax(_logits(judge.model, train[0]), 1)[:, 1]
        pd_, pl = p_test[test[1] == 0], p_test[test[1] == 1]
        t_digit = torch.quantile(pd_, digit_share)
        t_letter = torch.quantile(pl, 1 - letter_share)
        out[f"{digit}/{letters}"] = {
            "n_digits": len(pd_), "n_letters": len(pl),
            "digit_accuracy": float((pd_ < 0.5).float().mean()), "letter_accuracy": float((pl > 0.5).float().mean()),
            "digit_share": digit_share, "letter_recall": float((pl > t_digit).float().mean()),
            "letter_share": letter_share, "digit_recall": float((pd_ <= t_letter).float().mean()),
            "train_digit_accuracy": float((p_train[train[1] == 0] < 0.5).float().mean()),
            "train_letter_accuracy": float((p_train[train[1] == 1] > 0.5).float().mean()),
            "train_seconds": judge.metrics["train_seconds"]}
    return out


def look_alike_letter_bound(pairs: dict, key: str = "letter_recall") -> float:
    """The most letters (a share of the 26 classes, each counted equally) a judge can recognise
    while it keeps the digits as :func:`look_alike_separability` was asked to: every letter in a
    pair at the share of it that pair's two-class judge recognises (the lowest when a letter is in
    several pairs), every other letter perfectly. ``pairs``: what that function returns."""
    recall: dict[str, float] = {}
    for name, scores in pairs.items():
        for letter in name.split("/")[1]:
            recall[letter] = min(recall.get(letter, 1.0), scores[key])
    return (len(LETTERS) - len(recall) + sum(recall.values())) / len(LETTERS)


# --------------------------------------------------------------------------- audio judges


def instrument_table(root=None):
    """The note table of a SOL-style tree (:func:`helpers.data.splits.note_table`), with the
    columns of its ``metadata.csv`` (e.g. ``soundfont``) merged in by path when there is one."""
    import pandas as pd

    from helpers.data.splits import note_table

    if root is None:
        from helpers.data.instruments import fetch_instruments

        root = fetch_instruments(progress=False)
    table = note_table(root)
    meta = os.path.join(str(root), "metadata.csv")
    if os.path.isfile(meta):
        extra = pd.read_csv(meta)
        if "path" in extra:
            extra["path"] = [str(os.path.join(str(root), p)) for p in extra["path"]]
            new = [c for c in extra.columns if c not in table.columns or c == "path"]
            table = table.merge(extra[new], on="path", how="left")
    return table


def _split_units(sub, fraction: float, seed: int, group_by: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of the rows of ``sub`` by instrument, keeping every (instrument,
    ``group_by``) unit, e.g. all dynamics of one pitch, on one side."""
    from helpers.data.splits import stratified_split

    if group_by is None or group_by not in sub:
        return stratified_split(sub["instrument"].tolist(), sub["path"].astype(str).tolist(), fraction=fraction,
                                seed=seed)
    unit = (sub["instrument"].astype(str) + "|" + sub[group_by].astype(str)).to_numpy()
    names = np.unique(unit)
    _, held = stratified_split([u.split("|")[0] for u in names], list(names), fraction=fraction, seed=seed)
    is_held = np.isin(unit, names[held])
    return np.flatnonzero(~is_held), np.flatnonzero(is_held)


def instrument_splits(table, classes: Sequence[str], val_fraction: float = 0.2, seed: int = 0,
                      holdout_soundfont: str | None = None, group_by: str | None = "pitch") -> dict[str, np.ndarray]:
    """Row indices ``{"train", "val", "test"}`` of the notes of ``classes``.

    Without ``holdout_soundfont``: a stratified ``val_fraction`` of every instrument's pitches
    is the test set (held-out notes: every dynamics of a held-out pitch, so that no test note
    has a louder or softer twin in training; ``group_by=None`` splits single notes), the same
    share of the rest the validation set (temperature). With it: the notes rendered from that
    SoundFont (column ``soundfont``) are the test set and never seen in training
    (leave-one-SoundFont-out); train/val are split from the others.
    """
    keep = np.flatnonzero(table["instrument"].isin(list(classes)).to_numpy())
    missing = sorted(set(classes) - set(table["instrument"].iloc[keep]))
    if missing:
        raise ValueError(f"no notes of {missing} in the table (instruments: {sorted(table['instrument'].unique())})")
    sub = table.iloc[keep]
    if holdout_soundfont is not None:
        if "soundfont" not in table:
            raise KeyError("holdout_soundfont needs a 'soundfont' column in the note table")
        is_test = (sub["soundfont"] == holdout_soundfont).to_numpy()
        if not is_test.any():
            raise ValueError(f"holdout_soundfont={holdout_soundfont!r}: no such SoundFont "
                             f"(have {sorted(sub['soundfont'].dropna().unique())})")
        test, rest = keep[is_test], keep[~is_test]
    else:
        kept, held = _split_units(sub, val_fraction, seed, group_by)
        test, rest = keep[held], keep[kept]
    kept, held = _split_units(table.iloc[rest], val_fraction, seed + 1, group_by)
    return {"train": rest[kept], "val": rest[held], "test": test}


def audio_transform(kind: str):
    """The analysis of the audio VAEs' presets (:func:`helpers.training.audio.audio_preset`)."""
    from helpers.audio.transform import NSGTConfig, STFTConfig, build_transform

    if kind == "stft":
        return build_transform(STFTConfig())
    if kind == "nsgt":
        return build_transform(NSGTConfig())
    raise ValueError(f"transform={kind!r}: expected 'stft' or 'nsgt'")


def instrument_config(transform, n_classes: int, n_samples: int = 22050, smoke: bool = False) -> ClassifierConfig:
    """The spectrum judge network for ``transform``: 16 pooled frames per note, the STFT's 513
    bins averaged by fours (the NSGT's 202 constant-Q bins kept), convolutions of 16/32/64
    channels and a 128-unit dense layer (the audio feature space), trained with random pitch
    shifts of up to +-2 semitones (:func:`instrument_judge`: 30 epochs).

    Every note is seen in dB relative to its own peak down to a floor 50 dB below it
    (``db_range``): what lies deeper (the quiet detail of each sample set) is what the SoundFonts
    differ in. Trained on two SoundFonts and tested on MuseScore's notes (12 epochs, one seed,
    8/16/32 channels), the floor raised from 80 to 50 dB took the NSGT judge from 35% to 52% and
    the STFT judge from 32% to 42%; a 30 dB floor measured 47% (NSGT). Random EQ curves and tilt
    (+-10 dB, +-3 dB/octave), per-frame level normalisation, mixup and time-pooled features
    measured 46-51% on top of the 50 dB floor, none better, and are left off.

    Held-out pitches and a left-out SoundFont pull apart. 11 instruments over the NSGT, two quiet
    threads, held-out pitches / MuseScore's notes left out:

    - 8/16/32 channels, 64 units, +-0.5 semitones, 15 epochs: 81.0% / 50.1% (26 s);
    - the same with +-2 semitones, 30 epochs: 93.3% / 42.8% (59 and 72 s);
    - **16/32/64 channels, 128 units, +-2 semitones** (this network): 15 epochs 93.6% / 41.0%
      (74 and 41 s), 30 epochs 96.6% / 42.7% (99 and 181 s; TimGM6mb and Csound GM left out:
      92.7% and 77.1%, a mean over the three of 70.8% against 72.0% for the first network),
      40 epochs 96.6% (153 s); batches of 64 instead of 32, 30 epochs: 95.1% in 90 s; an 80 dB
      floor: 96.3%;
    - +-3 semitones, 15 epochs: 92.9%; 32/64/128 + 256 units, 15 epochs: 91.8%.

    Pitch shifts teach the pitches between the training ones (held-out pitches +16 points) and
    cost a little of the transfer to an unseen sample set (-1.2 points); the remaining held-out
    errors are mostly Viola/Violin."""
    n_freq, _ = transform.output_shape(n_samples)
    kind = transform.config.kind
    common = dict(input="spectrum", x_shape=(n_freq, 16), n_classes=n_classes, n_frames=16, db_range=50.0,
                  freq_pool=4 if kind == "stft" else 1,
                  freq_axis="log" if kind == "nsgt" else "linear",
                  bins_per_octave=getattr(transform.config, "bins_per_octave", 24))
    if smoke:
        return ClassifierConfig(channels=(4, 8), dense=16, dropout=0.1, **common)
    return ClassifierConfig(channels=(16, 32, 64), dense=128, dropout=0.2, pitch_semitones=2.0, **common)


def instrument_judge(transform: str = "stft", unseen: bool = True, smoke: bool = False, root=None,
                     run_root: str | None = None, n_epochs: int = 30, noise_share: float = 0.2,
                     holdout_soundfont: str | None = None, minutes: float | None = None,
                     n_samples: int = 22050, seed: int = 0, config: ClassifierConfig | None = None,
                     trainer: TrainerConfig | None = None, group_by: str | None = "pitch") -> Judge:
    """An instrument judge on magnitude spectra, + noise: with ``unseen`` 16 classes (the 11
    instruments of the set's "train" split in-class, the 5 of its other split, never seen by the
    VAEs, out-of-class), else 11 (the training instruments only).

    Notes are read through the spectra cache (:func:`helpers.audio.datasets.load_spectra`) and
    mean-pooled to 16 frames; the test set is a stratified 20% of every instrument's pitches,
    all dynamics of each (:func:`instrument_splits`; ``group_by=None``: single notes), or a whole
    SoundFont (``holdout_soundfont``). ``config`` and ``trainer`` replace the network
    (its ``n_classes`` and ``x_shape`` are set here) and the training set-up.
    """
    from helpers.audio.datasets import load_spectra
    from helpers.models.classifiers import pool_frames

    tf = audio_transform(transform)
    table = instrument_table(root)
    in_class = tuple(sorted(table.loc[table["split"] == "train", "instrument"].unique()))
    if not in_class:  # a tree without split folders (TinySOL...): every instrument is a training one
        in_class = tuple(sorted(table["instrument"].unique()))
    out_class = tuple(sorted(set(table["instrument"]) - set(in_class))) if unseen else ()
    names = in_class + out_class
    if smoke:
        # six notes of six different pitches per instrument, so that pitches can be held out
        table = (table[table["instrument"].isin(names)].drop_duplicates(["instrument", "pitch"])
                 .groupby("instrument").head(6).reset_index(drop=True))
    parts = instrument_splits(table, names, 0.2, seed, holdout_soundfont, group_by)
    n_frames = 16
    data = {}
    for part, rows in parts.items():
        paths = table["path"].iloc[rows].tolist()
        x = load_spectra(paths, tf, lambda m: pool_frames(m, n_frames), n_samples=n_samples) if paths \
            else torch.zeros(0, tf.output_shape(n_samples)[0], n_frames)
        y = torch.tensor([names.index(c) for c in table["instrument"].iloc[rows]], dtype=torch.long)
        data[part] = (x, y)
    classes = names + (NOISE,)
    k = len(classes) - 1

    def add_noise(x, y, s):
        n = max(1, int(round(noise_share * len(x))))
        xn = noise_spectra(n, tf, n_samples, seed=s, real=x, n_frames=n_frames)
        return torch.cat([x, xn]), torch.cat([y, torch.full((n,), k, dtype=torch.long)])

    train = add_noise(*data["train"], s=1)
    val = add_noise(*data["val"], s=2)
    default = instrument_config(tf, len(classes), n_samples, smoke)
    config = default if config is None else config.replace(
        input="spectrum", x_shape=default.x_shape, n_classes=default.n_classes, n_frames=default.n_frames,
        freq_axis=default.freq_axis, bins_per_octave=default.bins_per_octave)
    trainer = trainer or TrainerConfig(n_epochs=1 if smoke else n_epochs, batch_size=32, lr=2e-3,
                                       lr_schedule="cosine", lr_final=1e-5, weight_decay=1e-4, progress=False,
                                       eval_batch_size=256, name="judge")
    tests = {"heldout_notes": data["test"]}
    if out_class:
        test_in = torch.isin(data["test"][1], torch.tensor([classes.index(c) for c in in_class]))
        tests["heldout_notes_training_instruments"] = (data["test"][0][test_in], data["test"][1][test_in])
        tests["heldout_notes_unseen_instruments"] = (data["test"][0][~test_in], data["test"][1][~test_in])
    name = f"judge-instruments{len(names)}-{transform}" + ("-smoke" if smoke else "") + \
        (f"-without-{holdout_soundfont}" if holdout_soundfont else "")
    judge = train_judge(name, config, trainer, classes, in_class, out_class, train, val, tests,
                        run_root=run_root, minutes=minutes, transform=tf,
                        extra={"noise_share": noise_share, "holdout_soundfont": holdout_soundfont, "seed": seed,
                               "group_by": group_by})
    judge.batch_size = 256
    return judge
