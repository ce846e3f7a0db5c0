"""Run in a subprocess by test_distribute.py: two logical CPU devices need a fresh TensorFlow."""

import json
import sys

import bnnzoo  # noqa: F401

# isort: split
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from bnnzoo.training import recipes, train  # noqa: E402
from bnnzoo.training.distribute import make_strategy, synchronize_batch_norm  # noqa: E402
from bnnzoo.training.loop import build_model  # noqa: E402
from bnnzoo.training.rundir import RunDir  # noqa: E402
from bnnzoo.training.steps import make_train_step  # noqa: E402

# small: 16×16, 256 training images (the one-epoch runs below train one of each strategy)
config = recipes.resolve(
    "resnet_e18_imagenet_quick",
    ["sync_batch_norm=true", "input_size=16", "max_train_examples=256", "max_test_examples=64"],
)
rng = np.random.default_rng(0)
x = rng.normal(size=(32, 16, 16, 1)).astype("float32")
y = np.arange(32) % 10
report = {}
for name in ("default", "mirrored"):
    tf.keras.utils.set_random_seed(0)
    strategy = make_strategy(name)
    with strategy.scope():
        model = build_model(config, input_shape=(16, 16, 1), num_classes=10)
        synchronize_batch_norm(model)
        optimizer = tf.keras.optimizers.SGD(0.05)
    step = make_train_step(model, optimizer, global_batch=32, strategy=strategy)
    batch = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    for xb, yb in strategy.experimental_distribute_dataset(batch):
        loss, correct, _ = step(xb, yb)
    report[name] = {
        "replicas": strategy.num_replicas_in_sync,
        "loss": float(loss),
        "weights": [w.numpy().tolist() for w in model.weights],
    }
a, b = report["default"]["weights"], report["mirrored"]["weights"]
report["max_weight_diff"] = max(
    float(np.abs(np.array(p) - np.array(q)).max()) for p, q in zip(a, b)
)
for name in ("default", "mirrored"):
    del report[name]["weights"]
    result = train({**config, "epochs": 1, "strategy": name}, f"{sys.argv[1]}/{name}", verbose=0)
    report[name]["run_train_loss"] = RunDir(result.out_dir).read_metrics()[0]["train_loss"]
    report[name]["run_test_accuracy"] = result.test_accuracy
print(json.dumps(report))
