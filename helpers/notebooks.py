"""Execute the numbered notebooks headless and export each to HTML that reads offline.

Usage (what ``make demo`` and ``make smoke`` call)::

    python -m helpers.notebooks [--smoke] [--out reports] notebooks/00_data_tour.ipynb ...

Each notebook is run by papermill, which injects the parameters given here (``SMOKE``)
after the cell tagged ``parameters``. The terminal shows which cell of how many is running
and the time spent so far, then each notebook's time and the total. The executed notebook
and an HTML export (inline audio players included) are written to ``--out``. The first
failing cell stops the run with a non-zero exit and the message of the failure; the partly
executed notebook is still written so the error can be read in context.

Before they are saved, the executed notebooks are made to read offline
(:func:`clean_notebook`): LaTeX in markdown becomes MathML (rendered natively by browsers, no
CDN), progress-bar widgets become one final text line each (or nothing, for the bars that
closed themselves), and the machine's local paths (checkout, data, runs, Python environment,
home) in the outputs are replaced by short placeholders such as ``<data>``.
"""

from __future__ import annotations

import argparse
import html
import io
import re
import sys
import time
from pathlib import Path
from typing import TextIO


class NotebookError(RuntimeError):
    """A notebook cell failed (or the notebook ran out of time); the message names the notebook."""


def _clock(seconds: float) -> str:
    """``75.2`` -> ``"1:15"``; ``3725`` -> ``"1:02:05"``."""
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class CellProgress:
    """Prints ``<notebook>: cell i/n (m:ss)`` when each code cell starts (nbclient hooks).

    On a terminal the line is rewritten in place; in a log file each cell gets a line.
    ``n`` counts the code cells that run, the injected parameters cell included.
    """

    def __init__(self, name: str, stream: TextIO | None = None):
        self.name = name
        self.stream = stream if stream is not None else sys.stdout
        self.inplace = bool(getattr(self.stream, "isatty", lambda: False)())
        self.n = 0
        self.i = 0
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def on_notebook_start(self, notebook, **_) -> None:
        self.n = sum(1 for c in notebook.cells if c.cell_type == "code" and c.source.strip())
        self.i = 0
        self.start = time.perf_counter()

    def on_cell_execute(self, cell, cell_index, **_) -> None:
        self.i += 1
        line = f"[notebooks] {self.name}: cell {self.i}/{self.n} ({_clock(self.elapsed())})"
        if self.inplace:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.inplace and self.i:
            self.stream.write("\n")
            self.stream.flush()


def execute_notebook(path: str | Path, out_dir: str | Path, smoke: bool = False,
                     parameters: dict | None = None, html: bool = True,
                     timeout: int | None = None, time_limit: float | None = None,
                     progress: bool | TextIO = True) -> Path:
    """Execute one notebook into ``out_dir`` (``.ipynb`` and, by default, ``.html``).

    The notebook runs with its own folder as working directory. ``timeout``: seconds per
    cell; ``time_limit``: seconds for the whole notebook (the cell running when it is reached
    is stopped). ``progress``: print each cell's start (True: to stdout, or a stream).
    Raises :class:`NotebookError` naming the notebook when a cell fails or time runs out.
    The saved notebook is cleaned for offline reading (:func:`clean_notebook`).
    """
    import nbformat
    import papermill as pm

    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"notebook not found: {path}")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    out_nb = out_dir / path.name
    params = {"SMOKE": bool(smoke), **(parameters or {})}
    tracker = CellProgress(path.name, None if progress is True else (progress or io.StringIO()))
    hooks = {"on_notebook_start": tracker.on_notebook_start, "on_cell_execute": tracker.on_cell_execute}
    if time_limit is not None:
        def cell_timeout(cell) -> float:
            left = max(1.0, time_limit - tracker.elapsed())
            return min(left, timeout) if timeout is not None else left
        hooks["timeout_func"] = cell_timeout
    failure = None
    try:
        pm.execute_notebook(str(path), str(out_nb), parameters=params, cwd=str(path.parent),
                            kernel_name="python3", progress_bar=False, log_output=False,
                            execution_timeout=timeout, **hooks)
    except pm.PapermillExecutionError as err:
        failure = NotebookError(f"{path.name}: cell {err.exec_count} failed: {err.ename}: {err.evalue}"
                                f" (executed notebook written to {out_nb})")
        failure.__cause__ = err
    except TimeoutError as err:
        limit = f"the time limit of {time_limit:g} s" if time_limit is not None else f"timeout={timeout} s"
        raise NotebookError(f"{path.name}: stopped at cell {tracker.i}/{tracker.n} after "
                            f"{_clock(tracker.elapsed())}: {limit} reached") from err
    finally:
        tracker.done()
    if out_nb.is_file():
        nb = clean_notebook(nbformat.read(str(out_nb), as_version=4), repo_root=path.parent.parent)
        _write_text(out_nb, nbformat.writes(nb))
        if html and failure is None:
            export_html(out_nb, out_dir / (path.stem + ".html"))
    if failure is not None:
        raise failure
    return out_nb


