"""Network bending: removable hooks that change the output, channel choices, k-means clusters, JSON."""

import pytest
import torch

from hacking_models import conv_vae, mnist_vae, note_vae
from helpers.hacking import BEND_OPS, Bend, BendChain, bend, bendable_layers, channel_clusters, weights_fingerprint
from helpers.hacking.bend import SPATIAL_OPS, apply_op

AMOUNTS = {"ablate": 1.0, "invert": 1.0, "scale": 3.0, "threshold": 0.05, "flip": 1.0, "translate": 0.25,
           "rotate": 30.0, "erode": 1.0, "dilate": 1.0, "zoom": 1.5}


def n_hooks(model):
    return sum(len(m._forward_hooks) for m in model.modules())


def decode(model, z):
    with torch.no_grad():
        return model.decode(z)


def test_bendable_layers_lists_decoder_modules_and_their_shapes():
    z = torch.randn(3, 8)
    layers = bendable_layers(mnist_vae(), z)
    assert list(layers) == [f"decoder.net.{i}" for i in range(5)]
    assert layers["decoder.net.0"] == (3, 64) and layers["decoder.net.4"] == (3, 784)
    conv = bendable_layers(conv_vae(), torch.randn(2, 4))
    assert conv["decoder.deconv.0"] == (2, 4, 14, 14) and conv["decoder.deconv.2"] == (2, 4, 28, 28)
    note = bendable_layers(note_vae(), z)
    assert note["decoder.net.0"] == (3, 25, 32) and note["decoder.net.1"] == (3, 25, 32)  # [B, T, C]: 1-D maps


@pytest.mark.parametrize("op", BEND_OPS)
def test_every_op_changes_a_2d_map_and_leaves_no_hook(op):
    model = conv_vae()
    z = torch.randn(4, 4)
    before, clean = weights_fingerprint(model), decode(model, z)
    with bend(model, Bend("decoder.deconv.1", op, AMOUNTS[op])) as bent:
        assert bent is model and n_hooks(model) == 1
        out = decode(model, z)
    assert not torch.allclose(out, clean)
    assert n_hooks(model) == 0 and torch.equal(decode(model, z), clean)
    assert weights_fingerprint(model) == before


@pytest.mark.parametrize("op", [op for op in BEND_OPS if op != "rotate"])
def test_every_op_but_rotate_works_on_the_audio_decoders_1d_maps(op):
    model = note_vae()
    z = torch.randn(4, 8)
    clean = decode(model, z)
    with bend(model, Bend("net.1", op, AMOUNTS[op])):  # the ReLU after the first Linear: [B, T, C]
        out = decode(model, z)
    assert out.shape == clean.shape and not torch.allclose(out, clean)
    assert n_hooks(model) == 0


def test_rotate_on_1d_maps_and_spatial_ops_without_maps_raise_clear_errors():
    with pytest.raises(ValueError, match="rotate"):
        with bend(note_vae(), Bend("decoder.net.1", "rotate", 10.0)) as model:
            decode(model, torch.randn(2, 8))
    for op in SPATIAL_OPS:
        model = mnist_vae()
        with pytest.raises(ValueError, match="feature maps"):
            with bend(model, Bend("decoder.net.1", op, AMOUNTS[op])):
                decode(model, torch.randn(2, 8))
        assert n_hooks(model) == 0  # removed after the exception


def test_hooks_are_removed_when_the_block_raises():
    model = mnist_vae()
    with pytest.raises(RuntimeError, match="boom"):
        with bend(model, [Bend("decoder.net.0", "scale", 2.0), Bend("decoder.net.2", "invert")]):
            assert n_hooks(model) == 2
            raise RuntimeError("boom")
    assert n_hooks(model) == 0


def test_numerical_ops_do_what_they_say():
    x = torch.tensor([[[0.0, 0.5, 2.0]]])  # [B, C, L]
    assert torch.equal(apply_op(x, Bend("l", "ablate")), torch.zeros_like(x))
    assert torch.allclose(apply_op(x, Bend("l", "ablate", 0.25)), 0.75 * x)
    assert torch.allclose(apply_op(x, Bend("l", "invert")), 1 - x)
    assert torch.allclose(apply_op(x, Bend("l", "scale", -2.0)), -2 * x)
    assert torch.equal(apply_op(x, Bend("l", "threshold", 0.5)), torch.tensor([[[0.0, 1.0, 1.0]]]))
    assert torch.equal(apply_op(x, Bend("l", "flip")), x.flip(-1))
    assert torch.equal(apply_op(x, Bend("l", "translate", 1 / 3)), torch.tensor([[[0.0, 0.0, 0.5]]]))
    assert torch.equal(apply_op(x, Bend("l", "dilate", 1.0)), torch.tensor([[[0.5, 2.0, 2.0]]]))
    assert torch.equal(apply_op(x, Bend("l", "erode", 1.0)), torch.tensor([[[0.0, 0.0, 0.5]]]))
    img = torch.zeros(1, 1, 5, 5)
    img[0, 0, 2, 4] = 1.0  # a dot right of the centre
    turned = apply_op(img, Bend("l", "rotate", 90.0))
    assert turned[0, 0].flatten().argmax().item() in (2, 22)  # now above or below the centre
    assert torch.equal(apply_op(img, Bend("l", "flip", axis="both")), img.flip(-1, -2))
    assert apply_op(img, Bend("l", "zoom", 2.0)).sum() < img.sum() / 2  # zoomed in: the dot leaves the frame


