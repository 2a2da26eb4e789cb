"""Held-out reconstruction metrics of the audio VAEs."""


import pytest
import torch

from helpers.audio import STFTConfig
from helpers.evaluation.audio import evaluate_reconstructions, magnitude_metrics, resynthesize, summarize
from helpers.models import VAEConfig
from helpers.training import TrainerConfig
from helpers.training.audio import AudioExperimentConfig, prepare_audio_data, train_audio_vae

SR, N = 8000, 4000


def test_perfect_reconstruction_scores_zero():
    g = torch.Generator().manual_seed(0)
    m = torch.rand(3, 20, 30, generator=g) ** 4
    perfect = magnitude_metrics(m, m.clone())
    assert perfect["sc"].shape == (3,) and perfect["lsd"].shape == (3,)
    assert torch.allclose(perfect["sc"], torch.zeros(3), atol=1e-6)
    assert torch.allclose(perfect["lsd"], torch.zeros(3), atol=1e-6)
    double = magnitude_metrics(m, 2 * m)
    assert torch.allclose(double["sc"], torch.ones(3), atol=1e-5)
    # every bin 6.02 dB off, except those below the 80 dB floor of each note
    assert torch.all(double["lsd"] <= 20 * torch.log10(torch.tensor(2.0)) + 1e-4)
    assert torch.all(double["lsd"] > 5.0)


@pytest.fixture(scope="module")
def tiny_run(toy_audio_root):
    root = toy_audio_root
    config = AudioExperimentConfig(
        name="tiny-eval", model="note",
        transform=STFTConfig(sample_rate=SR, n_fft=256, hop_length=64, scale="db", db_floor=-60.0, gl_n_iter=8),
        vae=VAEConfig(z_dim=3, architecture="conv", conv_channels=(4, 8), conv_hidden=16, likelihood="gaussian",
                      scale="per_feature", init_scale=0.3),
        trainer=TrainerConfig(n_epochs=2, batch_size=4, progress=False), data_root=str(root / "notes"),
        n_samples=N, val_fraction=0.3, time_pool=4)
    run = train_audio_vae(config, run_root=root / "runs")
    data = prepare_audio_data(run.config, progress=False)
    yield run, data


def test_held_out_metrics_on_magnitudes_and_after_phase_reconstruction(tiny_run):
    run, data = tiny_run
    magnitude = data.magnitudes("val")
    assert len(magnitude) == (data.labels.part == "val").sum() > 0
    table = evaluate_reconstructions(run.model, magnitude, n_iter=8)
    expected = {f"{p}_{m}" for p in ("mag", "audio", "oracle", "pool") for m in ("sc", "lsd")}
    assert set(table.columns) == expected and len(table) == len(magnitude)
    means = summarize(table)
    assert all(v == v and v >= 0 for v in means.values())
    # the phase reconstruction of the true magnitude is much closer than an untrained-ish model
    assert means["oracle_sc"] < 0.5 and means["pool_sc"] < means["mag_sc"] + 1e-6
    only_mag = evaluate_reconstructions(run.model, magnitude, audio=False)
    assert set(only_mag.columns) == {"mag_sc", "mag_lsd", "pool_sc", "pool_lsd"}


def test_resynthesize_batches(tiny_run, capsys):
    run, data = tiny_run
    magnitude = data.magnitudes("val")[:3]
    waves = resynthesize(run.transform, magnitude, n_iter=2, batch_size=2, length=N)
    assert waves.shape == (len(magnitude), N) and torch.isfinite(waves).all()
    assert "note" not in capsys.readouterr().err
    again = resynthesize(run.transform, magnitude, n_iter=2, batch_size=2, length=N, progress=True, desc="to sound")
    assert torch.allclose(again, waves)
    err = capsys.readouterr().err
    assert "to sound" in err and f"/{len(magnitude)}" in err  # a bar over the notes


def test_error_by_level_separates_partials_from_the_floor():
    from helpers.evaluation.audio import error_by_level

    m = torch.full((1, 10, 4), 1e-4)
    m[0, 2] = 1.0  # one loud "partial" row, the rest 80 dB down
    est = m.clone()
    est[0, 2] = 0.5  # 6 dB off on the partial only
    out = error_by_level(m, est)
    assert abs(out["loud_err_db"] - 6.02) < 0.01 and out["quiet_err_db"] < 1e-9
    assert abs(out["loud_share"] - 0.1) < 1e-9 and abs(out["quiet_share"] - 0.9) < 1e-9
    assert out["loud_db"] == -30.0 and out["quiet_db"] == -60.0


def _stft_magnitudes(waves, n_fft=2048, hop=512):
    window = torch.hann_window(n_fft, dtype=torch.float64)
    return torch.stft(waves.double(), n_fft, hop, window=window, return_complex=True).abs()


