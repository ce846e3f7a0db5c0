import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from bnnzoo.zoo import imagenet

CLASSES = [("n0", "cat"), ("n1", "dog"), ("n2", "fox"), ("n3", "owl")]


@pytest.fixture
def class_index(tmp_path):
    path = tmp_path / "index.json"
    path.write_text(json.dumps({str(i): list(pair) for i, pair in enumerate(CLASSES)}))
    return path


def test_preprocess_input_normalizes_per_channel(rng):
    pixels = rng.integers(0, 256, size=(2, 5, 4, 3), dtype=np.uint8)
    x = imagenet.preprocess_input(pixels)
    assert x.dtype == np.float32 and x.shape == pixels.shape
    mean = np.array([0.485, 0.456, 0.406]) * 255
    std = np.array([0.229, 0.224, 0.225]) * 255
    np.testing.assert_allclose(x, (pixels - mean) / std, rtol=1e-6, atol=1e-6)
    # a single image works too, and a tensor gives the same values as a tensor
    np.testing.assert_array_equal(imagenet.preprocess_input(pixels[0]), x[0])
    as_tensor = imagenet.preprocess_input(tf.constant(pixels))
    assert tf.is_tensor(as_tensor)
    np.testing.assert_allclose(as_tensor.numpy(), x, rtol=1e-6)


def test_preprocess_input_leaves_its_input_alone():
    pixels = np.full((4, 4, 3), 128.0, dtype=np.float32)
    imagenet.preprocess_input(pixels)
    assert (pixels == 128.0).all()


@pytest.mark.parametrize("shape", [(4, 4), (4, 4, 1), (4, 4, 4), (1, 1, 4, 4, 3)])
def test_preprocess_input_refuses_non_rgb_shapes(shape):
    with pytest.raises(ValueError, match=r"Expected RGB images .* Received shape"):
        imagenet.preprocess_input(np.zeros(shape))


def test_crop_and_resize_keeps_the_center(rng):
    # a 64×48 image whose border (cut by the 87.5% crop: 11 rows, 3 columns each side) is white
    image = np.full((64, 48, 3), 255, dtype=np.uint8)
    image[11:-11, 3:-3] = 10
    resized = imagenet.crop_and_resize(image, size=16)
    assert resized.shape == (16, 16, 3) and resized.dtype == np.float32
    np.testing.assert_allclose(resized, 10.0, atol=1e-4)


def test_crop_and_resize_matches_larq_zoo_preprocessing(rng):
    """Today's numbers: what larq-zoo's preprocess_input gives (crop, resize, normalize)."""
    from larq_zoo.training.data import preprocess_input as larq_zoo_preprocess

    pixels = rng.integers(0, 256, size=(70, 90, 3), dtype=np.uint8)
    ours = imagenet.preprocess_input(imagenet.crop_and_resize(pixels))
    assert ours.shape == (224, 224, 3)
    np.testing.assert_array_equal(ours, larq_zoo_preprocess(pixels))


@pytest.mark.parametrize("shape", [(8, 8), (8, 8, 4), (1, 1, 3)])
def test_crop_and_resize_refuses_bad_images(shape):
    with pytest.raises(ValueError, match="Received shape"):
        imagenet.crop_and_resize(np.zeros(shape, dtype=np.uint8))


def test_load_image_reads_files_as_rgb(tmp_path, rng):
    pixels = rng.integers(0, 256, size=(30, 20, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "rgb.png")
    loaded = imagenet.load_image(tmp_path / "rgb.png", size=8)
    np.testing.assert_array_equal(loaded, imagenet.crop_and_resize(pixels, size=8))
    Image.fromarray(pixels[..., 0]).save(tmp_path / "gray.png")  # converted to three channels
    gray = imagenet.load_image(str(tmp_path / "gray.png"), size=8)
    assert gray.shape == (8, 8, 3)
    np.testing.assert_array_equal(gray[..., 0], gray[..., 2])


def test_load_image_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="Image not found: '.*dog.png'"):
        imagenet.load_image(tmp_path / "dog.png")
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match="Cannot read '.*notes.png' as an image"):
        imagenet.load_image(tmp_path / "notes.png")


def test_decode_predictions_top_classes_best_first(class_index):
    preds = np.array([[0.1, 0.6, 0.2, 0.1], [0.7, 0.0, 0.1, 0.2]], dtype=np.float32)
    decoded = imagenet.decode_predictions(preds, top=2, class_index=class_index)
    assert decoded == [
        [("n1", "dog", pytest.approx(0.6)), ("n2", "fox", pytest.approx(0.2))],
        [("n0", "cat", pytest.approx(0.7)), ("n3", "owl", pytest.approx(0.2))],
    ]
    assert all(type(score) is float for row in decoded for _, _, score in row)
    assert len(imagenet.decode_predictions(preds, class_index=str(class_index))[0]) == 4


def test_decode_predictions_ranks_as_keras_does(tmp_path, monkeypatch, rng):
    """Equal scores too (a saturated softmax): the same classes in the same order."""
    from tf_keras.src.applications import imagenet_utils

    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    path = tmp_path / "imagenet_class_index.json"
    path.write_text(json.dumps(index))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", index)  # no download
    preds = np.zeros((2, 1000), dtype=np.float32)
    preds[0, 7] = 1.0
    preds[1] = rng.random(1000)
    ours = imagenet.decode_predictions(preds, top=5, class_index=path)
    keras = imagenet_utils.decode_predictions(preds, top=5)
    assert [[c[:2] for c in row] for row in ours] == [[c[:2] for c in row] for row in keras]


def test_decode_predictions_bad_input(class_index, tmp_path):
    with pytest.raises(ValueError, match=r"has 4 classes; expected 5"):
        imagenet.decode_predictions(np.zeros((1, 5)), class_index=class_index)
    with pytest.raises(ValueError, match=r"shape \(samples, classes\).*preds\[None\]"):
        imagenet.decode_predictions(np.zeros(4), class_index=class_index)
    with pytest.raises(ValueError, match="Expected top to be an int >= 1"):
        imagenet.decode_predictions(np.zeros((1, 4)), top=0, class_index=class_index)
    with pytest.raises(FileNotFoundError, match="Cannot read class index '.*missing.json'"):
        imagenet.decode_predictions(np.zeros((1, 4)), class_index=tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ValueError, match="Cannot read class index"):
        imagenet.load_class_index(broken)
    broken.write_text(json.dumps({"1": ["n1", "dog"]}))  # keys must be 0..N-1
    with pytest.raises(ValueError, match="not in the format of Keras' imagenet_class_index"):
        imagenet.load_class_index(broken)


def test_default_class_index_is_keras_download(class_index, monkeypatch):
    calls = []

    def fake_get_file(fname, origin, **kwargs):
        calls.append((fname, origin, kwargs))
        return str(class_index)

    monkeypatch.setattr(tf.keras.utils, "get_file", fake_get_file)
    assert imagenet.load_class_index() == CLASSES
    assert calls[0][:2] == ("imagenet_class_index.json", imagenet.CLASS_INDEX_URL)
    assert calls[0][2]["file_hash"] == imagenet.CLASS_INDEX_MD5

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure")

    monkeypatch.setattr(tf.keras.utils, "get_file", offline)
    with pytest.raises(OSError, match="Could not fetch ImageNet class names") as caught:
        imagenet.decode_predictions(np.zeros((1, 4)))
    assert str(caught.value.__cause__) == "URL fetch failure"
