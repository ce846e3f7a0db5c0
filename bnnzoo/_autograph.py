"""AutoGraph leaves Keras 2's own code alone, as it leaves Keras 3's.

AutoGraph (``tf.function``'s conversion of Python control flow into graph ops) skips the
packages on its list of known libraries: ``tensorflow``, ``numpy``, ``keras`` and a few more.
TensorFlow 2.16 does not list ``tf_keras``, the Keras 2 package that bnnzoo and larq run on, so
every process converted Keras' whole training code (``train_step``, the losses, the optimizers,
every Keras layer's ``call``) the first time it traced a ``fit``; later TensorFlow lists it
(``tensorflow/python/autograph/core/config.py``: ``DoNotConvert("tf_keras")`` after
``DoNotConvert("keras")``). ``skip_tf_keras`` adds that rule where it is missing. Code outside
``tf_keras`` (larq's layers, bnnzoo's, the user's) is converted as before.

Measured (2-core AMD EPYC, TensorFlow 2.16.2): the first ``model.fit`` of a process on a
two-stage BinaryResNetE at 16×16 took 17.4 s of CPU, 1.9 s with the rule; later fits of other
models 4.0-4.7 s, 2.2-2.8 s.
"""

from __future__ import annotations

PACKAGE = "tf_keras"


def skip_tf_keras() -> bool:
    """Add AutoGraph's ``DoNotConvert("tf_keras")`` rule unless it is there; returns whether it
    was added."""
    from tensorflow.python.autograph.core import config

    rules = tuple(config.CONVERSION_RULES)
    if any(isinstance(rule, config.DoNotConvert) and rule.matches(PACKAGE) for rule in rules):
        return False
    config.CONVERSION_RULES = (*rules, config.DoNotConvert(PACKAGE))
    return True