def test_estimate_pitch_finds_harmonic_notes_and_a_missing_fundamental():
    import numpy as np

    from helpers.audio.synthetic import harmonic_note
    from helpers.evaluation.audio import estimate_pitch

    sr = 22050
    midis = [33.0, 45.0, 57.3, 69.0, 81.0, 93.0]
    waves = torch.stack([harmonic_note(440 * 2 ** ((m - 69) / 12), sr, sr, seed=i) for i, m in enumerate(midis)])
    mag = _stft_magnitudes(waves)
    freqs = np.fft.rfftfreq(2048, 1 / sr)
    est = estimate_pitch(mag, freqs)
    assert np.allclose(est, midis, atol=0.4), est  # 55 Hz falls between 10.8 Hz bins: 0.375 off
    # remove the fundamental of A2 (110 Hz): the harmonics still say A2
    f0 = 110.0
    t = torch.arange(sr, dtype=torch.float64) / sr
    no_fund = sum(torch.sin(2 * torch.pi * h * f0 * t) / h for h in range(2, 9))
    assert abs(estimate_pitch(_stft_magnitudes(no_fund[None]), freqs)[0] - 45.0) <= 0.25
    # silence has no pitch; wrong shapes are named
    assert np.isnan(estimate_pitch(torch.zeros(1, len(freqs), 5), freqs)[0])
    with pytest.raises(ValueError, match="frequencies"):
        estimate_pitch(mag, freqs[:-1])
    with pytest.raises(ValueError, match=r"\[N, F, T\]"):
        estimate_pitch(mag[0], freqs)


def test_instrument_probe_separates_timbres_and_needs_fitting():
    import numpy as np

    from helpers.audio.stft import STFTTransform
    from helpers.audio.synthetic import harmonic_note
    from helpers.evaluation.audio import InstrumentProbe

    transform = STFTTransform(STFTConfig(sample_rate=SR, n_fft=256, hop_length=64, scale="db", db_floor=-60.0))
    rng = np.random.default_rng(0)

    def notes(brightness, n, seed):
        return torch.stack([harmonic_note(float(rng.uniform(150, 400)), N, SR, brightness=brightness, seed=seed + i)
                            for i in range(n)])

    waves = torch.cat([notes(0.5, 12, 0), notes(2.5, 12, 100)])
    labels = np.array(["bright"] * 12 + ["dull"] * 12)
    mag = transform.analyze(waves)
    transform.fit_scaling(mag)
    probe = InstrumentProbe(transform)
    with pytest.raises(RuntimeError, match="fit"):
        probe.predict(mag)
    with pytest.raises(ValueError, match="two instruments"):
        probe.fit(mag[:12], labels[:12])
    probe.fit(mag[::2], labels[::2])
    assert probe.accuracy(mag[1::2], labels[1::2]) == 1.0
    assert probe.accuracy(mag[1::2], labels[1::2][::-1]) < 0.5


def test_recognisability_of_a_trained_model(tiny_run):
    from helpers.evaluation.audio import InstrumentProbe, recognisability

    run, data = tiny_run
    train, val = data.part("train"), data.part("val")
    probe = InstrumentProbe(run.transform).fit(data.magnitudes("train"), train["instrument"])
    out = recognisability(run.model, data.magnitudes("val"), val["pitch"], val["instrument"], probe)
    assert set(out) == {"pitch_agreement", "pitch_acc_original", "instrument_acc_recon", "instrument_acc_original"}
    assert all(0.0 <= v <= 1.0 for v in out.values())
    assert probe.accuracy(data.magnitudes("train"), train["instrument"]) == 1.0
    assert out["pitch_acc_original"] == 1.0  # the toy notes are clean harmonic tones
    # the per-note table behind the summary
    from helpers.evaluation.audio import note_recognition

    table = note_recognition(run.model, data.magnitudes("val"), probe)
    assert len(table) == len(val) and set(table["heard_as"]) <= set(train["instrument"])
    assert table["pitch_kept"].mean() == pytest.approx(out["pitch_agreement"])
    assert (table["heard_as"].to_numpy() == val["instrument"].to_numpy()).mean() == pytest.approx(out["instrument_acc_recon"])
    assert ((table["pitch_original"] - val["pitch"]).abs() <= 0.5).all()
    assert (table["sc"] >= 0).all()


class _FixedModel:
    """A stand-in audio model whose reconstruction is given: the input itself, or noise."""

    def __init__(self, model, noise: bool = False):
        self.transform, self.n_samples, self.noise = model.transform, model.n_samples, noise

    def reconstruct(self, magnitude):
        if not self.noise:
            return magnitude
        g = torch.Generator().manual_seed(0)
        return torch.rand(magnitude.shape, generator=g) * magnitude.mean()


