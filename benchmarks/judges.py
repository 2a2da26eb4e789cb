"""Judges benchmark: accuracy, calibration and training time of every judge, the sanity table,
first readings of the novelty measures on VAE samples, and the time to score 1000 samples.

    python benchmarks/judges.py                      # full size (trains once, reloads after)
    python benchmarks/judges.py --smoke --out /tmp/x.json   # seconds (what the test runs)
    python benchmarks/judges.py --parts soundfonts --holdout-soundfonts A B C --merge
                                                     # leave-one-SoundFont-out (a wider note set)
    python benchmarks/judges.py --parts lookalike --merge   # each digit vs the letters drawn like it

Judges (:mod:`helpers.evaluation.judges`): digits (10 + noise), digits + letters (36 + noise),
instruments on STFT and NSGT magnitudes with
the unseen instruments (16 + noise) and without (11 + noise). The sanity table scores real
MNIST test digits, held-out-font letters, uniform noise, and for audio the held-out notes of
the training instruments, those of the unseen instruments and white noise. First readings: 1000
prior samples of the MNIST VAE of notebook 01 (the "default" preset) with the measures of
:mod:`helpers.evaluation.novelty`, next to the values the authors' code reports (``--parts
images``), and draws of notebook 03's note VAEs, from the prior and near the data (``--parts
audio_vae``). ``--parts soundfonts`` trains the 11-instrument judges without each SoundFont in
turn and scores them on its notes. ``--parts lookalike`` trains a two-class judge for each digit
and the letters drawn like it (O/0, Z/2, S/5...) and reports how many of those letters it can
still recognise while keeping nearly all the digits: what bounds the 36-class judge. Notebook 00 shows the first readings
(:func:`helpers.evaluation.results.judges_first_readings`).

Prints the JSON and writes ``--out`` (default benchmarks/results/judges.json).
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import torch

from helpers.benchmarking import finish, machine_description, parser, round_floats
from helpers.evaluation import judges as J
from helpers.evaluation import novelty

RESULTS = Path(__file__).resolve().parent / "results" / "judges.json"


def judge_summary(judge) -> dict:
    """What a judge reports: accuracies, ECE, training time, confusions (full matrices kept)."""
    m = judge.metrics
    return {"classes": list(judge.classes), "in_class": list(judge.in_class), "out_class": list(judge.out_class),
            "parameters": sum(p.numel() for p in judge.model.parameters()), "config": judge.model.config.to_dict(),
            "train_seconds": m["train_seconds"], "epochs": m["epochs"], "stopped_early": m["stopped_early"],
            "load_average_1min_after_training": m["load_average_1min_after_training"],
            "temperature": m["temperature"], "reloaded": m["reused"], "run": judge.run.run_dir.name,
            "tests": m["tests"]}


def uniform_noise(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 28, 28, generator=torch.Generator().manual_seed(seed))


def white_noise_spectra(judge, n: int, seed: int, n_samples: int = 22050) -> torch.Tensor:
    wave = torch.randn(n, n_samples, generator=torch.Generator().manual_seed(seed)) * 0.1
    return torch.cat([judge.transform.analyze(wave[s:s + 64]) for s in range(0, n, 64)])




def scoring_time(judge, x: torch.Tensor, repeats: int = 3) -> dict:
    """Seconds to score ``x`` (probabilities + features, and all label-free measures); best of ``repeats``."""
    best_scores, best_measure = math.inf, math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        judge.scores(x)
        best_scores = min(best_scores, time.perf_counter() - t)
        t = time.perf_counter()
        novelty.measure(x, judge)
        best_measure = min(best_measure, time.perf_counter() - t)
    return {"n": len(x), "scores_seconds": best_scores, "measure_seconds": best_measure,
            "torch_threads": torch.get_num_threads()}


def digit_prior_tradeoff(judge, biases=(0.0, 0.5, 1.0, 2.0, 3.0, 4.0)) -> list[dict]:
    """Accuracy on the MNIST test digits and on the held-out-font letters when ``b`` nats are
    added to the log-probability of every digit class (a prior shift towards digits, Menon et
    al., 2021, logit adjustment): how much of one target the other costs."""
    probs = {name: judge.probs(x) for name, (x, _) in judge.test_sets.items()}
    rows = []
    for b in biases:
        shift = torch.zeros(len(judge.classes))
        shift[judge.in_index] = b
        rows.append({"digit_bias_nats": b, **{
            name: float(((p.clamp_min(1e-30).log() + shift).argmax(1) == judge.test_sets[name][1]).float().mean())
            for name, p in probs.items()}})
    return rows


def image_part(args, out: dict) -> None:
    from helpers.data.mnist import load_mnist

    n = args.n_samples
    digits = J.digit_judge(smoke=args.smoke, run_root=args.run_root, n_epochs=args.digit_epochs)
    out["judges"]["digits"] = judge_summary(digits)
    print(json.dumps(round_floats(out["judges"]["digits"]["tests"]["mnist_test"], 4))[:300], file=sys.stderr)
    xt, _ = load_mnist("test")
    cases = {"mnist_test_digits": xt[:n], "uniform_noise": uniform_noise(n, 0)}
    try:
        both = J.digit_letter_judge(smoke=args.smoke, run_root=args.run_root, n_epochs=args.digit_epochs)
    except ImportError as err:  # the letters loader is not there yet
        both = None
        out["judges"]["digits_letters"] = {"status": f"pending: {err}"}
    if both is not None:
        out["judges"]["digits_letters"] = judge_summary(both)
        tests = both.metrics["tests"]["letters_heldout_fonts"]
        out["judges"]["digits_letters"]["letter_confusions"] = J.top_confusions(
            tests["confusion"], both.classes, k=15, rows=J.LETTERS)
        cases["letters_heldout_fonts"] = both.test_sets["letters_heldout_fonts"][0][:n]
        out["judges"]["digits_letters"]["digit_prior_tradeoff"] = digit_prior_tradeoff(both)
    judge = both or digits
    ref_features = judge.features(xt[n:2 * n])  # real digits apart from the scored ones
    out["sanity"]["images"] = {"judge": "digits_letters" if both is not None else "digits",
                               "reference": f"MNIST test digits {n} to {2 * n - 1} (frechet, mmd)",
                               "table": novelty.sanity_table(judge, cases, reference_features=ref_features)}
    out["scoring_time_1000"] = scoring_time(judge, xt[:1000] if not args.smoke else xt[:n])
    if not args.skip_vae:
        out["first_readings"]["mnist_vae_prior"] = mnist_readings(args, judge, ref_features)


def mnist_readings(args, judge, ref_features) -> dict:
    """1000 prior samples (E[x|z]) of notebook 01's "default" preset, and its coverage of test digits."""
    from helpers.data.mnist import dynamic_binarize, load_mnist
    from helpers.training.cached import cached_fit
    from helpers.training.presets import mnist_preset

    preset = mnist_preset("default")
    trainer = preset.trainer.replace(progress=False, n_epochs=1 if args.smoke else preset.trainer.n_epochs)
    x_train, _ = load_mnist("train_full")
    if args.smoke:
        x_train = x_train[:1000]
    run = cached_fit(preset.model, trainer, x_train, name="mnist-main", run_root=args.run_root,
                     warmup_epochs=0 if args.smoke else preset.warmup_epochs, minutes=args.vae_minutes,
                     batch_transform=dynamic_binarize)
    vae = run.model.cpu().eval()
    samples = vae.sample(args.n_samples, generator=torch.Generator().manual_seed(0))
    xs = x_train[:args.n_train_nn]
    readings = novelty.measure(samples, judge, reference_features=ref_features, train=xs)
    xt, _ = load_mnist("test")
    cov = novelty.coverage(vae, xt[:args.n_coverage].float() / 255, tolerance=args.tolerance,
                           n_steps=args.coverage_steps, progress=False)
    return {"model": preset.note, "judge": "digits_letters" if judge.out_class else "digits",
            "vae_run": run.run_dir.name, "vae_train_seconds": run.train_seconds,
            "vae_epochs": run.epochs, "samples": "E[x|z], z ~ N(0, I)", "measures": readings,
            "coverage_mnist_test": cov, "n_train_for_nearest": len(xs),
            "reference_authors_code": novelty.REFERENCE_VALUES}


