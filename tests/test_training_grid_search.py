"""Grid search: every point once, a table of results, and a killed search resumes from its SQLite file."""

import pytest
import torch

from helpers.training import grid_search, results_table



GRID = {"z_dim": [2, 4], "width": [8, 16], "beta": [1.0]}


def make_objective(calls, interrupt_at=None):
    def objective(params, trial_dir):
        calls.append(dict(params))
        assert trial_dir.is_dir()
        if interrupt_at is not None and len(calls) == interrupt_at:
            raise KeyboardInterrupt  # the search is killed in the middle of this trial
        return {"nll": 100.0 - params["z_dim"] - params["width"] / 8, "kl": float(params["z_dim"])}
    return objective


def test_grid_search_runs_every_point_once_and_tabulates(tmp_path):
    calls = []
    table = grid_search(make_objective(calls), GRID, metric="nll", name="g", run_dir=tmp_path / "g")
    assert len(calls) == 4 and len({tuple(sorted(c.items())) for c in calls}) == 4
    assert list(table["nll"]) == sorted(table["nll"]) and len(table) == 4
    assert {"z_dim", "width", "beta", "nll", "kl", "time_s"} <= set(table.columns)
    assert table.iloc[0]["z_dim"] == 4 and table.iloc[0]["width"] == 16
    assert (tmp_path / "g" / "study.db").exists() and (tmp_path / "g" / "results.csv").exists()
    again = results_table("g", metric="nll", storage=f"sqlite:///{tmp_path / 'g' / 'study.db'}")
    assert list(again["nll"]) == list(table["nll"])


def test_killed_search_resumes_and_skips_completed_points(tmp_path):
    first = []
    with pytest.raises(KeyboardInterrupt):
        grid_search(make_objective(first, interrupt_at=3), GRID, metric="nll", name="g", run_dir=tmp_path / "g")
    done = first[:2]
    second = []
    table = grid_search(make_objective(second), GRID, metric="nll", name="g", run_dir=tmp_path / "g")
    assert len(second) == 2  # the interrupted point and the one never started
    assert first[2] in second and not any(c in second for c in done)
    assert len(table) == 4
    third = []
    grid_search(make_objective(third), GRID, metric="nll", name="g", run_dir=tmp_path / "g")
    assert third == []  # a finished search does nothing


def test_objective_errors_stop_the_search_unless_caught(tmp_path):
    def broken(params, trial_dir):
        if params["z_dim"] == 2:
            raise ValueError("bad point")
        return {"nll": 1.0}

    with pytest.raises(ValueError, match="bad point"):
        grid_search(broken, GRID, metric="nll", run_dir=tmp_path / "a")
    table = grid_search(broken, GRID, metric="nll", run_dir=tmp_path / "b", catch=(ValueError,))
    assert len(table) == 2 and set(table["z_dim"]) == {4}
    with pytest.raises(KeyError, match="without the metric"):
        grid_search(lambda p, d: {"other": 1.0}, GRID, metric="nll", run_dir=tmp_path / "c")


def test_vae_objective_trains_and_reports_the_table_columns(tmp_path):
    from helpers.evaluation.likelihood import evaluate_model
    from helpers.models import VAEConfig
    from helpers.training.grid_search import vae_objective
    from helpers.training import TrainerConfig

    g = torch.Generator().manual_seed(0)
    x = (torch.rand(64, 6, 6, generator=g) > 0.5).float()
    objective = vae_objective(x, x[:16], VAEConfig(x_shape=(6, 6), hidden=(8, 8)),
                              TrainerConfig(n_epochs=1, batch_size=32), evaluate=evaluate_model, k=3, warmup_epochs=1)
    table = grid_search(objective, {"z_dim": [2, 3], "width": [4], "beta": [1.0, 2.0]}, metric="test_nll",
                        run_dir=tmp_path / "vae")
    assert len(table) == 4
    assert {"test_elbo", "test_nll", "test_kl", "active_units", "time_s"} <= set(table.columns)
    assert (table["test_nll"] <= -table["test_elbo"] + 2.0).all()
    assert len(list((tmp_path / "vae" / "trials").glob("trial-*/checkpoints/last.pt"))) == 4


def test_grid_folder_is_keyed_on_the_base_config_and_the_data_not_the_grid_alone(tmp_path, monkeypatch):
    from helpers.evaluation.likelihood import evaluate_model
    from helpers.models import VAEConfig
    from helpers.training import TrainerConfig
    from helpers.training.grid_search import default_grid_dir, vae_objective

    x = (torch.rand(32, 6, 6, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    base, trainer = VAEConfig(x_shape=(6, 6), hidden=(8,)), TrainerConfig(n_epochs=1, batch_size=16)
    grid = {"z_dim": [2, 3]}

    def folder(model=base, tr=trainer, data=x):
        key = vae_objective(data, data[:8], model, tr, evaluate=evaluate_model, k=2).store_key
        return default_grid_dir("g", grid, tmp_path, key=key)

    same = folder()
    assert folder(tr=trainer.replace(progress=True)) == same  # cosmetic
    assert folder(model=base.replace(beta=2.0)) != same
    assert folder(tr=trainer.replace(lr=5e-4)) != same
    changed = x.clone()
    changed[0, 0, 0] = 1 - changed[0, 0, 0]
    assert folder(data=changed) != same
    # grid_search takes the objective's key when none is given: same search reloads, new base retrains
    monkeypatch.setenv("NOVELTY_RUNS_DIR", str(tmp_path))
    calls = []

    def counting(model):
        objective = vae_objective(x, x[:8], model, trainer, evaluate=evaluate_model, k=2)

        def run(params, trial_dir):
            calls.append(params)
            return objective(params, trial_dir)

        run.store_key = objective.store_key
        return run

    grid_search(counting(base), grid, metric="test_nll", name="g")
    assert (same / "results.csv").is_file() and len(calls) == 2
    grid_search(counting(base), grid, metric="test_nll", name="g")
    assert len(calls) == 2  # reloaded
    grid_search(counting(base.replace(beta=2.0)), grid, metric="test_nll", name="g")
    assert len(calls) == 4  # a new base config is a new search


def test_trial_checkpoint_finds_a_kept_checkpoint_and_names_a_missing_one(tmp_path):
    from helpers.training.grid_search import trial_checkpoint

    path = tmp_path / "trials" / "trial-0003" / "checkpoints" / "last.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x")
    assert trial_checkpoint(tmp_path, 3) == path
    with pytest.raises(FileNotFoundError, match="trial-0004.*best.pt"):
        trial_checkpoint(tmp_path, 4, which="best")
