"""bnnzoo's published models are weight-compatible with larq-zoo's models of the same names."""

import larq_zoo
import numpy as np
import pytest

from bnnzoo import analysis, zoo
from tests.conftest import randomize

PAIRS = [
    (name, spec.pretrained["imagenet"].larq_zoo_name)
    for name in zoo.list_models()
    if "imagenet" in (spec := zoo.get_model_spec(name)).pretrained
    and spec.family != "larq_zoo"  # built by larq-zoo itself: tests/zoo/test_larq_zoo.py
]


def test_all_six_published_models_have_a_larq_zoo_twin():
    assert {name for name, _ in PAIRS} == {
        "bireal_resnet18",
        "binary_densenet28",
        "binary_densenet37",
        "binary_densenet37_dilated",
        "binary_densenet45",
        "binary_resnet_e18",
    }


@pytest.mark.parametrize("include_top", [True, False])
@pytest.mark.parametrize("name, larq_zoo_name", PAIRS)
def test_larq_zoo_weights_give_the_same_outputs(name, larq_zoo_name, include_top, rng):
    shape = (64, 64, 3)  # above 50 px: the ImageNet stem, at a size that runs fast
    with analysis.shapes_only():  # every weight is set below
        ours = zoo.create_model(name, input_shape=shape, include_top=include_top)
        theirs = getattr(larq_zoo.literature, larq_zoo_name)(
            weights=None, input_shape=shape, include_top=include_top
        )
    assert ours.count_params() == theirs.count_params()
    randomize(theirs, rng)
    ours.set_weights(theirs.get_weights())  # in layer order
    x = rng.normal(size=(2, *shape)).astype("float32")
    ours_out = ours(x, training=False).numpy()
    theirs_out = theirs(x, training=False).numpy()
    assert ours_out.shape == theirs_out.shape
    assert np.abs(ours_out).max() > 0
    np.testing.assert_allclose(ours_out, theirs_out, atol=1e-5, rtol=0)
