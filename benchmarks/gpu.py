"""The project on a CUDA GPU: the NSGT batch, notebook 01's default training, and the test suite.

    python benchmarks/gpu.py nsgt --out gpu-nsgt.json                # seconds
    python benchmarks/mnist_vae.py --parts speed nll --presets default --device cuda --out mnist.json
    python -m pytest tests --junitxml=junit.xml                     # on the GPU machine
    python benchmarks/gpu.py merge --nsgt gpu-nsgt.json --mnist mnist.json --junit junit.xml

``nsgt`` times forward + backward of a batch of one-second notes (22,050 Hz, synthetic harmonic
notes) through the PyTorch NSGT on the GPU (float32, synchronised, minimum over repeats) and on
the same machine's CPU threads, and checks that the GPU's coefficients equal the CPU's.
``merge`` writes ``benchmarks/results/gpu.json``: every part marked with the machine that ran it
(GPU name, CUDA and torch versions), next to the 2-core CPU figures of ``audio_transforms.json``
and ``mnist_vae.json``. Without CUDA the ``nsgt`` part says so and measures nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import torch

from helpers.benchmarking import machine_description

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "gpu.json"
SR, FMIN = 22050, 32.70


def _timed(fn, device: torch.device, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def nsgt_batch(batch: int = 64, bins_list=(12, 24, 48), repeats: int = 7) -> dict:
    """Forward + backward of ``batch`` one-second notes on the GPU and on this machine's CPU."""
    from helpers.audio.nsgt_torch import TorchNSGT, smooth_fmax
    from helpers.audio.synthetic import harmonic_notes

    out = {"machine": machine_description(), "batch": batch, "n_samples": SR, "dtype": "float32",
           "timing": f"minimum over {repeats} repeats, CUDA synchronised", "configs": []}
    if not torch.cuda.is_available():
        out["skipped"] = "CUDA is not available on this machine"
        return out
    gpu = torch.device("cuda")
    x = harmonic_notes(batch, SR, SR, seed=0).float().contiguous()
    x_gpu = x.to(gpu)
    for bins in bins_list:
        nsgt = TorchNSGT(FMIN, smooth_fmax(FMIN, bins, SR, SR), bins, SR, SR)
        entry = {"bins_per_octave": bins, "shape": list(nsgt.shape), "seconds": {}}
        for name, data, device in (("cuda", x_gpu, gpu), (f"cpu_{torch.get_num_threads()}_threads", x, torch.device("cpu"))):
            def run(data=data):
                with torch.no_grad():
                    nsgt.backward(nsgt.forward(data))
            run()  # warm-up: tables cast to the device, FFT plans
            times = _timed(run, device, repeats)
            entry["seconds"][name] = round(min(times), 5)
        with torch.no_grad():
            c_gpu, c_cpu = nsgt.forward(x_gpu).cpu(), nsgt.forward(x)
            y_gpu = nsgt.backward(c_gpu.to(gpu)).cpu()
        entry["max_rel_err_gpu_vs_cpu"] = float(((c_gpu - c_cpu).abs().norm() / c_cpu.abs().norm()))
        entry["reconstruction_rel_err_gpu"] = float((y_gpu - x).norm() / x.norm())
        cpu_key = next(k for k in entry["seconds"] if k.startswith("cpu"))
        entry["speedup_gpu_over_cpu"] = round(entry["seconds"][cpu_key] / entry["seconds"]["cuda"], 1)
        out["configs"].append(entry)
        print(f"nsgt {bins} bins/octave: {entry['seconds']}", file=sys.stderr, flush=True)
    return out


def junit_summary(path: str | Path) -> dict:
    """Counts, time and the failing tests' names and first message line of a pytest JUnit XML."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    counts["time_s"] = round(sum(float(s.get("time", 0)) for s in suites), 1)
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    failing, skipped = [], []
    for case in root.iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        for tag in ("failure", "error"):
            node = case.find(tag)
            if node is not None:
                failing.append({"test": name, "kind": tag, "message": (node.get("message") or "").splitlines()[0][:300]
                                if node.get("message") else ""})
        node = case.find("skipped")
        if node is not None:
            skipped.append({"test": name, "reason": (node.get("message") or "")[:200]})
    counts["failing"] = failing
    counts["skipped_tests"] = skipped
    return counts


def merge(nsgt: Path | None, mnist: Path | None, junit: Path | None, device_log: Path | None,
          out: Path = RESULTS, notes: list[str] | None = None) -> dict:
    """``benchmarks/results/gpu.json`` from the parts measured on the GPU machine; ``notes`` say
    how they were run (what shared the machine)."""
    result = json.loads(out.read_text()) if out.is_file() else {}
    if notes:
        result["notes"] = list(notes)
    if nsgt is not None:
        result["nsgt_batch"] = json.loads(nsgt.read_text())
    if mnist is not None:
        mnist_result = json.loads(mnist.read_text())
        result["notebook01_default_training"] = mnist_result
    if junit is not None:
        result["test_suite"] = junit_summary(junit)
        if device_log is not None:
            result["test_suite"]["command"] = device_log.read_text().strip()
    cpu = {}
    try:
        cpu_nsgt = json.loads((REPO / "benchmarks" / "results" / "audio_transforms.json").read_text())["nsgt_speed"]
        cpu["nsgt_torch_seconds_2_core_cpu"] = {c["bins_per_octave"]: c["seconds"] for c in cpu_nsgt["configs"]}
        cpu_mnist = json.loads((REPO / "benchmarks" / "results" / "mnist_vae.json").read_text())
        default = cpu_mnist["runs"]["full"]["nll"]["default"]
        cpu["notebook01_default_training_2_core_cpu"] = {
            "machine": default.get("machine", {}).get("cpu"), "precision": default["trainer_config"].get("precision"),
            "train_minutes": default["train_minutes"], "eval_minutes": default["eval_minutes"],
            "test_nll": default["test"]["nll"], "k": default["test"]["k"]}
    except (OSError, KeyError, json.JSONDecodeError) as err:
        cpu["error"] = f"{type(err).__name__}: {err}"
    result["cpu_reference"] = cpu
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)
    return result


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="part", required=True)
    n = sub.add_parser("nsgt", help="time the NSGT batch on the GPU and this machine's CPU")
    n.add_argument("--batch", type=int, default=64)
    n.add_argument("--repeats", type=int, default=7)
    n.add_argument("--out", type=Path, required=True)
    m = sub.add_parser("merge", help="write benchmarks/results/gpu.json from the GPU machine's files")
    m.add_argument("--nsgt", type=Path)
    m.add_argument("--mnist", type=Path)
    m.add_argument("--junit", type=Path)
    m.add_argument("--command", type=Path, help="file holding the test command that was run")
    m.add_argument("--note", action="append", default=[], help="how the parts were run (repeatable)")
    m.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.part == "nsgt":
        result = nsgt_batch(args.batch, repeats=args.repeats)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    else:
        result = merge(args.nsgt, args.mnist, args.junit, args.command, args.out, args.note)
    print(json.dumps({k: v for k, v in result.items() if k != "test_suite"}, indent=2)[:4000])
    return result


if __name__ == "__main__":
    main()
