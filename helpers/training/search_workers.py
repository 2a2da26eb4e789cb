"""A grid search shared by many worker processes and machines through Optuna's storage.

:func:`~helpers.training.grid_search.grid_search` runs a grid in one process. Here any number of
workers (``python -m helpers.search worker``), on one machine (a SQLite file) or many (a
PostgreSQL database), run the points of one named search until every point has a trial; each
point runs once, and a point whose worker died is run again. The objective is the same
``objective(params, trial_dir) -> {metric: value}`` and the results come back through the same
:func:`~helpers.training.grid_search.results_table`. The named searches are in :data:`SEARCHES`.

How the workers share the grid (the storage is the only thing they share):

1. **One creator.** ``optuna.create_study(load_if_exists=False)`` succeeds in exactly one worker
   (study names are unique in the database); the others get ``DuplicatedStudyError`` and load
   the study. The creator stores the grid and the search's settings as study user attributes,
   adds every grid point once as a WAITING trial (its parameters already set), then sets
   ``grid_ready``. The others wait for it; after ``ready_timeout`` (the creator died half-way) a
   worker adds the points that have no trial itself.
2. **Atomic claims.** A worker claims a WAITING trial with
   ``storage.set_trial_state_values(trial_id, RUNNING)``, which returns False when the trial is
   no longer WAITING. On PostgreSQL Optuna reads the row ``SELECT ... FOR UPDATE``, so the check
   and the write are one step. SQLite ignores ``FOR UPDATE``, and Python's sqlite3 opens the
   transaction only at the write, so two processes both read WAITING and both "win" (measured:
   4 processes racing on 30 trials won 22 of them more than once); :func:`open_storage` makes
   every SQLite transaction ``BEGIN IMMEDIATE`` (SQLAlchemy's documented recipe), which takes the
   write lock before the read (then no trial was won twice). ``study.ask()`` is never called: with
   no WAITING trial left it samples a new point, and Optuna's ``GridSampler`` re-samples points
   still RUNNING in another worker.
3. **One trial per point at a time.** A point is run through its *canonical* trial, its
   lowest-numbered trial that has not failed, and only that trial is claimed; two copies of a
   point (added by two workers that both found it missing) never run at once.
4. **Heartbeats.** A worker records a trial's heartbeat *before* claiming it (so that a worker
   killed between its claim and its first beat still leaves a trial that goes stale), then
   every ``heartbeat_interval`` seconds from a thread while the objective runs. A worker with
   nothing to claim calls ``optuna.storages.fail_stale_trials``: a RUNNING trial without a
   heartbeat for ``grace_period`` seconds is failed (by one worker: the state change is the same
   atomic step) and Optuna's ``RetryHeartbeatStaleTrialCallback`` adds it again as a WAITING
   trial with the same parameters (``system_attrs["failed_trial"]`` names the first), at most
   ``max_retry`` times. Heartbeat times come from the database server's clock.
5. **The end.** A worker waits (polls) while other workers' trials are RUNNING and alive, and
   stops when every grid point is settled: completed, or failed for good (its objective raised,
   or it ran out of retries; such a point is not run again, as in ``grid_search``).

Trial folders are ``<run_dir>/trials/trial-NNNN`` on the machine that ran the trial, and each
worker writes the whole table to ``<run_dir>/results.csv`` when it stops.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import logging
import os
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution
from optuna.exceptions import DuplicatedStudyError, ExperimentalWarning, UpdateFinishedTrialError
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import FrozenTrial, TrialState
from tqdm.auto import tqdm

from .grid_search import Objective, results_table
from .run import runs_root

__all__ = ["SEARCHES", "GridState", "SearchSpec", "claim", "default_search_dir", "default_storage", "grid_points",
           "grid_state", "open_storage", "prepare_study", "progress", "run_worker", "search_spec", "study_table"]

log = logging.getLogger(__name__)

READY_ATTR = "grid_ready"  #: study user attribute set once every grid point has been added
SQLITE_TIMEOUT_S = 60  #: how long a SQLite connection waits for another process's lock before failing
_PG_LOCK_KEY = 0x6E6F76  #: PostgreSQL advisory lock held while a worker creates Optuna's tables


# ----------------------------------------------------------------------------- named searches


@dataclass
class SearchSpec:
    """A grid search that workers can share.

    Attributes:
        name: the study's name (and part of the default run folder).
        grid: parameter -> values (str, int, float, bool or None).
        metric: the objective's returned key that Optuna records as the trial's value.
        build: ``build(run_root) -> objective(params, trial_dir)``, called in each worker process
            (it reads the data there); ``run_root`` is the run store (None: the default).
        direction: "minimize" or "maximize" ``metric``.
        settings: what else the results depend on (epochs, data sizes); stored with the study,
            and a worker with other settings is refused, like one with another grid.
        description: one line for ``--help`` and the status.
    """

    name: str
    grid: dict[str, list]
    metric: str
    build: Callable[[Path | None], Objective]
    direction: str = "minimize"
    settings: dict = field(default_factory=dict)
    description: str = ""

    @property
    def points(self) -> list[dict]:
        """Every grid point (:func:`grid_points`)."""
        return grid_points(self.grid)


def _toy(smoke: bool = False) -> SearchSpec:
    """Twelve points of a quadratic, each a short sleep (``$NOVELTY_TOY_SECONDS``, default 0.2 s),
    that leave one marker file per start in ``$NOVELTY_TOY_MARKERS`` (default: the trial folder),
    named ``a<a>-b<b>-<pid>-<ns>``: for trying a set-up, and for the tests, which count how often
    each point started and give one worker a long sleep to kill it mid-trial."""

    def build(run_root):
        def objective(params: dict, trial_dir: Path) -> dict:
            folder = Path(os.environ.get("NOVELTY_TOY_MARKERS") or trial_dir)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"a{params['a']}-b{params['b']}-{os.getpid()}-{time.time_ns()}").write_text(json.dumps(params))
            time.sleep(float(os.environ.get("NOVELTY_TOY_SECONDS", "0.2")))
            return {"loss": (params["a"] - 1.5) ** 2 + 0.1 * params["b"]}

        objective.store_key = {"toy": 1}
        return objective

    return SearchSpec("toy-smoke" if smoke else "toy", {"a": [0, 1, 2, 3], "b": [0, 1, 2]}, "loss", build,
                      description="seconds: a quadratic with a sleep per point (for trying a set-up)")


def _mnist(smoke: bool = False) -> SearchSpec:
    """Notebook 01's grid (benchmarks/novelty.py's MNIST zoo): a 784-400-z VAE per latent size,
    KL weight and training seed, trained on the first 20,000 digits of the ``train`` split for 2
    epochs and scored on 1,000 ``val`` digits (NLL with k = 100); SMOKE: 2,000 digits, one epoch,
    100 digits, k = 5, two seeds. The same objective as
    :func:`~helpers.evaluation.mnist_studies.seeded_grid_search`, with the seed as a grid axis."""
    settings = ({"epochs": 1, "n_train": 2000, "n_val": 100, "k": 5, "hidden": [400]} if smoke else
                {"epochs": 2, "n_train": 20000, "n_val": 1000, "k": 100, "hidden": [400]})
    grid = {"z_dim": [2, 4] if smoke else [2, 10, 32], "beta": [1.0, 2.0], "seed": [0, 1] if smoke else [0, 1, 2]}

    def build(run_root):
        from helpers.evaluation import mnist_studies as ms

        data = ms.mnist_data(n_test=settings["n_val"])
        x_train, per_seed = data.x_fit[:settings["n_train"]], {}

        def objective(params: dict, trial_dir: Path) -> dict:
            params = dict(params)
            seed = int(params.pop("seed"))
            if seed not in per_seed:
                per_seed[seed] = ms.seeded_grid_objective(x_train, data.x_val_bin, epochs=settings["epochs"], seed=seed,
                                                          k=settings["k"], hidden=tuple(settings["hidden"]))
            return per_seed[seed](params, trial_dir)

        return objective

    return SearchSpec("mnist-smoke" if smoke else "mnist", grid, "test_nll", build, settings=settings,
                      description="notebook 01's latent size x KL weight x seed grid of MNIST VAEs")


def _audio(smoke: bool = False) -> SearchSpec:
    """Notebook 05's note grid (:func:`~helpers.hacking.novelty_study.note_grid`): the NSGT note
    VAE (Laplace output, ``audio_preset("note", "nsgt", "laplace")``) at each latent size and KL
    weight, every point a full training through the run store (so ``note_grid`` and the
    benchmark reload it afterwards); SMOKE: the SMOKE preset at z = 2, 4 and beta = 1."""
    grid = {"z_dim": [2, 4] if smoke else [8, 32], "beta": [1.0] if smoke else [0.5, 2.0]}

    def build(run_root):
        from helpers.audio.noteset import prepare_audio_data
        from helpers.hacking.novelty_study import note_grid_objective
        from helpers.training.presets import audio_preset

        base = audio_preset("note", "nsgt", "laplace", smoke=smoke).resolve()
        data = prepare_audio_data(base, progress=False)
        return note_grid_objective(base, run_root, data=data, progress=False)

    return SearchSpec("audio-smoke" if smoke else "audio", grid, "val_loss", build,
                      settings={"preset": ["note", "nsgt", "laplace"], "smoke": smoke},
                      description="notebook 05's note VAE grid over latent size x KL weight")


#: the named searches: name -> ``factory(smoke) -> SearchSpec``
SEARCHES: dict[str, Callable[[bool], SearchSpec]] = {"mnist": _mnist, "audio": _audio, "toy": _toy}


def search_spec(name: str, smoke: bool = False) -> SearchSpec:
    """The named search ``name`` of :data:`SEARCHES` (its SMOKE size when ``smoke``)."""
    if name not in SEARCHES:
        raise ValueError(f"--study {name!r}: no such search; the searches are {', '.join(sorted(SEARCHES))}")
    return SEARCHES[name](smoke)


# ----------------------------------------------------------------------------- storage


def default_search_dir(name: str, run_root: str | Path | None = None) -> Path:
    """``<runs>/search-<name>``: the search's SQLite file (by default), its trial folders and
    ``results.csv`` on this machine."""
    return runs_root(run_root) / f"search-{name}"


def default_storage(spec: SearchSpec | str, run_root: str | Path | None = None) -> str:
    """``sqlite:///<runs>/search-<name>/study.db``: one machine, any number of processes."""
    name = spec.name if isinstance(spec, SearchSpec) else spec
    return f"sqlite:///{(default_search_dir(name, run_root) / 'study.db').resolve()}"


