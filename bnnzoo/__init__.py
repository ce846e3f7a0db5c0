"""bnnzoo: a Keras model zoo of binarized neural networks built from larq layers.

Importing bnnzoo selects Keras 2 (``TF_USE_LEGACY_KERAS=1``) before TensorFlow is imported,
so import it before tensorflow or larq::

    import bnnzoo
    from bnnzoo import zoo

    model = zoo.BinaryDenseNet28(weights=None)
"""

from bnnzoo._environment import select_legacy_keras

select_legacy_keras()

from bnnzoo._autograph import skip_tf_keras  # noqa: E402

skip_tf_keras()

from bnnzoo import analysis, layers, zoo  # noqa: E402

__version__ = "0.1.0"
__all__ = ["analysis", "layers", "zoo", "__version__"]
