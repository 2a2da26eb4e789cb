"""Readers of the benchmark result files."""

import json

import pytest

from helpers.evaluation import results

from helpers.evaluation.results import (
    audio_transforms_notes,
    audio_transforms_reading,
    audio_transforms_tables,
    load_result,
    mnist_likelihood_table,
    mnist_nll_run,
    result_value,
)


def _write(tmp_path, name, obj):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return path


def test_load_result_reads_and_names_the_file_on_errors(tmp_path):
    _write(tmp_path, "ok", {"a": {"b": 2}})
    assert load_result("ok", tmp_path) == {"a": {"b": 2}}
    with pytest.raises(FileNotFoundError, match=r"missing\.json.*benchmarks/missing\.py"):
        load_result("missing", tmp_path)
    _write(tmp_path, "broken", "{not json")
    with pytest.raises(ValueError, match=r"broken\.json.*not valid JSON"):
        load_result("broken", tmp_path)
    _write(tmp_path, "alist", [1, 2])
    with pytest.raises(ValueError, match=r"alist\.json.*list"):
        load_result("alist", tmp_path)


def test_result_value_walks_keys_and_defaults():
    result = {"a": {"b": {"c": 3}}, "x": 1}
    assert result_value(result, "a", "b", "c") == 3
    assert result_value(result, "a", "z") is None
    assert result_value(result, "x", "y", default="n/a") == "n/a"


def _mnist(presets):
    runs = {}
    for name, (epochs, nll, active) in presets.items():
        runs[name] = {"preset": name, "note": f"784-512-512-32 MLP, {name}", "epochs_trained": epochs,
                      "n_test": 10000, "train_minutes": 1.0, "model_config": {"z_dim": 32},
                      "test": {"nll": nll, "elbo": -nll - 4, "kl": 20.0, "k": 1000, "active_units": active}}
    return {"runs": {"full": {"nll": runs}}}


def test_mnist_nll_run_and_table():
    result = _mnist({"default": (25, 91.4, 16), "long": (60, 88.4, 21)})
    run = mnist_nll_run(result, "long")
    assert (run["epochs"], run["nll"], run["active_units"], run["n_test"], run["z_dim"]) == (60, 88.4, 21, 10000, 32)
    assert mnist_nll_run(result, "best") is None
    here = {"model": "here", "n_test": 1000, "k": 100, "epochs": 3, "nll": 95.0, "elbo": -99.0, "active_units": 12}
    table = mnist_likelihood_table(result, here)
    assert list(table.columns) == ["test digits", "k", "epochs", "test NLL (nats)", "test ELBO (nats)",
                                   "active units", "source"]
    assert table.loc["here", "test digits"] == 1000 and table.loc["here", "source"] == "computed in this notebook"
    long_row = table[table.index.str.contains("long")].iloc[0]
    assert long_row["test NLL (nats)"] == 88.4 and long_row["epochs"] == 60
    best_row = table[table.index.str.contains("best")].iloc[0]
    assert best_row["source"] == "not measured yet"
    burda = table[table.index.str.startswith("Burda")]
    assert sorted(burda["test NLL (nats)"]) == [84.78, 86.76] and (burda["k"] == 5000).all()


def _audio():
    def runs(*rows):
        return [{"init": i, "n_iter": n, "seconds_per_audio_second": 0.1,
                 "spectral_convergence": {"mean": sc, "p90": sc * 2}, "stft_domain_sc": {"mean": sc},
                 "nsgt_domain_sc": {"mean": sc / 10}} for i, n, sc in rows]

    return {"data": {"n_notes": 128, "n_available": 1347, "n_notes_quality": 128, "sample_rate": 22050,
                     "n_samples": 22050, "source": "rendered"},
            "stft_griffin_lim": {"runs": runs(("zeros", 32, 0.08), ("peaks", 32, 0.02))},
            "nsgt_phase": {"configs": [{"bins_per_octave": 12, "runs": runs(("zeros", 128, 0.66), ("peaks", 128, 0.19))},
                                       {"bins_per_octave": 24, "runs": runs(("peaks", 32, 0.135), ("peaks", 128, 0.132))},
                                       {"bins_per_octave": 48, "runs": runs(("peaks", 128, 0.141))}]},
            "nsgt_speed": {"configs": [{"bins_per_octave": b, "shape": [10, 20], "seconds": {"package": 1.0, "torch": 0.1},
                                        "speedup": {"torch_1": s / 2, "torch_2": s},
                                        "max_rel_err_forward_float32": 1e-7, "max_rel_err_backward_float32": e}
                                       for b, s, e in ((12, 10.0, 2e-7), (24, 12.0, 3e-7))]},
            "targets": {"t": {"goal": "<= 1", "value": 0.5, "met": True}}}


