"""Readers of the committed benchmark results (``benchmarks/results/<name>.json``) for the notebooks.

:func:`load_result` reads one file and names it in every error. The ``mnist_*`` functions read
``mnist_vae.json`` (test likelihood of the MNIST presets), the ``audio_transforms_*`` functions
``audio_transforms.json`` (phase reconstruction and NSGT speed): each returns plain numbers or a
table, so that a notebook states what was measured without digging through the JSON.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from helpers.data.paths import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"

# Burda, Grosse & Salakhutdinov (2016), Table 1: one stochastic layer (two hidden layers of 200 tanh
# units, 50 latent units), 3280 epochs, dynamically binarised MNIST, test NLL with k = 5000.
BURDA_2016 = (
    {"model": "Burda et al. 2016, VAE, 1 stochastic layer (k = 1 training)", "nll": 86.76},
    {"model": "Burda et al. 2016, IWAE k = 50, 1 stochastic layer", "nll": 84.78},
)
BURDA_2016_SETUP = {"n_test": 10000, "k": 5000, "epochs": 3280}


def load_result(name: str, results_dir: str | Path | None = None) -> dict:
    """The parsed ``<results_dir>/<name>.json`` (default ``benchmarks/results``).

    ``FileNotFoundError`` names the missing file and the script that writes it; ``ValueError``
    names a file that is not valid JSON or does not hold an object.
    """
    path = Path(results_dir or RESULTS_DIR) / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"benchmark result {path} not found: run `python benchmarks/{name}.py` to create it")
    try:
        result = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"benchmark result {path} is not valid JSON: {err}") from err
    if not isinstance(result, dict):
        raise ValueError(f"benchmark result {path} holds a {type(result).__name__}, expected a JSON object")
    return result


def result_value(result: dict, *keys, default=None):
    """``result[k1][k2]...``, or ``default`` where a key is missing (not measured yet)."""
    value = result
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return default
        value = value[key]
    return value


# ------------------------------------------------------------------------------- mnist_vae.json
def mnist_nll_run(result: dict, preset: str) -> dict | None:
    """The summary of one preset's NLL run in ``mnist_vae.json``: preset, epochs, test digits, k,
    NLL, ELBO, KL, active units and training minutes; ``None`` where that preset was not run."""
    run = result_value(result, "runs", "full", "nll", preset)
    if run is None:
        return None
    test = run.get("test", {})
    return {"preset": preset, "epochs": run.get("epochs_trained"), "n_test": run.get("n_test"),
            "k": test.get("k"), "nll": test.get("nll"), "elbo": test.get("elbo"), "kl": test.get("kl"),
            "active_units": test.get("active_units"), "train_minutes": run.get("train_minutes"),
            "z_dim": result_value(run, "model_config", "z_dim"), "note": run.get("note", "")}


def mnist_likelihood_table(result: dict, here: dict | None = None,
                           presets: tuple[str, ...] = ("default", "long", "best")) -> pd.DataFrame:
    """Test likelihoods side by side: ``here`` (a row computed in the notebook, with the keys of
    :func:`mnist_nll_run` and ``model``), the benchmark's presets, and Burda et al. (2016).

    Columns: test digits, k, epochs, test NLL, test ELBO, active units, source; a preset the
    benchmark has not run yet is listed as "not measured yet".
    """
    rows = []
    if here is not None:
        rows.append({**here, "source": "computed in this notebook"})
    for preset in presets:
        run = mnist_nll_run(result, preset)
        label = f"preset \"{preset}\", benchmark" + (f" ({run['note'].split(',')[0]})" if run and run["note"] else "")
        rows.append({"model": label, **(run or {}),
                     "source": "benchmarks/results/mnist_vae.json" if run else "not measured yet"})
    for ref in BURDA_2016:
        rows.append({**ref, **BURDA_2016_SETUP, "source": "Burda et al. (2016), Table 1"})
    table = pd.DataFrame(rows).set_index("model")
    table = table.reindex(columns=["n_test", "k", "epochs", "nll", "elbo", "active_units", "source"])
    for column in ("n_test", "k", "epochs", "active_units"):
        table[column] = pd.to_numeric(table[column]).astype("Int64")
    return table.rename(columns={"n_test": "test digits", "nll": "test NLL (nats)", "elbo": "test ELBO (nats)",
                                 "active_units": "active units"})


# ------------------------------------------------------------------------ audio_transforms.json
def audio_transforms_notes(result: dict) -> dict:
    """How many notes the quality runs used (``n_used``), of how many available, the ``seed`` of
    their random draw, their length in samples and their sample rate; ``all``: every note used."""
    data = result.get("data", {})
    n_used = data.get("n_notes_quality", data.get("n_notes"))
    return {"n_used": n_used, "n_available": data.get("n_available"), "source": data.get("source", ""),
            "seed": data.get("seed"), "n_samples": data.get("n_samples"), "sample_rate": data.get("sample_rate"),
            "all": n_used is not None and n_used == data.get("n_available")}


def audio_transforms_tables(result: dict) -> dict[str, pd.DataFrame]:
    """The tables of ``audio_transforms.json``:

    ``"stft"``: STFT + fast Griffin-Lim by start and iterations (mean and p90 spectral convergence,
    seconds per second of audio); ``"nsgt"``: NSGT phase reconstruction by bins per octave, start
    and iterations, judged in the common STFT domain and in the NSGT domain; ``"speed"``: the
    batched PyTorch NSGT against the ``nsgt`` package; ``"targets"``: goal, value, met.
    """
    stft = pd.DataFrame([{"start": r["init"], "iterations": r["n_iter"],
                          "spectral convergence (mean)": r["spectral_convergence"]["mean"],
                          "p90": r["spectral_convergence"]["p90"],
                          "seconds per second of audio": r["seconds_per_audio_second"]}
                         for r in result_value(result, "stft_griffin_lim", "runs", default=[])])
    nsgt = pd.DataFrame([{"bins per octave": c["bins_per_octave"], "start": r["init"], "iterations": r["n_iter"],
                          "SC in the common STFT domain": r["stft_domain_sc"]["mean"],
                          "SC in the NSGT domain": r["nsgt_domain_sc"]["mean"]}
                         for c in result_value(result, "nsgt_phase", "configs", default=[]) for r in c["runs"]])
    speed = pd.DataFrame([{"bins per octave": c["bins_per_octave"], "coefficients": "x".join(map(str, c["shape"])),
                           **{f"{k} (s)": v for k, v in c["seconds"].items()},
                           **{f"speed-up, {k}": v for k, v in c["speedup"].items()},
                           "max relative error (float32)": max(c["max_rel_err_forward_float32"],
                                                               c["max_rel_err_backward_float32"])}
                          for c in result_value(result, "nsgt_speed", "configs", default=[])])
    targets = pd.DataFrame(result.get("targets", {})).T
    targets = targets.reindex(columns=["goal", "value", "met"])
    return {"stft": stft.set_index(["start", "iterations"]) if len(stft) else stft,
            "nsgt": nsgt.set_index(["bins per octave", "start", "iterations"]) if len(nsgt) else nsgt,
            "speed": speed.set_index("bins per octave") if len(speed) else speed,
            "targets": targets}


def audio_transforms_reading(result: dict) -> dict:
    """The numbers a reader needs from ``audio_transforms.json``.

    ``stft_sc``: {(start, iterations): mean SC}; ``nsgt_best``: {bins per octave: lowest mean SC
    in the common STFT domain over starts and iterations}; ``nsgt_by_start``: {(bins, start): SC
    at that start's most iterations}; ``finest_vs_coarsest``: (coarsest bins, its SC, finest bins,
    its SC); ``max_error``: worst float32 relative error of the torch NSGT; ``speedup``: {bins:
    best speed-up over thread settings}; plus the note counts of :func:`audio_transforms_notes`.
    """
    tables = audio_transforms_tables(result)
    stft = tables["stft"]["spectral convergence (mean)"].to_dict() if len(tables["stft"]) else {}
    nsgt_best, nsgt_by_start, finest = {}, {}, None
    if len(tables["nsgt"]):
        sc = tables["nsgt"]["SC in the common STFT domain"]
        nsgt_best = {int(b): float(v) for b, v in sc.groupby(level=0).min().items()}
        for (bins, start), part in sc.groupby(level=[0, 1]):
            most = part.index.get_level_values("iterations").max()
            nsgt_by_start[int(bins), start] = float(part.xs(most, level="iterations").iloc[0])
        lo, hi = min(nsgt_best), max(nsgt_best)
        finest = (lo, nsgt_best[lo], hi, nsgt_best[hi])
    speed = tables["speed"]
    speedup = ({int(b): float(v) for b, v in speed.filter(like="speed-up").max(axis=1).items()}
               if len(speed) else {})
    max_error = float(speed["max relative error (float32)"].max()) if len(speed) else math.nan
    return {**audio_transforms_notes(result), "stft_sc": stft, "nsgt_best": nsgt_best,
            "nsgt_by_start": nsgt_by_start, "finest_vs_coarsest": finest, "max_error": max_error,
            "speedup": speedup, "machine": result.get("machine", {})}


# ------------------------------------------------------------------------------- audio_vae.json
AUDIO_VAE_JSON = RESULTS_DIR / "audio_vae.json"

#: names of the note model's decoders in ``benchmarks/audio_vae.py``, as a reader would say them
NOTE_DECODER_NAMES = {"frames": "frame-wise MLP", "conv": "transposed 2-D convolutions"}


def audio_vae_result(path: str | Path | None = None) -> dict:
    """The whole ``audio_vae.json`` (machine, runs, latency, total time)."""
    path = AUDIO_VAE_JSON if path is None else Path(path)
    result = load_result(path.stem, path.parent)
    missing = [k for k in ("machine", "runs") if k not in result]
    if missing:
        raise ValueError(f"benchmark result {path}: missing the keys {missing}")
    return result


def audio_vae_runs(path: str | Path | None = None) -> pd.DataFrame:
    """One row per trained run of ``benchmarks/audio_vae.py`` (model, transform, likelihood,
    decoder, epochs, train_s, held-out scores, recognisability)."""
    return pd.DataFrame(audio_vae_result(path)["runs"])


def audio_vae_decoders(path: str | Path | None = None, likelihood: str = "gaussian") -> pd.DataFrame | None:
    """The note model's two decoders side by side for one output distribution, indexed by
    (transform, decoder), or None when the file holds fewer than both decoders."""
    runs = audio_vae_runs(path)
    if runs.empty or "decoder" not in runs:
        return None
    rows = runs[(runs["model"] == "note") & runs["likelihood"].str.startswith(likelihood)]
    if not set(NOTE_DECODER_NAMES) <= set(rows["decoder"]):
        return None
    table = pd.DataFrame({"transform": rows["transform"], "decoder": rows["decoder"].map(NOTE_DECODER_NAMES),
                          "epochs": rows["epochs"], "train_s": rows["train_s"], "mag_sc": rows["mag_sc"],
                          "audio_sc": rows["audio_sc"], "pitch kept": rows["pitch_agreement"],
                          "instrument kept": rows["instrument_acc_recon"]})
    return table.set_index(["transform", "decoder"])


def audio_vae_latency(path: str | Path | None = None) -> pd.DataFrame:
    """One row per timed explorer (model, decoder, transform): median and p95 latency in ms."""
    return pd.DataFrame(audio_vae_result(path).get("latency", []))


def audio_vae_machine(path: str | Path | None = None) -> str:
    """The machine the benchmark ran on, in words (CPU, cores, torch threads)."""
    m = audio_vae_result(path)["machine"]
    return f"{m.get('cpu', 'unknown CPU')}, {m.get('cores', '?')} cores, {m.get('torch_threads', '?')} torch threads"


# ------------------------------------------------------------------------------------ judges.json
#: What the authors' code reports over its sparse autoencoders on MNIST (Kégl, Cherti & Kazakçı,
#: 2018): out-of-class (letter) counts at theta = 0.9 between these medians, objectness in this range.
KEGL_REFERENCE = {"count_out@0.9": (0.46, 0.77), "objectness": (9.0, 11.0)}

#: the first readings of ``benchmarks/judges.py``, as a reader would name the samples
FIRST_READINGS = {
    "mnist_vae_prior": "MNIST VAE (notebook 01), prior draws",
    "audio_note_vae_prior_stft": "note VAE, STFT (notebook 03), prior draws",
    "audio_note_vae_near_stft": "note VAE, STFT (notebook 03), draws near the data",
    "audio_note_vae_prior_nsgt": "note VAE, NSGT (notebook 03), prior draws",
    "audio_note_vae_near_nsgt": "note VAE, NSGT (notebook 03), draws near the data",
}
FIRST_READING_COLUMNS = {"n": "samples", "count_in@0.9": "in-class (count, θ=0.9)",
                         "count_out@0.9": "out-of-class (count, θ=0.9)", "noise@0.9": "noise (θ=0.9)",
                         "objectness": "objectness", "diversity": "diversity"}


def judges_first_readings(result: dict) -> pd.DataFrame:
    """The novelty measures of every VAE's draws in ``judges.json`` (one row each, in the order
    of :data:`FIRST_READINGS`; readings the file does not hold are left out), then one row of
    the reference values of Kégl et al.'s code (as "low-high" text)."""
    rows = []
    for key, label in FIRST_READINGS.items():
        reading = result_value(result, "first_readings", key)
        if reading is None:
            continue
        measures = reading.get("measures", {})
        rows.append({"samples of": label, "judge": reading.get("judge", ""),
                     **{name: measures.get(k) for k, name in FIRST_READING_COLUMNS.items()}})
    ref = {FIRST_READING_COLUMNS[k]: f"{lo:g}-{hi:g}" for k, (lo, hi) in KEGL_REFERENCE.items()}
    rows.append({"samples of": "Kégl et al. (2018), authors' code: sparse autoencoders on MNIST",
                 "judge": "digits + letters", **ref})
    table = pd.DataFrame(rows).set_index("samples of")
    table = table.reindex(columns=["judge", *FIRST_READING_COLUMNS.values()])
    table["samples"] = pd.to_numeric(table["samples"]).astype("Int64")
    return table


