"""Audio transforms: STFT and constant-Q NSGT behind one interface, phase reconstruction,
spectral metrics and a disk cache of dataset spectra.

- :mod:`helpers.audio.transform`  :class:`AudioTransform`, configs, scaling, the registry of kinds
  (:func:`register_transform`) and :func:`build_transform`, which looks it up
- :mod:`helpers.audio.stft`       :class:`STFTTransform` (torchaudio spectrogram, fast Griffin-Lim)
- :mod:`helpers.audio.nsgt`       :class:`NSGTTransform` (constant-Q NSGT, phase-vocoder start)
- :mod:`helpers.audio.nsgt_torch` :class:`TorchNSGT`, batched differentiable NSGT equal to the package
- :mod:`helpers.audio.nsgt_ref`   the ``nsgt`` package as reference
- :mod:`helpers.audio.griffinlim` fast Griffin-Lim for any frame, phase-vocoder initial phase
- :mod:`helpers.audio.metrics`    spectral convergence, log-spectral and multi-resolution STFT distances
- :mod:`helpers.audio.cache`      spectra of a dataset, computed once, keyed by config and files
"""

from helpers.audio.transform import (TRANSFORMS, AudioTransform, MagnitudeScaler, NSGTConfig, STFTConfig,
                                     TransformConfig, build_transform, config_from_dict, register_transform)

# the transform kinds register themselves on import (see ``register_transform``)
from helpers.audio.nsgt import NSGTTransform  # noqa: E402  (after the interface it registers into)
from helpers.audio.stft import STFTTransform  # noqa: E402

__all__ = ["AudioTransform", "MagnitudeScaler", "NSGTConfig", "NSGTTransform", "STFTConfig", "STFTTransform",
           "TRANSFORMS", "TransformConfig", "build_transform", "config_from_dict", "register_transform"]