def _write_text(target: Path, text: str) -> Path:
    """Write ``text`` to ``target`` atomically (a temporary file renamed over it)."""
    target = Path(target)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return target


# nbconvert's "lab" page without the MathJax script (the equations are MathML already)
_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
"""


def export_html(notebook: str | Path, target: str | Path) -> Path:
    """Write an HTML export of an executed notebook (outputs and audio players embedded) that
    reads offline: the notebook is cleaned first (:func:`clean_notebook`)."""
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    notebook = Path(notebook)
    nb = clean_notebook(nbformat.read(str(notebook), as_version=4), repo_root=notebook.resolve().parent.parent)
    body, _ = HTMLExporter(extra_loaders=[jinja2.DictLoader({"offline.html.j2": _OFFLINE_TEMPLATE})],
                           template_file="offline.html.j2").from_notebook_node(nb)
    return _write_text(Path(target), body)


# ------------------------------------------------------------------ offline clean-up


def clean_notebook(nb, repo_root: str | Path | None = None):
    """Make an executed notebook read offline (in place; returned): equations to MathML
    (:func:`markdown_math_to_mathml`), progress-bar widgets to text
    (:func:`strip_progress_widgets`), local paths in the outputs to placeholders
    (:func:`redact_local_paths`)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = markdown_math_to_mathml(cell.source)
    strip_progress_widgets(nb)
    replacements = local_path_replacements(repo_root)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            _clean_output(out, replacements)
    return nb


def _clean_output(out, replacements) -> None:
    if "text" in out:
        out["text"] = redact_local_paths(_text(out["text"]), replacements)
    if "traceback" in out:
        out["traceback"] = [redact_local_paths(line, replacements) for line in out["traceback"]]
    if "evalue" in out:
        out["evalue"] = redact_local_paths(out["evalue"], replacements)
    for mime, value in list(out.get("data", {}).items()):
        if mime.startswith("text/") or mime in ("application/javascript",):
            value = redact_local_paths(_text(value), replacements)
            if mime == "text/markdown":
                value = markdown_math_to_mathml(value)
            out["data"][mime] = value


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


# LaTeX -> MathML ----------------------------------------------------------------------

