"""The engine-agnostic comparison: criteria, inputs, any engine against Keras, and the weights
that make a numeric check meaningful. (LCE's engine: tests/converters/lce/test_runtime.py.)"""

import numpy as np
import pytest

from bnnzoo import zoo
from bnnzoo.converters.verify import (
    VerificationError,
    compare_outputs,
    judged_checks,
    keras_outputs,
    looks_untrained,
    random_inputs,
    randomize_weights,
    tolerance,
    verify_engine,
)


def tiny(seed: int):
    model = zoo.BinaryResNetE(blocks_per_stage=(1, 1), filters=(16, 32), input_shape=(16, 16, 3),
                              num_classes=10, classifier_activation=None)  # fmt: skip
    return randomize_weights(model, seed=seed)


@pytest.fixture(scope="module")
def model():
    return tiny(0)


def keras_engine(model):
    return lambda x: keras_outputs(model, x)


def test_untrained_models_are_recognised():
    model = zoo.BinaryResNetE(blocks_per_stage=(1,), filters=(8,), input_shape=(8, 8, 3))
    assert looks_untrained(model)
    assert not looks_untrained(randomize_weights(model, seed=0))
    model.get_layer("stage1_block1_bn").moving_mean.assign([0.0] * 7 + [1e-3])
    assert not looks_untrained(model)


def test_inputs_are_used_as_given(model):
    x = random_inputs(model, 3, seed=7)
    assert x.shape == (3, 16, 16, 3) and x.dtype == np.float32
    assert np.array_equal(x, random_inputs(model, 3, seed=7))
    seen = []

    def recording(batch):
        seen.append(batch)
        return keras_outputs(model, batch)

    assert verify_engine(model, recording, inputs=x).n == 3 and np.array_equal(seen[0], x)
    with pytest.raises(ValueError, match=r"Add a batch axis"):
        verify_engine(model, keras_engine(model), inputs=x[0])
    with pytest.raises(ValueError, match=r"Expected inputs of shape \(n, 16, 16, 3\)"):
        verify_engine(model, keras_engine(model), inputs=np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match="Expected n to be an int >= 1. Received: n=0"):
        verify_engine(model, keras_engine(model), n=0)


def test_any_engine_plugs_in(model):
    keras = keras_engine(model)
    exact = verify_engine(model, keras, n=2, engine_name="copy")
    assert exact.passed and exact.max_abs_diff == 0 and exact.engine == "copy"
    with pytest.raises(VerificationError, match="shifted disagrees"):
        verify_engine(model, lambda x: keras(x) + 100, n=2, engine_name="shifted")
    with pytest.raises(VerificationError, match=r"returned outputs of shape \(10,\)"):
        verify_engine(model, lambda x: keras(x)[0], n=2)
    with pytest.raises(ValueError, match="Expected engine to be a function"):
        verify_engine(model, "openvino")


def test_compare_outputs_criteria():
    ref = np.array([[1.0, 2.0, 10.0], [5.0, 0.0, -1.0]])
    # Tolerance per sample: atol + rtol * max |ref| of that sample (10 and 5 here).
    just_inside = ref + np.array([[0, 0, 0.99e-3], [0, 0.49e-3, 0]])
    assert compare_outputs(ref, just_inside, atol=0, rtol=1e-4).passed
    report = compare_outputs(ref, ref + np.array([[0, 0, 0], [0, 0.6e-3, 0]]), atol=0, rtol=1e-4)
    assert not report.passed and report.worst_sample == 1
    assert report.worst_diff == pytest.approx(0.6e-3) and report.worst_tolerance == pytest.approx(
        5e-4
    )
    assert "sample 1 differs" in report.failure_message()
    # Top-1: a flipped argmax fails even when the values are within tolerance.
    flipped = compare_outputs(np.array([[1.0, 1.00001]]), np.array([[1.00001, 1.0]]), atol=1e-3)
    assert flipped.top1_agreement == 0.0 and not flipped.passed
    assert "top-1 class agrees on 0/1" in flipped.failure_message()
    assert compare_outputs(ref[:1], ref[:1] * 0 + ref[:1], min_top1_agreement=0.5).passed
    # By default at least half of the samples must keep their top-1 class (rule 2).
    close = np.tile([[1.0, 1.00001, 0.0]], (4, 1))
    swapped = close[:, [1, 0, 2]]
    assert compare_outputs(close, np.concatenate([swapped[:2], close[2:]])).passed
    three = compare_outputs(close, np.concatenate([swapped[:3], close[3:]]))
    assert three.top1_agreement == 0.25 and not three.passed
    # NaN never passes; feature maps have no top-1.
    nan = compare_outputs(ref, np.where(ref == 0, np.nan, ref))
    assert not nan.passed and np.isnan(nan.max_abs_diff) and nan.worst_sample == 1
    maps = compare_outputs(np.ones((2, 4, 4, 3)), np.ones((2, 4, 4, 3)))
    assert maps.top1_agreement is None and maps.passed


def test_a_small_error_on_every_sample_fails_a_sporadic_one_passes():
    ref = np.random.default_rng(0).normal(size=(4, 10))
    error = np.zeros_like(ref)
    error[:, 3] = 0.01 * np.abs(ref).max(axis=1)  # 1 % of each sample's largest output
    systematic = compare_outputs(ref, ref + error)
    assert systematic.rounding_exact == 0 and not systematic.passed
    assert "0/4 samples agree to float rounding, required 1" in systematic.failure_message()
    sporadic = compare_outputs(ref, ref + error * (np.arange(4) == 2)[:, None])
    assert sporadic.rounding_exact == 3 and sporadic.passed  # like a sign flip in one sample
    assert compare_outputs(ref, ref + error, min_rounding_exact=0).passed
    assert compare_outputs(ref, ref, min_rounding_exact=1.0).passed
    assert not compare_outputs(ref, ref + error * (np.arange(4) == 2)[:, None],
                               min_rounding_exact=1.0).passed  # fmt: skip


