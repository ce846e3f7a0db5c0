"""Weights under which a correct conversion of a binary network agrees with Keras exactly.

A binary network amplifies float rounding: a value within rounding of 0 before ``sign`` takes
whichever sign the order of float operations gives it, and that flip changes everything
downstream. Checked with ordinary weights, a correct conversion therefore differs from Keras on
*some* inputs, and a check loose enough to let those pass cannot see a conversion error that
changes only some inputs either (``bnnzoo.converters.verify``).

``tie_free_weights`` removes the ties instead of tolerating them. It gives the model random
weights (``verify.randomize_weights``: N(0, 1) weights, BatchNorm statistics measured on the
batch) and then, one sign input after the other in the order the graph computes them, moves
each channel's values so that 0 falls in the middle of the widest gap between the values that
channel takes on the check batch (leaving at least 5 % of them on either side, so both signs
occur). The move
is a change of the offset (``beta``) of the BatchNorm the values come from, through additions,
concatenations and pooling (a residual stream's last BatchNorm, a dense block's BatchNorm), or
of the threshold ``alpha`` of a ReActNet ``RSign`` (``x - alpha``) right before the sign, or of
a conv's bias; a sign after a PReLU (DWR's ResNet-18) is moved through the PReLU's input, which
is 0 exactly where its output is. The
input of a DoReFa k-bit activation quantizer (``round(clip(x, 0, 1) * n) / n``, DoReFa-Net's) has
ties too, at its rounding steps ``(j + 0.5) / n``: its channels are moved the same way, by at
most half a step, so that the steps fall in the middle of the widest gaps between their values
(``step_free_shift``).
The accumulator of a binary convolution is an integer, so a channel fed by one binary
convolution has gaps of a whole step; a channel that also carries float values (a stem, a
residual stream) has narrower gaps, still far wider than rounding. Every sign input then stays
at least ``margin`` away from 0 on every input of the batch, Keras and a correct engine compute
the same binary activations, and their outputs agree to float rounding on *every* input. A
conversion error that changes any binary activation (padding with the wrong value, a wrong
threshold, a dropped layer) changes the outputs far beyond rounding on the inputs it touches.

With a softmax head the classifier's weights are scaled so that the logits spread about 2
(unscaled random logits saturate the softmax, which would hide differences).

The weights are for the check only: ``check_conversion`` converts a copy of the model's
architecture with them, compares on the same batch by ``verify.tolerance("exact")``, and puts the
model's own weights back.

Example:
    >>> margins = tie_free_weights(model, random_inputs(model, 8))
    >>> margins.smallest > 0, len(margins.unadjusted)
    (True, 0)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import larq as lq
import numpy as np
import tensorflow as tf

from bnnzoo.analysis import flat_layers
from bnnzoo.converters.reference import (
    check_inputs,
    check_single_io,
    random_inputs,
    randomize_weights,
)
from bnnzoo.converters.verify import Engine, VerifyReport, tolerance, verify_engine
from bnnzoo.layers import RSign

# layers through which a BatchNorm's offset reaches a later tensor unchanged, channel by channel
_SHIFT_THROUGH = (
    tf.keras.layers.MaxPooling2D,
    tf.keras.layers.AveragePooling2D,
    tf.keras.layers.ZeroPadding2D,
    tf.keras.layers.Dropout,
)
# the share of a channel's values below the chosen gap: a wide window reaches the sparser
# values away from the middle, whose gaps are wider (Real-to-Binary Net at 224, through LCE:
# smallest margin 1.8e-6 and 2 of 4 inputs off with the middle half; 8.8e-5 and all 4 exact
# with this window)
WINDOW = (0.05, 0.95)
HEAD_SPREAD = 2.0  # standard deviation of the logits under a softmax head


@dataclass(frozen=True)
class Margins:
    """How far from 0 every sign input stays on the check batch.

    Attributes:
        smallest: the smallest ``min |x| / max |x|`` over the channels of every sign input
            that was adjusted (0 when there is none).
        sign_inputs: number of distinct tensors that reach a sign quantizer.
        unadjusted: names of the layers producing sign inputs with no BatchNorm to move
            (the model input itself needs none: no arithmetic precedes its sign).
        other_quantizers: names of layers whose input quantizer is neither a sign nor a
            DoReFa k-bit quantizer, left as they are.
        multibit_inputs: number of distinct tensors that reach a DoReFa k-bit quantizer
            (kept away from its rounding steps; ``smallest`` counts them too).
    """

    smallest: float
    sign_inputs: int
    unadjusted: tuple[str, ...]
    other_quantizers: tuple[str, ...]
    multibit_inputs: int = 0

    def __str__(self) -> str:
        text = f"tie-free weights: {self.sign_inputs} sign inputs"
        if self.multibit_inputs:
            text += f" and {self.multibit_inputs} k-bit inputs"
        text += (
            f", each at least {self.smallest:.2g} of its channel's largest value away from "
            f"{'a rounding step' if self.multibit_inputs else '0'}"
        )
        if self.unadjusted:
            text += f"; not adjusted: {', '.join(self.unadjusted)}"
        if self.other_quantizers:
            text += f"; other quantizers left as they are: {', '.join(self.other_quantizers)}"
        return text


def tie_free_weights(model: tf.keras.Model, inputs: np.ndarray, *, seed: int = 0) -> Margins:
    """Give ``model`` random weights under which no sign input is near 0 on ``inputs``.

    Changes the model in place (see the module docstring); keep ``model.get_weights()`` to
    restore it, or use ``check_conversion``, which does.

    Args:
        model: a Keras model with one input and one output and a fixed input shape.
        inputs: the check batch, ``(n, *input_shape)``; the margins hold on these inputs.
        seed: seed of the random weights.

    Returns:
        The ``Margins`` measured afterwards.

    Example:
        >>> x = random_inputs(model, 8)
        >>> print(tie_free_weights(model, x))
        tie-free weights: 16 sign inputs, each at least 3.2e-04 of its channel's largest ...
    """
    check_single_io(model)
    inputs = check_inputs(model, inputs)
    randomize_weights(model, seed=seed, inputs=inputs)
    plan, others = _plan(model)
    for tensor, levels, moves in plan:
        if moves:
            values = tf.keras.Model(model.inputs, tensor)(inputs, training=False).numpy()
            threshold = widest_gap(values)[0] if levels is None else step_free_shift(values, levels)
            for norm, norm_channels, channels in moves:
                _shift(norm, norm_channels, threshold[channels])
    _tame_softmax_head(model, inputs)
    return _measure(model, inputs, plan, others)


def widest_gap(values: np.ndarray, window: tuple[float, float] | None = None):
    """Per channel (last axis): the middle and half-width of the widest gap between two
    neighbouring values with a share of the values below it inside ``window``.

    A channel whose one value fills the whole window takes the gap nearest the middle; a
    constant channel gets a threshold below its value (every sign +1).

    Example:
        >>> widest_gap(np.array([[0.0], [1.0], [1.1], [3.0]]))
        (array([2.05], dtype=float32), array([0.95]))
    """
    window = WINDOW if window is None else window
    v = np.sort(values.reshape(-1, values.shape[-1]).astype(np.float64), axis=0)
    n, channels = v.shape
    columns = np.arange(channels)
    spread = np.maximum(1.0, np.abs(v[0]))
    if n == 1:
        return (v[0] - spread).astype(np.float32), spread
    gaps = np.diff(v, axis=0)  # gap i lies above a share (i + 1) / n of the values
    share = (np.arange(1, n) / n)[:, None]
    inside = (share >= window[0]) & (share <= window[1])
    k = np.argmax(np.where(inside, gaps, -1.0), axis=0)
    nearest = np.argmax(np.where(gaps > 0, -np.abs(share - 0.5), -np.inf), axis=0)
    k = np.where(gaps[k, columns] > 0, k, nearest)
    low, high = v[k, columns], v[k + 1, columns]
    constant = gaps.max(axis=0) == 0
    threshold = np.where(constant, v[0] - spread, (low + high) / 2)
    margin = np.where(constant, spread, (high - low) / 2)
    return threshold.astype(np.float32), margin


def rounding_steps(levels: int) -> np.ndarray:
    """Where a DoReFa activation quantizer of ``levels`` steps (``2**k - 1``) jumps:
    ``round(clip(x, 0, 1) * levels) / levels`` rounds ``x = (j + 0.5) / levels`` either way."""
    return (np.arange(levels) + 0.5) / levels


def step_free_shift(values: np.ndarray, levels: int) -> np.ndarray:
    """Per channel (last axis): the amount to lower the values by so that every rounding step of
    a ``levels``-step DoReFa quantizer falls in the middle of the widest gap between them.

    The steps repeat every ``1 / levels`` inside ``[0, 1]``, so a value's distance to them
    depends on its phase ``(x * levels - 0.5) mod 1``: the shift (at most half a step either
    way) puts phase 0 in the middle of the widest gap between the phases of the values on a
    circle. Values more than a step outside ``[0, 1]`` are clipped far from any step whatever
    the shift, and do not count.

    Example:
        >>> step_free_shift(np.array([[0.15], [0.2], [0.49]]), levels=3)  # steps at 1/6, 1/2, 5/6
        array([-0.15833333], dtype=float32)
    """
    v = values.reshape(-1, values.shape[-1]).astype(np.float64)
    shift = np.zeros(v.shape[1])
    for channel in range(v.shape[1]):
        x = v[:, channel]
        x = x[(x > -1.0 / levels) & (x < 1.0 + 1.0 / levels)]
        if x.size == 0:
            continue
        phases = np.sort(np.mod(x * levels - 0.5, 1.0))
        gaps = np.diff(np.concatenate([phases, phases[:1] + 1.0]))  # the last wraps around
        widest = int(np.argmax(gaps))
        middle = phases[widest] + gaps[widest] / 2  # phase 0 goes here: lower by `middle`
        shift[channel] = (np.mod(middle + 0.5, 1.0) - 0.5) / levels
    return shift.astype(np.float32)


def check_conversion(
    model: tf.keras.Model,
    convert: Callable[[tf.keras.Model], Engine],
    *,
    inputs: np.ndarray | None = None,
    n: int = 8,
    seed: int = 0,
    engine_name: str = "engine",
    precision: str = "exact",
) -> tuple[VerifyReport, Margins]:
    """Convert ``model`` with tie-free weights and compare it with Keras on every input.

    ``convert`` turns a Keras model into an engine (e.g. ``lambda m: lce_engine(to_tflite(m))``)
    and is called while the model holds tie-free weights; the model's own weights are put back
    afterwards, also when ``convert`` raises. The comparison uses ``verify.tolerance("exact")``:
    every input must agree to float rounding. ``precision="bf16"`` (an engine that rounds its
    float layers to bfloat16) compares by ``tolerance("bf16")`` instead: a lossy conversion is
    not exact, so its report is a figure to state, not a proof of the conversion.

    Returns:
        The ``VerifyReport`` (it does not raise on disagreement) and the ``Margins``.

    Example:
        >>> report, margins = check_conversion(model, lambda m: lce_engine(to_tflite(m)))
        >>> report.passed, report.rounding_exact == report.n
        (True, True)
    """
    check_single_io(model)
    batch = random_inputs(model, n, seed) if inputs is None else check_inputs(model, inputs)
    own = model.get_weights()
    try:
        margins = tie_free_weights(model, batch, seed=seed)
        engine = convert(model)
        report = verify_engine(
            model,
            engine,
            inputs=batch,
            raise_on_failure=False,
            engine_name=engine_name,
            **tolerance(precision).kwargs(),
        )
    finally:
        model.set_weights(own)
    return report, margins


def sign_inputs(model: tf.keras.Model) -> tuple[list, list[str]]:
    """The distinct tensors that reach a 1-bit input quantizer, in the order the graph computes
    them, and the names of layers with an input quantizer that is neither a sign nor DoReFa's
    (``quantizer_inputs`` has those too)."""
    found, others = quantizer_inputs(model)
    return [tensor for tensor, levels in found if levels is None], others


def quantizer_inputs(model: tf.keras.Model) -> tuple[list, list[str]]:
    """``[(tensor, levels)]``: the distinct tensors that reach a 1-bit input quantizer
    (``levels`` None) or a DoReFa activation quantizer (``levels = 2**k - 1``), in the order the
    graph computes them; and the names of layers with any other kind of input quantizer."""
    seen, found, others = set(), [], []
    for layer in flat_layers(model):
        quantizer = getattr(layer, "input_quantizer", None)
        if quantizer is None:
            continue
        levels = _levels(quantizer)
        if levels == 0:
            others.append(layer.name)
            continue
        for node in layer._inbound_nodes:
            tensor = node.keras_inputs[0]
            if id(tensor) not in seen:
                seen.add(id(tensor))
                found.append((tensor, levels))
    return found, others


def _levels(quantizer) -> int | None:
    """None for a 1-bit quantizer, ``2**k - 1`` for DoReFa's k-bit activations, else 0."""
    # larq's 1-bit quantizers (sign, approx/swish sign, heaviside) all switch at 0; the same
    # `precision` that analysis.counting counts binary layers by
    precision = getattr(quantizer, "precision", None)
    if precision == 1:
        return None
    if isinstance(quantizer, lq.quantizers.DoReFaQuantizer) and quantizer.mode == "activations":
        return 2**precision - 1
    return 0