def test_audio_transforms_tables_and_reading():
    result = _audio()
    notes = audio_transforms_notes(result)
    assert (notes["n_used"], notes["n_available"], notes["all"]) == (128, 1347, False)
    tables = audio_transforms_tables(result)
    assert tables["stft"].loc[("peaks", 32), "p90"] == pytest.approx(0.04)
    assert tables["nsgt"].loc[(24, "peaks", 128), "SC in the common STFT domain"] == 0.132
    assert tables["speed"].loc[24, "coefficients"] == "10x20"
    assert tables["targets"].loc["t", "met"]
    reading = audio_transforms_reading(result)
    assert reading["nsgt_best"] == {12: 0.19, 24: 0.132, 48: 0.141}
    assert reading["finest_vs_coarsest"] == (12, 0.19, 48, 0.141)
    assert reading["nsgt_by_start"][24, "peaks"] == 0.132  # the most iterations of that start
    assert reading["speedup"] == {12: 10.0, 24: 12.0} and reading["max_error"] == 3e-7
    assert reading["stft_sc"]["zeros", 32] == 0.08


def test_committed_results_read():
    mnist = load_result("mnist_vae")
    assert mnist_nll_run(mnist, "default")["n_test"] == 10000
    reading = audio_transforms_reading(load_result("audio_transforms"))
    assert 0 < reading["n_used"] <= reading["n_available"]


# audio_vae.json

def run_row(model, transform, likelihood, decoder, mag_sc):
    return {"model": model, "transform": transform, "likelihood": f"{likelihood}/per_feature", "decoder": decoder,
            "epochs": 5, "train_s": 10.0, "mag_sc": mag_sc, "audio_sc": mag_sc + 0.01, "pitch_agreement": 0.9,
            "instrument_acc_recon": 0.8}


@pytest.fixture
def result_file(tmp_path):
    result = {"machine": {"cpu": "Test CPU", "cores": 2, "torch_threads": 1},
              "runs": [run_row("frame", "stft", "gaussian", "mlp", 0.3),
                       run_row("note", "stft", "gaussian", "frames", 0.6),
                       run_row("note", "stft", "gaussian", "conv", 0.8),
                       run_row("note", "stft", "laplace", "frames", 0.7)],
              "latency": [{"model": "note", "transform": "stft", "decode_and_phase_ms_median": 9.0}]}
    path = tmp_path / "audio_vae.json"
    path.write_text(json.dumps(result))
    return path


def test_decoders_table_holds_both_decoders_of_one_distribution(result_file):
    table = results.audio_vae_decoders(result_file)
    assert list(table.index) == [("stft", "frame-wise MLP"), ("stft", "transposed 2-D convolutions")]
    assert list(table["mag_sc"]) == [0.6, 0.8] and list(table["instrument kept"]) == [0.8, 0.8]
    assert results.audio_vae_decoders(result_file, likelihood="laplace") is None  # only one decoder


def test_runs_latency_and_machine(result_file):
    assert len(results.audio_vae_runs(result_file)) == 4
    assert results.audio_vae_latency(result_file)["decode_and_phase_ms_median"].tolist() == [9.0]
    assert results.audio_vae_machine(result_file) == "Test CPU, 2 cores, 1 torch threads"


