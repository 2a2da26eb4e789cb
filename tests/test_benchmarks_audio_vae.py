"""benchmarks/audio_vae.py runs at smoke size and writes its JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "audio_vae.py"


@pytest.mark.slow
def test_benchmark_smoke_writes_json(tmp_path):
    out = tmp_path / "audio_vae.json"
    env = {**os.environ, "NOVELTY_DATA_DIR": str(tmp_path / "data"), "NOVELTY_RUNS_DIR": str(tmp_path / "runs")}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--threads", "1", "--note-variants", "none,pitch",
                           "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert json.loads(proc.stdout) == result
    assert result["smoke"] and result["machine"]["cores"] >= 1
    runs = {(r["model"], r["decoder"], r["transform"], r["likelihood"]) for r in result["runs"]}
    assert runs == {(m, dec, t, f"{d}/per_feature") for m, dec in (("frame", "mlp"), ("note", "frames"), ("note", "conv"))
                    for t in ("stft", "nsgt") for d in ("gaussian", "laplace")}
    for row in result["runs"]:
        for key in ("mag_sc", "mag_lsd", "audio_sc", "audio_lsd", "oracle_sc", "common_sc", "common_oracle_sc", "train_s"):
            assert row[key] >= 0, (key, row)
        for key in ("pitch_agreement", "instrument_acc_recon"):
            assert 0 <= row[key] <= 1, (key, row)
    assert len(result["latency"]) == 6
    for lat in result["latency"]:
        assert lat["decode_and_phase_ms_median"] > 0 and lat["update_ms_p95"] >= lat["update_ms_median"]
    gen = {(g["model"], g["decoder"], g["transform"], g["likelihood"], g["density"]) for g in result["generation"]}
    assert gen == {(*r, d) for r in runs for d in ("prior", "gaussian", "mixture", "kde")}
    for g in result["generation"]:
        assert 0 <= g["in_class"] <= 1 and 0 <= g["noise"] <= 1 and g["frechet_floor"] >= 0 and g["n"] > 0
    loso = result["leave_one_soundfont_out"]
    assert [r["holdout_soundfont"] for r in loso] == ["musescore", "timgm6mb", "csoundgm"]
    for r in loso:
        assert r["n_val"] > 0 and r["audio_sc"] >= 0 and r["val_neg_elbo"] == r["val_neg_elbo"]
    variants = result["note_variants"]
    assert [r["variant"] for r in variants] == ["none", "pitch"] and variants[1]["changes"] == {"augment_pitch_bins": 1}
    assert variants[0]["run"] != variants[1]["run"]  # the augmentation is part of the run's key
    for r in result["runs"] + loso + variants:
        assert r["kept_epoch"] >= 1 and r["val_over_train"] == r["val_over_train"]


def test_combine_joins_the_lists_of_parallel_parts(tmp_path):
    a = {"machine": {"cores": 2}, "smoke": False, "runs": [{"x": 1}], "latency": [], "generation": [{"g": 1}],
         "leave_one_soundfont_out": [], "args": {"loso": ""}, "total_s": 10.0}
    b = {"machine": {"cores": 2}, "smoke": False, "runs": [], "latency": [], "generation": [],
         "leave_one_soundfont_out": [{"holdout_soundfont": "musescore"}], "args": {"models": ""}, "total_s": 30.0}
    paths = []
    for name, part in (("a", a), ("b", b)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(part))
    out = tmp_path / "all.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--combine", *map(str, paths), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["runs"] == [{"x": 1}] and result["generation"] == [{"g": 1}]
    assert result["leave_one_soundfont_out"] == [{"holdout_soundfont": "musescore"}]
    assert result["total_s"] == 30.0 and [p["args"] for p in result["parts"]] == [{"loso": ""}, {"models": ""}]
    # a combined result extended by one more part keeps the parts it was made of
    c = {**a, "runs": [{"x": 2}], "args": {"note_variants": "pitch"}, "total_s": 5.0}
    paths.append(tmp_path / "c.json")
    paths[-1].write_text(json.dumps(c))
    proc = subprocess.run([sys.executable, str(SCRIPT), "--combine", str(out), str(paths[-1]), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = json.loads(out.read_text())
    assert again["runs"] == [{"x": 1}, {"x": 2}] and again["leave_one_soundfont_out"] == result["leave_one_soundfont_out"]
    assert [p["args"] for p in again["parts"]] == [{"loso": ""}, {"models": ""}, {"note_variants": "pitch"}]
    # a set-up measured again replaces its earlier row; the others stay
    row = {"model": "note", "decoder": "frames", "transform": "nsgt", "likelihood": "gaussian/per_feature"}
    first = {**a, "runs": [{**row, "common_sc": 0.6}, {**row, "transform": "stft", "common_sc": 0.9}],
             "generation": [{**row, "density": "kde", "in_class": 0.9}]}
    second = {**a, "runs": [{**row, "common_sc": 0.5}], "generation": [{**row, "density": "prior", "in_class": 0.2}]}
    for name, part in (("first", first), ("second", second)):
        (tmp_path / f"{name}.json").write_text(json.dumps(part))
    proc = subprocess.run([sys.executable, str(SCRIPT), "--combine", str(tmp_path / "first.json"),
                           str(tmp_path / "second.json"), "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    merged = json.loads(out.read_text())
    assert [(r["transform"], r["common_sc"]) for r in merged["runs"]] == [("stft", 0.9), ("nsgt", 0.5)]
    assert [g["density"] for g in merged["generation"]] == ["kde", "prior"]
