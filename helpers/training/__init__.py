"""The one Trainer, its callbacks, checkpoints, run folders and the grid search."""

from .callbacks import BetaWarmup, Callback, TensorBoardLogger, TimeBudget, beta_schedule
from .checkpoint import library_versions, load_checkpoint, load_model, save_checkpoint, save_json
from .grid_search import grid_search, results_table
from .run import config_hash, latest_run_dir, new_run_dir, runs_root
from .seed import seed_everything
from .trainer import NonFiniteLossError, Trainer, TrainerConfig, has_fast_bf16

__all__ = [
    "BetaWarmup", "Callback", "NonFiniteLossError", "TensorBoardLogger", "TimeBudget", "Trainer", "TrainerConfig",
    "beta_schedule", "config_hash", "grid_search", "has_fast_bf16", "latest_run_dir", "library_versions", "load_checkpoint",
    "load_model", "new_run_dir", "results_table", "runs_root", "save_checkpoint", "save_json",
    "seed_everything",
]
