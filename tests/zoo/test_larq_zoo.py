"""larq-zoo's nine models in bnnzoo's registry: built by larq-zoo's code with bnnzoo's arguments,
their papers and published facts, their weights through bnnzoo's strict loader, and the
commands that take a model name."""

from __future__ import annotations

import json

import larq_zoo
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from bnnzoo import analysis, zoo
from bnnzoo.zoo import larq_zoo as lz
from bnnzoo.zoo.pretrained import IMAGENET
from tests.cli._run import run
from tests.conftest import randomize

NAMES = [
    "binary_alexnet",
    "birealnet",
    "dorefanet",
    "meliusnet22",
    "quicknet",
    "quicknet_large",
    "quicknet_small",
    "real_to_binary_net",
    "xnornet",
]
SPECS = {spec.name: spec for spec in lz.MODELS}


def lambda_layers(model: tf.keras.Model) -> list[str]:
    """Names of the model's Python-lambda layers: such a file does not load in safe mode nor
    export (bnnzoo replaces them with registered layers)."""
    return [layer.name for layer in model.layers if isinstance(layer, tf.keras.layers.Lambda)]


def small_side(name: str) -> int:
    """The side the tests build at: 32 px, or the model's smallest input if larger."""
    return max(32, SPECS[name].min_size)


def test_the_nine_models_are_registered_with_their_papers_and_weights():
    assert zoo.list_models(family="larq_zoo") == NAMES
    for name in NAMES:
        spec = zoo.get_model_spec(name)
        assert spec.input_shape == (224, 224, 3) and spec.num_classes == 1000
        assert spec.pretrained["imagenet"] is IMAGENET[SPECS[name].larq_zoo_name]
        assert spec.paper.nickname and spec.published_params
    assert zoo.get_model_spec("quicknet").paper.key == "bannink2021"
    assert zoo.list_models(paper="XNOR") == ["xnornet"]
    assert zoo.list_models(paper="martinez2020") == ["real_to_binary_net"]


@pytest.mark.parametrize("name", NAMES)
def test_builds_with_larq_zoos_code_at_a_small_input(name, rng):
    """The registered factory gives larq-zoo's model: same weights, same outputs; logits,
    features and pooling as in Keras applications."""
    side = small_side(name)
    shape = (side, side, 3)
    # the logits: larq-zoo's softmax of them (the default, classifier_activation="softmax", is
    # built at 224 px by test_published_parameter_count_at_the_defaults)
    with analysis.shapes_only():  # every weight is set below
        model = zoo.create_model(name, input_shape=shape, num_classes=7,
                                 classifier_activation=None)  # fmt: skip
        theirs = SPECS[name].function()(input_shape=shape, num_classes=7, weights=None)
    assert model.name == name and model.output_shape == (None, 7)
    assert "softmax" not in str(getattr(model.layers[-1], "activation", "")).lower()
    assert not lambda_layers(model)
    assert model.count_params() == theirs.count_params()
    randomize(theirs, rng)
    model.set_weights(theirs.get_weights())
    x = rng.normal(size=(2, *shape)).astype("float32")
    np.testing.assert_allclose(tf.nn.softmax(model(x)), theirs(x), atol=1e-6)
    counts = analysis.count_model(model)
    if name == "dorefanet":  # 2-bit activations: no binary layer
        assert counts.binary_macs == 0
    else:
        assert counts.binary_macs > 5 * counts.float_macs
    del model, theirs

    with analysis.shapes_only():
        features = zoo.create_model(name, input_shape=shape, include_top=False)
    assert len(features.output_shape) == 4
    if name == NAMES[0]:  # the pooling is bnnzoo's own, the same code for every model
        with analysis.shapes_only():
            pooled = zoo.create_model(name, input_shape=shape, include_top=False, pooling="max")
        assert pooled.output_shape == (None, features.output_shape[-1])