def _sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for another database or an in-memory one."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


@contextlib.contextmanager
def _creation_lock(url: str) -> Iterator[None]:
    """Held while Optuna creates its tables, which processes starting together on a new database
    would otherwise all try (measured on PostgreSQL: "type studydirection already exists" in one
    of three processes, every time): a file lock beside a SQLite file, an advisory lock on
    PostgreSQL; nothing elsewhere."""
    import sqlalchemy

    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    if sqlalchemy.engine.make_url(url).get_backend_name() != "postgresql":
        yield
        return
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
    finally:
        engine.dispose()


def _immediate_transactions(engine) -> None:
    """Every transaction on this SQLite engine begins with ``BEGIN IMMEDIATE`` (the write lock),
    so that Optuna's read-then-write claim is atomic between processes (SQLAlchemy's recipe "Using
    SQLAlchemy to emit BEGIN in lieu of SQLite's transaction control")."""
    import sqlalchemy

    def no_driver_begin(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None  # sqlite3 emits no BEGIN of its own

    def begin_immediate(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    sqlalchemy.event.listen(engine, "connect", no_driver_begin)
    sqlalchemy.event.listen(engine, "begin", begin_immediate)
    engine.dispose()  # connections opened before the listeners are replaced by new ones


def open_storage(url: str, heartbeat_interval: int = 60, grace_period: int | None = None,
                 max_retry: int | None = 3) -> RDBStorage:
    """An Optuna ``RDBStorage`` on ``url`` that workers can share.

    Args:
        url: ``sqlite:///path/study.db`` (one machine; its folder is created; it waits up to
            :data:`SQLITE_TIMEOUT_S` for another process's lock unless the URL sets
            ``?timeout=``) or ``postgresql+psycopg2://user:password@host:5432/database``.
        heartbeat_interval: seconds between two heartbeats of a running trial (whole seconds,
            as Optuna wants).
        grace_period: a RUNNING trial with no heartbeat for this many seconds is failed and run
            again; None: 2 x ``heartbeat_interval`` (Optuna's default). Longer than the longest
            stall of a live worker, shorter than what you are willing to lose when one dies.
        max_retry: how many times a trial whose worker died is run again (None: no limit), so a
            point that keeps killing its worker (out of memory) stops.

    ``ValueError`` names the URL when the storage cannot be opened (unknown database, no
    driver, server unreachable).
    """
    import sqlalchemy

    if int(heartbeat_interval) < 1:
        raise ValueError(f"heartbeat_interval={heartbeat_interval}: must be a whole number of seconds >= 1")
    if grace_period is not None and int(grace_period) <= int(heartbeat_interval):
        raise ValueError(f"grace_period={grace_period}: must be longer than heartbeat_interval={heartbeat_interval}")
    try:
        engine_kwargs: dict[str, Any] = {}
        sqlite = _sqlite_file(url)
        if sqlite is not None and "timeout" not in sqlalchemy.engine.make_url(url).query:
            engine_kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_S}
        with warnings.catch_warnings():  # heartbeats are marked experimental in Optuna 5
            warnings.simplefilter("ignore", ExperimentalWarning)
            retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
            with _creation_lock(url):
                storage = RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=int(heartbeat_interval),
                                     grace_period=None if grace_period is None else int(grace_period),
                                     heartbeat_stale_trial_callback=retry)
    except Exception as err:
        hint = " (PostgreSQL needs psycopg2-binary, see requirements.txt)" if isinstance(err, ImportError) else ""
        raise ValueError(f"the storage {url!r} could not be opened: {type(err).__name__}: {err}{hint}") from err
    if storage.engine.name == "sqlite":
        _immediate_transactions(storage.engine)
    return storage


