"""The CNN classifiers of the judges: packing, shapes, input stage, augmentation, training."""

import pytest
import torch

from helpers.models import Classifier, ClassifierConfig, build_model, pack, unpack
from helpers.models.classifiers import magnitude_to_unit, pool_frames
from helpers.training import Trainer, TrainerConfig

SMALL = dict(channels=(4, 8), dense=16)


def test_pack_round_trip_uint8_and_float():
    x = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    y = torch.tensor([0, 3, 9, 36, 1])
    batch = pack(x, y)
    assert batch.dtype == torch.uint8 and batch.shape == (5, 785)
    x2, y2 = unpack(batch, (28, 28))
    assert torch.equal(x2, x) and torch.equal(y2, y)
    xf = torch.randn(4, 7, 3)
    xf2, yf2 = unpack(pack(xf, torch.arange(4)), (7, 3))
    assert torch.equal(xf2, xf) and torch.equal(yf2, torch.arange(4))


def test_pack_and_unpack_reject_bad_input():
    with pytest.raises(ValueError, match="labels"):
        pack(torch.zeros(3, 2), torch.zeros(2))
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        pack(torch.zeros(1, 2, dtype=torch.uint8), torch.tensor([300]))
    with pytest.raises(ValueError, match="packed batch"):
        unpack(torch.zeros(2, 10), (28, 28))


@pytest.mark.parametrize("shape", [(6, 28, 28), (6, 1, 28, 28)])
def test_image_classifier_shapes(shape):
    model = Classifier(ClassifierConfig(n_classes=11, **SMALL)).eval()
    logits, feats = model.logits_and_features(torch.rand(shape))
    assert logits.shape == (6, 11) and feats.shape == (6, 16)
    out = model(pack(torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8), torch.arange(6)))
    assert out["loss"].dim() == 0 and out["nll"].shape == (6,) and out["error"].shape == (6,)


def test_spectrum_classifier_takes_any_number_of_frames():
    cfg = ClassifierConfig(input="spectrum", x_shape=(40, 8), n_frames=8, n_classes=5, freq_pool=2, **SMALL)
    model = Classifier(cfg).eval()
    for n_time in (8, 37):
        logits, _ = model.logits_and_features(torch.rand(3, 40, n_time))
        assert logits.shape == (3, 5)
    assert cfg.net_shape == (20, 8)
    with pytest.raises(ValueError, match=r"\[N, 40, T\]"):
        model.logits_and_features(torch.rand(3, 41, 8))


def test_config_round_trip_and_errors():
    cfg = ClassifierConfig(n_classes=37, channels=(8, 16, 32))
    model = build_model(cfg.to_dict())
    assert isinstance(model, Classifier) and model.config == cfg
    with pytest.raises(ValueError, match="input"):
        ClassifierConfig(input="video")
    with pytest.raises(ValueError, match="freq_axis"):
        ClassifierConfig(freq_axis="mel")
    with pytest.raises(ValueError, match="too small"):
        Classifier(ClassifierConfig(channels=(4, 4, 4, 4, 4, 4)))


def test_level_normalisation_removes_gain():
    m = torch.rand(2, 10, 5) + 0.01
    a, b = magnitude_to_unit(m), magnitude_to_unit(m * 100)
    assert torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(a.flatten(1).max(1).values, torch.ones(2))
    assert magnitude_to_unit(torch.zeros(1, 3, 3)).abs().max() == 0  # silence stays finite
    assert pool_frames(torch.arange(8.).view(1, 1, 8), 4).tolist() == [[[0.5, 2.5, 4.5, 6.5]]]


def test_augmentation_only_in_training():
    model = Classifier(ClassifierConfig(n_classes=3, dropout=0.0, **SMALL))
    x = torch.zeros(4, 1, 28, 28)
    x[:, :, 10:18, 12:16] = 1
    assert torch.equal(model.prepare(x[:, 0]), x)
    torch.manual_seed(0)
    moved = model._augment(x)
    assert moved.shape == x.shape and not torch.allclose(moved, x) and moved.min() >= 0 and moved.max() <= 1
    batch = pack(x[:, 0], torch.zeros(4))
    model.eval()
    assert torch.equal(model(batch)["nll"], model(batch)["nll"])


