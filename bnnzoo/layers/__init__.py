"""Larq-style building blocks shared by every model family in the zoo."""

from bnnzoo.layers.bitnet import bit_block as bit_block
from bnnzoo.layers.bitnet import dense_bit_block as dense_bit_block
from bnnzoo.layers.conv import PAD_VALUES, batch_norm, binary_conv, binary_conv2d, binary_dense
from bnnzoo.layers.densenet import dense_layer, transition, transition_filters
from bnnzoo.layers.quantizers import magnitude_aware_quantizer, sign_quantizer, weight_clip
from bnnzoo.layers.resnet import shortcut_block
from bnnzoo.layers.scaling import FixedScaling, XnorScaling

__all__ = [
    "PAD_VALUES",
    "FixedScaling",
    "XnorScaling",
    "batch_norm",
    "binary_conv",
    "binary_conv2d",
    "binary_dense",
    "dense_layer",
    "magnitude_aware_quantizer",
    "shortcut_block",
    "sign_quantizer",
    "transition",
    "transition_filters",
    "weight_clip",
]
