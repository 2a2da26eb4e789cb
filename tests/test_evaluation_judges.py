"""Judges: calibration helpers, noise generators, splits, and the sanity table on small trained judges."""

import numpy as np
import pandas as pd
import pytest
import torch

from helpers.evaluation import judges as J
from helpers.evaluation import novelty
from helpers.models import Classifier, ClassifierConfig
from helpers.training import TrainerConfig


# ------------------------------------------------------------------------ small pieces


def test_expected_calibration_error_known_values():
    y = torch.zeros(100, dtype=torch.long)
    right = torch.tensor([[0.7, 0.3]]).repeat(100, 1)
    assert J.expected_calibration_error(right, y) == pytest.approx(0.3)  # 70% confident, 100% right
    mixed_y = torch.tensor([0] * 70 + [1] * 30)
    assert J.expected_calibration_error(right, mixed_y) == pytest.approx(0.0, abs=1e-6)


def test_fit_temperature_recovers_the_true_one():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4000, 5, generator=g) * 3
    y = torch.multinomial(torch.softmax(logits / 2.0, 1), 1, generator=g)[:, 0]
    assert J.fit_temperature(logits, y) == pytest.approx(2.0, rel=0.1)


def test_confusion_matrix_and_top_confusions():
    m = J.confusion_matrix(torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([0, 1, 1, 2, 0, 0]), 3)
    assert m == [[1, 1, 0], [0, 1, 0], [2, 0, 1]]
    assert J.top_confusions(m, ("O", "l", "S")) == ["S->O: 2", "O->l: 1"]
    assert J.top_confusions(m, ("O", "l", "S"), rows=("O",)) == ["O->l: 1"]


def test_noise_generators_are_deterministic_and_well_formed():
    real = torch.randint(0, 256, (10, 28, 28), dtype=torch.uint8)
    a, b = J.noise_images(12, real=real, seed=3), J.noise_images(12, real=real, seed=3)
    assert a.dtype == torch.uint8 and a.shape == (12, 28, 28) and torch.equal(a, b)
    assert not torch.equal(a, J.noise_images(12, real=real, seed=4))
    waves = J.noise_waves(8, 2000, 8000, seed=0)
    assert waves.shape == (8, 2000) and torch.isfinite(waves).all() and waves.abs().max() <= 0.9 + 1e-6
    assert torch.equal(waves, J.noise_waves(8, 2000, 8000, seed=0))


def test_judge_checks_its_classes():
    model = Classifier(ClassifierConfig(n_classes=3, channels=(4,), dense=8))
    with pytest.raises(ValueError, match="3 outputs"):
        J.Judge(model, ("a", "b"), ("a",))
    with pytest.raises(ValueError, match="not among"):
        J.Judge(model, ("a", "b", J.NOISE), ("a",), ("z",))
    judge = J.Judge(model, ("a", "b", J.NOISE), ("a",), ("b",))
    assert judge.in_index == [0] and judge.out_index == [1] and judge.noise_index == 2
    probs, feats = judge.scores(torch.rand(5, 28, 28))
    assert probs.shape == (5, 3) and feats.shape == (5, 8) and torch.allclose(probs.sum(1), torch.ones(5))
    assert len(judge.predict(torch.rand(2, 1, 28, 28))) == 2


def toy_table():
    rows = [{"path": f"{sf}/{inst}/{i}.wav", "instrument": inst, "soundfont": sf, "pitch": 60 + i // 2}
            for sf in ("MuseScore", "TimGM6mb", "CsoundGM") for inst in ("Violin", "Flute", "Harp") for i in range(10)]
    return pd.DataFrame(rows)


def test_instrument_splits_held_out_notes_and_held_out_soundfont():
    table = toy_table()
    parts = J.instrument_splits(table, ("Violin", "Flute"), val_fraction=0.2, seed=0)
    all_rows = np.concatenate(list(parts.values()))
    assert len(all_rows) == len(set(all_rows)) == 60  # a partition of the Violin and Flute notes
    for part in parts.values():
        assert set(table["instrument"].iloc[part]) == {"Violin", "Flute"}  # stratified
    units = {name: set(zip(table["instrument"].iloc[rows], table["pitch"].iloc[rows])) for name, rows in parts.items()}
    assert not units["test"] & units["train"] and not units["val"] & units["train"]  # a pitch on one side only
    single = J.instrument_splits(table, ("Violin", "Flute"), val_fraction=0.2, seed=0, group_by=None)
    assert sum(len(v) for v in single.values()) == 60
    out = J.instrument_splits(table, ("Violin", "Flute", "Harp"), holdout_soundfont="TimGM6mb")
    assert set(table["soundfont"].iloc[out["test"]]) == {"TimGM6mb"} and len(out["test"]) == 30
    assert "TimGM6mb" not in set(table["soundfont"].iloc[np.concatenate([out["train"], out["val"]])])
    with pytest.raises(ValueError, match="no such SoundFont"):
        J.instrument_splits(table, ("Violin",), holdout_soundfont="Fluid")
    with pytest.raises(KeyError, match="soundfont"):
        J.instrument_splits(table.drop(columns="soundfont"), ("Violin",), holdout_soundfont="MuseScore")
    with pytest.raises(ValueError, match="Tuba"):
        J.instrument_splits(table, ("Tuba",))


# ------------------------------------------------------------------ trained judges


def stand_in_letters(split: str):
    """A few synthetic glyphs per letter: A-Z drawn with Pillow's built-in font, scaled, shifted
    and rotated at random (the API of helpers.data.letters.load_letters)."""
    from PIL import Image, ImageDraw, ImageFont

    g = np.random.default_rng(0 if split == "train" else 1)
    images, labels = [], []
    for size in (18, 22) if split == "train" else (20,):
        font = ImageFont.load_default(size=size)
        for k in range(26):
            for _ in range(50 if split == "train" else 8):
                img = Image.new("L", (28, 28))
                ImageDraw.Draw(img).text((14 + g.integers(-2, 3), 14 + g.integers(-2, 3)), chr(65 + k),
                                         fill=255, font=font, anchor="mm", stroke_width=int(g.integers(1, 3)),
                                         stroke_fill=255)
                images.append(np.asarray(img.rotate(float(g.uniform(-10, 10)), resample=Image.BILINEAR)))
                labels.append(k)
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.long)


