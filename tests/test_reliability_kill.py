"""A training process killed with SIGKILL mid-epoch, several times at random points, resumes from
its last checkpoint each time (never a corrupted file, never a lost epoch) and ends bit-identical
to a run that was never interrupted."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.training.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parents[1]
N_EPOCHS = 8
CHILD = r'''
import sys
import torch
torch.set_num_threads(1)
from helpers.models.vae import VAEConfig
from helpers.training.cached import cached_fit
from helpers.training.callbacks import Callback
from helpers.training.trainer import TrainerConfig

class Tell(Callback):
    def on_epoch_begin(self, trainer):
        print(f"epoch {trainer.epoch + 1}", flush=True)

x = (torch.rand(3000, 28, 28, generator=torch.Generator().manual_seed(0)) > 0.5).float()
run = cached_fit(VAEConfig(z_dim=4, hidden=(64,)), TrainerConfig(n_epochs=%d, batch_size=50, progress=False,
                 device="cpu", keep_best=False), x, name="kill", run_root=sys.argv[1], callbacks=[Tell()])
torch.save(run.model.state_dict(), sys.argv[2])
print("done", flush=True)
''' % N_EPOCHS


def start(script, run_root, out):
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", script, str(run_root), str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)


def last_epoch(run_root):
    ckpts = list(Path(run_root).rglob("checkpoints/last.pt"))
    return load_checkpoint(ckpts[0])["epoch"] if ckpts else 0  # loads: never a corrupted file


@pytest.mark.slow
def test_sigkill_at_random_points_resumes_to_the_uninterrupted_weights(tmp_path):
    rng = np.random.default_rng(0)
    straight = start(CHILD, tmp_path / "straight", tmp_path / "straight.pt")
    killed_root, out = tmp_path / "killed", tmp_path / "killed.pt"
    kills, seen = 0, []
    while kills < 3:
        proc = start(CHILD, killed_root, out)
        target = int(rng.integers(2, N_EPOCHS))  # kill inside this epoch
        before = last_epoch(killed_root)
        for line in proc.stdout:
            if line.startswith("epoch") and int(line.split()[1]) >= target:
                time.sleep(float(rng.uniform(0.0, 0.05)))
                proc.send_signal(signal.SIGKILL)
                break
            if line.startswith("done"):
                break
        proc.wait()
        if proc.returncode == -signal.SIGKILL:
            kills += 1
            after = last_epoch(killed_root)
            seen.append(after)
            assert after >= before  # no epoch that had been checkpointed is lost
        assert not out.exists()
    resume_from = last_epoch(killed_root)
    proc = start(CHILD, killed_root, out)
    lines = proc.stdout.read().split()
    assert proc.wait() == 0 and lines[-1] == "done"
    assert resume_from >= 1 and lines[:2] == ["epoch", str(resume_from + 1)]  # resumed, not restarted
    assert straight.wait() == 0
    a, b = torch.load(tmp_path / "straight.pt", weights_only=True), torch.load(out, weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert max(seen) >= 1  # at least one kill came after a checkpoint, so a resume really happened
    leftovers = [p for p in killed_root.rglob("*") if p.name.endswith((".tmp", ".part"))]
    assert not leftovers  # a temporary a kill left was removed by the next write of its file
