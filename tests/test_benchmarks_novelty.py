"""The novelty benchmark runs end to end at smoke size and writes its JSON."""

import importlib.util
import json
from pathlib import Path

import pytest

from helpers.data import instruments as ins
from helpers.data.mnist import MD5, mnist_dir

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "novelty.py"


def _has_data():
    return all((mnist_dir() / name).exists() for name in MD5) and ins.read_marker(ins.instruments_dir()) is not None


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.skipif(not _has_data(), reason="MNIST or the instrument set not there (make data)")
def test_benchmark_runs_at_smoke_size(tmp_path):
    spec = importlib.util.spec_from_file_location("novelty_benchmark", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "result.json"
    result = bench.main(["--smoke", "--out", str(out), "--run-root", str(tmp_path / "runs"), "--threads", "1"])
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(result))
    for part in ("tradeoff_mnist", "tradeoff_audio"):
        t = saved[part]
        families = {row["family"] for row in t["table"]}
        assert {"main model", "corrupted (notebook 04)", "fine-tuned (notebook 04)"} <= families
        assert all(0 <= row["spurious"] <= 1 and 0 <= row["coverage_optimised"] <= 1 for row in t["table"])
        assert set(t["correlations"]) == {f"{m}_{y}" for m in ("pearson", "spearman")
                                          for y in ("coverage_optimised", "coverage_encoder")}
    assert {"K&W latent size", "grid z x beta"} <= {row["family"] for row in saved["tradeoff_mnist"]["table"]}
    for name in ("sparse autoencoder", "MNIST VAE"):
        s = saved["kazakci"][name]["summary"]
        assert s["starts"] == 48 and s["distinct_fixed_points"] >= 1 and s["k"] == len(saved["kazakci"][name]["clusters"])
    chase = saved["audio_chase"]
    assert {row["source"] for row in chase["sources"]} == {"prior", "own sampler", "iterated from noise",
                                                          "iterated from prior draws"}
    assert sum(row["n"] for row in chase["sources"]) == 48
