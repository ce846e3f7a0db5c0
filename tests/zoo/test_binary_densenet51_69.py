"""BinaryDenseNet51(32) and BinaryDenseNet69(32): BinaryDenseNet28/37 with the growth rate halved
and the dense layers doubled (Bethge et al. 2019, Figure 3c), the baselines of the IGP paper."""

import larq as lq
import pytest

from bnnzoo import zoo
from bnnzoo.analysis import count_model


@pytest.mark.parametrize(
    "name, half_of, layers",
    [
        ("binary_densenet51", "binary_densenet28", (12, 12, 12, 10)),
        ("binary_densenet69", "binary_densenet37", (12, 16, 24, 12)),
    ],
)
def test_halve_the_growth_rate_double_the_layers(name, half_of, layers):
    model = zoo.create_model(name, input_shape=(32, 32, 3), num_classes=10)
    original = zoo.create_model(half_of, input_shape=(32, 32, 3), num_classes=10)
    convs = [l for l in model.layers if isinstance(l, lq.layers.QuantConv2D)]
    before = [l for l in original.layers if isinstance(l, lq.layers.QuantConv2D)]
    assert len(convs) == sum(layers) == 2 * len(before)
    assert {c.filters for c in convs} == {32}
    for s, n in enumerate(layers):
        assert len([c for c in convs if c.name.startswith(f"stage{s + 1}_")]) == n
    # depth label: stem + dense layers + 3 transitions + classifier
    assert 1 + sum(layers) + 3 + 1 == int(name.removeprefix("binary_densenet"))
    # "roughly the same amount of parameters": within 10 % of binary weights
    binary, binary_before = count_model(model).binary_params, count_model(original).binary_params
    assert binary == pytest.approx(binary_before, rel=0.1)
    assert zoo.get_model_spec(name).family == "binary_densenet"
