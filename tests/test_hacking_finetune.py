"""Uncanny fine-tuning: a decoder copy whose samples the frozen original finds unlikely, stored in the run store."""

import json

import pytest
import torch

from hacking_models import bar_images, mnist_vae, note_vae, trained_mnist_vae
from helpers.evaluation.judges import NOISE, Judge
from helpers.hacking import UncannyConfig, judge_score, uncanny_finetune, weights_fingerprint
from helpers.hacking.search import decoded_mean, negative_elbo
from helpers.models import Classifier, ClassifierConfig

FAST = dict(n_steps=30, lr=1e-3, batch_size=32)


def unlikelihood(original, tuned, n=128, seed=5):
    """The frozen original's mean negative ELBO of the tuned decoder's means for fixed prior codes."""
    z = torch.randn(n, original.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return float(negative_elbo(original, decoded_mean(tuned, z), 4, torch.Generator().manual_seed(0)).mean())


def flags(model):
    return [p.requires_grad for p in model.parameters()], [p.grad is None for p in model.parameters()]


def test_finetuning_raises_the_unlikelihood_under_the_frozen_original_and_is_stored(tmp_path):
    model = trained_mnist_vae()
    before, state = weights_fingerprint(model), flags(model)
    x = bar_images(256, seed=2)
    tuned = uncanny_finetune(model, x, UncannyConfig(**FAST), run_root=tmp_path, progress=False)
    assert weights_fingerprint(model) == before and flags(model) == state  # the parent is untouched
    assert not tuned.cached and tuned.train_seconds > 0 and (tuned.run_dir / "done.json").is_file()
    assert unlikelihood(model, tuned.model) > unlikelihood(model, model) + 50.0
    h = tuned.history
    assert list(h.columns) == ["step", "loss", "unlikelihood", "reconstruction", "seconds"] and len(h) == 30
    assert h["unlikelihood"].iloc[-5:].mean() > h["unlikelihood"].iloc[:5].mean()
    p, q = dict(model.named_parameters()), dict(tuned.model.named_parameters())
    changed = {n for n in p if not torch.equal(p[n], q[n])}
    assert changed and all(n.startswith("decoder.") for n in changed)  # only the decoder learned
    assert flags(tuned.model)[0] == state[0] and not tuned.model.training

    checkpoint = tuned.run_dir / "checkpoints" / "last.pt"
    mtime = checkpoint.stat().st_mtime_ns
    again = uncanny_finetune(model, x, UncannyConfig(**FAST), run_root=tmp_path, progress=True)
    assert again.cached and again.run_dir == tuned.run_dir and checkpoint.stat().st_mtime_ns == mtime
    assert weights_fingerprint(again.model) == weights_fingerprint(tuned.model)
    assert again.history.equals(tuned.history) and again.train_seconds == pytest.approx(tuned.train_seconds)
    key = json.loads((tuned.run_dir / "key.json").read_text())
    assert key["extra"]["parent_weights"] == before and key["configs"]["uncanny"]["n_steps"] == 30


def test_the_key_follows_the_config_the_parent_and_the_data(tmp_path):
    model, x = trained_mnist_vae(), bar_images(64, seed=2)
    cfg = UncannyConfig(n_steps=2, batch_size=8)
    first = uncanny_finetune(model, x, cfg, run_root=tmp_path, progress=False).run_dir
    other_parent = mnist_vae(seed=1)  # same config, other weights
    dirs = {first,
            uncanny_finetune(model, x, cfg.replace(weight=2.0), run_root=tmp_path, progress=False).run_dir,
            uncanny_finetune(model, x[:32], cfg, run_root=tmp_path, progress=False).run_dir,
            uncanny_finetune(other_parent, x, cfg, run_root=tmp_path, progress=False).run_dir}
    assert len(dirs) == 4
    assert uncanny_finetune(model, x.unsqueeze(1), cfg, run_root=tmp_path, progress=False).run_dir == first


def test_the_reconstruction_weight_keeps_the_copy_near_the_data(tmp_path):
    model, x = trained_mnist_vae(), bar_images(256, seed=2)
    free = uncanny_finetune(model, x, UncannyConfig(weight=0.0, **FAST), run_root=tmp_path, progress=False)
    kept = uncanny_finetune(model, x, UncannyConfig(weight=20.0, **FAST), run_root=tmp_path, progress=False)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    with torch.no_grad():
        rec_free = float(negative_elbo(free.model, x, 4, g()).mean())
        rec_kept = float(negative_elbo(kept.model, x, 4, g()).mean())
    assert rec_kept < rec_free
    assert unlikelihood(model, kept.model) < unlikelihood(model, free.model)


def test_a_frozen_judge_as_critic(tmp_path):
    torch.manual_seed(0)
    judge = Judge(Classifier(ClassifierConfig(n_classes=3, channels=(4,), dense=8)), ("0", "A", NOISE), ("0",), ("A",))
    judge_fp, judge_flags = weights_fingerprint(judge.model), flags(judge.model)
    model = trained_mnist_vae()
    z = torch.randn(128, model.z_dim, generator=torch.Generator().manual_seed(1))
    tuned = uncanny_finetune(model, bar_images(256, seed=2), UncannyConfig(critic="noise", weight=1e-3, **FAST),
                             judge=judge, run_root=tmp_path, progress=False)
    with torch.no_grad():
        assert judge_score(judge, tuned.model.decode_to_x(z)).mean() > judge_score(judge, model.decode_to_x(z)).mean()
    assert weights_fingerprint(judge.model) == judge_fp and flags(judge.model) == judge_flags


def test_the_audio_note_model_and_a_wrapper(tmp_path):
    class Wrapper:
        def __init__(self, vae):
            self.vae = vae

    model = note_vae()
    before = weights_fingerprint(model)
    x = torch.randn(64, *model.x_shape, generator=torch.Generator().manual_seed(0)) * 0.3
    tuned = uncanny_finetune(Wrapper(model), x, UncannyConfig(**FAST), run_root=tmp_path, progress=False)
    assert isinstance(tuned.model, Wrapper) and weights_fingerprint(model) == before
    assert unlikelihood(model, tuned.model.vae, n=64) > unlikelihood(model, model, n=64)


def test_bad_settings_raise_errors_naming_the_parameter(tmp_path):
    for kwargs, name in [(dict(critic="human"), "critic"), (dict(weight=-1.0), "weight"), (dict(n_steps=0), "n_steps"),
                         (dict(lr=0.0), "lr"), (dict(batch_size=0), "batch_size")]:
        with pytest.raises(ValueError, match=name):
            UncannyConfig(**kwargs)
    model = trained_mnist_vae()
    with pytest.raises(ValueError, match="judge"):
        uncanny_finetune(model, bar_images(8), UncannyConfig(critic="noise"), run_root=tmp_path, progress=False)
    with pytest.raises(ValueError, match="train_x"):
        uncanny_finetune(model, torch.rand(8, 20, 20), UncannyConfig(n_steps=1), run_root=tmp_path, progress=False)
    assert UncannyConfig.from_json(UncannyConfig(weight=0.5).to_json()) == UncannyConfig(weight=0.5)


def test_the_realism_field_leaves_the_key_of_earlier_runs_unchanged():
    from helpers.hacking import UncannyConfig

    plain = UncannyConfig(critic="noise", weight=2.0)
    assert "realism" not in plain.to_dict() and UncannyConfig.from_dict(plain.to_dict()) == plain
    used = UncannyConfig(critic="ambiguity", realism="mmd")
    assert used.to_dict()["realism"] == "mmd" and UncannyConfig.from_dict(used.to_dict()) == used
