"""A learning curve finer than the per-epoch history: training loss terms against the number of
training examples seen, and the held-out ELBO at the same points (Kingma & Welling, 2014, Fig. 2).
"""

from __future__ import annotations

from typing import Callable

import torch

from .callbacks import Callback


class LearningCurve(Callback):
    """Records, every ``every_n_steps`` optimisation steps, the mean of each training loss term
    over those steps (``train_elbo``, ``train_rec``, ``train_kl``, ``train_loss``...) and ``beta``,
    keyed by ``examples`` (training examples seen so far) and ``step``.

    With ``x_eval``, every ``eval_every_n_steps`` steps (default: ``every_n_steps``) it also
    records the mean loss terms on ``x_eval`` (``eval_elbo``...) through ``trainer.evaluate``,
    with ``eval_transform`` ("same": the trainer's evaluation transform; None: ``x_eval`` as is,
    e.g. binarised once). ``eval_fn(model) -> dict`` adds anything else to those records (e.g.
    the number of active units). Steps are summed on the device and read once per window.

    Both lists travel in checkpoints (``state_dict``), so a reloaded run keeps its curve.
    """

    def __init__(self, every_n_steps: int = 50, x_eval: torch.Tensor | None = None,
                 eval_every_n_steps: int | None = None, eval_transform: Callable | None | str = None,
                 eval_fn: Callable[[torch.nn.Module], dict] | None = None):
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps={every_n_steps}: need at least 1")
        self.every_n_steps = int(every_n_steps)
        self.x_eval = x_eval
        self.eval_every_n_steps = int(eval_every_n_steps or every_n_steps)
        self.eval_transform = eval_transform
        self.eval_fn = eval_fn
        self.records: list[dict] = []
        self.eval_records: list[dict] = []
        self.examples = 0
        self._sums: dict[str, torch.Tensor] | None = None
        self._count = 0

    def on_step_end(self, trainer, outputs) -> None:
        n = next((len(v) for v in outputs.values() if v.dim()), 0)
        if self._sums is None:
            self._sums = {k: torch.zeros((), device=v.device, dtype=torch.float64) for k, v in outputs.items()}
        for k, v in outputs.items():
            self._sums[k] += v.sum() if v.dim() else v * n
        self._count += n
        self.examples += n
        step = trainer.global_step
        if step % self.every_n_steps == 0:
            self._flush(trainer)
        if (self.x_eval is not None or self.eval_fn is not None) and step % self.eval_every_n_steps == 0:
            record = {"examples": self.examples, "step": step}
            if self.x_eval is not None:
                record.update(trainer.evaluate(self.x_eval, transform=self.eval_transform, prefix="eval_"))
            if self.eval_fn is not None:
                record.update(self.eval_fn(trainer.model))
                trainer.model.train()
            self.eval_records.append(record)

    def on_epoch_end(self, trainer, metrics) -> None:
        self._flush(trainer)  # the partial window that ends the epoch, before the checkpoint

    def _flush(self, trainer) -> None:
        if not self._sums or self._count == 0:
            return
        values = torch.stack(list(self._sums.values())).cpu().tolist()  # one sync per window
        record = {"examples": self.examples, "step": trainer.global_step}
        record.update({f"train_{k}": v / self._count for k, v in zip(self._sums, values)})
        if hasattr(trainer.model, "beta"):
            record["beta"] = float(trainer.model.beta)
        self.records.append(record)
        self._sums, self._count = None, 0

    def state_dict(self) -> dict:
        return {"records": self.records, "eval_records": self.eval_records, "examples": self.examples}

    def load_state_dict(self, state: dict) -> None:
        self.records = list(state.get("records", []))
        self.eval_records = list(state.get("eval_records", []))
        self.examples = int(state.get("examples", 0))
