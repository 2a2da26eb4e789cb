"""Interrupted writes leave nothing trusted and nothing behind: a data fetch killed with SIGKILL
at random points is redone on the next run (every file it keeps matches its checksum), and the
temporaries a killed process leaves (data files, checkpoints) are removed by the next write of the
same file; those of a process that still runs are never touched."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.data import mnist
from helpers.data.fetch_utils import atomic_path, is_valid, sweep_stale, temp_prefix
from helpers.training.checkpoint import load_checkpoint, save_checkpoint

REPO = Path(__file__).resolve().parents[1]


def dead_pid() -> int:
    """The id of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_sweep_stale_removes_only_what_dead_processes_left(tmp_path):
    dead, me = dead_pid(), os.getpid()
    (tmp_path / "last.pt").write_bytes(b"kept")
    stale = tmp_path / f".last.pt.{dead}.ab12cd.tmp"
    live = tmp_path / f".last.pt.{me}.ef34gh.tmp"
    other = tmp_path / f".best.pt.{dead}.ij56kl.tmp"
    folder = tmp_path / f".npm-pack.{dead}.mn78op.tmp"
    for p in (stale, live, other):
        p.write_bytes(b"half")
    folder.mkdir()
    (folder / "package.tgz").write_bytes(b"half")
    assert sweep_stale(tmp_path, "last.pt") == [stale]
    assert live.exists() and other.exists() and folder.exists()
    assert set(sweep_stale(tmp_path)) == {other, folder}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["last.pt", live.name])


def test_the_next_write_of_a_file_removes_what_a_killed_writer_left(tmp_path):
    dead = dead_pid()
    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint({"epoch": 1}, path)
    left = path.parent / f".last.pt.{dead}.x1y2z3.tmp"
    left.write_bytes(b"half a checkpoint")
    save_checkpoint({"epoch": 2}, path)
    assert load_checkpoint(path)["epoch"] == 2 and sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]
    data = tmp_path / "mnist" / "train-labels-idx1-ubyte"
    data.parent.mkdir()
    (data.parent / f".{data.name}.{dead}.q9w8e7.part").write_bytes(b"half")
    with atomic_path(data) as tmp:
        assert tmp.name.startswith(temp_prefix(data.name))
        tmp.write_bytes(b"whole")
    assert sorted(p.name for p in data.parent.iterdir()) == [data.name]


CHILD = r'''
import shutil, sys, time
from pathlib import Path
import helpers.data.mnist as m

source = Path(sys.argv[2])

def local_package(spec, dest):  # the npm package, from the files already fetched
    package = Path(dest) / "package"
    (package / "data").mkdir(parents=True)
    for name in m.MD5:
        (package / "data" / name).symlink_to(source / name)
    return package

def slow_copy(src, dst, *args, **kwargs):  # a slow network: the copy takes about a second
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while chunk := fi.read(1 << 20):
            fo.write(chunk)
            fo.flush()
            time.sleep(0.01)
    return dst

m.npm_pack = local_package
shutil.copyfile = slow_copy
print("start", flush=True)
m.fetch_mnist(sys.argv[1], use_web=False)
print("done", flush=True)
'''


@pytest.mark.slow
@pytest.mark.data
def test_a_killed_fetch_is_redone_and_never_trusted(tmp_path):
    source = mnist.mnist_dir()
    if not all(is_valid(source / name, md5, "md5") for name, md5 in mnist.MD5.items()):
        pytest.skip("MNIST not fetched (make data)")
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    run = lambda: subprocess.Popen([sys.executable, "-c", CHILD, str(root), str(source)], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True, env=env)
    kills, kept = 0, []
    for _ in range(6):
        proc = run()
        assert proc.stdout.readline().strip() == "start"
        time.sleep(float(rng.uniform(0.05, 0.8)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += proc.returncode == -signal.SIGKILL
        folder = root / "mnist"
        finals = [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.is_dir() else []
        # a file under its final name is whole: it was moved there only after its checksum matched
        assert all(is_valid(p, mnist.MD5[p.name], "md5") for p in finals), [p.name for p in finals]
        kept.append(len(finals))
    print(f"files kept after each kill: {kept}")
    assert kills >= 4  # most runs were killed mid-fetch
    proc = run()
    out = proc.communicate()[0].split()
    assert proc.returncode == 0 and out[-1] == "done"
    folder = root / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(mnist.MD5)  # complete, no leftover
    assert all(is_valid(folder / name, md5, "md5") for name, md5 in mnist.MD5.items())
    x, y = mnist.load_mnist("test", root=root)
    assert x.shape == (10000, 28, 28) and torch.equal(y, mnist.load_mnist("test")[1])
