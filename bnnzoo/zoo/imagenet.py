"""ImageNet in and out of the zoo's pretrained models: images to inputs, scores to class names.

The names and semantics follow ``keras.applications``: ``preprocess_input`` normalizes images
that already have the model's size, ``decode_predictions`` turns a batch of 1000 class scores
into ``(wnid, name, score)`` tuples. ``load_image`` reads and sizes an image the way larq-zoo
evaluated its ImageNet weights (the weights ``weights="imagenet"`` loads): a center crop of
224/256 of the shorter side, resized bicubically to 224×224. larq-zoo uses this one
preprocessing for every model it publishes, so it fits every model with ImageNet weights here.

Example:
    >>> from bnnzoo.zoo import imagenet
    >>> model = zoo.create_model("binary_densenet28", weights="imagenet")
    >>> x = imagenet.preprocess_input(np.stack([imagenet.load_image("cat.jpg")]))
    >>> imagenet.decode_predictions(model.predict(x), top=1)
    [[('n02123045', 'tabby', 0.41)]]
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from bnnzoo._checks import positive_int

IMAGE_SIZE = 224
CROP_PADDING = 32  # the center crop keeps size / (size + 32) of the shorter side: 87.5% at 224

# ImageNet's per-channel mean and standard deviation, on the 0..255 scale of the pixels
MEAN_RGB = (np.array([0.485, 0.456, 0.406]) * 255).astype(np.float32)
STDDEV_RGB = (np.array([0.229, 0.224, 0.225]) * 255).astype(np.float32)

# Keras' class index: {"0": ["n01440764", "tench"], ...}, fetched once into ~/.keras/models
CLASS_INDEX_URL = (
    "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
)
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"


def crop_and_resize(image, size: int = IMAGE_SIZE) -> np.ndarray:
    """The center ``size / (size + 32)`` of the shorter side of an (H, W, 3) image, resized
    bicubically to (size, size, 3) as float32 on the pixels' 0..255 scale.

    The resize is TensorFlow's legacy bicubic (no half-pixel centers), as in larq-zoo's
    evaluation; the result is not rounded, so it may overshoot 0..255 slightly.
    """
    positive_int("size", size, hint="Pass e.g. size=224.")
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(
            f"Expected an RGB image of shape (height, width, 3). Received shape {image.shape}; "
            f"convert grayscale or RGBA images to RGB first (PIL: image.convert('RGB'))."
        )
    height, width = image.shape[:2]
    # float32 arithmetic, truncated, as larq-zoo computes the crop
    crop = int(np.float32(size / (size + CROP_PADDING)) * np.float32(min(height, width)))
    if crop < 1:
        raise ValueError(
            f"Expected an image whose center crop ({size}/{size + CROP_PADDING} of the shorter "
            f"side) keeps at least one pixel. Received shape {image.shape}; pass a larger image."
        )
    top, left = (height - crop + 1) // 2, (width - crop + 1) // 2
    window = image[top : top + crop, left : left + crop]
    resized = tf.raw_ops.ResizeBicubic(
        images=window[None], size=[size, size], align_corners=False, half_pixel_centers=False
    )
    return resized[0].numpy()


def load_image(path: str | os.PathLike, size: int = IMAGE_SIZE) -> np.ndarray:
    """The image file at ``path`` as RGB, center-cropped and resized (``crop_and_resize``):
    a float32 (size, size, 3) array on the 0..255 scale, ready for ``preprocess_input``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not an image Pillow can read.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"Image not found: {os.fspath(path)!r}.") from None
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"Cannot read {os.fspath(path)!r} as an image: {err}.") from None
    return crop_and_resize(pixels, size)


def preprocess_input(x):
    """Normalizes RGB images (0..255 scale, channels last) with ImageNet's per-channel mean and
    standard deviation, as the zoo's ImageNet weights expect.

    Args:
        x: one image (H, W, 3) or a batch (N, H, W, 3), any numeric dtype: a NumPy array (or
            anything ``np.asarray`` takes) or a TensorFlow tensor. Not modified.

    Returns:
        float32 ``(x - mean) / std``: a NumPy array for NumPy input, else a tensor.
    """
    if tf.is_tensor(x):
        _check_images(x.shape)
        return (tf.cast(x, tf.float32) - MEAN_RGB) / STDDEV_RGB
    x = np.asarray(x)
    _check_images(x.shape)
    return (x.astype(np.float32) - MEAN_RGB) / STDDEV_RGB