def test_recognisability_of_the_sound_after_phase_reconstruction(tiny_run):
    """n_iter: pitch and instrument are asked of the phase-reconstructed sound, analysed again."""
    from helpers.evaluation.audio import InstrumentProbe, note_recognition, recognisability

    run, data = tiny_run
    train, val = data.part("train"), data.part("val")
    probe = InstrumentProbe(run.transform).fit(data.magnitudes("train"), train["instrument"])
    mags = data.magnitudes("val")
    perfect = recognisability(_FixedModel(run.model), mags, val["pitch"], val["instrument"], probe, n_iter=16)
    assert perfect["pitch_agreement"] == 1.0 and perfect["pitch_agreement_sound"] == 1.0
    assert perfect["instrument_acc_sound"] == perfect["instrument_acc_original"]
    heard = note_recognition(_FixedModel(run.model), mags, probe, n_iter=16)
    assert (heard["heard_as_sound"] == heard["heard_as_original"]).all()  # the probe hears the sound as the note
    assert ((heard["pitch_sound"] - heard["pitch_original"]).abs() <= 0.5).all()
    assert perfect["n_sound"] == len(val)
    noise = recognisability(_FixedModel(run.model, noise=True), mags, val["pitch"], val["instrument"], probe, n_iter=16)
    assert noise["pitch_agreement_sound"] <= 0.5
    two = recognisability(_FixedModel(run.model), mags, val["pitch"], val["instrument"], probe, n_iter=16, n_sound=2)
    assert two["n_sound"] == 2 and two["pitch_agreement_sound"] == 1.0
    table = note_recognition(run.model, mags, probe, n_iter=16)
    assert {"pitch_sound", "pitch_kept_sound", "heard_as_sound"} <= set(table)
    assert len(table) == len(val) and set(table["heard_as_sound"]) <= set(train["instrument"])
    assert "pitch_sound" not in note_recognition(run.model, mags, probe)  # spectra only without n_iter


def test_path_smoothness_tells_a_crossfade_from_a_cut():
    from helpers.evaluation.audio import path_smoothness

    g = torch.Generator().manual_seed(0)
    a_db, b_db = -60 * torch.rand(30, generator=g), -60 * torch.rand(30, generator=g)
    w = torch.linspace(0, 1, 11)
    fade = 10 ** (((1 - w) * a_db[:, None] + w * b_db[:, None]) / 20)
    smooth = path_smoothness(fade)
    assert smooth["max_step_ratio"] == pytest.approx(0.1, rel=1e-6)
    assert smooth["max_step_db"] == pytest.approx(smooth["mean_step_db"], rel=1e-6)
    cut = torch.cat([10 ** (a_db[:, None] / 20).expand(30, 5), 10 ** (b_db[:, None] / 20).expand(30, 6)], 1)
    assert path_smoothness(cut)["max_step_ratio"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="T >= 2"):
        path_smoothness(fade[:, :1])


def test_spectral_flatness_separates_tones_from_noise():
    import numpy as np

    from helpers.audio.synthetic import harmonic_note
    from helpers.evaluation.audio import spectral_flatness

    sr = 22050
    tone = harmonic_note(220.0, sr, sr)[None]
    noise = torch.randn(1, sr, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    mags = torch.cat([_stft_magnitudes(tone), _stft_magnitudes(noise)])
    flat = spectral_flatness(mags)
    assert flat.shape == (2,) and flat[0] < 0.05 and flat[1] > 0.4
    assert np.isnan(spectral_flatness(torch.zeros(1, 10, 4))[0])
    with pytest.raises(ValueError, match=r"\[N, F, T\]"):
        spectral_flatness(mags[0])


def test_scores_in_one_common_stft_domain(tiny_run):
    from helpers.audio.transform import build_transform
    from helpers.evaluation.audio import evaluate_run

    run, data = tiny_run
    magnitude = data.magnitudes("val")
    waves = data.waves("val", range(len(magnitude)))
    common = build_transform(STFTConfig(sample_rate=SR, n_fft=512, hop_length=128))
    table = evaluate_reconstructions(run.model, magnitude, n_iter=8, waves=waves, common=common)
    assert {"common_sc", "common_lsd", "common_oracle_sc", "common_oracle_lsd"} <= set(table.columns)
    # the recordings' own phase reconstruction is far closer to them than the model's sound
    assert (table["common_oracle_sc"] < table["common_sc"]).all() and (table["common_sc"] >= 0).all()
    out = evaluate_run(run.model, magnitude, n_audio=2, n_iter=4, waves=waves, common=common)
    assert out["n_audio_notes"] == 2 and 0 <= out["common_oracle_sc"] < out["common_sc"]
    with pytest.raises(ValueError, match="waves"):
        evaluate_reconstructions(run.model, magnitude, n_iter=2, waves=waves[:1], common=common)
