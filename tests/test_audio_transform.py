"""The AudioTransform interface over both transforms: shapes, exact round trips, configs,
scaling, bad inputs."""

import io
import json

import numpy as np
import pytest
import torch

from helpers.audio import (MagnitudeScaler, NSGTConfig, STFTConfig, build_transform,
                           config_from_dict)
from helpers.audio.synthetic import chirp, harmonic_note, noise, sine

SMALL = {
    "stft": {"kind": "stft", "sample_rate": 8000, "n_fft": 256, "hop_length": 64},
    "nsgt": {"kind": "nsgt", "sample_rate": 8000, "n_samples": 4000, "fmin": 60.0,
             "fmax": 3000.0, "bins_per_octave": 12},
}
KINDS = sorted(SMALL)


def signals(n=4000, sr=8000):
    return torch.stack([sine(440.0, n, sr), chirp(60.0, 3000.0, n, sr),
                        harmonic_note(110.0, n, sr), noise(n, 0.1)])


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_dtype_and_leading_dims(kind):
    t = build_transform(SMALL[kind])
    x = signals()
    mag = t.analyze(x)
    assert mag.dtype == torch.float32
    assert mag.shape == (4,) + t.output_shape(4000)
    assert t.analyze(x[0]).shape == t.output_shape(4000)
    assert t.analyze(x.view(2, 2, -1)).shape == (2, 2) + t.output_shape(4000)
    assert len(t.frequencies()) == mag.shape[-2]
    assert len(t.frame_times(4000)) == mag.shape[-1]
    assert np.all(np.diff(t.frequencies()) > 0)
    # numpy in, torch out
    assert torch.allclose(t.analyze(x.numpy()), mag)


@pytest.mark.parametrize("kind", KINDS)
def test_exact_round_trip(kind):
    t = build_transform(SMALL[kind])
    x = signals().double()
    y = t.inverse_complex(t.forward_complex(x), length=4000)
    assert (torch.linalg.norm(y - x) / torch.linalg.norm(x)) < 1e-10
    x32 = x.float()
    y32 = t.inverse_complex(t.forward_complex(x32), length=4000)
    assert (torch.linalg.norm(y32 - x32) / torch.linalg.norm(x32)) < 1e-5


def test_exact_round_trip_default_sizes():
    x = torch.stack([harmonic_note(220.0), chirp(40.0, 9000.0)]).double()
    for kind in KINDS:
        t = build_transform({"kind": kind})
        y = t.inverse_complex(t.forward_complex(x), length=x.shape[-1])
        assert (torch.linalg.norm(y - x) / torch.linalg.norm(x)) < 1e-10


@pytest.mark.parametrize("kind", KINDS)
def test_config_round_trip_and_hash(kind):
    t = build_transform(SMALL[kind])
    d = t.config.to_dict()
    assert json.loads(json.dumps(d)) == d
    again = config_from_dict(d)
    assert again == t.config and again.stable_hash() == t.config.stable_hash()
    changed = dict(d, gl_n_iter=7)
    assert config_from_dict(changed).stable_hash() != t.config.stable_hash()
    # Griffin-Lim and scaling settings do not change the magnitudes, so not the analysis hash
    assert (config_from_dict(changed).stable_hash(analysis_only=True)
            == t.config.stable_hash(analysis_only=True))
    with pytest.raises(ValueError, match="unknown"):
        config_from_dict(dict(d, bogus=1))


def test_transform_config_is_a_config_hashed_the_one_way():
    from helpers.hashing import config_hash
    from helpers.models.config import Config

    config = config_from_dict(SMALL["stft"])
    assert isinstance(config, Config) and STFTConfig.from_json(config.to_json()) == config
    assert config.config_hash() == config_hash(config.to_dict()) and len(config.config_hash()) == 8
    assert config.stable_hash() == config_hash(config.to_dict(), 16)
    assert config.stable_hash(analysis_only=True) == config_hash(config.analysis_dict(), 16)


