"""Pretrained weights: where they come from, the download cache, and a strict loader.

``weights=`` on every zoo factory accepts:

* ``None``: random initialization;
* ``"imagenet"``: the ImageNet weights larq-zoo publishes for the model of the same name
  (their URLs and hashes: ``bnnzoo.zoo.pretrained``);
* a local file: ``.h5`` (Keras 2 weights or full model), ``.weights.h5`` or ``.keras``;
* a URL with its SHA-256 as a fragment: ``"https://host/model.h5#sha256=<64 hex digits>"``.
  It is downloaded once into the cache (``$BNNZOO_CACHE``, default ``~/.cache/bnnzoo``) and
  verified; a file whose hash does not match is deleted and never used.

Loading is all or nothing: every weight of the file is checked against the model before any is
assigned, and a file for another architecture fails with a ValueError that names the first
layer whose shapes differ.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import tensorflow as tf

from bnnzoo._io import cache_root
from bnnzoo.analysis import flat_layers
from bnnzoo.zoo.pretrained import Pretrained

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightsSource:
    """A validated ``weights=`` argument. ``kind`` is none, imagenet, url or file."""

    kind: str
    path: Path | None = None
    url: str | None = None
    sha256: str | None = None


def parse_weights_arg(weights) -> WeightsSource:
    """Check a ``weights=`` argument without building or downloading anything."""
    if weights is None:
        return WeightsSource("none")
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if not isinstance(weights, str):
        raise ValueError(
            f"Expected weights to be None, 'imagenet', a file path or an https URL with "
            f"'#sha256=<hex>'. Received: weights={weights!r} of type {type(weights).__name__}."
        )
    if weights == "imagenet":
        return WeightsSource("imagenet")
    if "://" in weights:
        url, sha256 = split_url(weights)
        return WeightsSource("url", url=url, sha256=sha256)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"Weights file not found: {str(path)!r}. Pass an existing .h5, .weights.h5 or .keras "
            f"file, 'imagenet', or None."
        )
    return WeightsSource("file", path=path)


def split_url(weights_url: str) -> tuple[str, str]:
    """Split ``"https://host/file.h5#sha256=<hex>"`` into the URL and the lower-case hash."""
    url, _, fragment = weights_url.partition("#")
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "https" and not (parsed.scheme == "http" and _is_loopback(parsed.hostname)):
        raise ValueError(
            f"Expected an https URL for weights (plain http only on this machine's loopback). "
            f"Received: {url!r}."
        )
    match = re.fullmatch(r"sha256=([0-9a-fA-F]{64})", fragment)
    if not match:
        raise ValueError(
            f"Expected the weights URL to end in '#sha256=<64 hex digits>' so the download can be "
            f"verified. Received: {weights_url!r}. Compute it with `sha256sum FILE`."
        )
    return url, match.group(1).lower()


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def cache_dir() -> Path:
    """Where downloaded weights are kept: ``$BNNZOO_CACHE/weights``, default ``~/.cache/bnnzoo``."""
    return cache_root() / "weights"


def download(url: str, sha256: str, *, directory: Path | None = None) -> Path:
    """Download ``url`` once into the cache and return its path, verified against ``sha256``.

    A cached file is reused when its hash matches. A download is written to a temporary file in
    the cache directory and renamed into place only after its hash matched, so an interrupted
    or wrong download never leaves a file that a later call could pick up.
    """
    sha256 = sha256.lower()
    if not _SHA256.match(sha256):
        raise ValueError(f"Expected a SHA-256 of 64 hex digits. Received: {sha256!r}.")
    directory = Path(directory) if directory is not None else cache_dir()
    name = Path(urllib.parse.urlparse(url).path).name or "weights"
    target = directory / f"{sha256[:12]}-{name}"
    if target.is_file():
        if file_sha256(target) == sha256:
            return target
        target.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=directory)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise ValueError(
                f"The file downloaded from {url} has SHA-256 {digest.hexdigest()}, expected "
                f"{sha256}. It was deleted. Check the URL and hash, or whether the file was "
                f"replaced on the server."
            )
        os.replace(partial, target)
    except urllib.error.URLError as err:
        raise OSError(f"Could not download weights from {url}: {err.reason}.") from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
    return target


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Reading and assigning weights
# --------------------------------------------------------------------------------------------


def load_weights(model: tf.keras.Model, path: str | os.PathLike) -> None:
    """Assign the weights stored at ``path`` to ``model``, all or nothing.

    Keras 2 ``.h5`` files (from ``save_weights`` or ``save``) are matched to the model's layers
    in order, like Keras does; ``.weights.h5`` and ``.keras`` files by their layer keys. Every
    shape is checked before any weight is assigned.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is corrupt or truncated, or it holds weights of another
            architecture (the message names the first layer that does not match).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Weights file not found: {str(path)!r}.")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                if "model.weights.h5" not in archive.namelist():
                    raise ValueError(
                        f"{str(path)!r} is a zip archive without model.weights.h5; expected a "
                        f".keras file written by model.save()."
                    )
                with archive.open("model.weights.h5") as inner, h5py.File(inner, "r") as f:
                    pairs = _match_keyed(model, f, path)
        else:
            with h5py.File(path, "r") as f:
                pairs = _match_file(model, f, path)
    except (OSError, zipfile.BadZipFile, KeyError, EOFError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(
            f"Could not read weights from {str(path)!r}: the file is corrupt or truncated "
            f"({type(err).__name__}: {err}). Download or save it again."
        ) from err
    tf.keras.backend.batch_set_value(pairs)


def _match_file(model, f: h5py.File, path: Path):
    if "layer_names" in f.attrs:
        return _match_ordered(model, f, path)
    if "model_weights" in f and "layer_names" in f["model_weights"].attrs:
        return _match_ordered(model, f["model_weights"], path)
    if "layers" in f:
        return _match_keyed(model, f, path)
    raise ValueError(
        f"{str(path)!r} is an HDF5 file but holds no Keras weights (no 'layer_names' or 'layers' "
        f"entry). Expected a file written by model.save_weights() or model.save()."
    )


def _decode(names) -> list[str]:
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in names]


