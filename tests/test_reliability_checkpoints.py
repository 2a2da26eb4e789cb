"""Checkpoints that cannot be trusted are refused with an error naming the file."""

import pickle

import pytest
import torch

from helpers.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


class Payload:
    """An arbitrary object: unpickling it would import and run this module's code."""

    def __reduce__(self):
        return (print, ("code ran while loading",))


def test_a_checkpoint_with_pickled_code_is_refused_by_name(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"model_state": {"w": torch.ones(2)}, "extra": Payload()}, path)
    with pytest.raises(CheckpointError, match="evil.pt: refused, it holds pickled code"):
        load_checkpoint(path)
    assert "code ran" not in capsys.readouterr().out


def test_truncated_garbage_and_missing_checkpoints_are_refused_by_name(tmp_path):
    good = save_checkpoint({"model_state": {"w": torch.arange(1000.0)}, "epoch": 3}, tmp_path / "good.pt")
    assert load_checkpoint(good)["epoch"] == 3
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:300])
    with pytest.raises(CheckpointError, match="cut.pt: not a readable checkpoint"):
        load_checkpoint(cut)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(pickle.dumps([1, 2, 3])[:5])
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_checkpoint(junk)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")