_CODE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]+`)", re.S)
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$\w])\$(?=\S)([^$\n]+?)(?<=[^\s\\])\$(?![\w$])")


def latex_to_mathml(tex: str, display: bool = False) -> str:
    """One MathML element for a LaTeX formula (``latex2mathml``); a formula it cannot read is
    shown as code rather than left as ``$...$``."""
    from latex2mathml.converter import convert

    try:
        return convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # noqa: BLE001  (any parse failure: show the source)
        return f"<code>{html.escape(tex.strip())}</code>"


def markdown_math_to_mathml(text: str) -> str:
    """Replace ``$$...$$`` (display) and ``$...$`` (inline) formulas in markdown by MathML,
    leaving code spans and fenced code alone."""
    parts = _CODE.split(text)
    for i in range(0, len(parts), 2):  # even parts are outside code
        part = _DISPLAY_MATH.sub(lambda m: latex_to_mathml(m.group(1), display=True), parts[i])
        parts[i] = _INLINE_MATH.sub(lambda m: latex_to_mathml(m.group(1)), part)
    return "".join(parts)


# progress-bar widgets ------------------------------------------------------------------

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_PROGRESS_MODELS = ("FloatProgressModel", "IntProgressModel")
# a tqdm line: its bar, its "n/total [" counter, its rate, or its "[elapsed<remaining" timer (the
# final line a progress widget leaves is written with figure spaces, which the timer still matches)
_TQDM_TEXT = re.compile(r"\d+%\||\d+/\d+ \[|\bit/s\b|s/it\b|\[\d[\d:]*<[\d:?]+")


def _model_id(ref: str) -> str:
    return ref[len("IPY_MODEL_"):] if ref.startswith("IPY_MODEL_") else ref


def _progress_bar(state: dict, model_id: str) -> tuple[set[str], str | None] | None:
    """For a tqdm bar (an HBox holding a progress model): the model ids it uses and its final
    text line (None when the bar closed itself, i.e. ``leave=False``); None if not a bar."""
    box = state.get(model_id)
    if box is None or box.get("model_name") != "HBoxModel":
        return None
    children = [_model_id(c) for c in box.get("state", {}).get("children", [])]
    models = [state.get(c, {}) for c in children]
    bars = [m for m in models if m.get("model_name") in _PROGRESS_MODELS]
    if not bars:
        return None
    ids = {model_id, *children}
    for m in [box, *models]:
        for key in ("layout", "style"):
            ref = m.get("state", {}).get(key)
            if isinstance(ref, str) and ref.startswith("IPY_MODEL_"):
                ids.add(_model_id(ref))
    layout = state.get(_model_id(box.get("state", {}).get("layout", "")), {}).get("state", {})
    hidden = layout.get("visibility") == "hidden" or layout.get("display") == "none"
    if hidden or bars[0].get("state", {}).get("bar_style") not in ("success", "danger"):
        return ids, None  # closed without leaving a bar (or never finished): nothing to show
    texts = [html.unescape(str(m.get("state", {}).get("value", ""))) for m in models
             if m.get("model_name") == "HTMLModel"]
    return ids, " ".join(t.strip() for t in texts if t.strip())


def map_widget_outputs(nb, replace) -> int:
    """Pass every widget output of the notebook's code cells through ``replace(out, model_id)``,
    which returns the outputs to put in its place (``[out]`` keeps it, ``[]`` drops it); other
    outputs stay. Adjacent streams are merged afterwards. Returns how many widget outputs were
    replaced or dropped."""
    changed = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                kept.append(out)
                continue
            new = replace(out, view.get("model_id", ""))
            changed += not (len(new) == 1 and new[0] is out)
            kept.extend(new)
        cell.outputs = _merge_streams(kept)
    return changed


def strip_progress_widgets(nb) -> int:
    """Replace every progress-bar widget output by its final text line (a bar that closed
    itself leaves nothing) and drop those widgets' saved state; returns how many outputs went.

    Other widgets (and their state) are kept. A widget output whose state was not saved is
    dropped when its text fallback looks like a tqdm bar."""
    from nbformat.v4 import new_output

    widgets = nb.metadata.get("widgets", {})
    state = widgets.get(WIDGET_STATE, {}).get("state", {})
    drop: set[str] = set()

    def replace(out, model_id):
        bar = _progress_bar(state, model_id)
        if bar is None:
            unsaved_bar = model_id not in state and _TQDM_TEXT.search(_text(out["data"].get("text/plain", "")))
            return [] if unsaved_bar else [out]
        ids, line = bar
        drop.update(ids)
        return [new_output("stream", name="stdout", text=line + "\n")] if line else []

    removed = map_widget_outputs(nb, replace)
    for model_id in drop:
        state.pop(model_id, None)
    if WIDGET_STATE in widgets and not state:
        del nb.metadata["widgets"]
    return removed


def _merge_streams(outputs: list) -> list:
    """Adjacent stream outputs of the same name become one (as a live notebook shows them)."""
    merged: list = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (prev is not None and out.get("output_type") == "stream" and prev.get("output_type") == "stream"
                and out.get("name") == prev.get("name")):
            prev["text"] = _text(prev["text"]) + _text(out["text"])
        else:
            merged.append(out)
    return merged


# local paths ---------------------------------------------------------------------------


def local_path_replacements(repo_root: str | Path | None = None) -> list[tuple[str, str]]:
    """(local path, placeholder) pairs, longest path first: the data folder (``<data>``), the
    run folder (``<runs>``), the checkout of ``helpers`` and ``repo_root`` (``<repo>``), the
    Python environment (``<python>``) and the home folder (``~``). Both the path as configured
    and its resolved form."""
    from helpers.data.paths import data_root
    from helpers.training.run import runs_root

    repos = [Path(__file__).resolve().parents[1]] + ([Path(repo_root)] if repo_root is not None else [])
    candidates = [(data_root(), "<data>"), (runs_root(), "<runs>"), *((r, "<repo>") for r in repos),
                  (Path(sys.prefix), "<python>"), (Path(sys.base_prefix), "<python>"), (Path.home(), "~")]
    pairs: dict[str, str] = {}
    for path, token in candidates:
        for form in (path.expanduser().absolute(), path.expanduser().resolve()):
            text = str(form)
            if len(text) > 1 and text not in pairs:  # never the root "/"
                pairs[text] = token
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


_KERNEL_CELL_FILE = re.compile(r"(?:/[\w.-]+)*/ipykernel_\d+/\d+\.py")


def redact_local_paths(text: str, replacements: list[tuple[str, str]]) -> str:
    """``text`` with each local path (a whole path component, not a prefix of a longer name)
    replaced by its placeholder, and the kernel's temporary cell files by ``<cell>``."""
    text = _KERNEL_CELL_FILE.sub("<cell>", text)
    for path, token in replacements:
        if path in text:
            text = re.sub(re.escape(path) + r"(?![\w.-])", lambda _: token, text)
    return text


# ------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", help="notebooks to run, in order")
    parser.add_argument("--out", default="reports", help="folder for executed notebooks and HTML")
    parser.add_argument("--smoke", action="store_true", help="run with SMOKE=True (seconds each)")
    parser.add_argument("--no-html", action="store_true", help="skip the HTML export")
    args = parser.parse_args(argv)
    total = time.perf_counter()
    for k, nb in enumerate(args.notebooks, 1):
        start = time.perf_counter()
        print(f"[notebooks] {k}/{len(args.notebooks)}: running {nb} (SMOKE={args.smoke}) ...", flush=True)
        try:
            out = execute_notebook(nb, args.out, smoke=args.smoke, html=not args.no_html)
        except NotebookError as err:
            print(f"[notebooks] FAILED: {err}", file=sys.stderr, flush=True)
            print(f"[notebooks] stopped after {_clock(time.perf_counter() - total)}", flush=True)
            return 1
        print(f"[notebooks] {nb} -> {out} in {_clock(time.perf_counter() - start)}", flush=True)
    print(f"[notebooks] {len(args.notebooks)} notebook(s) in {_clock(time.perf_counter() - total)} "
          f"(m:ss), written to {args.out}/", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
