"""Analysis of any Keras model: cost figures (counting) and gradient paths (gradient_paths)."""

from bnnzoo.analysis.counting import (
    LayerCount,
    ModelCount,
    count_model,
    flat_layers,
    is_binary,
)
from bnnzoo.analysis.gradient_paths import GradientPaths, PathFigures, gradient_paths

__all__ = [
    "GradientPaths",
    "LayerCount",
    "ModelCount",
    "PathFigures",
    "count_model",
    "flat_layers",
    "gradient_paths",
    "is_binary",
]
