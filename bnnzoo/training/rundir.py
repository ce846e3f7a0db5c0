"""The run directory of ``bnnzoo train``: one class that knows every file a run writes.

A run directory holds ``config.json`` (the resolved config with the dataset's preprocessing and
classes), ``metrics.csv`` (one row per epoch), ``checkpoints/``, ``tensorboard/``, and once the
run ends ``model.keras``, ``model.weights.h5``, ``results.json``, ``model_card.md`` and
``curves.png``. Every file is replaced atomically, so a run killed at any moment leaves each
file whole.

A resume starts from the newest complete checkpoint (``resume_checkpoint``): a checkpoint whose
files are missing, truncated or corrupt, or that TensorFlow's index (``checkpoints/checkpoint``)
does not list, is named on stderr, moved to ``checkpoints/damaged/`` and the previous one is
used; with none complete the resume is refused (``TrainingError``) and nothing is touched. In a
multi-worker run only the chief moves files; the other workers find the same checkpoint
read-only (``read_only=True``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import tensorflow as tf

from bnnzoo._io import write_atomically
from bnnzoo.analysis import count_model

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
CHECKPOINT_INDEX = "checkpoint"  # TensorFlow's list of the checkpoints, in checkpoints/
DAMAGED_DIR = "damaged"  # where damaged checkpoints are set aside, in checkpoints/
# the files of checkpoint N: ckpt-N.index, ckpt-N.data-*, and ckpt-N_temp/ while it is written
CHECKPOINT_FILE = re.compile(r"ckpt-(\d+)(\.index|\.data-.*|_temp.*)$")


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss, a run directory in the way, a damaged run, a
    full disk...)."""


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
        try:
            config = json.loads(self.config_path.read_text())
        except (ValueError, OSError) as err:  # JSON syntax, bytes that are not UTF-8, a read error
            raise ValueError(
                f"{str(self.config_path)!r} cannot be read as JSON ({err}): the run's config is "
                f"damaged. Restore it from a copy, or start the run again in a new directory "
                f"(`bnnzoo train --recipe R --out NEW_DIR`)."
            ) from None
        if not isinstance(config, dict):
            raise ValueError(
                f"{str(self.config_path)!r} holds a JSON {type(config).__name__}, not the object "
                f"of a run's config: the file is damaged. Restore it from a copy, or start the "
                f"run again in a new directory (`bnnzoo train --recipe R --out NEW_DIR`)."
            )
        return config

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

    def keep_metrics(self, epochs: int) -> None:
        """Drop the rows of epochs after ``epochs`` (a resume from an earlier checkpoint trains
        them again)."""
        if not self.metrics_path.is_file():
            return
        header, *rows = self.metrics_path.read_text().splitlines(keepends=True)
        kept = [row for row in rows if float(row.split(",", 1)[0]) <= epochs]
        if len(kept) < len(rows):
            write_atomically(self.metrics_path, "".join([header, *kept]))

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
        """Save the trained model, ``results.json``, the curves and the model card.

        The model files are written under temporary names and renamed, so a failed write (a
        full disk) leaves no half-written model; it raises ``TrainingError``.
        """
        try:
            _save_atomically(model.save, self.model_path)
            _save_atomically(model.save_weights, self.weights_path)
        except (OSError, tf.errors.OpError) as err:
            raise TrainingError(
                f"Could not write the trained model to {str(self.path)!r}: {first_line(err)}. The "
                f"last checkpoint is kept: free space on the disk (or make the directory "
                f"writable) and write the model with `bnnzoo train --resume {self.path}`."
            ) from None
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

    def resume_checkpoint(self, *, read_only: bool = False) -> str | None:
        """The prefix of the newest complete checkpoint (``.../checkpoints/ckpt-N``), or None
        when the run has none yet (killed before its first one).

        A damaged newer checkpoint is named on stderr and moved to ``checkpoints/damaged/``;
        TensorFlow's index is rewritten to end at the one returned. With ``read_only`` (the
        workers of a multi-worker run other than the chief) the same checkpoint is returned and
        nothing is said, moved or rewritten.

        Raises:
            TrainingError: no checkpoint is complete, or the run finished epochs but has no
                checkpoint left; nothing is changed.
        """
        folder = self.checkpoints
        state = _checkpoint_state(folder)
        listed = {_number(p): p for p in state.all_model_checkpoint_paths} if state else {}
        found = {
            int(m.group(1)) for f in (folder.iterdir() if folder.is_dir() else ())
            if (m := CHECKPOINT_FILE.match(f.name))
        }  # fmt: skip
        if not found and not listed:
            if self.metrics_path.is_file() and self.read_metrics():
                raise TrainingError(
                    f"{str(self.path)!r} has finished epochs ({METRICS_FILE}) but no checkpoint "
                    f"in {folder}: it cannot resume. Restore the checkpoints folder, or start the "
                    f"run again in a new directory (`bnnzoo train --recipe R --out NEW_DIR`)."
                )
            return None
        if state is None and found and not read_only:
            index = folder / CHECKPOINT_INDEX
            say(f"The checkpoint index {index} is missing or unreadable; looking for a complete "
                f"checkpoint among the files.")  # fmt: skip
        damaged = []
        for number in sorted(set(listed) | found, reverse=True):
            prefix = folder / f"ckpt-{number}"
            if state is not None and number not in listed:
                problem = f"{CHECKPOINT_INDEX} does not list it: its save did not finish"
            else:
                problem = _checkpoint_problem(prefix)
            if problem is None:
                break
            damaged.append((number, problem))
        else:
            found_text = "; ".join(f"ckpt-{n}: {problem}" for n, problem in damaged)
            raise TrainingError(
                f"No complete checkpoint to resume from in {str(folder)!r} ({found_text}). "
                f"Start the run again in a new directory (`bnnzoo train --recipe R --out "
                f"NEW_DIR`), or restore the checkpoints from a copy."
            )
        if read_only:
            return str(prefix)
        for n, problem in damaged:
            say(f"Checkpoint ckpt-{n} in {folder} is damaged ({problem}); moved to "
                f"{folder / DAMAGED_DIR}, resuming from ckpt-{number}.")  # fmt: skip
            self._set_aside(n)
        if damaged or state is None:
            bad = {n for n, _ in damaged}
            kept = sorted(n for n in (listed or found) if n <= number and n not in bad)
            _write_checkpoint_state(folder, number, kept, state)
        return str(prefix)

    def _set_aside(self, number: int) -> None:
        """Move checkpoint ``number``'s files to ``checkpoints/damaged/``."""
        target = self.checkpoints / DAMAGED_DIR
        target.mkdir(exist_ok=True)
        for path in self.checkpoints.iterdir():
            match = CHECKPOINT_FILE.match(path.name)
            if match and int(match.group(1)) == number:
                destination = target / path.name
                if destination.is_dir():
                    shutil.rmtree(destination)
                os.replace(path, destination)

    def remove_partial_checkpoint(self, number: int) -> None:
        """Delete what a failed save of checkpoint ``number`` left (partial files, its temporary
        folder); an earlier checkpoint is not touched."""
        for path in self.checkpoints.iterdir() if self.checkpoints.is_dir() else ():
            match = CHECKPOINT_FILE.match(path.name)
            if match and int(match.group(1)) == number:
                shutil.rmtree(path) if path.is_dir() else path.unlink()


