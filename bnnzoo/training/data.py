"""Datasets for training and evaluation, and the tf.data pipeline that feeds them.

Sources, by the name given to ``--dataset``:

* ``digits``: scikit-learn's 8×8 handwritten digits (always available; 1437 train / 360 test,
  a fixed stratified split, cached in ``$BNNZOO_CACHE/datasets``);
* ``fashion_mnist``: Fashion-MNIST from its IDX files, as Debian's ``dataset-fashion-mnist``
  installs them under ``/usr/share/datasets/fashion-mnist`` (or ``--data-dir``);
* ``tfds:NAME``: any tensorflow-datasets dataset with ``image`` and ``label`` (``--data-dir``;
  nothing is downloaded unless ``download=True``);
* ``folder:PATH``: an image folder with one sub-folder per class (and ``train``/``test``
  sub-folders, or a 90/10 split made with a fixed seed).

Every epoch sees the examples in an order fixed by ``(seed, epoch)``, and augmentation draws its
randomness from ``(seed, epoch, example position)``, so a run resumed mid-epoch sees exactly the
batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import difflib
import gzip
import io
import os
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from bnnzoo._io import cache_root, write_atomically

BUILTIN_DATASETS = ("digits", "fashion_mnist")  # the names that need no prefix
FASHION_MNIST_DIRS = ("/usr/share/datasets/fashion-mnist",)
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
AUGMENTATIONS = ("none", "flip", "cifar", "imagenet")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclass
class Source:
    """A dataset split into train and test, as element datasets of ``(image, label)``.

    ``train_elements(epoch)`` returns the training examples in the order of that epoch.
    Images are uint8 HWC (or float in [0, 255]); ``mean``/``std`` are per-channel statistics
    of the training images scaled to [0, 1].
    """

    name: str
    num_classes: int
    num_train: int
    num_test: int
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: tuple[str, ...] = ()
    _train: object = field(default=None, repr=False)
    _test: object = field(default=None, repr=False)
    _seed: int = 0

    def train_elements(self, epoch: int) -> tf.data.Dataset:
        return self._train(epoch)

    def test_elements(self) -> tf.data.Dataset:
        return self._test()


def load_dataset(
    spec: str,
    *,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    seed: int = 0,
    max_train: int | None = None,
    max_test: int | None = None,
) -> Source:
    """Open the dataset named ``spec`` (see the module docstring).

    Raises:
        FileNotFoundError: the dataset is not on this machine; the message says where bnnzoo
            looked and how to get it.
        ValueError: ``spec`` names no known source, or the files are corrupt.
    """
    check_dataset(spec, data_dir)
    if spec == "digits":
        x_train, y_train, x_test, y_test, names = _digits()
    elif spec == "fashion_mnist":
        x_train, y_train, x_test, y_test = _fashion_mnist(data_dir)
        names = FASHION_MNIST_CLASSES
    elif spec.startswith("tfds:"):
        return _tfds(spec[5:], data_dir, download, seed, max_train, max_test)
    else:
        x_train, y_train, x_test, y_test, names = _folder(Path(spec[7:]), seed)
    if max_train:
        x_train, y_train = x_train[:max_train], y_train[:max_train]
    if max_test:
        x_test, y_test = x_test[:max_test], y_test[:max_test]
    return _array_source(spec, x_train, y_train, x_test, y_test, tuple(names), seed)


def check_dataset_name(spec) -> str:
    """``spec`` if it has the form of a dataset name (see the module docstring), else a
    ValueError that suggests close names; nothing is opened. ``check_dataset`` also asks
    tensorflow-datasets whether it knows a ``tfds:NAME``."""
    known = spec in BUILTIN_DATASETS
    prefixed = isinstance(spec, str) and spec.startswith(("tfds:", "folder:"))
    if not known and not (prefixed and spec.split(":", 1)[1]):
        close = _close_names(spec, tfds_only=False) if isinstance(spec, str) and spec else []
        suggestion = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown dataset {spec!r}. Expected 'digits', 'fashion_mnist', 'tfds:NAME' (e.g. "
            f"tfds:cifar10) or 'folder:PATH'.{suggestion}"
        )
    return spec


def check_dataset(spec, data_dir: str | os.PathLike | None = None) -> str:
    """``spec`` if ``check_dataset_name`` accepts it and, for ``tfds:NAME``, tensorflow-datasets
    knows NAME (a registered builder, or a dataset prepared under ``data_dir`` or its default
    data directories), else a one-line ValueError with close names. Needs no network and builds
    no dataset: commands call it before they write anything.

    Example:
        >>> check_dataset("tfds:fashion_mnst")
        Traceback (most recent call last):
        ValueError: Unknown dataset 'tfds:fashion_mnst': tensorflow-datasets has no dataset ...
    """
    check_dataset_name(spec)
    if spec.startswith("tfds:"):
        _check_tfds_name(spec[5:], data_dir)
    return spec


TFDS_CATALOGUE = "https://www.tensorflow.org/datasets/catalog/overview"


def _check_tfds_name(name: str, data_dir) -> None:
    from tensorflow_datasets.core import naming
    from tensorflow_datasets.core.utils import file_utils

    try:
        dataset = naming.parse_builder_name_kwargs(name)[0]
    except ValueError:  # not of tfds' form NAME[/CONFIG][:VERSION]
        dataset = None
    if dataset is not None and (dataset.namespace or dataset.name in _tfds_names()):
        return  # a namespace's datasets are listed by its own register, which tfds asks
    bare = dataset.name if dataset is not None else name
    data_dirs = [str(d) for d in file_utils.list_data_dirs(given_data_dir=data_dir)]
    if dataset is not None and any(tf.io.gfile.isdir(os.path.join(d, bare)) for d in data_dirs):
        return  # prepared files without a registered builder: tfds reads them as they are
    close = _close_names(bare, tfds_only=True)
    suggestion = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValueError(
        f"Unknown dataset 'tfds:{name}': tensorflow-datasets has no dataset {bare!r} and none is "
        f"prepared in {', '.join(data_dirs)}.{suggestion} Every name: tfds.list_builders(), or "
        f"{TFDS_CATALOGUE}."
    )


def _tfds_names() -> frozenset[str]:
    """The datasets tensorflow-datasets has builders for (its own, not the community's: listing
    those needs the network)."""
    import tensorflow_datasets as tfds

    return frozenset(tfds.list_builders(with_community_datasets=False))


def _close_names(name: str, *, tfds_only: bool) -> list[str]:
    """Up to three dataset names close to ``name`` (``difflib``), as ``--dataset`` spells them."""
    query = name.removeprefix("tfds:")
    tfds_names = _tfds_names()
    pool = tfds_names if tfds_only else tfds_names | set(BUILTIN_DATASETS)
    shown = []
    for match in difflib.get_close_matches(query, sorted(pool), n=3, cutoff=0.6):
        if not tfds_only and match in BUILTIN_DATASETS:
            shown.append(match)
        if match in tfds_names:
            shown.append(f"tfds:{match}")
    return shown[:3]


def _array_source(name, x_train, y_train, x_test, y_test, class_names, seed) -> Source:
    if x_train.ndim == 3:
        x_train, x_test = x_train[..., None], x_test[..., None]
    scaled = x_train.astype(np.float32) / 255.0
    mean = tuple(float(v) for v in scaled.mean(axis=(0, 1, 2)))
    std = tuple(float(v) for v in scaled.std(axis=(0, 1, 2)))
    num_classes = int(max(y_train.max(), y_test.max())) + 1

    def train(epoch: int) -> tf.data.Dataset:
        order = np.random.default_rng([seed, epoch]).permutation(len(x_train))
        return tf.data.Dataset.from_tensor_slices((x_train[order], y_train[order]))

    def test() -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices((x_test, y_test))

    return Source(
        name, num_classes, len(x_train), len(x_test), x_train.shape[-1], mean, std,
        class_names, train, test, seed,
    )  # fmt: skip


DIGITS_SPLIT = ("x_train", "y_train", "x_test", "y_test")


def _digits():
    """The digits split, from the cache when scikit-learn's version made it: importing
    scikit-learn for it took 0.9-1.8 s of CPU in each process on a 2-core AMD EPYC, and every
    process that trains on digits would pay it (reading the cache: 0.003 s)."""
    names = [str(i) for i in range(10)]
    cached = digits_cache_path()
    if cached.is_file():
        try:
            with np.load(cached) as arrays:
                return (*(arrays[key] for key in DIGITS_SPLIT), names)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # unreadable: made again below
    split = _split_digits()
    buffer = io.BytesIO()
    np.savez(buffer, **dict(zip(DIGITS_SPLIT, split)))
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(cached, buffer.getvalue())
    except OSError:
        pass  # a read-only cache only costs the import next time
    return (*split, names)


def digits_cache_path() -> Path:
    """Where the digits split is kept: ``$BNNZOO_CACHE/datasets``, one file per scikit-learn
    version (its data and its split make the arrays)."""
    from importlib.metadata import version

    return cache_root() / "datasets" / f"digits-sklearn-{version('scikit-learn')}.npz"


def _split_digits():
    """scikit-learn's digits, 0-16 scaled to 0-255, split 80/20 stratified with seed 0."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=0.2, random_state=0, stratify=labels
    )
    return x_train, y_train, x_test, y_test