def lookalike_part(args, out: dict) -> None:
    """Each digit against the letters drawn like it, by a two-class judge of its own
    (:func:`helpers.evaluation.judges.look_alike_separability`): what the 36-class judge can
    reach on these classes."""
    t = time.perf_counter()
    pairs = J.look_alike_separability(smoke=args.smoke, run_root=args.run_root, n_epochs=args.digit_epochs)
    out["look_alike_pairs"] = {"pairs": pairs, "seconds": time.perf_counter() - t,
                               "letter_accuracy_bound": J.look_alike_letter_bound(pairs),
                               "what": "two-class judge per pair (the image judge network), MNIST train digit vs "
                                       "the letters of the training fonts; scored on MNIST test digits and the "
                                       "held-out fonts' letters"}
    for name, v in pairs.items():
        print(name, {k: round(x, 3) for k, x in v.items()}, file=sys.stderr)


def audio_part(args, out: dict) -> None:
    n = args.n_samples
    for kind in args.transforms:
        for unseen in (True, False):
            judge = J.instrument_judge(kind, unseen=unseen, smoke=args.smoke, run_root=args.run_root,
                                       n_epochs=args.audio_epochs, root=args.audio_root)
            key = f"instruments{len(judge.classes) - 1}_{kind}"
            out["judges"][key] = judge_summary(judge)
            print(key, {k: round(v["accuracy"], 4) for k, v in judge.metrics["tests"].items()}, file=sys.stderr)
            if unseen:
                tests = judge.test_sets
                cases = {"heldout_notes_training_instruments": tests["heldout_notes_training_instruments"][0][:n],
                         "heldout_notes_unseen_instruments": tests["heldout_notes_unseen_instruments"][0][:n],
                         "white_noise": white_noise_spectra(judge, min(n, 200), seed=0)}
                out["sanity"][f"audio_{kind}"] = {"judge": key, "table": novelty.sanity_table(judge, cases)}