def check_output_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """``path`` if a directory can be made or used there: not a file, under a writable
    folder; else a ValueError, before anything is written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(
            f"{option} {str(path)!r} is a file; expected a directory (created if missing). Pass "
            f"another {option}."
        )
    existing = next(p for p in (path, *path.absolute().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(
            f"{option} {str(path)!r} cannot be created: {str(existing)!r} is not a writable "
            f"folder. Pass a directory you can write to."
        )
    return path


def say(line: str) -> None:
    """A line about the run's files on stderr, whatever the verbosity."""
    print(line, file=sys.stderr, flush=True)


def _number(path: str) -> int:
    return int(os.path.basename(path).rsplit("-", 1)[1])


def _checkpoint_state(folder: Path):
    """TensorFlow's index of the checkpoints in ``folder``, or None (missing or unreadable)."""
    try:
        return tf.train.get_checkpoint_state(str(folder))  # None when missing or unparsable
    except ValueError:  # it names no checkpoint
        return None


def _write_checkpoint_state(folder: Path, latest: int, numbers: list[int], state) -> None:
    """Rewrite TensorFlow's index so that it lists ``numbers`` and ends at ``latest``, keeping
    the recorded timestamps (which tell the manager which checkpoints it may delete)."""
    now = time.time()
    stamps = dict(zip(map(_number, state.all_model_checkpoint_paths),
                      state.all_model_checkpoint_timestamps)) if state else {}  # fmt: skip
    proto = tf.compat.v1.train.generate_checkpoint_state_proto(
        str(folder),
        f"ckpt-{latest}",
        all_model_checkpoint_paths=[f"ckpt-{n}" for n in numbers],
        all_model_checkpoint_timestamps=[stamps.get(n, now) for n in numbers],
        last_preserved_timestamp=state.last_preserved_timestamp if state else now - 1,
    )
    write_atomically(folder / CHECKPOINT_INDEX, str(proto))


def _checkpoint_problem(prefix: Path) -> str | None:
    """Why the checkpoint at ``prefix`` cannot be restored, or None: every tensor is read back
    (TensorFlow checks each one's size and checksum)."""
    if not prefix.with_name(f"{prefix.name}.index").is_file():
        return f"its index file {prefix.name}.index is missing"
    if not list(prefix.parent.glob(f"{prefix.name}.data-*")):
        return "its data file is missing"
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
    except Exception as err:  # noqa: BLE001  (whatever fails to read back makes it damaged)
        return f"it cannot be read back: {first_line(err)}"
    return None


def first_line(err: BaseException) -> str:
    """The first line of an error's message, for a one-line report."""
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:300]


def _save_atomically(save, path: Path) -> None:
    """``save(temporary path)`` then rename to ``path``; the temporary file goes on failure."""
    partial = path.with_name(f".{path.name.split('.')[0]}.partial{''.join(path.suffixes)}")
    try:
        save(str(partial))
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()


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
