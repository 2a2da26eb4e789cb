"""The transform benchmark runs at tiny size and reports every section."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "audio_transforms.py"


@pytest.mark.slow
def test_tiny_benchmark_writes_complete_json(tmp_path):
    spec = importlib.util.spec_from_file_location("audio_transforms_benchmark", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "audio_transforms.json"
    result = bench.main(["--tiny", "--threads", "1", "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert {"machine", "data", "stft_griffin_lim", "nsgt_phase", "nsgt_speed", "targets"} <= set(result)
    assert result["machine"]["cores"] >= 1 and result["machine"]["torch"]
    assert "notes" in result["data"]["source"]
    for config in result["nsgt_speed"]["configs"]:
        assert config["max_rel_err_forward_float32"] < 1e-5
        assert config["max_rel_err_forward_float64"] < 1e-10
        assert min(config["speedup"].values()) > 0
    assert all(r["stft_domain_sc"]["mean"] >= 0 for c in result["nsgt_phase"]["configs"] for r in c["runs"])
