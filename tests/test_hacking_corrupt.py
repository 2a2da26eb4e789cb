"""Weight corruption: copies only, each kind changes what it says, seeded, amount 0 is the identity."""

import pytest
import torch
import torch.nn as nn

from hacking_models import MODELS, conv_vae, mnist_vae, note_vae
from helpers.hacking import CORRUPTIONS, Corruption, corrupt, weight_layers, weights_fingerprint
from helpers.hacking.corrupt import _out_axis


def params(model):
    return {n: p.detach() for n, p in model.named_parameters()}


# ------------------------------------------------------------------------------ layers


def test_weight_layers_in_forward_order_with_part_pattern_and_depth():
    model = mnist_vae()
    names = weight_layers(model)
    assert names == ["encoder.net.0", "encoder.net.2", "encoder.net.4",
                     "decoder.net.0", "decoder.net.2", "decoder.net.4"]
    assert weight_layers(model, part="decoder") == names[3:]
    assert weight_layers(model, part="encoder", depth="first") == ["encoder.net.0"]
    assert weight_layers(model, part="decoder", depth="last") == ["decoder.net.4"]
    assert weight_layers(model, part="decoder", depth=-2) == ["decoder.net.2"]
    assert weight_layers(model, part="decoder", depth=[0, 2]) == ["decoder.net.0", "decoder.net.4"]
    assert weight_layers(model, depth=slice(1, 3)) == names[1:3]
    assert weight_layers(model, pattern=r"net\.4$") == ["encoder.net.4", "decoder.net.4"]


def test_weight_layers_of_convolutional_and_audio_decoders():
    conv = weight_layers(conv_vae(), part="decoder")
    assert conv[:2] == ["decoder.head.0", "decoder.head.2"] and conv[-1] == "decoder.deconv.4"
    modules = dict(conv_vae().named_modules())
    assert isinstance(modules["decoder.deconv.0"], nn.ConvTranspose2d) and "decoder.deconv.0" in conv
    assert weight_layers(note_vae(), part="decoder") == ["decoder.net.0", "decoder.net.2"]
    assert len(weight_layers(note_vae(), part="encoder")) == 6  # four Conv2d, two Linear


@pytest.mark.parametrize("kwargs, name", [(dict(part="middle"), "part"), (dict(pattern="nothing"), "pattern"),
                                          (dict(pattern="("), "pattern"), (dict(depth=7), "depth"),
                                          (dict(depth="deepest"), "depth"), (dict(depth=slice(10, 12)), "depth"),
                                          (dict(depth=[0, 1.5]), "depth")])
def test_weight_layers_bad_selection_names_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        weight_layers(mnist_vae(), **{"part": "decoder", **kwargs})


def test_corruption_config_checks_kind_and_amount_and_round_trips():
    with pytest.raises(ValueError, match="kind"):
        Corruption("melt", 0.1)
    with pytest.raises(ValueError, match="amount"):
        Corruption("zero", 1.5)
    with pytest.raises(ValueError, match="amount"):
        Corruption("gaussian", -1.0)
    with pytest.raises(ValueError, match="part"):
        Corruption("gaussian", 1.0, part="everything")
    spec = Corruption("sign_flip", 0.25, pattern="net", part=None, depth=[0, 1], seed=3)
    assert Corruption.from_json(spec.to_json()) == spec


# ------------------------------------------------------------------------------ copies


@pytest.mark.parametrize("model_name", sorted(MODELS))
@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_every_corruption_changes_a_copy_and_never_the_original(model_name, kind):
    model = MODELS[model_name]()
    before = weights_fingerprint(model)
    amount = 0.3 if kind in ("zero", "ablate", "sign_flip", "permute") else 0.5
    hacked = corrupt(model, Corruption(kind, amount))
    assert weights_fingerprint(model) == before
    assert weights_fingerprint(hacked) != before and not hacked.training
    z = torch.randn(4, model.z_dim)
    with torch.no_grad():
        assert not torch.allclose(model.decode(z), hacked.decode(z))
        assert torch.equal(model.encode(torch.zeros(2, *model.x_shape))[0],
                           hacked.encode(torch.zeros(2, *model.x_shape))[0])  # part="decoder" by default


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_amount_zero_is_the_identity_and_the_seed_decides(kind):
    model = mnist_vae()
    assert weights_fingerprint(corrupt(model, Corruption(kind, 0.0))) == weights_fingerprint(model)
    a = weights_fingerprint(corrupt(model, Corruption(kind, 0.2, seed=1)))
    assert a == weights_fingerprint(corrupt(model, Corruption(kind, 0.2, seed=1)))
    assert a != weights_fingerprint(corrupt(model, Corruption(kind, 0.2, seed=2)))


