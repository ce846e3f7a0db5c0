"""Counting for any Keras model: parameters, storage, binary and float MACs, OPs."""

from bnnzoo.analysis.counting import (
    LayerCount,
    ModelCount,
    count_model,
    flat_layers,
    is_binary,
)

__all__ = ["LayerCount", "ModelCount", "count_model", "flat_layers", "is_binary"]