def _plan(model):
    """Each quantizer input with its levels (None: a sign) and the BatchNorm channels whose
    offset moves it. A BatchNorm upstream of an earlier input is never moved (that would undo
    the earlier one's margin): a residual stream is moved through its newest BatchNorm, not a
    shortcut's further up."""
    found, others = quantizer_inputs(model)
    frozen: set[int] = set()  # layers upstream of the inputs placed so far
    plan = []
    for tensor, levels in found:
        tensor = _before_reshapes(tensor)
        if levels is None:  # a sign: its ties are those of a PReLU's input
            tensor = _before_prelu(tensor)
        plan.append((tensor, levels, _moves(tensor, frozen, 0, tensor.shape[-1])))
        frozen |= _upstream(tensor)
    return plan, others


def _upstream(tensor) -> set[int]:
    """The ids of the layers that ``tensor`` depends on, its own producer included."""
    seen: set[int] = set()
    stack = [tensor]
    while stack:
        layer = stack.pop()._keras_history.layer
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        for node in layer._inbound_nodes[:1]:
            stack.extend(tf.nest.flatten(node.keras_inputs))
    return seen


def _before_reshapes(tensor):
    """The tensor a Flatten or Reshape (e.g. before a binary dense layer) was applied to: it
    holds the same values, with one channel per channel of the BatchNorm before it."""
    layer = tensor._keras_history.layer
    while isinstance(layer, (tf.keras.layers.Flatten, tf.keras.layers.Reshape)):
        tensor = layer._inbound_nodes[0].keras_inputs[0]
        layer = tensor._keras_history.layer
    return tensor


