"""``python -m helpers.search worker|status --study NAME [--storage URL]``.

    python -m helpers.search worker --study mnist                 # one machine: SQLite in the run store
    python -m helpers.search worker --study mnist --storage postgresql+psycopg2://user:pw@host:5432/searches
    python -m helpers.search status --study mnist --storage URL   # points done, running, waiting; results

Start as many workers as you like, on as many machines as reach the storage: each runs points
until the study is done. The searches: ``mnist`` (notebook 01's latent size x KL weight grid),
``audio`` (notebook 05's note VAE grid), ``toy`` (seconds; for trying a set-up).
"""

from __future__ import annotations

import argparse
import signal
import sys

from helpers.training.search_workers import SEARCHES, default_storage, run_worker, search_spec, study_table


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.search", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("worker", "run points of the study until it is done"),
                       ("status", "show the study's progress and results")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--study", required=True, choices=sorted(SEARCHES), help="which named search")
        p.add_argument("--storage", default=None,
                       help="Optuna storage URL (default: a SQLite file in the search's run folder)")
        p.add_argument("--run-root", default=None, help="run store (default $NOVELTY_RUNS_DIR or runs/)")
        p.add_argument("--smoke", action="store_true", help="a tiny grid and data (seconds)")
        if name == "worker":
            p.add_argument("--heartbeat", type=int, default=60,
                           help="seconds between heartbeats of a running trial (default 60)")
            p.add_argument("--grace", type=int, default=None,
                           help="seconds without heartbeat after which a trial is retried (default 2 x heartbeat)")
            p.add_argument("--poll", type=float, default=5.0, help="seconds between looks while others run")
            p.add_argument("--max-trials", type=int, default=None, help="stop after this many trials here")
            p.add_argument("--max-retry", type=int, default=3,
                           help="times a point whose worker died is run again (default 3)")
    args = parser.parse_args(argv)
    spec = search_spec(args.study, smoke=args.smoke)
    try:
        if args.command == "worker":
            # a scheduler's SIGTERM (pre-emption) is an interrupt: the running point is handed back at once
            signal.signal(signal.SIGTERM, _interrupt)
            try:
                out = run_worker(spec, args.storage, args.run_root, heartbeat_interval=args.heartbeat,
                                 grace_period=args.grace, poll=args.poll, max_trials=args.max_trials,
                                 max_retry=args.max_retry)
            except KeyboardInterrupt:
                print(f"{spec.name}: interrupted; the running point was handed back", file=sys.stderr, flush=True)
                return 130
            print(f"{spec.name}: ran {out['ran']['done']} point(s) here ({out['ran']['failed']} failed); "
                  f"study: {out['done']} of {out['points']} points done, {out['failed']} failed, "
                  f"{out['running']} running; storage {out['storage']}", flush=True)
            return 0
        storage = args.storage or default_storage(spec, args.run_root)
        state, table = study_table(spec, storage)
        print(f"{spec.name}: {state['done']} of {state['points']} points done, {state['failed']} failed, "
              f"{state['running']} running, {state['waiting']} waiting ({state['trials']} trials)")
        if len(table):
            print(table.to_string(index=False))
        return 0
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
