"""Notebook 04's tables on tiny untrained models: every row has its measures, the same codes
serve every row, the original model is never modified, and the sentences state the table's
own numbers."""

import pandas as pd
import pytest
import torch

from helpers.evaluation.judges import DIGITS, LETTERS, NOISE, Judge, digit_config
from helpers.hacking import Bend, bendable_layers, weights_fingerprint
from helpers.hacking import study as hs
from helpers.models.classifiers import Classifier
from helpers.models.vae import VAE, VAEConfig


@pytest.fixture(scope="module")
def judge():
    torch.manual_seed(0)
    classes = DIGITS + LETTERS + (NOISE,)
    return Judge(Classifier(digit_config(len(classes), smoke=True)), classes, DIGITS, LETTERS)


def subject(judge, architecture="mlp"):
    torch.manual_seed(1)
    cfg = VAEConfig(z_dim=4, hidden=(32,)) if architecture == "mlp" else \
        VAEConfig(z_dim=4, architecture="conv", conv_channels=(4, 8), conv_hidden=16)
    vae = VAE.from_config(cfg).eval()
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(120, 28, 28, generator=g) > 0.7).float()
    codes = vae.encode(x)[0].detach()
    return hs.Subject("tiny", "image", vae, judge, codes, hs.as_images(x[:40]), hs.as_images(x[40:]), x_train=x)


