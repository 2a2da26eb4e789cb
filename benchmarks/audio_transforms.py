"""Benchmark of the audio transforms, measured in one run, written as JSON.

    python benchmarks/audio_transforms.py            # full run (5-15 minutes on 2 shared cores)
    python benchmarks/audio_transforms.py --tiny     # seconds; what the tests run

Sections of ``benchmarks/results/audio_transforms.json``:

- ``machine``: CPU model, cores, torch threads, library versions.
- ``data``: the rendered training notes (``data/instruments/metadata.csv``, split == "train",
  read with soundfile) or, when absent, synthetic harmonic notes (said so here).
- ``stft_griffin_lim``: analysis + fast Griffin-Lim (32 and 128 iterations) of the default STFT,
  time per second of audio and spectral convergence, from a zero phase and from the
  phase-vocoder start.
- ``nsgt_phase``: phase reconstruction of NSGT magnitudes at 12/24/48 bins per octave (zero phase
  vs phase-vocoder start), judged in the same common STFT domain (n_fft 1024, hop 256) as
  everything else, and in the NSGT domain.
- ``nsgt_speed``: forward + backward of a batch of one-second notes, the PyTorch NSGT (float32)
  against the nsgt package (its own float64), their ratio and the largest relative error.
- ``targets``: the goals and whether this run met them.

Timings are the minimum over repeats (other processes share the cores; the minimum is the
least disturbed run).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from helpers.benchmarking import machine_description
from helpers.audio import NSGTConfig, STFTConfig
from helpers.audio.metrics import spectral_convergence, stft_spectral_convergence
from helpers.audio.nsgt import NSGTTransform
from helpers.audio.nsgt_ref import NSGTReference
from helpers.audio.nsgt_torch import TorchNSGT, smooth_fmax
from helpers.audio.stft import STFTTransform
from helpers.audio.synthetic import harmonic_notes

REPO = Path(__file__).resolve().parents[1]

RESULTS = REPO / "benchmarks" / "results" / "audio_transforms.json"
SR = 22050
FMIN = 32.70
JUDGE = {"n_fft": 1024, "hop_length": 256}  # the common STFT domain every reconstruction is judged in


# ----------------------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> dict:
    """The machine description stored with the results."""
    return machine_description()


def load_notes(n: int, n_samples: int, seed: int = 0) -> tuple[torch.Tensor, dict]:
    """``n`` training notes (random, seeded), cut/padded to ``n_samples``; synthetic fallback."""
    meta = REPO / "data" / "instruments" / "metadata.csv"
    if meta.is_file():
        with open(meta, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["split"] == "train"]
        if rows:
            pick = np.random.default_rng(seed).permutation(len(rows))[:n]
            waves = []
            for i in pick:
                x, sr = sf.read(meta.parent / rows[i]["path"], dtype="float32", always_2d=True)
                if sr != SR:
                    raise ValueError(f"{rows[i]['path']}: {sr} Hz, expected {SR}")
                x = x.mean(axis=1)[:n_samples]
                waves.append(np.pad(x, (0, n_samples - len(x))))
            return torch.from_numpy(np.stack(waves)), {
                "source": "rendered training notes (data/instruments, split == train)",
                "n_notes": len(waves), "n_available": len(rows), "seed": seed,
                "n_samples": n_samples, "sample_rate": SR}
    return harmonic_notes(n, n_samples, SR, seed=seed), {
        "source": "synthetic harmonic notes (data/instruments/metadata.csv not found)",
        "n_notes": n, "seed": seed, "n_samples": n_samples, "sample_rate": SR}


def best_time(fn, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), times


def summary(values: torch.Tensor) -> dict:
    v = values.double()
    return {"mean": round(float(v.mean()), 4), "median": round(float(v.median()), 4),
            "p90": round(float(torch.quantile(v, 0.9)), 4), "max": round(float(v.max()), 4)}


def batches(x: torch.Tensor, size: int):
    for i in range(0, x.shape[0], size):
        yield x[i:i + size]


def reconstruct(transform, notes, n_iter, init, batch_size):
    """Griffin-Lim of every note's magnitude; returns waves, seconds, NSGT/own-domain SC."""
    waves, own = [], []
    start = time.perf_counter()
    for x in batches(notes, batch_size):
        mag = transform.analyze(x)
        y = transform.synthesize(mag, n_iter=n_iter, init=init, length=x.shape[-1])
        waves.append(y)
        own.append(spectral_convergence(mag, transform.analyze(y)))
    seconds = time.perf_counter() - start
    return torch.cat(waves), seconds, torch.cat(own)


# ----------------------------------------------------------------------------- sections


