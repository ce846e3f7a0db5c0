"""Time inference of one model on every engine, side by side in one process, against the
machine's measured limit, and say which engine to use.

``bench`` converts the same Keras model for four engines and times a batch (default one image)
on each:

* ``keras``: TensorFlow running the model as one compiled ``tf.function`` (a graph, not
  ``model.predict``, whose per-call setup would dominate a batch of one);
* ``tflite``: the model as plain float32 TFLite (``tf.lite.TFLiteConverter``; larq's ``sign``
  becomes ``SIGN``/``ADD`` ops, each binary conv a float ``CONV_2D`` on ±1 values) in
  TensorFlow's interpreter with its default XNNPACK delegate;
* ``lce``: ``to_tflite(model)`` in Larq Compute Engine's interpreter (``lce.lce_engine``);
  on x86 its binary kernels are LCE's portable reference ones;
* ``openvino``: ``bnnzoo.converters.openvino`` (every binary conv a ``BinaryConvolution``, run
  by the CPU plugin's xnor-popcount kernel), float layers in ``precision`` (``"auto"``: bf16
  where the CPU has AVX512_BF16 or AMX); ``openvino-f32`` and ``openvino-bf16`` time both
  precisions side by side.

Every engine gets ``threads`` threads and the same input. Before timing, each engine's outputs
are compared with Keras (``verify.compare_outputs``) on a few random inputs, or on the real
images the caller gives (``images=``, ``bnnzoo bench --images``), which judge bf16 far better;
an engine that cannot convert or run the model is reported as unavailable with the reason. An
engine computing in bf16 that fails its check while its conversion agrees in f32 is timed and
reported as disagreeing, and OpenVINO is measured again in f32 (``openvino-f32``). The engines then
take turns in blocks (a few warm-up runs, then ``block`` timed runs of one engine), so that
drift and other load hit all of them alike while each block runs with its own data in the
caches; afterwards each engine runs alone. The report gives the median side by side (the fair
comparison) and alone (what a user running only that engine, or OpenVINO's ``benchmark_app``,
sees), and images/s.

The limit (``limit``) is measured: the best binary-MAC rate of one large OpenVINO
``BinaryConvolution`` and the best float-MAC rate of one large ``Convolution`` (f32, bf16) on
this machine; a model's limit time is binary MACs / binary peak + float MACs / float peak, and
each engine's % of limit is that over its median alone (per node type too, with a profile).
The report names the engine to use on this machine for this model (``RECOMMENDATION_RULE``),
and says in a line per engine why it was or was not chosen (``BenchReport.reasons``).

An untrained model (``verify.looks_untrained``) is copied and given tie-free weights on the
check's inputs (``exact.tie_free_weights``) first: its exact zeros before ``sign`` would make
the agreement check meaningless (see ``bnnzoo.converters.verify``), and under tie-free weights
every float32 engine that converts the model right agrees to float rounding on every input.
Speed does not depend on the weights. The report says when this happened.

Example:
    >>> from bnnzoo.converters.bench import bench
    >>> report = bench("binary_densenet28", input_shape=(224, 224, 3), threads=2, runs=30)
    >>> print(report.format())
    >>> report.recommended_engine, report.as_dict()["ratio_to_lce"]["openvino"]
    ('openvino', 0.05)

The command ``bnnzoo bench MODEL`` prints ``report.format()`` (or ``as_dict()`` as JSON).

Modules: ``timing`` (runs taking turns, the load of other processes), ``limit`` (the measured
peaks), ``engines`` (the engines), ``choice`` (the recommendation and why), ``report``
(``BenchReport``), ``run`` (``bench`` itself, a sequence of named steps).
"""

from bnnzoo.converters.bench.choice import RECOMMENDATION_RULE, reasons, recommend
from bnnzoo.converters.bench.engines import (
    ALL_ENGINES,
    ENGINE_TITLES,
    ENGINES,
    OPENVINO_PRECISION_ENGINES,
)
from bnnzoo.converters.bench.limit import Limit, measure_limit
from bnnzoo.converters.bench.report import BenchReport, EngineTimes
from bnnzoo.converters.bench.run import CHECK_INPUTS, bench
from bnnzoo.converters.bench.timing import (
    cpu_seconds,
    other_load,
    time_interleaved,
    wait_until_idle,
)

__all__ = [
    "ALL_ENGINES",
    "OPENVINO_PRECISION_ENGINES",
    "RECOMMENDATION_RULE",
    "CHECK_INPUTS",
    "ENGINES",
    "ENGINE_TITLES",
    "BenchReport",
    "EngineTimes",
    "Limit",
    "bench",
    "cpu_seconds",
    "measure_limit",
    "reasons",
    "recommend",
    "other_load",
    "time_interleaved",
    "wait_until_idle",
]
