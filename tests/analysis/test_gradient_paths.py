"""Gradient paths of small hand-built graphs, each answer derived by hand in the comments.

Every binary conv below is ``binary_conv2d(2, 3)`` ("same" padding) on a 4x4 map: with 2 input
channels it does M = 4*4*9*2*2 = 576 binary MACs, with 4 input channels 2M = 1152. A layer's
figures count the binary layers *after* it (the paths from the output to its output); the
input's figures count all of them. The blocks are those of Zhu et al. 2022, Fig. 2.
"""

import larq as lq
import pytest
import tensorflow as tf

from bnnzoo import analysis
from bnnzoo.layers import binary_conv2d

M = 4 * 4 * 9 * 2 * 2


def _b(name):
    return binary_conv2d(2, 3, name=name)


def _input():
    return tf.keras.Input((4, 4, 2), name="x")


def _by_name(paths):
    return {f.name: f for f in paths.layers}


def test_plain_binary_chain_with_full_precision_layers_between():
    x = inputs = _input()
    x = _b("b1")(x)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.Conv2D(2, 1, name="fp")(x)  # full precision: counts 0
    x = _b("b2")(x)
    x = _b("b3")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dense(3)(x)
    paths = analysis.gradient_paths(tf.keras.Model(inputs, x))
    # one path: output <- dense <- pool <- b3 <- b2 <- fp <- bn <- b1 <- x
    assert paths.input.l == (3, None, None) and paths.input.n == (3 * M, None, None)
    assert paths.input.paths == 1
    layers = _by_name(paths)
    assert list(layers) == ["b1", "b2", "b3"]  # binary layers only, input side first
    assert [layers[n].l[0] for n in layers] == [2, 1, 0]  # b1 sees b2 and b3, not itself
    assert [layers[n].n[0] for n in layers] == [2 * M, M, 0]
    assert layers["b1"].macs == M
    assert paths.missing("n2") == 3 and paths.mean("n2") is None


def test_binary_resnet_block():
    # out = x + b2(b1(x)): paths {shortcut: 0, through both convs: 2M}; the paper: N_1st = 0,
    # N_2nd = 2 * N^R, and no third
    x = _input()
    out = tf.keras.layers.Add()([x, _b("b2")(_b("b1")(x))])
    paths = analysis.gradient_paths(tf.keras.Model(x, out))
    assert paths.input.n == (0, 2 * M, None) and paths.input.l == (0, 2, None)
    assert paths.input.paths == 2
    layers = _by_name(paths)
    assert layers["b1"].n == (M, None, None) and layers["b2"].n == (0, None, None)


def test_bi_real_block_counts_distinct_lengths_not_the_multiset():
    # a1 = x + b1(x); out = a1 + b2(a1): four paths of 0, M (via b1), M (via b2), 2M binary
    # MACs. The paper gives N_1st, N_2nd, N_3rd = 0, N^BR, 2 N^BR: distinct values (the
    # multiset's third smallest would be M again).
    x = _input()
    a1 = tf.keras.layers.Add()([x, _b("b1")(x)])
    out = tf.keras.layers.Add()([a1, _b("b2")(a1)])
    paths = analysis.gradient_paths(tf.keras.Model(x, out))
    assert paths.input.n == (0, M, 2 * M) and paths.input.l == (0, 1, 2)
    assert paths.input.paths == 4
    layers = _by_name(paths)
    assert layers["b1"].n == (0, M, None) and layers["b1"].paths == 2  # from a1: 0 or via b2
    assert layers["b2"].n == (0, None, None)
    assert paths.mean("n1") == 0 and paths.worst("n2") == M and paths.missing("n2") == 1


def test_extra_shortcut_of_ebi_real_does_not_change_the_figures():
    # the Bi-Real block plus a shortcut around both: paths 0, 0, M, M, 2M -> still 0, M, 2M
    x = _input()
    a1 = tf.keras.layers.Add()([x, _b("b1")(x)])
    out = tf.keras.layers.Add()([x, a1, _b("b2")(a1)])
    paths = analysis.gradient_paths(tf.keras.Model(x, out))
    assert paths.input.n == (0, M, 2 * M) and paths.input.paths == 5


def test_igp_resnet_block_has_a_one_conv_second_path():
    # out = x + b2(b1(x)) + b3(x): paths of 0, 1 and 2 binary layers; the paper: L_2nd = 1,
    # N_2nd = N^IR (one conv) where the binary ResNet block has 2 N^R
    x = _input()
    out = tf.keras.layers.Add()([x, _b("b2")(_b("b1")(x)), _b("b3")(x)])
    paths = analysis.gradient_paths(tf.keras.Model(x, out))
    assert paths.input.l == (0, 1, 2) and paths.input.n == (0, M, 2 * M)


