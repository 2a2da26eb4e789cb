"""Audio VAE benchmark: held-out reconstruction of every model x transform x output distribution,
training times, and the latency of one slider update of the latent explorer.

    python benchmarks/audio_vae.py                      # the notebook 03 set-ups (~15 minutes)
    python benchmarks/audio_vae.py --smoke --out /tmp/x.json   # seconds: a toy note set, tiny models
    python benchmarks/audio_vae.py --combine a.json b.json      # one file from parts run side by side

(a) For each layout ("frame", "note"; the note model with each of its decoders, the frame-wise
MLP and the transposed convolutions), transform ("stft", "nsgt") and distribution ("gaussian",
"laplace", per-bin learned scale) the preset of ``helpers.training.presets.audio_preset`` is
trained on the training instruments (or its finished run is reused: same config, same folder
under ``--run-root``), then scored on the held-out 10% of their notes
(``helpers.evaluation.audio.evaluate_reconstructions``): spectral convergence and log-spectral
distance of the decoded magnitudes, and of the sound after phase reconstruction
(``--n-iter`` Griffin-Lim iterations) analysed again, by the model's transform and by one common
STFT for every model (``common_*``, against the recording); plus the floors of the phase
reconstruction alone (oracle) and of the note model's time pooling. And whether the
reconstructions are heard as the same note (``recognisability``): the share of held-out notes
whose decoded pitch matches the original's within half a semitone, and the accuracy of a linear
instrument classifier (fitted on the training notes' magnitudes) on the decoded notes, next to
its accuracy on the originals; the same two of the sound after phase reconstruction, analysed
again (``pitch_agreement_sound``, ``instrument_acc_sound``).

(c) The generation table (``helpers.evaluation.generation``): for every run and every latent density
(``--densities``: the prior N(0, I), a Gaussian and a Gaussian mixture fitted on the training
codes), ``--generation`` generated notes scored by the 11-instrument judge of the same transform:
in-class and noise shares, objectness, Fréchet distance to the held-out notes against the
real-vs-real floor, pitch clarity and median spectral flatness against the recordings'.

(d) Leave one SoundFont out (``--loso``): the chosen note model (the default preset over
``--loso-transform``) trained on the training instruments of two SoundFonts and scored on the
notes of the third, as in (a), with its training and held-out ELBO.

(e) Augmentation against overfitting (``--note-variants``): the note model over
``--loso-transform`` trained with each named set of label-keeping augmentations
(:data:`NOTE_VARIANTS`, ``helpers.training.audio.NoteAugment``) and scored as in (a), with its
training and held-out ELBO and their ratio.

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
from helpers.evaluation.audio import (InstrumentProbe, common_transform, evaluate_reconstructions, recognisability,
                                      spread_rows, summarize)
from helpers.evaluation.generation import generation_table, real_reference
from helpers.evaluation.judges import instrument_judge
from helpers.latent.audio import data_codes
from helpers.models.priors import ALL_DENSITIES
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


def _spread(magnitude: torch.Tensor, val, k: int | None):
    """At most ``k`` held-out notes (all when None) evenly spread over the part (its rows are
    grouped by instrument, so that every instrument keeps its share), their labels and rows."""
    rows = spread_rows(len(magnitude), k)
    return magnitude[torch.from_numpy(rows)], val.iloc[rows].reset_index(drop=True), rows


def _held_out(data, max_val: int | None):
    """The held-out notes scored by (a), (d) and (e): magnitudes, labels and recordings of at most
    ``max_val`` of ``data``'s validation notes, evenly spread (:func:`_spread`)."""
    magnitude, val, rows = _spread(data.magnitudes("val"), data.part("val"), max_val)
    return magnitude, val, data.waves("val", rows)


def held_out_scores(run, data, held_out, n_iter: int, probe=None) -> dict:
    """The held-out row of (a), (d) and (e) for ``run``: its reconstruction scores on ``held_out``
    (:func:`_held_out`) on the magnitudes, after phase reconstruction and in the common STFT
    domain; with ``probe``, whether the spectra and the sound keep pitch and instrument; its
    training and held-out ELBO; and the seconds the scoring took."""
    magnitude, val, waves = held_out
    t = time.perf_counter()
    metrics = summarize(evaluate_reconstructions(run.model, magnitude, n_iter=n_iter, waves=waves,
                                                 common=common_transform()))
    if probe is not None:
        metrics.update(recognisability(run.model, magnitude, val["pitch"], val["instrument"], probe, n_iter=n_iter))
    seconds = time.perf_counter() - t
    return {"n_val": len(magnitude), **_losses(run, data), **{k: round(v, 4) for k, v in metrics.items()},
            "eval_s": round(seconds, 1)}


