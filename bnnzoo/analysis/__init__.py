"""Analysis of any Keras model: cost figures (counting), gradient paths (gradient_paths), both
together as text (report) and as a plot (plot)."""

from bnnzoo.analysis.counting import (
    LayerCount,
    ModelCount,
    count_model,
    flat_layers,
    is_binary,
    shapes_only,
)
from bnnzoo.analysis.gradient_paths import GradientPaths, PathFigures, gradient_paths
from bnnzoo.analysis.plot import plot_gradient_paths
from bnnzoo.analysis.report import Analysis, analyze

__all__ = [
    "Analysis",
    "GradientPaths",
    "LayerCount",
    "ModelCount",
    "PathFigures",
    "analyze",
    "count_model",
    "flat_layers",
    "gradient_paths",
    "is_binary",
    "plot_gradient_paths",
    "shapes_only",
]