@pytest.fixture(scope="module")
def digit_letter_judge(tmp_path_factory):
    torch.manual_seed(0)
    config = ClassifierConfig(n_classes=37, channels=(16, 32), dense=64, dropout=0.2)
    trainer = TrainerConfig(n_epochs=4, batch_size=64, lr=3e-3, lr_schedule="cosine", lr_final=1e-4,
                            progress=False, name="judge")
    root = tmp_path_factory.mktemp("runs")
    judge = J.digit_letter_judge(run_root=str(root), n_train=1500, config=config, trainer=trainer,
                                 load_letters=stand_in_letters)
    return judge, root


@pytest.mark.slow
def test_sanity_table_digits_letters_noise(digit_letter_judge):
    """Real digits -> in-class, held-out letters -> out-of-class, uniform noise -> noise."""
    judge, _ = digit_letter_judge
    tests = judge.metrics["tests"]
    assert tests["mnist_test"]["accuracy"] > 0.85 and tests["letters_heldout_fonts"]["accuracy"] > 0.85
    digits = judge.test_sets["mnist_test"][0]
    letters = judge.test_sets["letters_heldout_fonts"][0]
    noise = torch.rand(200, 28, 28, generator=torch.Generator().manual_seed(0))
    table = novelty.sanity_table(judge, {"digits": digits, "letters": letters, "noise": noise})
    # a judge trained for a few hundred steps: in-class and out-of-class well above the rest
    assert table["digits"]["count_in@0.9"] > 0.7 and table["digits"]["count_out@0.9"] < 0.1
    assert table["letters"]["count_out@0.9"] > 0.7 and table["letters"]["count_in@0.9"] < 0.1
    assert table["noise"]["noise@0.9"] > 0.95 and table["noise"]["p_noise_class"] > 0.9
    for name in ("digits", "letters"):
        assert table[name]["noise@0.9"] < 0.3 and table[name]["p_noise_class"] < 0.1


@pytest.mark.slow
def test_judge_is_reloaded_with_its_metrics(digit_letter_judge):
    judge, root = digit_letter_judge
    assert not judge.metrics["reused"]
    for key in ("train_seconds", "temperature", "tests"):
        assert key in judge.metrics
    assert len(judge.metrics["tests"]["mnist_test"]["confusion"]) == 37
    config = ClassifierConfig(n_classes=37, channels=(16, 32), dense=64, dropout=0.2)
    trainer = TrainerConfig(n_epochs=4, batch_size=64, lr=3e-3, lr_schedule="cosine", lr_final=1e-4,
                            progress=False, name="judge")
    again = J.digit_letter_judge(run_root=str(root), n_train=1500, config=config, trainer=trainer,
                                 load_letters=stand_in_letters)
    assert again.metrics["reused"] and again.temperature == judge.temperature
    x = judge.test_sets["mnist_test"][0][:20]
    assert torch.allclose(again.probs(x), judge.probs(x), atol=1e-6)


def test_look_alike_letter_bound_counts_each_letter_once_at_its_lowest_recall():
    key = "letter_recall"
    pairs = {"0/O": {key: 0.5}, "6/B": {key: 0.9}, "8/B": {key: 0.7}, "9/QG": {key: 0.8}}
    # O 0.5, B 0.7 (the lower of its two pairs), Q and G 0.8, the 22 other letters 1
    assert J.look_alike_letter_bound(pairs) == pytest.approx((22 + 0.5 + 0.7 + 0.8 + 0.8) / 26)
    assert J.look_alike_letter_bound({}) == 1.0


