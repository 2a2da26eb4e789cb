"""Execute the numbered notebooks headless and export each to HTML.

Usage (what ``make demo`` and ``make smoke`` call)::

    python -m helpers.notebooks [--smoke] [--out reports] notebooks/00_data_tour.ipynb ...

Each notebook is run by papermill, which injects the parameters given here (``SMOKE``)
after the cell tagged ``parameters``. The executed notebook and an HTML export (inline
audio players included) are written to ``--out``. The first failing cell stops the run
with a non-zero exit and the message of the failure; the partly executed notebook is
still written so the error can be read in context.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


class NotebookError(RuntimeError):
    """A notebook cell failed; the message names the notebook."""


def execute_notebook(path: str | Path, out_dir: str | Path, smoke: bool = False,
                     parameters: dict | None = None, html: bool = True,
                     timeout: int | None = None) -> Path:
    """Execute one notebook into ``out_dir`` (``.ipynb`` and, by default, ``.html``).

    The notebook runs with its own folder as working directory. Raises
    :class:`NotebookError` naming the notebook when a cell fails.
    """
    import papermill as pm

    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"notebook not found: {path}")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    out_nb = out_dir / path.name
    params = {"SMOKE": bool(smoke), **(parameters or {})}
    try:
        pm.execute_notebook(str(path), str(out_nb), parameters=params, cwd=str(path.parent),
                            kernel_name="python3", progress_bar=False, log_output=False,
                            execution_timeout=timeout)
    except pm.PapermillExecutionError as err:
        raise NotebookError(f"{path.name}: cell {err.exec_count} failed: {err.ename}: {err.evalue}"
                            f" (executed notebook written to {out_nb})") from err
    if html:
        export_html(out_nb, out_dir / (path.stem + ".html"))
    return out_nb


def export_html(notebook: str | Path, target: str | Path) -> Path:
    """Write an HTML export of an executed notebook (outputs and audio players embedded)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    body, _ = HTMLExporter().from_notebook_node(nb)
    target = Path(target)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", help="notebooks to run, in order")
    parser.add_argument("--out", default="reports", help="folder for executed notebooks and HTML")
    parser.add_argument("--smoke", action="store_true", help="run with SMOKE=True (seconds each)")
    parser.add_argument("--no-html", action="store_true", help="skip the HTML export")
    args = parser.parse_args(argv)
    for nb in args.notebooks:
        start = time.perf_counter()
        print(f"[notebooks] running {nb} (SMOKE={args.smoke}) ...", flush=True)
        try:
            out = execute_notebook(nb, args.out, smoke=args.smoke, html=not args.no_html)
        except NotebookError as err:
            print(f"[notebooks] FAILED: {err}", file=sys.stderr, flush=True)
            return 1
        print(f"[notebooks] {nb} -> {out} in {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
