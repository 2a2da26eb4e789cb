"""The one VAE core, its output distributions and its encoders/decoders."""

from .config import Config
from .classifiers import Classifier, ClassifierConfig, pack, unpack
from .distributions import AutoregressiveBernoulli, Bernoulli, Gaussian, Laplace, OutputDistribution, build_distribution
from .sparse_ae import SparseAE, SparseAEConfig, sparse_ae_config
from .networks import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder
from .vae import (
    VAE,
    VAEConfig,
    build_model,
    config_from_dict,
    gaussian_kl,
    log_normal_diag,
    log_normal_standard,
    register_model,
    reparameterize,
)

__all__ = [
    "AutoregressiveBernoulli", "Bernoulli", "Classifier", "ClassifierConfig", "Config", "ConvDecoder", "ConvEncoder", "Gaussian", "Laplace", "MLPDecoder",
    "MLPEncoder", "OutputDistribution", "VAE", "VAEConfig", "build_distribution", "build_model",
    "config_from_dict", "gaussian_kl", "log_normal_diag", "log_normal_standard",
    "pack", "register_model", "reparameterize", "SparseAE", "SparseAEConfig", "sparse_ae_config", "unpack",
]