def _toy_soundfonts(root: Path, names: list[str]) -> None:
    """Give the toy set a ``metadata.csv`` whose ``soundfont`` column cycles through ``names``."""
    import pandas as pd

    if not names:
        return
    rel = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.wav"))
    pd.DataFrame({"path": rel, "soundfont": [names[i % len(names)] for i in range(len(rel))]}).to_csv(
        root / "metadata.csv", index=False)


def leave_one_soundfont_out(soundfont: str, args, overrides: dict) -> dict:
    """The chosen note model trained without ``soundfont``'s notes, scored on them (held-out ELBO
    against training ELBO, reconstruction scores, pitch and instrument kept)."""
    likelihood = args.likelihoods.split(",")[0]
    config = audio_preset("note", args.loso_transform, likelihood, smoke=args.smoke, holdout_soundfont=soundfont,
                          soundfonts=(), **overrides)
    config = config.replace(name=f"{config.name}-without-{soundfont}")
    if args.loso_epochs and not args.smoke:
        config = config.replace(trainer=config.trainer.replace(n_epochs=args.loso_epochs))
    data = prepare_audio_data(config.resolve(), progress=False)
    run = train_audio_vae(config, run_root=args.run_root, reuse=not args.no_reuse, data=data, progress=False)
    probe = InstrumentProbe(data.transform).fit(data.magnitudes("train"), data.part("train")["instrument"])
    return {"holdout_soundfont": soundfont, **run.summary(), "reused": run.reused,
            "n_train": int((data.labels["part"] == "train").sum()),
            **held_out_scores(run, data, _held_out(data, args.max_val), args.n_iter, probe)}


#: augmentation set-ups of the note model measured by ``--note-variants`` (fields of
#: :class:`~helpers.training.audio.AudioExperimentConfig`, plus ``weight_decay`` of the trainer)
NOTE_VARIANTS = {
    "none": {},
    "pitch": {"augment_pitch_bins": 1},
    "pitch_gain_time": {"augment_gain_db": 6.0, "augment_pitch_bins": 1, "augment_time_shift": 1},
    "pitch_gain_time_wd": {"augment_gain_db": 6.0, "augment_pitch_bins": 1, "augment_time_shift": 1,
                           "weight_decay": 1e-4},
}


def note_variant(name: str, args, overrides: dict, data=None) -> tuple[dict, object]:
    """The default note model trained with the augmentations of ``NOTE_VARIANTS[name]``, scored
    on the held-out notes as the runs of (a), with its training and held-out ELBO; returns the
    row and the prepared notes (``data``: reuse them, augmentation does not change them)."""
    if name not in NOTE_VARIANTS:
        raise ValueError(f"--note-variants: unknown variant {name!r}; expected some of {sorted(NOTE_VARIANTS)}")
    changes = dict(NOTE_VARIANTS[name])
    weight_decay = changes.pop("weight_decay", 0.0)
    likelihood = args.likelihoods.split(",")[0]
    config = audio_preset("note", args.loso_transform, likelihood, smoke=args.smoke, **changes, **overrides)
    if weight_decay:
        config = config.replace(trainer=config.trainer.replace(weight_decay=weight_decay))
    data = data or prepare_audio_data(config.resolve(), progress=False)
    run = train_audio_vae(config, run_root=args.run_root, reuse=not args.no_reuse, data=data, progress=False)
    row = {"variant": name, "changes": NOTE_VARIANTS[name], **run.summary(), "reused": run.reused,
           **held_out_scores(run, data, _held_out(data, args.max_val), args.n_iter)}
    return row, data


