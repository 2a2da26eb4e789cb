"""Command line: ``python -m helpers.data fetch [mnist|instruments|letters|all] [--root DIR]``.

Idempotent: what is already there and verified is kept. ``--root`` (or ``$NOVELTY_DATA_DIR``)
changes where data is written; the default is ``data/`` at the repository root.
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="fetch (and verify) or render the data sets")
    fetch.add_argument("what", nargs="?", default="all", choices=["mnist", "instruments", "letters", "all"])
    fetch.add_argument("--root", default=None, help="data folder (default: $NOVELTY_DATA_DIR or data/)")
    fetch.add_argument("--soundfont", action="append", default=None, metavar="[ID=]FILE",
                       help="a .sf2/.sf3 file to render the instruments with: ID=FILE for SoundFont ID "
                            "(musescore, timgm6mb, csoundgm), FILE alone for MuseScore General; repeatable")
    fetch.add_argument("--force", action="store_true", help="render the instruments again")
    args = parser.parse_args(argv)

    if args.what in ("mnist", "all"):
        from .mnist import fetch_mnist

        start = time.perf_counter()
        folder = fetch_mnist(args.root)
        print(f"MNIST ready in {folder} ({time.perf_counter() - start:.1f} s)", flush=True)
    if args.what in ("instruments", "all"):
        from .instruments import fetch_instruments

        start = time.perf_counter()
        given = [s.split("=", 1) if "=" in s else ["musescore", s] for s in args.soundfont or []]
        folder = fetch_instruments(args.root, soundfont=dict(given) or None, force=args.force)
        print(f"Instruments ready in {folder} ({time.perf_counter() - start:.1f} s)", flush=True)
    if args.what in ("letters", "all"):
        from .letters import fetch_letters

        start = time.perf_counter()
        folder = fetch_letters(args.root)
        print(f"Letters ready in {folder} ({time.perf_counter() - start:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
