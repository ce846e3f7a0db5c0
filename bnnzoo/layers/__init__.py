"""Larq-style building blocks shared by every model family in the zoo."""

from bnnzoo.layers.bitnet import bit_block, dense_bit_block, wide_residual_block
from bnnzoo.layers.channels import AddToLastChannels, ChannelSplit
from bnnzoo.layers.conv import (
    DOWNSAMPLING,
    PAD_VALUES,
    batch_norm,
    binary_conv,
    binary_conv2d,
    binary_dense,
)
from bnnzoo.layers.densenet import dense_layer, transition, transition_filters
from bnnzoo.layers.quantizers import magnitude_aware_quantizer, sign_quantizer, weight_clip
from bnnzoo.layers.reactnet import RPReLU, RSign, reactnet_block, rsign_conv, rsign_residual
from bnnzoo.layers.resnet import shortcut_block
from bnnzoo.layers.scaling import FixedScaling, XnorScaling

__all__ = [
    "AddToLastChannels",
    "ChannelSplit",
    "DOWNSAMPLING",
    "PAD_VALUES",
    "FixedScaling",
    "RPReLU",
    "RSign",
    "XnorScaling",
    "batch_norm",
    "binary_conv",
    "binary_conv2d",
    "binary_dense",
    "bit_block",
    "dense_bit_block",
    "dense_layer",
    "magnitude_aware_quantizer",
    "reactnet_block",
    "rsign_conv",
    "rsign_residual",
    "shortcut_block",
    "sign_quantizer",
    "transition",
    "transition_filters",
    "weight_clip",
    "wide_residual_block",
]
