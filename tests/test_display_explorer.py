"""The latent explorer's logic, without a browser."""

import io

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers.display.explorer import CSS, LatentExplorer, array_to_png, wave_to_wav_bytes


def _decode(z):
    # a "spectrogram" whose brightness follows z[0] and whose bright row follows z[1]
    image = torch.zeros(1, 8, 5)
    row = int(torch.clamp((z[0, 1] + 3) / 6 * 7, 0, 7))
    image[0, row] = 1.0 + z[0, 0]
    return image


def _to_audio(decoded):
    return np.sin(np.linspace(0, 100, 2205)) * float(decoded.max())


def test_update_decodes_renders_and_plays():
    explorer = LatentExplorer(_decode, latent_dim=3, n_sliders=2, to_audio=_to_audio, sample_rate=22050)
    state = explorer.update([0.5, 3.0])
    assert torch.allclose(state.z, torch.tensor([0.5, 3.0, 0.0]))
    assert state.png.startswith(b"\x89PNG")
    wave, rate = sf.read(io.BytesIO(state.wav))
    assert rate == 22050 and len(wave) == 2205 and 0.85 < np.abs(wave).max() <= 0.9 + 1e-3
    assert state.seconds > 0 and set(state.timings) == {"decode", "audio", "render"}
    other = explorer.update([0.5, -3.0])
    assert other.png != state.png


def test_basis_origin_and_projection_round_trip():
    basis = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 0.0]])
    origin = torch.tensor([1.0, 1.0, 1.0])
    explorer = LatentExplorer(_decode, latent_dim=3, basis=basis, origin=origin)
    z = explorer.z_from_values([1.0, 0.5])
    assert torch.allclose(z, torch.tensor([2.0, 2.0, 2.0]))
    np.testing.assert_allclose(explorer.values_from_z(z), [1.0, 0.5], atol=1e-5)
    with pytest.raises(ValueError, match="basis must be"):
        LatentExplorer(_decode, latent_dim=4, basis=basis)
    with pytest.raises(ValueError, match="expected 2 slider values"):
        explorer.z_from_values([1.0])


def test_random_point_and_encode_file():
    explorer = LatentExplorer(_decode, latent_dim=3, n_sliders=3, slider_range=1.0,
                              encode_file=lambda path: torch.tensor([0.2, -0.4, 9.0]))
    state = explorer.random_point(torch.Generator().manual_seed(0))
    assert np.all(np.abs(state.values) <= 1.0)
    state = explorer.encode_file("any.wav")
    np.testing.assert_allclose(state.values, [0.2, -0.4, 1.0], atol=1e-5)  # clipped to the range
    with pytest.raises(RuntimeError, match="without encode_file"):
        LatentExplorer(_decode, latent_dim=3).encode_file("x.wav")


def test_widget_sliders_drive_update():
    explorer = LatentExplorer(_decode, latent_dim=2, to_audio=_to_audio)
    ui = explorer.widget()
    sliders = ui.children[0].children[:2]
    assert all(not s.continuous_update for s in sliders)
    image, audio, info = ui.children[1].children  # the CSS classes the browser test finds them by
    assert CSS["box"] in ui._dom_classes and all(CSS["slider"] in s._dom_classes for s in sliders)
    assert [CSS["image"], CSS["audio"], CSS["info"]] == [w._dom_classes[0] for w in (image, audio, info)]
    before = explorer.state.png
    sliders[1].value = 2.5
    assert explorer.values[1] == pytest.approx(2.5) and explorer.state.png != before


def test_helpers_reject_bad_shapes_and_keep_silence_silent():
    with pytest.raises(ValueError, match="2-D"):
        array_to_png(np.zeros(3))
    wave, _ = sf.read(io.BytesIO(wave_to_wav_bytes(np.zeros(100), 8000)))
    assert np.all(wave == 0)


def test_static_view_is_the_starting_point_and_says_a_kernel_is_needed():
    from PIL import Image

    explorer = LatentExplorer(_decode, latent_dim=3, n_sliders=2, image_scale=2)
    explorer.update([1.0, 2.0])  # wherever it was, the snapshot shows the origin
    text, png = explorer.static_view("the spectrogram")
    assert png == LatentExplorer(_decode, latent_dim=3, n_sliders=2, image_scale=2).update([0.0, 0.0]).png
    assert Image.open(io.BytesIO(png)).size == (5 * 2, 8 * 2)
    assert "kernel" in text and "HTML" in text and "the spectrogram" in text
    np.testing.assert_array_equal(explorer.values, [0.0, 0.0])