# count_params() minus larq-zoo's published figure (the tables of its documentation): its
# MeliusNet22 figure leaves out BatchNorm's 25,088 moving statistics (it is the trainable count),
# its QuickNet figures are below count_params() by 32 less than their BatchNorm statistics
PUBLISHED_GAP = {"meliusnet22": 25_088, "quicknet": 9_632, "quicknet_small": 8_656,
                 "quicknet_large": 17_056}  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_published_parameter_count_at_the_defaults(name):
    with analysis.shapes_only():
        model = zoo.create_model(name)
    assert model.input_shape == (None, 224, 224, 3) and model.output_shape == (None, 1000)
    last = model.layers[-1]  # larq-zoo's classifier: a softmax layer or a softmax activation
    assert "softmax" in f"{type(last).__name__} {getattr(last, 'activation', '')}".lower()
    gap = PUBLISHED_GAP.get(name, 0)
    assert model.count_params() == SPECS[name].published_params + gap
    if name == "meliusnet22":
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        assert trainable == SPECS[name].published_params


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("quicknet", {"input_shape": (28, 28, 3)}, "at least 29×29"),
        ("xnornet", {"input_shape": (216, 216, 3)}, "at least 217×217"),
        ("binary_alexnet", {"input_shape": (56, 56, 3)}, "at least 57×57"),
        ("dorefanet", {"weights": "imagenet", "input_shape": (64, 64, 3)}, "only fits inputs"),
        ("quicknet", {"pooling": "avg"}, "include_top=False"),
        ("quicknet", {"pooling": "mean", "include_top": False}, "pooling"),
        ("quicknet", {"clip_value": 1.3}, "clip_value cannot be changed"),
        ("quicknet", {"weights": "imagenet", "num_classes": 10}, "num_classes=1000"),
        ("birealnet", {"weights": "/nonexistent/w.h5"}, "/nonexistent/w.h5"),
    ],
)
def test_bad_arguments_fail_before_anything_is_built(name, kwargs, message, monkeypatch):
    built = []
    monkeypatch.setattr(tf.keras.layers.Layer, "__call__", lambda *a, **k: built.append(a))
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        zoo.create_model(name, **kwargs)
    assert built == []


def test_weights_files_load_through_the_strict_loader(tmp_path, rng):
    """A Keras weights file of larq-zoo's model (the format of its ImageNet releases) loads
    into the registered model; one of another model is refused, naming the layer."""
    shape = (32, 32, 3)
    theirs = larq_zoo.sota.QuickNetSmall(input_shape=shape, num_classes=5, weights=None)
    randomize(theirs, rng)
    path = tmp_path / "quicknet_small.h5"
    theirs.save_weights(str(path))
    ours = zoo.create_model("quicknet_small", input_shape=shape, num_classes=5, weights=path)
    x = rng.normal(size=(2, *shape)).astype("float32")
    np.testing.assert_allclose(ours(x), theirs(x), atol=1e-6)
    with pytest.raises(ValueError, match="do not fit layer"):
        zoo.create_model("quicknet", input_shape=shape, num_classes=5, weights=path)


@pytest.mark.parametrize("name", ["quicknet_small", "meliusnet22"])
def test_save_and_load_with_plain_keras_in_safe_mode(name, tmp_path, rng):
    """QuickNet's blur-pool initializer is registered when bnnzoo.zoo is imported. (The legacy
    .h5 format cannot name that plain-function initializer: use .keras.) MeliusNet22's Lambda
    layers are registered layers, so its file loads with Keras' safe mode on (Real-to-Binary
    Net's: test_a_saved_real_to_binary_net_exports_from_the_command_line, which saves one)."""
    model = zoo.create_model(name, input_shape=(32, 32, 3), num_classes=3)
    assert not lambda_layers(model)
    x = rng.normal(size=(2, 32, 32, 3)).astype("float32")
    model.save(tmp_path / "model.keras")
    loaded = tf.keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-6)


# a fresh process: bnnzoo imported, larq-zoo not; the file names larq-zoo's four objects
LOAD_WITHOUT_LARQ_ZOO = """
import sys
import numpy as np
import bnnzoo
import tensorflow as tf
assert "larq_zoo" not in sys.modules, "import bnnzoo imported larq-zoo"
model = tf.keras.models.load_model(sys.argv[1], safe_mode=True)
np.save(sys.argv[3], model(np.load(sys.argv[2])).numpy())
print("larq_zoo" in sys.modules)  # the stand-ins import it when they are first called
"""


def test_a_file_naming_larq_zoos_objects_loads_before_larq_zoo_is_imported(tmp_path, rng):
    """``import bnnzoo`` does not import larq-zoo (1.8 s of CPU in every process): a stand-in for
    each object larq-zoo registers lets Keras load a file that names it, and computes what
    larq-zoo's own function computes."""
    import subprocess
    import sys

    import larq as lq
    from larq_zoo.literature.dorefanet import (
        clip_by_value_activation,
        magnitude_aware_sign_unclipped,
    )
    from larq_zoo.literature.xnornet import xnor_weight_scale
    from larq_zoo.sota.quicknet import blurpool_initializer

    assert set(lz.LARQ_ZOO_OBJECTS) == {"blurpool_initializer", "xnor_weight_scale",
                                        "magnitude_aware_sign_unclipped",
                                        "clip_by_value_activation"}  # fmt: skip
    for name, (module, precision) in lz.LARQ_ZOO_OBJECTS.items():
        real = getattr(sys.modules[module], name)
        assert getattr(real, "precision", None) == precision
        stand_in = lz._stand_in(name, module, precision)
        assert (stand_in.__name__, stand_in.__module__) == (real.__name__, real.__module__)
    inputs = tf.keras.Input((8, 8, 4))
    x = lq.layers.QuantConv2D(8, 3, kernel_quantizer=xnor_weight_scale, input_quantizer="ste_sign",
                              activation=clip_by_value_activation)(inputs)  # fmt: skip
    x = tf.keras.layers.DepthwiseConv2D(3, depthwise_initializer=blurpool_initializer)(x)
    x = lq.layers.QuantConv2D(4, 3, kernel_quantizer=magnitude_aware_sign_unclipped)(x)
    model = tf.keras.Model(inputs, x)
    randomize(model, rng)
    model.save(tmp_path / "m.keras")
    images = rng.normal(size=(2, 8, 8, 4)).astype("float32")
    np.save(tmp_path / "x.npy", images)
    done = subprocess.run(
        [sys.executable, "-c", LOAD_WITHOUT_LARQ_ZOO, str(tmp_path / "m.keras"),
         str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["True"]
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), model(images).numpy())


