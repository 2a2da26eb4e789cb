"""Hacking benchmark: notebook 04's tables at full size, and the times they cost.

    python benchmarks/hacking.py                         # full size (models reloaded from the run store)
    python benchmarks/hacking.py --smoke --out /tmp/x.json   # tiny models and batches (what the test runs)

For the MNIST VAE of notebook 01 (judged by the 36-class digits-and-letters judge) and the NSGT
note VAE of notebook 03 (judged by the 16-instrument judge): the latent-region table, the weight
corruption sweep (kind x decoder layer x level -> measures), network bending (the convolutional
MNIST VAE, and the note VAE), the unlikelihood searches and the "amplifying the uncanny"
fine-tuning sweep; then times: scoring one sweep point (1000 samples decoded and measured), one
unlikelihood-search step for 256 codes, one update of the explorer's hack panel.

Prints the JSON and writes ``--out`` (default benchmarks/results/hacking.json).
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import torch

from helpers.benchmarking import finish, machine_description, parser
from helpers.hacking import Bend, bendable_layers
from helpers.hacking import study as hs

RESULTS = Path(__file__).resolve().parent / "results" / "hacking.json"
NOISE_LEVELS = (0.25, 0.5, 1.0, 2.0, 4.0)
FRACTIONS = (0.1, 0.3, 0.5, 0.8)


def records(table) -> list[dict]:
    """A DataFrame as JSON-ready rows (its index as a column)."""
    return json.loads(table.reset_index().to_json(orient="records"))




def sweep(subject, kinds, n, seed, progress):
    import pandas as pd

    noisy = [k for k in kinds if k in ("gaussian", "gaussian_abs", "multiplicative")]
    fractions = [k for k in kinds if k not in noisy]
    parts = []
    if noisy:
        parts.append(hs.corruption_table(subject, kinds=noisy, levels=NOISE_LEVELS, n=n, seed=seed, keep=(),
                                         progress=progress)[0])
    if fractions:
        parts.append(hs.corruption_table(subject, kinds=fractions, levels=FRACTIONS, n=n, seed=seed, keep=(),
                                         progress=progress)[0])
    return pd.concat(parts, ignore_index=True).drop_duplicates(["kind", "depth", "level"])


def time_point(subject, n: int, seed: int = 0, repeats: int = 3) -> dict:
    """Seconds to corrupt a copy, decode ``n`` prior codes and measure them (best of ``repeats``)."""
    from helpers.hacking import Corruption, corrupt

    z = subject.codes_for(n, seed)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        copy = corrupt(subject.vae, Corruption(kind="gaussian", amount=1.0, part="decoder"))
        subject.measure(subject.decode(z, vae=copy))
        best = min(best, time.perf_counter() - start)
    return {"n_samples": n, "seconds_best_of": repeats, "seconds": best}


def subject_part(subject, args, kinds, bends: dict | None = None, search_codes: int | None = None,
                 search_steps: int | None = None, uncanny_steps: int | None = None, uncanny_batch: int = 128) -> dict:
    progress = not args.smoke
    search_codes, search_steps = search_codes or args.search_codes, search_steps or args.search_steps
    uncanny_steps = uncanny_steps or args.uncanny_steps
    out = {"model": subject.name, "z_dim": subject.z_dim, "train_seconds": subject.run.train_seconds,
           "judge_classes": len(subject.judge.classes), "real_measures": subject.real_measures()}
    regions, _ = hs.region_table(subject, n=args.n_samples, seed=args.seed, progress=progress)
    out["regions"] = {"inactive_dims": regions.attrs.get("inactive_dims"), "table": records(regions),
                      "facts": hs.region_facts(regions)["text"]}
    table = sweep(subject, kinds, args.n_samples, args.seed, progress)
    out["corruption"] = {"table": records(table), "facts": hs.corruption_facts(
        table, table[table.kind == "none"].iloc[0], subject.kind)["text"]}
    if bends:
        bent, _ = hs.bend_table(subject, bends, n=args.n_samples, seed=args.seed, progress=progress)
        out["bending"] = {"table": records(bent), "specs": {k: v.to_dict() for k, v in bends.items()}}
    searched, histories, _ = hs.search_table(subject, n_codes=search_codes, n_steps=search_steps,
                                             seed=args.seed, progress=progress)
    out["search"] = {"n_codes": search_codes, "n_steps": search_steps, "table": records(searched),
                     "facts": hs.search_facts(searched)["text"]}
    tuned, _, _ = hs.uncanny_table(subject, weights=args.uncanny_weights, n_steps=uncanny_steps, batch_size=uncanny_batch,
                                   n=args.n_samples, seed=args.seed, run_root=args.run_root, progress=progress)
    out["uncanny"] = {"n_steps": uncanny_steps, "batch_size": uncanny_batch, "table": records(tuned),
                      "facts": hs.uncanny_facts(tuned)["text"]}
    out["times"] = {"sweep_point": time_point(subject, args.n_samples, args.seed)}
    try:
        from helpers.hacking.search import time_search_step

        out["times"]["search_step_256_codes"] = time_search_step(subject.model, n_codes=256)
    except ImportError:
        pass
    return out


def conv_bends(subject) -> dict:
    layers = bendable_layers(subject.vae, subject.codes[:4])
    maps = [n for n, shape in layers.items() if len(shape) == 4]
    first, middle = maps[0], maps[len(maps) // 2]
    return {"ablate 50%": Bend(layer=first, op="ablate", channels="random", fraction=0.5),
            "invert": Bend(layer=first, op="invert"),
            "scale cluster x3": Bend(layer=middle, op="scale", amount=3.0, channels="cluster", cluster=0),
            "threshold 0.5": Bend(layer=middle, op="threshold", amount=0.5),
            "flip": Bend(layer=first, op="flip"), "translate 2": Bend(layer=first, op="translate", amount=2.0),
            "rotate 90": Bend(layer=first, op="rotate", amount=90.0), "erode": Bend(layer=middle, op="erode"),
            "dilate": Bend(layer=middle, op="dilate"), "zoom 1.5": Bend(layer=first, op="zoom", amount=1.5)}


def dense_bends(subject) -> dict:
    names = list(bendable_layers(subject.vae, subject.codes[:2]))
    first, middle = names[0], names[len(names) // 2]
    return {"ablate 50%, first": Bend(layer=first, op="ablate", channels="random", fraction=0.5),
            "invert, first": Bend(layer=first, op="invert"),
            "scale cluster x3, middle": Bend(layer=middle, op="scale", amount=3.0, channels="cluster", cluster=0),
            "threshold 0.5, middle": Bend(layer=middle, op="threshold", amount=0.5)}


def panel_latency(subject) -> dict | None:
    try:
        from helpers.display import hack_panel
    except ImportError:
        return None
    timer = getattr(hack_panel, "time_updates", None)
    return timer(subject.model, subject.judge, codes=subject.codes) if timer else None


def main(argv=None) -> dict:
    p = parser(__doc__, RESULTS)
    p.add_argument("--parts", nargs="+", default=["mnist", "audio"], choices=["mnist", "audio"])
    p.add_argument("--audio-root", default=None, help="a SOL-style note set (default: the rendered set)")
    p.add_argument("--n-samples", type=int, default=1000)
    p.add_argument("--search-codes", type=int, default=256)
    p.add_argument("--search-steps", type=int, default=150)
    p.add_argument("--uncanny-weights", type=float, nargs="+", default=[0.0, 1.0, 10.0])
    p.add_argument("--uncanny-steps", type=int, default=150)
    p.add_argument("--audio-search-codes", type=int, default=64, help="the note decoder costs ~25x the MNIST one")
    p.add_argument("--audio-search-steps", type=int, default=60)
    p.add_argument("--audio-uncanny-steps", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    if args.smoke:
        args.n_samples, args.search_codes, args.search_steps, args.uncanny_steps = 32, 8, 2, 2
        args.uncanny_weights = [1.0]
    torch.set_num_threads(args.threads)
    out = {"machine": machine_description(), "smoke": args.smoke, "threads": args.threads}
    start = time.perf_counter()
    if "mnist" in args.parts:
        mnist = hs.mnist_subject(args.run_root, smoke=args.smoke, seed=args.seed)
        kinds = ("gaussian", "gaussian_abs", "multiplicative", "zero", "ablate", "sign_flip", "permute")
        out["mnist"] = subject_part(mnist, args, kinds[:2] if args.smoke else kinds)
        conv = hs.mnist_conv_subject(args.run_root, smoke=args.smoke, seed=args.seed, reference_from=mnist)
        bent, _ = hs.bend_table(conv, conv_bends(conv), n=args.n_samples, seed=args.seed, progress=not args.smoke)
        out["mnist_conv_bending"] = {"model": conv.name, "train_seconds": conv.run.train_seconds,
                                     "table": records(bent), "facts": hs.bend_facts(bent)["text"]}
        print("mnist done", round(time.perf_counter() - start), "s", file=sys.stderr)
    if "audio" in args.parts:
        audio = hs.audio_subject(args.run_root, smoke=args.smoke, data_root=args.audio_root, progress=not args.smoke)
        kinds = ("gaussian", "multiplicative", "ablate", "sign_flip")
        out["audio"] = subject_part(audio, args, kinds[:1] if args.smoke else kinds, dense_bends(audio),
                                    search_codes=None if args.smoke else args.audio_search_codes,
                                    search_steps=None if args.smoke else args.audio_search_steps,
                                    uncanny_steps=None if args.smoke else args.audio_uncanny_steps, uncanny_batch=32)
        latency = panel_latency(audio)
        if latency is not None:
            out["audio"]["times"]["hack_panel_update"] = latency
    return finish(out, args.out, start)


if __name__ == "__main__":
    main()
