import json

import numpy as np
import pytest
from PIL import Image

from bnnzoo import zoo
from tests.cli._run import run
from tests.conftest import randomize


def test_list_prints_figures_of_matching_models(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("BNNZOO_CACHE", str(tmp_path))
    code, out, _ = run(capsys, "list", "binary_resnet*")
    assert code == 0
    assert "binary_resnet_e18" in out and "binary_densenet28" not in out
    row = next(line for line in out.splitlines() if line.startswith("binary_resnet_e18"))
    assert row.split() == ["binary_resnet_e18", "11,699,368", "1.676", "0.138", "4.00"]
    assert "size (MiB)" in out


def test_list_figures_are_cached_per_source_version(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("BNNZOO_CACHE", str(tmp_path))
    first = run(capsys, "list", "binary_resnet*")[1]
    cached = list(tmp_path.glob("figures-*.json"))
    assert len(cached) == 1
    data = json.loads(cached[0].read_text())
    assert data["binary_resnet_e18"][1] == "11,699,368"
    data["binary_resnet_e18"][1] = "42"  # a cached row is used as it is
    cached[0].write_text(json.dumps(data))
    second = run(capsys, "list", "binary_resnet*")[1]
    assert "42" in second and second != first


def test_summary_with_shape_and_classes(capsys):
    code, out, _ = run(
        capsys, "summary", "binary_resnet_e18", "--input-shape", "32,32,3", "--num-classes", "10"
    )
    assert code == 0
    assert "stage4_block4_conv" in out  # larq's per-layer summary
    row = next(line for line in out.splitlines() if line.startswith("binary_resnet_e18"))
    # the size in Bethge, Yang, Bornstein, Meinel 2019, "BinaryDenseNet: Developing an
    # Architecture for Binary Neural Networks", Table 2
    assert row.split()[-1] == "2.03"


@pytest.fixture
def imagenet_files(tmp_path, rng):
    model = zoo.BinaryResNetE18()
    randomize(model, rng)
    weights = tmp_path / "resnet_e18.h5"
    model.save_weights(str(weights))
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    class_index = tmp_path / "imagenet_class_index.json"
    class_index.write_text(json.dumps(index))
    image = tmp_path / "cat.png"
    pixels = rng.integers(0, 255, size=(300, 240, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(image)
    return model, weights, class_index, image


def test_predict_prints_the_models_top_5(capsys, imagenet_files):
    from larq_zoo.training.data import preprocess_input

    model, weights, class_index, image = imagenet_files
    code, out, _ = run(
        capsys, "predict", "binary_resnet_e18", str(image), "--weights", str(weights),
        "--class-index", str(class_index),
    )  # fmt: skip
    assert code == 0
    pixels = np.asarray(Image.open(image).convert("RGB"))
    probabilities = model.predict(preprocess_input(pixels)[None], verbose=0)[0]
    expected = [f"class_{i}" for i in probabilities.argsort()[::-1][:5]]
    printed = [line.split()[1] for line in out.splitlines()[1:]]
    assert printed == expected


def test_predict_missing_image(capsys, imagenet_files):
    _, weights, class_index, image = imagenet_files
    code, _, err = run(
        capsys, "predict", "binary_resnet_e18", str(image.with_name("dog.png")),
        "--weights", str(weights), "--class-index", str(class_index),
    )  # fmt: skip
    assert code == 2 and "Image not found" in err