def _check_images(shape) -> None:
    if len(shape) not in (3, 4) or shape[-1] != 3:
        raise ValueError(
            f"Expected RGB images of shape (height, width, 3) or (batch, height, width, 3). "
            f"Received shape {tuple(shape)}."
        )


def fetch_class_index() -> Path:
    """The path of Keras' ``imagenet_class_index.json``, downloaded on first use (checked
    against its MD5) into Keras' cache, ``~/.keras/models``.

    Raises:
        OSError: the download failed; its cause is the underlying error.
    """
    try:
        path = tf.keras.utils.get_file(
            "imagenet_class_index.json",
            CLASS_INDEX_URL,
            cache_subdir="models",
            file_hash=CLASS_INDEX_MD5,
        )
    except Exception as err:  # Keras raises a bare Exception when the download fails
        raise OSError(
            f"Could not fetch ImageNet class names from {CLASS_INDEX_URL} ({err}). Pass "
            f"class_index with the path of a local copy of imagenet_class_index.json."
        ) from err
    return Path(path)


def load_class_index(path: str | os.PathLike | None = None) -> list[tuple[str, str]]:
    """``(wnid, name)`` of every class, in class order, from a JSON file in the format of Keras'
    ``imagenet_class_index.json`` (``{"0": ["n01440764", "tench"], ...}``); None fetches
    Keras' own (``fetch_class_index``).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not such a JSON object.
        OSError: the file cannot be read, or the download failed.
    """
    if path is None:
        path = fetch_class_index()
    try:
        with open(path) as f:
            raw = json.load(f)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"Cannot read class index {os.fspath(path)!r}: {err}.") from None
    except (ValueError, UnicodeDecodeError) as err:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"Cannot read class index {os.fspath(path)!r}: {err}.") from None
    if not (
        isinstance(raw, dict)
        and raw
        and set(raw) == {str(i) for i in range(len(raw))}
        and all(_is_pair(v) for v in raw.values())
    ):
        raise ValueError(
            f"Class index {os.fspath(path)!r} is not in the format of Keras' "
            f'imagenet_class_index.json: {{"0": ["n01440764", "tench"], "1": [...], ...}} '
            f"with keys 0..N-1."
        )
    return [tuple(raw[str(i)]) for i in range(len(raw))]


def _is_pair(value) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(s, str) for s in value)


def decode_predictions(
    preds, top: int = 5, class_index: str | os.PathLike | None = None
) -> list[list[tuple[str, str, float]]]:
    """The ``top`` highest-scoring classes of every row of ``preds``, best first.

    Args:
        preds: a batch of class scores, shape (samples, classes).
        top: how many classes per row.
        class_index: a JSON file in the format of Keras' ``imagenet_class_index.json`` whose
            number of classes matches ``preds``; None (default) uses Keras' own, downloaded once.

    Returns:
        One list per row of ``(wnid, name, score)`` tuples, as ``keras.applications``'
        ``decode_predictions`` (equal scores in NumPy's ``argsort`` order, reversed).

    Raises:
        ValueError: ``preds`` is not 2-D, ``top`` < 1, or the class index does not fit.
        FileNotFoundError, OSError: see ``load_class_index``.
    """
    positive_int("top", top, hint="Pass e.g. top=5.")
    preds = np.asarray(preds)
    if preds.ndim != 2:
        raise ValueError(
            f"Expected preds to be a batch of class scores of shape (samples, classes). "
            f"Received shape {preds.shape}; for one image pass preds[None]."
        )
    classes = load_class_index(class_index)
    if len(classes) != preds.shape[-1]:
        source = "Keras' imagenet_class_index.json" if class_index is None else class_index
        raise ValueError(
            f"Class index {os.fspath(source)!r} has {len(classes)} classes; expected "
            f"{preds.shape[-1]}."
        )
    results = []
    for row in preds:
        best = row.argsort()[::-1][:top]
        results.append([(*classes[i], float(row[i])) for i in best])
    return results