def scored_run(transform, notes, init, n_iter, batch_size, own_key) -> dict:
    """One phase reconstruction of ``notes``: its time per second of audio, its spectral
    convergence in the transform's own domain (under ``own_key``) and in the common STFT."""
    y, seconds, own = reconstruct(transform, notes, n_iter, init, batch_size)
    audio_s = notes.shape[0] * notes.shape[-1] / SR
    return {"init": init, "n_iter": n_iter, "seconds_per_audio_second": round(seconds / audio_s, 4),
            own_key: summary(own), "stft_domain_sc": summary(stft_spectral_convergence(notes, y, **JUDGE))}


def stft_griffin_lim(notes, iters, batch_size) -> dict:
    transform = STFTTransform(STFTConfig())
    out = {"config": transform.config.analysis_dict(), "momentum": transform.config.gl_momentum,
           "runs": []}
    for init in ("zeros", "peaks"):
        for n_iter in iters:
            out["runs"].append(scored_run(transform, notes, init, n_iter, batch_size, "spectral_convergence"))
            log(f"stft griffin-lim {init} x {n_iter}: {out['runs'][-1]['spectral_convergence']['mean']}")
    return out


def nsgt_phase(notes, bins_list, iters, batch_size) -> dict:
    """Zero phase vs phase-vocoder start at every bins-per-octave setting after the most
    iterations; the default setting also after the fewest."""
    out = {"judged_in": dict(JUDGE, window="hann"), "configs": []}
    default_bins = NSGTConfig().bins_per_octave
    for bins in bins_list:
        runs = [("zeros", iters[-1])] + [("peaks", n) for n in (iters if bins == default_bins
                                                                else iters[-1:])]
        fmax = smooth_fmax(FMIN, bins, SR, notes.shape[-1])
        transform = NSGTTransform(NSGTConfig(n_samples=notes.shape[-1], fmin=FMIN, fmax=fmax,
                                             bins_per_octave=bins))
        entry = {"bins_per_octave": bins, "fmax": fmax,
                 "shape": list(transform.output_shape(notes.shape[-1])),
                 "frame_condition": round(transform.nsgt.condition, 2), "runs": []}
        for init, n_iter in runs:
            entry["runs"].append(scored_run(transform, notes, init, n_iter, batch_size, "nsgt_domain_sc"))
            log(f"nsgt phase {bins} bins/octave, {init} x {n_iter}: {entry['runs'][-1]['stft_domain_sc']['mean']}")
        out["configs"].append(entry)
    return out


def nsgt_speed(notes, bins_list, repeats) -> dict:
    """Forward + backward of the whole batch. The package runs single-threaded; torch is timed
    with one thread (the same resources) and with its default thread count. The three are
    interleaved, repeat after repeat, so that they see the same load of the machine."""
    n_samples = notes.shape[-1]
    threads = torch.get_num_threads()
    out = {"batch": notes.shape[0], "n_samples": n_samples, "torch_dtype": "float32",
           "package_dtype": "float64", "torch_default_threads": threads,
           "speedup_is": "package seconds / torch seconds, minimum over repeats", "configs": []}
    x32 = notes.float().contiguous()
    x64 = notes.double().numpy()
    for bins in bins_list:
        fmax = smooth_fmax(FMIN, bins, SR, n_samples)
        nsgt = TorchNSGT(FMIN, fmax, bins, SR, n_samples)
        ref = NSGTReference(FMIN, fmax, bins, SR, n_samples)

        def torch_run():
            with torch.no_grad():
                nsgt.backward(nsgt.forward(x32))

        torch_run()  # warm-up: tables cast to the device and dtype, FFT plans
        times = {"package": [], "torch_1_thread": [], f"torch_{threads}_threads": []}
        for _ in range(repeats):
            times["package"].append(best_time(lambda: ref.backward(ref.forward(x64)), 1)[0])
            torch.set_num_threads(1)
            try:
                times["torch_1_thread"].append(best_time(torch_run, 1)[0])
            finally:
                torch.set_num_threads(threads)
            times[f"torch_{threads}_threads"].append(best_time(torch_run, 1)[0])
        best = {k: min(v) for k, v in times.items()}
        c_ref = ref.forward(x64)
        with torch.no_grad():
            c32 = nsgt.forward(x32).numpy()
            y32 = nsgt.backward(torch.from_numpy(c_ref).to(torch.complex64)).numpy()
            c64 = nsgt.forward(torch.from_numpy(x64)).numpy()
        y_ref = ref.backward(c_ref)

        def max_rel(a, b, axes):
            num = np.sqrt((np.abs(a - b) ** 2).sum(axis=axes))
            den = np.sqrt((np.abs(b) ** 2).sum(axis=axes))
            return float((num / np.maximum(den, 1e-300)).max())

        log(f"nsgt speed {bins} bins/octave: " + ", ".join(f"{k} {v:.3f} s" for k, v in best.items()))
        out["configs"].append({
            "bins_per_octave": bins, "fmax": fmax, "shape": list(nsgt.shape),
            "seconds": {k: round(v, 4) for k, v in best.items()},
            "speedup": {k: round(best["package"] / v, 2) for k, v in best.items() if k != "package"},
            "runs": {k: [round(t, 4) for t in v] for k, v in times.items()},
            "max_rel_err_forward_float32": max_rel(c32, c_ref, (1, 2)),
            "max_rel_err_backward_float32": max_rel(y32, y_ref, (1,)),
            "max_rel_err_forward_float64": max_rel(c64, c_ref, (1, 2)),
        })
    return out


