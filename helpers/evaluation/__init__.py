"""Evaluation of trained models: likelihood (IWAE), active units, latent grids and projections, the
judges (trained classifiers) and the novelty measures."""

from .latent import (
    active_units,
    decode_manifold_grid,
    encode_dataset,
    manifold_grid_z,
    prior_samples,
    project_latent,
    reconstructions,
)
from . import judges, novelty  # judges (trained classifiers) and the novelty measures
from .likelihood import elbo_terms, iwae_log_likelihood, evaluate_model

__all__ = [
    "active_units", "decode_manifold_grid", "elbo_terms", "encode_dataset", "iwae_log_likelihood",
    "manifold_grid_z", "prior_samples", "project_latent", "reconstructions", "evaluate_model",
]