def test_dense_block():
    # y1 = [x, b1(x)] (4 channels); out = [y1, b2(y1)]; b1 costs M, b2 (4 input channels) 2M.
    # Paths from out to x: y1-x (0 binary layers), y1-b1 (M), b2-y1-x (2M), b2-y1-b1 (3M).
    # By length: L = 0, 1, 2; the fewest MACs at length 1 is M, at length 2 it is 3M: the
    # paper's N_2nd = N_1 (or N_2), N_3rd = N_1 + N_2 for a BinaryDenseNet block.
    x = _input()
    y1 = tf.keras.layers.Concatenate()([x, _b("b1")(x)])
    out = tf.keras.layers.Concatenate()([y1, _b("b2")(y1)])
    paths = analysis.gradient_paths(tf.keras.Model(x, out))
    assert paths.input.l == (0, 1, 2) and paths.input.n == (0, M, 3 * M)
    assert paths.input.paths == 4
    layers = _by_name(paths)
    assert layers["b2"].macs == 2 * M
    assert layers["b1"].n == (0, 2 * M, None)  # out-y1, or out-b2-y1


def test_nested_model_called_twice_is_flattened_per_call():
    # the Bi-Real block as a model, called twice: paths of 0..4 binary layers, 2**4 of them
    x = _input()
    a1 = tf.keras.layers.Add()([x, _b("b1")(x)])
    block = tf.keras.Model(x, tf.keras.layers.Add()([a1, _b("b2")(a1)]), name="block")
    inputs = tf.keras.Input((4, 4, 2), name="image")
    y = block(block(inputs))
    model = tf.keras.Model(inputs, tf.keras.layers.GlobalAveragePooling2D()(y))
    paths = analysis.gradient_paths(model)
    assert paths.input.name == "image"
    assert paths.input.n == (0, M, 2 * M) and paths.input.paths == 16
    layers = _by_name(paths)
    assert list(layers) == ["block/b1@0", "block/b2@0", "block/b1@1", "block/b2@1"]
    assert layers["block/b1@0"].paths == 8 and layers["block/b2@1"].n == (0, None, None)


def test_other_merges_binary_dense_and_several_outputs():
    x = _input()
    avg = tf.keras.layers.Average()([_b("b1")(x), _b("b2")(x)])  # two parallel 1-conv paths
    summed = avg + x  # a TFOpLambda merge: the shortcut path
    flat = tf.keras.layers.Flatten()(summed)
    dense = lq.layers.QuantDense(  # binary input and weights: a binary layer of 32*4 MACs
        4,
        input_quantizer="ste_sign",
        kernel_quantizer="ste_sign",
        kernel_constraint="weight_clip",
        use_bias=False,
        name="bd",
    )(flat)
    side = tf.keras.layers.GlobalAveragePooling2D()(x)  # a second output, no binary layer
    paths = analysis.gradient_paths(tf.keras.Model(x, [dense, side]))
    # to x: the side output (0 layers), bd-x (1, 128 MACs), bd-b1/b2 (2, 128 + M)
    assert paths.input.l == (0, 1, 2) and paths.input.n == (0, 128, 128 + M)
    assert paths.input.paths == 4
    assert [f.name for f in paths.layers] == ["b1", "b2", "bd"]


def test_input_that_no_output_uses():
    x, unused = _input(), tf.keras.Input((2,), name="unused")
    model = tf.keras.Model([x, unused], _b("b1")(x))
    paths = analysis.gradient_paths(model)
    assert paths.inputs[1].name == "unused" and paths.inputs[1].paths == 0
    assert paths.inputs[1].n == (None, None, None)


def test_bad_input_is_a_clear_error():
    with pytest.raises(TypeError, match="tf.keras.Model"):
        analysis.gradient_paths("model.keras")

    class Subclassed(tf.keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="no layer graph"):
        analysis.gradient_paths(Subclassed())
    x = _input()
    paths = analysis.gradient_paths(tf.keras.Model(x, _b("b1")(x)))
    with pytest.raises(ValueError, match="metric"):
        paths.mean("n4")


def test_sequential_models_top_level_and_nested():
    chain = tf.keras.Sequential([_input(), _b("b1"), _b("b2")], name="chain")
    assert analysis.gradient_paths(chain).input.n == (2 * M, None, None)
    x = tf.keras.Input((4, 4, 2), name="image")
    out = tf.keras.layers.Add()([x, chain(x)])  # a ResNet block around the nested chain
    paths = analysis.gradient_paths(tf.keras.Model(x, out))
    assert paths.input.n == (0, 2 * M, None)
    assert [f.name for f in paths.layers] == ["chain/b1", "chain/b2"]
