"""The coursework report: every executed notebook in ONE self-contained HTML page, and its numbers.

    python -m helpers.report --out reports notebooks/0*.ipynb        # execute, then build
    python -m helpers.report --no-execute --out reports reports/0*.ipynb   # build from executed ones

Each notebook ends with a table of the numbers it measured (:func:`show_results`): it is shown
as an ordinary table in the notebook and carries the same rows as JSON under
:data:`RESULTS_MIME`, which :func:`build_report` collects from the executed notebooks into the
report's results table (each number next to the published one, with its source, from
:data:`PUBLISHED`) and into ``summary.json``.

The page reads fully offline: figures and audio are embedded as data, equations are MathML
(:func:`helpers.notebooks.clean_notebook`), no script is loaded from the web, interactive widgets
are replaced by static snapshots of their last state (images, audio players, slider values) with a
note that the live version needs JupyterLab, progress bars are dropped, and local paths are
replaced by placeholders.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import html
import json
import math
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from helpers.notebooks import (WIDGET_STATE, _TQDM_TEXT, _model_id, _text, _write_text, clean_notebook,
                               execute_notebook, map_widget_outputs)

RESULTS_MIME = "application/vnd.novelty.results+json"

#: Published figures the notebooks' numbers are set beside: key -> (value as printed, source).
PUBLISHED: dict[str, tuple[str, str]] = {
    "burda_vae_nll": ("86.76 nats (VAE, k = 1 training; test NLL with k = 5000, 3280 epochs)",
                      "Burda, Grosse & Salakhutdinov (2016), Table 1"),
    "burda_iwae_nll": ("84.78 nats (IWAE, k = 50 training)", "Burda, Grosse & Salakhutdinov (2016), Table 1"),
    "kegl_out": ("0.46-0.77 (median out-of-class count at θ = 0.9, sparse autoencoders on MNIST)",
                 "Kégl, Cherti & Kazakçı (2018), authors' code"),
    "kegl_objectness": ("9-11 (sparse autoencoders on MNIST)", "Kégl, Cherti & Kazakçı (2018), authors' code"),
    "kegl_tradeoff": ("a trade-off: the models that generate fewer spurious samples also cover less held-out data",
                      "Kégl, Cherti & Kazakçı (2018), §4"),
    "kazakci_fixed_points": ("iterating a sparse autoencoder from noise ends on new symbol-like shapes "
                             "(shown as figures, no count given)", "Kazakçı, Cherti & Kégl (2016), §3"),
}


@dataclass
class Result:
    """One number a notebook measured, for the report's table and ``summary.json``.

    ``published``: a key of :data:`PUBLISHED` (the figure it is set beside), or None.
    """

    quantity: str
    value: float | int | str
    unit: str = ""
    published: str | None = None
    note: str = ""
    section: str = ""

    def __post_init__(self):
        if self.published is not None and self.published not in PUBLISHED:
            raise ValueError(f"published={self.published!r} is not a key of helpers.report.PUBLISHED "
                             f"({sorted(PUBLISHED)})")
        if hasattr(self.value, "item"):  # numpy / torch scalars
            self.value = self.value.item()
        if isinstance(self.value, float) and not math.isfinite(self.value):
            self.value = str(self.value)


def _format(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.2f}"
    return str(value)


def _rows_html(rows: list[dict], with_notebook: bool = False) -> str:
    head = (["notebook"] if with_notebook else []) + ["quantity", "measured", "published", "source", "note"]
    out = ["<table class='novelty-results'>", "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>",
           "<tbody>"]
    for r in rows:
        pub, src = PUBLISHED.get(r.get("published") or "", ("", ""))
        cells = ([r.get("notebook", "")] if with_notebook else []) + [
            r["quantity"], f"{_format(r['value'])} {r.get('unit', '')}".strip(), pub, src, r.get("note", "")]
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def show_results(notebook: str, results: list[Result]) -> list[dict]:
    """Display the numbers a notebook measured as a table (with the published figures beside
    them), carrying the same rows as JSON for :func:`build_report`; returns the rows."""
    from IPython.display import display

    rows = [{"notebook": notebook, **asdict(r)} for r in results]
    text = "\n".join(f"{r['quantity']}: {_format(r['value'])} {r['unit']}".rstrip() for r in rows)
    display({"text/html": _rows_html(rows), "text/plain": text, RESULTS_MIME: {"notebook": notebook, "rows": rows}},
            raw=True)
    return rows


def collect_results(nb) -> list[dict]:
    """The rows of every :func:`show_results` table in an executed notebook."""
    rows = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            payload = out.get("data", {}).get(RESULTS_MIME)
            if payload is not None:
                rows.extend(payload["rows"])
    return rows


# --------------------------------------------------------------------------- widget snapshots
NOTE_LIVE = ("Static snapshot of an interactive widget (its state when the notebook was executed). "
             "The live version needs JupyterLab: run <code>make lab</code> and open <code>{notebook}</code>.")


def _buffers(model: dict) -> dict[str, str]:
    """The model's binary fields (``value`` of an Image or Audio) as base64, by field name."""
    found = {}
    for buf in model.get("buffers", []) or []:
        path = buf.get("path") or []
        if path and buf.get("encoding", "base64") == "base64":
            found[str(path[0])] = buf.get("data", "")
    return found


