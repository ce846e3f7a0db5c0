import pytest
import tensorflow as tf

from bnnzoo import analysis
from bnnzoo.layers import binary_conv2d


def _model():
    # a Bi-Real block between a full-precision stem and head
    x = inputs = tf.keras.Input((4, 4, 3))
    x = tf.keras.layers.Conv2D(2, 1, use_bias=False, name="stem")(x)
    a1 = tf.keras.layers.Add()([x, binary_conv2d(2, 3, name="b1")(x)])
    x = tf.keras.layers.Add()([a1, binary_conv2d(2, 3, name="b2")(a1)])
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(2, name="head")(x), name="tiny")


def test_analyze_keeps_both_figures_and_prints_them():
    a = analysis.analyze(_model())
    assert a.name == "tiny" and a.counts.binary_macs == 2 * 576
    d = a.as_dict()
    assert d["binary_macs"] == 1152 and d["storage_mbit"] == a.counts.storage_mbit
    assert d["gradient_paths"]["inputs"][0]["n"] == [0, 576, 1152]
    assert d["gradient_paths"]["missing"]["n2"] == 1
    text = a.format()
    assert "model tiny" in text and "1.152K" in text and "OPs = f + b/32" in text
    assert "b1" not in text  # no per-layer tables by default
    detailed = analysis.analyze(_model(), name="block").format(layers=True)
    assert "model block" in detailed and "gradient paths per binary layer" in detailed
    assert any(line.startswith("b1 ") and line.split()[-1] == "2" for line in detailed.split("\n"))


def test_a_saved_keras_file_gives_the_same_figures(tmp_path, tiny_model_factory):
    model = tiny_model_factory()
    model.save(tmp_path / "model.keras")
    loaded = tf.keras.models.load_model(tmp_path / "model.keras")
    ours, theirs = analysis.analyze(model).as_dict(), analysis.analyze(loaded).as_dict()
    assert ours == theirs and ours["gradient_paths"]["binary_layers"] > 0


def test_plot_gradient_paths(tmp_path):
    a, b = analysis.analyze(_model()), analysis.analyze(_model())
    path = analysis.plot_gradient_paths({"a": a, "b": b}, tmp_path / "paths.png", metric="l2")
    assert path.read_bytes()[:4] == b"\x89PNG" and list(tmp_path.iterdir()) == [path]
    with pytest.raises(ValueError, match="metric"):
        analysis.plot_gradient_paths({"a": a}, tmp_path / "x.png", metric="n4")
    with pytest.raises(ValueError, match="non-empty mapping"):
        analysis.plot_gradient_paths({}, tmp_path / "x.png")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        analysis.plot_gradient_paths({"a": a}, tmp_path / "missing" / "x.png")
