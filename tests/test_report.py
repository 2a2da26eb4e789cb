"""The coursework report: the numbers a notebook shows travel with it, widgets become static
snapshots, and one self-contained page is built (table of contents, results table, figures and
audio as data, MathML, no script from the web, no progress bars, no local paths)."""

import base64
import json
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from helpers.notebooks import WIDGET_STATE, WIDGET_VIEW
from helpers.report import (PUBLISHED, RESULTS_MIME, Result, build_report, collect_results, show_results,
                            snapshot_widgets, widget_snapshot)

PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5f6a8a20000000049454e44ae426082")).decode()
WAV = base64.b64encode(b"RIFF$\x00\x00\x00WAVEfmt " + bytes(16) + b"data\x00\x00\x00\x00").decode()


def _state():
    """A saved widget state: a VBox holding a slider, an image, an audio player and an HTML line."""
    def model(name, state, buffers=None):
        m = {"model_name": name, "model_module": "@jupyter-widgets/controls", "model_module_version": "2.0.0",
             "state": state}
        if buffers:
            m["buffers"] = buffers
        return m
    return {
        "box": model("VBoxModel", {"children": ["IPY_MODEL_slider", "IPY_MODEL_image", "IPY_MODEL_audio", "IPY_MODEL_text", "IPY_MODEL_out"]}),
        "slider": model("FloatSliderModel", {"description": "axis 0", "value": 1.25}),
        "image": model("ImageModel", {"format": "png"}, [{"path": ["value"], "data": PNG, "encoding": "base64"}]),
        "audio": model("AudioModel", {"format": "wav"}, [{"path": ["value"], "data": WAV, "encoding": "base64"}]),
        "text": model("HTMLModel", {"value": "<b>in-class 0.42</b>"}),
        "out": model("OutputModel", {"outputs": [{"output_type": "display_data", "data": {"image/png": PNG}},
                                                 {"output_type": "display_data", "data": {"text/html": "<i>note 3</i>"}}]}),
    }


def test_widget_snapshot_embeds_images_audio_and_values():
    page = widget_snapshot("IPY_MODEL_box", _state())
    assert f"data:image/png;base64,{PNG}" in page
    assert f"<audio controls src='data:audio/wav;base64,{WAV}'>" in page
    assert "axis 0</b> 1.25" in page and "<b>in-class 0.42</b>" in page and "<i>note 3</i>" in page
    assert page.count(f"data:image/png;base64,{PNG}") == 2  # the Image widget and the Output widget's figure
    assert widget_snapshot("missing", _state()) == ""


def test_snapshot_widgets_replaces_outputs_and_drops_the_state():
    nb = new_notebook()
    cell = new_code_cell("explorer")
    cell.outputs = [new_output("display_data", data={WIDGET_VIEW: {"model_id": "box", "version_major": 2},
                                                     "text/plain": "VBox(...)"}),
                    new_output("display_data", data={WIDGET_VIEW: {"model_id": "gone"}, "text/plain": "x"})]
    nb.cells = [cell]
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": _state(), "version_major": 2, "version_minor": 0}}
    assert snapshot_widgets(nb, "03_audio_vae.ipynb") == 1
    assert "widgets" not in nb.metadata and len(cell.outputs) == 1  # the widget without state left nothing
    html = cell.outputs[0]["data"]["text/html"]
    assert "data:image/png" in html and "make lab" in html and "notebooks/03_audio_vae.ipynb" in html


def test_result_checks_the_published_key_and_converts_scalars():
    import numpy as np

    with pytest.raises(ValueError, match="published='nope'"):
        Result("x", 1.0, published="nope")
    r = Result("x", np.float32(2.5), published="burda_vae_nll")
    assert type(r.value) is float and r.value == 2.5
    assert Result("y", float("nan")).value == "nan"  # JSON has no NaN


def test_show_results_displays_a_table_carrying_its_rows(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append((obj, raw)))
    rows = show_results("01_mnist_vae", [Result("test NLL", 91.4, "nats", published="burda_vae_nll")])
    (bundle, raw), = shown
    assert raw and bundle[RESULTS_MIME]["rows"] == rows and rows[0]["notebook"] == "01_mnist_vae"
    assert "86.76" in bundle["text/html"] and "91.40 nats" in bundle["text/html"]
    assert "test NLL: 91.40 nats" in bundle["text/plain"]