def _storage_of(study: optuna.Study) -> RDBStorage:
    """The storage behind ``study``: Optuna has no public accessor, and its own
    ``fail_stale_trials`` reads the same attribute."""
    return study._storage


# ----------------------------------------------------------------------------- the grid


def grid_points(grid: dict[str, Sequence]) -> list[dict]:
    """Every point of ``grid`` (parameter -> values), in the order of ``itertools.product``."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(list(grid[k]) for k in names))]


def _key(params: dict) -> tuple:
    """A grid point's identity, as :func:`results_table` keys its rows."""
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def _plain(value: Any) -> Any:
    """``value`` as it comes back from a study user attribute (JSON: tuples become lists)."""
    return json.loads(json.dumps(value))


@dataclass
class GridState:
    """Where each grid point stands in a list of trials.

    Attributes:
        n_points: points in the grid.
        complete: point key -> its latest COMPLETE trial.
        claimable: the WAITING canonical trials (a point's lowest-numbered trial that has not
            failed, when the point is not complete), in grid order.
        running: the RUNNING canonical trials.
        missing: points with no trial at all (the grid was never fully added).
        failed: points whose every trial failed (not run again).
    """

    n_points: int
    complete: dict[tuple, FrozenTrial]
    claimable: list[FrozenTrial]
    running: list[FrozenTrial]
    missing: list[dict]
    failed: list[dict]

    @property
    def done(self) -> bool:
        """Every point has a completed trial."""
        return len(self.complete) == self.n_points

    @property
    def settled(self) -> bool:
        """Every point is completed or failed for good: no worker has anything left to run."""
        return len(self.complete) + len(self.failed) == self.n_points


