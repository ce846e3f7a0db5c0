"""What a run records beyond loss and accuracy, and the figures of it: the first
convolution's gradient norm per epoch (Zhang, Ozay, Li, Okatani 2017, "Truncating Wide Networks
using Binary Tree Architectures", Figure 2) and histograms of latent weights (Wu, Wu, Zhao
2016, "Binarized Neural Networks on the ImageNet Classification Task", Figure 1)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import tensorflow as tf

from bnnzoo._io import write_atomically
from bnnzoo.analysis import is_binary
from bnnzoo.training.rundir import RunDir, pyplot, save_figure

LATENT_WEIGHTS_FILE = "latent_weights.npz"


def first_conv_kernel_index(model: tf.keras.Model) -> int:
    """Index in ``model.trainable_variables`` of the first convolution's kernel."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.Conv2D):
            for i, variable in enumerate(model.trainable_variables):
                if variable is layer.kernel:
                    return i
    raise ValueError(f"Model {model.name!r} has no convolution whose gradient could be recorded.")


class LatentWeights:
    """Histograms of chosen layers' latent (real-valued) weights after every epoch.

    Wu, Wu, Zhao 2016 (Figure 1 A/C) show that a high learning rate pushes latent weights to
    the clip values ±1, where they flip without accumulating evidence, while a low one keeps
    them spread out. ``record`` appends one histogram per layer to ``latent_weights.npz`` and
    redraws ``latent_weights.png``.
    """

    BINS = 60

    def __init__(self, model: tf.keras.Model, layer_names: Iterable[str], out_dir):
        self.layers = []
        for name in layer_names:
            try:
                layer = model.get_layer(name)
            except ValueError:
                binary = [lay.name for lay in model.layers if is_binary(lay)]
                raise ValueError(
                    f"monitor.latent_weights names {name!r}, which {model.name} does not have. "
                    f"Its binary layers include: {', '.join(binary[:12])}."
                ) from None
            if not hasattr(layer, "kernel"):
                raise ValueError(f"monitor.latent_weights: layer {name!r} has no kernel.")
            self.layers.append(layer)
        self.path = Path(out_dir) / LATENT_WEIGHTS_FILE

    def record(self, epoch: int) -> None:
        """Append this epoch's histograms to the file and redraw the figure."""
        if not self.layers:
            return
        stored = {}
        if self.path.exists():
            with np.load(self.path) as saved:
                stored = dict(saved)
        for layer in self.layers:
            kernel = layer.kernel.numpy().ravel()
            clip = float(getattr(layer.kernel_constraint, "clip_value", 0) or np.abs(kernel).max())
            counts, edges = np.histogram(kernel, bins=self.BINS, range=(-clip, clip))
            key = layer.name
            previous = stored.get(f"{key}/counts", np.zeros((0, self.BINS)))
            stored[f"{key}/counts"] = np.vstack([previous, counts[None]])
            stored[f"{key}/edges"] = edges
            stored[f"{key}/epochs"] = np.append(stored.get(f"{key}/epochs", []), epoch)
        buffer = io.BytesIO()
        np.savez(buffer, **stored)
        write_atomically(self.path, buffer.getvalue())
        plot_latent_weights(self.path)


def plot_latent_weights(npz_path: str | os.PathLike) -> Path:
    """One panel per layer: the latent-weight distribution after each recorded epoch, written
    next to ``npz_path`` as a PNG."""
    plt = pyplot()
    with np.load(npz_path) as saved:
        data = dict(saved)
    names = sorted({key.rsplit("/", 1)[0] for key in data})
    fig, axes = plt.subplots(len(names), 1, figsize=(7, 2.6 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        edges, counts = data[f"{name}/edges"], data[f"{name}/counts"]
        centers = (edges[:-1] + edges[1:]) / 2
        for epoch, row in zip(data[f"{name}/epochs"], counts):
            ax.plot(centers, row / max(row.sum(), 1), label=f"epoch {int(epoch)}")
        ax.set(title=f"latent weights of {name}", xlabel="weight", ylabel="fraction")
        ax.legend(fontsize=7)
    return save_figure(plt, fig, Path(npz_path).with_suffix(".png"))


def plot_gradient_norms(run_dirs, out_png: str | os.PathLike, labels=None) -> Path:
    """Zhang et al. 2017's Figure 2 for several runs side by side: the first convolution's mean
    gradient L2 norm per epoch, from runs trained with ``monitor.first_conv_gradient=true``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, run in enumerate(run_dirs):
        rows = RunDir(run).read_metrics()
        if not rows or "first_conv_grad_norm" not in rows[0]:
            plt.close(fig)
            raise ValueError(
                f"{run} has no first_conv_grad_norm column; train it with "
                f"--set monitor.first_conv_gradient=true."
            )
        label = labels[i] if labels else Path(run).name
        ax.plot([r["epoch"] for r in rows], [r["first_conv_grad_norm"] for r in rows],
                marker="o", label=label)  # fmt: skip
    ax.set(xlabel="epoch", ylabel="mean L2 norm of the gradient", yscale="log",
           title="gradient of the first convolution")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(plt, fig, out_png)
