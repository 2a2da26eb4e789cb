"""What the benchmark smoke tests share: whether the fetched data is there, and loading a script
of benchmarks/ as a module."""

import importlib.util
from pathlib import Path

import pytest

from helpers.data import instruments as ins
from helpers.data.mnist import MD5, mnist_dir

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def has_mnist_and_instruments() -> bool:
    return all((mnist_dir() / name).exists() for name in MD5) and ins.read_marker(ins.instruments_dir()) is not None


#: skip a test when MNIST or the rendered instrument set has not been fetched (make data)
needs_mnist_and_instruments = pytest.mark.skipif(not has_mnist_and_instruments(),
                                                 reason="MNIST or the instrument set not there (make data)")


def load_script(name: str):
    """``benchmarks/<name>.py`` as a module (its ``main(argv)`` runs the benchmark)."""
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_smoke(name: str, tmp_path, *extra: str) -> dict:
    """Run ``benchmarks/<name>.py`` at smoke size on one thread, in a fresh run store under
    ``tmp_path``; check that what it returns is what it wrote, and return the written JSON."""
    import json

    out = tmp_path / "result.json"
    result = load_script(name).main(["--smoke", "--out", str(out), "--run-root", str(tmp_path / "runs"),
                                     "--threads", "1", *extra])
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(result))
    return saved
