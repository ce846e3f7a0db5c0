import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from bnnzoo.training import data


def _idx(path, array, gz=True):
    header = b"\0\0\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fashion_dir(tmp_path, rng):
    for split, n in (("train", 40), ("t10k", 20)):
        _idx(tmp_path / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 255, (n, 28, 28)))
        _idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    return tmp_path


def test_fashion_mnist_from_idx_files(fashion_dir):
    source = data.load_dataset("fashion_mnist", data_dir=fashion_dir)
    assert (source.num_train, source.num_test, source.num_classes, source.channels) == (
        40, 20, 10, 1,
    )  # fmt: skip
    images, labels = next(iter(source.test_elements().batch(20)))
    assert images.shape == (20, 28, 28, 1)
    np.testing.assert_array_equal(labels.numpy(), np.arange(20) % 10)


def test_missing_fashion_mnist_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"in {tmp_path}.*apt-get install"):
        data.load_dataset("fashion_mnist", data_dir=tmp_path)


def test_truncated_idx_file(fashion_dir):
    path = fashion_dir / "t10k-images-idx3-ubyte.gz"
    with gzip.open(path) as f:
        raw = f.read()
    with gzip.open(path, "wb") as f:
        f.write(raw[:-100])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        data.load_dataset("fashion_mnist", data_dir=fashion_dir)


def test_digits_split_is_fixed_and_stratified():
    a, b = data.load_dataset("digits"), data.load_dataset("digits")
    assert (a.num_train, a.num_test, a.num_classes) == (1437, 360, 10)
    labels = np.array([int(y) for _, y in a.test_elements()])
    assert np.array_equal(labels, [int(y) for _, y in b.test_elements()])
    assert np.bincount(labels).min() >= 35


def test_the_cached_digits_split_is_scikit_learns_and_a_damaged_cache_is_made_again(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("BNNZOO_CACHE", str(tmp_path / "cache"))
    cached = data.digits_cache_path()
    assert cached.parent == tmp_path / "cache" / "datasets" and not cached.exists()
    made = data._split_digits()
    first = data._digits()  # makes the cache
    assert cached.is_file()
    second = data._digits()  # reads it
    for expected, a, b in zip(made, first, second):
        assert a.dtype == b.dtype == expected.dtype
        assert np.array_equal(a, expected) and np.array_equal(b, expected)
    cached.write_bytes(cached.read_bytes()[:100])  # truncated
    assert all(np.array_equal(a, e) for a, e in zip(data._digits(), made))
    assert np.load(cached)["x_train"].shape == made[0].shape  # written again, whole
    blocked = tmp_path / "a-file"  # a cache that cannot be made still gives the split
    blocked.write_text("")
    monkeypatch.setenv("BNNZOO_CACHE", str(blocked))
    assert all(np.array_equal(a, e) for a, e in zip(data._digits(), made))
    assert blocked.read_text() == ""


def test_image_folder(tmp_path, rng):
    for split, n in (("train", 6), ("test", 2)):
        for name in ("cat", "dog"):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 255, (12, 10, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(tmp_path / split / name / f"{i}.png")
    source = data.load_dataset(f"folder:{tmp_path}")
    assert (source.num_train, source.num_test, source.class_names) == (12, 4, ("cat", "dog"))


def test_unknown_dataset():
    with pytest.raises(ValueError, match="Expected 'digits', 'fashion_mnist'"):
        data.load_dataset("mnist")


def test_tfds_dataset_not_prepared_is_not_downloaded(tmp_path):
    with pytest.raises(FileNotFoundError, match="--download"):
        data.load_dataset("tfds:mnist", data_dir=tmp_path)


@pytest.mark.parametrize("augment", ["none", "flip", "cifar", "imagenet"])
def test_pipeline_is_deterministic_and_skip_is_exact(augment):
    source = data.load_dataset("digits")
    pre = data.Preprocessing.for_source(source, size=16, channels=3, augment=augment)

    def batches(epoch, skip=0):
        return [x.numpy() for x, _ in data.pipeline(source.train_elements(epoch), pre,
                batch_size=64, training=True, seed=3, epoch=epoch, skip_batches=skip)]  # fmt: skip

    first, again, skipped = batches(0), batches(0), batches(0, skip=5)
    assert first[0].shape == (64, 16, 16, 3)
    np.testing.assert_array_equal(first[3], again[3])
    np.testing.assert_array_equal(first[5], skipped[0])
    assert not np.array_equal(first[0], batches(1)[0])  # another epoch, another order


def test_flip_mirrors_some_images_and_leaves_the_rest():
    source = data.load_dataset("digits")
    plain = data.Preprocessing.for_source(source, size=8, augment="none")
    flip = data.Preprocessing.for_source(source, size=8, augment="flip")

    def first_batch(pre):
        return next(iter(data.pipeline(source.train_elements(0), pre, batch_size=64,
                                       training=True, seed=3)))[0].numpy()  # fmt: skip

    original, flipped = first_batch(plain), first_batch(flip)
    mirrored = [np.array_equal(f, o[:, ::-1]) and not np.array_equal(f, o)
                for f, o in zip(flipped, original)]  # fmt: skip
    kept = [np.array_equal(f, o) for f, o in zip(flipped, original)]
    assert all(m or k for m, k in zip(mirrored, kept))  # no other change (no shift, no crop)
    assert 16 < sum(mirrored) < 48  # about half, drawn per image


def test_standardized_inputs():
    source = data.load_dataset("digits")
    pre = data.Preprocessing.for_source(source, size=8)
    x = np.concatenate([b.numpy() for b, _ in data.pipeline(source.train_elements(0), pre,
                        batch_size=500, training=True)])  # fmt: skip
    assert abs(x.mean()) < 0.05 and abs(x.std() - 1) < 0.05


@pytest.mark.parametrize(("size", "channels", "augment"), [(8, 1, "none"), (12, 3, "imagenet")])
def test_a_batch_is_preprocessed_as_its_images_one_by_one(size, channels, augment):
    """Without random augmentation the pipeline preprocesses whole batches: the same values."""
    source = data.load_dataset("digits")
    pre = data.Preprocessing.for_source(source, size=size, channels=channels, augment=augment)
    images, _ = next(iter(source.test_elements().batch(16)))
    one_by_one = np.stack([data.prepare(image, pre, training=False).numpy() for image in images])
    batched = next(iter(data.pipeline(source.test_elements(), pre, batch_size=16,
                                      training=False)))[0].numpy()  # fmt: skip
    assert batched.shape == (16, size, size, channels)
    np.testing.assert_array_equal(batched, one_by_one)


def test_the_pipeline_keeps_to_its_thread_budget():
    source = data.load_dataset("digits")
    pre = data.Preprocessing.for_source(source, size=8)
    ds = data.pipeline(source.train_elements(0), pre, batch_size=32, training=True)
    assert ds.options().threading.private_threadpool_size == data.input_threads() >= 1
    assert ds.options().autotune.enabled is False
