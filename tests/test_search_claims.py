"""The claim rule of the worker-shared grid search (helpers.training.search_workers): processes
racing for the same WAITING trials never win one twice (on SQLite this needs BEGIN IMMEDIATE:
without it 4 processes won 22 of 30 trials more than once), a point never has two trials
running, a claimed trial whose worker never beats again goes stale and is added again, and an
interrupted trial is handed back at once."""

import multiprocessing
import time
from collections import Counter

import optuna
import pytest
from optuna.trial import TrialState
from test_search_workers import _database, postgres  # noqa: F401 (the PostgreSQL server fixture)

from helpers.training.search_workers import SearchSpec, claim, open_storage, prepare_study, progress, run_worker

GRID = {"a": list(range(6)), "b": [0, 1, 2, 3]}  # 24 points


def _spec(name="race", grid=GRID, build=lambda root: None, **kw) -> SearchSpec:
    return SearchSpec(name, grid, "loss", build, **kw)


def _claim_all(url, barrier, queue):
    """In a child process: claim until nothing is left; the trial numbers won."""
    study = optuna.load_study(study_name="race", storage=open_storage(url))
    barrier.wait()
    won = []
    while (trial := claim(study)) is not None:
        won.append(trial.number)
    queue.put(won)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_racing_processes_never_claim_a_point_twice(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'study.db'}" if backend == "sqlite" else \
        _database(request.getfixturevalue("postgres"), "claim_race")
    study = prepare_study(_spec(), open_storage(url))
    ctx = multiprocessing.get_context("fork")  # the children only open their own storage
    barrier, queue = ctx.Barrier(4), ctx.Queue()
    workers = [ctx.Process(target=_claim_all, args=(url, barrier, queue)) for _ in range(4)]
    for w in workers:
        w.start()
    won = [queue.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    wins = Counter(n for per_worker in won for n in per_worker)
    assert sorted(wins) == list(range(24)) and set(wins.values()) == {1}, won  # every trial won exactly once
    assert sum(1 for per_worker in won if per_worker) >= 2, won  # they did race
    assert {t.state for t in study.get_trials()} == {TrialState.RUNNING}


def test_a_second_copy_of_a_point_waits_for_the_first(tmp_path):
    study = prepare_study(_spec(grid={"a": [1, 2]}), open_storage(f"sqlite:///{tmp_path / 's.db'}"))
    copy = optuna.trial.create_trial(state=TrialState.WAITING, params={"a": 1},
                                     distributions={"a": optuna.distributions.CategoricalDistribution((1, 2))})
    study.add_trial(copy)  # as if two workers had both added the point
    first, second = claim(study), claim(study)
    assert (first.number, first.params, second.params) == (0, {"a": 1}, {"a": 2})
    assert claim(study) is None  # the copy of a = 1 is not claimed while trial 0 runs
    study.tell(first.number, 1.0)
    assert claim(study) is None  # nor once the point is done
    assert progress(study)["done"] == 1 and progress(study)["running"] == 1


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_claimed_trial_that_never_beats_goes_stale_and_comes_back(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat_interval=1, grace_period=2)
    study = prepare_study(_spec(grid={"a": [1]}), storage)
    lost = claim(study)  # its worker "dies" at once: only the heartbeat recorded before the claim
    time.sleep(3.5)  # SQLite's clock has one-second steps
    optuna.storages.fail_stale_trials(study)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert trials[1].params == lost.params and trials[1].system_attrs["failed_trial"] == lost.number
    assert claim(study).number == 1


def test_an_interrupted_trial_is_handed_back_at_once(tmp_path):
    calls = []

    def build(root):
        def objective(params, trial_dir):
            calls.append(params["a"])
            if len(calls) == 2:
                raise KeyboardInterrupt
            return {"loss": float(params["a"])}
        return objective

    spec, url = _spec("stop", {"a": [1, 2, 3]}, build), f"sqlite:///{tmp_path / 's.db'}"
    with pytest.raises(KeyboardInterrupt):
        run_worker(spec, url, tmp_path, heartbeat_interval=1, poll=0.1, show_progress=False)
    states = [t.state for t in optuna.load_study(study_name="stop", storage=open_storage(url)).get_trials()]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.WAITING, TrialState.WAITING]
    out = run_worker(spec, url, tmp_path, heartbeat_interval=1, poll=0.1, show_progress=False)
    assert calls == [1, 2, 2, 3] and out["done"] == 3 and out["ran"] == {"done": 2, "failed": 0}


def test_a_worker_with_other_settings_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    prepare_study(_spec("s", {"a": [1]}, settings={"epochs": 2}), open_storage(url))
    with pytest.raises(ValueError, match="study 's' holds another settings"):
        prepare_study(_spec("s", {"a": [1]}, settings={"epochs": 1}), open_storage(url), ready_timeout=1)
