"""A grid search shared by several worker processes through Optuna's storage: two workers finish
the grid with no point run twice and none lost; a worker killed mid-trial leaves a trial that
another worker retries; the same against a real PostgreSQL server (started here in a temporary
folder when ``initdb`` is available)."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from helpers.training.search_workers import (SearchSpec, claim, open_storage, prepare_study, progress,
                                             run_worker, search_spec)

REPO = Path(__file__).resolve().parents[1]


def _sqlite(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


def _worker(storage, tmp_path, seconds=0.2, extra=()):
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "NOVELTY_RUNS_DIR": str(tmp_path / "runs"), "NOVELTY_TOY_MARKERS": str(tmp_path / "markers"),
           "NOVELTY_TOY_SECONDS": str(seconds), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "helpers.search", "worker", "--study", "toy", "--storage", storage,
           "--heartbeat", "1", "--grace", "3", "--poll", "0.3", *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _runs(tmp_path) -> Counter:
    """How many times each grid point was started (one marker file per start)."""
    folder = tmp_path / "markers"
    return Counter(p.name.rsplit("-", 2)[0] for p in folder.iterdir()) if folder.is_dir() else Counter()


def _trials(storage):
    study = optuna.load_study(study_name="toy", storage=open_storage(storage))
    return study.get_trials(deepcopy=False)


def check_two_workers(storage, tmp_path):
    a, b = _worker(storage, tmp_path), _worker(storage, tmp_path)
    outs = [p.communicate(timeout=120)[0] for p in (a, b)]
    assert a.returncode == 0 and b.returncode == 0, outs
    points = {f"a{p['a']}-b{p['b']}" for p in search_spec("toy").points}
    assert _runs(tmp_path) == Counter(dict.fromkeys(points, 1))  # every point exactly once
    trials = _trials(storage)
    assert len(trials) == len(points) and all(t.state == TrialState.COMPLETE for t in trials)
    ran = [int(o.split("ran ")[1].split(" ")[0]) for o in outs]
    assert sum(ran) == len(points) and min(ran) >= 1, outs  # both workers took part


def check_killed_worker(storage, tmp_path):
    slow = _worker(storage, tmp_path, seconds=60)  # its first trial outlives the test: killed in it
    deadline = time.time() + 60
    while not _runs(tmp_path):
        assert time.time() < deadline and slow.poll() is None, "the first worker never started a trial"
        time.sleep(0.1)
    slow.send_signal(signal.SIGKILL)
    slow.wait()
    (killed,) = _runs(tmp_path)
    fast = _worker(storage, tmp_path, seconds=0.1)
    out = fast.communicate(timeout=120)[0]
    assert fast.returncode == 0, out
    points = {f"a{p['a']}-b{p['b']}" for p in search_spec("toy").points}
    runs = _runs(tmp_path)
    assert runs[killed] == 2 and all(runs[p] == 1 for p in points - {killed}) and set(runs) == points
    trials = _trials(storage)
    states = Counter(t.state for t in trials)
    assert states == {TrialState.COMPLETE: len(points), TrialState.FAIL: 1}  # the stale trial, failed then retried
    failed = next(t for t in trials if t.state == TrialState.FAIL)
    retry = next(t for t in trials if t.system_attrs.get("failed_trial") == failed.number)
    assert retry.state == TrialState.COMPLETE and retry.params == failed.params


def test_a_waiting_trial_is_claimed_by_exactly_one_worker(tmp_path):
    spec = SearchSpec("claim", {"a": [1]}, "loss", lambda root: None)
    url = _sqlite(tmp_path)
    first, second = prepare_study(spec, open_storage(url)), optuna.load_study(study_name="claim", storage=open_storage(url))
    assert [t.state for t in first.get_trials()] == [TrialState.WAITING]
    won = claim(first)
    assert won is not None and claim(second) is None and claim(first) is None
    assert second.get_trials()[0].state == TrialState.RUNNING


def test_a_study_with_another_grid_is_refused(tmp_path):
    url = _sqlite(tmp_path)
    prepare_study(SearchSpec("g", {"a": [1, 2]}, "loss", lambda root: None), open_storage(url))
    with pytest.raises(ValueError, match="holds another grid"):
        prepare_study(SearchSpec("g", {"a": [1, 3]}, "loss", lambda root: None), open_storage(url), ready_timeout=1)


def test_a_failing_point_is_recorded_and_the_study_still_ends(tmp_path):
    def build(root):
        def objective(params, trial_dir):
            if params["a"] == 2:
                raise ValueError("no good")
            return {"loss": float(params["a"])}
        objective.store_key = {"t": 1}
        return objective

    spec = SearchSpec("fails", {"a": [1, 2, 3]}, "loss", build)
    out = run_worker(spec, _sqlite(tmp_path), tmp_path / "runs", heartbeat_interval=1, poll=0.1, show_progress=False)
    assert out["finished"] and (out["done"], out["failed"]) == (2, 1) and out["ran"] == {"done": 2, "failed": 1}
    study = optuna.load_study(study_name="fails", storage=open_storage(_sqlite(tmp_path)))
    bad = [t for t in study.get_trials() if t.state == TrialState.FAIL]
    assert len(bad) == 1 and bad[0].user_attrs["error"] == "ValueError: no good"
    assert (Path(out["run_dir"]) / "results.csv").is_file()


def test_bad_names_and_storages_are_refused(tmp_path):
    with pytest.raises(ValueError, match="--study 'nope'"):
        search_spec("nope")
    with pytest.raises(ValueError, match="could not be opened"):
        open_storage("nosuchdb://x")


@pytest.mark.slow
def test_two_workers_share_a_sqlite_grid(tmp_path):
    check_two_workers(_sqlite(tmp_path), tmp_path)


@pytest.mark.slow
def test_a_killed_worker_leaves_a_trial_that_is_retried_sqlite(tmp_path):
    check_killed_worker(_sqlite(tmp_path), tmp_path)


# ----------------------------------------------------------------------------- PostgreSQL
def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).is_file():
            return str(folder / name)
    return None


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server in a temporary data folder on a free local port (run as the
    ``postgres`` user when the tests run as root, which PostgreSQL refuses); its URL."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL's initdb is not installed (apt-get install postgresql)")
    pytest.importorskip("psycopg2", reason="the psycopg2 driver is not installed (pip install -r requirements.txt)")
    prefix: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="novelty-pg-"))
    if os.geteuid() == 0:
        user = "postgres" if _has_user("postgres") else "nobody"
        prefix = ["runuser", "-u", user, "--"]
        os.chmod(folder, 0o755)
        shutil.chown(folder, user)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data, log = folder / "data", folder / "server.log"
    run = lambda *cmd: subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True)
    try:
        run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        run(pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start")
    except subprocess.CalledProcessError as err:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {err.stderr or err.stdout}")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres", port, run
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _database(postgres, name: str) -> str:
    """A fresh database on the test server; its URL."""
    import sqlalchemy

    url, _, _ = postgres
    engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}"


@pytest.mark.slow
def test_two_workers_share_a_postgresql_grid(postgres, tmp_path):
    check_two_workers(_database(postgres, "two_workers"), tmp_path)


@pytest.mark.slow
def test_a_killed_worker_leaves_a_trial_that_is_retried_postgresql(postgres, tmp_path):
    check_killed_worker(_database(postgres, "killed_worker"), tmp_path)


def test_progress_counts_points_not_trials(tmp_path):
    spec = SearchSpec("p", {"a": [1, 2]}, "loss", lambda root: None)
    study = prepare_study(spec, open_storage(_sqlite(tmp_path)))
    assert progress(study, spec) == {"points": 2, "done": 0, "failed": 0, "running": 0, "waiting": 2, "trials": 2,
                                     "finished": False}


@pytest.mark.slow
def test_sigterm_hands_the_running_point_back_at_once(tmp_path):
    storage = _sqlite(tmp_path)
    proc = _worker(storage, tmp_path, seconds=60)
    deadline = time.time() + 60
    while not _runs(tmp_path):
        assert time.time() < deadline and proc.poll() is None, "the worker never started a trial"
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 130 and "handed back" in out, out
    trials = _trials(storage)
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(failed) == 1  # no grace period to wait: the point is waiting again already
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == failed[0].number]
    assert len(retry) == 1 and retry[0].state == TrialState.WAITING and retry[0].params == failed[0].params
