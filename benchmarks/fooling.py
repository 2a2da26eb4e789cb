"""Fooling benchmark: notebook 06's studies at full size.

    python benchmarks/fooling.py                            # full size (models reloaded from the run store)
    python benchmarks/fooling.py --smoke --out /tmp/x.json  # tiny models and batches (what the test runs)

For the note VAE (11-instrument classifier; measured by the 16-instrument judge) and the MNIST VAE
(10-digit classifier; measured by the 36-class digits-and-letters judge):

- ``generated_class``: the classifier with a "generated" class: accuracy on held-out real examples
  before and after, false alarms, detection of each held-out generated set, training time;
- ``sweep``: ambiguity fine-tuning (Elgammal et al., 2017) per realism weight (ELBO, and MMD to
  real features): class entropy and its ceiling log K, noise share, in/out-of-class shares,
  Fréchet distance, diversity, p(generated); the curves along training; seconds per step;
- ``adversarial``: per learning-rate setting, the regime read from the curves, the last
  measures, seconds per update.

Prints the JSON and writes ``--out`` (default benchmarks/results/fooling.json).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from helpers.benchmarking import finish, machine_description, parser
from helpers.hacking import fooling_study as fst
from helpers.hacking import study as hs

RESULTS = Path(__file__).resolve().parent / "results" / "fooling.json"
ADVERSARIAL = ({"lr_generator": 1e-3, "lr_classifier": 1e-4},
               {"lr_generator": 1e-3, "lr_classifier": 1e-3},
               {"lr_generator": 1e-4, "lr_classifier": 1e-3, "classifier_steps": 3},
               {"lr_generator": 1e-2, "lr_classifier": 1e-3})


def records(table) -> list[dict]:
    return json.loads(table.reset_index().to_json(orient="records"))


def study(fs, args, weights, mmd_weights, steps, lr, adv_steps, adv_weight, progress) -> dict:
    start = time.perf_counter()
    gen, table = fst.generated_class(fs, args.run_root, n=args.n_generated, seed=args.seed, progress=progress)
    out = {"model": fs.subject.name, "judge_accuracy": fs.info["judge_accuracy"],
           "generated_class": {"table": records(table), "train_seconds": table.attrs["train_seconds"]}}
    batch = 64 if fs.kind == "image" else 32
    sweep = fst.ambiguity_sweep(fs, weights, args.run_root, n_steps=steps, lr=lr, mmd_weights=mmd_weights, gen_judge=gen,
                                probe_every=args.probe_every, n=args.n_measure, seed=args.seed, batch_size=batch,
                                progress=progress)
    per_step = {name: float(run.history.seconds.diff().median()) for name, run in sweep["runs"].items()
                if len(run.history) > 1}
    out["sweep"] = {"steps": steps, "lr": lr, "batch_size": batch, "table": records(sweep["table"]),
                    "curves": {k: records(v.set_index("step")) for k, v in sweep["curves"].items()},
                    "seconds_per_step": per_step, "facts": fst.sweep_facts(fs, sweep)["text"]}
    adv = fst.adversarial_runs(fs, gen, ADVERSARIAL[:2] if args.smoke else ADVERSARIAL, args.run_root,
                               n_steps=adv_steps, batch_size=batch, probe_every=max(1, args.probe_every // 2),
                               weight=adv_weight, seed=args.seed, progress=progress)
    per_update = {name: run.train_seconds / max(1, len(run.history)) for name, run in adv["runs"].items()}
    out["adversarial"] = {"steps": adv_steps, "reconstruction_weight": adv_weight, "table": records(adv["table"]),
                          "curves": {k: records(v.set_index("step")) for k, v in adv["curves"].items()},
                          "seconds_per_update": per_update}
    out["seconds"] = time.perf_counter() - start
    return out


def main(argv=None) -> dict:
    p = parser(__doc__, RESULTS)
    p.add_argument("--parts", nargs="+", default=["audio", "mnist"], choices=["audio", "mnist"])
    p.add_argument("--audio-root", default=None, help="a SOL-style note set (default: the rendered set)")
    p.add_argument("--n-generated", type=int, default=500)
    p.add_argument("--n-measure", type=int, default=1000)
    p.add_argument("--probe-every", type=int, default=25)
    p.add_argument("--mnist-weights", type=float, nargs="+", default=[0.0, 0.01, 0.1, 1.0, 10.0])
    p.add_argument("--mnist-mmd-weights", type=float, nargs="*", default=[10.0, 100.0, 1000.0])
    p.add_argument("--mnist-steps", type=int, default=600)
    p.add_argument("--mnist-lr", type=float, default=3e-4)
    p.add_argument("--audio-weights", type=float, nargs="+", default=[0.0, 1e-3, 1e-2, 1e-1])
    p.add_argument("--audio-mmd-weights", type=float, nargs="*", default=[100.0, 1000.0])
    p.add_argument("--audio-steps", type=int, default=200)
    p.add_argument("--audio-lr", type=float, default=5e-4)
    p.add_argument("--mnist-adv-steps", type=int, default=600)
    p.add_argument("--audio-adv-steps", type=int, default=150)
    p.add_argument("--mnist-adv-weight", type=float, default=0.01, help="reconstruction weight of the generator")
    p.add_argument("--audio-adv-weight", type=float, default=1e-3, help="reconstruction weight of the generator")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    if args.smoke:
        args.n_generated, args.n_measure, args.probe_every = 24, 16, 2
        args.mnist_weights, args.mnist_mmd_weights, args.audio_weights, args.audio_mmd_weights = [0.0, 0.1], [10.0], [0.0], [100.0]
        args.mnist_steps, args.audio_steps, args.mnist_adv_steps, args.audio_adv_steps = 4, 2, 3, 3
    progress = not args.smoke
    torch.set_num_threads(args.threads)
    out = {"machine": machine_description(), "smoke": args.smoke, "threads": args.threads,
           "published": "Elgammal et al. (2017), CAN: style-ambiguity loss = cross-entropy to the uniform over the "
                        "K style classes (minimum log K); no figure to compare on these models"}
    start = time.perf_counter()
    small = {"n_probe": 16, "n_codes": 500} if args.smoke else {}
    if "audio" in args.parts:
        audio = hs.audio_subject(args.run_root, smoke=args.smoke, data_root=args.audio_root, progress=progress)
        fa = fst.fool_subject(audio, args.run_root, smoke=args.smoke, seed=args.seed, data_root=args.audio_root, **small)
        out["audio"] = study(fa, args, args.audio_weights, args.audio_mmd_weights, args.audio_steps, args.audio_lr,
                             args.audio_adv_steps, args.audio_adv_weight, progress)
        print("audio done", round(time.perf_counter() - start), "s", file=sys.stderr)
    if "mnist" in args.parts:
        mnist = hs.mnist_subject(args.run_root, smoke=args.smoke, seed=args.seed)
        fm = fst.fool_subject(mnist, args.run_root, smoke=args.smoke, seed=args.seed, **small)
        out["mnist"] = study(fm, args, args.mnist_weights, args.mnist_mmd_weights, args.mnist_steps, args.mnist_lr,
                             args.mnist_adv_steps, args.mnist_adv_weight, progress)
        print("MNIST done", round(time.perf_counter() - start), "s", file=sys.stderr)
    return finish(out, args.out, start)


if __name__ == "__main__":
    main()
