"""The explorer's hack panel, driven from Python: outputs change, the model never does."""

import io

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers.display.hack_panel import AMOUNTS, hack_panel, methods, time_hack_updates, time_updates
from helpers.evaluation.judges import NOISE, Judge
from helpers.hacking import Corruption, corrupt, weights_fingerprint
from helpers.models import VAE, Classifier, ClassifierConfig, VAEConfig

Z = 4


@pytest.fixture
def vae():
    torch.manual_seed(0)
    return VAE.from_config(VAEConfig(x_shape=(28, 28), z_dim=Z, hidden=(32,))).eval()


@pytest.fixture
def judge():
    torch.manual_seed(0)
    return Judge(Classifier(ClassifierConfig(n_classes=4, channels=(4, 8), dense=16)), ("0", "1", "A", NOISE),
                 ("0", "1"), ("A",))


@pytest.fixture
def codes():
    return torch.randn(60, Z, generator=torch.Generator().manual_seed(1))


def test_every_method_has_an_amount_range():
    assert set(methods()) == {"none"} | set(AMOUNTS)
    for lo, hi, step, default in AMOUNTS.values():
        assert lo < hi and step > 0 and lo <= default <= hi


def test_corruption_changes_the_output_not_the_model(vae, judge, codes):
    before = weights_fingerprint(vae)
    panel = hack_panel(vae, codes=codes, judge=judge, n_sliders=3)
    plain = panel.explorer.update([1.0, 0.0, -0.5])
    z = panel.explorer.state.z.unsqueeze(0)
    assert torch.allclose(torch.as_tensor(panel.output), vae.decode_to_x(z)[0])
    assert set(panel.scores) == {"in_class", "out_of_class", "noise", "top", "top_p"}
    assert panel.scores["in_class"] + panel.scores["out_of_class"] + panel.scores["noise"] == pytest.approx(1.0)
    assert panel.layers("corrupt:gaussian") == ["decoder.net.0", "decoder.net.2"]

    state = panel.set(method="corrupt:gaussian", amount=3.0)
    assert panel.layer == "decoder.net.2" and state.png != plain.png            # the last layer by default
    spec = Corruption("gaussian", 3.0, pattern=r"^decoder\.net\.2$")
    expected = corrupt(vae, spec).decode_to_x(z)[0]                             # the same noise as on the whole VAE
    assert torch.allclose(torch.as_tensor(panel.output), expected, atol=1e-6)
    assert not torch.allclose(expected, vae.decode_to_x(z)[0], atol=1e-3)
    assert "corrupt:gaussian on decoder.net.2" in panel.describe() and "in-class" in panel.describe()

    moved = panel.explorer.update([-1.0, 2.0, 0.0])                             # the hack stays on latent moves
    z2 = moved.z.unsqueeze(0)
    assert torch.allclose(torch.as_tensor(panel.output), corrupt(vae, spec).decode_to_x(z2)[0], atol=1e-6)
    panel.set(amount=0.0)
    assert torch.allclose(torch.as_tensor(panel.output), vae.decode_to_x(z2)[0], atol=1e-6)
    panel.set(method="corrupt:ablate", layer="decoder.net.0", amount=1.0)        # every hidden unit off: a constant
    const = corrupt(vae, Corruption("ablate", 1.0, pattern=r"^decoder\.net\.0$")).decode_to_x(z)[0]
    assert torch.allclose(torch.as_tensor(panel.output), const, atol=1e-6)
    panel.set(method="none")
    assert torch.allclose(torch.as_tensor(panel.output), vae.decode_to_x(z2)[0])
    assert weights_fingerprint(vae) == before


