"""Every bad input of every ``bnnzoo`` command, in one table: exit status 2, one line on stderr
with the expected words, no traceback, nothing on stdout, and nothing written.

``{t}`` is the test's folder, which holds the damaged inputs of ``_inputs`` and nothing else;
``{tiny}`` a tiny saved model (16×16×3 inputs, 4 classes). After each command the folder must
hold exactly what it held before: no half-written file, no run directory or ``config.json``
that would block a retry.
"""

import json

import numpy as np
import pytest

from bnnzoo import zoo
from tests.cli._run import run

QUICK = ["train", "--recipe", "quickstart", "--quick", "--out", "{t}/run"]
EXPORT = ["export", "binary_resnet_e18", "--format", "tflite", "--out", "{t}/m.tflite"]
DWR = ["dwr", "--backbone", "resnet20", "--s", "3", "--out", "{t}/dwr"]
NOT_READABLE = "is not a readable Keras model"

CASES = [
    # argparse: one line that points to --help
    ([], "the following arguments are required: COMMAND. See `bnnzoo --help`"),
    (["nope"], "invalid choice: 'nope'"),
    (["train", "--nope"], "unrecognized arguments: --nope"),
    (["reproduce", "nonesuch"], "argument paper: invalid choice: 'nonesuch'"),
    # list, summary, predict
    (["list", "nothing*"], "No registered model matches"),
    (["list", "--family", "nope"], "Unknown family 'nope'"),
    (["list", "--paper", "nope"], "No paper matches 'nope'"),
    (["summary", "binary_densenet_28"], "Nearest registered names: binary_densenet28"),
    (["summary", "binary_densenet28", "--input-shape", "32,32"], "three positive integers"),
    (["summary", "binary_densenet28", "--input-shape", "a,b,c"], "three positive integers"),
    (["summary", "binary_densenet28", "--input-shape", "4,4,3"], "at least 8×8"),
    (["summary", "binary_densenet28", "--num-classes", "0"], "num_classes to be an int >= 1"),
    (["summary", "binary_densenet28", "--num-classes", "x"], "invalid int value: 'x'"),
    (["predict", "binary_resnet_e18", "{t}/img.png", "--top", "0"], "--top expects a positive"),
    (["predict", "binary_resnet_e18", "{t}/missing.png"], "Image not found: '{t}/missing.png'"),
    (["predict", "binary_resnet_e18", "{t}/bad.png"], "Cannot read '{t}/bad.png' as an image"),
    (
        ["predict", "binary_resnet_e18", "{t}/img.png", "--weights", "{t}/missing.h5"],
        "Weights file not found",
    ),
    (
        ["predict", "binary_resnet_e18", "{t}/img.png", "--class-index", "{t}/bad.json"],
        "Cannot read class index '{t}/bad.json'",
    ),
    # analyze
    (["analyze", "no_such_model"], "Unknown model 'no_such_model'"),
    (["analyze", "binary_resnet_e18", "--plot", "{t}/x.pdf"], "--plot writes a PNG"),
    (["analyze", "binary_resnet_e18", "--plot", "{t}/nope/x.png"], "does not exist"),
    (["analyze", "binary_resnet_e18", "--num-classes", "0"], "num_classes to be an int >= 1"),
    (["analyze", "binary_resnet_e18", "--metric", "n9"], "argument --metric: invalid choice"),
    (["analyze", "{t}/missing.keras"], "No saved model at '{t}/missing.keras'"),
    (["analyze", "{t}/bad.keras"], f"'{{t}}/bad.keras' {NOT_READABLE}: not a .keras archive"),
    # train: the options and --set values, checked before data, model or run directory
    (
        [*QUICK, "--batch-size", "0"],
        "Expected batch_size to be an int >= 1. Received: batch_size=0. Pass --batch-size 32",
    ),
    ([*QUICK, "--batch-size", "-4"], "Received: batch_size=-4"),
    ([*QUICK, "--epochs", "0"], "Expected epochs to be an int >= 1. Received: epochs=0"),
    ([*QUICK, "--epochs", "x"], "argument --epochs: invalid int value: 'x'"),
    ([*QUICK, "--set", "batch_size=abc"], "--set batch_size expects a number. Received: 'abc'"),
    ([*QUICK, "--set", "batch_size=2.5"], "Received: batch_size=2.5"),
    ([*QUICK, "--set", "optimizer.lr=-1"], "optimizer.lr to be a number > 0.0"),
    ([*QUICK, "--set", "optimizer.lrr=1"], "unknown key 'optimizer.lrr'"),
    ([*QUICK, "--set", "xla=3"], "--set xla expects true or false"),
    ([*QUICK, "--set", "optimizer.lr"], "Expected --set KEY=VALUE"),
    ([*QUICK, "--set", "keep_checkpoints=1"], "keep_checkpoints to be an int >= 2"),
    ([*QUICK, "--set", "max_train_examples=0"], "max_train_examples to be an int >= 1"),
    ([*QUICK, "--set", "seed=-1"], "seed to be an int >= 0"),
    ([*QUICK, "--set", "input_size=0"], "input_size to be an int >= 1"),
    ([*QUICK, "--set", "checkpoint_every_steps=-1"], "checkpoint_every_steps to be an int >= 0"),
    ([*QUICK, "--set", "distillation.alpha=2"], "distillation.alpha to be a number in [0, 1.0]"),
    (
        [*QUICK, "--set", "label_smoothing=-0.1"],
        "label_smoothing to be a number in [0, 1.0]. Received: label_smoothing=-0.1. Pass e.g. "
        "--set label_smoothing=0.1",
    ),
    ([*QUICK, "--set", "channels=2"], "channels to be 1, 3 or null"),
    ([*QUICK, "--set", "data_dir=3"], "data_dir to be a name or path"),
    ([*QUICK, "--set", "model_kwargs=3"], "--set model_kwargs expects a mapping"),
    ([*QUICK, "--set", "model_kwargs.nope=1"], "model_kwargs do not fit 'binary_resnet_e'"),
    ([*QUICK, "--set", "model_kwargs.filters=[-1,2]"], "filters to be a non-empty sequence"),
    ([*QUICK, "--set", "optimizer.name=foo"], "optimizer.name to be one of"),
    ([*QUICK, "--set", "schedule.name=foo"], "schedule.name to be one of"),
    ([*QUICK, "--set", "augment=foo"], "augment to be one of"),
    ([*QUICK, "--set", "precision=foo"], "precision to be one of"),
    ([*QUICK, "--set", "strategy=foo"], "strategy to be one of"),
    ([*QUICK, "--strategy", "foo"], "argument --strategy: invalid choice: 'foo'"),
    ([*QUICK, "--set", 'monitor.latent_weights=["nope"]'], "monitor.latent_weights names 'nope'"),
    ([*QUICK, "--set", "batch_size=4096"], "larger than the 512 training examples"),
    ([*QUICK, "--model", "nomodel"], "Unknown model 'nomodel'"),
    ([*QUICK, "--dataset", "nope"], "Unknown dataset 'nope'"),
    ([*QUICK, "--dataset", "tfds:"], "Unknown dataset 'tfds:'"),
    ([*QUICK, "--dataset", "folder:{t}/none"], "Image folder not found: '{t}/none'"),
    ([*QUICK, "--dataset", "fashion_mnist", "--data-dir", "{t}/none"], "Fashion-MNIST not found"),
    (["train", "--recipe", "nope", "--out", "{t}/run"], "Unknown recipe 'nope'"),
    (
        ["train", "--recipe", "reactnet_fashion_mnist", "--quick", "--out", "{t}/run"],
        "trains a teacher first and then two steps: run it with `bnnzoo two-step",
    ),
    ([*QUICK, "--teacher", "{t}/bad.keras"], f"Teacher: '{{t}}/bad.keras' {NOT_READABLE}"),
    ([*QUICK, "--teacher", "{t}/missing.keras"], "Teacher: No saved model at"),
    ([*QUICK, "--teacher", "{tiny}"], "The teacher expects inputs (16, 16, 3)"),
    ([*QUICK[:-1], "{t}/afile"], "--out '{t}/afile' is a file"),
    ([*QUICK[:-1], "{t}/afile/run"], "--out '{t}/afile/run' cannot be created"),
    ([*QUICK[:-1], "{t}/run_existing"], "already holds a run. Resume it with"),
    (["train", "--out", "{t}/run"], "train needs --recipe R and --out DIR, or --resume DIR"),
    (["train", "--resume", "{t}/none"], "Nothing to resume in '{t}/none'"),
    (
        ["train", "--resume", "{t}/run_badjson"],
        "'{t}/run_badjson/config.json' cannot be read as JSON",
    ),
    (
        ["train", "--resume", "{t}/run_existing"],
        "config.json' does not hold a usable config: The config lacks",
    ),
    (["train", "--resume", "{t}/run_existing", "--quick"], "do not combine it with"),
    # evaluate
    (["evaluate", "{t}/none"], "No trained model in '{t}/none'"),
    (["evaluate", "{t}/run_badmodel"], f"'{{t}}/run_badmodel/model.keras' {NOT_READABLE}"),
    (["evaluate", "{t}/run_badmodel", "--dataset", "nope"], "Unknown dataset 'nope'"),
    (["evaluate", "{t}/run_badjson_model"], "'{t}/run_badjson_model/config.json' cannot be read"),
    # export: the model file, the options, the destination, before any conversion
    (
        ["export", "binary_densenet_28", "--format", "tflite", "--out", "{t}/m.tflite"],
        "Nearest registered names",
    ),
    (
        ["export", "{t}/missing.keras", "--format", "openvino", "--out", "{t}/ir"],
        "No saved model at '{t}/missing.keras'",
    ),
    (
        ["export", "{t}/bad.keras", "--format", "tflite", "--out", "{t}/m.tflite"],
        f"'{{t}}/bad.keras' {NOT_READABLE}: not a .keras archive (truncated or damaged)",
    ),
    (
        ["export", "{t}/bad.h5", "--format", "openvino", "--out", "{t}/ir"],
        f"'{{t}}/bad.h5' {NOT_READABLE}: not an HDF5 file",
    ),
    (
        ["export", "{t}/empty.keras", "--format", "tflite", "--out", "{t}/m.tflite"],
        f"{NOT_READABLE}: the file is empty",
    ),
    (
        ["export", "{t}/folder", "--format", "tflite", "--out", "{t}/m.tflite"],
        f"{NOT_READABLE}: a folder without saved_model.pb",
    ),
    (
        ["export", "{t}/m.tflite", "--format", "tflite", "--out", "{t}/n.tflite"],
        "is a TFLite flatbuffer already",
    ),
    ([*EXPORT[:3], "onnx", *EXPORT[4:]], "argument --format: invalid choice: 'onnx'"),
    ([*EXPORT[:3], "openvino", "--out", "{t}/ir", "--threads", "0"], "threads to be an int >= 1"),
    ([*EXPORT, "--n", "0"], "Expected n to be an int >= 1. Received: n=0"),
    ([*EXPORT, "--num-classes", "0"], "num_classes to be an int >= 1"),
    ([*EXPORT, "--input-shape", "32,32"], "three positive integers"),
    ([*EXPORT, "--weights", "{t}/missing.h5"], "Weights file not found: '{t}/missing.h5'"),
    (
        ["export", "{t}/bad.keras", *EXPORT[2:], "--input-shape", "32,32,3"],
        "only apply when building a zoo model by name",
    ),
    ([*EXPORT[:-1], "{t}/nope/m.tflite"], "the folder '{t}/nope' does not exist. Create it"),
    ([*EXPORT[:-1], "{t}/folder"], "Expected a file path for the .tflite file"),
    ([*EXPORT, "--int8-range=3,-3"], "--int8-range expects MIN,MAX with MIN < 0 < MAX"),
    ([*EXPORT, "--int8-range=a,b"], "Got 'a,b'"),
    ([*EXPORT, "--int8-range=-3"], "--int8-range expects MIN,MAX"),
    ([*EXPORT, "--int8-range=-3,3,4"], "--int8-range expects MIN,MAX"),
    ([*EXPORT, "--int8"], "Pass --int8-range=MIN,MAX"),
    (
        [*EXPORT[:3], "openvino", "--out", "{t}/ir", "--int8-range=-3,3"],
        "--int8-range applies to --format tflite only",
    ),
    ([*EXPORT, "--precision", "bf16"], "--precision applies to --format openvino only"),
    (
        [*EXPORT[:3], "openvino", "--out", "{t}/ir", "--precision", "fp16"],
        "Expected precision to be one of ('f32', 'bf16', 'auto'). Received: precision='fp16'",
    ),
    ([*EXPORT, "--int8-stem", "{t}/calib.npy"], "--int8-stem applies to --format openvino only"),
    (
        [*EXPORT[:3], "openvino", "--out", "{t}/ir", "--int8-stem", "{t}/none.npy"],
        "--int8-stem: no file at '{t}/none.npy'",
    ),
    (
        [*EXPORT[:3], "openvino", "--out", "{t}/ir", "--int8-stem", "{t}/img.png"],
        "--int8-stem expects a .npy file of images",
    ),
    (
        [*EXPORT[:3], "openvino", "--out", "{t}/ir", "--int8-stem", "{t}/bad.npy"],
        "is not a numpy array file",
    ),
    (
        [*EXPORT[:3], "openvino", "--out", "{t}/ir", "--int8-stem", "{t}/empty.npy"],
        "'{t}/empty.npy' is not a numpy array file",
    ),
    (
        [
            "export",
            "{tiny}",
            "--format",
            "openvino",
            "--out",
            "{t}/ir",
            "--int8-stem",
            "{t}/calib.npy",
        ],
        "Expected calibration images of shape (n, 16, 16, 3)",
    ),  # fmt: skip
    # bench
    (["bench", "no_such_model"], "Unknown model 'no_such_model'"),
    (["bench", "{t}/bad.keras"], f"'{{t}}/bad.keras' {NOT_READABLE}"),
    (["bench", "binary_resnet_e18", "--input-shape", "32,32"], "three positive integers"),
    (["bench", "binary_resnet_e18", "--threads", "0"], "threads to be an int >= 1"),
    (["bench", "binary_resnet_e18", "--runs", "0"], "runs to be an int >= 1"),
    (["bench", "binary_resnet_e18", "--warmup", "-1"], "warmup to be an int >= 0"),
    (["bench", "binary_resnet_e18", "--profile", "-1"], "profile to be an int >= 0"),
    (["bench", "binary_resnet_e18", "--engines", "lce,gpu"], "(unknown: ['gpu'])"),
    (["bench", "binary_resnet_e18", "--engines", ","], "engines to be a non-empty selection"),
    (["bench", "binary_resnet_e18", "--seed", "x"], "argument --seed: invalid int value"),
    (["bench", "binary_resnet_e18", "--batch", "0"], "batch to be an int >= 1"),
    (["bench", "binary_resnet_e18", "--batch", "x"], "argument --batch: invalid int value"),
    (["bench", "binary_resnet_e18", "--block", "0"], "block to be an int >= 1"),
    (["bench", "binary_resnet_e18", "--precision", "fp16"], "precision to be one of ('f32'"),
    (["bench", "binary_resnet_e18", "--engines", "openvino-f16"], "(unknown: ['openvino-f16'])"),
    # quickstart
    (["quickstart", "--out", "/", "--dataset", "digits"], "is not empty"),
    (["quickstart", "--out", "{t}/afile"], "--out '{t}/afile' is a file"),
    (["quickstart", "--out", "{t}/qs", "--threads", "0"], "threads to be an int >= 1"),
    (["quickstart", "--out", "{t}/qs", "--runs", "0"], "runs to be an int >= 1"),
    (
        ["quickstart", "--out", "{t}/qs", "--dataset", "digits", "--epochs", "0"],
        "epochs to be an int >= 1",
    ),
    (
        ["quickstart", "--out", "{t}/qs", "--dataset", "digits", "--set", "nope=1"],
        "unknown key 'nope'",
    ),
    (
        ["quickstart", "--out", "{t}/qs", "--dataset", "fashion_mnist", "--data-dir", "{t}/none"],
        "Fashion-MNIST not found",
    ),
    (["quickstart", "--out", "{t}/qs", "--dataset", "cifar"], "argument --dataset: invalid"),
    # dwr
    (DWR[:5], "needs --backbone B, --s S and --out DIR"),
    ([*DWR[:4], "2", *DWR[5:]], "Valid s for this backbone"),
    ([*DWR[:4], "abc", *DWR[5:]], "argument --s: invalid float value: 'abc'"),
    (["dwr", "--backbone", "nope"], "argument --backbone: invalid choice: 'nope'"),
    (["dwr", "--resume", "{t}/none"], "Nothing to resume"),
    (["dwr", "--resume", "{t}/none", "--backbone", "resnet20"], "do not combine"),
    ([*DWR, "--epochs", "0"], "epochs to be an int >= 1"),
    ([*DWR, "--pretrain-epochs", "0"], "pretrain_epochs to be an int >= 1"),
    ([*DWR, "--calibration", "8"], "calibration_images to be an int >= 16"),
    ([*DWR, "--budget", "-1"], "budget to be a positive number of OPs"),
    ([*DWR, "--recipe", "nope"], "Unknown recipe 'nope'"),
    ([*DWR, "--set", "nope=1"], "unknown key 'nope'"),
    ([*DWR, "--dataset", "nope"], "Unknown dataset 'nope'"),
    ([*DWR, "--dataset", "digits", "--set", "batch_size=0"], "batch_size to be an int >= 1"),
    ([*DWR[:-1], "{t}/afile", "--dataset", "digits"], "--out '{t}/afile' is a file"),
]


