"""``bnnzoo analyze``: figures of zoo names and saved files, JSON, the plot, bad input."""

import json

from bnnzoo import zoo
from bnnzoo.analysis import count_model
from tests.cli._run import run


def _saved(tmp_path, name="m.keras", **kwargs):
    model = zoo.BinaryResNetE(
        blocks_per_stage=(1, 1), filters=(8, 16), input_shape=(16, 16, 3), num_classes=4, **kwargs
    )
    model.save(tmp_path / name)
    return model


def test_analyze_a_saved_file_as_json_matches_the_library(capsys, tmp_path):
    model = _saved(tmp_path)
    code, out, err = run(capsys, "analyze", str(tmp_path / "m.keras"), "--json")
    assert code == 0, err
    figures = json.loads(out)
    counts = count_model(model)
    assert figures["storage_mbit"] == counts.storage_mbit
    assert figures["binary_macs"] == counts.binary_macs > 0
    assert figures["ops_bops64"] == counts.binary_macs / 64 + counts.float_macs
    # ResNetE: a shortcut around every binary conv (one per block here), so the input's N_1st is 0
    paths = figures["gradient_paths"]
    assert paths["binary_layers"] == 2
    assert paths["inputs"][0]["n"][0] == 0 and paths["inputs"][0]["l"][:2] == [0, 1]


def test_analyze_names_with_layers_and_a_plot_side_by_side(capsys, tmp_path):
    _saved(tmp_path)
    png = tmp_path / "n2.png"
    code, out, err = run(capsys, "analyze", "binary_resnet_e18", str(tmp_path / "m.keras"),
                         "--input-shape", "32,32,3", "--num-classes", "10", "--layers",
                         "--plot", str(png))  # fmt: skip
    assert code == 0, err
    assert out.count("storage, Mbit") == 2 and "gradient paths per binary layer" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
