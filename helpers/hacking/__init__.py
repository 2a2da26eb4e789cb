"""Hacking trained generators without harming them (Broad, Berns et al., 2021, "Active divergence
with generative deep learning"): weight corruption (:mod:`.corrupt`, pure functions returning a
copy), network bending (:mod:`.bend`, removable forward hooks), latent search with a frozen
generator (:mod:`.search`) and fine-tuned copies of a decoder (:mod:`.finetune`)."""

from .bend import BEND_OPS, Bend, BendChain, bend, bendable_layers, channel_clusters
from .corrupt import CORRUPTIONS, Corruption, corrupt, weight_layers, weights_fingerprint
from .search import SearchConfig, SearchResult, judge_score, latent_search, negative_elbo, time_search_step

__all__ = ["BEND_OPS", "Bend", "BendChain", "CORRUPTIONS", "Corruption", "bend", "bendable_layers", "channel_clusters",
           "corrupt", "judge_score", "latent_search", "negative_elbo", "SearchConfig", "SearchResult",
           "time_search_step", "weight_layers", "weights_fingerprint"]
