"""The actor network of an exported policy, evaluated with NumPy: dense layers and the masked
categorical distribution sb3-contrib's ``MaskablePPO`` samples from.

NumPy only. :class:`Network` holds the layers ready for ``x @ w + b``; :func:`masked_probs`
reproduces ``MaskableCategorical``: masked logits are replaced by ``-1e8``
(``MaskableCategorical.apply_masking``), the logits are normalised by their log-sum-exp
(``torch.distributions.Categorical``), in float32 as torch computes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple, Optional

import numpy as np

#: activations the NumPy forward pass implements (hidden layers); the logits layer has none
ACTIVATIONS = ("tanh", "relu")
#: the value sb3-contrib gives masked logits (``MaskableCategorical.apply_masking``)
MASKED_LOGIT = np.float32(-1e8)


@dataclass(frozen=True)
class LayerSpec:
    """One dense layer of the actor: ``y = act(x @ weight.T + bias)``.

    :param name: ``pi.<i>`` for hidden layers, ``action`` for the logits layer
    :param n_in: input size
    :param n_out: output size
    :param activation: ``tanh``, ``relu`` or ``none`` (the logits layer)
    """

    name: str
    n_in: int
    n_out: int
    activation: str

    def to_json(self) -> dict:
        """The layer as a row of ``policy.json``'s ``network.layers``."""
        return {"name": self.name, "in": self.n_in, "out": self.n_out, "activation": self.activation}


class DenseLayer(NamedTuple):
    """One layer ready to evaluate: ``activate(x @ weight + bias, activation)``.

    :param weight: ``(in, out)`` float32, C-contiguous (torch's ``(out, in)`` transposed)
    :param bias: ``(out,)`` float32
    :param activation: ``tanh``, ``relu`` or ``none``
    """

    weight: np.ndarray
    bias: np.ndarray
    activation: str


def activate(x: np.ndarray, activation: str) -> np.ndarray:
    """``x`` through a hidden layer's activation (``none``: unchanged)."""
    if activation == "tanh":
        return np.tanh(x)
    if activation == "relu":
        return np.maximum(x, np.float32(0.0))
    return x


class Network:
    """The actor's multilayer perceptron, normalised observation to logits.

    :param layers: the layer list, input to logits
    :param weights: ``{"<layer>.weight": (out, in), "<layer>.bias": (out,)}`` float32
    """

    def __init__(self, layers: list[LayerSpec], weights: Mapping[str, np.ndarray]) -> None:
        self.layers = list(layers)
        #: the layers as ``(weight (in, out), bias, activation)``, input to logits
        self.dense: list[DenseLayer] = [
            DenseLayer(np.ascontiguousarray(weights[f"{l.name}.weight"].T), weights[f"{l.name}.bias"], l.activation)
            for l in self.layers]

    @property
    def n_in(self) -> int:
        """Length of the (normalised) observation it takes."""
        return self.layers[0].n_in

    @property
    def n_out(self) -> int:
        """Number of logits it returns."""
        return self.layers[-1].n_out

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Logits of normalised float32 observations ``(n, n_in)`` -> ``(n, n_out)``."""
        for w, b, act in self.dense:
            x = activate(x @ w + b, act)
        return x


def masked_probs(logits: np.ndarray, masks: Optional[np.ndarray]) -> np.ndarray:
    """Probabilities of ``MaskableCategorical`` on the last axis, in float32 as torch computes them.

    :param logits: ``(..., n)`` float32
    :param masks: booleans of the same shape (True: valid), or None (all valid)
    """
    x = logits.astype(np.float32, copy=False)
    if masks is not None:
        x = np.where(masks, x, MASKED_LOGIT)
    # Categorical(logits=x): x - logsumexp(x)
    top = x.max(axis=-1, keepdims=True)
    x = x - (top + np.log(np.exp(x - top).sum(axis=-1, keepdims=True)))
    # probs = softmax(x)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