def _inputs(folder) -> None:
    """The damaged inputs the table names, and nothing else."""
    from PIL import Image

    (folder / "bad.keras").write_bytes(b"garbage " * 8)  # e.g. a download cut short
    (folder / "bad.h5").write_bytes(b"garbage " * 8)
    (folder / "empty.keras").write_bytes(b"")
    (folder / "afile").write_text("not a folder")
    (folder / "bad.json").write_text("{not json")
    (folder / "bad.png").write_bytes(b"not a png")
    (folder / "m.tflite").write_bytes(b"TFL3")
    (folder / "bad.npy").write_bytes(b"not numpy")
    (folder / "empty.npy").write_bytes(b"")
    np.save(folder / "calib.npy", np.zeros((32, 8, 8, 3), np.float32))
    (folder / "folder").mkdir()
    Image.new("RGB", (8, 8)).save(folder / "img.png")
    for name, files in {
        "run_badjson": {"config.json": "{oops"},
        "run_badjson_model": {"config.json": "{oops", "model.keras": "x"},
        "run_existing": {"config.json": "{}"},
        "run_badmodel": {"config.json": json.dumps({"dataset": "digits"}), "model.keras": "x"},
    }.items():
        (folder / name).mkdir()
        for file, text in files.items():
            (folder / name / file).write_text(text)


def _tree(folder) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "tiny.keras"
    zoo.BinaryResNetE(
        blocks_per_stage=(1, 1), filters=(8, 16), input_shape=(16, 16, 3), num_classes=4
    ).save(path)
    return path


@pytest.mark.parametrize(
    "argv, words",
    CASES,
    ids=[(" ".join(argv[:4]) or "bnnzoo") + f" #{i}" for i, (argv, _) in enumerate(CASES)],
)
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(capsys, tmp_path, tiny, argv, words):
    _inputs(tmp_path)
    before = _tree(tmp_path)
    fill = {"t": tmp_path, "tiny": tiny}
    code, out, err = run(capsys, *[arg.format(**fill) for arg in argv])
    assert code == 2, err
    assert words.format(**fill) in err
    assert err.startswith("bnnzoo") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err + out
    if argv[:1] != ["quickstart"]:  # quickstart names its phase on stdout before it opens the data
        assert out == ""
    assert _tree(tmp_path) == before  # nothing written, nothing half-written
