"""Shared test settings."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread avoids thread-pool stalls on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


TOY_SR, TOY_N = 8000, 4000  # sample rate and length of the toy notes (half a second at 8 kHz)


@pytest.fixture(scope="module")
def toy_audio_root(tmp_path_factory):
    """A tiny SOL-style note set under ``<root>/notes``, with the data folder (spectra cache)
    pointed at ``<root>/data`` and one torch thread for the whole module."""
    from helpers.data.toy import write_toy_note_set

    root = tmp_path_factory.mktemp("toy")
    write_toy_note_set(root / "notes", TOY_SR, TOY_N, pitches=(60, 67), dynamics=("ff",))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    mp = pytest.MonkeyPatch()
    mp.setenv("NOVELTY_DATA_DIR", str(root / "data"))
    yield root
    mp.undo()
    torch.set_num_threads(threads)
