"""The judges benchmark runs end to end at smoke size and writes its JSON."""


import pytest
from benchmark_scripts import needs_mnist_and_instruments, run_smoke

from helpers.evaluation import judges as J


@pytest.mark.slow
@pytest.mark.data
@needs_mnist_and_instruments
def test_benchmark_runs_at_smoke_size(tmp_path):
    saved = run_smoke("judges", tmp_path, "--transforms", "stft")
    digits = saved["judges"]["digits"]
    assert 0 <= digits["tests"]["mnist_test"]["accuracy"] <= 1 and digits["train_seconds"] > 0
    assert len(digits["tests"]["mnist_test"]["confusion"]) == 11 and "ece" in digits["tests"]["mnist_test"]
    for key in ("instruments16_stft", "instruments11_stft"):
        assert saved["judges"][key]["tests"]["heldout_notes"]["n"] > 0
    tradeoff = saved["judges"]["digits_letters"]["digit_prior_tradeoff"]  # a shift towards digits ...
    digit_acc = [row["mnist_test"] for row in tradeoff]
    letter_acc = [row["letters_heldout_fonts"] for row in tradeoff]
    assert digit_acc == sorted(digit_acc) and letter_acc == sorted(letter_acc, reverse=True)  # ... costs letters
    images = saved["sanity"]["images"]["table"]
    assert {"mnist_test_digits", "uniform_noise"} <= set(images)
    assert set(saved["sanity"]["audio_stft"]["table"]) == {
        "heldout_notes_training_instruments", "heldout_notes_unseen_instruments", "white_noise"}
    reading = saved["first_readings"]["mnist_vae_prior"]
    assert reading["measures"]["n"] == 64 and "coverage_encoder" in reading["coverage_mnist_test"]
    assert saved["scoring_time_1000"]["measure_seconds"] > 0
    # a second run reloads every judge instead of training it
    again = run_smoke("judges", tmp_path, "--transforms", "stft", "--parts", "images", "--skip-vae", "--merge")
    assert again["judges"]["digits"]["reloaded"] and "instruments11_stft" in again["judges"]
    # the audio VAEs' prior draws under the instrument judge (its judge reloaded)
    audio = run_smoke("judges", tmp_path, "--transforms", "stft", "--parts", "audio_vae", "--merge")
    for draws in ("prior", "near"):  # prior draws, and draws of the Gaussian fitted to the training codes
        reading = audio["first_readings"][f"audio_note_vae_{draws}_stft"]
        assert reading["measures"]["n"] == 8 and 0 <= reading["measures"]["noise@0.9"] <= 1
    assert "training notes' posterior means" in audio["first_readings"]["audio_note_vae_near_stft"]["samples"]
    assert "mnist_vae_prior" in audio["first_readings"]
    # each digit against its look-alike letters, by a two-class judge of its own
    pairs = run_smoke("judges", tmp_path, "--parts", "lookalike", "--merge")
    assert set(pairs["look_alike_pairs"]["pairs"]) == {"0/O", "1/IL", "2/Z", "5/S", "6/B", "8/B", "9/QG"}
    zero = pairs["look_alike_pairs"]["pairs"]["0/O"]
    assert zero["n_letters"] > 0 and 0 <= zero["letter_recall"] <= 1
    bound = pairs["look_alike_pairs"]["letter_accuracy_bound"]  # no letter above what its pair judge reaches
    assert bound == pytest.approx(J.look_alike_letter_bound(pairs["look_alike_pairs"]["pairs"]), abs=1e-3) and bound <= 1
    assert "mnist_vae_prior" in pairs["first_readings"] and "instruments11_stft" in pairs["judges"]