def audio_vae_part(args, out: dict) -> None:
    """Draws of notebook 03's note VAEs (``audio_preset("note", transform)``) under the
    16-instrument judge of the same transform: from the prior N(0, I), and near the data, from
    the Gaussian fitted to the posterior means of the training notes
    (:class:`helpers.latent.CodeGaussian`), as notebook 03 draws them."""
    from helpers.audio.noteset import prepare_audio_data
    from helpers.latent import CodeGaussian
    from helpers.latent.audio import data_codes
    from helpers.models.priors import StandardNormal
    from helpers.training.audio import train_audio_vae
    from helpers.training.presets import audio_preset

    for kind in args.transforms:
        judge = J.instrument_judge(kind, unseen=True, smoke=args.smoke, run_root=args.run_root,
                                   n_epochs=args.audio_epochs, root=args.audio_root)
        run = train_audio_vae(audio_preset("note", kind, smoke=args.smoke), run_root=args.run_root)
        common = {"vae_run": run.run_dir.name, "vae_train_seconds": run.train_seconds, "vae_epochs": run.epochs,
                  "judge": f"instruments16_{kind}"}
        # z ~ N(0, I) itself: the model's own sample() draws from the density fitted to its codes
        z = StandardNormal(run.model.z_dim).sample(args.n_audio_samples, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            prior = run.model.decode(z)
        out["first_readings"][f"audio_note_vae_prior_{kind}"] = {
            **common, "samples": "decoded E[x|z], z ~ N(0, I), as magnitudes",
            "measures": novelty.measure(prior, judge)}
        data = prepare_audio_data(run.config, progress=False)
        codes = data_codes(run.model, data, "train")
        z = CodeGaussian.fit(codes).sample(args.n_audio_samples, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            near = run.model.decode(z)
        out["first_readings"][f"audio_note_vae_near_{kind}"] = {
            **common, "samples": "decoded E[x|z], z ~ Gaussian fitted to the training notes' posterior means "
                                 f"({len(codes)} codes), as magnitudes",
            "measures": novelty.measure(near, judge)}


def soundfont_part(args, out: dict) -> None:
    """Leave-one-SoundFont-out: an 11-instrument judge trained without each SoundFont, scored on
    the notes of that SoundFont (needs a note set with a ``soundfont`` column)."""
    for kind in args.transforms:
        scores = {}
        for soundfont in args.holdout_soundfonts:
            judge = J.instrument_judge(kind, unseen=False, smoke=args.smoke, run_root=args.run_root,
                                       n_epochs=args.audio_epochs, root=args.audio_root, holdout_soundfont=soundfont)
            x, y = judge.test_sets["heldout_notes"]
            probs = judge.probs(x)
            called_noise = float((probs.argmax(1) == judge.noise_index).float().mean())
            probs[:, judge.noise_index] = -1.0  # the note is known to be a note: its best instrument
            scores[soundfont] = {"accuracy": judge.metrics["tests"]["heldout_notes"]["accuracy"],
                                 "accuracy_instruments_only": float((probs.argmax(1) == y).float().mean()),
                                 "called_noise": called_noise, "train_seconds": judge.metrics["train_seconds"],
                                 "top_confusions": judge.metrics["tests"]["heldout_notes"]["top_confusions"]}
        mean = lambda key: sum(v[key] for v in scores.values()) / len(scores)  # noqa: E731
        out["judges"][f"instruments_leave_one_soundfont_out_{kind}"] = {
            "per_soundfont": scores, "mean_accuracy": mean("accuracy"),
            "mean_accuracy_instruments_only": mean("accuracy_instruments_only")}


def main(argv=None) -> dict:
    p = parser(__doc__, RESULTS, smoke="tiny judges and data (seconds)")
    p.add_argument("--parts", nargs="+", default=["images", "audio"], choices=["images", "lookalike", "audio", "audio_vae", "soundfonts"])
    p.add_argument("--transforms", nargs="+", default=["stft", "nsgt"], choices=["stft", "nsgt"])
    p.add_argument("--holdout-soundfonts", nargs="+", default=[],
                   help="with --parts soundfonts: the SoundFonts to leave out one at a time (column 'soundfont')")
    p.add_argument("--audio-root", default=None, help="a SOL-style note set (default: the rendered set)")
    p.add_argument("--digit-epochs", type=int, default=10)
    p.add_argument("--audio-epochs", type=int, default=30)
    p.add_argument("--n-samples", type=int, default=1000, help="samples per row of the tables")
    p.add_argument("--n-audio-samples", type=int, default=200, help="prior draws of each audio VAE")
    p.add_argument("--n-train-nn", type=int, default=60000, help="training images for the nearest distances")
    p.add_argument("--n-coverage", type=int, default=200)
    p.add_argument("--coverage-steps", type=int, default=300)
    p.add_argument("--tolerance", type=float, default=0.1)
    p.add_argument("--vae-minutes", type=float, default=None, help="time budget of the VAE training")
    p.add_argument("--skip-vae", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--merge", action="store_true", help="merge into --out instead of replacing it")
    args = p.parse_args(argv)
    if args.smoke:
        args.n_samples, args.n_train_nn, args.n_coverage, args.coverage_steps = 64, 500, 32, 5
        args.n_audio_samples = 8
    torch.set_num_threads(args.threads)
    out = {"machine": machine_description(), "smoke": args.smoke, "judges": {}, "sanity": {}, "first_readings": {},
           "noise_rejection": "background class 'noise' + temperature scaling (helpers.evaluation.judges)"}
    start = time.perf_counter()
    if "images" in args.parts:
        image_part(args, out)
    if "lookalike" in args.parts:
        lookalike_part(args, out)
    if "audio" in args.parts:
        audio_part(args, out)
    if "audio_vae" in args.parts:
        audio_vae_part(args, out)
    if "soundfonts" in args.parts:
        if not args.holdout_soundfonts:
            p.error("--parts soundfonts needs --holdout-soundfonts")
        soundfont_part(args, out)
    def keep_earlier(new: dict) -> dict:  # keep the parts this run did not measure
        old = json.loads(args.out.read_text())
        for key in ("judges", "sanity", "first_readings"):
            new[key] = {**old.get(key, {}), **new[key]}
        return {**old, **new}

    return finish(out, args.out, start, merge=keep_earlier if args.merge and args.out.is_file() else None)


if __name__ == "__main__":
    main()
