"""helpers: the library behind the notebooks.

Novelty search in generative audio models through active divergence: variational
auto-encoders on MNIST and on orchestral notes, the audio transforms they learn from,
and the tools that push them away from their data.

Sub-packages (data flows one way: data -> audio -> models <- training; evaluation,
latent and display sit above and only call down; nothing in the core imports display):

- ``helpers.data``        fetch and verify MNIST, render the instrument set, read SOL-style trees
- ``helpers.audio``       STFT and NSGT transforms, phase reconstruction, metrics, cached spectra
- ``helpers.models``      the one VAE core, output distributions, encoders/decoders
- ``helpers.training``    the one Trainer, callbacks, checkpoints, grid search
- ``helpers.evaluation``  likelihood (IWAE), active units, novelty measures
- ``helpers.latent``      trajectories, interpolation, projections
- ``helpers.display``     plots, audio players, widgets (a leaf)
"""

import os as _os

# Large CPU tensors (spectrogram batches, NSGT coefficients) are backed by transparent huge
# pages: a fresh 64 MB tensor then costs 32 page faults instead of 16,000. Measured on a 2-core
# CPU, the NSGT forward + backward of 64 one-second notes at 24 bins per octave went from
# 0.049 s to 0.036 s. PyTorch reads this variable at its first
# large allocation, so it only takes effect when ``helpers`` is imported before tensors are
# made; set THP_MEM_ALLOC_ENABLE=0 in the environment to opt out.
_os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

__version__ = "0.1.0"