def widget_snapshot(model_id: str, state: dict, depth: int = 0) -> str:
    """Static HTML for one widget and its children from a saved widget state: boxes lay out their
    children, images and audio are embedded as data, sliders and text fields show their value,
    HTML and labels their content. A widget without saved state shows nothing."""
    model = state.get(_model_id(model_id))
    if model is None or depth > 20:
        return ""
    name = model.get("model_name", "")
    s = model.get("state", {})
    if name in ("HBoxModel", "VBoxModel", "BoxModel", "GridBoxModel", "AccordionModel", "TabModel"):
        children = "".join(widget_snapshot(c, state, depth + 1) for c in s.get("children", []))
        direction = "row" if name == "HBoxModel" else "column"
        return f"<div style='display:flex;flex-direction:{direction};gap:8px;flex-wrap:wrap'>{children}</div>"
    if name == "ImageModel":
        data = _buffers(model).get("value", "")
        if not data:
            return ""
        fmt = s.get("format", "png")
        mime = "image/svg+xml" if fmt == "svg" else f"image/{fmt}"
        width = f" width='{html.escape(str(s['width']))}'" if s.get("width") else ""
        return f"<img src='data:{mime};base64,{data}'{width} alt='widget image snapshot'>"
    if name == "AudioModel":
        data = _buffers(model).get("value", "")
        if not data:
            return ""
        return f"<audio controls src='data:audio/{s.get('format', 'wav')};base64,{data}'></audio>"
    if name in ("HTMLModel", "HTMLMathModel"):
        return f"<div>{s.get('value', '')}</div>"
    if name == "LabelModel":
        return f"<div>{html.escape(str(s.get('value', '')))}</div>"
    if name.endswith("SliderModel") or name in ("BoundedFloatTextModel", "BoundedIntTextModel", "FloatTextModel",
                                                "IntTextModel", "TextModel", "DropdownModel", "ToggleButtonsModel",
                                                "CheckboxModel", "RadioButtonsModel", "SelectModel"):
        value = s.get("value", s.get("index", ""))
        if name in ("DropdownModel", "ToggleButtonsModel", "RadioButtonsModel", "SelectModel"):
            labels = s.get("_options_labels", [])
            index = s.get("index")
            value = labels[index] if isinstance(index, int) and 0 <= index < len(labels) else value
        if isinstance(value, float):
            value = f"{value:.3g}"
        desc = html.escape(str(s.get("description", "")))
        return f"<div class='widget-snapshot-value'><b>{desc}</b> {html.escape(str(value))}</div>"
    if name == "OutputModel":  # an Output widget: the outputs it last held (figures, players, text)
        return "".join(_output_html(o) for o in s.get("outputs", []))
    if name == "ButtonModel":
        return f"<button disabled>{html.escape(str(s.get('description', '')))}</button>"
    return ""


def _output_html(out: dict) -> str:
    """One saved output of an Output widget as static HTML (the richest form it has)."""
    data = out.get("data", {})
    if out.get("output_type") == "stream":
        return f"<pre>{html.escape(_text(out.get('text', '')))}</pre>"
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            return f"<img src='data:{mime};base64,{_text(data[mime]).strip()}' alt='widget output snapshot'>"
    if "text/html" in data:
        return f"<div>{_text(data['text/html'])}</div>"
    if "text/markdown" in data:
        return f"<div>{html.escape(_text(data['text/markdown']))}</div>"
    if "text/plain" in data:
        return f"<pre>{html.escape(_text(data['text/plain']))}</pre>"
    return ""


def snapshot_widgets(nb, notebook_name: str) -> int:
    """Replace every widget output by its static snapshot with the JupyterLab note, drop widget
    outputs that left nothing, and drop the saved widget state (no widget script is needed).
    Returns the number of snapshots."""
    from nbformat.v4 import new_output

    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    note = NOTE_LIVE.format(notebook=f"notebooks/{notebook_name}")

    replaced = []

    def replace(out, model_id):
        snap = widget_snapshot(model_id, state)
        if not snap:
            return []
        replaced.append(model_id)
        return [new_output("display_data", data={
            "text/html": f"<div class='widget-snapshot'>{snap}<p class='widget-note'><em>{note}</em></p></div>"})]

    map_widget_outputs(nb, replace)
    nb.metadata.pop("widgets", None)
    return len(replaced)


def drop_progress_text(nb) -> int:
    """Remove progress-bar lines (tqdm's) from stream outputs; streams left empty go. Returns
    the number of lines removed."""
    removed = 0
    for cell in nb.cells:
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                lines = re.split(r"(?<=\n)|\r", _text(out["text"]))
                good = [ln for ln in lines if not _TQDM_TEXT.search(ln)]
                removed += len(lines) - len(good)
                out["text"] = "".join(good)
                if not out["text"].strip():
                    continue
            elif out.get("output_type") in ("display_data", "execute_result"):
                data = out.get("data", {})
                # a progress bar shown as text (a widget whose state was not saved): only its text is left
                if set(data) <= {"text/plain"} and _TQDM_TEXT.search(_text(data.get("text/plain", ""))):
                    removed += 1
                    continue
            kept.append(out)
        if cell.cell_type == "code":
            cell.outputs = kept
    return removed