def targets(result: dict) -> dict:
    stft = {(r["init"], r["n_iter"]): r for r in result["stft_griffin_lim"]["runs"]}
    n_max = max(n for _, n in stft)
    best_stft = stft[("peaks", n_max)]["spectral_convergence"]["mean"]
    nsgt = {c["bins_per_octave"]: c for c in result["nsgt_phase"]["configs"]}
    default_bins = NSGTConfig().bins_per_octave
    phase = nsgt.get(default_bins) or next(iter(nsgt.values()))
    best_nsgt = min(r["stft_domain_sc"]["mean"] for r in phase["runs"] if r["n_iter"] == n_max)
    speed = {c["bins_per_octave"]: max(c["speedup"].values()) for c in result["nsgt_speed"]["configs"]}
    return {
        "stft_gl_sc_at_max_iter": {"goal": "<= 0.03", "value": best_stft, "met": best_stft <= 0.03},
        "nsgt_phase_stft_domain_sc": {"goal": "<= 0.15", "bins_per_octave": phase["bins_per_octave"],
                                      "value": best_nsgt, "met": best_nsgt <= 0.15},
        "nsgt_torch_speedup": {"goal": ">= 10 at 24 and 48 bins per octave (best thread setting)",
                               "value": speed,
                               "met": all(speed.get(b, 0) >= 10 for b in (24, 48) if b in speed)},
    }


def run(tiny: bool = False, n_notes: int | None = None, speed_batch: int | None = None,
        repeats: int | None = None, threads: int | None = None) -> dict:
    torch.manual_seed(0)
    if tiny:
        n_samples, n_notes, speed_batch, repeats = 4410, n_notes or 2, speed_batch or 2, repeats or 1
        iters, bins_list = (2, 4), (12, 24)
    else:
        n_samples, n_notes, speed_batch, repeats = SR, n_notes or 128, speed_batch or 64, repeats or 7
        iters, bins_list = (32, 128), (12, 24, 48)
    notes, data = load_notes(max(n_notes, speed_batch), n_samples)
    result = {"tiny": tiny, "machine": machine(), "data": data}
    started = time.perf_counter()
    result["nsgt_speed"] = nsgt_speed(notes[:speed_batch], bins_list, repeats)
    default_threads = torch.get_num_threads()
    result["quality_threads"] = threads or default_threads
    torch.set_num_threads(result["quality_threads"])
    try:
        result["stft_griffin_lim"] = stft_griffin_lim(notes[:n_notes], iters, batch_size=64)
        result["nsgt_phase"] = nsgt_phase(notes[:n_notes], bins_list, iters, batch_size=32)
    finally:
        torch.set_num_threads(default_threads)
    result["data"]["n_notes_quality"] = min(n_notes, notes.shape[0])
    result["targets"] = targets(result)
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--n-notes", type=int, default=None,
                        help="notes for the phase reconstruction measures (default 128)")
    parser.add_argument("--speed-batch", type=int, default=None,
                        help="batch of the NSGT speed comparison (default 64)")
    parser.add_argument("--repeats", type=int, default=None, help="timing repeats (default 7)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for the Griffin-Lim sections (default: torch's; on "
                             "cores shared with other work, 1 avoids oversubscription)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"JSON output (default {RESULTS.relative_to(REPO)}; tiny runs write "
                             "nothing unless given)")
    args = parser.parse_args(argv)
    result = run(args.tiny, args.n_notes, args.speed_batch, args.repeats, args.threads)
    out = args.out if args.out is not None else (None if args.tiny else RESULTS)
    text = json.dumps(result, indent=2)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(text + "\n")
        os.replace(tmp, out)
    print(text)
    return result


if __name__ == "__main__":
    main()
