"""The run directory of ``bnnzoo train``: one class that knows every file a run writes.

A run directory holds ``config.json`` (the resolved config with the dataset's preprocessing and
classes), ``metrics.csv`` (one row per epoch), ``checkpoints/``, ``tensorboard/``, and once the
run ends ``model.keras``, ``model.weights.h5``, ``results.json``, ``model_card.md`` and
``curves.png``. Every file is replaced atomically, so a run killed at any moment leaves each
file whole.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

import tensorflow as tf

from bnnzoo._io import write_atomically
from bnnzoo.analysis import count_model

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"


class RunDir:
    """The files of one training run in ``path``; the one reader and writer of its config.

    Example:
        >>> run = RunDir("runs/quick")  # after `bnnzoo train --recipe dwr_cifar_quick ...`
        >>> run.read_config()["recipe"], [row["epoch"] for row in run.read_metrics()]
        ('dwr_cifar_quick', [1.0, 2.0])
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.config_path = self.path / CONFIG_FILE
        self.metrics_path = self.path / METRICS_FILE
        self.model_path = self.path / "model.keras"
        self.weights_path = self.path / "model.weights.h5"
        self.results_path = self.path / "results.json"
        self.card_path = self.path / "model_card.md"
        self.curves_path = self.path / "curves.png"
        self.checkpoints = self.path / "checkpoints"
        self.tensorboard = self.path / "tensorboard"

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def has_config(self) -> bool:
        """Whether a run was started here (its config is written before the first step)."""
        return self.config_path.is_file()

    def read_config(self) -> dict:
        """The config the run was started with, as ``write_config`` saved it."""
        if not self.has_config():
            raise FileNotFoundError(
                f"{str(self.path)!r} has no {CONFIG_FILE}: it is not a run directory of "
                f"`bnnzoo train`. Start one with `bnnzoo train --recipe R --out {self.path}`."
            )
        return json.loads(self.config_path.read_text())

    def write_config(self, config: dict) -> Path:
        """Save ``config`` as the run's config (tuples become lists), creating the folder."""
        self.path.mkdir(parents=True, exist_ok=True)
        return write_atomically(self.config_path, json.dumps(config, indent=2, default=list))

    def append_metrics(self, row: dict) -> None:
        """Add one epoch's row to ``metrics.csv`` (floats to 6 significant digits)."""
        self.path.mkdir(parents=True, exist_ok=True)
        text = self.metrics_path.read_text() if self.metrics_path.exists() else ""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(row), lineterminator="\n")
        if not text:
            writer.writeheader()
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        write_atomically(self.metrics_path, text + buffer.getvalue())

    def read_metrics(self) -> list[dict]:
        """Every epoch's row of ``metrics.csv``, values as floats."""
        if not self.metrics_path.is_file():
            raise FileNotFoundError(
                f"{str(self.path)!r} has no {METRICS_FILE}: no epoch of a `bnnzoo train` run "
                f"has finished there yet."
            )
        with open(self.metrics_path, newline="") as f:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]

    def finish(
        self,
        model: tf.keras.Model,
        *,
        test_loss: float,
        test_accuracy: float,
        seconds: float,
        command: str | None = None,
    ) -> None:
        """Save the trained model, ``results.json``, the curves and the model card."""
        model.save(self.model_path)
        model.save_weights(str(self.weights_path))
        results = {"test_accuracy": test_accuracy, "test_loss": test_loss, "train_seconds": seconds}
        write_atomically(self.results_path, json.dumps(results, indent=2))
        self.plot_curves()
        card = self.model_card(model, test_loss, test_accuracy, seconds, command)
        write_atomically(self.card_path, card)

    def model_card(self, model, test_loss, test_accuracy, seconds, command=None) -> str:
        """The markdown model card of the run: what was trained, on what, how well."""
        config = self.read_config()
        counts = count_model(model)
        pre = config["preprocessing"]
        return f"""# Model card: {config["model"]}

- recipe: `{config["recipe"]}`; command: `{command or " ".join(sys.argv)}`
- architecture: `{config["model"]}` with {json.dumps(config.get("model_kwargs") or {})}, input \
{pre["size"]}×{pre["size"]}×{pre["channels"]}, {config["num_classes"]} classes (logits output)
- parameters: {counts.params:,} ({counts.binary_params:,} binary)
- MACs: {counts.binary_macs:,} binary, {counts.float_macs:,} float
- size: {counts.size_mb:.3f} MiB (binary weights at 1 bit)
- data: `{config["dataset"]}`, augmentation `{config["augment"]}`, {config["epochs"]} epochs, \
batch {config["batch_size"]}, optimizer {json.dumps(config["optimizer"])}, trained in \
{config.get("precision", "float32")} (evaluated and saved in float32)
- test accuracy: {test_accuracy:.4f} (test loss {test_loss:.4f})
- training time: {seconds:.1f} s
"""

    def plot_curves(self) -> Path:
        """``curves.png``: loss and accuracy per epoch, train and test, from the metrics."""
        plt = pyplot()
        rows = self.read_metrics()
        epochs = [r["epoch"] for r in rows]
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
        for split in ("train", "test"):
            ax_loss.plot(epochs, [r[f"{split}_loss"] for r in rows], marker="o", label=split)
            ax_acc.plot(epochs, [r[f"{split}_accuracy"] for r in rows], marker="o", label=split)
        ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
        ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
        for ax in (ax_loss, ax_acc):
            ax.grid(alpha=0.3)
            ax.legend()
        return save_figure(plt, fig, self.curves_path)


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(plt, fig, path: str | os.PathLike) -> Path:
    """Write ``fig`` to ``path`` atomically (format from the suffix, PNG without one) and
    close it."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png", dpi=100)
    plt.close(fig)
    return write_atomically(path, buffer.getvalue())
