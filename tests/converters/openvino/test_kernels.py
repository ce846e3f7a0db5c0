"""Which kernels the CPU plugin runs for exported zoo models: no reference kernel on the hot path
except the channel concatenations the plugin cannot do in place (``runtime.reference_kernels``).

One model per zoo family, at the smallest input it accepts, untrained: only the compiled graph
is looked at, not the outputs. The wu family (binary ``QuantDense``) does not export.
"""

from __future__ import annotations

import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo._host import cpu_flags
from bnnzoo.converters import openvino as ovx

# (registry name, input side); one per family of zoo.list_families() that exports
SAMPLE = {
    "binary_densenet": ("binary_densenet28", 32),
    "bireal": ("bireal_resnet18", 32),
    "bitnet": ("bitnet_cifar_d4_k2_n2_binary", 32),
    "dwr": ("dwr_resnet18_cifar_s2", 32),
    "igp": ("igp_resnet21", 32),
    "larq_zoo": ("birealnet", 32),
    "reactnet": ("reactnet_a", 32),
    "resnet_e": ("binary_resnet_e18", 32),
    "wide_resnet": ("wide_resnet_cifar_d10_k2_n2_binary", 32),
}

pytestmark = pytest.mark.skipif(
    "avx512f" not in cpu_flags(),
    reason="the CPU lacks AVX-512 (avx512f): the plugin picks other kernels there",
)


def test_the_sample_covers_every_family_that_exports():
    assert set(SAMPLE) | {"wu"} == set(zoo.list_families())
    for family, (name, _) in SAMPLE.items():
        assert name in zoo.list_families()[family]


@pytest.mark.parametrize("family", sorted(SAMPLE))
def test_no_reference_kernel_but_nhwc_concatenations(family):
    name, side = SAMPLE[family]
    model = zoo.create_model(name, input_shape=(side, side, 3))
    compiled = ovx.compile(ovx.to_openvino(model), threads=2)

    refs = ovx.reference_kernels(compiled)
    others = [(op.name, op.layer_type, op.primitive_type) for op in refs if not ovx.nhwc_concat(op)]
    assert others == [], f"{name} runs reference kernels: {others}"
    # the Concats are the model's concatenations and those padding a binarized input to a
    # multiple of 8 channels (binary_layers.quant_conv)
    concats = {l.name for l in model.layers if isinstance(l, tf.keras.layers.Concatenate)}
    assert {op.name for op in refs if not op.name.endswith("/pad_channels")} == concats
    kernels = ovx.binary_ops_in_runtime(compiled)
    assert kernels and all(kernel == "jit_avx512_u1" for kernel in kernels.values())


def test_weight_repacking_runs_once_and_is_left_out():
    model = zoo.create_model("binary_resnet_e18", input_shape=(32, 32, 3))
    ops = ovx.runtime_ops(ovx.compile(ovx.to_openvino(model)))
    repacked = [op for op in ops if op.primitive_type == "ref_any_u1"]
    assert repacked and all(op.constant for op in repacked)
    assert not any(op.constant for op in ops if op.layer_type == "BinaryConvolution")
