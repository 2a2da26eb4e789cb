"""Novelty benchmark: notebook 05's studies at full size, next to the published values.

    python benchmarks/novelty.py                            # full size (models reloaded from the run store)
    python benchmarks/novelty.py --smoke --out /tmp/x.json  # tiny models and batches (what the test runs)

- ``tradeoff``: spurious share against coverage (Kégl, Cherti & Kazakçı, 2018) per model: every
  MNIST VAE of notebooks 01 and 04 (coverage of held-out test digits), and the note VAE with its
  hacked copies (coverage of the 5 unseen instruments); the correlations with bootstrap intervals.
- ``kazakci``: "Digits that are not" (Kazakçı, Cherti & Kégl, 2016): the sparse autoencoder at the
  default width, 1000 starts x up to 100 iterations (time, converged share, distinct fixed points),
  clusters and their types, the letter share and objectness next to the reference code's values;
  the same iteration with the MNIST VAE; and the narrow and full widths trained on one subset
  (validation error, seconds per image per pass).
- ``tradeoff_audio`` also holds an Optuna grid over the note VAE's latent size and beta
  (``audio_grid``: each point trained through the run store, resumable) with its prior and its own
  sampler, so that the audio correlation rests on more than the main model's hacked copies.
- ``audio_chase``: the note VAE's generated notes by source (prior, own sampler, iterations from
  noise and from prior draws) and notebook 03's frame model's (a prior draw held, lines between two
  prior draws, iteration from noise column by column), the shares of each verdict, clusters and the
  top candidates.

``--parts`` runs some parts only; ``--merge`` keeps the other parts of an existing ``--out`` file.

Prints the JSON and writes ``--out`` (default benchmarks/results/novelty.json).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from helpers.benchmarking import finish, machine_description, merge_into, parser
from helpers.evaluation import novelty
from helpers.evaluation import tradeoff as T
from helpers.hacking import iterate as it
from helpers.hacking import novelty_study as ns
from helpers.hacking import study as hs

RESULTS = Path(__file__).resolve().parent / "results" / "novelty.json"


def records(table) -> list[dict]:
    return json.loads(table.to_json(orient="records"))


def tradeoff_part(subject, zoo, heldout, tolerance, n, steps, n_boot, seed, progress, batch_size=250) -> dict:
    start = time.perf_counter()
    points = ns.tradeoff_points(subject, zoo, heldout, n=n, seed=seed, n_steps=steps, batch_size=batch_size,
                                progress=progress)
    table = T.tradeoff_table(points, tolerance)
    corr = {f"{method}_{y}": T.bootstrap_correlation(points, tolerance, y=y, method=method, n_boot=n_boot, seed=seed)
            for method in ("pearson", "spearman") for y in ("coverage_optimised", "coverage_encoder")}
    real = ns.real_spurious(subject)
    return {"model": subject.name, "tolerance": tolerance, "n_samples": n, "n_heldout": len(heldout),
            "cover_steps": steps, "real_spurious": real, "table": records(table), "correlations": corr,
            "facts": T.tradeoff_facts(table, corr["pearson_coverage_optimised"], real)["text"],
            "seconds": time.perf_counter() - start,
            "published": "Kégl et al. (2018): spurious samples cannot be removed without losing coverage of held-out data"}


def width_comparison(n_train: int, seed: int, progress: bool, run_root=None) -> dict:
    """The narrow and full sparse autoencoders trained on the same ``n_train`` digits (one epoch)."""
    from helpers.models.sparse_ae import flops_per_image, sparse_ae_config
    from helpers.data.mnist import load_mnist

    out = {}
    x_val, _ = load_mnist("val")
    for width in ("narrow", "full"):
        run = it.train_sparse_ae(run_root, width=width, n_train=n_train, seed=seed, progress=progress)
        model = run.model
        xb = hs.as_images(x_val[:200])
        start = time.perf_counter()
        with torch.no_grad():
            model.reconstruct(xb)
        per_image = (time.perf_counter() - start) / len(xb)
        with torch.no_grad():
            xv = hs.as_images(x_val[:2000])
            val = (model.reconstruct(xv).reshape(-1, 784) - xv.reshape(-1, 784)).pow(2).mean().item()
        out[width] = {"filters": model.config.filters, "gflop_per_image_pass": flops_per_image(sparse_ae_config(width)) / 1e9,
                      "train_seconds": run.train_seconds, "n_train": n_train, "val_squared_error": val,
                      "forward_ms_per_image": 1000 * per_image}
    return out


def kazakci_part(mnist, args, progress) -> dict:
    from helpers.data.mnist import load_mnist
    from helpers.evaluation import judges as J

    digit_judge = J.digit_judge(smoke=args.smoke, run_root=args.run_root)
    run = it.train_sparse_ae(args.run_root, smoke=args.smoke, progress=progress)
    x_train, _ = load_mnist("train")
    share = it.white_share(x_train[:10000])
    ks = range(4, 9) if args.smoke else range(10, 31)
    ref = mnist._features()[0]
    out = {"sparse_ae": {"filters": run.model.config.filters, "train_seconds": run.train_seconds, "epochs": run.epochs},
           "white_share": share, "reference": novelty.REFERENCE_VALUES}
    for name, step, vectors in (("sparse autoencoder", it.sparse_ae_step(run.model),
                                 lambda x: run.model.code_vectors(x)),
                                ("MNIST VAE", it.vae_step(mnist.vae), None)):
        study = ns.iteration_study(name, step, it.uniform_starts(args.starts, seed=args.seed), digit_judge, mnist.judge,
                                   binarize_share=share, n_iter=args.iterations, vectors=vectors, ks=ks,
                                   reference_features=ref, seed=args.seed, progress=progress)
        out[name] = {"summary": study["summary"], "clusters": records(study["clusters"]),
                     "fixed_points_top10": study["points"].counts[:10].tolist()}
    if args.width_subset:
        out["widths"] = width_comparison(args.width_subset, args.seed, progress, args.run_root)
    return out


def main(argv=None) -> dict:
    p = parser(__doc__, RESULTS)
    parts = ["tradeoff_mnist", "kazakci", "tradeoff_audio", "audio_chase"]
    p.add_argument("--parts", nargs="+", default=parts, choices=parts)
    p.add_argument("--merge", action="store_true", help="keep the parts of --out that this run does not redo")
    p.add_argument("--audio-root", default=None, help="a SOL-style note set (default: the rendered set)")
    p.add_argument("--n-samples", type=int, default=1000)
    p.add_argument("--n-cover", type=int, default=1000, help="held-out MNIST test digits for the coverage")
    p.add_argument("--cover-steps", type=int, default=100)
    p.add_argument("--tolerance", type=float, default=0.15, help="MNIST: RMSE per pixel of a covered digit")
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--starts", type=int, default=1000)
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--width-subset", type=int, default=4000,
                   help="digits both sparse-autoencoder widths train on for the comparison (0: skip it)")
    p.add_argument("--audio-n-samples", type=int, default=1000)
    p.add_argument("--audio-n-cover", type=int, default=300)
    p.add_argument("--audio-cover-steps", type=int, default=50)
    p.add_argument("--audio-chase", type=int, default=500, help="generated notes per source")
    p.add_argument("--audio-grid-z", type=int, nargs="*", default=[8, 32], help="note VAE grid: latent sizes")
    p.add_argument("--audio-grid-beta", type=float, nargs="*", default=[0.5, 2.0], help="note VAE grid: betas")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    if args.smoke:
        args.n_samples, args.n_cover, args.cover_steps, args.n_boot, args.starts, args.iterations = 32, 32, 2, 20, 48, 4
        args.width_subset, args.audio_n_samples, args.audio_n_cover, args.audio_cover_steps, args.audio_chase = 0, 16, 8, 2, 12
        args.audio_grid_z, args.audio_grid_beta = [2, 4], [1.0]
    progress = not args.smoke
    torch.set_num_threads(args.threads)
    out = {"machine": machine_description(), "smoke": args.smoke, "threads": args.threads}
    start = time.perf_counter()
    mnist = hs.mnist_subject(args.run_root, smoke=args.smoke, seed=args.seed) \
        if {"tradeoff_mnist", "kazakci"} & set(args.parts) else None
    if "tradeoff_mnist" in args.parts:
        from helpers.data.mnist import load_mnist

        zoo = ns.mnist_zoo(mnist, args.run_root, smoke=args.smoke, seed=args.seed,
                           corruption_levels=(1.0,) if args.smoke else (0.25, 0.5, 1.0, 2.0, 4.0),
                           uncanny_weights=(1.0,) if args.smoke else (0.0, 1.0, 10.0),
                           uncanny_steps=2 if args.smoke else 150, progress=progress)
        x_test, _ = load_mnist("test")
        n_ref = len(mnist.reference) + len(mnist.real)
        heldout = hs.as_images(x_test[n_ref:n_ref + args.n_cover]).reshape(-1, 28, 28)
        out["tradeoff_mnist"] = tradeoff_part(mnist, zoo, heldout, args.tolerance, args.n_samples, args.cover_steps,
                                              args.n_boot, args.seed, progress)
        print("trade-off (MNIST) done", round(time.perf_counter() - start), "s", file=sys.stderr)
    if "kazakci" in args.parts:
        out["kazakci"] = kazakci_part(mnist, args, progress)
        print("Kazakci done", round(time.perf_counter() - start), "s", file=sys.stderr)
    if {"tradeoff_audio", "audio_chase"} & set(args.parts):
        audio = hs.audio_subject(args.run_root, smoke=args.smoke, data_root=args.audio_root, progress=progress)
    if "tradeoff_audio" in args.parts:
        azoo = ns.audio_zoo(audio, seed=args.seed, corruption_levels=(1.0,) if args.smoke else (0.25, 0.5, 1.0, 2.0),
                            uncanny_weights=(1.0,) if args.smoke else (1.0, 10.0),
                            uncanny_steps=2 if args.smoke else 40, run_root=args.run_root, progress=progress)
        grid = None
        if args.audio_grid_z and args.audio_grid_beta:
            grid, gzoo = ns.note_grid(audio, args.audio_grid_z, args.audio_grid_beta, run_root=args.run_root,
                                      smoke=args.smoke, progress=progress)
            azoo += gzoo
            print("note grid done", round(time.perf_counter() - start), "s", file=sys.stderr)
        seen = ns.audio_heldout(audio, "val", args.audio_n_cover, args.seed)
        tol = float(novelty.coverage_errors(audio.vae, seen, n_steps=0, progress=False)[0].median())
        unseen = ns.audio_heldout(audio, "unseen", args.audio_n_cover, args.seed)
        out["tradeoff_audio"] = tradeoff_part(audio, azoo, unseen, tol, args.audio_n_samples, args.audio_cover_steps,
                                              args.n_boot, args.seed, progress, batch_size=100)
        out["tradeoff_audio"]["audio_grid"] = records(grid) if grid is not None else None
        print("trade-off (audio) done", round(time.perf_counter() - start), "s", file=sys.stderr)
    if "audio_chase" in args.parts:
        sources, iterations = ns.audio_sources(audio, n=args.audio_chase, seed=args.seed, progress=progress)
        frame = ns.frame_model(audio, args.run_root, smoke=args.smoke, progress=progress)
        fsources, fiterations = ns.frame_sources(frame, n=args.audio_chase, seed=args.seed, ceiling=audio.ceiling,
                                                 progress=progress)
        sources.update(fsources)
        iterations.update(fiterations)
        chase = ns.audio_chase(audio, sources, ks=range(2, 5) if args.smoke else range(4, 16), seed=args.seed,
                               progress=progress)
        out["audio_chase"] = {"model": audio.name, "iterations": iterations,
                              "sources": records(chase["sources"].reset_index()),
                              "clusters": records(chase["clusters"].reset_index()),
                              "candidates_top10": records(chase["candidates"].head(10)[
                                  ["source", "class", "p", "novelty", "objectness", "cluster"]]),
                              "facts": ns.chase_facts(chase)["text"]}
    return finish(out, args.out, start, merge=merge_into(args.out) if args.merge else None)


if __name__ == "__main__":
    main()
