"""Converters: TFLite through Larq Compute Engine (``lce``) and the checks against Keras
(``verify``).

Example:
    >>> from bnnzoo.converters import export_tflite
    >>> print(export_tflite("binary_densenet28", "bdn28.tflite", weights="imagenet"))
"""

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