def _before_prelu(tensor):
    """The input of a Keras PReLU whose slopes are all non-zero: ``prelu(x)`` is 0 only where
    ``x`` is, so ``x`` away from 0 keeps the sign of ``prelu(x)`` away from a tie (by
    ``min(1, |slope|)`` of ``x``'s margin), and ``x`` can be moved through an offset upstream."""
    layer = tensor._keras_history.layer
    if isinstance(layer, tf.keras.layers.PReLU) and np.all(layer.alpha.numpy() != 0):
        return layer._inbound_nodes[0].keras_inputs[0]
    return tensor


def _moves(tensor, frozen: set[int], low: int, high: int) -> list:
    """[(BatchNorm, its channels, the tensor's channels)] whose offsets shift the tensor's
    channels ``low:high`` one for one."""
    layer = tensor._keras_history.layer
    channels = np.arange(low, high)
    if isinstance(layer, (tf.keras.layers.BatchNormalization, RSign)) or _has_free_bias(layer):
        return [] if id(layer) in frozen else [(layer, channels, channels)]
    inputs = [t for t in tf.nest.flatten(layer._inbound_nodes[0].keras_inputs)]
    if isinstance(layer, _SHIFT_THROUGH) or _is_linear_activation(layer):
        return _moves(inputs[0], frozen, low, high)
    if _is_add(layer):
        for candidate in inputs:
            found = _moves(candidate, frozen, low, high)
            if found:
                return found
        return []
    if isinstance(layer, tf.keras.layers.Concatenate) and layer.axis in (-1, len(tensor.shape) - 1):
        return _moves_through_concatenation(inputs, frozen, low, high)
    return []


def _moves_through_concatenation(inputs, frozen, low, high) -> list:
    moves, start = [], 0
    for part in inputs:
        width = part.shape[-1]
        a, b = max(low, start), min(high, start + width)
        if a < b:
            for norm, norm_channels, channels in _moves(part, frozen, a - start, b - start):
                moves.append((norm, norm_channels, channels + start))
        start += width
    return moves


def _is_add(layer) -> bool:
    if isinstance(layer, tf.keras.layers.Add):
        return True
    symbol = getattr(layer, "symbol", None)  # TFOpLambda of `x + y`
    return symbol in ("__operators__.add", "math.add")


def _has_free_bias(layer) -> bool:
    """A conv or dense layer whose bias is the last thing it adds (no activation after it)."""
    bias = getattr(layer, "bias", None)
    kinds = (tf.keras.layers.Conv2D, tf.keras.layers.DepthwiseConv2D, tf.keras.layers.Dense)
    linear = getattr(layer, "activation", None) is tf.keras.activations.linear
    return isinstance(layer, kinds) and bias is not None and linear


def _is_linear_activation(layer) -> bool:
    return isinstance(layer, tf.keras.layers.Activation) and layer.activation is (
        tf.keras.activations.linear
    )


def _shift(norm, channels: np.ndarray, amount: np.ndarray) -> None:
    """Lower the output of ``norm``'s ``channels`` by ``amount``: through its offset, or, for a
    BatchNorm without one, through its moving mean (``amount * sqrt(var + eps) / gamma``), or,
    for a ReActNet ``RSign`` (``x - alpha``), through its threshold ``alpha``, or, for a conv or
    dense layer with a bias and no activation, through its bias."""
    if isinstance(norm, RSign):
        alpha = norm.alpha.numpy()
        alpha[channels] += amount
        norm.alpha.assign(alpha)
        return
    if _has_free_bias(norm):
        bias = norm.bias.numpy()
        bias[channels] -= amount
        norm.bias.assign(bias)
        return
    if norm.center:
        beta = norm.beta.numpy()
        beta[channels] -= amount
        norm.beta.assign(beta)
        return
    mean, variance = norm.moving_mean.numpy(), norm.moving_variance.numpy()
    gamma = norm.gamma.numpy()[channels] if norm.scale else 1.0
    mean[channels] += amount * np.sqrt(variance[channels] + norm.epsilon) / gamma
    norm.moving_mean.assign(mean)