def _match_ordered(model, group: h5py.Group, path: Path):
    """Keras 2 h5 layout: layers with weights are matched in order, as Keras loads them."""
    stored = []
    for layer_name in _decode(group.attrs["layer_names"]):
        weight_names = _decode(group[layer_name].attrs["weight_names"])
        if weight_names:
            stored.append((layer_name, [np.asarray(group[layer_name][w]) for w in weight_names]))
    layers = [layer for layer in flat_layers(model) if layer.weights]
    pairs = []
    for index, layer in enumerate(layers):
        if index >= len(stored):
            raise ValueError(
                f"{str(path)!r} has weights for {len(stored)} layers but the model has "
                f"{len(layers)}; the first layer without weights in the file is {layer.name!r}. "
                f"The file was saved from another architecture."
            )
        pairs += _pair_layer(layer, *stored[index], path)
    if len(stored) > len(layers):
        raise ValueError(
            f"{str(path)!r} has weights for {len(stored)} layers but the model has only "
            f"{len(layers)}; the first extra layer in the file is {stored[len(layers)][0]!r}. "
            f"The file was saved from another architecture."
        )
    return pairs


def _match_keyed(model, f: h5py.Group, path: Path):
    """Keras v3 layout (``.weights.h5``, ``.keras``): ``layers/<class_name[_n]>/vars/<i>``."""
    layers_group = f["layers"]
    pairs = []
    used = set()
    for layer, key in zip(model.layers, _v3_keys(model.layers)):
        if not layer.weights:
            continue
        if key not in layers_group or "vars" not in layers_group[key]:
            raise ValueError(
                f"{str(path)!r} has no weights for layer {layer.name!r} (expected the entry "
                f"'layers/{key}'). The file was saved from another architecture."
            )
        variables = layers_group[key]["vars"]
        arrays = [np.asarray(variables[str(i)]) for i in range(len(variables))]
        pairs += _pair_layer(layer, key, arrays, path)
        used.add(key)
    extra = sorted(
        k for k in layers_group if k not in used and len(layers_group[k].get("vars", {}))
    )
    if extra:
        raise ValueError(
            f"{str(path)!r} has weights the model has no layer for, first 'layers/{extra[0]}'. "
            f"The file was saved from another architecture."
        )
    return pairs


def _v3_keys(layers):
    """The names Keras' v3 format gives the entries of a model's layer list."""
    seen: dict[str, int] = {}
    for layer in layers:
        base = _snake_case(type(layer).__name__)
        count = seen.get(base, 0)
        seen[base] = count + 1
        yield base if count == 0 else f"{base}_{count}"


def _snake_case(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name if name[0] != "_" else "private" + name


def _pair_layer(layer, stored_name: str, arrays, path: Path):
    expected = [tuple(w.shape) for w in layer.weights]
    found = [tuple(a.shape) for a in arrays]
    if expected != found:
        raise ValueError(
            f"Weights in {str(path)!r} do not fit layer {layer.name!r}: the model expects shapes "
            f"{expected}, the file's layer {stored_name!r} has {found}. The file was saved from "
            f"another architecture or configuration (input channels, classes, width)."
        )
    return list(zip(layer.weights, arrays))


def resolve(
    source: WeightsSource, *, imagenet: Pretrained | None, include_top: bool
) -> Path | None:
    """Turn a validated weights source into a local file, downloading it if needed.

    ``imagenet`` is the model's published ImageNet weights, used when ``source`` asks for them.
    """
    if source.kind == "none":
        return None
    if source.kind == "file":
        return source.path
    if source.kind == "url":
        return download(source.url, source.sha256)
    if imagenet is None:
        raise ValueError("This model has no published ImageNet weights; use weights=None.")
    published = imagenet.file(include_top=include_top)
    return download(published.url, published.sha256)
