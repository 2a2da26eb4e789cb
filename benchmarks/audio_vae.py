"""Audio VAE benchmark: held-out reconstruction of every model x transform x output distribution,
training times, and the latency of one slider update of the latent explorer.

    python benchmarks/audio_vae.py                      # the notebook 03 set-ups (~15 minutes)
    python benchmarks/audio_vae.py --smoke --out /tmp/x.json   # seconds: a toy note set, tiny models

(a) For each layout ("frame", "note"; the note model with each of its decoders, the frame-wise
MLP and the transposed convolutions), transform ("stft", "nsgt") and distribution ("gaussian",
"laplace", per-bin learned scale) the preset of ``helpers.training.presets.audio_preset`` is
trained on the training instruments (or its finished run is reused: same config, same folder
under ``--run-root``), then scored on the held-out 10% of their notes
(``helpers.evaluation.audio.evaluate_reconstructions``): spectral convergence and log-spectral
distance of the decoded magnitudes, and of the sound after phase reconstruction
(``--n-iter`` Griffin-Lim iterations) analysed again; plus the floors of the phase
reconstruction alone (oracle) and of the note model's time pooling. And whether the
reconstructions are heard as the same note (``recognisability``): the share of held-out notes
whose decoded pitch matches the original's within half a semitone, and the accuracy of a linear
instrument classifier (fitted on the training notes' magnitudes) on the decoded notes, next to
its accuracy on the originals.

(b) For each layout and transform, ``--updates`` slider updates of the explorer
(``helpers.display.audio_explorer``) at random slider values: median and 95th percentile of
decode + phase reconstruction of one second (the live setting), and of the whole update
(with the PNG and WAV encoding).

Prints the JSON and writes it to ``--out`` (default benchmarks/results/audio_vae.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from helpers.benchmarking import machine_description
from helpers.display.audio_explorer import audio_explorer, time_updates
from helpers.evaluation.audio import InstrumentProbe, evaluate_reconstructions, recognisability, summarize
from helpers.latent.audio import data_codes
from helpers.training.audio import prepare_audio_data, train_audio_vae
from helpers.training.presets import audio_preset

RESULTS = Path(__file__).resolve().parent / "results" / "audio_vae.json"


def machine() -> dict:
    """The machine description stored with the results."""
    return machine_description()


def slider_latency(run, data, n_updates: int, seed: int = 0) -> dict:
    """Median / p95 of ``n_updates`` explorer updates at random slider values (ms), through the
    loop that notebook 03 uses (``helpers.display.audio_explorer.time_updates``)."""
    model = run.model
    explorer = audio_explorer(model, codes=data_codes(model, data, "train", per_note=False))
    return time_updates(explorer, n_updates, seed=seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="frame,note")
    parser.add_argument("--transforms", default="stft,nsgt")
    parser.add_argument("--likelihoods", default="gaussian,laplace")
    parser.add_argument("--note-decoders", default="frames,conv",
                        help="decoders of the note model: frames (FrameDecoder) and/or conv (transposed convolutions)")
    parser.add_argument("--n-iter", type=int, default=64, help="Griffin-Lim iterations of the evaluation")
    parser.add_argument("--max-val", type=int, default=None, help="score at most this many held-out notes")
    parser.add_argument("--updates", type=int, default=50, help="slider updates timed per model")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--run-root", default=None, help="run folders (default $NOVELTY_RUNS_DIR or ./runs)")
    parser.add_argument("--no-reuse", action="store_true", help="train even when a finished run matches")
    parser.add_argument("--smoke", action="store_true", help="tiny models on a toy note set (seconds)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    tmp = None
    overrides = {}
    if args.smoke:
        from helpers.data.toy import write_toy_note_set

        tmp = tempfile.TemporaryDirectory()
        root = write_toy_note_set(Path(tmp.name) / "notes", 22050, 22050, pitches=(60, 67), dynamics=("ff",))
        os.environ.setdefault("NOVELTY_DATA_DIR", str(Path(tmp.name) / "data"))  # spectra cache
        overrides = {"data_root": str(root)}
        args.run_root = args.run_root or str(Path(tmp.name) / "runs")
        args.n_iter, args.updates = min(args.n_iter, 4), min(args.updates, 5)

    result = {"machine": machine(), "smoke": args.smoke, "n_iter_eval": args.n_iter, "runs": [], "latency": []}
    start_all = time.perf_counter()
    probes = {}
    prepared = {}
    variants = [(m, d) for m in args.models.split(",")
                for d in (args.note_decoders.split(",") if m == "note" else ["mlp"])]
    for model_kind, decoder in variants:
        for transform in args.transforms.split(","):
            latency_run = None
            for likelihood in args.likelihoods.split(","):
                kw = {"decoder": decoder} if model_kind == "note" else {}
                config = audio_preset(model_kind, transform, likelihood, smoke=args.smoke, **kw, **overrides)
                if (model_kind, transform) not in prepared:
                    data = prepare_audio_data(config.resolve(), progress=False)
                    val = data.part("val")
                    magnitude = data.magnitudes("val")
                    if args.max_val is not None:
                        magnitude, val = magnitude[:args.max_val], val.iloc[:args.max_val]
                    prepared[model_kind, transform] = data, magnitude, val
                    if transform not in probes:
                        probes[transform] = InstrumentProbe(data.transform).fit(
                            data.magnitudes("train"), data.part("train")["instrument"])
                data, magnitude, val = prepared[model_kind, transform]
                run = train_audio_vae(config, run_root=args.run_root, reuse=not args.no_reuse, data=data,
                                      progress=False)
                t = time.perf_counter()
                metrics = summarize(evaluate_reconstructions(run.model, magnitude, n_iter=args.n_iter))
                metrics.update(recognisability(run.model, magnitude, val["pitch"], val["instrument"],
                                               probes[transform]))
                row = {**run.summary(), "decoder": decoder, "architecture": config.vae.architecture,
                       "reused": run.reused, "n_val": len(magnitude),
                       **{k: round(v, 4) for k, v in metrics.items()}, "eval_s": round(time.perf_counter() - t, 1)}
                result["runs"].append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
                latency_run = latency_run or run  # the decoders of all distributions cost the same
            lat = {"model": model_kind, "decoder": decoder, "transform": transform,
                   "likelihood": f"{latency_run.config.vae.likelihood}/{latency_run.config.vae.scale}",
                   **slider_latency(latency_run, data, args.updates)}
            result["latency"].append(lat)
            print(json.dumps(lat), file=sys.stderr, flush=True)
    result["total_s"] = round(time.perf_counter() - start_all, 1)
    text = json.dumps(result, indent=2)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
