"""The DQNN training step on other simulators, each written the way its skilled users write it.

Shared by ``bench_simulator.py`` and ``bench_gpu.py``. Every peer runs the SAME workload as ours
on the same inputs and parameters (copied from our default model):

    amplitude-encoded x -> 4 blocks of [U3 on every qubit, CU3 ring i -> i+1 mod n], an exit after
    each block reading <Z_i> and <Z_i Z_j> (all pairs, = basis probabilities @ sign matrix), our
    shared readout (per-exit gains and biases, one class map), loss = mean over exits of the
    batch-mean cross-entropy, backward to every parameter. No optimiser step.

A peer object has ``step()`` (timed: forward + loss + backward) and ``check()`` -> (per-exit
features (B, F) as float64 tensors, gradients of the U3 and CU3 angles (L, n, 3)), compared with
ours before any timing. ``label`` names the simulator and how it was configured.
"""

from __future__ import annotations

import copy
import importlib.metadata
import time
from typing import Any

import numpy as np
import torch

from dqfl import training
from dqfl.quantum import ModelConfig, build_model
from dqfl.quantum.encoding import amplitude_state
from dqfl.quantum.readout import observable_pairs, observable_signs

N_CLASSES = 10


def default_model(n: int, **overrides: Any) -> torch.nn.Module:
    """Our default model (ModelConfig defaults) at n qubits, through the normal API."""
    return build_model(ModelConfig(n_qubits=n, **overrides), N_CLASSES, 2**n)