def _fashion_mnist(data_dir):
    candidates = [Path(data_dir)] if data_dir else [Path(d) for d in FASHION_MNIST_DIRS]
    for directory in candidates:
        files = {}
        for split in ("train", "t10k"):
            for kind in ("images-idx3", "labels-idx1"):
                stem = f"{split}-{kind}-ubyte"
                found = [directory / stem, directory / f"{stem}.gz"]
                files[(split, kind)] = next((p for p in found if p.is_file()), None)
        if all(files.values()):
            return (
                read_idx(files[("train", "images-idx3")]),
                read_idx(files[("train", "labels-idx1")]).astype(np.int64),
                read_idx(files[("t10k", "images-idx3")]),
                read_idx(files[("t10k", "labels-idx1")]).astype(np.int64),
            )
    looked = ", ".join(str(d) for d in candidates)
    raise FileNotFoundError(
        f"Fashion-MNIST not found: looked for train-images-idx3-ubyte[.gz], "
        f"train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte"
        f"[.gz] in {looked}. Install Debian's package (apt-get install dataset-fashion-mnist), "
        f"pass --data-dir with those files, or use --dataset tfds:fashion_mnist --download."
    )


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"Cannot read IDX file {str(path)!r}: {err}.") from err
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise ValueError(f"{str(path)!r} is not an IDX file of unsigned bytes.")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    expected = int(np.prod(dims))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != expected:
        raise ValueError(
            f"{str(path)!r} is truncated or corrupt: its header promises {dims} = {expected} "
            f"bytes, it holds {body.size}."
        )
    return body.reshape(dims)