def test_log_axis_pitch_shift_translates_the_spectrum():
    cfg = ClassifierConfig(input="spectrum", x_shape=(48, 4), n_frames=4, n_classes=2, freq_axis="log",
                           bins_per_octave=12, pitch_semitones=3.0, time_shift_frames=0.0, floor_jitter_db=0.0,
                           **SMALL)
    model = Classifier(cfg)
    x = torch.zeros(64, 1, 48, 4)
    x[:, :, 20] = 1.0
    torch.manual_seed(1)
    peaks = model._augment(x).mean(-1)[:, 0].argmax(1)
    assert peaks.min() >= 17 and peaks.max() <= 23 and len(peaks.unique()) > 2


def test_training_lowers_the_loss_and_eval_keeps_the_weights():
    torch.manual_seed(0)
    x = torch.zeros(64, 28, 28)
    y = torch.arange(64) % 2
    x[y == 0, 5:20, 5:9] = 1   # a vertical bar
    x[y == 1, 5:9, 5:20] = 1   # a horizontal bar
    data = pack((x * 255).to(torch.uint8), y)
    model = Classifier(ClassifierConfig(n_classes=2, augment=False, **SMALL))
    trainer = Trainer(model, TrainerConfig(n_epochs=8, batch_size=16, lr=3e-3, progress=False), run_dir=False)
    before = trainer.evaluate(data)["loss"]
    weights = [p.clone() for p in model.parameters()]
    trainer.evaluate(data)
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))
    trainer.fit(data)
    after = trainer.evaluate(data)
    assert after["loss"] < before * 0.5 and after["error"] == 0.0


def _spectrum_model(**kw):
    cfg = dict(input="spectrum", x_shape=(48, 8), n_frames=8, n_classes=3, freq_axis="log", bins_per_octave=12,
               pitch_semitones=0.0, time_shift_frames=0.0, floor_jitter_db=0.0, **SMALL)
    return Classifier(ClassifierConfig(**{**cfg, **kw}))


def test_random_equaliser_moves_levels_smoothly_and_keeps_the_peak_and_floor():
    model = _spectrum_model(eq_db=12.0, tilt_db_per_octave=3.0)
    x = torch.full((16, 1, 48, 8), 0.5)
    x[:, :, 40:] = 0.0  # below the floor: stays there
    x[:, :, 10, :] = 1.0
    torch.manual_seed(0)
    out = model._augment(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert torch.allclose(out.flatten(1).amax(1), torch.ones(16))  # every note's peak back at 0 dB
    assert torch.equal(out[:, :, 40:], x[:, :, 40:])
    moved = (out - x)[:, 0, :40, 0] * 80  # dB
    assert moved.abs().max() > 1.0  # levels changed ...
    steps = (moved[:, 1:] - moved[:, :-1]).abs()
    assert steps.max() < 24 / 12 + 3 / 12 + 1e-3  # ... along a curve smooth over an octave (12 bins here)
    assert torch.equal(_spectrum_model()._augment(x), x)  # off by default (no pitch/time/floor change either)
    with pytest.raises(ValueError, match="eq_db"):
        ClassifierConfig(eq_db=-1.0)


def test_frame_level_norm_time_pool_and_mixup():
    m = torch.rand(2, 48, 8) + 0.01
    m[:, :, :4] *= 0.01  # a quiet first half
    per_frame = magnitude_to_unit(m, per_frame=True)
    assert torch.allclose(per_frame.amax(-2), torch.ones(2, 8))
    assert magnitude_to_unit(m)[:, :, :4].amax() < 0.8
    with pytest.raises(ValueError, match="level_norm"):
        ClassifierConfig(level_norm="bin")
    model = _spectrum_model(level_norm="frame", time_pool=True, mixup=0.4)
    assert model.fc[1].in_features == 8 * 12  # channels x frequency rows, time averaged
    logits, feats = model.eval().logits_and_features(m)
    assert logits.shape == (2, 3) and feats.shape == (2, 16)
    batch = pack(torch.rand(8, 48, 8), torch.arange(8) % 3)
    torch.manual_seed(0)
    model.train()
    assert torch.isfinite(model(batch)["loss"])
    model.eval()
    assert torch.equal(model(batch)["nll"], model(batch)["nll"])  # no mixing in eval mode


def test_added_fields_stay_out_of_the_dict_at_their_default():
    plain = ClassifierConfig(n_classes=5)
    assert not set(plain.to_dict()) & {"eq_db", "mixup", "level_norm", "time_pool", "tilt_db_per_octave"}
    assert ClassifierConfig.from_dict(plain.to_dict()) == plain
    used = ClassifierConfig(n_classes=5, eq_db=6.0, level_norm="frame")
    assert used.to_dict()["eq_db"] == 6.0 and "mixup" not in used.to_dict()
    assert ClassifierConfig.from_dict(used.to_dict()) == used
