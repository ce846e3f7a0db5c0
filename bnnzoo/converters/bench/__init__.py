"""Time batch-1 inference of one model on every engine, side by side in one process.

``bench`` converts the same Keras model for four engines and times one image at a time on each:

* ``keras``: TensorFlow running the model as one compiled ``tf.function`` (a graph, not
  ``model.predict``, whose per-call setup would dominate a batch of one);
* ``tflite``: the model as plain float32 TFLite (``tf.lite.TFLiteConverter``; larq's ``sign``
  becomes ``SIGN``/``ADD`` ops, each binary conv a float ``CONV_2D`` on ±1 values) in
  TensorFlow's interpreter with its default XNNPACK delegate;
* ``lce``: ``to_tflite(model)`` in Larq Compute Engine's interpreter (``lce.lce_engine``);
  on x86 its binary kernels are LCE's portable reference ones;
* ``openvino``: ``bnnzoo.converters.openvino`` (every binary conv a ``BinaryConvolution``, run
  by the CPU plugin's xnor-popcount kernel).

Every engine gets ``threads`` threads. Before timing, each engine's outputs are compared with
Keras (``verify.compare_outputs``) on a few random inputs; an engine that cannot convert or run
the model is reported as unavailable with the reason. The engines then take turns, one run
each, round after round (the order rotating), so that drift and other load on the machine hit
all of them alike; the report gives median, minimum and 90th percentile.

Throughput is put against a physical limit: ``binary_macs / median time`` (G binary MACs/s,
for every engine, also those that compute the binary layers in float) over
``BINARY_MACS_PER_CYCLE_PER_CORE × threads × clock`` (341 binary MACs per cycle and core with
AVX-512 ``VPOPCNTQ``; see ``limit``). No engine reaches the limit; the percentage says how far
each is from it.

An untrained model (``verify.looks_untrained``) is copied and given random weights with
BatchNorm statistics measured on data (``verify.randomize_weights``) first: its exact zeros
before ``sign`` would make the agreement check meaningless (see ``bnnzoo.converters.verify``).
Speed does not depend on the weights. The report says when this happened.

Example:
    >>> from bnnzoo.converters.bench import bench
    >>> report = bench("binary_densenet28", input_shape=(224, 224, 3), threads=2, runs=30)
    >>> print(report.format())
    >>> report.as_dict()["ratio_to_lce"]["openvino"]
    0.05

The command ``bnnzoo bench MODEL`` prints ``report.format()`` (or ``as_dict()`` as JSON).

Modules: ``timing`` (interleaved runs, the load of other processes), ``limit`` (the binary-MAC
limit and the CPU clock), ``engines`` (the four engines), ``report`` (``BenchReport``), ``run``
(``bench`` itself).
"""

from bnnzoo.converters.bench.engines import ENGINE_TITLES, ENGINES
from bnnzoo.converters.bench.limit import (
    BINARY_MACS_PER_CYCLE_PER_CORE,
    DEFAULT_CLOCK_GHZ,
    Limit,
    cpu_clock_ghz,
)
from bnnzoo.converters.bench.report import BenchReport, EngineTimes
from bnnzoo.converters.bench.run import CHECK_INPUTS, bench
from bnnzoo.converters.bench.timing import (
    cpu_seconds,
    other_load,
    time_interleaved,
    wait_until_idle,
)

__all__ = [
    "BINARY_MACS_PER_CYCLE_PER_CORE",
    "CHECK_INPUTS",
    "DEFAULT_CLOCK_GHZ",
    "ENGINES",
    "ENGINE_TITLES",
    "BenchReport",
    "EngineTimes",
    "Limit",
    "bench",
    "cpu_clock_ghz",
    "cpu_seconds",
    "other_load",
    "time_interleaved",
    "wait_until_idle",
]
