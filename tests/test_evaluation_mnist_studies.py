"""The experiments of notebook 01: run folders, readings of curves and tables, the test NLL with
its standard error. (Training itself runs in the notebook test at SMOKE size.)"""

import math

import pandas as pd
import pytest
import torch

from helpers.evaluation import mnist_studies as study
from helpers.models import VAEConfig
from helpers.training.presets import mnist_preset


def test_run_root_prefers_argument_then_environment_then_temporary(tmp_path, monkeypatch):
    assert study.notebook_run_root(tmp_path / "r") == (tmp_path / "r", False)
    monkeypatch.setenv("NOVELTY_RUNS_DIR", str(tmp_path / "env"))
    assert study.notebook_run_root(None) == (tmp_path / "env", False)
    assert study.notebook_run_root(None, smoke=True) == (tmp_path / "env", False)
    monkeypatch.delenv("NOVELTY_RUNS_DIR")
    path, temporary = study.notebook_run_root(None, smoke=True)
    assert temporary and path.is_dir()
    path.rmdir()
    assert study.notebook_run_root(None)[0].name == "runs"


def test_2d_preset():
    preset = mnist_preset("2d")
    assert preset.model.z_dim == 2 and preset.trainer.n_epochs > 2


def test_bernoulli_check_agrees_with_bce():
    model = study.untrained(VAEConfig(z_dim=3, hidden=(16,)), seed=0)
    x = torch.bernoulli(torch.full((5, 28, 28), 0.3), generator=torch.Generator().manual_seed(0))
    ours, bce = study.bernoulli_check(model, x)
    assert ours.shape == (5,) and torch.allclose(ours, bce, rtol=1e-5)


def test_kl_after_warmup_reads_dip_and_end():
    history = [{"epoch": e, "train_kl": kl} for e, kl in zip(range(1, 7), [30.0, 25.0, 22.0, 23.0, 24.0, 26.0])]
    kl = study.kl_after_warmup(history, warmup_epochs=2)
    assert (kl["warmup_epoch"], kl["at_warmup"], kl["lowest"], kl["lowest_epoch"]) == (2, 25.0, 22.0, 3)
    assert (kl["final"], kl["final_epoch"], kl["max"]) == (26.0, 6, 30.0)


def test_warmup_reading_finds_minimum_and_peak():
    curve = pd.DataFrame({"examples": [100, 200, 300], "train_kl": [5.0, 1.0, 2.0], "beta": [1.0] * 3})
    evals = pd.DataFrame({"examples": [100, 200, 300], "active_units": [10, 20, 5]})
    reading = study.warmup_reading({"run": {"curve": curve, "eval": evals, "active": 5, "elbo": -90.0}})["run"]
    assert (reading["kl_lowest"], reading["kl_lowest_at"], reading["kl_final"]) == (1.0, 200, 2.0)
    assert (reading["active_peak"], reading["active_peak_at"], reading["active_final"]) == (20, 200, 5)


def _trials():
    rows = []
    for seed, noise in ((0, 0.0), (1, 3.0), (2, -3.0)):
        for z, beta, nll, kl in ((2, 1.0, 150.0, 6.0), (2, 2.0, 148.0, 5.0), (8, 1.0, 110.0, 20.0), (8, 2.0, 118.0, 12.0)):
            rows.append({"seed": seed, "z_dim": z, "beta": beta, "test_nll": nll + noise * (2 if beta == 2 else 1),
                         "test_kl": kl, "active_units": min(z, 4), "time_s": 1.0})
    return pd.DataFrame(rows)


def test_grid_summary_and_beta_comparison():
    summary = study.grid_summary(_trials())
    assert summary.index[0] == (8, 1.0) and summary.loc[(8, 1.0), "seeds"] == 3
    assert summary.loc[(2, 2.0), "val NLL, std over seeds"] == pytest.approx(6.0)
    small = study.beta_comparison(_trials(), 2)
    assert small[2.0]["nll"] == pytest.approx(148.0) and small[1.0]["nll_std"] == pytest.approx(3.0)
    assert small["difference"] == pytest.approx(-2.0) and small["n_seeds"] == 3
    assert small["difference_std"] == pytest.approx(3.0)  # paired differences -2, +1, -5
    assert small["second_lower_in"] == 2  # beta 2 vs 1: 148 < 150, 154 > 153, 142 < 147
    big = study.beta_comparison(_trials(), 8)
    assert big["difference"] == pytest.approx(8.0) and big["second_lower_in"] == 0


def test_test_likelihood_standard_error_and_subset_gap():
    model = study.untrained(VAEConfig(z_dim=2, hidden=(8,)), seed=0).eval()
    x = torch.bernoulli(torch.rand(40, 28, 28), generator=torch.Generator().manual_seed(1))
    result = study.test_likelihood(model, x, k=3)
    assert result["n"] == 40 and result["nll_se"] == pytest.approx(result["nll_std"] / math.sqrt(40))
    assert result["nll"] <= -result["elbo"] + 1.0  # the IWAE bound is at least as tight as the ELBO, up to noise
    gap = study.subset_elbo_gap(model, x, 10)
    assert (gap["n"], gap["n_all"]) == (10, 40) and gap["se_subset"] > 0


def test_training_log_accepts_runs_and_tuples():
    log = study.training_log({"grid": (12.5, False)})
    assert log.loc["grid", "training time (s)"] == 12.5 and not log.loc["grid", "trained in this run"]
