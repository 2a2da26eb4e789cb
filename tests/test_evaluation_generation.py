"""Generation table of the audio models: draws, real reference, scores, one row per (model, density)."""

import numpy as np
import pytest
import torch

from helpers.audio import STFTConfig
from helpers.audio.transform import build_transform
from helpers.evaluation.audio import pitch_clarity
from helpers.evaluation.generation import (GENERATION_KEYS, draw_notes, fit_densities, generation_scores,
                                           generation_table, real_reference)
from helpers.evaluation.judges import NOISE, Judge
from helpers.models import VAEConfig, build_model
from helpers.models.audio import AudioVAE
from helpers.models.classifiers import Classifier, ClassifierConfig
from helpers.models.priors import StandardNormal

SR, N = 8000, 4000
CLASSES = ("flute", "oboe", NOISE)


@pytest.fixture(scope="module")
def transform():
    tf = build_transform(STFTConfig(sample_rate=SR, n_fft=256, hop_length=64, scale="db", db_floor=-60.0, gl_n_iter=4))
    g = torch.Generator().manual_seed(0)
    tf.fit_scaling(torch.rand(8, *tf.output_shape(N), generator=g))
    return tf


def tiny_model(transform, kind):
    n_freq, n_frames = transform.output_shape(N)
    x_shape = (n_freq,) if kind == "frame" else (1, n_freq, -(-n_frames // 4))
    arch = "mlp" if kind == "frame" else "conv_frames"
    torch.manual_seed(0)
    vae = build_model(VAEConfig(x_shape=x_shape, z_dim=3, architecture=arch, hidden=(16,), conv_channels=(4, 8),
                                conv_hidden=16, likelihood="gaussian", scale="per_feature"))
    return AudioVAE(vae, transform, kind, n_samples=N, time_pool=4)


def fixed_judge(transform, favour: str) -> Judge:
    """A judge whose answer is always ``favour`` (a zero last layer with one large bias)."""
    n_freq, _ = transform.output_shape(N)
    model = Classifier(ClassifierConfig(input="spectrum", x_shape=(n_freq, 16), n_classes=len(CLASSES),
                                        channels=(4,), dense=8))
    with torch.no_grad():
        model.out.weight.zero_()
        model.out.bias.zero_()
        model.out.bias[CLASSES.index(favour)] = 20.0
    return Judge(model, CLASSES, in_class=("flute", "oboe"), transform=transform)


def harmonic_notes(transform, n=8, seed=0):
    """Magnitudes of notes with a few partials (clear pitch) at random pitches."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(N) / SR
    waves = []
    for _ in range(n):
        f0 = 200 + 300 * torch.rand(1, generator=g).item()
        waves.append(sum(0.5 ** h * torch.sin(2 * torch.pi * f0 * (h + 1) * t) for h in range(4)))
    return transform.analyze(torch.stack(waves)).float()


def test_pitch_clarity_separates_partials_from_noise():
    fine = build_transform(STFTConfig(sample_rate=SR, n_fft=1024, hop_length=64))
    freqs = fine.frequencies()
    tones = pitch_clarity(harmonic_notes(fine), freqs, fmin=100.0, fmax=1000.0)
    noise = pitch_clarity(fine.analyze(torch.randn(8, N, generator=torch.Generator().manual_seed(1))), freqs,
                          fmin=100.0, fmax=1000.0)
    assert tones.shape == (8,) and np.all(tones > 2.0) and np.all(noise < 1.2)
    assert np.isnan(pitch_clarity(torch.zeros(1, *tones.shape[:0], len(freqs), 5), freqs)[0])


@pytest.mark.parametrize("kind", ["note", "frame"])
def test_draw_notes_decodes_whole_notes(transform, kind):
    model = tiny_model(transform, kind)
    mags = draw_notes(model, StandardNormal(3), 5, torch.Generator().manual_seed(0), batch_size=2)
    assert mags.shape == (5, *transform.output_shape(N)) and torch.all(mags >= 0)
    again = draw_notes(model, StandardNormal(3), 5, torch.Generator().manual_seed(0))
    assert torch.allclose(mags, again)
    with pytest.raises(ValueError, match="dimensional codes"):
        draw_notes(model, StandardNormal(4), 2)
    with pytest.raises(ValueError, match="n must be"):
        draw_notes(model, StandardNormal(3), 0)


def test_scores_follow_the_judge_and_the_reference(transform):
    real = harmonic_notes(transform, n=12)
    freqs = transform.frequencies()
    for favour, in_class, noise in (("flute", 1.0, 0.0), (NOISE, 0.0, 1.0)):
        judge = fixed_judge(transform, favour)
        ref = real_reference(judge, real, freqs, clarity_threshold=1.5)
        assert ref.n == 12 and ref.frechet_floor >= 0 and ref.in_class == in_class and ref.noise == noise
        assert ref.pitch_clarity == 1.0 and ref.flatness < 0.1
        row = generation_scores(transform.analyze(torch.randn(6, N)).float(), judge, ref, freqs, clarity_threshold=1.5)
        assert tuple(row) == GENERATION_KEYS
        assert row["in_class"] == in_class and row["noise"] == noise and row["n"] == 6
        assert row["frechet_ratio"] == pytest.approx(row["frechet"] / ref.frechet_floor)
        assert row["pitch_clarity"] < 0.5 and row["flatness"] > 10 * ref.flatness
    with pytest.raises(ValueError, match="at least 4 real notes"):
        real_reference(judge, real[:3], freqs)


def test_generation_table_has_one_row_per_model_and_density(transform):
    judge = fixed_judge(transform, "oboe")
    ref = real_reference(judge, harmonic_notes(transform, n=8), transform.frequencies())
    g = torch.Generator().manual_seed(0)
    models = {name: (tiny_model(transform, kind), torch.randn(200, 3, generator=g))
              for name, kind in (("note", "note"), ("frame", "frame"))}
    table = generation_table(models, {k: judge for k in models}, {k: ref for k in models}, n=20, progress=False,
                             densities={"note": fit_densities(models["note"][1], ("prior",))})
    assert list(zip(table.model, table.density)) == [(m, d) for m in models for d in ("prior", "gaussian", "mixture", "kde")]
    assert set(GENERATION_KEYS) <= set(table.columns) and (table["n"] == 20).all()
    assert table.loc[table.density == "mixture", "n_components"].notna().all()
    with pytest.raises(KeyError, match="no judge"):
        generation_table(models, {"note": judge}, {"note": ref}, n=4)


def test_target_checks_and_description_read_the_values():
    import pandas as pd

    from helpers.evaluation.generation import describe_generation, target_checks

    good = {"in_class": 0.9, "noise": 0.05, "flatness_ratio": 2.0, "frechet_ratio": 1.5}
    assert all(target_checks(good).values())
    bad = target_checks({**good, "in_class": 0.5, "frechet_ratio": 4.0})
    assert bad == {"in_class": False, "noise": True, "flatness_ratio": True, "frechet_ratio": False}
    with pytest.raises(KeyError, match="noise"):
        target_checks({"in_class": 1.0})
    rows = [{"model": "note", "density": d, "pitch_clarity": 0.5, "pitch_clarity_recordings": 0.98,
             "flatness": 0.1, **good, "in_class": v} for d, v in (("prior", 0.1), ("mixture", 0.85))]
    text = describe_generation(pd.DataFrame(rows))
    assert "the mixture are the most often in-class (85%" in text and "the prior 10%" in text
    assert "missed" not in text
