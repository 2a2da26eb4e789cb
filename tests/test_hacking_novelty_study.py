"""Notebook 05's studies on tiny untrained models: trade-off points per model and sampler, the
iteration procedure end to end, and the audio chase's verdicts, ranking and sentences."""

import numpy as np
import pandas as pd
import pytest
import torch

from helpers.evaluation.judges import DIGITS, LETTERS, NOISE, Judge, digit_config
from helpers.hacking import Corruption, corrupt, weights_fingerprint
from helpers.hacking import novelty_study as ns
from helpers.hacking import study as hs
from helpers.hacking.iterate import uniform_starts, vae_step
from helpers.models.classifiers import Classifier
from helpers.models.priors import CodeGaussian
from helpers.models.vae import VAE, VAEConfig


@pytest.fixture(scope="module")
def judges():
    torch.manual_seed(0)
    classes = DIGITS + LETTERS + (NOISE,)
    big = Judge(Classifier(digit_config(len(classes), smoke=True)), classes, DIGITS, LETTERS)
    digits = Judge(Classifier(digit_config(len(DIGITS) + 1, smoke=True)), DIGITS + (NOISE,), DIGITS)
    return big, digits


def image_subject(judge):
    torch.manual_seed(1)
    vae = VAE.from_config(VAEConfig(z_dim=4, hidden=(32,))).eval()
    x = (torch.rand(120, 28, 28, generator=torch.Generator().manual_seed(0)) > 0.7).float()
    codes = vae.encode(x)[0].detach()
    return hs.Subject("tiny", "image", vae, judge, codes, hs.as_images(x[:40]), hs.as_images(x[40:]),
                      CodeGaussian.fit(codes), x_train=x)


def test_tradeoff_points_one_per_model_and_sampler_sharing_errors(judges):
    s = image_subject(judges[0])
    before = weights_fingerprint(s.vae)
    zoo = [ns.ZooModel("prior", "main", s.vae), ns.ZooModel("density", "main", s.vae, s.density),
           ns.ZooModel("noisy", "corrupted", corrupt(s.vae, Corruption("gaussian", 2.0)), None, {"level": 2.0})]
    heldout = s.x_train[:30]
    points = ns.tradeoff_points(s, zoo, heldout, n=50, n_steps=3, progress=False)
    assert [p.name for p in points] == ["prior", "density", "noisy"]
    assert all(len(p.in_class) == 50 and len(p.err_encoder) == 30 for p in points)
    assert points[0].err_optimised is not points[1].err_optimised
    assert np.array_equal(points[0].err_encoder, points[1].err_encoder)  # same VAE, same coverage
    assert not np.array_equal(points[0].err_encoder, points[2].err_encoder)
    assert np.all(points[0].err_optimised <= points[0].err_encoder + 1e-6)  # optimisation never worsens
    assert points[2].info["level"] == 2.0 and points[2].info["seconds"] > 0
    assert weights_fingerprint(s.vae) == before
    assert 0.0 <= ns.real_spurious(s) <= 1.0


def test_iteration_study_counts_points_clusters_and_types(judges):
    s = image_subject(judges[0])
    out = ns.iteration_study("tiny VAE", vae_step(s.vae), uniform_starts(60, seed=0), judges[1], judges[0],
                             binarize_share=0.13, n_iter=5, ks=range(2, 5), progress=False)
    summary = out["summary"]
    assert summary["starts"] == 60 and summary["distinct_fixed_points"] == out["points"].n_distinct
    assert sum(out["types"].values()) == summary["k"] == len(out["clusters"])
    assert out["images"].shape == (60, 1, 28, 28)
    facts = ns.iteration_facts(pd.DataFrame([summary]))
    assert f"{summary['distinct_fixed_points']:,} distinct" in facts["text"] and "about 9 to 11" in facts["text"]


