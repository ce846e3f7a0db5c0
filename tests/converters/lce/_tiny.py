"""Tiny zoo configurations converted with LCE once per test session, shared by the LCE tests.

Models get random weights with BatchNorm statistics measured on data (``randomize_weights``), so
values fed to ``sign`` are O(1) and never exactly zero, as in a trained model; logits (no
softmax) keep the numeric check from hiding behind a saturated softmax.
"""

from bnnzoo import zoo
from bnnzoo.converters.lce import to_tflite
from bnnzoo.converters.lce.convert import serving_saved_model
from bnnzoo.converters.verify import randomize_weights

TINY = {
    "densenet": lambda **kw: zoo.BinaryDenseNet(
        layers_per_stage=(1, 1), reduction=(2,), input_shape=(32, 32, 3), num_classes=10,
        classifier_activation=None, **kw,
    ),
    "resnet_e": lambda **kw: zoo.BinaryResNetE(
        blocks_per_stage=(1, 1), filters=(16, 32), input_shape=(32, 32, 3), num_classes=10,
        classifier_activation=None, **kw,
    ),
}  # fmt: skip
VARIANTS = {
    "plain": {},
    "binary_downsampling": {"downsampling": "binary"},
    "scaling": {"scaling": True},
    "pad_value_1": {"pad_value": 1.0},
}
_CACHE = {}


def converted(family: str, variant: str, target: str = "arm"):
    """(model, flatbuffer) for a tiny zoo configuration, converted once per test session."""
    key = (family, variant, target)
    if key not in _CACHE:
        model = TINY[family](**VARIANTS[variant])
        randomize_weights(model, seed=len(_CACHE))
        _CACHE[key] = (model, to_tflite(model, target=target))
    return _CACHE[key]


def lce_alone(model, **options) -> bytes:
    """LCE's own conversion of ``model``, without bnnzoo's rewrites: the bytes
    ``larq_compute_engine.convert_keras_model`` writes (test_convert.py shows they are the
    same), from ``serving_saved_model``'s lighter SavedModel."""
    import larq_compute_engine as lce

    with serving_saved_model(model) as folder:
        return lce.convert_saved_model(folder, **options)