def test_subject_decodes_judge_shaped_images_and_rejects_bad_kind(judge):
    s = subject(judge)
    x = s.decode(s.codes_for(7))
    assert x.shape == (7, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    assert torch.equal(s.codes_for(5, seed=3), s.codes_for(5, seed=3))
    with pytest.raises(ValueError, match="kind"):
        hs.Subject("bad", "video", s.model, judge, s.codes, s.reference, s.train)


def test_region_table_rows_measures_and_facts(judge):
    s = subject(judge)
    table, shown = hs.region_table(s, n=32, radii=(1.0, 3.0), ts=(1.5, 3.0), progress=False)
    assert {"prior", "data", "shell 1", "shell 3", "extrapolation 1.5", "extrapolation 3"} <= set(table.index)
    assert any(k.startswith("holes") for k in table.index)
    for col in ("count_in@0.9", "count_out@0.9", "noise@0.9", "frechet", "nn_data_median", "ink", "dist_to_codes"):
        assert table[col].notna().all(), col
    # the shell rows sit at the radius they claim
    assert table.loc["shell 3", "z_norm"] == pytest.approx(3.0, rel=1e-4)
    assert table.loc["shell 3", "dist_to_codes"] > table.loc["data", "dist_to_codes"]
    assert all(v.shape == (16, 1, 28, 28) for v in shown.values())
    facts = hs.region_facts(table)
    assert f"{table.loc['data', 'count_in@0.9']:.2f}" in facts["text"]
    assert facts["noisiest"] == table["noise@0.9"].idxmax()
    answer = hs.region_answer("tiny", table, s.real_measures())
    assert "tiny" in answer and f"{table['count_out@0.9'].max():.2f}" in answer


def test_corruption_table_leaves_the_model_alone_and_level_zero_is_identity(judge):
    s = subject(judge)
    before = weights_fingerprint(s.vae)
    table, shown = hs.corruption_table(s, kinds=("gaussian", "zero"), levels=(0.0, 0.9), depths=("first", None),
                                       n=24, progress=False)
    assert weights_fingerprint(s.vae) == before
    assert len(table) == 1 + 2 * 2 * 2 and table.iloc[0]["kind"] == "none"
    zero_level = table[(table.kind == "gaussian") & (table.level == 0.0)]
    assert (zero_level["change"] == 0).all() and (zero_level["class_kept"] == 1).all()
    assert (table[(table.kind == "gaussian") & (table.level == 0.9)]["change"] > 0).all()
    assert set(shown) == {(k, d, lv) for k in ("gaussian", "zero") for d in ("first", "all") for lv in (0.0, 0.9)}
    facts = hs.corruption_facts(table, table.iloc[0], "image")
    assert "gaussian" in facts["text"] and "zero" in facts["text"]


def test_bend_table_restores_the_decoder(judge):
    s = subject(judge, "conv")
    before = weights_fingerprint(s.vae)
    layers = [n for n, shape in bendable_layers(s.vae, s.codes[:2]).items() if len(shape) == 4]
    base = s.decode(s.codes_for(8))
    table, shown = hs.bend_table(s, {"flip": Bend(layer=layers[0], op="flip"),
                                     "ablate": Bend(layer=layers[0], op="ablate")}, n=16, progress=False)
    assert weights_fingerprint(s.vae) == before
    assert torch.equal(s.decode(s.codes_for(8)), base)          # hooks gone
    assert table.loc["ablate", "change"] > 0 and table.loc["flip", "change"] > 0
    assert list(table.index) == ["none", "flip", "ablate"]
    assert f"{table.loc['none', 'count_in@0.9']:.2f}" in hs.bend_facts(table)["text"]


def test_facts_name_the_extremes():
    t = pd.DataFrame({"kind": ["none", "gaussian", "gaussian", "zero", "zero"],
                      "depth": ["-", "first", "first", "all", "all"], "level": [0, 1, 2, 0.5, 0.8],
                      "count_in@0.9": [0.9, 0.8, 0.2, 0.5, 0.1], "count_out@0.9": [0.0, 0.1, 0.3, 0.0, 0.05],
                      "noise@0.9": [0.1, 0.1, 0.5, 0.5, 0.85], "ink": [0.1, 0.12, 0.3, 0.05, 0.02]})
    facts = hs.corruption_facts(t, t.iloc[0], "image")
    assert facts["most_ink"] == "gaussian on the first decoder layer at level 2"
    assert facts["least_ink"] == "zero on every decoder layer at level 0.8"
    assert facts["noisiest"] == "zero on every decoder layer at level 0.8"
    assert "from level 2" in facts["text"]        # gaussian: 0.2 < 0.45 first at level 2
    # tables concatenated from two sweeps repeat their index: the facts do not care
    doubled = pd.concat([t, t.iloc[1:]])
    assert hs.corruption_facts(doubled, t.iloc[0], "image")["most_ink"] == facts["most_ink"]


def test_search_table_raises_each_objective_within_the_radius(judge):
    s = subject(judge)
    before = weights_fingerprint(s.vae)
    table, histories, shown = hs.search_table(s, objectives=("unlikelihood", "noise"), n_codes=12, n_steps=15,
                                              lr=0.1, radius=1.5, progress=False)
    assert weights_fingerprint(s.vae) == before
    assert list(table.index) == ["start", "unlikelihood", "noise"]
    for objective in ("unlikelihood", "noise"):
        assert table.loc[objective, "objective_end"] > table.loc[objective, "objective_start"]
        assert table.loc[objective, "z_norm"] <= 1.5 + 1e-4
        assert len(histories[objective]) == 15 and shown[objective].shape == (12, 1, 28, 28)
    assert "unlikelihood" in hs.search_facts(table)["text"]


def test_uncanny_table_fine_tunes_copies_and_reloads_them(judge, tmp_path):
    s = subject(judge)
    before = weights_fingerprint(s.vae)
    table, histories, shown = hs.uncanny_table(s, weights=(0.0, 10.0), n_steps=4, lr=1e-3, n=16, run_root=tmp_path,
                                               progress=False)
    assert weights_fingerprint(s.vae) == before
    assert list(table.index) == ["original", "0", "10"]
    assert (table.loc[["0", "10"], "change"] > 0).all() and not table.loc["0", "reused"]
    assert len(histories["0"]) == 4 and shown["10"].shape == (16, 1, 28, 28)
    again, _, _ = hs.uncanny_table(s, weights=(0.0,), n_steps=4, lr=1e-3, n=16, run_root=tmp_path, progress=False)
    assert again.loc["0", "reused"] and again.loc["0", "change"] == pytest.approx(table.loc["0", "change"])
    assert "Weight 10" in hs.uncanny_facts(table)["text"]


def test_audio_facts_say_whether_any_copy_changes_timbre_rather_than_pitch():
    t = pd.DataFrame({"kind": ["none", "gaussian", "ablate"], "depth": ["-", "first", "last"], "level": [0, 1, 0.5],
                      "count_in@0.9": [0.9, 0.5, 0.4], "count_out@0.9": [0.0, 0.1, 0.2],
                      "noise@0.9": [0.1, 0.4, 0.4], "flatness": [0.01, 0.2, 0.1],
                      "pitch_kept": [1.0, 0.9, 0.5], "class_kept": [1.0, 0.3, 0.6]})
    text = hs.corruption_facts(t, t.iloc[0], "audio")["text"]
    assert "gaussian on the first decoder layer at level 1 keeps the pitch of the most notes" in text
    assert "pitch kept for 90% of the notes, instrument for 30%" in text
    t["pitch_kept"] = [1.0, 0.2, 0.5]
    assert "No corrupted copy keeps the pitch of more notes than their instrument" in \
        hs.corruption_facts(t, t.iloc[0], "audio")["text"]


def test_independent_pixels_keep_the_mean_image_and_lose_the_strokes():
    x = torch.zeros(400, 1, 28, 28)
    x[:, :, 10:18, 12:16] = 1.0  # a bar, the same in every image
    x[:200, :, 5, 5] = 1.0       # a dot in half of them
    c = hs.independent_pixels(x, seed=0)
    assert c.shape == x.shape and set(c.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(c[:, :, 10:18, 12:16], x[:, :, 10:18, 12:16])  # probability 1 stays white
    assert c[:, :, 0, 0].sum() == 0 and 150 < c[:, 0, 5, 5].sum() < 250
    assert torch.equal(c, hs.independent_pixels(x, seed=0))


def test_out_of_class_check_names_the_copy_and_its_control(judge):
    s = subject(judge)
    sweep, _ = hs.corruption_table(s, kinds=("gaussian",), levels=(1.0, 4.0), depths=("last",), n=24, progress=False)
    check = hs.out_of_class_check(s, sweep, n=24)
    top = sweep[sweep.kind != "none"]["count_out@0.9"].idxmax()
    assert f"level {sweep.loc[top, 'level']:g}" in check["label"]
    assert check["samples"].shape == check["control"].shape == (16, 1, 28, 28)
    assert f"{check['out_control']:.2f}" in check["text"] and sum(check["classes"].values()) <= 24
    with pytest.raises(ValueError, match="no corrupted copy"):
        hs.out_of_class_check(s, sweep[sweep.kind == "none"])