def test_bends_are_removed_after_every_decode(vae, codes):
    before = weights_fingerprint(vae)
    panel = hack_panel(vae, codes=codes, n_sliders=2)
    state = panel.set(method="bend:scale", layer="decoder.net.2", amount=0.0)    # logits 0: every pixel 0.5
    assert torch.allclose(torch.as_tensor(panel.output), torch.full((28, 28), 0.5))
    assert panel.scores == {}                                                    # no judge, no reading
    z = state.z.unsqueeze(0)
    assert not torch.allclose(vae.decode_to_x(z)[0], torch.full((28, 28), 0.5))  # outside the panel: unbent
    assert all(not m._forward_hooks for m in vae.modules())                     # the model is never hooked
    panel.set(method="bend:threshold", layer="decoder.net.1", amount=0.1)
    assert set(torch.unique(torch.as_tensor(panel.output)).tolist()) != {0.5}
    hooked = lambda module: any(m._forward_hooks for m in module.modules())  # noqa: E731
    assert hooked(panel._private) and not hooked(vae)                          # the panel's own copy is bent
    panel.set(channels="cluster", amount=0.0)
    assert panel.channels == "cluster"
    clustered = torch.as_tensor(panel.output).clone()
    panel.explorer.update([0.5, 0.5])
    panel.explorer.update(state.values)                                          # same point, same clusters
    assert torch.equal(torch.as_tensor(panel.output), clustered)
    panel.set(method="corrupt:zero", amount=0.1)                                 # the bend's hooks go with it
    assert not hooked(panel._private)
    panel.set(method="bend:invert")
    panel.close()
    assert panel.method == "none" and not hooked(panel._private)
    assert weights_fingerprint(vae) == before and not hooked(vae)


def test_bad_settings_raise_and_leave_the_hack(vae, codes):
    panel = hack_panel(vae, codes=None, n_sliders=2)
    panel.set(method="corrupt:zero", amount=0.5)
    with pytest.raises(ValueError, match="method='bend:rotate'"):              # an MLP decoder has no feature maps
        panel.set(method="bend:rotate")
    with pytest.raises(ValueError, match="layer='decoder.net.1'"):              # an activation has no weights
        panel.set(layer="decoder.net.1")
    with pytest.raises(ValueError, match="amount"):
        panel.set(amount=2.0)                                                    # a fraction above 1
    with pytest.raises(ValueError, match="method='twist'"):
        panel.set(method="twist")
    with pytest.raises(ValueError, match="channels='cluster'"):
        panel.set(method="bend:scale", channels="cluster")
    assert (panel.method, panel.layer, panel.amount, panel.channels) == ("corrupt:zero", "decoder.net.2", 0.5, "all")


def test_spatial_bends_on_a_convolutional_decoder():
    torch.manual_seed(0)
    vae = VAE.from_config(VAEConfig(x_shape=(28, 28), z_dim=Z, architecture="conv", conv_channels=(4, 8),
                                    conv_hidden=16)).eval()
    before = weights_fingerprint(vae)
    panel = hack_panel(vae, n_sliders=2)
    maps = panel.layers("bend:rotate")
    assert maps and all(len(panel.layer_shapes[n]) == 4 for n in maps)          # [1, C, H, W] feature maps
    assert len(maps) < len(panel.layers("bend:scale"))                           # the dense layers are left out
    plain = panel.explorer.update([1.0, -1.0])
    out = torch.as_tensor(panel.output).clone()
    panel.set(method="bend:flip", layer=maps[0])
    assert panel.explorer.state.png != plain.png and not torch.allclose(torch.as_tensor(panel.output), out)
    panel.set(method="bend:rotate", amount=90.0)
    assert panel.layer == maps[0] and not torch.allclose(torch.as_tensor(panel.output), out)
    panel.set(method="none")
    assert torch.allclose(torch.as_tensor(panel.output), out) and weights_fingerprint(vae) == before


def test_widget_controls_drive_the_panel(vae, judge, codes):
    panel = hack_panel(vae, codes=codes, judge=judge, n_sliders=2)
    ui = panel.widget()
    assert ui is not None and panel._ui["reading"].value.startswith("no hack")
    first = panel.explorer.state.png
    panel._ui["method"].value = "corrupt:sign_flip"
    assert panel.method == "corrupt:sign_flip" and panel.amount == AMOUNTS["corrupt:sign_flip"][3]
    assert panel._ui["amount"].max == 1.0 and panel._ui["layer"].value == "decoder.net.2"
    panel._ui["amount"].value = 0.9
    assert panel.amount == 0.9 and panel.explorer.state.png != first
    assert "corrupt:sign_flip" in panel._ui["reading"].value
    panel._ui["method"].value = "bend:zoom"                                       # refused: shown, not applied
    assert panel.method == "corrupt:sign_flip" and "not applied" in panel._ui["reading"].value
    assert panel._ui["method"].value == "corrupt:sign_flip"


def shown_objects(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objects: shown.extend(objects))
    return shown


