"""A batched, differentiable PyTorch constant-Q NSGT equal to the ``nsgt`` package's
``CQ_NSGT(real=True, matrixform=True)`` (Velasco et al. 2011, "Constructing an invertible
constant-Q transform with non-stationary Gabor frames"; Holighaus et al. 2013).

Same frequency scale, windows, dual windows and frame layout as the package: they are read from
the package's own frame once (:func:`helpers.audio.nsgt_ref.package_frame`) and turned into
dense index/weight tables, so that

- forward  = one ``rfft`` of the signal, one gather of the bins under every window (with the
  conjugate of the mirrored bin where a window reaches below 0 Hz or above Nyquist, since the
  package reads a full complex FFT), a multiply by the window, a scatter into a zero
  ``(batch, n_bins, M)`` buffer, one batched ``ifft`` of length ``M``;
- backward = one batched ``fft``, one gather (including the conjugate-mirrored bands the package
  adds for a real signal), a multiply by ``M`` times the dual window, a scatter-add into the
  half spectrum, one ``irfft``.

Layout facts mirrored from the package: each band's window centre goes to index 0 of its
length-``M`` buffer (no fftshift), the positive half first, the negative half wrapped to the
end; the dual windows are built for the matrix-form ``M`` (so they are reused, not rebuilt).

Every step is a differentiable torch op, so gradients flow through both directions; any
device and float32/float64 work (tables are cast once per device and dtype).

The cost is dominated by the two length-``M`` FFTs over ``batch x n_bins`` rows; ``M`` with
only small prime factors makes them about 2x faster (:func:`smooth_fmax` picks such an ``fmax``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from helpers.audio.nsgt_ref import band_frequencies, package_frame


def _frame_tables(frame) -> dict[str, np.ndarray]:
    """Index/weight tables of the package frame (see the module docstring)."""
    nn = int(frame.nn)
    n_bins = len(frame.g) // 2 + 1
    M = int(frame.M[0])
    half = nn // 2

    # forward: temp[:(Lg+1)//2] = g[:(Lg+1)//2] * ft[win[Lg//2:]],
    #          temp[-(Lg//2):]  = g[-(Lg//2):]  * ft[win[:Lg//2]]            (nsgtf_loop)
    pos, bins, weights = [], [], []
    for k in range(n_bins):
        g = np.asarray(frame.g[k], dtype=np.float64)
        win = np.asarray(frame.wins[k], dtype=np.int64)
        Lg = len(g)
        if Lg > M:
            raise RuntimeError(f"band {k}: window of {Lg} bins is longer than M={M}")
        head, tail = (Lg + 1) // 2, Lg // 2
        pos.append(k * M + np.arange(head))
        bins.append(win[tail:])
        weights.append(g[:head])
        if tail:
            pos.append(k * M + M - tail + np.arange(tail))
            bins.append(win[:tail])
            weights.append(g[Lg - tail:])
    pos, bins, weights = map(np.concatenate, (pos, bins, weights))
    # a real signal's full FFT above Nyquist is the conjugate of the mirrored half-spectrum bin:
    # the gather reads from [half spectrum, its conjugate] (length 2 * (half + 1))
    mirrored = bins > half
    fwd = {"fwd_pos": pos, "fwd_idx": np.where(mirrored, (half + 1) + (nn - bins), bins),
           "fwd_weight": weights}

    # backward: fc = fft(c); for a real signal the bands above Nyquist are the conjugate,
    # index-reversed copies of bands n_bins-2 .. 1 (nsigtf, fftsymm); overlap-add with M * gd
    # into the spectrum, of which only the half up to Nyquist enters the irfft.
    src, sign, dst, wts = [], [], [], []
    for j in range(len(frame.gd)):
        gd = np.asarray(frame.gd[j], dtype=np.float64) * M
        win = np.asarray(frame.wins[j], dtype=np.int64)
        Lg = len(gd)
        head, tail = (Lg + 1) // 2, Lg // 2
        t = np.concatenate((np.arange(head), M - tail + np.arange(tail)))
        w = np.concatenate((gd[:head], gd[Lg - tail:]))
        d = np.concatenate((win[tail:], win[:tail]))
        if j < n_bins:
            s, sg = j * M + t, np.ones(len(t))
        else:
            s, sg = (len(frame.gd) - j) * M + (-t) % M, -np.ones(len(t))
        keep = d <= half
        src.append(s[keep]), sign.append(sg[keep]), dst.append(d[keep]), wts.append(w[keep])
    src, sign, dst, wts = map(np.concatenate, (src, sign, dst, wts))
    # two gathers: bins read as they are, and bins read conjugated (the mirrored bands)
    keep, conj = sign > 0, sign < 0
    bwd = {"bwd_src": src[keep], "bwd_dst": dst[keep], "bwd_weight": wts[keep],
           "bwd_src_conj": src[conj], "bwd_dst_conj": dst[conj], "bwd_weight_conj": wts[conj]}
    return {**fwd, **bwd}


def frame_condition(frame) -> float:
    """Ratio of the frame bounds B/A (1 = tight). The frame operator of this painless NSGT is
    diagonal in frequency: ``sum_k M |g_k|^2``. Large values (fmax close to Nyquist gives
    1e5..1e8) make phase reconstruction unstable even though the exact inverse still works."""
    diag = np.zeros(int(frame.nn))
    for g, win in zip(frame.g, frame.wins):
        diag[win] += np.fft.fftshift(np.asarray(g, dtype=np.float64)) ** 2 * frame.M[0]
    return float(diag.max() / diag.min()) if diag.min() > 0 else math.inf


def _largest_prime_factor(n: int) -> int:
    p, d = 1, 2
    while d * d <= n:
        while n % d == 0:
            p, n = d, n // d
        d += 1
    return max(p, n) if n > 1 else p


def smooth_fmax(fmin: float, bins_per_octave: int, sample_rate: int, n_samples: int,
                below: float = 0.99, max_prime: int = 5, max_condition: float = 100.0,
                step: float = 0.5) -> float:
    """The largest ``fmax <= below * Nyquist`` (on a ``step`` Hz grid) whose matrix-form ``M``
    has no prime factor above ``max_prime`` and whose frame condition is below
    ``max_condition``: FFT-friendly and well away from a degenerate top band."""
    from helpers.audio.nsgt_ref import _nsgt

    _nsgt()  # imports the package quietly and applies the numpy fix nsgfwin needs
    from nsgt.fscale import OctScale
    from nsgt.nsgfwin_sl import nsgfwin

    top = math.floor(below * sample_rate / 2 / step) * step
    for fmax in np.arange(top, 2 * fmin, -step):
        f, q = OctScale(fmin, float(fmax), bins_per_octave)()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Q-factor too high", see nsgt_ref.package_frame
            _, _, M = nsgfwin(f, q, sample_rate, n_samples, sliced=False)
        if _largest_prime_factor(int(M.max())) > max_prime:
            continue
        frame = package_frame(fmin, float(fmax), bins_per_octave, sample_rate, n_samples)
        if frame_condition(frame) <= max_condition:
            return float(fmax)
    raise ValueError(f"no fmax below {top} Hz gives a {max_prime}-smooth M for these parameters")


class TorchNSGT:
    """Constant-Q NSGT of real signals of ``n_samples`` samples, batched over leading dims.

    >>> nsgt = TorchNSGT(32.7, 10712.5, 24, 22050, 22050)
    >>> c = nsgt.forward(torch.randn(8, 22050))       # (8, 204, 625) complex64
    >>> x = nsgt.backward(c)                         # (8, 22050), exact up to rounding
    """

    def __init__(self, fmin: float, fmax: float, bins_per_octave: int, sample_rate: int,
                 n_samples: int):
        self.fmin, self.fmax = float(fmin), float(fmax)
        self.bins_per_octave, self.sample_rate = int(bins_per_octave), int(sample_rate)
        self.n_samples = int(n_samples)
        frame = package_frame(self.fmin, self.fmax, self.bins_per_octave, self.sample_rate,
                              self.n_samples)
        self.n_bins = len(frame.g) // 2 + 1
        self.n_frames = int(frame.M[0])
        self.condition = frame_condition(frame)
        self.frequencies = band_frequencies(self.fmin, self.fmax, self.bins_per_octave,
                                            self.sample_rate)
        #: FFT bin (of the length-n_samples FFT) at the centre of every band's window: the
        #: band is demodulated by it, so a partial at bin b turns at (b - centre) / M cycles
        #: per frame in that band.
        self.centre_bins = np.array([frame.wins[k][len(frame.g[k]) // 2] for k in range(self.n_bins)])
        self._tables = _frame_tables(frame)
        self._cast: dict[tuple, dict[str, torch.Tensor]] = {}
        # On the CPU, signals are processed in chunks of about this many coefficients: small
        # enough for the buffers to stay in cache and in the allocator's reused memory (64
        # one-second signals at once ran about 4x slower than 8 at a time). Accelerators take
        # the whole batch at once.
        self.chunk_elements = 2 ** 20

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_bins, n_frames)`` of one signal's coefficients."""
        return self.n_bins, self.n_frames

    def _t(self, device: torch.device, real_dtype: torch.dtype) -> dict[str, torch.Tensor]:
        key = (str(device), real_dtype)
        if key not in self._cast:
            out = {}
            for name, arr in self._tables.items():
                if arr.dtype.kind in "iu":
                    out[name] = torch.as_tensor(arr, dtype=torch.long, device=device)
                else:
                    out[name] = torch.as_tensor(arr, dtype=real_dtype, device=device)
            self._cast[key] = out
        return self._cast[key]

    def _rows(self, n_rows: int, device: torch.device) -> int:
        if device.type != "cpu":
            return max(1, n_rows)
        return max(1, self.chunk_elements // (self.n_bins * self.n_frames))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., n_samples)`` real -> ``(..., n_bins, n_frames)`` complex coefficients."""
        if x.shape[-1] != self.n_samples:
            raise ValueError(f"expected signals of n_samples={self.n_samples}, got {x.shape[-1]}")
        if x.is_complex():
            raise ValueError("x must be real (this NSGT is the real=True transform)")
        if not x.is_floating_point():
            x = x.float()
        lead = x.shape[:-1]
        x = x.reshape(-1, self.n_samples)
        t = self._t(x.device, x.dtype)
        step = self._rows(x.shape[0], x.device)
        if torch.is_grad_enabled() and x.requires_grad:
            parts = [self._forward(x[i:i + step], t) for i in range(0, x.shape[0], step)]
            c = torch.cat(parts) if parts else self._forward(x, t)
        else:
            # same ops without autograd: every chunk is built in one reused scratch buffer and
            # transformed straight into its slice of the output (no concatenation, and the
            # large output is written once)
            dtype = torch.complex128 if x.dtype == torch.float64 else torch.complex64
            c = torch.empty(x.shape[0], self.n_bins, self.n_frames, dtype=dtype, device=x.device)
            scratch = torch.empty(min(step, x.shape[0]), self.n_bins * self.n_frames, dtype=dtype,
                                  device=x.device)
            for i in range(0, x.shape[0], step):
                rows = x[i:i + step]
                self._forward(rows, t, buffer=scratch[:rows.shape[0]], out=c[i:i + step])
        return c.reshape(lead + (self.n_bins, self.n_frames))

    def _forward(self, x: torch.Tensor, t: dict[str, torch.Tensor],
                 buffer: torch.Tensor | None = None, out: torch.Tensor | None = None) -> torch.Tensor:
        spec = torch.fft.rfft(x, dim=-1)
        vals = torch.cat((spec, spec.conj()), dim=1).index_select(1, t["fwd_idx"]) * t["fwd_weight"]
        buf = vals.new_zeros(x.shape[0], self.n_bins * self.n_frames) if buffer is None \
            else buffer.zero_()
        buf.index_copy_(1, t["fwd_pos"], vals)
        buf = buf.view(-1, self.n_bins, self.n_frames)
        return torch.fft.ifft(buf, dim=-1) if out is None else torch.fft.ifft(buf, dim=-1, out=out)

    def backward(self, c: torch.Tensor) -> torch.Tensor:
        """``(..., n_bins, n_frames)`` complex -> ``(..., n_samples)`` real (the dual frame)."""
        if tuple(c.shape[-2:]) != self.shape:
            raise ValueError(f"expected coefficients of shape (..., {self.n_bins}, {self.n_frames}), "
                             f"got {tuple(c.shape)}")
        if not c.is_complex():
            c = c.to(torch.complex128 if c.dtype == torch.float64 else torch.complex64)
        lead = c.shape[:-2]
        c = c.reshape(-1, self.n_bins, self.n_frames)
        t = self._t(c.device, c.real.dtype)
        step = self._rows(c.shape[0], c.device)
        parts = [self._backward(c[i:i + step], t) for i in range(0, c.shape[0], step)]
        x = torch.cat(parts) if parts else c.real.new_zeros(0, self.n_samples)
        return x.reshape(lead + (self.n_samples,))

    def _backward(self, c: torch.Tensor, t: dict[str, torch.Tensor]) -> torch.Tensor:
        fc = torch.fft.fft(c, dim=-1).reshape(c.shape[0], -1)
        vals = fc.index_select(1, t["bwd_src"]) * t["bwd_weight"]
        vals_conj = fc.index_select(1, t["bwd_src_conj"]).conj() * t["bwd_weight_conj"]
        half = vals.new_zeros(c.shape[0], self.n_samples // 2 + 1)
        half = half.index_add(1, t["bwd_dst"], vals).index_add(1, t["bwd_dst_conj"], vals_conj)
        return torch.fft.irfft(half, n=self.n_samples, dim=-1)