def grid_state(trials: Sequence[FrozenTrial], grid: dict[str, Sequence]) -> GridState:
    """:class:`GridState` of ``grid`` in ``trials``; trials that are no grid point are ignored."""
    by_point: dict[tuple, list[FrozenTrial]] = {}
    for t in trials:
        by_point.setdefault(_key(t.params), []).append(t)
    state = GridState(0, {}, [], [], [], [])
    for params in grid_points(grid):
        state.n_points += 1
        point_trials = sorted(by_point.get(_key(params), []), key=lambda t: t.number)
        complete = [t for t in point_trials if t.state == TrialState.COMPLETE]
        if complete:
            state.complete[_key(params)] = complete[-1]
            continue
        alive = [t for t in point_trials if t.state != TrialState.FAIL]
        if not point_trials:
            state.missing.append(params)
        elif not alive:
            state.failed.append(params)
        elif alive[0].state == TrialState.WAITING:
            state.claimable.append(alive[0])
        elif alive[0].state == TrialState.RUNNING:
            state.running.append(alive[0])
    return state


def _add_points(study: optuna.Study, grid: dict[str, list], points: Sequence[dict]) -> None:
    """Add ``points`` as WAITING trials with their parameters set (so that a retry and
    :func:`results_table` see them), one categorical distribution per grid axis."""
    distributions = {k: CategoricalDistribution(tuple(v)) for k, v in grid.items()}
    study.add_trials([optuna.trial.create_trial(state=TrialState.WAITING, params=dict(p), distributions=distributions)
                      for p in points])


