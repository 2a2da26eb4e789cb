"""Notebook 03 runs at SMOKE size on a user's tree of real-recording layout (TinySOL names, 44.1 kHz
stereo 24-bit, no split folders), given as its ``AUDIO_ROOT`` parameter."""

from pathlib import Path

import pytest

from helpers.notebooks import execute_notebook
from sol_trees import write_tinysol_tree

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_audio_vae.ipynb"


def _output_text(notebook) -> str:
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            data = out.get("data", {})
            parts += [data.get("text/plain", ""), data.get("text/markdown", ""), data.get("text/html", "")]
    return "\n".join("".join(p) if isinstance(p, list) else p for p in parts)


@pytest.mark.slow
def test_notebook_03_trains_on_a_tinysol_tree(tmp_path, monkeypatch):
    tree = write_tinysol_tree(tmp_path / "TinySOL")
    monkeypatch.setenv("NOVELTY_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("NOVELTY_CACHE_DIR", str(tmp_path / "cache"))
    out = execute_notebook(NOTEBOOK, tmp_path / "out", smoke=True, parameters={"AUDIO_ROOT": str(tree)},
                           html=False, timeout=600)
    text = _output_text(out)
    # the notes shown are the tree's, under their canonical names: Guitar is in no rendered set,
    # Oboe only in the rendered set; "Violoncello" is the tree's folder spelling of Cello
    assert "Guitar" in text and "Cello" in text
    assert "Oboe" not in text and "Violoncello" not in text
    # what the notebook trained lives in this test's run folder, on this tree's spectra
    assert list((tmp_path / "runs").glob("audio-note-*")) and list((tmp_path / "cache" / "spectra").glob("stft-*"))