def _folder(root: Path, seed: int):
    if not root.is_dir():
        raise FileNotFoundError(
            f"Image folder not found: {str(root)!r}. Expected one sub-folder per class, "
            f"optionally under train/ and test/."
        )
    if (root / "train").is_dir() and (root / "test").is_dir():
        train_files, names = _list_images(root / "train")
        test_files, test_names = _list_images(root / "test", names)
    else:
        files, names = _list_images(root)
        order = np.random.default_rng(seed).permutation(len(files))
        cut = max(1, len(files) // 10)
        test_files = [files[i] for i in order[:cut]]
        train_files = [files[i] for i in order[cut:]]
    x_train, y_train = _read_images(train_files)
    x_test, y_test = _read_images(test_files)
    return x_train, y_train, x_test, y_test, names


def _list_images(root: Path, names: list[str] | None = None):
    classes = names or sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise ValueError(f"{str(root)!r} has no class sub-folders.")
    files = []
    for label, name in enumerate(classes):
        for path in sorted((root / name).iterdir()) if (root / name).is_dir() else []:
            if path.suffix.lower() in IMAGE_SUFFIXES:
                files.append((path, label))
    if not files:
        raise ValueError(f"No images ({', '.join(IMAGE_SUFFIXES)}) under {str(root)!r}.")
    return files, classes


def _read_images(files):
    from PIL import Image

    images = []
    for path, _ in files:
        with Image.open(path) as image:
            images.append(np.asarray(image.convert("RGB")))
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        size = min(min(s[:2]) for s in shapes)
        images = [
            np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR)) for im in images
        ]
    return np.stack(images), np.array([label for _, label in files], dtype=np.int64)


