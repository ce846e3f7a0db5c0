"""``bnnzoo bench MODEL --images IMAGES.npy``: the check against Keras on real images, and each
bad --images refused in one line with exit status 2, nothing on stdout and nothing written."""

import json

import numpy as np
import pytest

from bnnzoo import zoo
from tests.cli._run import run


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny saved model (16×16×3 inputs, 4 classes) and, next to it, the --images files."""
    folder = tmp_path_factory.mktemp("bench-images")
    zoo.BinaryResNetE(
        blocks_per_stage=(1,), filters=(16,), input_shape=(16, 16, 3), num_classes=4
    ).save(folder / "tiny.keras")
    rng = np.random.default_rng(0)
    np.save(folder / "good.npy", rng.normal(size=(5, 16, 16, 3)).astype(np.float32))
    np.save(folder / "wrong.npy", rng.normal(size=(5, 8, 8, 3)).astype(np.float32))
    np.save(folder / "words.npy", np.array(["cat", "dog"]))
    np.save(folder / "good.txt.npy.txt", np.zeros(1))  # a .npy saved under a .txt name
    (folder / "bad.npy").write_bytes(b"not numpy")
    return folder


def _tree(folder) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize(
    "images, words",
    [
        ("missing.npy", "--images: no file at '{t}/missing.npy'"),
        ("wrong.npy", "Expected images of shape (n, 16, 16, 3), the input shape of"),
        ("good.txt.npy.txt", "--images expects a .npy file of images"),
        ("bad.npy", "--images: '{t}/bad.npy' is not a numpy array file"),
        ("words.npy", "Expected images as a non-empty numpy array of real numbers"),
    ],
)
def test_bad_images_are_one_line_exit_2_and_leave_nothing(capsys, tiny, images, words):
    before = _tree(tiny)
    code, out, err = run(capsys, "bench", str(tiny / "tiny.keras"), "--images", str(tiny / images),
                         "--engines", "keras", "--runs", "1")  # fmt: skip
    assert code == 2, err
    assert words.format(t=tiny) in err
    assert err.startswith("bnnzoo") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and out == ""
    assert _tree(tiny) == before


def test_images_are_the_check_inputs(capsys, tiny):
    code, out, err = run(capsys, "bench", str(tiny / "tiny.keras"), "--images",
                         str(tiny / "good.npy"), "--engines", "keras,openvino-f32", "--runs", "1",
                         "--warmup", "0", "--json")  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["checked_on"] == "real images"
    assert {name: a["n"] for name, a in data["agreement"].items()} == {
        "keras": 5, "openvino-f32": 5,
    }  # fmt: skip
    assert all(a["passed"] for a in data["agreement"].values())
    assert set(data["reasons"]) == {"keras", "openvino-f32"}
    assert all("agrees on 5 real images" in line for line in data["reasons"].values())