def _executed(tmp_path, name, smoke, rows, extra_outputs=()):
    """A small 'executed' notebook: title, a parameters cell, a section with math, a figure, an
    audio player, progress-bar residue, a local path, and a results table."""
    nb = new_notebook()
    params = new_code_cell(f"SMOKE = {smoke}")
    params.metadata["tags"] = ["parameters"]
    injected = new_code_cell("SMOKE = True")
    injected.metadata["tags"] = ["injected-parameters"]
    figure = new_code_cell("plot()")
    figure.outputs = [new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
                      new_output("display_data", data={"text/html": f"<audio controls><source src='data:audio/wav;base64,{WAV}' "
                                                                    "type='audio/wav'></audio>"}),
                      new_output("stream", name="stderr", text="train: 100%|##########| 10/10 [00:01<00:00, 9.1it/s]\n"),
                      # the final line of a progress widget, as the notebook runner keeps it (figure spaces)
                      new_output("stream", name="stdout", text="regions:\u2007100% 14/14\u2007[00:00<00:00,\u200772.71it/s]\n"),
                      new_output("execute_result", data={"text/plain": "bends: 100% 11/11 [00:00<00:00, 35.57it/s]"},
                                 execution_count=3),
                      new_output("stream", name="stdout", text=f"saved to {tmp_path}/runs/x\n"), *extra_outputs]
    table = new_code_cell("show_results(...)")
    table.outputs = [new_output("display_data", data={"text/html": "<table>numbers</table>", "text/plain": "numbers",
                                                      RESULTS_MIME: {"notebook": name, "rows": rows}})]
    nb.cells = [new_markdown_cell(f"# {name} title\n\nIntro."), params, injected,
                new_markdown_cell("## 1. First part\n\nThe bound $\\log p(x) \\geq \\mathcal{L}$."), figure,
                new_markdown_cell("## Numbers for the report"), table]
    path = tmp_path / "executed" / f"{name}.ipynb"
    path.parent.mkdir(exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def test_build_report_writes_one_offline_page_and_the_summary(tmp_path, monkeypatch):
    monkeypatch.setenv("NOVELTY_RUNS_DIR", str(tmp_path / "runs"))
    row = lambda nb, q, v, pub=None: {"notebook": nb, "quantity": q, "value": v, "unit": "nats", "published": pub,
                                      "note": "", "section": ""}
    a = _executed(tmp_path, "01_first", True, [row("01_first", "test NLL", 91.42, "burda_vae_nll")])
    b = _executed(tmp_path, "02_second", True, [row("02_second", "best SC", 0.07)])
    summary = build_report([a, b], tmp_path / "out" / "report.html", tmp_path / "out" / "summary.json")
    page = (tmp_path / "out" / "report.html").read_text()
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert saved == summary and saved["smoke"] is True and saved["notebooks"] == ["01_first.ipynb", "02_second.ipynb"]
    assert [r["quantity"] for r in saved["results"]] == ["test NLL", "best SC"]
    assert saved["published"]["burda_vae_nll"]["source"] == PUBLISHED["burda_vae_nll"][1]
    # contents: every notebook and section linked, and the anchors exist
    for anchor in ("results", "nb-01-first", "nb-01-first-1", "nb-02-second-2"):
        assert f"href=\"#{anchor}\"" in page and re.search(f"id=[\"']{anchor}[\"']", page)
    # results table: measured next to published, with its source
    assert "91.42 nats" in page and "86.76 nats" in page and "Burda, Grosse &amp; Salakhutdinov (2016)" in page
    assert "at SMOKE size" in page
    # offline: MathML, no script from the web, figures and audio as data, no tqdm residue, no local path
    assert "<math" in page and "\\mathcal" not in page
    assert "cdn" not in page.lower() and "<script src=" not in page
    assert page.count(f"data:image/png;base64,{PNG}") == 2 and page.count("data:audio/wav;base64") == 2
    assert "it/s" not in page and "10/10" not in page and "72.71" not in page and "35.57" not in page
    assert str(tmp_path) not in page
    assert "injected" not in page and page.count(">True</span>") == 2  # each parameters cell once, not the injected copy


def test_build_report_names_a_missing_notebook(tmp_path):
    with pytest.raises(FileNotFoundError, match="07_missing.ipynb"):
        build_report([tmp_path / "07_missing.ipynb"], tmp_path / "r.html")


def test_collect_results_reads_every_table(tmp_path):
    path = _executed(tmp_path, "05_x", False, [{"quantity": "r", "value": -0.6}])
    nb = nbformat.read(str(path), as_version=4)
    assert collect_results(nb) == [{"quantity": "r", "value": -0.6}]
