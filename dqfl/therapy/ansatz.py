"""Hardware-efficient ansatz: per layer RY then RZ on every wire, then a CNOT chain 0->1->...->n-1.

Parameters have shape (layers, 2, n): [l, 0, w] is the RY angle and [l, 1, w] the RZ angle of wire
w in layer l. 6 layers by default (the paper's depth). A linear CNOT chain rather than a ring keeps
the two-qubit gate count (and so the noise) at n - 1 per layer.

:func:`pennylane_probabilities` builds the same circuit on PennyLane's ``default.mixed``, with the
noise channels queued by the core model itself (:meth:`NoiseModel.pennylane_ops`); it is the
reference the tests compare against.
"""

from __future__ import annotations

import numpy as np

from dqfl.therapy.noise import NoiseModel

DEFAULT_LAYERS = 6


def n_params(n_qubits: int, layers: int = DEFAULT_LAYERS) -> int:
    return layers * 2 * n_qubits


def shape_params(params: np.ndarray, n_qubits: int, layers: int) -> np.ndarray:
    return np.asarray(params, dtype=float).reshape(layers, 2, n_qubits)


def initial_params(n_qubits: int, layers: int, seed: int, init: str = "plus") -> np.ndarray:
    """Starting angles (flat vector), seeded.

    ``"plus"`` (default): RY = pi/2 on the first layer and every other angle ~ N(0, 0.1^2), i.e.
    close to the uniform superposition |+>^n (CNOTs leave it unchanged), which starts the search
    at the mean cost with every plan visible. ``"uniform"``: all angles ~ U[0, 2 pi).
    """
    rng = np.random.default_rng([seed, 11])
    if init == "uniform":
        return rng.uniform(0.0, 2 * np.pi, size=n_params(n_qubits, layers))
    theta = rng.normal(0.0, 0.1, size=(layers, 2, n_qubits))
    theta[0, 0, :] += np.pi / 2
    return theta.reshape(-1)


def pennylane_probabilities(
    params: np.ndarray, n_qubits: int, layers: int, noise: NoiseModel | None
) -> np.ndarray:
    """Reference probabilities from ``default.mixed`` (noise) or ``default.qubit`` (no noise).

    Readout error is applied classically to the returned probabilities, exactly as the fast
    simulator does (``default.mixed``'s own ``readout_prob`` is symmetric only).
    """
    import pennylane as qml

    theta = shape_params(params, n_qubits, layers)
    dev = qml.device("default.mixed" if noise else "default.qubit", wires=n_qubits)

    def after(wire: int, two_qubit: bool) -> None:
        if noise is not None:
            noise.pennylane_ops(wire, two_qubit)

    @qml.qnode(dev)
    def circuit():
        for layer in range(layers):
            for w in range(n_qubits):
                qml.RY(theta[layer, 0, w], wires=w)
                after(w, False)
                qml.RZ(theta[layer, 1, w], wires=w)
                after(w, False)
            for w in range(n_qubits - 1):
                qml.CNOT(wires=[w, w + 1])
                after(w, True)
                after(w + 1, True)
        return qml.probs(wires=range(n_qubits))

    probs = np.asarray(circuit(), dtype=float)
    if noise is not None:
        probs = classical_readout(probs, noise.readout_p01, noise.readout_p10, n_qubits)
    return probs


def classical_readout(probs: np.ndarray, p01: float, p10: float, n_qubits: int) -> np.ndarray:
    """Independent per-qubit confusion matrix on a probability vector (numpy)."""
    conf = np.array([[1 - p01, p10], [p01, 1 - p10]])
    t = probs.reshape((2,) * n_qubits)
    for w in range(n_qubits):
        t = np.moveaxis(np.tensordot(conf, t, axes=([1], [w])), 0, w)
    return t.reshape(-1)