def prepare_study(spec: SearchSpec, storage: RDBStorage, ready_timeout: float = 120.0,
                  poll: float = 0.5) -> optuna.Study:
    """Create the study ``spec.name`` with every grid point as a WAITING trial, or load it and
    check that it holds the same search.

    The worker whose ``create_study`` succeeds stores the grid, the metric and the settings as
    study user attributes, adds the points and sets ``grid_ready``. A worker that loads the study
    waits for ``grid_ready`` (at most ``ready_timeout`` seconds, polling every ``poll``; then it
    adds the points that have no trial itself) and raises ``ValueError`` naming the study when it
    holds another grid, metric, direction or settings.
    """
    grid = {k: list(v) for k, v in spec.grid.items()}
    if not grid or any(not v for v in grid.values()):
        raise ValueError(f"search {spec.name!r}: grid={grid}: every parameter needs at least one value")
    wanted = {"grid": _plain(grid), "metric": spec.metric, "settings": _plain(spec.settings)}
    try:
        study = optuna.create_study(study_name=spec.name, storage=storage, direction=spec.direction,
                                    load_if_exists=False)
    except DuplicatedStudyError:
        study = optuna.load_study(study_name=spec.name, storage=storage)
    else:
        for k, v in wanted.items():
            study.set_user_attr(k, v)
        _add_points(study, grid, grid_points(grid))
        study.set_user_attr(READY_ATTR, True)
        return study
    deadline = time.monotonic() + ready_timeout
    while not study.user_attrs.get(READY_ATTR) and time.monotonic() < deadline:
        time.sleep(poll)
    stored = study.user_attrs
    if study.direction.name.lower() != spec.direction.lower():
        raise ValueError(f"study {spec.name!r} holds another direction ({study.direction.name.lower()}) "
                         f"than this worker's ({spec.direction})")
    for k, v in wanted.items():
        if k in stored and stored[k] != v:
            raise ValueError(f"study {spec.name!r} holds another {k}: {stored[k]!r}, where this worker has {v!r}. "
                             "Use another storage for another search, or the same settings to join it.")
    if not stored.get(READY_ATTR):
        log.warning("study %r: its grid was not ready after %.0f s (its creator stopped?); adding the missing points",
                    spec.name, ready_timeout)
        for k, v in wanted.items():
            if k not in stored:
                study.set_user_attr(k, v)
        _add_points(study, grid, grid_state(study.get_trials(deepcopy=False), grid).missing)
        study.set_user_attr(READY_ATTR, True)
    return study


def progress(study: optuna.Study, spec: SearchSpec | None = None) -> dict:
    """Where the study stands: grid ``points``, points ``done`` (completed), ``failed`` for good,
    ``running`` and ``waiting`` (canonical trials), all ``trials``, and ``finished`` (every point
    settled). ``spec`` gives the grid; default the one stored with the study."""
    if spec is not None:
        grid = spec.grid
    elif "grid" in study.user_attrs:
        grid = study.user_attrs["grid"]
    else:
        raise ValueError(f"study {study.study_name!r} holds no grid: it was not made by helpers.search")
    trials = study.get_trials(deepcopy=False)
    state = grid_state(trials, grid)
    return {"points": state.n_points, "done": len(state.complete), "failed": len(state.failed),
            "running": len(state.running), "waiting": len(state.claimable), "trials": len(trials),
            "finished": state.settled}


def study_table(spec: SearchSpec, storage: str | RDBStorage) -> tuple[dict, pd.DataFrame]:
    """``(progress, results table)`` of the search ``spec`` in ``storage`` (a URL or a storage):
    :func:`progress` and one row per completed point, best first
    (:func:`~helpers.training.grid_search.results_table`)."""
    if isinstance(storage, str):
        storage = open_storage(storage)
    try:
        study = optuna.load_study(study_name=spec.name, storage=storage)
    except KeyError as err:
        raise ValueError(f"no study {spec.name!r} in the storage {storage.url!r} (start a worker first)") from err
    return progress(study, spec), results_table(study, spec.metric, spec.direction)


# ----------------------------------------------------------------------------- claims and heartbeats


