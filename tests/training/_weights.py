"""Reading a run's saved weights for bit-for-bit comparisons."""

import h5py


def read_weights(path) -> dict:
    """Every array of a Keras ``.weights.h5`` file, by its path in the file."""
    arrays = []
    with h5py.File(path) as f:
        f.visititems(lambda n, o: arrays.append((n, o[()])) if isinstance(o, h5py.Dataset) else 0)
    return dict(arrays)
