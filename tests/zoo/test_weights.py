"""weights=: local files of every Keras format, URLs with a hash, the published ImageNet weights."""

import hashlib
import http.server
import re
import threading

import numpy as np
import pytest

from bnnzoo import zoo
from bnnzoo.zoo import pretrained
from bnnzoo.zoo.pretrained import Pretrained, WeightsFile
from tests.conftest import randomize


@pytest.fixture
def trained(tiny_model_factory, rng):
    model = tiny_model_factory()
    randomize(model, rng)
    x = rng.normal(size=(2, 16, 16, 3)).astype("float32")
    return model, x, model(x, training=False).numpy()


@pytest.mark.parametrize(
    "filename, save",
    [
        ("w.h5", lambda m, p: m.save_weights(p)),
        ("w.weights.h5", lambda m, p: m.save_weights(p)),
        ("full.h5", lambda m, p: m.save(p)),
        ("full.keras", lambda m, p: m.save(p)),
    ],
)
def test_every_keras_format_loads_exactly(trained, tiny_model_factory, tmp_path, filename, save):
    model, x, expected = trained
    path = tmp_path / filename
    save(model, str(path))
    loaded = tiny_model_factory(weights=str(path))
    np.testing.assert_array_equal(loaded(x, training=False).numpy(), expected)


@pytest.mark.parametrize("filename", ["w.h5", "w.weights.h5"])
def test_file_of_another_architecture_names_the_first_mismatching_layer(
    trained, tiny_model_factory, tmp_path, filename
):
    model, _, _ = trained
    path = tmp_path / filename
    model.save_weights(str(path))
    wider = zoo.BinaryResNetE(
        blocks_per_stage=(1, 1), filters=(8, 32), input_shape=(16, 16, 3), num_classes=4
    )
    before = [w.numpy() for w in wider.weights]
    with pytest.raises(ValueError, match=r"do not fit layer 'stage2_block1_conv'.*\(3, 3, 8, 16\)"):
        zoo.load_weights(wider, path)
    # nothing was assigned: no silent partial load
    for weight, value in zip(wider.weights, before):
        np.testing.assert_array_equal(weight.numpy(), value)


def test_file_with_fewer_layers_is_refused(tiny_model_factory, tmp_path):
    path = tmp_path / "notop.h5"
    tiny_model_factory(include_top=False).save_weights(str(path))
    with pytest.raises(ValueError, match="first layer without weights in the file is 'head_dense'"):
        tiny_model_factory(weights=str(path))


def test_file_with_more_layers_is_refused(tiny_model_factory, tmp_path):
    path = tmp_path / "top.h5"
    tiny_model_factory().save_weights(str(path))
    with pytest.raises(ValueError, match="first extra layer in the file is 'head_dense'"):
        tiny_model_factory(include_top=False, weights=str(path))


def test_other_number_of_classes_is_refused(trained, tiny_model_factory, tmp_path):
    model, _, _ = trained
    path = tmp_path / "w.h5"
    model.save_weights(str(path))
    with pytest.raises(ValueError, match="'head_dense'"):
        tiny_model_factory(num_classes=5, weights=str(path))


@pytest.mark.parametrize("filename", ["w.h5", "full.keras"])
def test_truncated_file_fails_clearly(trained, tiny_model_factory, tmp_path, filename):
    model, _, _ = trained
    path = tmp_path / filename
    (model.save if filename.endswith(".keras") else model.save_weights)(str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        tiny_model_factory(weights=str(path))


def test_not_a_weights_file_fails_clearly(tiny_model_factory, tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("these are not weights")
    with pytest.raises(ValueError, match="corrupt or truncated"):
        tiny_model_factory(weights=str(path))


def test_missing_file_names_the_path(tiny_model_factory, tmp_path):
    missing = tmp_path / "nope" / "w.h5"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        tiny_model_factory(weights=str(missing))
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        zoo.load_weights(tiny_model_factory(), missing)


class _Server:
    """A loopback HTTP server for files in a directory, counting requests."""

    def __init__(self, directory):
        requests = self.requests = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(directory), **kwargs)

            def do_GET(self):
                requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(trained, tmp_path, monkeypatch):
    model, x, expected = trained
    root = tmp_path / "www"
    root.mkdir()
    model.save_weights(str(root / "tiny.h5"))
    sha = hashlib.sha256((root / "tiny.h5").read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    monkeypatch.setenv("BNNZOO_CACHE", str(cache))
    with _Server(root) as server:
        server.root = root
        yield server, sha, cache / "weights", x, expected


def test_url_download_is_verified_cached_and_loaded(served, tiny_model_factory):
    server, sha, cache, x, expected = served
    url = f"{server.url}/tiny.h5#sha256={sha}"
    first = tiny_model_factory(weights=url)
    second = tiny_model_factory(weights=url)
    assert server.requests == ["/tiny.h5"]  # the second build used the cache
    for model in (first, second):
        np.testing.assert_array_equal(model(x, training=False).numpy(), expected)
    assert [p.name for p in cache.iterdir()] == [f"{sha[:12]}-tiny.h5"]


def test_hash_mismatch_fails_and_leaves_no_file(served, tiny_model_factory):
    server, sha, cache, _, _ = served
    wrong = "f" * 64
    with pytest.raises(ValueError, match=f"expected {wrong}"):
        tiny_model_factory(weights=f"{server.url}/tiny.h5#sha256={wrong}")
    assert server.requests == ["/tiny.h5"]
    assert list(cache.iterdir()) == []


def test_corrupted_cache_entry_is_downloaded_again(served, tiny_model_factory):
    server, sha, cache, x, expected = served
    url = f"{server.url}/tiny.h5#sha256={sha}"
    tiny_model_factory(weights=url)
    (cache / f"{sha[:12]}-tiny.h5").write_bytes(b"bit rot")
    model = tiny_model_factory(weights=url)
    assert len(server.requests) == 2
    np.testing.assert_array_equal(model(x, training=False).numpy(), expected)


def test_unreachable_url_fails_clearly(served, tiny_model_factory):
    server, sha, cache, _, _ = served
    with pytest.raises(OSError, match="Could not download weights"):
        tiny_model_factory(weights=f"{server.url}/missing.h5#sha256={sha}")
    assert list(cache.iterdir()) == []


def test_imagenet_weights_are_downloaded_and_loaded(served, monkeypatch):
    """The imagenet path end to end, with larq-zoo's URLs swapped for the loopback server."""
    server, _, cache, _, _ = served
    shape = (64, 64, 3)
    reference = zoo.BinaryResNetE18(input_shape=shape, include_top=False)
    randomize(reference, np.random.default_rng(1))
    reference.save_weights(str(server.root / "resnet_e_18_notop.h5"))
    sha = hashlib.sha256((server.root / "resnet_e_18_notop.h5").read_bytes()).hexdigest()
    served_file = WeightsFile(f"{server.url}/resnet_e_18_notop.h5", sha)
    unused = WeightsFile(f"{server.url}/resnet_e_18.h5", "0" * 64)
    local = Pretrained("BinaryResNetE18", top=unused, no_top=served_file)
    monkeypatch.setitem(pretrained.IMAGENET, "BinaryResNetE18", local)
    model = zoo.BinaryResNetE18(weights="imagenet", input_shape=shape, include_top=False)
    assert server.requests == ["/resnet_e_18_notop.h5"]
    assert [p.name for p in cache.iterdir()] == [f"{sha[:12]}-resnet_e_18_notop.h5"]
    x = np.random.default_rng(2).normal(size=(1, *shape)).astype("float32")
    np.testing.assert_array_equal(model(x).numpy(), reference(x).numpy())