def _claim_id(storage: RDBStorage, trial_id: int) -> bool:
    """Claim the trial ``trial_id``: True when it was WAITING and is now this worker's (RUNNING).

    The heartbeat is recorded first, so that the winner's heartbeat is never older than its
    claim: a worker killed right after claiming still leaves a trial that goes stale."""
    storage.record_heartbeat(trial_id)
    try:
        return storage.set_trial_state_values(trial_id, TrialState.RUNNING)
    except UpdateFinishedTrialError:
        return False


def _claim_next(study: optuna.Study, storage: RDBStorage, grid: dict) -> tuple[FrozenTrial, int] | None:
    """Claim the first claimable canonical trial of ``grid``: ``(trial, trial id)``, or None."""
    study_id = storage.get_study_id_from_name(study.study_name)
    for trial in grid_state(study.get_trials(deepcopy=False), grid).claimable:
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        if _claim_id(storage, trial_id):
            return storage.get_trial(trial_id), trial_id
    return None


def claim(study: optuna.Study, grid: dict | None = None) -> FrozenTrial | None:
    """Claim a WAITING grid point of ``study`` for this process: the trial, now RUNNING, or None
    when there is nothing to claim (or other workers got every one first). ``grid``: default the
    one stored with the study."""
    claimed = _claim_next(study, _storage_of(study), grid if grid is not None else study.user_attrs["grid"])
    return None if claimed is None else claimed[0]


class _Heartbeat:
    """Records the heartbeat of ``trial_id`` every ``interval`` seconds from a thread while the
    ``with`` block runs; a failed write is logged and tried again at the next beat."""

    def __init__(self, storage: RDBStorage, trial_id: int, interval: float):
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{trial_id}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception as err:  # the database hiccupped: the next beat tries again
                log.warning("heartbeat of trial id %s failed: %s", self.trial_id, err)

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


# ----------------------------------------------------------------------------- the worker


def _release(study: optuna.Study, storage: RDBStorage, trial_id: int) -> None:
    """Fail an interrupted trial and add it again (the retry callback), unless another worker
    has already failed it."""
    try:
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
    except UpdateFinishedTrialError:
        return
    retry = storage.get_heartbeat_stale_trial_callback()
    if retry is not None:
        retry(study, storage.get_trial(trial_id))


def _run_trial(study: optuna.Study, storage: RDBStorage, spec: SearchSpec, objective: Objective, trial: FrozenTrial,
               trial_id: int, run_dir: Path, heartbeat_interval: int, catch: tuple) -> bool | None:
    """Run the claimed ``trial``: True when completed, False when its objective raised one of
    ``catch`` (recorded as failed, ``user_attrs["error"]``), None when another worker failed it
    meanwhile (its heartbeat was late). Other exceptions fail it and propagate; an interrupt
    (Ctrl-C, SIGTERM) fails it and adds it again at once, rather than after the grace period."""
    trial_dir = run_dir / "trials" / f"trial-{trial.number:04d}"
    trial_dir.mkdir(parents=True, exist_ok=True)
    params = dict(trial.params)
    with _Heartbeat(storage, trial_id, heartbeat_interval):
        try:
            storage.set_trial_user_attr(trial_id, "worker", f"{socket.gethostname()}:{os.getpid()}")
            start = time.perf_counter()
            try:
                metrics = objective(dict(params), trial_dir)
                if spec.metric not in metrics:
                    raise KeyError(f"the objective returned {sorted(metrics)}, without the metric {spec.metric!r}")
            except KeyboardInterrupt:
                _release(study, storage, trial_id)
                raise
            except Exception as err:
                storage.set_trial_user_attr(trial_id, "error", f"{type(err).__name__}: {err}")
                storage.set_trial_state_values(trial_id, TrialState.FAIL)
                if isinstance(err, catch):
                    log.warning("trial %d %s failed: %s: %s", trial.number, params, type(err).__name__, err)
                    return False
                raise
            for k, v in metrics.items():
                storage.set_trial_user_attr(trial_id, k, float(v))
            storage.set_trial_user_attr(trial_id, "time_s", time.perf_counter() - start)
            storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [float(metrics[spec.metric])])
            return True
        except UpdateFinishedTrialError:
            log.warning("trial %d %s was failed by another worker while it ran here (no heartbeat for the grace "
                        "period); its result is dropped and its retry runs it again", trial.number, params)
            return None


