import json

import numpy as np
import pytest
from PIL import Image

from bnnzoo import zoo
from bnnzoo.converters.verify import keras_outputs
from tests.cli._run import run
from tests.conftest import randomize


def test_list_overview_then_counts_of_a_selection(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    rows = [line.split()[0] for line in out.splitlines()[2:] if line.strip()]
    assert "bitnet" in rows and "binary_densenet" in rows  # one row per family
    assert "bitnet_cifar_d4_k3_n4" not in out.split("\n\n")[0].split()  # presets collapsed
    code, out, _ = run(capsys, "list", "binary_resnet*", "--counts")
    assert code == 0
    assert "binary_resnet_e18" in out and "binary_densenet28" not in out
    row = next(line for line in out.splitlines() if line.startswith("binary_resnet_e18"))
    assert row.split()[-4:] == ["11,699,368", "1.676", "0.138", "4.00"]
    assert "size (MiB)" in out


def test_list_by_family_and_paper_and_bad_selections(capsys):
    code, out, _ = run(capsys, "list", "--family", "wu")
    assert code == 0 and "wu_bnn13" in out and "binary_densenet28" not in out
    code, out, _ = run(capsys, "list", "--paper", "Bethge")
    assert code == 0 and "binary_densenet28" in out and "wu_bnn13" not in out
    for argv, message in [
        (["--family", "nope"], "nope"),
        (["--paper", "nobody"], "nobody"),
        (["zzz*"], "No registered model matches"),
    ]:
        code, out, err = run(capsys, "list", *argv)
        assert code == 2 and message in err and out == ""
        assert len(err.strip().splitlines()) == 1


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
    probabilities = keras_outputs(model, preprocess_input(pixels)[None])[0]
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