def _tfds(name, data_dir, download, seed, max_train, max_test) -> Source:
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as err:  # tfds appends its whole catalogue to the message: the first line
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"tensorflow-datasets cannot open {name!r}: {first}") from err
    if not builder.info.splits and not download:
        raise FileNotFoundError(_tfds_missing(name, builder.data_dir))
    if download:
        builder.download_and_prepare()
    elif not tf.io.gfile.exists(os.path.join(builder.data_dir, "dataset_info.json")):
        raise FileNotFoundError(_tfds_missing(name, builder.data_dir))
    splits = builder.info.splits
    test_split = "test" if "test" in splits else "validation"
    train = builder.as_dataset(split="train", as_supervised=True, shuffle_files=False)
    test = builder.as_dataset(split=test_split, as_supervised=True, shuffle_files=False)
    num_train = max_train or splits["train"].num_examples
    num_test = max_test or splits[test_split].num_examples
    train, test = train.take(num_train), test.take(num_test)
    features = builder.info.features
    channels = features["image"].shape[-1] or 3
    sample = np.stack([x.numpy() for x, _ in train.take(512)]).astype(np.float32) / 255.0
    names = tuple(features["label"].names) if hasattr(features["label"], "names") else ()

    def train_elements(epoch: int) -> tf.data.Dataset:
        buffer = min(num_train, 10_000)
        return train.shuffle(buffer, seed=seed * 100_003 + epoch, reshuffle_each_iteration=False)

    return Source(
        f"tfds:{name}", features["label"].num_classes, num_train, num_test, channels,
        tuple(float(v) for v in sample.mean(axis=(0, 1, 2))),
        tuple(float(v) for v in sample.std(axis=(0, 1, 2))),
        names, train_elements, lambda: test, seed,
    )  # fmt: skip


def _tfds_missing(name, data_dir):
    return (
        f"tensorflow-datasets dataset {name!r} is not prepared in {data_dir}. Pass --data-dir "
        f"where it is prepared, or --download to fetch and prepare it (needs network)."
    )


# --------------------------------------------------------------------------------------------
# The pipeline
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preprocessing:
    """How images become model inputs; saved with a run so evaluation repeats it exactly."""

    size: int
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: str = "none"

    def __post_init__(self):
        if self.augment not in AUGMENTATIONS:
            raise ValueError(
                f"Expected augment to be one of {AUGMENTATIONS}. Received: {self.augment!r}."
            )
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError(
                f"Expected {self.channels} channel statistics. Received: mean={self.mean}, "
                f"std={self.std}. Use Preprocessing.for_source()."
            )

    @classmethod
    def from_dict(cls, saved: dict) -> Preprocessing:
        """The preprocessing a run saved in its ``config.json`` (its ``__dict__``)."""
        return cls(
            saved["size"], saved["channels"], tuple(saved["mean"]), tuple(saved["std"]),
            saved["augment"],
        )  # fmt: skip

    @classmethod
    def for_source(
        cls, source: Source, *, size: int, channels: int | None = None, augment: str = "none"
    ) -> Preprocessing:
        """Preprocessing for ``source`` at ``size``; grey and RGB statistics are converted."""
        channels = channels or source.channels
        mean, std = source.mean, source.std
        if channels != len(mean):
            mean = (float(np.mean(mean)),) * channels
            std = (float(np.mean(std)),) * channels
        return cls(size, channels, tuple(mean), tuple(std), augment)


def prepare(image, preprocessing: Preprocessing, *, training: bool, seed=None):
    """Scale to [0, 1], match channels, resize/augment to ``size``, standardize.

    ``image`` is one image (HWC or HW) or, without random augmentation (evaluation, or
    ``augment="none"``), a batch (NHWC): the same values either way.
    """
    p = preprocessing
    image = tf.cast(image, tf.float32) / 255.0
    if image.shape.rank == 2:
        image = image[..., None]
    if p.channels == 3 and image.shape[-1] == 1:
        image = tf.concat([image] * 3, axis=-1)
    elif p.channels == 1 and image.shape[-1] == 3:
        image = tf.image.rgb_to_grayscale(image)
    if training and p.augment == "flip":
        image = _resize(image, p.size)
        image = tf.image.stateless_random_flip_left_right(image, seed=seed + 1)
    elif training and p.augment == "cifar":
        image = _resize(image, p.size)
        image = tf.image.pad_to_bounding_box(image, 4, 4, p.size + 8, p.size + 8)
        image = tf.image.stateless_random_crop(image, (p.size, p.size, p.channels), seed=seed)
        image = tf.image.stateless_random_flip_left_right(image, seed=seed + 1)
    elif training and p.augment == "imagenet":
        begin, crop, _ = tf.image.stateless_sample_distorted_bounding_box(
            tf.shape(image), tf.zeros((1, 0, 4)), seed=seed, area_range=(0.08, 1.0),
            aspect_ratio_range=(3 / 4, 4 / 3), use_image_if_no_bounding_boxes=True,
        )  # fmt: skip
        image = tf.image.resize(tf.slice(image, begin, crop), (p.size, p.size))
        image = tf.image.stateless_random_flip_left_right(image, seed=seed + 1)
    elif p.augment == "imagenet":
        image = _resize(tf.image.central_crop(image, 0.875), p.size)
    else:
        image = _resize(image, p.size)
    image.set_shape((*image.shape[:-3], p.size, p.size, p.channels))
    return (image - tf.constant(p.mean)) / tf.constant(p.std)


