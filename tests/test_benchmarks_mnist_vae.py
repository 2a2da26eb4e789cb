"""The MNIST VAE benchmark script runs end to end at smoke size and writes its JSON."""

import importlib.util
import json
from pathlib import Path

import pytest

from helpers.data.mnist import MD5, mnist_dir

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "mnist_vae.py"


def _has_mnist():
    return all((mnist_dir() / name).exists() for name in MD5)


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.skipif(not _has_mnist(), reason="MNIST not fetched (make data)")
def test_benchmark_runs_at_smoke_size(tmp_path):
    spec = importlib.util.spec_from_file_location("mnist_vae_benchmark", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "result.json"
    result = bench.main(["--smoke", "--n-train", "512", "--n-test", "50", "--k", "4", "--out", str(out),
                         "--run-root", str(tmp_path / "runs"), "--presets", "default", "best"])
    saved = json.loads(out.read_text())
    assert saved["machine"]["cores"] >= 1 and "torch" in saved["machine"]
    import torch

    speed = saved["runs"]["smoke"]["speed"][f"threads={torch.get_num_threads()}"]
    assert len(speed["reference"]["s_per_epoch"]) == len(speed["trainer_fp32"]["s_per_epoch"]) == 2
    assert speed["trainer_fp32"]["ratio_median"] > 0 and speed["trainer_bf16"]["precision_used"] == "bf16"
    for name in ("default", "best"):
        test = saved["runs"]["smoke"]["nll"][name]["test"]
        assert test["k"] == 4 and test["nll"] > 0 and test["nll"] <= -test["elbo"] + 5
    assert result["nll"]["default"]["epochs_trained"] == 1
    # the NLL runs log to TensorBoard in their run folders
    from pathlib import Path

    for name in ("default", "best"):
        events = list((Path(result["nll"][name]["run_dir"]) / "tensorboard").glob("events.out.tfevents.*"))
        assert events and events[0].stat().st_size > 0
