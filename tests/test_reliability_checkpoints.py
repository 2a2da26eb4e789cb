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


def test_disk_full_and_read_only_folders_name_the_path_and_leave_no_partial_file(tmp_path, monkeypatch):
    import errno
    import os
    import tempfile

    from helpers.training.checkpoint import save_json

    path = save_checkpoint({"epoch": 1}, tmp_path / "run" / "last.pt")
    real_fsync = os.fsync

    def full(fd):  # the disk fills up while the new checkpoint is written
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=r"last\.pt: writing failed.*No space left") as err:
        save_checkpoint({"epoch": 2}, path)
    assert err.value.errno == errno.ENOSPC
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert load_checkpoint(path)["epoch"] == 1                      # the old checkpoint is intact
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]  # no temporary file left

    def read_only(*args, **kwargs):  # what a read-only file system answers
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(OSError, match=r"metrics\.json: cannot write in .*run.*Read-only"):
        save_json({"a": 1}, tmp_path / "run" / "metrics.json")
    assert not (tmp_path / "run" / "metrics.json").exists()