def _losses(run, data, max_examples: int = 2000) -> dict:
    """Negative ELBO per example (nats, eval mode) of the served weights on training and held-out
    examples (at most ``max_examples`` of each, evenly spread), their ratio, and the epoch kept."""
    elbo = {}
    for part in ("train", "val"):
        x = data.examples(part)
        elbo[part] = _elbo(run.vae, x[::max(1, -(-len(x) // max_examples))])
    kept = max(run.history, key=lambda h: h.get("val_elbo", -float("inf")))["epoch"] if run.history else None
    return {"kept_epoch": kept, "train_neg_elbo": round(-elbo["train"], 2), "val_neg_elbo": round(-elbo["val"], 2),
            "val_over_train": round(elbo["val"] / elbo["train"], 3) if elbo["train"] else None}


@torch.no_grad()
def _elbo(vae, x: torch.Tensor, batch_size: int = 64, seed: int = 0) -> float:
    """Mean one-sample ELBO per example (nats) of ``x`` in eval mode, seeded."""
    torch.manual_seed(seed)
    total = sum(float(vae(x[i:i + batch_size])["elbo"].sum()) for i in range(0, len(x), batch_size))
    return total / max(1, len(x))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="frame,note")
    parser.add_argument("--transforms", default="stft,nsgt")
    parser.add_argument("--likelihoods", default="gaussian,laplace")
    parser.add_argument("--note-decoders", default="frames,conv",
                        help="decoders of the note model: frames (FrameDecoder) and/or conv (transposed convolutions)")
    parser.add_argument("--n-iter", type=int, default=64, help="Griffin-Lim iterations of the evaluation")
    parser.add_argument("--max-val", type=int, default=None,
                        help="score at most this many held-out notes, evenly spread over the instruments")
    parser.add_argument("--updates", type=int, default=50, help="slider updates timed per model")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--run-root", default=None, help="run folders (default $NOVELTY_RUNS_DIR or ./runs)")
    parser.add_argument("--no-reuse", action="store_true", help="train even when a finished run matches")
    parser.add_argument("--generation", type=int, default=1000, help="generated notes per (run, density); 0: none")
    parser.add_argument("--densities", default=",".join(ALL_DENSITIES))
    parser.add_argument("--loso", default="musescore,timgm6mb,csoundgm",
                        help="SoundFonts to leave out one at a time (empty: none)")
    parser.add_argument("--loso-transform", default="nsgt")
    parser.add_argument("--loso-epochs", type=int, default=None,
                        help="epochs of the leave-one-SoundFont-out models (default: the preset's)")
    parser.add_argument("--note-variants", default="",
                        help="augmentation set-ups of the note model to train and score (comma-separated names "
                             f"of NOTE_VARIANTS: {', '.join(NOTE_VARIANTS)}; empty: none)")
    parser.add_argument("--time-budget-min", type=float, default=None,
                        help="replace the presets' time budget (their safety net on a busy machine), minutes")
    parser.add_argument("--smoke", action="store_true", help="tiny models on a toy note set (seconds)")
    parser.add_argument("--combine", nargs="+", default=None, metavar="JSON",
                        help="write one result from the results of parallel invocations (e.g. --loso '' and "
                             "--models ''), nothing is run")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.combine:
        return _write(combine_results([json.loads(Path(p).read_text()) for p in args.combine]), args.out)
    if args.threads:
        torch.set_num_threads(args.threads)

    tmp = None
    overrides = {}
    if args.smoke:
        from helpers.data.toy import write_toy_note_set

        tmp = tempfile.TemporaryDirectory()
        root = write_toy_note_set(Path(tmp.name) / "notes", 22050, 22050, pitches=(57, 60, 64, 67, 72),
                                  dynamics=("ff",))
        _toy_soundfonts(root, args.loso.split(",") if args.loso else [])
        os.environ.setdefault("NOVELTY_DATA_DIR", str(Path(tmp.name) / "data"))  # spectra cache
        overrides = {"data_root": str(root)}
        args.run_root = args.run_root or str(Path(tmp.name) / "runs")
        args.n_iter, args.updates = min(args.n_iter, 4), min(args.updates, 5)
        args.generation = min(args.generation, 20)

    if args.time_budget_min is not None and not args.smoke:
        overrides["time_budget_min"] = args.time_budget_min
    result = {"machine": machine(), "smoke": args.smoke, "n_iter_eval": args.n_iter, "args": vars(args),
              "runs": [], "latency": [], "generation": [], "leave_one_soundfont_out": [], "note_variants": []}
    judges: dict = {}
    references: dict = {}

    def judge_of(transform):
        if transform not in judges:
            judges[transform] = instrument_judge(transform, unseen=False, smoke=args.smoke,
                                                 root=overrides.get("data_root"), run_root=args.run_root)
        return judges[transform]
    start_all = time.perf_counter()
    probes = {}
    prepared = {}
    variants = [(m, d) for m in args.models.split(",") if m
                for d in (args.note_decoders.split(",") if m == "note" else ["mlp"])]
    for model_kind, decoder in variants:
        for transform in args.transforms.split(","):
            latency_run = None
            for likelihood in args.likelihoods.split(","):
                kw = {"decoder": decoder} if model_kind == "note" else {}
                config = audio_preset(model_kind, transform, likelihood, smoke=args.smoke, **kw, **overrides)
                if (model_kind, transform) not in prepared:
                    data = prepare_audio_data(config.resolve(), progress=False)
                    prepared[model_kind, transform] = data, _held_out(data, args.max_val)
                    if transform not in probes:
                        probes[transform] = InstrumentProbe(data.transform).fit(
                            data.magnitudes("train"), data.part("train")["instrument"])
                data, held_out = prepared[model_kind, transform]
                magnitude = held_out[0]
                run = train_audio_vae(config, run_root=args.run_root, reuse=not args.no_reuse, data=data,
                                      progress=False)
                row = {**run.summary(), "decoder": decoder, "architecture": config.vae.architecture,
                       "reused": run.reused, **held_out_scores(run, data, held_out, args.n_iter, probes[transform])}
                result["runs"].append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
                if args.generation:
                    t = time.perf_counter()
                    key = (model_kind, transform)
                    if key not in references:
                        references[key] = real_reference(judge_of(transform), magnitude, data.transform.frequencies())
                    codes = data_codes(run.model, data, "train", per_note=model_kind == "note")
                    label = f"{model_kind}/{decoder}/{transform}/{likelihood}"
                    table = generation_table({label: (run.model, codes)}, {label: judge_of(transform)},
                                             {label: references[key]},
                                             kinds=args.densities.split(","), n=args.generation, progress=False)
                    for gen_row in table.to_dict("records"):
                        gen_row = {"model": model_kind, "decoder": decoder, "transform": transform,
                                   "likelihood": row["likelihood"], "run": row["run"],
                                   **{k: (round(v, 5) if isinstance(v, float) else v)
                                      for k, v in gen_row.items() if k != "model"},
                                   "seconds": round(time.perf_counter() - t, 1)}
                        result["generation"].append(gen_row)
                        print(json.dumps(gen_row, default=float), file=sys.stderr, flush=True)
                latency_run = latency_run or run  # the decoders of all distributions cost the same
            lat = {"model": model_kind, "decoder": decoder, "transform": transform,
                   "likelihood": f"{latency_run.config.vae.likelihood}/{latency_run.config.vae.scale}",
                   **slider_latency(latency_run, data, args.updates)}
            result["latency"].append(lat)
            print(json.dumps(lat), file=sys.stderr, flush=True)
    for soundfont in [s for s in args.loso.split(",") if s]:
        row = leave_one_soundfont_out(soundfont, args, overrides)
        result["leave_one_soundfont_out"].append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    variant_data = None
    for name in [v for v in args.note_variants.split(",") if v]:
        row, variant_data = note_variant(name, args, overrides, variant_data)
        result["note_variants"].append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    result["total_s"] = round(time.perf_counter() - start_all, 1)
    _write(result, args.out)
    if tmp is not None:
        tmp.cleanup()
    return 0


LISTS = ("runs", "latency", "generation", "leave_one_soundfont_out", "note_variants")

#: what identifies a row of each list: a later part's row replaces an earlier row with the same
#: identity (a set-up measured again), other rows are kept in order
ROW_IDENTITY = {
    "runs": ("model", "decoder", "transform", "likelihood"),
    "latency": ("model", "decoder", "transform"),
    "generation": ("model", "decoder", "transform", "likelihood", "density"),
    "leave_one_soundfont_out": ("holdout_soundfont", "model", "transform", "likelihood"),
    "note_variants": ("variant", "transform", "likelihood"),
}


def combine_results(parts: list[dict]) -> dict:
    """One result from the results of invocations run side by side or one after the other: the
    lists of every part joined, the machine and settings of the first, each part's settings and
    time kept (those of its own parts when it was combined before, so that a result can be
    extended). A row of a later part replaces the row of an earlier part that measured the same
    set-up (:data:`ROW_IDENTITY`), e.g. a model measured again after its preset changed."""
    if not parts:
        raise ValueError("nothing to combine")
    out = {k: v for k, v in parts[0].items() if k not in LISTS}
    for key in LISTS:
        rows: dict = {}
        for part in parts:
            for i, row in enumerate(part.get(key, [])):
                fields = ROW_IDENTITY[key]
                ident = tuple(row.get(f) for f in fields) if all(f in row for f in fields) else (id(part), i)
                rows.pop(ident, None)  # the replacement goes where the part puts it, after the kept rows
                rows[ident] = row
        out[key] = list(rows.values())
    out["parts"] = [row for part in parts  # a part that is itself a combination keeps its parts
                    for row in (part.get("parts") or [{"args": part.get("args"), "total_s": part.get("total_s"),
                                                       "machine": part.get("machine")}])]
    out["total_s"] = max(float(part.get("total_s", 0.0)) for part in parts)
    return out


def _write(result: dict, path) -> int:
    """Print the JSON and write it to ``path`` (atomically)."""
    from helpers.data.fetch_utils import atomic_write_bytes

    text = json.dumps(result, indent=2)
    print(text)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, (text + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