def test_audio_kinds_and_sample_objectness():
    class J:
        in_index, out_index, noise_index = [0, 1], [2], 3
    probs = torch.tensor([[0.95, 0.03, 0.01, 0.01], [0.0, 0.02, 0.97, 0.01], [0.0, 0.0, 0.02, 0.98],
                          [0.4, 0.1, 0.4, 0.1]])
    assert ns.audio_kinds(probs, J()).tolist() == ["instrument", "unseen instrument", "noise", "candidate"]
    obj = ns.sample_objectness(probs)
    assert obj.shape == (4,) and obj[3] < obj[0]  # a spread verdict is less object-like


@pytest.fixture(scope="module")
def audio_subject():
    from test_evaluation_generation import N, tiny_model
    from helpers.audio import STFTConfig
    from helpers.audio.transform import build_transform
    from helpers.models.classifiers import ClassifierConfig

    tf = build_transform(STFTConfig(sample_rate=8000, n_fft=256, hop_length=64, scale="db", db_floor=-60.0, gl_n_iter=4))
    g = torch.Generator().manual_seed(0)
    mags = torch.rand(40, *tf.output_shape(N), generator=g)
    tf.fit_scaling(mags)
    model = tiny_model(tf, "note")
    classes = ("flute", "oboe", "viola", NOISE)
    torch.manual_seed(0)
    clf = Classifier(ClassifierConfig(input="spectrum", x_shape=(tf.output_shape(N)[0], 16), n_classes=4,
                                      channels=(4,), dense=8))
    judge = Judge(clf, classes, in_class=("flute", "oboe"), out_class=("viola",), transform=tf)
    codes = model.encode(mags)[0]
    return hs.Subject("tiny note VAE", "audio", model, judge, codes, mags[:10], mags[10:], CodeGaussian.fit(codes),
                      x_train=model.to_model(mags[10:]))


def test_audio_sources_and_chase(audio_subject):
    s = audio_subject
    sources, iterations = ns.audio_sources(s, n=12, n_iter=3, progress=False)
    assert list(sources) == ["prior", "own sampler", "iterated from noise", "iterated from prior draws"]
    shape = s.reference.shape[1:]
    assert all(v.shape == (12, *shape) and torch.all(v >= 0) for v in sources.values())
    assert set(iterations) == {"iterated from noise", "iterated from prior draws"}
    assert all(1 <= v["iterations_max"] <= 3 and v["starts"] == 12 for v in iterations.values())
    chase = ns.audio_chase(s, sources, ks=range(2, 4), progress=False)
    table = chase["table"]
    assert len(table) == 48 and set(table.kind) <= set(ns.AUDIO_KINDS) and (table.novelty >= 0).all()
    assert chase["sources"]["n"].sum() == 48
    shares = chase["sources"][[f"share_{k}" for k in ns.AUDIO_KINDS]].sum(axis=1)
    assert np.allclose(shares, 1.0)
    cand = chase["candidates"]
    assert (cand.kind == "candidate").all() and cand["rank"].is_monotonic_increasing
    facts = ns.chase_facts(chase)
    assert facts["most_new"] in sources and f"{len(cand)} notes in all are candidates" in facts["text"]