def run_worker(spec: SearchSpec, storage: str | RDBStorage | None = None, run_root: str | Path | None = None,
               heartbeat_interval: int = 60, grace_period: int | None = None, poll: float = 5.0,
               max_trials: int | None = None, max_retry: int | None = 3, ready_timeout: float = 120.0,
               run_dir: str | Path | None = None, show_progress: bool = True,
               catch: tuple[type[Exception], ...] = (Exception,)) -> dict:
    """Run points of the search ``spec`` until every point is settled (or ``max_trials`` ran here).

    Start as many workers as you like, in processes or on machines that reach ``storage``; the
    module docstring explains how they share the grid.

    Args:
        spec: the search (:func:`search_spec`); ``spec.build(run_root)`` makes the objective in
            this process, once, before its first claim (never when the grid is already done).
        storage: an Optuna storage URL or a storage from :func:`open_storage`; default
            :func:`default_storage` (a SQLite file in the run store: one machine).
        run_root: the run store (default ``$NOVELTY_RUNS_DIR`` or ``runs/``).
        heartbeat_interval, grace_period, max_retry: see :func:`open_storage` (every worker of a
            study should use the same); ignored when ``storage`` is already open.
        poll: seconds a worker with nothing to claim waits before looking again.
        max_trials: stop after running this many trials here (None: until the grid is settled).
        ready_timeout: seconds to wait for the creator to add the grid before adding it here.
        run_dir: where ``trials/trial-NNNN`` and ``results.csv`` go on this machine; default
            :func:`default_search_dir`.
        show_progress: a progress bar over the grid points done (by any worker).
        catch: exception types that fail a trial and go on (default: all); others fail it and
            stop this worker. A failed point is not run again, as in ``grid_search``.

    Returns :func:`progress` when it stopped, plus ``ran`` (``done`` and ``failed`` trials
    here), ``storage`` (URL), ``run_dir`` and ``seconds``.
    """
    start = time.perf_counter()
    url = storage.url if isinstance(storage, RDBStorage) else storage or default_storage(spec, run_root)
    if not isinstance(storage, RDBStorage):
        storage = open_storage(url, heartbeat_interval, grace_period, max_retry)
    elif storage.get_heartbeat_interval() is None:
        raise ValueError("the storage has no heartbeat: open it with open_storage()")
    run_dir = Path(run_dir) if run_dir is not None else default_search_dir(spec.name, run_root)
    run_dir.mkdir(parents=True, exist_ok=True)
    ran = {"done": 0, "failed": 0}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bar = tqdm(total=len(spec.points), desc=f"{spec.name} grid points", unit="point", disable=not show_progress)
    try:
        study = prepare_study(spec, storage, ready_timeout, poll=min(poll, 1.0))
        objective = None
        while True:
            state = grid_state(study.get_trials(deepcopy=False), spec.grid)
            bar.n = len(state.complete)
            bar.set_postfix(running=len(state.running), waiting=len(state.claimable), here=sum(ran.values()))
            if state.settled or (max_trials is not None and sum(ran.values()) >= max_trials):
                break
            if state.claimable:
                if objective is None:
                    objective = spec.build(run_root)  # reads the data before any claim, then looks again
                    continue
                claimed = _claim_next(study, storage, spec.grid)
                if claimed is not None:
                    outcome = _run_trial(study, storage, spec, objective, *claimed, run_dir=run_dir,
                                         heartbeat_interval=storage.get_heartbeat_interval(), catch=tuple(catch))
                    if outcome is not None:
                        ran["done" if outcome else "failed"] += 1
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                fail_stale_trials(study)  # a dead worker's trial: failed, and added again by the retry callback
            state = grid_state(study.get_trials(deepcopy=False), spec.grid)
            if state.missing and not (state.claimable or state.running):
                _add_points(study, spec.grid, state.missing)  # never added (a creator that stopped half-way)
            elif not (state.claimable or state.settled):
                time.sleep(poll)  # other workers' trials are running and alive
        bar.n = len(state.complete)
        bar.refresh()
    finally:
        bar.close()
        optuna.logging.set_verbosity(verbosity)
    results_table(study, spec.metric, spec.direction).to_csv(run_dir / "results.csv", index=False)
    return {**progress(study, spec), "ran": ran, "storage": url, "run_dir": str(run_dir),
            "seconds": time.perf_counter() - start}
