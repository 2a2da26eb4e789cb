"""MNIST VAE benchmark: training speed of the project Trainer against a pytorch/examples-style
loop, and the test NLL (IWAE bound) of the notebook's default set-up and of the best one.

    python benchmarks/mnist_vae.py --parts speed                  # a few minutes
    python benchmarks/mnist_vae.py --parts nll --presets default  # ~5 minutes
    python benchmarks/mnist_vae.py --parts nll --presets best --minutes 60 --k 5000
    python benchmarks/mnist_vae.py --smoke --out /tmp/x.json      # seconds (what the test runs)

(a) speed: the loops train the same 784-400-20 MLP VAE (batch 128, Adam 1e-3) for the same
epochs, alternating epoch by epoch so that load from other processes hits them alike. The
reference is written like pytorch/examples/vae: torchvision MNIST with ToTensor through a
DataLoader, BCE on sigmoid outputs, ``loss.item()`` every step. The project Trainer cuts
batches from the in-memory uint8 tensor, binarises them on the fly, and writes a checkpoint
every epoch; it runs once in fp32 and once with bf16 autocast (``--speed-precisions``).
Reported: seconds per epoch (median and min, first epoch excluded) and the ratios.

(b) nll: trains a preset (``helpers.training.presets``) on the 60000 training images, then
estimates -log p(x) on the 10000 test images, binarised once with a fixed seed, by the IWAE
bound with k samples (Burda et al., 2016), plus ELBO, KL and active units.

Prints the JSON and merges it into ``--out`` (default benchmarks/results/mnist_vae.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from helpers.benchmarking import machine_description
from helpers.data.mnist import dynamic_binarize, load_mnist, mnist_dir
from helpers.device import pick_device
from helpers.evaluation import evaluate_model
from helpers.models import VAEConfig, build_model
from helpers.training import BetaWarmup, TensorBoardLogger, TimeBudget, Trainer, TrainerConfig, seed_everything
from helpers.training.presets import PRESETS, mnist_preset

RESULTS = Path(__file__).resolve().parent / "results" / "mnist_vae.json"


def machine() -> dict:
    """The machine description stored with the results."""
    return machine_description()


# ----------------------------------------------------------------------- reference loop
class ReferenceVAE(nn.Module):
    """The VAE of pytorch/examples/vae/main.py (784-400-20, ReLU, sigmoid output)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def reference_loss(recon_x, x, mu, logvar):
    """BCE + KLD as in pytorch/examples (Kingma & Welling, 2014, Appendix B)."""
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def torchvision_root(tmp: Path) -> Path:
    """A folder laid out as torchvision expects (``MNIST/raw/<idx files>``), linking the project's files."""
    raw = tmp / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    load_mnist("test")  # fetches and verifies the files if needed
    for src in mnist_dir().glob("*-ubyte"):
        dest = raw / src.name
        if not dest.exists():
            dest.symlink_to(src.resolve())
    return tmp


