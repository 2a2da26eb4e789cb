"""Cached runs (train once, reload after) and the per-step learning curve."""

import json

import pytest
import torch

from helpers.models import VAEConfig
from helpers.training import Callback, TrainerConfig
from helpers.training.cached import cached_fit, fit_key, tensor_fingerprint
from helpers.training.learning_curve import LearningCurve

X_SHAPE = (8, 8)


def tiny_data(n=80, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, *X_SHAPE, generator=g) > 0.6).float()


MODEL = VAEConfig(x_shape=X_SHAPE, z_dim=2, hidden=(16,))


def trainer_config(**kw):
    return TrainerConfig(**{"n_epochs": 2, "batch_size": 32, "progress": False, "device": "cpu", **kw})


def test_fingerprint_follows_content_not_identity():
    x = tiny_data()
    assert tensor_fingerprint(x) == tensor_fingerprint(x.clone())
    y = x.clone()
    y[0, 0, 0] = 1 - y[0, 0, 0]
    assert tensor_fingerprint(x) != tensor_fingerprint(y)
    assert tensor_fingerprint(x[:40]) != tensor_fingerprint(x)


def test_fit_key_ignores_cosmetic_fields_only():
    x = tiny_data()
    a = fit_key(MODEL, trainer_config(), x)
    assert a == fit_key(MODEL, trainer_config(progress=True, name="other", run_root="/elsewhere"), x)
    assert a != fit_key(MODEL, trainer_config(lr=2e-3), x)
    assert a != fit_key(MODEL.replace(z_dim=3), trainer_config(), x)
    assert a != fit_key(MODEL, trainer_config(), x, warmup_epochs=1)
    assert a != fit_key(MODEL, trainer_config(), x, minutes=1.0)


def test_second_call_reloads_the_same_model_without_training(tmp_path):
    x, x_val = tiny_data(), tiny_data(32, seed=1)
    first = cached_fit(MODEL, trainer_config(), x, x_val, name="t", run_root=tmp_path, warmup_epochs=1)
    assert not first.reused and first.epochs == 2 and (first.run_dir / "done.json").is_file()
    mtime = (first.run_dir / "checkpoints" / "last.pt").stat().st_mtime_ns
    second = cached_fit(MODEL, trainer_config(progress=True), x, x_val, name="t", run_root=tmp_path,
                        warmup_epochs=1)
    assert second.reused and second.run_dir == first.run_dir
    assert (first.run_dir / "checkpoints" / "last.pt").stat().st_mtime_ns == mtime  # nothing written
    assert second.history == first.history
    assert second.train_seconds == pytest.approx(first.train_seconds)
    for p, q in zip(first.model.parameters(), second.model.parameters()):
        assert torch.equal(p.cpu(), q.cpu())
    other = cached_fit(MODEL, trainer_config(lr=2e-3), x, x_val, name="t", run_root=tmp_path, warmup_epochs=1)
    assert not other.reused and other.run_dir != first.run_dir


def test_cached_metrics_are_computed_once(tmp_path):
    run = cached_fit(MODEL, trainer_config(n_epochs=1), tiny_data(), name="t", run_root=tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"nll": 1.5}

    assert run.cached_metrics("test", compute) == {"nll": 1.5}
    assert run.cached_metrics("test", compute) == {"nll": 1.5}
    assert len(calls) == 1
    assert json.loads((run.run_dir / "eval-test.json").read_text()) == {"nll": 1.5}


class InterruptAfter(Callback):
    """Raises KeyboardInterrupt when epoch ``n`` + 1 is about to start (epoch ``n`` is saved)."""

    def __init__(self, n):
        self.n = n

    def on_epoch_begin(self, trainer):
        if trainer.epoch == self.n:
            raise KeyboardInterrupt


def test_an_interrupted_run_resumes_and_then_matches_an_uninterrupted_one(tmp_path):
    x = tiny_data()
    full = cached_fit(MODEL, trainer_config(n_epochs=3), x, name="a", run_root=tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        cached_fit(MODEL, trainer_config(n_epochs=3), x, name="b", run_root=tmp_path / "b",
                   callbacks=[InterruptAfter(1)])
    resumed = cached_fit(MODEL, trainer_config(n_epochs=3), x, name="b", run_root=tmp_path / "b")
    assert not resumed.reused and resumed.epochs == 3 and len(resumed.history) == 3
    assert (resumed.run_dir / "done.json").is_file()
    for p, q in zip(full.model.parameters(), resumed.model.parameters()):
        assert torch.equal(p.cpu(), q.cpu())


def test_learning_curve_records_examples_seen_and_travels_in_the_checkpoint(tmp_path):
    x, x_eval = tiny_data(80), tiny_data(16, seed=2)
    curve = LearningCurve(every_n_steps=2, x_eval=x_eval, eval_every_n_steps=3,
                          eval_fn=lambda model: {"z_dim": model.z_dim})
    run = cached_fit(MODEL, trainer_config(), x, name="c", run_root=tmp_path, callbacks=[curve], warmup_epochs=1)
    # 80 examples in batches of 32: steps of 32, 32, 16 per epoch; a record every 2nd global step and at epoch ends
    assert [r["examples"] for r in curve.records] == [64, 80, 112, 160]
    assert [r["step"] for r in curve.records] == [2, 3, 4, 6]
    assert {"train_elbo", "train_rec", "train_kl", "train_loss", "beta"} <= set(curve.records[0])
    first = curve.records[0]
    assert first["train_elbo"] == pytest.approx(-(first["train_rec"] + first["train_kl"]), rel=1e-5)
    assert [r["step"] for r in curve.eval_records] == [3, 6]
    assert curve.eval_records[0]["z_dim"] == 2 and "eval_elbo" in curve.eval_records[0]
    reloaded = LearningCurve(every_n_steps=2, x_eval=x_eval, eval_every_n_steps=3)
    again = cached_fit(MODEL, trainer_config(), x, name="c", run_root=tmp_path, callbacks=[reloaded],
                       warmup_epochs=1)
    assert again.reused
    assert reloaded.records == curve.records and reloaded.eval_records == curve.eval_records
    assert again.callbacks == [reloaded]


def test_learning_curve_needs_a_positive_window():
    with pytest.raises(ValueError):
        LearningCurve(every_n_steps=0)
