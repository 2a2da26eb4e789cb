"""The Trainer: steps, checkpoints, resume, non-finite losses, warm-up, schedules, run folders."""

import json
import math

import pytest
import torch

from helpers.models import VAEConfig, build_model
from helpers.training import (
    BetaWarmup,
    Callback,
    NonFiniteLossError,
    Trainer,
    TrainerConfig,
    beta_schedule,
    load_checkpoint,
    load_model,
    new_run_dir,
    seed_everything,
)

X_SHAPE = (8, 8)


def tiny_model(seed=0, **kw):
    torch.manual_seed(seed)
    return build_model(VAEConfig(x_shape=X_SHAPE, z_dim=2, hidden=(16,), **kw))


def tiny_data(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, *X_SHAPE, generator=g) > 0.6).float()


def config(tmp_path, **kw):
    base = dict(n_epochs=2, batch_size=32, progress=False, run_root=str(tmp_path / "runs"), name="t")
    base.update(kw)
    return TrainerConfig(**base)


def params_of(model):
    return [p.detach().clone() for p in model.parameters()]


def test_loss_decreases_on_a_tiny_batch(tmp_path):
    trainer = Trainer(tiny_model(), config(tmp_path, lr=1e-2), run_dir=False)
    prototypes = tiny_data(4, seed=5)
    x = prototypes.repeat(8, 1, 1)  # four patterns: learnable, unlike pure noise
    losses = [float(trainer.train_step(x)["loss"]) for _ in range(60)]
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5


def test_weights_change_after_train_step_not_after_eval_step(tmp_path):
    trainer = Trainer(tiny_model(), config(tmp_path), run_dir=False)
    x = tiny_data(32)
    before = params_of(trainer.model)
    trainer.eval_step(x)
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))
    trainer.evaluate(x)
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))
    trainer.train_step(x)
    assert all(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))


def test_fit_writes_run_folder_checkpoints_and_metrics(tmp_path):
    trainer = Trainer(tiny_model(), config(tmp_path), extra_config={"data": "synthetic"})
    history = trainer.fit(tiny_data(), tiny_data(40, seed=1))
    run = trainer.run_dir
    assert run.parent == tmp_path / "runs" and run.name.startswith("t-")
    assert [h["epoch"] for h in history] == [1, 2]
    assert {"train_loss", "train_kl", "val_loss", "val_elbo", "lr", "beta", "time_s"} <= set(history[0])
    saved = json.loads((run / "config.json").read_text())
    assert saved["model"]["x_shape"] == list(X_SHAPE) and saved["trainer"]["n_epochs"] == 2
    assert saved["extra"] == {"data": "synthetic"} and "torch" in saved["versions"]
    assert json.loads((run / "metrics.json").read_text()) == history
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")  # weights_only=True inside
    assert ckpt["epoch"] == 2 and ckpt["global_step"] == 6
    assert {"model_state", "optimizer_state", "config", "metrics", "versions", "rng"} <= set(ckpt)
    assert (run / "checkpoints" / "best.pt").exists()
    assert not list(run.rglob("*.tmp"))


def test_two_runs_of_one_config_never_share_a_folder(tmp_path):
    from helpers.training import latest_run_dir

    cfg = {"model": {"z_dim": 2}}
    a, b = new_run_dir("x", cfg, tmp_path), new_run_dir("x", cfg, tmp_path)
    assert a != b and a.is_dir() and b.is_dir()
    assert a.name.split("-")[1] == b.name.split("-")[1]  # same config hash
    assert latest_run_dir("x", tmp_path) is None  # no checkpoint yet
    assert latest_run_dir("x", tmp_path, require=None) in (a, b)


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    trainer = Trainer(tiny_model(), config(tmp_path, n_epochs=1))
    trainer.fit(tiny_data())
    path = trainer.run_dir / "checkpoints" / "last.pt"
    x = tiny_data(10, seed=3).to(trainer.device)
    expected = trainer.model.eval().reconstruct(x)
    model = load_model(path).to(trainer.device)
    torch.testing.assert_close(model.reconstruct(x), expected, rtol=0, atol=0)
    other = Trainer.from_checkpoint(path)
    torch.testing.assert_close(other.model.eval().reconstruct(x), expected, rtol=0, atol=0)
    assert other.epoch == 1 and other.run_dir == trainer.run_dir
    for a, b in zip(trainer.optimizer.state_dict()["state"].values(), other.optimizer.state_dict()["state"].values()):
        torch.testing.assert_close(a["exp_avg"], b["exp_avg"])


