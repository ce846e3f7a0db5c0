"""Converters: TFLite through Larq Compute Engine (``lce``), the checks against Keras
(``verify``), and the latency of every engine side by side (``bench``, a module here: its
function of the same name is imported from it). ``openvino`` is imported on its own.

Example:
    >>> from bnnzoo.converters import export_tflite
    >>> print(export_tflite("binary_densenet28", "bdn28.tflite", weights="imagenet"))
    >>> from bnnzoo.converters.bench import bench
    >>> print(bench("binary_densenet28", input_shape=(224, 224, 3), runs=30).format())
"""

from bnnzoo.converters.bench import BenchReport
from bnnzoo.converters.lce import (
    TARGETS,
    BinaryMacReport,
    ExportReport,
    SizeReport,
    binary_mac_report,
    export_tflite,
    load_or_build,
    op_histogram,
    read_ops,
    size_report,
    to_tflite,
)
from bnnzoo.converters.verify import (
    VerificationError,
    VerifyReport,
    compare_outputs,
    lce_engine,
    looks_untrained,
    random_inputs,
    randomize_weights,
    verify_engine,
    verify_tflite,
)

__all__ = [
    "TARGETS",
    "BenchReport",
    "BinaryMacReport",
    "ExportReport",
    "SizeReport",
    "VerificationError",
    "VerifyReport",
    "binary_mac_report",
    "compare_outputs",
    "export_tflite",
    "lce_engine",
    "load_or_build",
    "looks_untrained",
    "op_histogram",
    "random_inputs",
    "randomize_weights",
    "read_ops",
    "size_report",
    "to_tflite",
    "verify_engine",
    "verify_tflite",
]