def judges_accuracies(result: dict) -> pd.DataFrame:
    """Held-out accuracy and training time of every judge in ``judges.json``: one row per
    (judge, test set), with the leave-one-SoundFont-out means as rows of their own."""
    rows = []
    for name, judge in result.get("judges", {}).items():
        for test, scores in judge.get("tests", {}).items():
            rows.append({"judge": name, "test": test, "n": scores.get("n"), "accuracy": scores.get("accuracy"),
                         "train_seconds": judge.get("train_seconds")})
        if "mean_accuracy" in judge:
            rows.append({"judge": name, "test": "mean over the held-out SoundFonts",
                         "n": None, "accuracy": judge["mean_accuracy"],
                         "train_seconds": max((v.get("train_seconds", 0) for v in judge["per_soundfont"].values()),
                                              default=None)})
    table = pd.DataFrame(rows, columns=["judge", "test", "n", "accuracy", "train_seconds"])
    table["n"] = pd.to_numeric(table["n"]).astype("Int64")
    return table.set_index(["judge", "test"])


def judges_look_alikes(result: dict) -> pd.DataFrame | None:
    """Each digit against the letters drawn like it (``look_alike_pairs`` of ``judges.json``,
    :func:`helpers.evaluation.judges.look_alike_separability`): one row per pair, the shares the
    two-class judge was held to in the column names, or ``None`` when the file holds none."""
    pairs = result_value(result, "look_alike_pairs", "pairs")
    if not pairs:
        return None
    rows = []
    for name, v in pairs.items():
        digit, letters = name.split("/")
        rows.append({"digit": digit, "letters": " ".join(letters), "test digits": v["n_digits"],
                     "test letters": v["n_letters"],
                     f"letters recognised, {v['digit_share']:.0%} of digits kept": v["letter_recall"],
                     f"digits recognised, {v['letter_share']:.0%} of letters kept": v["digit_recall"],
                     "training digits called digits": v["train_digit_accuracy"],
                     "training letters called letters": v["train_letter_accuracy"]})
    table = pd.DataFrame(rows).set_index(["digit", "letters"])
    table[["test digits", "test letters"]] = table[["test digits", "test letters"]].astype("Int64")
    return table