def test_frame_sources_make_notes_of_the_judged_shape_and_join_the_chase(audio_subject):
    from test_evaluation_generation import tiny_model

    s = audio_subject
    frame = tiny_model(s.model.transform, "frame")
    sources, iterations = ns.frame_sources(frame, n=5, n_iter=3, ceiling=s.ceiling, progress=False)
    assert list(sources) == ["frame model, steady", "frame model, lines", "frame model, iterated from noise"]
    shape = s.reference.shape[1:]
    assert all(v.shape == (5, *shape) and torch.all(v >= 0) and torch.all(v <= s.ceiling) for v in sources.values())
    steady = sources["frame model, steady"]
    assert torch.allclose(steady[..., :1].expand_as(steady), steady)            # one code held: columns equal
    lines = sources["frame model, lines"]
    assert not torch.allclose(lines[..., :1].expand_as(lines), lines, atol=1e-4)  # a path: columns move
    it = iterations["frame model, iterated from noise"]
    assert it["starts"] == 5 * shape[1] and 1 <= it["iterations_max"] <= 3       # every column of every note
    with pytest.raises(ValueError, match="needs a frame model"):
        ns.frame_sources(s.model, n=2, progress=False)
    quick, info = ns.frame_sources(frame, n=5, progress=False, iterated=False)
    assert list(quick) == ["frame model, steady", "frame model, lines"] and info == {}
    assert torch.equal(quick["frame model, lines"], ns.frame_sources(frame, n=5, n_iter=1, progress=False)[0]["frame model, lines"])
    chase = ns.audio_chase(s, {**ns.audio_sources(s, n=4, n_iter=2, progress=False)[0], **sources}, ks=range(2, 4),
                           progress=False)
    assert chase["sources"]["n"].to_dict()["frame model, lines"] == 5 and len(chase["table"]) == 16 + 15


def test_frame_notes_alternate_held_draws_and_lines(audio_subject):
    from test_evaluation_generation import tiny_model

    frame = tiny_model(audio_subject.model.transform, "frame")
    notes = ns.frame_notes(frame, 5, ceiling=audio_subject.ceiling)
    sources, _ = ns.frame_sources(frame, n=3, ceiling=audio_subject.ceiling, iterated=False, progress=False)
    assert notes.shape == (5, *audio_subject.reference.shape[1:])
    assert torch.equal(notes[0], sources["frame model, steady"][0]) and torch.equal(notes[1], sources["frame model, lines"][0])
    assert torch.equal(notes[4], sources["frame model, steady"][2])
    with pytest.raises(ValueError, match="n=0"):
        ns.frame_notes(frame, 0)


def test_novel_candidates_are_the_chase_candidates(audio_subject):
    s = audio_subject
    cand = ns.novel_candidates(s, n=12, n_iter=2, ks=range(2, 4), progress=False)
    sources, _ = ns.audio_sources(s, n=12, n_iter=2, progress=False)
    chase = ns.audio_chase(s, sources, ks=range(2, 4), progress=False)
    assert len(cand) == len(chase["candidates"]) > 0
    assert set(ns.audio_kinds(s.judge.probs(cand), s.judge)) == {"candidate"}


def test_note_grid_needs_the_subjects_run_and_notes(audio_subject):
    with pytest.raises(ValueError, match="needs the subject's run and prepared notes"):
        ns.note_grid(audio_subject, z_dims=(2,), betas=(1.0,))


def test_audio_heldout_and_map_need_the_prepared_set(audio_subject):
    with pytest.raises(ValueError, match="no prepared audio set"):
        ns.audio_heldout(audio_subject)
    with pytest.raises(ValueError, match="no prepared audio set"):
        ns.novelty_map_inputs(audio_subject, {})


def test_novelty_map_inputs_put_real_notes_first(audio_subject):
    import dataclasses

    class Data:
        def __init__(self, mags):
            self.mags = mags

        def magnitudes(self, part):
            return self.mags[:6] if part == "train" else self.mags[6:9]

    s = dataclasses.replace(audio_subject, data=Data(audio_subject.train))
    sources, _ = ns.audio_sources(s, n=4, n_iter=2, progress=False)
    chase = ns.audio_chase(s, sources, ks=range(2, 4), progress=False)
    m = ns.novelty_map_inputs(s, chase, n_real=5)
    assert m["offset"] == 5 + 3 and len(m["magnitudes"]) == len(m["features"]) == len(m["kinds"]) == len(m["captions"]) == 8 + 16
    assert m["kinds"][:5] == ["real: training instrument"] * 5 and m["kinds"][5] == "real: unseen instrument"
    assert m["kinds"][8] == f"generated: {chase['table'].kind.iloc[0]}"
    assert torch.equal(m["magnitudes"][8:], chase["samples"]) and m["captions"][8].startswith("prior: ")