@pytest.mark.slow
def test_look_alike_separability_tells_a_shared_shape_from_a_distinct_one(tmp_path):
    """A letter whose images are MNIST zeros cannot be told from the zeros; a printed Z can be
    told from handwritten ones."""
    from helpers.data.mnist import load_mnist

    def letters(split):
        x, y = stand_in_letters(split)
        keep = y == J.LETTERS.index("Z")
        mx, my = load_mnist("train" if split == "train" else "val")
        start = 10000 if split == "train" else 2000  # not among the digits the judge sees
        zeros = mx[start:][my[start:] == 0][:600 if split == "train" else 100]
        return (torch.cat([x[keep], zeros]),
                torch.cat([y[keep], torch.full((len(zeros),), J.LETTERS.index("O"), dtype=torch.long)]))

    config = ClassifierConfig(n_classes=2, channels=(8, 16), dense=32, dropout=0.1)
    trainer = TrainerConfig(n_epochs=6, batch_size=64, lr=3e-3, lr_schedule="cosine", lr_final=1e-4,
                            progress=False, name="judge")
    scores = J.look_alike_separability((("0", "O"), ("1", "Z")), run_root=str(tmp_path), n_train=4000,
                                       load_letters=letters, config=config, trainer=trainer)
    same, distinct = scores["0/O"], scores["1/Z"]
    assert same["n_letters"] == 100 and distinct["n_letters"] == 8
    assert same["digit_share"] == 0.99 and same["letter_share"] == 0.92
    assert distinct["letter_recall"] > 0.9 and distinct["digit_recall"] > 0.95
    assert same["letter_recall"] < 0.2 and same["digit_recall"] < 0.5
    with pytest.raises(ValueError, match="pair 3/W"):
        J.look_alike_separability((("3", "W"),), run_root=str(tmp_path), n_train=400,
                                  load_letters=lambda split: letters(split), config=config, trainer=trainer)


@pytest.mark.slow
def test_sanity_table_audio(tmp_path, monkeypatch):
    """Held-out notes of training instruments -> in-class, of the unseen one -> out-of-class, white noise -> noise."""
    from helpers.data.toy import write_toy_note_set

    monkeypatch.setenv("NOVELTY_DATA_DIR", str(tmp_path / "data"))
    root = write_toy_note_set(tmp_path / "notes", 22050, 8000, pitches=tuple(range(48, 80, 2)),
                              dynamics=("pp", "mf", "ff"))
    trainer = TrainerConfig(n_epochs=30, batch_size=16, lr=3e-3, lr_schedule="cosine", lr_final=1e-4,
                            progress=False, name="judge")
    # the toy instruments differ in quiet upper harmonics (h^-0.8 to h^-2.5): an 80 dB floor keeps them
    config = J.instrument_config(J.audio_transform("stft"), 6, 8000).replace(db_range=80.0)
    judge = J.instrument_judge("stft", root=root, run_root=str(tmp_path / "runs"), trainer=trainer,
                               n_samples=8000, group_by=None, config=config)  # single held-out notes: a quick judge
    assert judge.in_class == ("Clarinet_Bb", "Flute", "Horn", "Violin") and judge.out_class == ("Harp",)
    assert judge.model.config.freq_pool == 4 and judge.model.config.db_range == 80.0
    tests = judge.test_sets
    wave = torch.randn(40, 8000, generator=torch.Generator().manual_seed(0)) * 0.1  # 22050 Hz, like the notes
    table = novelty.sanity_table(judge, {
        "notes": tests["heldout_notes_training_instruments"][0],
        "unseen": tests["heldout_notes_unseen_instruments"][0],
        "white": judge.transform.analyze(wave)})
    assert judge.metrics["tests"]["heldout_notes"]["accuracy"] > 0.7, judge.metrics["tests"]
    assert table["notes"]["count_in@0.9"] > 0.7 and table["notes"]["count_out@0.9"] < 0.1, table
    assert table["unseen"]["count_out@0.9"] > 0.7 and table["unseen"]["count_in@0.9"] < 0.2, table
    assert table["white"]["noise@0.9"] > 0.95, table


@pytest.mark.slow
def test_leave_one_soundfont_out_reads_the_metadata_column(tmp_path, monkeypatch):
    """A ``soundfont`` column of metadata.csv is merged into the note table; the held-out
    SoundFont's notes are the whole test set and none of them is trained on."""
    from helpers.data.toy import write_toy_note_set

    monkeypatch.setenv("NOVELTY_DATA_DIR", str(tmp_path / "data"))
    root = write_toy_note_set(tmp_path / "notes", 22050, 4000, pitches=(60, 64, 67), dynamics=("pp", "ff"))
    paths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.wav"))
    pd.DataFrame({"path": paths, "soundfont": ["Loud" if "-ff-" in p else "Soft" for p in paths]}).to_csv(
        root / "metadata.csv", index=False)
    table = J.instrument_table(root)
    assert set(table["soundfont"]) == {"Loud", "Soft"}
    trainer = TrainerConfig(n_epochs=1, batch_size=16, progress=False, name="judge")
    judge = J.instrument_judge("stft", unseen=False, root=root, run_root=str(tmp_path / "runs"), trainer=trainer,
                               n_samples=4000, holdout_soundfont="Loud")
    assert judge.metrics["tests"]["heldout_notes"]["n"] == 4 * 3  # every ff note of the 4 training instruments
    assert judge.out_class == () and "-without-Loud" in judge.run.run_dir.name