def make_reference(root: Path, n_train: int | None, device: torch.device):
    """The pytorch/examples set-up: dataset, DataLoader, model, optimizer, one-epoch function."""
    from torchvision import datasets, transforms

    dataset = datasets.MNIST(str(root), train=True, download=False, transform=transforms.ToTensor())
    if n_train is not None:
        dataset = torch.utils.data.Subset(dataset, range(n_train))
    kwargs = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
    loader = torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=True, **kwargs)
    model = ReferenceVAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_epoch() -> float:
        model.train()
        train_loss = 0.0
        for data, _ in loader:
            data = data.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = reference_loss(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        return train_loss / len(loader.dataset)

    return train_epoch


def _stats(times: list[float]) -> dict:
    """Per-epoch times, with median and min over the epochs after the first."""
    measured = times[1:] if len(times) > 1 else times  # the first epoch warms up
    return {"s_per_epoch": times, "median_s": statistics.median(measured), "min_s": min(measured)}


def speed(args) -> dict:
    """Seconds per epoch of the reference loop and of the Trainer (one run per precision),
    interleaved epoch by epoch so that load from other processes hits all of them alike."""
    x_train, _ = load_mnist("train_full")
    if args.n_train:
        x_train = x_train[:args.n_train]
    device = pick_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        seed_everything(0)
        ref_epoch = make_reference(torchvision_root(Path(tmp) / "tv"), args.n_train, device)
        trainers = {}
        for precision in args.speed_precisions:
            seed_everything(0)
            config = TrainerConfig(n_epochs=0, batch_size=128, lr=1e-3, progress=False, device=args.device,
                                   precision=precision, run_root=str(Path(tmp) / "runs"), name=f"speed-{precision}")
            trainers[precision] = Trainer(build_model(VAEConfig()), config, batch_transform=dynamic_binarize)
        times = {"reference": [], **{p: [] for p in trainers}}
        ref_losses = []
        for epoch in range(args.speed_epochs):
            start = time.perf_counter()
            ref_losses.append(ref_epoch())
            times["reference"].append(time.perf_counter() - start)
            for precision, trainer in trainers.items():
                trainer.config.n_epochs = epoch + 1
                start = time.perf_counter()
                trainer.fit(x_train)  # one more epoch, its checkpoint included
                times[precision].append(time.perf_counter() - start)
            print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()),
                  file=sys.stderr, flush=True)
    ref = _stats(times["reference"])
    result = {"model": "784-400-20 MLP VAE, batch 128, Adam 1e-3", "n_train": len(x_train),
              "device": str(device), "torch_threads": torch.get_num_threads(), "target_ratio": 0.4,
              "reference": {**ref, "train_loss": ref_losses}}
    for precision, trainer in trainers.items():
        st = _stats(times[precision])
        result[f"trainer_{precision}"] = {
            **st, "precision_used": trainer.precision, "ratio_median": st["median_s"] / ref["median_s"],
            "ratio_min": st["min_s"] / ref["min_s"], "train_loss": [h["train_loss"] for h in trainer.history]}
    return result