def test_a_saved_real_to_binary_net_exports_from_the_command_line(capsys, tmp_path, rng):
    """The path a user takes: save the model, then ``bnnzoo export FILE`` (which loads it in
    safe mode) to OpenVINO, its conversion check passing. Its Lambda layers are registered
    layers: the file loads with Keras' safe mode on and computes what the model computes."""
    model = zoo.create_model("real_to_binary_net", input_shape=(32, 32, 3), num_classes=3)
    assert not lambda_layers(model)
    model.save(tmp_path / "r2b.keras")
    loaded = tf.keras.models.load_model(tmp_path / "r2b.keras", safe_mode=True)
    x = rng.normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-6)
    del loaded
    code, out, err = run(
        capsys, "export", str(tmp_path / "r2b.keras"), "--format", "openvino",
        "--out", str(tmp_path / "ir"),
    )  # fmt: skip
    assert code == 0, err
    assert "conversion check, tie-free weights" in out and ": passed" in out
    assert [p.name for p in (tmp_path / "ir").glob("*.xml")] == ["real_to_binary_net.xml"]


def test_commands_take_the_models_by_name(capsys, tmp_path, rng):
    code, out, _ = run(capsys, "list", "--family", "larq_zoo")
    assert code == 0 and all(name in out for name in NAMES)
    # every name builds through create_model in test_builds_with_larq_zoos_code_at_a_small_input,
    # and the command takes any registered name the same way: one summary stands for them
    code, out, _ = run(capsys, "summary", "quicknet", "--input-shape", "32,32,3")
    assert code == 0 and "quicknet" in out
    code, out, _ = run(capsys, "analyze", "quicknet", "birealnet", "--input-shape", "32,32,3")
    assert code == 0 and "quicknet" in out and "birealnet" in out
    code, out, _ = run(
        capsys, "export", "quicknet_small", "--format", "openvino", "--out", str(tmp_path),
        "--input-shape", "32,32,3", "--n", "2",
    )  # fmt: skip
    assert code == 0 and "16 of 16 binary layers execute as BinaryConvolution" in out
    code, out, _ = run(
        capsys, "bench", "quicknet_small", "--input-shape", "32,32,3", "--engines",
        "keras,openvino", "--runs", "2", "--warmup", "1",
    )  # fmt: skip
    assert code == 0 and "openvino" in out.lower()


def test_predict_with_a_local_weights_file(capsys, tmp_path, rng):
    model = zoo.create_model("quicknet_small")
    randomize(model, rng)
    weights = tmp_path / "quicknet_small.h5"
    model.save_weights(str(weights))
    class_index = tmp_path / "imagenet_class_index.json"
    class_index.write_text(json.dumps({str(i): [f"n{i:08d}", f"c{i}"] for i in range(1000)}))
    image = tmp_path / "cat.png"
    Image.fromarray(rng.integers(0, 255, size=(240, 240, 3), dtype=np.uint8)).save(image)
    code, out, _ = run(
        capsys, "predict", "quicknet_small", str(image), "--weights", str(weights),
        "--class-index", str(class_index),
    )  # fmt: skip
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == str(image) and len(lines) == 1 + 5
    assert [line.split()[0] for line in lines[1:]] == ["1.", "2.", "3.", "4.", "5."]


def test_train_quicknet_on_digits_with_the_quick_switch(capsys, tmp_path):
    """``bnnzoo train --model quicknet``: the recipe's clip value must be unset (larq-zoo fixes
    QuickNet's), and the run ends with a saved model that loads."""
    argv = ["train", "--recipe", "binary_densenet_imagenet", "--quick", "--model", "quicknet",
            "--epochs", "1", "--set", "max_train_examples=64", "--set", "max_test_examples=32",
            "--quiet"]  # fmt: skip
    code, _, err = run(capsys, *argv, "--out", str(tmp_path / "refused"))
    assert code == 2 and "--set clip_value=null" in err
    code, out, _ = run(capsys, *argv, "--set", "clip_value=null", "--out", str(tmp_path / "run"))
    assert code == 0 and "test accuracy" in out
    model = tf.keras.models.load_model(tmp_path / "run" / "model.keras")
    assert model.name == "quicknet" and model.output_shape == (None, 10)
