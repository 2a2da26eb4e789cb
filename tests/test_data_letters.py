"""Letters drawn MNIST-style from pinned handwriting fonts; the EMNIST reader on fake idx files.

The drawing tests need three real fonts: the verified copies of a previous full fetch (in
``$NOVELTY_DATA_DIR/letters/fonts``) when there, else ``npm pack`` of the pinned packages
(skipped with the reason when the npm registry cannot be reached).
"""

import gzip
import json
import shutil

import numpy as np
import pytest
import torch

from helpers.data import letters as L
from helpers.data.fetch_utils import FetchError, is_valid
from helpers.data.mnist import read_idx

SMALL = ("kalam", "caveat", "rock-salt")  # print, casual, thick marker; kalam is held out
SMALL_FONTS = tuple(f for f in L.FONTS if f.name in SMALL)
SMALL_CONFIG = L.LettersConfig(variants=1, test_fonts=("kalam",))
TWO_FONTS = tuple(f for f in SMALL_FONTS if f.name in ("kalam", "caveat"))  # for the full fetches


@pytest.fixture(scope="module")
def font_root(tmp_path_factory):
    """A data root whose ``letters/fonts`` and ``letters/licences`` hold the three small fonts."""
    root = tmp_path_factory.mktemp("letters-data")
    cached = L.letters_dir()
    for font in SMALL_FONTS:
        woff, licence = cached / "fonts" / f"{font.name}.woff", cached / "licences" / f"{font.name}.txt"
        if is_valid(woff, font.woff_sha256) and licence.is_file():
            for src, sub in ((woff, "fonts"), (licence, "licences")):
                (L.letters_dir(root) / sub).mkdir(parents=True, exist_ok=True)
                shutil.copy(src, L.letters_dir(root) / sub / src.name)
            continue
        try:
            L.fetch_font(font, root)
        except FetchError as err:
            pytest.skip(f"no cached font and the npm registry is unreachable: {err}")
    return root


def _fonts(root):
    return {f.name: L.letters_dir(root) / "fonts" / f"{f.name}.woff" for f in SMALL_FONTS}