# ------------------------------------------------------------------------------- the report
_REPORT_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{% block extra_css %}
<style>
  .novelty-results { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
  .novelty-results th, .novelty-results td { border: 1px solid #ccc; padding: 4px 8px; text-align: left;
                                             vertical-align: top; }
  .novelty-results th { background: #f2f2f2; }
  .widget-snapshot { border: 1px dashed #999; padding: 8px; margin: 4px 0; }
  .widget-note { font-size: 0.85em; color: #555; }
  nav.report-toc li { margin: 2px 0; }
</style>
{% endblock extra_css %}
"""

_H2 = re.compile(r"^(##)\s+(.+?)\s*$", re.M)


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _notebook_title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+?)\s*$", cell.source, re.M)
            if m:
                return m.group(1)
    return fallback


def _add_section_anchors(nb, prefix: str) -> list[tuple[str, str]]:
    """Put an anchor before every ``##`` heading of the notebook's markdown; return (id, title)."""
    sections = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue

        def add(m):
            anchor = f"{prefix}-{len(sections) + 1}"
            sections.append((anchor, m.group(2)))
            return f"<a id='{anchor}'></a>\n\n{m.group(0)}"
        cell.source = _H2.sub(add, cell.source)
    return sections


def build_report(executed: list[str | Path], out_html: str | Path, summary_json: str | Path | None = None,
                 title: str = "Novelty search in generative audio models: coursework report",
                 repo_root: str | Path | None = None) -> dict:
    """Build ONE self-contained HTML page from executed notebooks (in the given order) and
    write the numbers they measured to ``summary_json``. Returns the summary."""
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter
    from nbformat.v4 import new_markdown_cell, new_notebook

    paths = [Path(p) for p in executed]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"executed notebook(s) not found: {', '.join(missing)} (run the notebooks first)")
    if not paths:
        raise ValueError("no executed notebook given to build the report from")
    parts, toc, results, smoke = [], [], [], []
    for path in paths:
        nb = nbformat.read(str(path), as_version=4)
        root = repo_root if repo_root is not None else path.resolve().parent.parent
        smoke.append(_parameter(nb, "SMOKE"))
        results.extend(collect_results(nb))
        # papermill's injected parameters repeat the parameters cell: the report shows it once
        nb.cells = [c for c in nb.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
        clean_notebook(nb, repo_root=root)
        snapshot_widgets(nb, path.name)
        drop_progress_text(nb)
        for cell in nb.cells:  # the report shows the notebooks' outputs and story, not their JSON
            for out in cell.get("outputs", []):
                out.get("data", {}).pop(RESULTS_MIME, None)
        prefix = "nb-" + _anchor(path.stem)
        sections = _add_section_anchors(nb, prefix)
        name = _notebook_title(nb, path.stem)
        toc.append((prefix, name, sections))
        parts.append((prefix, path.name, nb))

    summary = {"title": title, "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               "smoke": any(bool(s) for s in smoke), "notebooks": [p.name for p in paths],
               "published": {k: {"value": v, "source": s} for k, (v, s) in PUBLISHED.items()},
               "results": results}
    lines = [f"# {title}", "",
             f"Built from {len(paths)} executed notebooks on {summary['generated'][:10]}"
             + (" **at SMOKE size: the numbers are those of tiny runs, not results.**" if summary["smoke"] else "."),
             "Figures, tables and audio players are embedded: this page reads offline. Interactive widgets are "
             "shown as snapshots; their live versions need JupyterLab (`make lab`).", "",
             "<nav class='report-toc'>", "", "## Contents", "",
             "- [Results: every measured number next to the published one](#results)"]
    for prefix, name, sections in toc:
        lines.append(f"- [{name}](#{prefix})")
        lines.extend(f"    - [{html.escape(s)}](#{a})" for a, s in sections)
    lines += ["", "</nav>"]
    head = [new_markdown_cell("\n".join(lines)),
            new_markdown_cell("<a id='results'></a>\n\n## Results: every measured number next to the published one\n\n"
                              f"{len(results)} numbers measured by the notebooks (each notebook's last table), "
                              "beside the published figure where one exists, with its source. "
                              "The same rows are in `summary.json`.\n\n" + _rows_html(results, with_notebook=True))]
    cells = list(head)
    for prefix, name, nb in parts:
        cells.append(new_markdown_cell(f"<a id='{prefix}'></a>\n\n---\n\n*Notebook `{name}`*"))
        cells.extend(nb.cells)
    first = parts[0][2].metadata
    metadata = {"title": title, **{k: first[k] for k in ("kernelspec", "language_info") if first.get(k)}}
    report = new_notebook(cells=cells, metadata=metadata)
    exporter = HTMLExporter(extra_loaders=[jinja2.DictLoader({"report.html.j2": _REPORT_TEMPLATE})],
                            template_file="report.html.j2")
    body, _ = exporter.from_notebook_node(report)
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    _write_text(out_html, body)
    if summary_json is not None:
        _write_text(Path(summary_json), json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return summary


def _parameter(nb, name: str):
    """The value a notebook ran with for a top-level ``NAME = literal`` of its parameters cells
    (papermill's injected cell last, so it wins); None when not found."""
    import ast

    value = None
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" not in tags and "injected-parameters" not in tags:
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id == name):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="notebooks, in the report's order")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="folder of the executed notebooks, "
                        "report.html and summary.json (default reports/)")
    parser.add_argument("--no-execute", action="store_true", help="the notebooks given are already executed")
    parser.add_argument("--smoke", action="store_true", help="execute at SMOKE size (seconds; for tests)")
    args = parser.parse_args(argv)
    executed = []
    for nb in args.notebooks:
        if args.no_execute:
            executed.append(nb)
        else:
            try:
                executed.append(execute_notebook(nb, args.out, smoke=args.smoke, html=False))
            except Exception as err:  # noqa: BLE001 - say which notebook failed, then stop
                print(f"report: {err}", file=sys.stderr)
                return 1
    summary = build_report(executed, args.out / "report.html", args.out / "summary.json")
    print(f"report: {args.out / 'report.html'} ({len(summary['notebooks'])} notebooks, "
          f"{len(summary['results'])} numbers; summary in {args.out / 'summary.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
