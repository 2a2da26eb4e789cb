"""The novelty benchmark runs end to end at smoke size and writes its JSON."""


import pytest
from benchmark_scripts import needs_mnist_and_instruments, run_smoke


@pytest.mark.slow
@pytest.mark.data
@needs_mnist_and_instruments
def test_benchmark_runs_at_smoke_size(tmp_path):
    saved = run_smoke("novelty", tmp_path)
    for part in ("tradeoff_mnist", "tradeoff_audio"):
        t = saved[part]
        families = {row["family"] for row in t["table"]}
        assert {"main model", "corrupted (notebook 04)", "fine-tuned (notebook 04)"} <= families
        assert all(0 <= row["spurious"] <= 1 and 0 <= row["coverage_optimised"] <= 1 for row in t["table"])
        assert set(t["correlations"]) == {f"{m}_{y}" for m in ("pearson", "spearman")
                                          for y in ("coverage_optimised", "coverage_encoder")}
    assert {"K&W latent size", "grid z x beta"} <= {row["family"] for row in saved["tradeoff_mnist"]["table"]}
    grid = saved["tradeoff_audio"]["audio_grid"]
    assert sorted(row["z_dim"] for row in grid) == [2, 4] and all(row["val_loss"] > 0 for row in grid)
    assert sum(row["family"] == "note grid (Optuna)" for row in saved["tradeoff_audio"]["table"]) == 4
    for name in ("sparse autoencoder", "MNIST VAE"):
        s = saved["kazakci"][name]["summary"]
        assert s["starts"] == 48 and s["distinct_fixed_points"] >= 1 and s["k"] == len(saved["kazakci"][name]["clusters"])
    chase = saved["audio_chase"]
    assert {row["source"] for row in chase["sources"]} == {
        "prior", "own sampler", "iterated from noise", "iterated from prior draws",
        "frame model, steady", "frame model, lines", "frame model, iterated from noise"}
    assert sum(row["n"] for row in chase["sources"]) == 7 * 12