def test_missing_or_broken_file_is_named(tmp_path):
    missing = tmp_path / "nothing.json"
    with pytest.raises(FileNotFoundError, match="nothing.json"):
        results.audio_vae_runs(missing)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        results.audio_vae_runs(broken)
    incomplete = tmp_path / "incomplete.json"
    incomplete.write_text(json.dumps({"runs": []}))
    with pytest.raises(ValueError, match="incomplete.json.*machine"):
        results.audio_vae_result(incomplete)


def test_committed_results_are_readable():
    table = results.audio_vae_runs()
    assert {"model", "transform", "likelihood", "mag_sc"} <= set(table.columns) and len(table) > 0


def _judges_result():
    measures = {"n": 100, "count_in@0.9": 0.5, "count_out@0.9": 0.3, "noise@0.9": 0.2, "objectness": 7.5,
                "diversity": 0.9}
    per_soundfont = {"a": {"accuracy": 0.6, "train_seconds": 3.0}, "b": {"accuracy": 0.8, "train_seconds": 5.0}}
    return {"judges": {"digits": {"train_seconds": 12.0, "tests": {"mnist_test": {"n": 10, "accuracy": 0.9}}},
                       "instruments_leave_one_soundfont_out_nsgt": {"mean_accuracy": 0.7,
                                                                    "per_soundfont": per_soundfont}},
            "first_readings": {"mnist_vae_prior": {"judge": "digits_letters", "measures": measures},
                               "audio_note_vae_near_nsgt": {"judge": "instruments16_nsgt",
                                                            "measures": {**measures, "count_in@0.9": 0.8}}}}


def test_judges_first_readings_next_to_the_reference():
    table = results.judges_first_readings(_judges_result())
    mnist, near = results.FIRST_READINGS["mnist_vae_prior"], results.FIRST_READINGS["audio_note_vae_near_nsgt"]
    assert list(table.index[:2]) == [mnist, near]  # readings in a fixed order, missing ones left out
    assert table.loc[mnist, "out-of-class (count, θ=0.9)"] == 0.3
    assert table.loc[near, "in-class (count, θ=0.9)"] == 0.8
    assert table.loc[near, "judge"] == "instruments16_nsgt" and table.loc[mnist, "samples"] == 100
    reference = table.iloc[-1]
    assert reference["out-of-class (count, θ=0.9)"] == "0.46-0.77" and reference["objectness"] == "9-11"
    only_reference = results.judges_first_readings({})
    assert len(only_reference) == 1


def test_judges_accuracies_one_row_per_test_and_soundfont_mean():
    table = results.judges_accuracies(_judges_result())
    assert table.loc[("digits", "mnist_test"), "accuracy"] == 0.9
    row = table.loc[("instruments_leave_one_soundfont_out_nsgt", "mean over the held-out SoundFonts")]
    assert row["accuracy"] == 0.7 and row["train_seconds"] == 5.0


def test_judges_look_alikes_one_row_per_pair():
    pair = {"n_digits": 980, "n_letters": 180, "digit_share": 0.99, "letter_recall": 0.5, "letter_share": 0.92,
            "digit_recall": 0.66, "train_digit_accuracy": 0.6, "train_letter_accuracy": 0.98}
    table = results.judges_look_alikes({"look_alike_pairs": {"pairs": {"0/O": pair, "9/QG": {**pair, "n_letters": 360}}}})
    assert list(table.index) == [("0", "O"), ("9", "Q G")]
    assert table.loc[("9", "Q G"), "test letters"] == 360
    assert table.loc[("0", "O"), "letters recognised, 99% of digits kept"] == 0.5
    assert table.loc[("0", "O"), "digits recognised, 92% of letters kept"] == 0.66
    assert table.loc[("0", "O"), "training digits called digits"] == 0.6
    assert results.judges_look_alikes({}) is None


def test_committed_judges_results_read():
    result = load_result("judges")
    table = results.judges_first_readings(result)
    assert results.FIRST_READINGS["mnist_vae_prior"] in table.index
    assert len(results.judges_accuracies(result)) > 0