def test_show_gives_a_static_reading_then_the_widget(vae, judge, monkeypatch):
    import ipywidgets
    from IPython.display import Image, Markdown

    shown = shown_objects(monkeypatch)
    panel = hack_panel(vae, judge=judge, n_sliders=2)
    panel.set(method="corrupt:zero", amount=0.5)
    panel.show()
    text = " ".join(o.data for o in shown if isinstance(o, Markdown))
    assert "need a running kernel" in text and "corrupt:zero on decoder.net.2, amount 0.5" in text
    assert "in-class" in text
    assert any(isinstance(o, Image) and o.data == panel.explorer.state.png for o in shown)
    assert isinstance(shown[-1], ipywidgets.VBox)


def test_audio_note_model_panel_sounds_and_times(toy_audio_root, monkeypatch):
    from helpers.audio import STFTConfig
    from helpers.training import TrainerConfig
    from helpers.training.audio import AudioExperimentConfig, train_audio_vae

    from conftest import TOY_N, TOY_SR

    vae = VAEConfig(z_dim=3, architecture="conv_frames", hidden=(16,), conv_channels=(4, 8), conv_hidden=16,
                    likelihood="laplace", scale="per_feature")
    config = AudioExperimentConfig(
        name="tiny-hack-panel-note", model="note", vae=vae, data_root=str(toy_audio_root / "notes"), n_samples=TOY_N,
        transform=STFTConfig(sample_rate=TOY_SR, n_fft=256, hop_length=64, scale="db", db_floor=-60.0),
        trainer=TrainerConfig(n_epochs=1, batch_size=16, progress=False), time_pool=4)
    model = train_audio_vae(config, run_root=toy_audio_root / "runs").model
    before = weights_fingerprint(model)
    torch.manual_seed(0)
    judge = Judge(Classifier(ClassifierConfig(input="spectrum", x_shape=(model.n_freq, 16), n_classes=3, n_frames=16,
                                              channels=(4,), dense=8)), ("a", "b", NOISE), ("a",), ("b",))
    panel = hack_panel(model, codes=torch.randn(20, 3), judge=judge, n_sliders=2, live_n_iter=1)
    plain = panel.explorer.update([0.5, -0.5])
    assert plain.wav is not None and set(panel.scores) >= {"in_class", "noise"}
    assert "bend:translate" in methods() and panel.layers("bend:translate")     # the frame decoder's maps over time
    state = panel.set(method="bend:translate", amount=0.4)
    wave, rate = sf.read(io.BytesIO(state.wav))
    assert rate == TOY_SR and len(wave) == TOY_N and np.isfinite(wave).all()
    assert state.png != plain.png
    panel.set(method="corrupt:multiplicative", amount=2.0)
    assert panel.explorer.state.png != plain.png
    shown = shown_objects(monkeypatch)
    panel.show()                                                                 # picture, sound, then widget
    assert [type(o).__name__ for o in shown] == ["Markdown", "Figure", "Audio", "Markdown", "VBox"]
    assert "corrupt:multiplicative" in shown[3].data
    timing = time_hack_updates(panel, "corrupt:gaussian", n_updates=2)
    for key in ("no_hack_ms_median", "no_hack_cpu_ms_median", "latent_move_cpu_ms_median", "amount_change_ms_p95",
                "amount_change_ms_median", "latent_move_ms_median", "hack_ms_median", "judge_ms_median",
                "audio_ms_median"):
        assert timing[key] > 0, key
    assert panel.method == "none" and weights_fingerprint(model) == before
    with pytest.raises(ValueError, match="n_updates"):
        time_hack_updates(panel, "corrupt:gaussian", n_updates=0)
    bench = time_updates(model, judge, codes=torch.randn(20, 3), n_updates=1, live_n_iter=1)
    assert set(bench["methods"]) == {"corrupt:gaussian", "corrupt:ablate", "bend:scale", "bend:translate"}
    assert bench["worst_median_ms"] == max(max(r["amount_change_ms_median"], r["latent_move_ms_median"])
                                           for r in bench["methods"].values())
    assert bench["within_target"] == (bench["worst_median_ms"] <= 100.0) and bench["live_n_iter"] == 1
    assert 0 < bench["worst_cpu_median_ms"] and bench["within_target_cpu"] == (bench["worst_cpu_median_ms"] <= 100)
    assert weights_fingerprint(model) == before


def test_time_updates_skips_methods_without_a_layer(vae):
    bench = time_updates(vae, n_updates=1, methods=("bend:translate", "corrupt:zero"))
    assert list(bench["methods"]) == ["corrupt:zero"] and bench["live_n_iter"] is None   # an MLP: no feature maps
    with pytest.raises(ValueError, match="methods"):
        time_updates(vae, n_updates=1, methods=("bend:rotate",))
