import numpy as np
import pytest

from bnnzoo.training import recipes, train
from bnnzoo.training.monitors import plot_gradient_norms
from bnnzoo.training.rundir import RunDir

QUICK = "resnet_e18_imagenet_quick"


def test_monitors_record_gradient_norms_and_latent_weights(tmp_path):
    config = recipes.resolve(
        QUICK,
        ["monitor.first_conv_gradient=true", 'monitor.latent_weights=["stage1_block1_conv"]'],
        epochs=2,
    )
    result = train(config, tmp_path / "run", verbose=0)
    rows = RunDir(tmp_path / "run").read_metrics()
    assert all(r["first_conv_grad_norm"] > 0 for r in rows)
    data = np.load(tmp_path / "run" / "latent_weights.npz")
    counts = data["stage1_block1_conv/counts"]
    kernel = result.model.get_layer("stage1_block1_conv").kernel.numpy()
    assert counts.shape == (2, 60) and counts[-1].sum() == kernel.size
    assert list(data["stage1_block1_conv/epochs"]) == [1, 2]
    assert (tmp_path / "run" / "latent_weights.png").is_file()
    assert not list((tmp_path / "run").glob(".*partial"))  # written atomically, nothing left
    png = plot_gradient_norms([tmp_path / "run"], tmp_path / "grad.png")
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 1000


def test_unknown_latent_weight_layer_names_the_binary_layers(tmp_path):
    config = recipes.resolve(QUICK, ['monitor.latent_weights=["nope"]'])
    with pytest.raises(ValueError, match="binary layers include: stage1_block1_conv"):
        train(config, tmp_path, verbose=0)


def test_gradient_plot_needs_the_monitor(tmp_path):
    RunDir(tmp_path / "run").append_metrics({"epoch": 1, "train_loss": 2.0})
    with pytest.raises(ValueError, match="first_conv_gradient=true"):
        plot_gradient_norms([tmp_path / "run"], tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()
