"""Every notebook in notebooks/ runs top to bottom at SMOKE size."""

from pathlib import Path

import pytest

from helpers.notebooks import NotebookError, execute_notebook

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9]*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no numbered notebooks found in {NOTEBOOK_DIR}"


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_at_smoke_size(notebook, tmp_path):
    out = execute_notebook(notebook, tmp_path, smoke=True, html=True)
    assert out.is_file()
    assert (tmp_path / (notebook.stem + ".html")).is_file()


def test_failing_notebook_raises_naming_it(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("SMOKE = False")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("assert SMOKE is True\nraise ValueError('boom')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "99_broken.ipynb"
    nbformat.write(nb, str(path))
    with pytest.raises(NotebookError, match="99_broken.ipynb.*ValueError.*boom"):
        execute_notebook(path, tmp_path / "out", smoke=True, html=False)
    assert (tmp_path / "out" / "99_broken.ipynb").is_file()