def test_random_and_cluster_channels_bend_only_those_channels():
    model = conv_vae()
    z = torch.randn(16, 4)
    modules = dict(model.named_modules())
    out = []
    handle = modules["decoder.deconv.1"].register_forward_hook(lambda m, i, o: out.append(i[0]))
    with bend(model, Bend("decoder.deconv.0", "ablate", channels="random", fraction=0.5, seed=1)):
        decode(model, z)
    handle.remove()
    silent = (out[0] == 0).flatten(2).all(-1).all(0)  # channels zero for every code and position
    assert int(silent.sum()) == 2  # half of the 4 channels

    labels = channel_clusters(model, "decoder.deconv.0", z, n_clusters=3, seed=0)
    out.clear()
    with bend(model, Bend("decoder.deconv.0", "ablate", channels="cluster", cluster=1, n_clusters=3), z_reference=z):
        handle = modules["decoder.deconv.1"].register_forward_hook(lambda m, i, o: out.append(i[0]))
        decode(model, z)
    handle.remove()
    silent = (out[0] == 0).flatten(2).all(-1).all(0)
    assert torch.equal(silent, labels == 1)
    with pytest.raises(ValueError, match="z_reference"):
        with bend(model, Bend("decoder.deconv.0", "ablate", channels="cluster")):
            pass


@pytest.mark.parametrize("factory, layer, z_dim", [(conv_vae, "decoder.deconv.1", 4), (note_vae, "decoder.net.1", 8),
                                                   (mnist_vae, "decoder.net.2", 8)])
def test_clusters_cover_every_channel_and_are_seeded(factory, layer, z_dim):
    model = factory()
    z = torch.randn(32, z_dim)
    shape = bendable_layers(model, z)[layer]
    n_channels = shape[-1] if "net" in layer else shape[1]
    labels = channel_clusters(model, layer, z, n_clusters=4, seed=0)
    assert labels.dtype == torch.long and labels.shape == (n_channels,)
    assert set(labels.tolist()) == {0, 1, 2, 3}  # every channel has a cluster, no cluster is empty
    assert torch.equal(labels, channel_clusters(model, layer, z, n_clusters=4, seed=0))
    with pytest.raises(ValueError, match="n_clusters"):
        channel_clusters(model, layer, z, n_clusters=n_channels + 1)


def test_bend_chain_json_round_trip_and_config_errors():
    chain = BendChain([Bend("decoder.net.0", "scale", 2.0), Bend("net.1", "translate", 0.1, channels="cluster",
                                                                 cluster=2, n_clusters=5, seed=3, axis="x")])
    text = chain.to_json()
    again = BendChain.from_json(text)
    assert again == chain and isinstance(again.bends[1], Bend) and again.to_json() == text
    assert BendChain.from_dict({"bends": [chain.bends[0].to_dict()]}).bends == [chain.bends[0]]
    for kwargs, name in [(dict(op="melt"), "op"), (dict(op="scale", channels="some"), "channels"),
                         (dict(op="scale", fraction=0.0), "fraction"), (dict(op="scale", cluster=4), "cluster"),
                         (dict(op="flip", axis="z"), "axis"), (dict(op="zoom", amount=0.0), "amount")]:
        with pytest.raises(ValueError, match=name):
            Bend("decoder.net.0", **kwargs)
    with pytest.raises(ValueError, match="layer"):
        with bend(mnist_vae(), Bend("decoder.net.9", "scale")):
            pass
    with pytest.raises(ValueError, match="unknown"):
        BendChain.from_dict({"bends": [], "extra": 1})


def test_a_chain_on_two_layers_equals_the_bends_nested():
    model = conv_vae()
    z = torch.randn(4, 4)
    a, b = Bend("decoder.deconv.1", "translate", 0.25, axis="both"), Bend("decoder.deconv.3", "scale", 0.5)
    with bend(model, BendChain([a, b])):
        chained = decode(model, z)
    with bend(model, a), bend(model, b):
        nested = decode(model, z)
    assert torch.equal(chained, nested) and n_hooks(model) == 0