def _resize(image, size: int):
    """``image`` resized to ``size``×``size``; untouched when it has that size already (a
    bilinear resize to the same size returns the same values, at the cost of a pass)."""
    if tuple(image.shape[-3:-1]) == (size, size):
        return image
    return tf.image.resize(image, (size, size))


def input_threads() -> int:
    """Threads the input pipeline may use: half the cores, at least one, so that it does not
    compete with the train step for every core (on 2 cores: one)."""
    return max(1, (os.cpu_count() or 1) // 2)


def pipeline_options() -> tf.data.Options:
    """tf.data options of every pipeline: a private pool of ``input_threads()`` threads, one
    thread per op, and no autotuning (its model runs on the cores the train step needs)."""
    options = tf.data.Options()
    options.threading.private_threadpool_size = input_threads()
    options.threading.max_intra_op_parallelism = 1
    options.autotune.enabled = False
    options.deterministic = True
    return options


def pipeline(
    elements: tf.data.Dataset,
    preprocessing: Preprocessing,
    *,
    batch_size: int,
    training: bool,
    seed: int = 0,
    epoch: int = 0,
    skip_batches: int = 0,
    num_batches: int | None = None,
    shard: tuple[int, int] = (1, 0),
    replicas: int = 1,
) -> tf.data.Dataset:
    """Batches of ``(inputs, labels)``; training batches are full, evaluation keeps the rest.

    ``skip_batches`` drops the batches a resumed run has already trained on; augmentation is a
    function of the example's position in the epoch, so skipping changes nothing else.
    ``num_batches`` keeps only that many global batches of the epoch (counted from its start).

    ``shard=(n, i)`` gives input pipeline ``i`` of ``n`` (one per worker) its part of every
    global batch of ``batch_size`` examples: the ``i``-th of ``n`` contiguous slices, batched
    for its ``replicas`` replicas (``batch_size // (n * replicas)`` examples per batch). The
    slices of all pipelines make up each global batch exactly, in the order one device would
    see it, so every example of the epoch is seen once across the cluster. Examples are
    assigned by position before preprocessing: each pipeline reads the whole source and
    preprocesses only its own examples.

    Images of one shape that need no random augmentation are preprocessed a batch at a time
    (one op per batch instead of one per image); the pipeline runs on ``input_threads()``
    threads and keeps two batches ready (``pipeline_options``).
    """
    workers, index = shard
    ds = elements.enumerate()
    if num_batches is not None:
        ds = ds.take(num_batches * batch_size)
    if skip_batches:
        ds = ds.skip(skip_batches * batch_size)
    if workers > 1:
        part = batch_size // workers
        ds = ds.filter(lambda position, _: (position % batch_size) // part == index)
    per_batch = batch_size // (workers * replicas)
    augmenting = training and preprocessing.augment != "none"
    if augmenting or not ds.element_spec[1][0].shape.is_fully_defined():

        def map_fn(position, example):
            image, label = example
            # stateless randomness from (seed, epoch, position): identical after a resume
            example_seed = tf.stack([tf.constant(seed, tf.int64), epoch * 10_000_019 + position])
            return prepare(image, preprocessing, training=training, seed=example_seed), label

        ds = ds.map(map_fn, num_parallel_calls=input_threads(), deterministic=True)
        ds = ds.batch(per_batch, drop_remainder=training)
    else:
        ds = ds.batch(per_batch, drop_remainder=training)
        ds = ds.map(lambda _, example: (prepare(example[0], preprocessing, training=training),
                                        example[1]))  # fmt: skip
    return ds.prefetch(2).with_options(pipeline_options())
