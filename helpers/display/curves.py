"""Training and evaluation curves of notebook 01: loss terms per epoch, the KL warm-up comparison,
Kingma & Welling's figure 2 and the tightening of the IWAE bound. Each function returns its
figure; axes carry their units, KL axes start at 0, and legends sit outside the data."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _legend_outside(ax, **kwargs):
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small", **kwargs)


def plot_training_terms(history):
    """Left: -ELBO and reconstruction per epoch; right: the KL term (axis from 0) with beta."""
    import matplotlib.pyplot as plt

    h = pd.DataFrame(history)
    fig, axes = plt.subplots(1, 2, figsize=(13, 3.8))
    ax = axes[0]
    ax.plot(h.epoch, -h.train_elbo, "o-", label="-ELBO (beta = 1)")
    ax.plot(h.epoch, h.train_rec, "s-", label="reconstruction\n-log p(x|z)")
    ax.set(xlabel="epoch", ylabel="nats per digit (training average)", title="Training terms of the main model")
    _legend_outside(ax)
    ax = axes[1]
    ax.plot(h.epoch, h.train_kl, "o-", color="tab:green", label="KL(q(z|x) || p(z))")
    ax.set_ylim(0, 1.08 * float(h.train_kl.max()))
    ax.set(xlabel="epoch", ylabel="KL, nats per digit (axis from 0)", title="KL term and warm-up weight")
    beta_ax = ax.twinx()
    beta_ax.plot(h.epoch, h.beta, "--", color="grey", label="beta at the\nend of the epoch")
    beta_ax.set_ylim(0, 1.1)
    beta_ax.set_ylabel("beta (dashed)")
    lines = ax.get_lines() + beta_ax.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="upper left", bbox_to_anchor=(1.12, 1.0),
              borderaxespad=0.0, fontsize="small")
    for a in axes:
        a.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_warmup_comparison(demo: dict[str, dict]):
    """The runs of :func:`helpers.evaluation.mnist_studies.warmup_comparison`: training KL (with
    beta dotted), active units during training, and the sorted activity of every unit at the end."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 3.9))
    beta_ax = axes[0].twinx()
    beta_ax.set(ylim=(0, 1.05), ylabel="beta (dotted)")
    z_dim = next(iter(demo.values()))["z_dim"]
    for (label, d), colour in zip(demo.items(), ("tab:red", "tab:blue")):
        axes[0].plot(d["curve"].examples, d["curve"].train_kl, color=colour, label=label)
        beta_ax.plot(d["curve"].examples, d["curve"].beta, ":", color=colour, alpha=0.8)
        axes[1].plot(d["eval"].examples, d["eval"].active_units, "o-", color=colour, label=label)
        activity = np.sort(np.asarray(d["activity"]))[::-1]
        axes[2].semilogy(np.arange(1, len(activity) + 1), activity, "o-", ms=3, color=colour, label=label)
    axes[0].set_ylim(0, None)
    axes[0].set(title="KL term during training (dotted: beta)", xlabel="training examples seen",
                ylabel="KL, nats per digit (axis from 0)")
    axes[1].set_ylim(0, z_dim)
    axes[1].set(title="Active units (A_u > 0.01) on test digits", xlabel="training examples seen",
                ylabel=f"active units (of {z_dim})")
    axes[2].axhline(0.01, color="k", lw=0.8, ls="--", label="threshold 0.01")
    axes[2].set(title="Activity of each unit at the end", xlabel="unit, sorted by activity",
                ylabel="A_u = Cov_x(E_q[z_u|x]) (log scale)")
    for ax in axes:
        ax.grid(alpha=0.3)
    _legend_outside(axes[2])
    fig.tight_layout()
    return fig


def plot_kw_curves(kw: dict[int, dict]):
    """Kingma & Welling (2014, Fig. 2): training bound (lines) and test bound (circles) against
    training examples seen, one colour per latent size."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5))
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(kw)))
    for (z_dim, d), colour in zip(kw.items(), colours):
        ax.plot(d["train"].examples, d["train"].train_elbo, color=colour, lw=1, alpha=0.6)
        ax.plot(d["test"].examples, d["test"].eval_elbo, "o--", color=colour, ms=4, label=f"N_z = {z_dim}")
    lowest = min(float(d["train"].train_elbo.min()) for d in kw.values())
    ax.set_xscale("log")
    ax.set_ylim(max(-250.0, lowest), None)
    ax.set(xlabel="training examples seen (log scale)", ylabel="lower bound (ELBO), nats per digit",
           title="MNIST, 784-400-N_z VAE: training bound (lines) and test bound (dashed, circles)")
    _legend_outside(ax, title="latent size")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def plot_iwae_sweep(nll_by_k: dict[int, float], n_digits: int):
    """-L_k against the number of importance samples k (log axis)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    ks = sorted(nll_by_k)
    ax.semilogx(ks, [nll_by_k[k] for k in ks], "o-")
    ax.set(xlabel="importance samples k (log scale)", ylabel="-L_k, nats per digit",
           title=f"The IWAE bound tightens with k (main model, {n_digits} test digits)")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig
