"""Clustering pruning to an OPs budget (Xue, Lu, Chang, Wei, Wei 2023, "Fast and Accurate Binary
Neural Networks based on Depth-Width Reshaping", DWR §4.2, after Chang et al. 2022).

Each binary conv's pre-BN output is recorded on a few hundred training images and averaged into
one row per channel (the channel's mean response map). The rows are clustered with DBSCAN
(cosine distance, ``min_samples=5``); one channel per cluster is kept (the one closest to the
cluster's mean) plus every noise point. The narrower network is built from the spec and starts
from the trained one: the kept channels' weights are copied, with the matching input channels
of the next layer, the shortcut convs and the BatchNorm statistics.

Unlike the authors, who set DBSCAN's threshold by hand, ``prune_to_budget`` searches it (one
threshold for every layer, by bisection) so that the pruned network's OPs (``ops_bops64`` of
``bnnzoo.analysis.count_model``: BOPs/64 + FLOPs) are at most the budget and as close to it as
the search gets. In a Bi-Real ResNet the convs of one stage are added through identity
shortcuts, so they share one set of kept channels: their rows are concatenated and clustered
together. Parameter-free zero-padding shortcuts keep the first channels, so across a stage
boundary they carry the pruned channels only approximately; fine-tuning follows anyway. The
alignment conv is not pruned: it exists to keep the classifier's width.

Example:
    >>> result = prune_to_budget(model, spec, images, original=dwr.RESNET20)
    >>> print(result.report())
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from bnnzoo._text import format_table
from bnnzoo.analysis import count_model, shapes_only
from bnnzoo.zoo import dwr as dwr_zoo
from bnnzoo.zoo.bireal import BiRealSpec
from bnnzoo.zoo.bireal import conv_name as bireal_conv
from bnnzoo.zoo.vgg import VGGSpec
from bnnzoo.zoo.vgg import conv_name as vgg_conv

MIN_SAMPLES = 5  # DBSCAN's min_samples in the authors' code
MIN_CALIBRATION = 16  # fewer images give noisy rows; the authors use a few hundred
MAX_EPS = 2.0  # the largest cosine distance
SEARCH_STEPS = 24


@dataclass(frozen=True)
class Group:
    """Binary convs that share one set of kept channels (one DBSCAN clustering)."""

    name: str
    convs: tuple[str, ...]
    width: int


@dataclass
class PruneResult:
    """What ``prune_to_budget`` returns.

    Attributes:
        model: the pruned network, its weights copied from the trained one.
        spec: its spec.
        budget: the OPs budget.
        ops: the pruned network's OPs (``ops_bops64``).
        unpruned_ops: the OPs of the network before pruning.
        eps: the DBSCAN threshold the search chose.
        widths: per group, (name, channels before, channels after).
        kept: per group, the indices of the kept channels.
    """

    model: tf.keras.Model
    spec: object
    budget: float
    ops: float
    unpruned_ops: float
    eps: float
    widths: list[tuple[str, int, int]]
    kept: dict[str, list[int]] = field(repr=False)

    def report(self) -> str:
        """Budget, result and channels per layer as a table."""
        rows = [["layer", "channels before", "channels after"]]
        rows += [[name, str(before), str(after)] for name, before, after in self.widths]
        return "\n".join(
            [
                f"OPs budget {self.budget:.4g}, before pruning {self.unpruned_ops:.4g}, "
                f"after {self.ops:.4g} ({self.ops / self.budget:.1%} of the budget), "
                f"DBSCAN eps {self.eps:.4g}",
                format_table(rows),
            ]
        )

    def to_dict(self) -> dict:
        return {
            "budget": self.budget,
            "ops": self.ops,
            "unpruned_ops": self.unpruned_ops,
            "eps": self.eps,
            "widths": [list(w) for w in self.widths],
            "kept": self.kept,
        }


def groups(spec) -> list[Group]:
    """The prunable groups of a spec: one per stage (Bi-Real ResNet), one per conv (VGG)."""
    if isinstance(spec, BiRealSpec):
        out = []
        for i, stage in enumerate(spec.stages):
            if len(set(stage)) != 1:
                raise ValueError(
                    f"Stage {i + 1} of the spec has uneven widths {stage}: its convs share the "
                    f"channels of the identity shortcuts, so pruning needs one width per stage."
                )
            out.append(Group(f"stage{i + 1}", tuple(bireal_conv(i, j) for j in range(len(stage))),
                             stage[0]))  # fmt: skip
        return out
    if isinstance(spec, VGGSpec):
        return [
            Group(vgg_conv(i, j), (vgg_conv(i, j),), w)
            for i, stage in enumerate(spec.stages)
            for j, w in enumerate(stage)
        ]
    raise ValueError(
        f"Expected a BiRealSpec or a VGGSpec (the DWR backbones). Received: {type(spec).__name__}."
    )


def with_widths(spec, widths: dict[str, int]):
    """The spec with each group at its new width."""
    if isinstance(spec, BiRealSpec):
        stages = tuple(
            (widths[f"stage{i + 1}"],) * len(stage) for i, stage in enumerate(spec.stages)
        )
    else:
        stages = tuple(
            tuple(widths[vgg_conv(i, j)] for j in range(len(stage)))
            for i, stage in enumerate(spec.stages)
        )
    return spec.replace(stages=stages)


def channel_slices(spec, kept: dict[str, np.ndarray]) -> dict[str, tuple]:
    """Layer name → (input channels kept, output channels kept); None keeps them all."""
    slices = {}
    previous = None  # the stem's channels are all kept
    if isinstance(spec, BiRealSpec):
        for i, stage in enumerate(spec.stages):
            k = kept[f"stage{i + 1}"]
            for j in range(len(stage)):
                name = bireal_conv(i, j)
                source = previous if j == 0 else k
                slices[name] = slices[f"{name}_shortcut_conv"] = (source, k)
                for suffix in ("_bn", "_prelu", "_shortcut_bn"):
                    slices[name + suffix] = (None, k)
            previous = k
    else:
        for i, stage in enumerate(spec.stages):
            for j in range(len(stage)):
                name = vgg_conv(i, j)
                slices[name] = (previous, kept[name])
                slices[f"{name}_bn"] = (None, kept[name])
                previous = kept[name]
    if spec.align is not None:
        slices["align_conv"] = (previous, None)
    else:
        slices["head_bn"] = (None, previous)
        slices["head_dense"] = (previous, None)
    return slices


def copy_kept_weights(source: tf.keras.Model, target: tf.keras.Model, slices: dict) -> None:
    """Copy every layer's weights from ``source`` into the narrower ``target`` (same layer
    names), keeping the channels ``slices`` names: kernels by input (axis -2) and output (axis
    -1) channels, every other weight (BN, PReLU, bias) by its last axis."""
    for layer in target.layers:
        if not layer.weights:
            continue
        inputs, outputs = slices.get(layer.name, (None, None))
        arrays = []
        for variable, value in zip(source.get_layer(layer.name).weights,
                                   source.get_layer(layer.name).get_weights()):  # fmt: skip
            if variable.name.split("/")[-1].startswith("kernel") and inputs is not None:
                value = np.take(value, inputs, axis=-2)
            if outputs is not None:
                value = np.take(value, outputs, axis=-1)
            arrays.append(value)
        layer.set_weights(arrays)


def channel_rows(
    model: tf.keras.Model, spec, images: np.ndarray, *, batch_size: int = 64
) -> dict[str, np.ndarray]:
    """Per group, one row per channel: each conv's pre-BN output averaged over the images
    (a flattened mean response map), the stage's convs side by side."""
    images = check_calibration(images, model)
    group_list = groups(spec)
    names = [conv for g in group_list for conv in g.convs]
    probe = tf.keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    sums = None
    for start in range(0, len(images), batch_size):
        outputs = probe(images[start : start + batch_size], training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        batch = [np.asarray(o, dtype=np.float64).sum(axis=0) for o in outputs]
        sums = batch if sums is None else [s + b for s, b in zip(sums, batch)]
    means = {n: s / len(images) for n, s in zip(names, sums)}
    return {
        g.name: np.concatenate(
            [means[c].reshape(-1, means[c].shape[-1]).T for c in g.convs], axis=1
        )
        for g in group_list
    }


def cluster_channels(rows: np.ndarray, eps: float, *, min_samples: int = MIN_SAMPLES) -> np.ndarray:
    """Indices of the kept channels: per DBSCAN cluster the row closest to its mean (cosine),
    and every noise point; sorted."""
    from sklearn.cluster import DBSCAN

    labels = (
        DBSCAN(eps=max(float(eps), 1e-9), min_samples=min_samples, metric="cosine")
        .fit(rows)
        .labels_
    )
    kept = list(np.flatnonzero(labels == -1))
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit = rows / np.where(norms > 0, norms, 1.0)
    for label in set(labels) - {-1}:
        members = np.flatnonzero(labels == label)
        centre = unit[members].mean(axis=0)
        kept.append(members[int(np.argmax(unit[members] @ centre))])
    return np.array(sorted(int(k) for k in kept))


def check_calibration(images, model: tf.keras.Model) -> np.ndarray:
    """The calibration images as a float32 array of the model's input shape."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(
            f"Expected a non-empty batch of images (N, H, W, C) for calibration. Received an "
            f"array of shape {images.shape}. Pass a few hundred training images."
        )
    if len(images) < MIN_CALIBRATION:
        raise ValueError(
            f"Expected at least {MIN_CALIBRATION} calibration images (the authors use a few "
            f"hundred). Received: {len(images)}. Pass more training images, e.g. 256."
        )
    expected = tuple(model.input_shape[1:])
    if any(e is not None and e != d for e, d in zip(expected, images.shape[1:])):
        raise ValueError(
            f"The calibration images have shape {images.shape[1:]}; the model takes {expected}. "
            f"Preprocess them as for training."
        )
    return images


def prune_to_budget(
    model: tf.keras.Model,
    spec,
    images,
    *,
    budget: float | None = None,
    original=None,
    build: Callable | None = None,
    min_samples: int = MIN_SAMPLES,
) -> PruneResult:
    """Prune a trained DWR backbone until its OPs fit the budget, as close to it as possible.

    Args:
        model: the trained network of ``spec`` (built by ``bnnzoo.zoo.dwr.build`` or a preset).
        spec: its ``BiRealSpec`` or ``VGGSpec``.
        images: calibration images, preprocessed as for training (a few hundred).
        budget: the most OPs (BOPs/64 + FLOPs) the pruned network may have; default: the OPs
            of ``original``.
        original: the spec of the original backbone, whose OPs are the default budget.
        build: spec → model with the same input, classes and binarization as ``model``;
            default ``bnnzoo.zoo.dwr.build`` at ``model``'s input shape and classes.
        min_samples: DBSCAN's ``min_samples``.

    Raises:
        ValueError: no binary convs to prune, calibration images empty, too few or of the
            wrong shape, or a budget below what any threshold reaches (the message gives the
            smallest reachable OPs).
    """
    group_list = groups(spec)
    counts = count_model(model)
    if counts.binary_macs == 0:
        raise ValueError(
            f"{model.name} has no binary convs: clustering pruning works on the pre-BN outputs "
            f"of binary convs. Pass a binary DWR backbone (bnnzoo.zoo.dwr.build(spec))."
        )
    if build is None:
        build = _default_build(model)
    unpruned_ops = counts.ops_bops64
    if budget is None:
        if original is None:
            raise ValueError(
                "Pass budget=OPs, or original=SPEC (the original backbone, whose OPs are the "
                "budget)."
            )
        budget = _ops(build, original)
    budget = float(budget)
    if not budget > 0:
        raise ValueError(f"Expected budget > 0 (OPs). Received: budget={budget!r}.")
    rows = channel_rows(model, spec, images)
    names = [g.name for g in group_list]
    ops_cache: dict[tuple, float] = {}

    def kept_at(eps):
        return {n: cluster_channels(rows[n], eps, min_samples=min_samples) for n in names}

    def ops_of(kept) -> float:
        key = tuple(len(kept[n]) for n in names)
        if key not in ops_cache:
            ops_cache[key] = _ops(build, with_widths(spec, dict(zip(names, key))))
        return ops_cache[key]

    smallest = kept_at(MAX_EPS)
    if ops_of(smallest) > budget:
        raise ValueError(
            f"No threshold prunes this network to {budget:.4g} OPs: the smallest it reaches "
            f"(one channel per cluster at the largest threshold) is {ops_of(smallest):.4g}. "
            f"Pass a budget of at least that, or start from a narrower network."
        )
    lo, hi = 0.0, MAX_EPS
    best_eps, best = MAX_EPS, smallest
    widest = kept_at(1e-9)
    if ops_of(widest) <= budget:  # nothing to prune
        best_eps, best = 0.0, widest
    else:
        for _ in range(SEARCH_STEPS):
            mid = (lo + hi) / 2
            kept = kept_at(mid)
            if ops_of(kept) <= budget:
                hi = mid
                if ops_of(kept) >= ops_of(best):
                    best_eps, best = mid, kept
            else:
                lo = mid
    narrow_spec = with_widths(spec, {g.name: len(best[g.name]) for g in group_list})
    pruned = build(narrow_spec)
    copy_kept_weights(model, pruned, channel_slices(spec, best))
    return PruneResult(
        model=pruned,
        spec=narrow_spec,
        budget=budget,
        ops=count_model(pruned).ops_bops64,
        unpruned_ops=unpruned_ops,
        eps=best_eps,
        widths=[(g.name, g.width, len(best[g.name])) for g in group_list],
        kept={g.name: [int(i) for i in best[g.name]] for g in group_list},
    )


def _ops(build: Callable, spec) -> float:
    """OPs of ``build(spec)``, built only to be counted (no random weights computed)."""
    with shapes_only():
        return count_model(build(spec)).ops_bops64


def _default_build(model: tf.keras.Model) -> Callable:
    activation = "softmax" if model.layers[-1].name == "head_softmax" else None

    def build(spec):
        return dwr_zoo.build(
            spec,
            input_shape=tuple(model.input_shape[1:]),
            num_classes=int(model.output_shape[-1]),
            classifier_activation=activation,
        )

    return build