def exit_loss(logits: list[torch.Tensor] | torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The training objective: mean over exits of the batch-mean cross-entropy, all exits in one
    call, computed by dqfl.training's loss (equal exit weights, no distillation) for every
    torch-based peer alike."""
    z = torch.stack(list(logits)) if isinstance(logits, list | tuple) else logits
    return training.exit_loss(z, y, torch.full((z.shape[0],), 1 / z.shape[0]), 0.0)


def angles(model) -> tuple[torch.Tensor, torch.Tensor]:
    """(L, n, 3) U3 and CU3 angles of every layer (detached copies)."""
    u3, cu3 = model.stacked_angles(model.n_layers)
    return u3.detach().clone(), cu3.detach().clone()


def angle_grads(model) -> tuple[torch.Tensor, torch.Tensor]:
    u3 = torch.cat([b.u3.grad for b in model.blocks])
    cu3 = torch.cat([b.cu3.grad for b in model.blocks])
    return u3.double().cpu(), cu3.double().cpu()


def shared_logits(model, layer: int, f: torch.Tensor) -> torch.Tensor:
    """Our shared readout applied to features ``f`` (B, F) of exit ``layer`` (the same formula
    as :class:`dqfl.quantum.readout.SharedReadout`, for peers that return expectation values)."""
    r = model.blocks[layer].readout
    return (f * r.gain) @ model.blocks[0].readout.weight + r.bias


def distribution(name: str) -> str:
    try:
        return f"{name} {importlib.metadata.version(name)}"
    except importlib.metadata.PackageNotFoundError:
        return name


# ---------------------------------------------------------------------------- torch models
class TorchModelPeer:
    """A DQNN (ours, or our model on the PennyLane backend) stepped through plain autograd."""

    def __init__(self, model, x: torch.Tensor, y: torch.Tensor, label: str):
        self.model, self.x, self.y, self.label = model, x, y, label
        self.signs = observable_signs(model.n_qubits, model.observables, torch.float64)

    def step(self) -> None:
        self.model.zero_grad(set_to_none=True)
        exit_loss(self.model(self.x), self.y).backward()

    def loss(self) -> float:
        with torch.no_grad():
            return float(exit_loss(self.model(self.x), self.y))

    def check(self):
        with torch.no_grad():
            probs = self.model.exit_probabilities(self.x)
        self.step()
        feats = [(p.double() @ self.signs.to(p.device)).cpu() for p in probs]
        return feats, angle_grads(self.model)


class OursPeer(TorchModelPeer):
    """Our model stepped as dqfl's local training steps it (``dqfl.training.batch_gradients``:
    the fused path's closed-form loss gradient into the hand-written backward, no autograd
    where the configuration allows it)."""

    def step(self) -> None:
        self.model.zero_grad(set_to_none=True)
        weights = torch.full((self.model.n_layers,), 1 / self.model.n_layers)
        training.batch_gradients(self.model, self.x, self.y, weights, 0.0, self.model.n_layers)


def ours(n: int, x, y, **overrides) -> TorchModelPeer:
    model = default_model(n, **overrides)
    label = f"dqfl (simulator={model.simulator}: adjoint, compiled state passes, complex64)"
    return OursPeer(model, x, y, label)


def pennylane_default_qubit(reference, x, y) -> TorchModelPeer:
    """PennyLane default.qubit through our ``backend="pennylane"``: ONE QNode per forward,
    backprop, parameter broadcasting over the batch, qml.Snapshot probabilities for exits 1-3."""
    model = default_model(reference.n_qubits, backend="pennylane")
    model.load_state_dict(reference.state_dict())
    label = (
        f"{distribution('pennylane')} default.qubit: one QNode per forward, backprop, "
        "broadcasting, qml.Snapshot exits"
    )
    return TorchModelPeer(model, x, y, label)


# ---------------------------------------------------------------------------- PennyLane Lightning
class LightningPeer:
    """lightning.qubit (or lightning.gpu) with adjoint differentiation. Adjoint supports
    expectation values, not probabilities, and snapshots cannot be differentiated, so the
    skilled form is one QNode per exit returning the exit's <Z_i>, <Z_i Z_j> (exactly the
    readout's features), broadcast over the batch, with the device's own VJP. The gates are
    written directly in the set Lightning's adjoint differentiates (RZ, RY, PhaseShift, CNOT):
    ``qml.U3`` / ``qml.ctrl(qml.U3)`` give the same numbers but are decomposed again in Python
    on every call (measured ~4x slower at n = 8)."""

    def __init__(self, reference, x, y, device: str = "lightning.qubit"):
        import pennylane as qml

        self.model = copy.deepcopy(reference)
        self.n, self.y = reference.n_qubits, y
        n = self.n
        self.inputs = amplitude_state(x, n)
        self.dev = qml.device(device, wires=n, c_dtype=np.complex64)
        pairs = observable_pairs(n, reference.observables)
        self.observables = [qml.PauliZ(i) for i in range(n)]
        self.observables += [qml.PauliZ(i) @ qml.PauliZ(j) for i, j in pairs]
        self.qnodes = [self._qnode(depth) for depth in range(1, reference.n_layers + 1)]
        self.label = (
            f"{distribution('pennylane_lightning')} {device} complex64: one QNode per exit, "
            "adjoint + device VJP, broadcasting, expvals of the readout's observables"
        )

    def _qnode(self, depth: int):
        import pennylane as qml

        n, pairs, obs = self.n, self.model.circuit.pairs, self.observables

        @qml.qnode(self.dev, interface="torch", diff_method="adjoint", device_vjp=True)
        def exit_features(inputs, u3, cu3):
            qml.StatePrep(inputs, wires=range(n))
            for layer in range(depth):
                for i in range(n):  # U3 = RZ(phi) RY(theta) RZ(lambda) up to a global phase
                    qml.RZ(u3[layer, i, 2], wires=i)
                    qml.RY(u3[layer, i, 0], wires=i)
                    qml.RZ(u3[layer, i, 1], wires=i)
                for k, (c, t) in enumerate(pairs):  # CU3: 2 CNOTs and rotations
                    th, ph, la = cu3[layer, k, 0], cu3[layer, k, 1], cu3[layer, k, 2]
                    qml.PhaseShift((la + ph) / 2, wires=c)
                    qml.RZ((la - ph) / 2, wires=t)
                    qml.CNOT(wires=[c, t])
                    qml.RZ(-(ph + la) / 2, wires=t)
                    qml.RY(-th / 2, wires=t)
                    qml.CNOT(wires=[c, t])
                    qml.RY(th / 2, wires=t)
                    qml.RZ(ph, wires=t)
            return [qml.expval(o) for o in obs]

        return exit_features

    def _features(self) -> list[torch.Tensor]:
        u3, cu3 = self.model.stacked_angles(self.model.n_layers)
        return [
            torch.stack(list(q(self.inputs, u3, cu3)), -1).to(torch.float32) for q in self.qnodes
        ]

    def step(self) -> None:
        self.model.zero_grad(set_to_none=True)
        feats = self._features()
        exit_loss([shared_logits(self.model, i, f) for i, f in enumerate(feats)], self.y).backward()

    def check(self):
        with torch.no_grad():
            feats = [f.double() for f in self._features()]
        self.step()
        return feats, angle_grads(self.model)


# ---------------------------------------------------------------------------- Qulacs
class QulacsPeer:
    """Qulacs (C++ state vectors, complex128). Its built-in gradient,
    ``ParametricQuantumCircuit.backprop``, always starts from |0...0> and cannot pass a
    state-preparation gate (no inverse), so the skilled form for an amplitude-encoded input is
    the adjoint method on Qulacs states and gates: per sample, a forward pass with one
    ``QuantumCircuit`` per layer (probabilities at every exit), then ONE reverse pass through
    all exits (the adjoint state picks up O_l |psi_l> at each exit, O_l = sum_k (dLoss/df_k) Z_k
    from torch's backward of readout and loss). U3 = RZ RY RZ and CU3 = 2 CNOTs + rotations
    (global phases aside), every rotation angle linear in ours."""

    def __init__(self, reference, x, y):
        import qulacs
        from qulacs.state import inner_product

        self.qulacs, self.inner_product = qulacs, inner_product
        self.model = copy.deepcopy(reference)
        self.n, self.y = reference.n_qubits, y
        self.inputs = amplitude_state(x, self.n).double().numpy().astype(np.complex128)
        self.signs = observable_signs(self.n, reference.observables, torch.float64).numpy()
        self.rotations = self._rotations()  # per layer: (kind, qulacs qubit, coef row) / CNOTs
        self.label = (
            f"{distribution('qulacs')} complex128: per-sample C++ state vectors, adjoint "
            "gradient on qulacs states (one reverse pass per sample through all exits)"
        )

    def _rotations(self) -> list[list[tuple]]:
        """Each layer's gates in order: ("RZ"|"RY", qubit, coefficients over the layer's
        (u3, cu3) angles, flattened (n, 3) each) or ("CNOT", control, target)."""
        n, pairs = self.n, self.model.circuit.pairs
        q = lambda w: n - 1 - w  # noqa: E731  (qulacs qubit 0 is the least significant bit)
        ops: list[tuple] = []

        def rot(kind: str, wire: int, terms: dict[int, float]) -> None:
            row = np.zeros(6 * n)
            for index, c in terms.items():
                row[index] = c
            ops.append((kind, q(wire), row))

        for i in range(n):  # U3(t, p, l) = RZ(p) RY(t) RZ(l) up to a global phase
            rot("RZ", i, {3 * i + 2: 1.0})
            rot("RY", i, {3 * i: 1.0})
            rot("RZ", i, {3 * i + 1: 1.0})
        for k, (c, t) in enumerate(pairs):
            th, ph, la = 3 * n + 3 * k, 3 * n + 3 * k + 1, 3 * n + 3 * k + 2
            rot("RZ", c, {la: 0.5, ph: 0.5})  # u1((l+p)/2) on the control
            rot("RZ", t, {la: 0.5, ph: -0.5})  # u1((l-p)/2) on the target
            ops.append(("CNOT", q(c), q(t)))
            rot("RZ", t, {ph: -0.5, la: -0.5})  # u3(-t/2, 0, -(p+l)/2)
            rot("RY", t, {th: -0.5})
            ops.append(("CNOT", q(c), q(t)))
            rot("RY", t, {th: 0.5})  # u3(t/2, p, 0)
            rot("RZ", t, {ph: 1.0})
        return [ops]

    def _layer_angles(self) -> list[np.ndarray]:
        u3, cu3 = self.model.stacked_angles(self.model.n_layers)
        u3, cu3 = u3.detach().double().numpy(), cu3.detach().double().numpy()
        return [np.concatenate([u3[i].ravel(), cu3[i].ravel()]) for i in range(len(u3))]

    def _gates(self, theta: np.ndarray, sign: float = 1.0) -> list:
        """(gate, Pauli of its generator or None, coef row) of one layer at angles ``theta``."""
        g = self.qulacs.gate
        out = []
        for op in self.rotations[0]:
            if op[0] == "CNOT":
                out.append((g.CNOT(op[1], op[2]), None, None))
            else:
                kind, qubit, row = op
                angle = sign * float(row @ theta)
                gate = g.RotZ(qubit, angle) if kind == "RZ" else g.RotY(qubit, angle)
                out.append((gate, g.Z(qubit) if kind == "RZ" else g.Y(qubit), row))
        return out

    def _forward(self) -> list[np.ndarray]:
        qulacs = self.qulacs
        circuits = []
        for theta in self._layer_angles():
            circuit = qulacs.QuantumCircuit(self.n)
            for gate, _, _ in self._gates(theta):
                circuit.add_gate(gate)
            circuits.append(circuit)
        feats = [np.empty((len(self.inputs), self.signs.shape[1])) for _ in circuits]
        self.finals = []
        state = qulacs.QuantumState(self.n)
        for b, x in enumerate(self.inputs):
            state.load(x)
            for layer, circuit in enumerate(circuits):
                circuit.update_quantum_state(state)
                feats[layer][b] = (np.abs(state.get_vector()) ** 2) @ self.signs
            self.finals.append(state.get_vector())
        return feats

    def _backward(self, cotangents: list[np.ndarray]) -> list[np.ndarray]:
        """Gradient of sum_l <psi_l| O_l |psi_l> per layer's angles (d/dangle of exp(-i a P/2)
        is -i/2 P exp(-i a P/2), so each rotation adds Im <lambda| P |psi> times its row)."""
        qulacs, n = self.qulacs, self.n
        thetas = self._layer_angles()
        layers = [self._gates(theta) for theta in thetas]
        inverses = [self._gates(theta, -1.0) for theta in thetas]
        grads = [np.zeros_like(t) for t in thetas]
        psi, lam, tmp = (qulacs.QuantumState(n) for _ in range(3))
        zero = np.zeros(2**n, dtype=np.complex128)
        for b, final in enumerate(self.finals):
            psi.load(final)
            lam.load(zero)
            for layer in range(len(layers) - 1, -1, -1):
                diag = self.signs @ cotangents[layer][b]  # O_l is diagonal
                lam.load(lam.get_vector() + diag * psi.get_vector())
                for (_, pauli, row), (inv, _, _) in zip(
                    reversed(layers[layer]), reversed(inverses[layer]), strict=True
                ):
                    if pauli is not None:
                        tmp.load(psi)
                        pauli.update_quantum_state(tmp)
                        grads[layer] += self.inner_product(lam, tmp).imag * row
                    inv.update_quantum_state(psi)
                    inv.update_quantum_state(lam)
        return grads

    def step(self):
        self.model.zero_grad(set_to_none=True)
        feats = [torch.tensor(f, dtype=torch.float32, requires_grad=True) for f in self._forward()]
        logits = [shared_logits(self.model, i, f) for i, f in enumerate(feats)]
        exit_loss(logits, self.y).backward()
        grads = self._backward([f.grad.double().numpy() for f in feats])
        for block, g in zip(self.model.blocks, grads, strict=True):
            block.u3.grad = torch.from_numpy(g[: 3 * self.n]).reshape(block.u3.shape).float()
            block.cu3.grad = torch.from_numpy(g[3 * self.n :]).reshape(block.cu3.shape).float()
        return feats

    def check(self):
        feats = self.step()
        return [f.detach().double() for f in feats], angle_grads(self.model)


# ---------------------------------------------------------------------------- TensorCircuit-NG
class TensorCircuitPeer:
    """TensorCircuit-NG on its JAX backend (complex64) as its docs teach: a per-sample function
    of the parameters (one ``tc.Circuit`` per layer fed the previous layer's state, exits from
    ``c.state()``, the layers in ``jax.lax.scan`` so XLA compiles one layer, not four),
    readout and loss in JAX, ``K.vmap`` over the batch, ``K.value_and_grad``, ``K.jit``. The
    first call compiles (its time is reported as setup, not counted per step)."""

    def __init__(self, reference, x, y):
        import tensorcircuit as tc

        self.tc = tc
        self.K = K = tc.set_backend("jax")
        tc.set_dtype("complex64")
        tc.set_contractor(__import__("os").environ.get("TC_CONTRACTOR", "greedy"))
        import jax
        import jax.numpy as jnp

        self.n, n = reference.n_qubits, reference.n_qubits
        pairs = reference.circuit.pairs
        signs = jnp.asarray(observable_signs(n, reference.observables).numpy())
        u3, cu3 = angles(reference)
        readouts = [b.readout for b in reference.blocks]
        self.params = {
            "u3": jnp.asarray(u3.numpy()),
            "cu3": jnp.asarray(cu3.numpy()),
            "gain": jnp.asarray(torch.stack([r.gain for r in readouts]).detach().numpy()),
            "bias": jnp.asarray(torch.stack([r.bias for r in readouts]).detach().numpy()),
            "weight": jnp.asarray(readouts[0].weight.detach().numpy()),
        }
        self.x = jnp.asarray(amplitude_state(x, n).numpy())
        self.y = jnp.asarray(y.numpy())

        def layer(psi, angles):  # one U3 + CU3-ring layer; jax.lax.scan compiles it once
            u3, cu3 = angles
            c = tc.Circuit(n, inputs=psi)
            for i in range(n):
                c.u(i, theta=u3[i, 0], phi=u3[i, 1], lbd=u3[i, 2])
            for k, (ctl, tgt) in enumerate(pairs):
                c.cu(ctl, tgt, theta=cu3[k, 0], phi=cu3[k, 1], lbd=cu3[k, 2])
            psi = c.state()
            return psi, (jnp.abs(psi) ** 2) @ signs

        def features(p, psi):
            return jax.lax.scan(layer, psi.astype(jnp.complex64), (p["u3"], p["cu3"]))[1]

        batch_features = K.vmap(features, vectorized_argnums=1)

        def loss(p, xs, ys):
            f = jnp.swapaxes(batch_features(p, xs), 0, 1)  # (L, B, F)
            logits = (f * p["gain"][:, None]) @ p["weight"] + p["bias"][:, None]
            logp = logits - jax.scipy.special.logsumexp(logits, axis=-1, keepdims=True)
            picked = jnp.take_along_axis(logp, ys[None, :, None], -1)
            return -picked.mean()

        self.value_and_grad = K.jit(K.value_and_grad(loss))
        self.batch_features = K.jit(batch_features)
        t = time.perf_counter()
        self.step()  # compiles for this (n, batch): setup, not a step
        self.batch_features(self.params, self.x).block_until_ready()  # (for check())
        self.compile_s = time.perf_counter() - t
        self.label = (
            f"{distribution('tensorcircuit-ng')} JAX {distribution('jax').split()[-1]} complex64: "
            f"jit(value_and_grad(vmap over the batch)), layers in lax.scan (compile "
            f"{self.compile_s:.0f} s, in setup)"
        )

    def step(self) -> None:
        value, grads = self.value_and_grad(self.params, self.x, self.y)
        grads["u3"].block_until_ready()

    def check(self):
        feats = np.asarray(self.batch_features(self.params, self.x))  # (B, L, F)
        _, grads = self.value_and_grad(self.params, self.x, self.y)
        return (
            [torch.from_numpy(feats[:, i].astype(np.float64)) for i in range(feats.shape[1])],
            (
                torch.from_numpy(np.asarray(grads["u3"], dtype=np.float64)),
                torch.from_numpy(np.asarray(grads["cu3"], dtype=np.float64)),
            ),
        )


# ---------------------------------------------------------------------------- TorchQuantum
class TorchQuantumPeer:
    """TorchQuantum's functional API (complex64): a batched ``QuantumDevice`` loaded with the
    amplitude states, ``tqf.u3`` / ``tqf.cu3`` with our angles, ``get_states_1d()`` at every
    exit, our readout and loss, torch autograd."""

    def __init__(self, reference, x, y):
        import torchquantum as tq
        import torchquantum.functional as tqf

        self.tq, self.tqf = tq, tqf
        self.model = copy.deepcopy(reference)
        self.n, self.y = reference.n_qubits, y
        self.inputs = amplitude_state(x, self.n).to(torch.complex64)
        self.label = (
            f"{distribution('torchquantum-ng') if _is_ng() else distribution('torchquantum')} "
            "complex64: batched QuantumDevice, functional u3/cu3, torch autograd"
        )

    def _probs(self) -> list[torch.Tensor]:
        n, b = self.n, self.inputs.shape[0]
        qdev = self.tq.QuantumDevice(n_wires=n, bsz=b)
        qdev.set_states(self.inputs.reshape(b, *([2] * n)))
        u3, cu3 = self.model.stacked_angles(self.model.n_layers)
        out = []
        for layer in range(u3.shape[0]):
            for i in range(n):
                self.tqf.u3(qdev, wires=i, params=u3[layer, i].unsqueeze(0))
            for k, (c, t) in enumerate(self.model.circuit.pairs):
                self.tqf.cu3(qdev, wires=[c, t], params=cu3[layer, k].unsqueeze(0))
            out.append(qdev.get_states_1d().abs() ** 2)
        return out

    def step(self) -> None:
        self.model.zero_grad(set_to_none=True)
        weight = self.model.blocks[0].readout.weight
        logits = [self.model.blocks[i].readout(p, weight) for i, p in enumerate(self._probs())]
        exit_loss(logits, self.y).backward()

    def check(self):
        signs = observable_signs(self.n, self.model.observables, torch.float64)
        with torch.no_grad():
            feats = [p.double() @ signs for p in self._probs()]
        self.step()
        return feats, angle_grads(self.model)


def _is_ng() -> bool:
    try:
        importlib.metadata.version("torchquantum-ng")
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


#: name -> (module to import, builder(reference, x, y), how to install)
PEERS: dict[str, tuple[str, Any, str]] = {
    "pennylane": ("pennylane", pennylane_default_qubit, "pip install pennylane"),
    "lightning": ("pennylane_lightning", LightningPeer, "pip install pennylane-lightning"),
    "qulacs": ("qulacs", QulacsPeer, "pip install qulacs"),
    "tensorcircuit": ("tensorcircuit", TensorCircuitPeer, "pip install tensorcircuit-ng jax"),
    "torchquantum": ("torchquantum", TorchQuantumPeer, "pip install torchquantum-ng"),
}


def unavailable(name: str) -> str | None:
    """Why a peer cannot run here (its import error), or None."""
    module, _, how = PEERS[name]
    try:
        __import__(module)
        if name == "tensorcircuit":
            __import__("jax")
    except Exception as exc:  # broken optional installs raise many kinds
        return f"not importable ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); {how}"
    return None


def original_torchquantum_note() -> str | None:
    """The original TorchQuantum release cannot sit next to its maintained fork."""
    if _is_ng():
        return (
            "not installed: torchquantum 0.1.8 (last release 2024) installs the same import name "
            "`torchquantum` as torchquantum-ng (measured), pins qiskit<1 and dill==0.3.4, pulls "
            "tensorflow and ships top-level `test`/`examples` packages"
        )
    return None
