"""Waiting for a running ``bnnzoo train`` process to write a mid-epoch checkpoint, so that a
test can kill it there."""

import re
import time


def wait_for_mid_epoch_checkpoint(process, run_dir, steps_per_epoch: int, timeout: float):
    """The number of the first checkpoint ``process`` writes in ``run_dir`` that is not at an
    epoch's end, as soon as TensorFlow's index names it; None if the process ends or ``timeout``
    seconds pass first. Polls every 10 ms: the checkpoints of a tiny run come a second apart."""
    index = run_dir / "checkpoints" / "checkpoint"
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if index.is_file():
            match = re.search(r'model_checkpoint_path: "ckpt-(\d+)"', index.read_text())
            if match and int(match.group(1)) % steps_per_epoch:
                return int(match.group(1))
        time.sleep(0.01)
    return None