def test_transform_modules_import_alone_and_register_themselves():
    import ast
    import subprocess
    import sys
    from pathlib import Path

    import helpers.audio.transform as transform_module

    # the interface imports no transform: the kinds come to it (no import circle)
    tree = ast.parse(Path(transform_module.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {"helpers.audio.stft", "helpers.audio.nsgt"} & imported
    for module, cls in (("helpers.audio.stft", "STFTTransform"), ("helpers.audio.nsgt", "NSGTTransform")):
        code = (f"import {module} as m; from helpers.audio.transform import TRANSFORMS, build_transform; "
                f"assert TRANSFORMS == {{'stft': __import__('helpers.audio.stft').audio.stft.STFTTransform, "
                f"'nsgt': __import__('helpers.audio.nsgt').audio.nsgt.NSGTTransform}}; "
                f"print(type(build_transform({SMALL['stft']!r})).__name__, m.{cls}.__name__)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["STFTTransform", cls]


def test_unknown_kind_raises_listing_the_known_kinds():
    from helpers.audio import TRANSFORMS, NSGTTransform, STFTTransform

    assert TRANSFORMS == {"stft": STFTTransform, "nsgt": NSGTTransform}
    for bad in ({"kind": "cqt"}, {"sample_rate": 8000}):
        with pytest.raises(ValueError, match=r"unknown transform kind .*known kinds: \['nsgt', 'stft'\]"):
            build_transform(bad)


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="hop_length"):
        STFTConfig(hop_length=0)
    with pytest.raises(ValueError, match="scale"):
        STFTConfig(scale="cubic")
    with pytest.raises(ValueError, match="fmax"):
        NSGTConfig(fmax=11025.0)
    with pytest.raises(ValueError, match="gl_momentum"):
        NSGTConfig(gl_momentum=1.0)
    with pytest.raises(ValueError, match="kind"):
        config_from_dict({"kind": "wavelet"})


@pytest.mark.parametrize("scale,normalize", [("log1p", "global"), ("db", "per_bin"),
                                             ("log1p", "none"), ("none", "global")])
def test_scaling_inverse_round_trip(scale, normalize):
    t = build_transform(dict(SMALL["stft"], scale=scale, normalize=normalize))
    mag = t.analyze(signals())
    t.fit_scaling([mag[:2], mag[2:]])
    z = t.scale(mag)
    if normalize != "none":
        assert abs(float(z.mean())) < 1e-3 and abs(float(z.std()) - 1) < 1e-2
    back = t.unscale(z)
    if scale == "db":  # values below the floor come back as the floor
        floor = 10 ** (t.config.db_floor / 20)
        assert torch.allclose(back, mag.clamp_min(floor), rtol=1e-4, atol=1e-6)
    else:
        assert torch.allclose(back, mag, rtol=1e-4, atol=1e-4)


def test_scaling_state_goes_through_a_checkpoint():
    t = build_transform(dict(SMALL["nsgt"], normalize="per_bin"))
    mag = t.analyze(signals())
    t.fit_scaling(mag)
    buf = io.BytesIO()
    torch.save({"config": t.config.to_dict(), "scaling": t.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    t2 = build_transform(ckpt["config"], ckpt["scaling"])
    assert torch.equal(t2.scale(mag), t.scale(mag))


def test_scaling_unfitted_and_constant_data():
    t = build_transform(SMALL["stft"])
    mag = t.analyze(signals())
    with pytest.raises(RuntimeError, match="fit_scaling"):
        t.scale(mag)
    scaler = MagnitudeScaler("log1p", normalize="global").fit(torch.zeros(2, 5, 7))
    # silence: the std is clamped, no division by zero
    assert float(scaler.std) == pytest.approx(MagnitudeScaler.min_std)
    assert torch.isfinite(scaler.forward(torch.zeros(1, 5, 7))).all()
    with pytest.raises(ValueError, match="non-finite"):
        MagnitudeScaler().fit(torch.full((1, 2, 2), float("nan")))
    with pytest.raises(ValueError, match="at least one"):
        MagnitudeScaler().fit([])


@pytest.mark.parametrize("kind", KINDS)
def test_bad_inputs_raise_clear_errors(kind):
    t = build_transform(SMALL[kind])
    x = signals()
    x[1, 10] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        t.analyze(x)
    with pytest.raises(ValueError, match="shorter than one frame"):
        t.analyze(torch.zeros(t.min_samples() - 1))
    with pytest.raises(ValueError, match="non-finite"):
        t.synthesize(torch.full(t.output_shape(4000), float("inf")), length=4000)
    with pytest.raises(ValueError, match=">= 0"):
        t.synthesize(-torch.ones(t.output_shape(4000)), length=4000)


@pytest.mark.parametrize("kind", KINDS)
def test_silence_is_analysed_and_synthesised_to_silence(kind):
    t = build_transform(SMALL[kind])
    mag = t.analyze(torch.zeros(2, 4000))
    assert torch.count_nonzero(mag) == 0
    for init in ("peaks", "zeros", "random"):
        y = t.synthesize(mag, n_iter=3, length=4000, init=init)
        assert torch.isfinite(y).all() and float(y.abs().max()) == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_synthesize_returns_the_configured_length(kind):
    t = build_transform(dict(SMALL[kind], n_samples=4000))
    y = t.synthesize(t.analyze(signals()), n_iter=2)
    assert y.shape == (4, 4000)
    with pytest.raises(ValueError, match="length"):
        t.synthesize(t.analyze(signals()), n_iter=2, length=2500)
