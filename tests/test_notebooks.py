"""Every notebook in notebooks/ runs top to bottom at SMOKE size, in its own run folder; the
runner shows its progress, stops a notebook that runs out of time, and exports HTML that
reads offline (MathML equations, no progress-bar widgets, no local paths)."""

import io
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from helpers.notebooks import (
    WIDGET_STATE,
    WIDGET_VIEW,
    NotebookError,
    clean_notebook,
    execute_notebook,
    export_html,
    local_path_replacements,
    markdown_math_to_mathml,
    redact_local_paths,
    strip_progress_widgets,
)

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9]*.ipynb"))
SMOKE_TIME_LIMIT_S = 900  # per notebook; the SMOKE runs take well under this on a 2-core CPU


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no numbered notebooks found in {NOTEBOOK_DIR}"


def _listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


@pytest.fixture(scope="session")
def smoke_out(tmp_path_factory):
    """Where the SMOKE runs write their executed notebooks: the report test builds from them."""
    return tmp_path_factory.mktemp("smoke-notebooks")


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_at_smoke_size(notebook, tmp_path, monkeypatch, smoke_out):
    # a fresh run folder for the kernel: nothing is reloaded from an earlier test run, and
    # nothing is written into the checkout's runs/
    runs = tmp_path / "runs"
    monkeypatch.setenv("NOVELTY_RUNS_DIR", str(runs))
    checkout_runs = _listing(REPO / "runs")
    log = io.StringIO()
    out = execute_notebook(notebook, smoke_out, smoke=True, html=True,
                           time_limit=SMOKE_TIME_LIMIT_S, progress=log)
    nb = nbformat.read(str(out), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert code and all(c.execution_count is not None for c in code), "a code cell did not run"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum(o.output_type in ("display_data", "execute_result") for o in outputs) >= 1
    assert f"cell {len(code)}/{len(code)}" in log.getvalue()  # progress reached the last cell
    source = "".join(c.source for c in code)
    if "train_audio_vae" in source or "NOVELTY_RUNS_DIR" in source:
        assert list(runs.rglob("last.pt")), "the notebook's models were not trained in its own run folder"
    assert _listing(REPO / "runs") == checkout_runs
    page = (smoke_out / (notebook.stem + ".html")).read_text()
    assert "$$" not in page and str(REPO) not in page
    assert not strip_progress_widgets(nbformat.read(str(out), as_version=4))  # none left


def _small_notebook(tmp_path):
    nb = new_notebook()
    params = new_code_cell("SMOKE = False")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_failing_notebook_raises_naming_it(tmp_path):
    nb = _small_notebook(tmp_path)
    nb.cells.append(new_code_cell("assert SMOKE is True\nraise ValueError('boom')"))
    path = tmp_path / "99_broken.ipynb"
    nbformat.write(nb, str(path))
    with pytest.raises(NotebookError, match="99_broken.ipynb.*ValueError.*boom"):
        execute_notebook(path, tmp_path / "out", smoke=True, html=False, progress=False)
    assert (tmp_path / "out" / "99_broken.ipynb").is_file()


@pytest.mark.slow
def test_runner_shows_progress_stops_at_the_time_limit_and_cleans_outputs(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("NOVELTY_DATA_DIR", str(data))
    nb = _small_notebook(tmp_path)
    nb.cells += [
        new_code_cell("from tqdm.auto import tqdm\n"
                      "for _ in tqdm(range(30), desc='inner', leave=False): pass\n"
                      "for _ in tqdm(range(3), desc='outer'): pass"),
        new_code_cell("import sys\nfrom helpers.data.paths import data_root\n"
                      "print('reading', data_root() / 'notes', file=sys.stderr)"),
        new_code_cell("import time\nif not SMOKE: time.sleep(60)"),
    ]
    path = tmp_path / "97_small.ipynb"
    nbformat.write(nb, str(path))
    log = io.StringIO()
    out = execute_notebook(path, tmp_path / "out", smoke=True, progress=log)
    lines = log.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines] == [f"[notebooks] 97_small.ipynb: cell {i}/5" for i in range(1, 6)]
    ran = nbformat.read(str(out), as_version=4)
    bar_cell, path_cell = ran.cells[2], ran.cells[3]
    assert [o.output_type for o in bar_cell.outputs] == ["stream"]  # the hidden bar is gone
    assert bar_cell.outputs[0].text.startswith("outer") and "3/3" in bar_cell.outputs[0].text
    assert "widgets" not in ran.metadata
    assert path_cell.outputs[0].text == "reading <data>/notes\n" and str(data) not in (tmp_path / "out" / "97_small.html").read_text()
    with pytest.raises(NotebookError, match=r"97_small.ipynb: stopped at cell 5/5 .*time limit of 8 s"):
        execute_notebook(path, tmp_path / "slow", smoke=False, html=False, time_limit=8, progress=False)


def test_markdown_math_becomes_mathml_and_code_is_left_alone():
    text = ("The bound $$\\log p(x) \\ge \\mathcal{L}(x)$$ with $\\beta = 1$.\n"
            "Code `$x$` and\n```\n$$ y $$\n```\ncosts $5 and $6 stay text.")
    out = markdown_math_to_mathml(text)
    assert out.count("<math") == 2 and 'display="block"' in out and 'display="inline"' in out
    assert "`$x$`" in out and "```\n$$ y $$\n```" in out and "costs $5 and $6 stay text." in out
    assert "$$" not in out.split("```")[0] and "\\beta" not in out


def _bar(state, bar_id, style, hidden, desc, right):
    ids = {k: f"{bar_id}-{k}" for k in ("left", "bar", "right", "layout")}
    state[bar_id] = {"model_name": "HBoxModel", "state": {"children": [f"IPY_MODEL_{ids[k]}" for k in ("left", "bar", "right")],
                                                          "layout": f"IPY_MODEL_{ids['layout']}"}}
    state[ids["left"]] = {"model_name": "HTMLModel", "state": {"value": desc}}
    state[ids["bar"]] = {"model_name": "FloatProgressModel", "state": {"value": 3, "max": 3, "bar_style": style}}
    state[ids["right"]] = {"model_name": "HTMLModel", "state": {"value": right}}
    state[ids["layout"]] = {"model_name": "LayoutModel", "state": {"visibility": "hidden" if hidden else None}}
    return new_output("display_data", data={WIDGET_VIEW: {"model_id": bar_id, "version_major": 2, "version_minor": 0},
                                            "text/plain": "  0%|          | 0/3 [00:00<?, ?it/s]"})


def test_progress_widgets_become_one_text_line_and_other_widgets_stay():
    state = {"slider": {"model_name": "IntSliderModel", "state": {"value": 3}}}
    kept = _bar(state, "kept", "success", False, "epochs: 100%", "3/3 [00:01&lt;00:00,  2.00it/s]")
    closed = _bar(state, "closed", "", True, "epoch 1: 40%", "2/5")
    slider = new_output("display_data", data={WIDGET_VIEW: {"model_id": "slider"}, "text/plain": "IntSlider(value=3)"})
    nb = new_notebook(cells=[new_code_cell("x", outputs=[closed, kept, new_output("stream", name="stdout", text="done\n"),
                                                             slider])])
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    assert strip_progress_widgets(nb) == 2
    outs = nb.cells[0].outputs
    assert outs[0] == new_output("stream", name="stdout", text="epochs: 100% 3/3 [00:01<00:00,  2.00it/s]\ndone\n")
    assert outs[1].data[WIDGET_VIEW]["model_id"] == "slider" and len(outs) == 2
    assert set(nb.metadata["widgets"][WIDGET_STATE]["state"]) == {"slider"}
    nb.cells[0].outputs = outs[:1]
    del nb.metadata["widgets"][WIDGET_STATE]["state"]["slider"]
    strip_progress_widgets(nb)
    assert "widgets" not in nb.metadata  # no state left: no widget script in the HTML


def test_local_paths_are_replaced_by_placeholders(tmp_path, monkeypatch):
    monkeypatch.setenv("NOVELTY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NOVELTY_RUNS_DIR", str(tmp_path / "runs"))
    pairs = local_path_replacements(REPO)
    text = (f"{tmp_path}/data/instruments/x.wav; {tmp_path}/runs/a-1; {REPO}/helpers/a.py; {REPO}-old/b; "
            f"{Path.home()}/.cache/c; /tmp/ipykernel_123/456.py:5: UserWarning")
    out = redact_local_paths(text, pairs)
    for expected in ("<data>/instruments/x.wav", "<runs>/a-1", "<repo>/helpers/a.py", "~/.cache/c", "<cell>:5: UserWarning"):
        assert expected in out
    assert "<repo>-old" not in out  # a longer name that starts with the path is another folder
    assert str(tmp_path) not in out and f"{REPO}/" not in out


def test_export_html_reads_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("NOVELTY_DATA_DIR", str(tmp_path / "data"))
    state = {}
    bar = _bar(state, "bar", "success", False, "epochs: 100%", "3/3")
    nb = new_notebook(cells=[
        new_markdown_cell("# Title\n$$\\mathbb{E}_{q(z|x)}[\\log p(x|z)]$$ and $z \\sim q$"),
        new_code_cell("run()", execution_count=1, outputs=[
            bar, new_output("stream", name="stderr", text=f"reading {tmp_path}/data/notes from {REPO}/helpers\n"),
            new_output("display_data", data={"text/markdown": "the scale is $\\sigma = 0.25$",
                                             "text/plain": "<Markdown>"})]),
    ])
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    path = tmp_path / "report.ipynb"
    nbformat.write(nb, str(path))
    page = export_html(path, tmp_path / "report.html").read_text()
    assert "$$" not in page and "$z" not in page and "$\\sigma" not in page and page.count("<math") == 3
    assert WIDGET_VIEW not in page and "mathjax" not in page.lower()
    assert str(tmp_path) not in page and str(REPO) not in page
    assert "reading &lt;data&gt;/notes from &lt;repo&gt;/helpers" in page and "epochs: 100% 3/3" in page
    assert clean_notebook(nbformat.read(str(path), as_version=4)).cells[1].outputs[0].text == "epochs: 100% 3/3\n"


@pytest.mark.slow
@pytest.mark.data
def test_report_builds_from_the_smoke_notebooks(smoke_out, tmp_path):
    """The report (`make report`) from the SMOKE runs above: a section per notebook linked from the
    contents, the results table filled from every notebook, figures and audio embedded as data, no
    script from the web; in a browser, every image decodes and every audio element has a duration."""
    import json
    import re

    from browser import check_media, need_browser
    from helpers.report import _anchor, build_report

    executed = [smoke_out / p.name for p in NOTEBOOKS]
    missing = [p.name for p in executed if not p.is_file()]
    if missing:
        pytest.skip(f"the SMOKE runs of {missing} did not run in this session (run tests/test_notebooks.py whole)")
    summary = build_report(executed, tmp_path / "report.html", tmp_path / "summary.json")
    page = (tmp_path / "report.html").read_text()
    assert json.loads((tmp_path / "summary.json").read_text()) == summary and summary["smoke"] is True
    for p in NOTEBOOKS:
        anchor = "nb-" + _anchor(p.stem)
        assert f'href="#{anchor}"' in page and re.search(f"id=[\"']{anchor}[\"']", page), p.name
    assert {r["notebook"] for r in summary["results"]} == {p.stem for p in NOTEBOOKS}
    assert all(r["value"] not in (None, "") for r in summary["results"])
    assert page.count("<tr>") >= len(summary["results"])
    audio = re.findall(r"<audio[^>]*>(?:\s*<source[^>]*>)?", page)
    images = re.findall(r"<img [^>]*>", page)
    assert audio and all("data:audio/" in a for a in audio)
    assert images and all("data:image/" in i for i in images)
    assert "<script src=" not in page and str(REPO) not in page and "it/s]" not in page
    if need_browser(skip=False) is None:
        return  # the structure is checked; the browser part runs where Chromium and Playwright are
    found = check_media(tmp_path / "report.html")
    assert found["images"] == len(images) and not found["bad_images"], found["bad_images"][:3]
    assert found["audio"] == len(audio) and not found["bad_audio"], found["bad_audio"][:3]