def test_best_checkpoint_is_chosen_on_the_validation_elbo_not_the_warmup_weighted_loss(tmp_path):
    # cyclical warm-up, beta 0 and 1 in turn: the beta = 0 epochs leave the KL out of the loss
    protos = tiny_data(4, seed=5)
    x, x_val = protos.repeat(24, 1, 1), protos.repeat(10, 1, 1)
    warmup = BetaWarmup(n_epochs=6, mode="cyclical", n_cycles=3, per_step=False)
    trainer = Trainer(tiny_model(), config(tmp_path, n_epochs=6, lr=1e-2), callbacks=[warmup])
    history = trainer.fit(x, x_val)
    assert [h["beta"] for h in history] == [0.0, 1.0] * 3
    by_loss = min(history, key=lambda h: h["val_loss"])["epoch"]
    by_elbo = max(history, key=lambda h: h["val_elbo"])["epoch"]
    assert history[by_loss - 1]["beta"] == 0.0 and by_loss != by_elbo  # the weighted loss would mislead
    best = load_checkpoint(trainer.run_dir / "checkpoints" / "best.pt")
    assert best["epoch"] == by_elbo and best["best_val"] == pytest.approx(-history[by_elbo - 1]["val_elbo"])
    assert Trainer.selection_score({"val_loss": 3.0}) == 3.0 and Trainer.selection_score({}) is None


class InterruptAt(Callback):
    """Raises KeyboardInterrupt at a given global step, as a user pressing Ctrl-C would."""

    def __init__(self, step):
        self.step = step

    def on_step_begin(self, trainer):
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path):
    x, x_val = tiny_data(), tiny_data(40, seed=1)
    kw = dict(n_epochs=3, lr_schedule="exponential", lr_final=1e-4)
    warm = dict(n_epochs=2)
    seed_everything(0)
    straight = Trainer(tiny_model(), config(tmp_path, **kw), callbacks=[BetaWarmup(**warm)],
                       batch_transform=torch.bernoulli)
    straight.fit(x, x_val)

    interrupted = Trainer(tiny_model(), config(tmp_path, **kw), callbacks=[BetaWarmup(**warm), InterruptAt(4)],
                          batch_transform=torch.bernoulli)
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(x, x_val)  # epoch 1 (steps 0-2) done, interrupted inside epoch 2
    run = interrupted.run_dir
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 1

    resumed = Trainer(tiny_model(seed=123), config(tmp_path, **kw), callbacks=[BetaWarmup(**warm)],
                      batch_transform=torch.bernoulli, run_dir=run)
    history = resumed.fit(x, x_val, resume=True)
    assert [h["epoch"] for h in history] == [1, 2, 3] and resumed.global_step == 9
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for h1, h2 in zip(straight.history, history):
        for key in ("train_loss", "val_loss", "lr", "beta"):
            assert h1[key] == pytest.approx(h2[key], rel=1e-12)