# ------------------------------------------------------------------------------ NLL part
def nll(args, preset_name: str) -> dict:
    """Train a preset on the training images and report IWAE NLL and friends on the test images."""
    preset = mnist_preset(preset_name)
    x_train, _ = load_mnist("train_full")
    x_test, y_test = load_mnist("test")
    if args.n_train:
        x_train = x_train[:args.n_train]
    if args.n_test:
        x_test, y_test = x_test[:args.n_test], y_test[:args.n_test]
    changes = {"progress": args.progress, "device": args.device, "precision": args.precision}
    if args.epochs is not None:
        changes["n_epochs"] = args.epochs
    if args.run_root is not None:
        changes["run_root"] = args.run_root
    trainer_config = preset.trainer.replace(**changes)
    seed_everything(trainer_config.seed)
    model = build_model(preset.model)
    callbacks = []
    if preset.warmup_epochs:
        callbacks.append(BetaWarmup(n_epochs=preset.warmup_epochs))
    if args.minutes is not None:
        callbacks.append(TimeBudget(args.minutes))
    run_dir = False if args.no_checkpoints else None
    if not args.no_checkpoints:  # <run>/tensorboard: loss terms, beta, reconstructions, samples, latent scatter
        callbacks.append(TensorBoardLogger(every_n_steps=100, x_ref=x_test[:1000], y_ref=y_test[:1000],
                                           image_every=max(1, trainer_config.n_epochs // 20),
                                           ref_transform=lambda x: dynamic_binarize(x, generator=torch.Generator().manual_seed(0))))
    trainer = Trainer(model, trainer_config, callbacks=callbacks, batch_transform=dynamic_binarize,
                      run_dir=run_dir, extra_config={"preset": preset_name, "n_train": len(x_train)})
    start = time.perf_counter()
    history = trainer.fit(x_train)
    train_s = time.perf_counter() - start
    x_bin = dynamic_binarize(x_test, generator=torch.Generator().manual_seed(0))  # binarised once
    start = time.perf_counter()
    metrics = evaluate_model(trainer.model, x_bin, k=args.k, batch_size=args.iwae_batch,
                             generator=None, progress=args.progress)
    eval_s = time.perf_counter() - start
    return {
        "preset": preset_name, "note": preset.note,
        "model_config": preset.model.to_dict(), "trainer_config": trainer_config.to_dict(),
        "warmup_epochs": preset.warmup_epochs, "n_train": len(x_train), "n_test": len(x_test),
        "epochs_trained": trainer.epoch, "train_minutes": train_s / 60,
        "final_train_loss": history[-1]["train_loss"] if history else None,
        "test": metrics, "eval_minutes": eval_s / 60,
        "run_dir": str(trainer.run_dir) if trainer.run_dir is not None else None,
        "target_nll": {"default": 92.0, "best": 84.0}.get(preset_name),
    }


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options; ``--smoke`` shrinks everything to seconds."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", nargs="+", choices=("speed", "nll"), default=["speed", "nll"])
    p.add_argument("--presets", nargs="+", choices=PRESETS, default=["default"])
    p.add_argument("--speed-epochs", type=int, default=5, help="epochs per loop in the speed part (first is warm-up)")
    p.add_argument("--epochs", type=int, default=None, help="override the preset's number of epochs")
    p.add_argument("--minutes", type=float, default=None, help="training time budget per preset")
    p.add_argument("--k", type=int, default=1000, help="importance samples of the IWAE bound")
    p.add_argument("--iwae-batch", type=int, default=100, help="test examples per IWAE batch")
    p.add_argument("--n-train", type=int, default=None, help="use only the first n training images")
    p.add_argument("--n-test", type=int, default=None, help="use only the first n test images")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", choices=("fp32", "bf16", "auto"), default="auto",
                   help="precision of the NLL runs (auto: bf16 where the hardware has it)")
    p.add_argument("--speed-precisions", nargs="+", choices=("fp32", "bf16", "auto"), default=["fp32", "bf16"],
                   help="one Trainer run per precision in the speed part")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--run-root", default=None, help="where the NLL runs' folders go")
    p.add_argument("--no-checkpoints", action="store_true", help="NLL runs keep nothing on disk")
    p.add_argument("--progress", action="store_true", help="progress bars")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script runs")
    p.add_argument("--out", type=Path, default=RESULTS, help="JSON file to merge the results into")
    args = p.parse_args(argv)
    if args.smoke:
        args.n_train, args.n_test, args.k, args.epochs = args.n_train or 1024, args.n_test or 100, min(args.k, 10), 1
        args.speed_epochs = min(args.speed_epochs, 2)
    return args


def main(argv=None) -> dict:
    """Run the asked parts, print their JSON and merge it into ``--out``."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = {"machine": machine(), "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    if "speed" in args.parts:
        result["speed"] = speed(args)
    if "nll" in args.parts:
        result["nll"] = {name: nll(args, name) for name in args.presets}
    if hasattr(os, "getloadavg"):
        result["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    for part in [result.get("speed"), *result.get("nll", {}).values()]:
        if part is not None:
            part["machine"] = result["machine"]  # the load differs from run to run
    merged = {}
    if args.out.exists():
        try:
            merged = json.loads(args.out.read_text())
        except json.JSONDecodeError:
            merged = {}
    merged["machine"] = result["machine"]
    merged.setdefault("runs", {})
    key = "smoke" if args.smoke else "full"
    merged["runs"].setdefault(key, {})
    if "speed" in result:
        merged["runs"][key].setdefault("speed", {})[f"threads={torch.get_num_threads()}"] = result["speed"]
    for name, value in result.get("nll", {}).items():
        merged["runs"][key].setdefault("nll", {})[name] = value
    merged["runs"][key].setdefault("args", {}).update({" ".join(args.parts): result["args"]})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(merged, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
