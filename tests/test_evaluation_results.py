"""Readers of benchmarks/results/audio_vae.json as tables."""

import json

import pytest

from helpers.evaluation import results


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