def test_judged_checks_drop_the_low_precision_check_only_for_untrained_models():
    ref = np.array([[1.0, 2.0, 10.0], [5.0, 0.0, -1.0]])
    low = compare_outputs(ref, ref[:, [2, 1, 0]], engine="bf16")  # every top-1 class flipped
    f32 = compare_outputs(ref, ref, engine="f32")
    assert not low.passed and f32.passed
    assert judged_checks(low, f32, untrained=False) == (low, f32)
    assert judged_checks(low, f32, untrained=True) == (f32,)
    assert judged_checks(low, None, untrained=True) == (low,)  # float32 engine: its own check


def test_one_input_in_a_thousand_may_lie_outside_the_bound_in_float32():
    """A flip on one real image of 1,000 passes f32; two, or one of 999, or a NaN, do not."""
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(1000, 10))
    candidate = reference.copy()
    candidate[7] += 0.5 * np.abs(reference[7]).max()  # one sample 50 % off
    f32 = tolerance("f32").kwargs()
    report = compare_outputs(reference, candidate, **f32)
    assert report.passed and report.outside == 1 and report.allowed_outside == 1
    assert not compare_outputs(reference[1:], candidate[1:], **f32).passed  # 999: none allowed
    candidate[8] += 0.5 * np.abs(reference[8]).max()
    two = compare_outputs(reference, candidate, **f32)
    assert not two.passed and "2/1000 samples beyond tolerance (1 allowed)" in two.failure_message()
    candidate[8] = reference[8]
    candidate[9, 0] = np.nan
    assert not compare_outputs(reference, candidate, **f32).passed


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"atol": -1.0}, "atol to be a non-negative number"),
        ({"rtol": float("nan")}, "rtol to be a non-negative number"),
        ({"min_top1_agreement": 2}, "min_top1_agreement to be a share between 0 and 1"),
        ({"min_rounding_exact": -0.1}, "min_rounding_exact to be a share between 0 and 1"),
        ({"max_outside": 1.5}, "max_outside to be a share between 0 and 1"),
    ],
)
def test_compare_outputs_refuses_bad_criteria(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compare_outputs(np.zeros((1, 2)), np.zeros((1, 2)), **kwargs)
    with pytest.raises(ValueError, match=r"returned outputs of shape \(1, 3\)"):
        compare_outputs(np.zeros((1, 2)), np.zeros((1, 3)))


def test_each_precision_has_its_stated_criteria():
    f32 = tolerance("f32")
    assert (f32.atol, f32.rtol, f32.min_top1_agreement, f32.rounding_rtol) == (1e-3, 0.2, 0.5, 1e-4)
    bf16 = tolerance("bf16")
    assert bf16.rtol >= f32.rtol and bf16.rounding_rtol == 0.05 > f32.rounding_rtol
    assert set(bf16.kwargs()) == {
        "atol",
        "rtol",
        "min_top1_agreement",
        "min_rounding_exact",
        "rounding_rtol",
        "max_outside",
    }
    # one input in 1,000 may lie outside rule 1 in float32 (a sign flip of trained weights);
    # every other precision keeps rule 1 for every input
    assert f32.max_outside == 0.001
    assert (
        bf16.max_outside
        == tolerance("int8-stem").max_outside
        == tolerance("exact").max_outside
        == 0
    )
    stem = tolerance("int8-stem")  # lossy: no rounding rule, looser bound, top-1 on real images
    assert stem.min_rounding_exact == 0 and stem.rtol == 0.75 and stem.min_top1_agreement == 0.9
    exact = tolerance("exact")  # tie-free weights: every input to float rounding
    assert (
        exact.min_rounding_exact == 1.0 and exact.rtol == exact.rounding_rtol == f32.rounding_rtol
    )
    expected = r"precision to be one of \('f32', 'bf16', 'int8-stem', 'exact'\).*'auto'"
    with pytest.raises(ValueError, match=expected):
        tolerance("auto")


def test_rounding_rtol_sets_what_agrees_to_rounding():
    ref = np.random.default_rng(1).normal(size=(4, 10))
    off = ref * 1.01  # 1 % on every sample: a systematic error in float32
    strict = compare_outputs(ref, off)
    assert strict.rounding_exact == 0 and not strict.passed
    assert "within rtol 0.0001" in strict.failure_message()
    loose = compare_outputs(ref, off, rounding_rtol=0.02)
    assert loose.rounding_exact == 4 and loose.passed and loose.rounding_rtol == 0.02
    with pytest.raises(ValueError, match="rounding_rtol to be a non-negative number"):
        compare_outputs(ref, ref, rounding_rtol=-1.0)


def test_the_reference_is_what_keras_computes_in_graph_mode_too(model):
    """``keras_outputs`` calls the model eagerly, a few inputs at a time; ``predict`` (a graph)
    gives the same outputs to float rounding on a model with tie-free weights."""
    from bnnzoo.converters.exact import tie_free_weights

    x = random_inputs(model, 5, seed=3)
    own = model.get_weights()
    try:
        tie_free_weights(model, x)
        eager = keras_outputs(model, x, batch_size=2)
        assert eager.shape == (5, 10)
        np.testing.assert_array_equal(eager[:2], keras_outputs(model, x[:2]))
        graph = model.predict(x, verbose=0)
        assert np.abs(eager - graph).max() <= 1e-5 * np.abs(graph).max()
    finally:
        model.set_weights(own)
    with pytest.raises(ValueError, match="batch_size"):
        keras_outputs(model, x, batch_size=0)
