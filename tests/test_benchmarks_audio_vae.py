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
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--threads", "1", "--out", str(out)],
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
    for r in result["runs"] + loso:
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