def _tame_softmax_head(model: tf.keras.Model, inputs: np.ndarray) -> None:
    """Scale the last float classifier so that logits under a softmax spread about
    ``HEAD_SPREAD`` (random weights saturate it, and a saturated softmax hides differences)."""
    if not _ends_in_softmax(model):
        return
    head = next(
        (
            layer
            for layer in reversed(list(flat_layers(model)))
            if getattr(layer, "kernel", None) is not None
            and getattr(layer, "kernel_quantizer", None) is None
        ),
        None,
    )
    if head is None:
        return
    features = tf.keras.Model(model.inputs, head.input)(inputs, training=False)
    activation = getattr(head, "activation", None)
    head.activation = tf.keras.activations.linear
    try:
        spread = float(np.std(head(features, training=False).numpy()))
    finally:
        head.activation = activation
    if spread > 0:
        for weight in (head.kernel, getattr(head, "bias", None)):
            if weight is not None:
                weight.assign(weight * (HEAD_SPREAD / spread))


def _ends_in_softmax(model: tf.keras.Model) -> bool:
    layer = model.outputs[0]._keras_history.layer
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "") == "softmax" or type(layer).__name__ == "Softmax"


def _measure(model, inputs, plan, others) -> Margins:
    adjusted = [(tensor, levels) for tensor, levels, moves in plan if moves]
    unadjusted = tuple(
        tensor._keras_history.layer.name
        for tensor, _, moves in plan
        if not moves and not isinstance(tensor._keras_history.layer, tf.keras.layers.InputLayer)
    )
    smallest = 0.0
    if adjusted:
        values = tf.keras.Model(model.inputs, [t for t, _ in adjusted])(inputs, training=False)
        ratios = []
        for value, (_, levels) in zip(tf.nest.flatten(values), adjusted):
            v = value.numpy().reshape(-1, value.shape[-1]).astype(np.float64)
            distance = np.abs(v) if levels is None else _distance_to_steps(v, levels)
            largest = np.maximum(np.abs(v).max(axis=0), 1e-30)
            ratios.append(float((distance.min(axis=0) / largest).min()))
        smallest = min(ratios)
    multibit = sum(levels is not None for _, levels, _ in plan)
    return Margins(
        smallest=smallest,
        sign_inputs=len(plan) - multibit,
        unadjusted=unadjusted,
        other_quantizers=tuple(others),
        multibit_inputs=multibit,
    )


def _distance_to_steps(values: np.ndarray, levels: int) -> np.ndarray:
    """How far each value lies from the nearest rounding step of a DoReFa quantizer."""
    steps = rounding_steps(levels)
    return np.abs(values[..., None] - steps).min(axis=-1)