def test_only_the_chosen_layers_change():
    model = mnist_vae()
    hacked = corrupt(model, Corruption("gaussian", 1.0, part="decoder", depth="first"))
    p, q = params(model), params(hacked)
    changed = {n for n in p if not torch.equal(p[n], q[n])}
    assert changed == {"decoder.net.0.weight"}  # weights only, not the bias
    layered = corrupt(model, [Corruption("zero", 0.5, part="encoder", depth=0), Corruption("zero", 0.5, depth=-1)])
    q = params(layered)
    assert {n for n in p if not torch.equal(p[n], q[n])} == {"encoder.net.0.weight", "decoder.net.4.weight"}


def test_gaussian_noise_is_scaled_to_each_layer():
    model = mnist_vae()
    p = params(model)
    for kind, amount in (("gaussian", 0.5), ("gaussian_abs", 0.05), ("multiplicative", 0.5)):
        q = params(corrupt(model, Corruption(kind, amount)))
        for name in ("decoder.net.0.weight", "decoder.net.4.weight"):
            w, diff = p[name], q[name] - p[name]
            expected = {"gaussian": amount * w.std(), "gaussian_abs": amount,
                        "multiplicative": amount * w.pow(2).mean().sqrt()}[kind]
            assert diff.std() == pytest.approx(float(expected), rel=0.1), (kind, name)


def test_zero_and_sign_flip_hit_the_stated_share_of_weights():
    model = mnist_vae()
    w = params(model)["decoder.net.2.weight"]
    for amount in (0.1, 0.5, 0.9):
        q = params(corrupt(model, Corruption("zero", amount, depth=1)))["decoder.net.2.weight"]
        assert (q == 0).float().mean().item() == pytest.approx(amount, abs=0.01)
        assert torch.equal(q[q != 0], w[q != 0])
        f = params(corrupt(model, Corruption("sign_flip", amount, depth=1)))["decoder.net.2.weight"]
        flipped = (f == -w) & (w != 0)
        assert flipped.float().mean().item() == pytest.approx(amount, abs=0.01)
        assert torch.equal(f.abs(), w.abs())


@pytest.mark.parametrize("factory", [mnist_vae, conv_vae])
def test_ablate_zeroes_whole_units_and_permute_keeps_the_rows(factory):
    model = factory()
    modules = dict(model.named_modules())
    for name in weight_layers(model, part="decoder"):
        axis = _out_axis(modules[name])
        w, b = modules[name].weight.detach(), modules[name].bias.detach()
        n_units = w.shape[axis]
        k = round(0.5 * n_units)
        spec = dict(pattern="^" + name.replace(".", r"\.") + "$")
        hacked = dict(corrupt(model, Corruption("ablate", 0.5, **spec)).named_modules())[name]
        units = hacked.weight.detach().movedim(axis, 0).reshape(n_units, -1)
        dead = (units == 0).all(1)
        assert int(dead.sum()) == k and (hacked.bias.detach()[dead] == 0).all()
        assert torch.equal(units[~dead], w.movedim(axis, 0).reshape(n_units, -1)[~dead])
        perm = dict(corrupt(model, Corruption("permute", 0.5, **spec)).named_modules())[name]
        rows = perm.weight.detach().movedim(axis, 0).reshape(n_units, -1)
        orig = w.movedim(axis, 0).reshape(n_units, -1)
        moved = (rows != orig).any(1)
        assert int(moved.sum()) == (k if k > 1 else 0)
        key = lambda t: sorted(map(tuple, t.tolist()))  # noqa: E731
        assert key(torch.cat([rows, perm.bias.detach()[:, None]], 1)) == key(torch.cat([orig, b[:, None]], 1))


def test_fingerprint_sees_buffers_and_every_parameter():
    model = note_vae()
    fp = weights_fingerprint(model)
    assert fp == weights_fingerprint(note_vae()) and fp != weights_fingerprint(note_vae(seed=1))
    other = note_vae()
    with torch.no_grad():
        other.likelihood.log_scale_param[0, 0, 0] += 1e-3
    assert weights_fingerprint(other) != fp
    bn = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    fp = weights_fingerprint(bn)
    bn.train()(torch.randn(8, 2))  # updates the running statistics (buffers) only
    assert weights_fingerprint(bn) != fp


def test_corrupt_a_wrapper_returns_a_wrapper_with_a_corrupted_copy():
    class Wrapper:
        def __init__(self, vae):
            self.vae, self.transform = vae, object()

    wrapper = Wrapper(note_vae())
    before = weights_fingerprint(wrapper)
    hacked = corrupt(wrapper, Corruption("ablate", 0.5))
    assert isinstance(hacked, Wrapper) and hacked.transform is wrapper.transform
    assert weights_fingerprint(wrapper) == before != weights_fingerprint(hacked)
    with pytest.raises(TypeError, match="model"):
        corrupt(object(), Corruption("zero", 0.1))