class PoisonWeights(Callback):
    """Fills the weights with NaN at the start of a given epoch (a diverged update)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, trainer):
        if trainer.epoch + 1 == self.epoch:
            with torch.no_grad():
                for p in trainer.model.parameters():
                    p.fill_(float("nan"))


def test_non_finite_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = Trainer(tiny_model(), config(tmp_path, n_epochs=4, nan_check_every=1), callbacks=[PoisonWeights(3)])
    with pytest.raises(NonFiniteLossError, match=r"Non-finite loss.*epoch 3.*last good checkpoint.*last\.pt \(epoch 2\)"):
        trainer.fit(tiny_data())
    path = trainer.run_dir / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(path)
    assert ckpt["epoch"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["model_state"].values())
    restored = Trainer.from_checkpoint(path)
    assert math.isfinite(restored.evaluate(tiny_data())["loss"])


def test_non_finite_loss_without_checkpoint_says_so(tmp_path):
    trainer = Trainer(tiny_model(), config(tmp_path, n_epochs=1), callbacks=[PoisonWeights(1)], run_dir=False)
    with pytest.raises(NonFiniteLossError, match="No checkpoint had been written"):
        trainer.fit(tiny_data())


def test_beta_schedule_values():
    assert beta_schedule(0, 1.0, 10) == 0.0
    assert beta_schedule(2.5, 1.0, 10) == pytest.approx(0.25)
    assert beta_schedule(10, 1.0, 10) == 1.0 and beta_schedule(50, 2.0, 10) == 2.0
    assert beta_schedule(3, 4.0, 0) == 4.0  # no warm-up
    # cyclical: 4 cycles over 8 epochs, rising over the first half of each 2-epoch cycle
    values = [beta_schedule(t, 1.0, 8, "cyclical", n_cycles=4, ratio=0.5) for t in (0, 0.5, 1.0, 1.5, 2.0, 2.5, 7.9, 8.0)]
    assert values == pytest.approx([0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0])
    with pytest.raises(ValueError):
        beta_schedule(1, 1.0, 10, "sigmoid")


class RecordBeta(Callback):
    def __init__(self):
        self.betas = []

    def on_step_begin(self, trainer):
        self.betas.append(trainer.model.beta)


def test_warmup_callback_sets_beta_every_step(tmp_path):
    record = RecordBeta()
    model = tiny_model(beta=2.0)
    trainer = Trainer(model, config(tmp_path, n_epochs=3), callbacks=[BetaWarmup(n_epochs=2), record], run_dir=False)
    history = trainer.fit(tiny_data())  # 3 steps per epoch
    assert record.betas == pytest.approx([2.0 * s / 6 for s in range(6)] + [2.0] * 3)
    assert history[-1]["beta"] == 2.0
    per_epoch = BetaWarmup(n_epochs=2, beta_max=1.0, per_step=False)
    assert [per_epoch.beta_at(s, 3) for s in (0, 2, 3, 5, 6)] == [0.0, 0.0, 0.5, 0.5, 1.0]


def test_lr_schedule_reaches_lr_final_at_the_last_epoch(tmp_path):
    for schedule in ("exponential", "cosine"):
        trainer = Trainer(tiny_model(), config(tmp_path, n_epochs=4, lr=1e-2, lr_final=1e-4, lr_schedule=schedule),
                          run_dir=False)
        lrs = [h["lr"] for h in trainer.fit(tiny_data())]
        assert lrs[0] == pytest.approx(1e-2) and lrs[-1] == pytest.approx(1e-4)
        assert all(a > b for a, b in zip(lrs, lrs[1:]))


@pytest.mark.parametrize("likelihood", ["bernoulli", "bernoulli_ar"])
def test_bf16_autocasts_the_matmuls_keeps_the_loss_terms_in_fp32_and_clips(tmp_path, likelihood):
    model = tiny_model(likelihood=likelihood)
    linear_dtypes = []
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            m.register_forward_hook(lambda mod, inp, out: linear_dtypes.append(out.dtype))
    trainer = Trainer(model, config(tmp_path, precision="bf16", grad_clip=0.01, n_epochs=1), run_dir=False)
    x = tiny_data(32).to(trainer.device)
    out = trainer.train_step(x)
    assert linear_dtypes and set(linear_dtypes) == {torch.bfloat16}  # every layer ran in bf16
    assert {k: v.dtype for k, v in out.items()} == dict.fromkeys(("loss", "elbo", "rec", "kl"), torch.float32)
    grad_norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    assert float(grad_norm) <= 0.01 * (1 + 1e-4)  # clipped before the step
    # the loss terms under bf16 are those of fp32 up to the bf16 rounding of the networks
    with torch.no_grad():
        torch.manual_seed(1)
        bf16 = trainer.eval_step(x)
        torch.manual_seed(1)
        fp32 = model.eval()(x)
    assert float(bf16["rec"].mean()) == pytest.approx(float(fp32["rec"].mean()), rel=2e-2)
    linear_dtypes.clear()
    Trainer(model, config(tmp_path, precision="fp32"), run_dir=False).train_step(x)
    assert set(linear_dtypes) == {torch.float32}
    assert math.isfinite(trainer.fit(tiny_data())[0]["train_loss"])


def test_trainer_config_round_trip_and_validation():
    cfg = TrainerConfig(n_epochs=3, lr_schedule="cosine", grad_clip=0.5)
    assert TrainerConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainerConfig(lr_schedule="warm")
    with pytest.raises(ValueError, match="precision"):
        TrainerConfig(precision="fp8")


def test_tensorboard_logger_writes_scalars_and_images(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from helpers.training import TensorBoardLogger

    x = tiny_data()
    tb = TensorBoardLogger(every_n_steps=2, x_ref=x[:16], y_ref=torch.arange(16) % 3, n_images=4)
    model = build_model(VAEConfig(x_shape=X_SHAPE, z_dim=3, hidden=(16,)))  # z > 2: PCA scatter
    trainer = Trainer(model, config(tmp_path, n_epochs=2), callbacks=[BetaWarmup(n_epochs=1), tb])
    history = trainer.fit(x, x[:32])  # 3 steps per epoch: step scalars at steps 2, 4 and 6
    events = EventAccumulator(str(trainer.run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    tags = events.Tags()
    for name in ("loss", "rec", "kl", "elbo"):
        for split in ("train", "val"):
            logged = events.Scalars(f"{name}/{split}")
            assert [e.step for e in logged] == [1, 2]
            assert [e.value for e in logged] == pytest.approx([h[f"{split}_{name}"] for h in history], rel=1e-6)
    assert [e.value for e in events.Scalars("epoch/lr")] == pytest.approx([1e-3, 1e-3])
    assert [e.step for e in events.Scalars("step/loss")] == [2, 4, 6]
    # beta of the step just taken: 1/3 (second step of the one-epoch warm-up), then 1
    assert [e.value for e in events.Scalars("step/beta")] == pytest.approx([1 / 3, 1.0, 1.0])
    assert {"images/reconstructions", "images/prior_samples", "images/latent_scatter"} <= set(tags["images"])
    grid = events.Images("images/reconstructions")
    assert [e.step for e in grid] == [1, 2] and grid[0].width > 0 and grid[0].height > 0


def test_time_budget_stops_before_an_epoch_that_would_overrun(tmp_path):
    from helpers.training import TimeBudget

    class SlowEpoch(Callback):
        def on_epoch_end(self, trainer, metrics):
            import time
            time.sleep(0.05)

    budget = TimeBudget(minutes=0.12 / 60)  # 0.12 s: room for two epochs of ~0.05 s, not three
    trainer = Trainer(tiny_model(), config(tmp_path, n_epochs=50), callbacks=[SlowEpoch(), budget], run_dir=False)
    history = trainer.fit(tiny_data())
    assert 1 <= len(history) <= 2 and trainer.epoch == len(history)


def test_presets_build_and_describe_themselves():
    from helpers.training.presets import mnist_preset

    for name in ("default", "long", "best"):
        preset = mnist_preset(name)
        model = build_model(preset.model.to_dict())
        assert model(torch.rand(2, 28, 28).round())["elbo"].shape == (2,)
        assert preset.trainer.batch_size == 128 and preset.note
    assert mnist_preset("default").trainer.n_epochs < mnist_preset("long").trainer.n_epochs
    assert mnist_preset("default").model.hidden == (512, 512) and mnist_preset("best").model.likelihood == "bernoulli_ar"
    with pytest.raises(ValueError):
        mnist_preset("huge")
