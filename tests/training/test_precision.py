"""Mixed-precision training: 16-bit compute, float32 weights, and a float32 model at the end."""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo.training import evaluate_run, recipes, train
from bnnzoo.training.loop import build_model
from bnnzoo.training.precision import (
    check_precision,
    detect_hardware,
    dtype_policy,
    fastest,
    has_bfloat16,
    measure_rates,
    slow_precision_warning,
)
from bnnzoo.training.rundir import RunDir
from tests.training._weights import read_weights

QUICK = "resnet_e18_imagenet_quick"


def test_dtype_policy_builds_16_bit_layers_and_restores_the_global_policy():
    config = recipes.resolve(QUICK)
    with dtype_policy("mixed_bfloat16"):
        model = build_model(config, input_shape=(32, 32, 3), num_classes=10)
    convs = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D)]
    assert convs and all(layer.compute_dtype == "bfloat16" for layer in convs)
    assert all(w.dtype == tf.float32 for w in model.weights)  # latent weights stay float32
    assert tf.keras.mixed_precision.global_policy().name == "float32"


@pytest.mark.xdist_group("quick_run")  # the float32 run is tests/training/conftest.py's
def test_mixed_bfloat16_trains_saves_a_float32_model_and_resumes_mid_epoch_exactly(
    quick_run, tmp_path, monkeypatch
):
    """A mixed_bfloat16 run of the float32 ``quick_run`` (its precision "auto", measured faster
    in bfloat16) trains, saves a float32 model whose accuracy is the reported one, and differs
    from the float32 run only by its 16-bit compute. bfloat16 kernels are deterministic here
    too: a copy resumed from a checkpoint in the middle of epoch 2 ends bit for bit where the
    uninterrupted run ended, and trains in bfloat16 without measuring again."""
    float32_run, float32_result = quick_run  # QUICK at lr 0.01 for 2 epochs, in float32
    assert RunDir(float32_run).read_config()["precision"] == "float32"
    calls = _measured(monkeypatch, {"float32": 90.0, "mixed_bfloat16": 150.0})
    overrides = ["optimizer.lr=0.01", "precision=auto", "checkpoint_every_steps=3",
                 "keep_checkpoints=20"]  # fmt: skip
    run = tmp_path / "mixed_bfloat16"
    result = train(recipes.resolve(QUICK, overrides, epochs=2), run, verbose=0)
    assert RunDir(run).read_config()["precision"] == "mixed_bfloat16"
    rows = RunDir(run).read_metrics()
    assert rows[1]["train_loss"] < rows[0]["train_loss"]
    assert tf.keras.mixed_precision.global_policy().name == "float32"
    saved = tf.keras.models.load_model(run / "model.keras")
    assert {layer.dtype_policy.name for layer in saved.layers} == {"float32"}
    # the reported accuracy is the float32 model's: the saved model reproduces it
    _, accuracy = evaluate_run(run)
    assert accuracy == pytest.approx(result.test_accuracy)
    # same seed, same data, checkpoints aside the same recipe: 16-bit compute changes the weights
    reference = float32_result.model.get_weights()
    assert (
        max(float(np.abs(a - b).max()) for a, b in zip(result.model.get_weights(), reference)) > 0
    )
    assert "trained in mixed_bfloat16" in (run / "model_card.md").read_text()

    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    (resumed / "model.weights.h5").unlink()
    # 16 steps per epoch: ckpt-19 was written after step 3 of epoch 2
    tf.compat.v1.train.update_checkpoint_state(str(resumed / "checkpoints"), "ckpt-19")
    train({}, resumed, resume=True, verbose=0)
    assert len(calls) == 1  # the resume read the saved choice
    epochs = [row["epoch"] for row in RunDir(resumed).read_metrics()]
    assert epochs == [1, 2]  # epoch 2 trained again: its first row was dropped on resume
    final = read_weights(resumed / "model.weights.h5")
    expected = read_weights(run / "model.weights.h5")
    assert final.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(final[name], expected[name], err_msg=name)


def test_unknown_precision_and_bop_with_float16_are_refused():
    with pytest.raises(ValueError, match="one of .*'mixed_bfloat16', .*'auto'.*'fp8'"):
        check_precision(recipes.resolve(QUICK, ["precision=fp8"]))
    with pytest.raises(ValueError, match="Bop"):
        check_precision(recipes.resolve(QUICK, ["precision=mixed_float16", "optimizer.name=bop"]))
    assert check_precision(recipes.resolve(QUICK)) == "float32"


BF16_CPU, OLD_CPU = {"avx512f", "avx512_bf16"}, {"avx2", "fma"}


def test_auto_precision_follows_the_hardware():
    auto = recipes.resolve(QUICK, ["precision=auto"])
    assert check_precision(auto, ([], BF16_CPU)) == "mixed_bfloat16"
    assert check_precision(auto, ([], {"amx_bf16"})) == "mixed_bfloat16"
    assert check_precision(auto, ([], OLD_CPU)) == "float32"
    assert check_precision(auto, ([(8, 0)], OLD_CPU)) == "mixed_bfloat16"  # A100 and later
    assert check_precision(auto, ([(7, 0), (8, 6)], BF16_CPU)) == "float32"  # a V100 in the set
    assert recipes.resolve("resnet_e_fashion_mnist")["precision"] == "auto"


def test_auto_reads_the_cpu_flags_of_this_machine(monkeypatch):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    auto = recipes.resolve(QUICK, ["precision=auto"])
    for flags, expected in (({"amx_bf16"}, "mixed_bfloat16"), (OLD_CPU, "float32")):
        monkeypatch.setattr("bnnzoo.training.precision.cpu_flags", lambda flags=flags: flags)
        assert detect_hardware() == ([], flags)
        assert check_precision(auto) == expected
    assert has_bfloat16([], {"avx512_bf16"}) and not has_bfloat16([(7, 5)], {"avx512_bf16"})


def _measured(monkeypatch, rates, flags=BF16_CPU):
    """Train on hardware with ``flags``, "measuring" ``rates``; the calls are recorded."""
    calls = []

    def measure(build, config, batch_shape, num_classes, **kwargs):
        calls.append(tuple(batch_shape))
        return dict(rates)

    monkeypatch.setattr("bnnzoo.training.loop.detect_hardware", lambda: ([], flags))
    monkeypatch.setattr("bnnzoo.training.loop.measure_rates", measure)
    return calls


def test_fastest_picks_the_higher_rate_and_float32_on_a_tie():
    assert fastest({"float32": 100.0, "mixed_bfloat16": 240.0}) == "mixed_bfloat16"
    assert fastest({"float32": 100.0, "mixed_bfloat16": 61.0}) == "float32"
    assert fastest({"mixed_bfloat16": 80.0, "float32": 80.0}) == "float32"


@pytest.mark.parametrize(
    ("rates", "chosen"),
    [({"float32": 150.0, "mixed_bfloat16": 90.0}, "float32"),
     ({"float32": 90.0, "mixed_bfloat16": 150.0}, "mixed_bfloat16")],
)  # fmt: skip
def test_auto_trains_in_the_faster_precision_it_measured(tmp_path, monkeypatch, capsys, rates,
                                                         chosen):  # fmt: skip
    calls = _measured(monkeypatch, rates)
    train(recipes.resolve(QUICK, ["precision=auto"], epochs=1), tmp_path, verbose=1)
    assert calls == [(32, 32, 32, 1)]  # the run's batch and input shape, measured once
    printed = capsys.readouterr().out
    assert f"float32 {rates['float32']:.0f} images/s" in printed
    assert f"mixed_bfloat16 {rates['mixed_bfloat16']:.0f} images/s" in printed
    assert f"training in {chosen}" in printed
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["precision"] == chosen and saved["precision_auto_rates"] == rates
    assert f"trained in {chosen}" in (tmp_path / "model_card.md").read_text()


def test_auto_without_bfloat16_hardware_is_float32_unmeasured(tmp_path, monkeypatch):
    calls = _measured(monkeypatch, {"float32": 1.0, "mixed_bfloat16": 9.0}, flags=OLD_CPU)
    train(recipes.resolve(QUICK, ["precision=auto"], epochs=1), tmp_path, verbose=0)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert calls == [] and saved["precision"] == "float32" and "precision_auto_rates" not in saved


def test_measure_rates_times_both_precisions_and_keeps_layer_names():
    """A real measurement of a tiny model: two positive rates, and the models it built do not
    shift the automatic names of the models built after it."""
    from tf_keras.src import backend

    config = recipes.resolve(QUICK)

    def build():
        return build_model(config, input_shape=(8, 8, 1), num_classes=4)

    counters = dict(backend.PER_GRAPH_OBJECT_NAME_UIDS.get(backend.get_graph(), {}))
    rates = measure_rates(build, config, (4, 8, 8, 1), 4, steps=1, rounds=1)
    assert set(rates) == {"float32", "mixed_bfloat16"} and min(rates.values()) > 0
    assert dict(backend.PER_GRAPH_OBJECT_NAME_UIDS.get(backend.get_graph(), {})) == counters


def test_slow_precision_warning():
    assert slow_precision_warning("float32", [], OLD_CPU) is None
    assert slow_precision_warning("mixed_bfloat16", [], BF16_CPU) is None
    assert "AVX512_BF16" in slow_precision_warning("mixed_bfloat16", [], OLD_CPU)
    assert "compute capability" in slow_precision_warning("mixed_bfloat16", [(7, 5)], BF16_CPU)
    assert "without a GPU" in slow_precision_warning("mixed_float16", [], BF16_CPU)
    assert slow_precision_warning("mixed_float16", [(7, 0)], OLD_CPU) is None
