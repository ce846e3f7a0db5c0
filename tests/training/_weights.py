"""Reading a run's saved weights for bit-for-bit comparisons."""

import h5py


def read_weights(path) -> dict:
    """Every array of a Keras ``.weights.h5`` file, by its path in the file (never empty: a
    comparison of two empty dicts would pass whatever the weights)."""
    arrays = {}

    def collect(name, item):
        if isinstance(item, h5py.Dataset):
            arrays[name] = item[()]
        # returning anything but None would stop h5py's walk

    with h5py.File(path) as f:
        f.visititems(collect)
    assert arrays, f"no arrays in {path}"
    return arrays