def _bbox(img):
    rows, cols = np.flatnonzero(img.any(1)), np.flatnonzero(img.any(0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def _com(img):
    w = img.astype(np.float64)
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    return (w * yy).sum() / w.sum(), (w * xx).sum() / w.sum()


def test_pinned_fonts_and_held_out_set():
    names = [f.name for f in L.FONTS]
    assert len(names) >= 30 and len(set(names)) == len(names)
    assert set(L.TEST_FONTS) <= set(names) and len(L.TEST_FONTS) == 6
    assert all(f.integrity.startswith("sha512-") and len(f.woff_sha256) == 64 for f in L.FONTS)
    assert L.LETTERS[0] == "a" and L.LETTERS[-1] == "z" and len(L.LETTERS) == 26


def test_undistorted_glyph_is_fitted_in_the_box_and_centred(font_root):
    config = L.LettersConfig()
    for name, path in _fonts(font_root).items():
        for char in "AgMlwQ":
            glyph = L.glyph_mask(path, char, config.box * config.supersample)
            assert glyph is not None and glyph.dtype == bool
            assert max(glyph.shape) == pytest.approx(config.box * config.supersample, abs=3)
            img = L.draw_letter(glyph, config, rng=None)
            assert img.shape == (28, 28) and img.dtype == np.uint8 and img.max() > 200
            h, w = _bbox(img)
            assert max(h, w) <= 20 and max(h, w) >= 19, (name, char, h, w)
            cy, cx = _com(img)
            assert abs(cy - 14) <= 1.0 and abs(cx - 14) <= 1.0, (name, char, cy, cx)


def test_distorted_letters_vary_stay_in_the_box_and_stay_centred(font_root):
    config = L.LettersConfig()
    path = _fonts(font_root)["caveat"]
    glyph = L.glyph_mask(path, "R", config.box * config.supersample)
    imgs = [L.draw_letter(glyph, config, np.random.default_rng(v)) for v in range(8)]
    for img in imgs:
        assert max(_bbox(img)) <= 20
        cy, cx = _com(img)
        assert abs(cy - 14) <= 1.0 and abs(cx - 14) <= 1.0
    assert len({img.tobytes() for img in imgs}) == len(imgs)  # every variant differs
    grey = [img[(img > 0) & (img < 255)].size for img in imgs]
    assert min(grey) > 0  # anti-aliased edges


def test_stroke_width_thins_thick_and_thickens_thin_strokes():
    def width(mask):  # of a horizontal bar: lit rows in its middle column
        return int(mask[:, mask.shape[1] // 2].sum())

    thick = np.zeros((60, 120), bool)
    thick[20:40, 10:110] = True  # 20 px wide
    thin = np.zeros((60, 120), bool)
    thin[29:31, 10:110] = True  # 2 px wide
    assert abs(width(L.set_stroke_width(thick, 8)) - 8) <= 1
    assert abs(width(L.set_stroke_width(thin, 8)) - 8) <= 1
    assert width(L.set_stroke_width(thin, 12)) > width(L.set_stroke_width(thin, 6))


def test_unknown_char_is_reported_missing(font_root):
    assert L.glyph_mask(_fonts(font_root)["kalam"], "\u4e2d", 80) is None  # a CJK glyph is not in latin


@pytest.mark.slow
def test_fetch_letters_splits_shapes_determinism_and_cache(font_root, tmp_path, monkeypatch):
    folder = L.fetch_letters(font_root, progress=False, config=SMALL_CONFIG, fonts=TWO_FONTS)
    marker = json.loads((folder / L.MARKER).read_text())
    per_class = {"train": 1 * 2 * 1, "test": 1 * 2 * 1}  # fonts x cases x variants
    seen = {}
    for split in L.SPLITS:
        x, y = _load(folder, split)
        assert x.dtype == torch.uint8 and x.shape == (26 * per_class[split], 28, 28)
        assert y.dtype == torch.int64 and int(y.min()) == 0 and int(y.max()) == 25
        assert torch.bincount(y, minlength=26).tolist() == [per_class[split]] * 26
        assert marker["counts"][split]["per_class"] == [per_class[split]] * 26
        info = read_idx(folder / f"{split}-info-idx2-ubyte")
        seen[split] = {marker["fonts"][i]["name"] for i in np.unique(info[:, 0])}
    assert seen["test"] == {"kalam"} and seen["train"] == {"caveat"}
    with monkeypatch.context() as mp:  # the loaders on this (non-default) set, as they would on the default
        mp.setattr(L, "fetch_letters", lambda root=None, **kw: folder)
        x, y = L.load_letters("test", font_root, source="rendered")
        info = L.letters_info("test", font_root)
    assert torch.equal(x, _load(folder, "test")[0]) and torch.equal(y, _load(folder, "test")[1])
    assert {info["font_names"][i] for i in info["font"].tolist()} == {"kalam"}
    assert info["case"].tolist().count(0) == info["case"].tolist().count(1) == len(y) // 2
    assert {f["name"]: f["split"] for f in marker["fonts"]}["kalam"] == "test"
    assert all((folder / "licences" / f"{f.name}.txt").is_file() for f in TWO_FONTS)

    # the same packages, config and seed give the same bytes, in another folder
    other = tmp_path / "other"
    shutil.copytree(L.letters_dir(font_root) / "fonts", L.letters_dir(other) / "fonts")
    shutil.copytree(L.letters_dir(font_root) / "licences", L.letters_dir(other) / "licences")
    L.fetch_letters(other, progress=False, config=SMALL_CONFIG, fonts=TWO_FONTS)
    for name in marker["files"]:
        assert (folder / name).read_bytes() == (L.letters_dir(other) / name).read_bytes(), name

    # a second fetch re-verifies and rewrites nothing; an altered file is noticed and redrawn
    before = (folder / "train-images-idx3-ubyte").stat().st_mtime_ns
    L.fetch_letters(font_root, progress=False, config=SMALL_CONFIG, fonts=TWO_FONTS)
    assert (folder / "train-images-idx3-ubyte").stat().st_mtime_ns == before
    good = (folder / "test-images-idx3-ubyte").read_bytes()
    (folder / "test-images-idx3-ubyte").write_bytes(good[:-1] + bytes([good[-1] ^ 0xFF]))
    assert L.read_marker(font_root) is None
    L.fetch_letters(font_root, progress=False, config=SMALL_CONFIG, fonts=TWO_FONTS)
    assert (folder / "test-images-idx3-ubyte").read_bytes() == good


def _load(folder, split):
    x = torch.from_numpy(read_idx(folder / f"{split}-images-idx3-ubyte").copy())
    y = torch.from_numpy(read_idx(folder / f"{split}-labels-idx1-ubyte").astype(np.int64))
    return x, y


@pytest.mark.slow
def test_interrupted_render_leaves_nothing_trusted(font_root, tmp_path, monkeypatch):
    root = tmp_path / "data"
    shutil.copytree(L.letters_dir(font_root) / "fonts", L.letters_dir(root) / "fonts")
    shutil.copytree(L.letters_dir(font_root) / "licences", L.letters_dir(root) / "licences")
    config = SMALL_CONFIG
    L.fetch_letters(root, progress=False, config=config, fonts=TWO_FONTS)
    assert L.read_marker(root) is not None
    calls = []

    def write_then_die(path, array):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt("interrupted")
        return real_write(path, array)

    real_write = L.write_idx
    monkeypatch.setattr(L, "write_idx", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        L.fetch_letters(root, progress=False, config=config.replace(seed=3), fonts=TWO_FONTS)
    assert L.read_marker(root) is None
    assert not list(L.letters_dir(root).glob(".*.part"))


def test_load_letters_reads_the_rendered_files(tmp_path, monkeypatch):
    monkeypatch.setattr(L, "fetch_letters", lambda root=None, **kw: L.letters_dir(root))
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28)).astype(np.uint8)
    L.write_idx(L.letters_dir(tmp_path) / "test-images-idx3-ubyte", images)
    L.write_idx(L.letters_dir(tmp_path) / "test-labels-idx1-ubyte", np.array([0, 25, 7], np.uint8))
    x, y = L.load_letters("test", tmp_path)  # no EMNIST in <root>/emnist: the rendered letters
    assert x.dtype == torch.uint8 and y.dtype == torch.int64
    np.testing.assert_array_equal(x.numpy(), images)
    assert y.tolist() == [0, 25, 7]


def test_wrong_tarball_checksum_names_the_package(tmp_path, monkeypatch):
    font = L.FONTS[0]
    bad = tmp_path / "fontsource-caveat-5.3.0.tgz"
    bad.write_bytes(b"not the pinned tarball")
    with pytest.raises(L.PackageChecksumError, match=f"npm package {font.spec}"):
        L.verify_integrity(bad, font.integrity, font.spec)
    assert not bad.exists()

    def fake_pack(spec, dest_dir):
        path = dest_dir / "tampered.tgz"
        path.write_bytes(b"tampered")
        return path

    monkeypatch.setattr(L, "_npm_pack_tarball", fake_pack)
    with pytest.raises(L.PackageChecksumError, match=font.spec):
        L.fetch_font(font, tmp_path)
    assert not (L.letters_dir(tmp_path) / "fonts" / f"{font.name}.woff").exists()
    with pytest.raises(ValueError, match="integrity"):
        L.verify_integrity(tmp_path / "x", "md5:abc", font.spec)


def test_config_and_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="test_fonts.*nope"):
        L.fetch_letters(tmp_path, config=L.LettersConfig(test_fonts=("nope",)), fonts=SMALL_FONTS)
    with pytest.raises(ValueError, match="no font is left"):
        L.fetch_letters(tmp_path, config=L.LettersConfig(test_fonts=SMALL), fonts=SMALL_FONTS)
    with pytest.raises(ValueError, match="split='val'"):
        L.load_letters("val", tmp_path)
    with pytest.raises(ValueError, match="source='web'"):
        L.load_letters("train", tmp_path, source="web")
    with pytest.raises(ValueError, match="variants=0"):
        L.LettersConfig(variants=0)
    config = L.LettersConfig(variants=3)
    assert L.LettersConfig.from_json(config.to_json()) == config
    assert L.letters_key(config) != L.letters_key(config.replace(seed=1))


def _idx(array):
    return bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape) \
        + array.astype(np.uint8).tobytes()


def _fake_emnist(folder, n=5, gz=("train-labels",)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    data = {}
    for split in L.SPLITS:
        x = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        y = np.array([1, 26, 3, 4, 5][:n], np.uint8)
        data[split] = (x, y)
        for kind, array in (("images", x), ("labels", y)):
            name = L.EMNIST_FILES[kind].format(split=split)
            payload = _idx(array)
            if f"{split}-{kind}" in gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(payload))
            else:
                (folder / name).write_bytes(payload)
    return data


def test_emnist_letters_are_transposed_and_labelled_from_zero(tmp_path):
    data = _fake_emnist(tmp_path / "emnist")
    for split in L.SPLITS:
        x, y = L.load_letters(split, source="emnist", emnist_dir=tmp_path / "emnist")
        raw_x, raw_y = data[split]
        assert x.dtype == torch.uint8 and x.shape == raw_x.shape and y.dtype == torch.int64
        np.testing.assert_array_equal(x.numpy(), raw_x.transpose(0, 2, 1))
        np.testing.assert_array_equal(y.numpy(), raw_y.astype(np.int64) - 1)
    # found automatically in <data root>/emnist
    root = tmp_path / "data"
    _fake_emnist(root / "emnist")
    x, y = L.load_letters("test", root)
    np.testing.assert_array_equal(y.numpy(), [0, 25, 2, 3, 4])


def test_emnist_errors_name_the_file(tmp_path):
    folder = tmp_path / "emnist"
    _fake_emnist(folder, gz=())
    (folder / "emnist-letters-test-images-idx3-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="emnist-letters-test-images-idx3-ubyte"):
        L.load_letters("test", source="emnist", emnist_dir=folder)
    (folder / "emnist-letters-train-labels-idx1-ubyte").write_bytes(_idx(np.array([0, 1, 2, 3, 4], np.uint8)))
    with pytest.raises(ValueError, match="emnist-letters-train-labels-idx1-ubyte.*1-26"):
        L.load_letters("train", source="emnist", emnist_dir=folder)


def test_write_idx_round_trip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(L.write_idx(tmp_path / "a-idx3-ubyte", array)), array)
    with pytest.raises(ValueError, match="uint8"):
        L.write_idx(tmp_path / "b", array.astype(np.int16))
