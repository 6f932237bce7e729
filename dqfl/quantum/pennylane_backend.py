"""The DQNN circuit as one PennyLane QNode: the reference implementation (``backend="pennylane"``).

The QNode is built from the same :class:`~dqfl.quantum.circuit.Circuit` description the torch
simulators read, and runs **once per forward pass**, as a skilled PennyLane user would write it:
the exits before the last are read from ``qml.Snapshot(measurement=qml.probs(...))`` (which does
not collapse the simulated state), the last from the QNode's return value, the batch goes through
parameter broadcasting, and gradients use ``backprop`` on ``default.qubit`` / ``default.mixed``
(``parameter-shift`` elsewhere, e.g. ``lightning.qubit``, which has no snapshot support and falls
back to one QNode per exit). Inputs are the encoded vectors the torch backend uses (amplitudes via
``qml.AmplitudeEmbedding``; data angles as ``qml.RY`` ops of the description). Gate noise is
inserted as PennyLane channels and needs ``default.mixed``.
"""

from __future__ import annotations

import torch

from dqfl.errors import DqflError
from dqfl.quantum.circuit import Circuit
from dqfl.quantum.noise import NoiseModel

BACKPROP_DEVICES = ("default.qubit", "default.mixed")
SNAPSHOT_DEVICES = ("default.qubit", "default.mixed")


class PennyLaneCircuit:
    """Builds (once per depth) and runs the QNode of a circuit description."""

    def __init__(
        self,
        circuit: Circuit,
        device: str = "default.qubit",
        noise: NoiseModel | None = None,
        diff_method: str = "best",
    ):
        import pennylane as qml

        self.circuit = circuit
        self.noise = noise or NoiseModel()
        if self.noise.has_gate_noise and device != "default.mixed":
            raise DqflError(
                f"model.device must be default.mixed for gate noise with the pennylane backend; "
                f"got {device!r}"
            )
        try:
            self.device = qml.device(device, wires=circuit.n_qubits)
        except Exception as exc:  # PennyLane raises several types for unknown devices
            raise DqflError(
                f"model.device {device!r} is not an available PennyLane device: {exc}"
            ) from exc
        if diff_method == "best":
            diff_method = "backprop" if device in BACKPROP_DEVICES else "parameter-shift"
        self.diff_method = diff_method
        self.snapshots = device in SNAPSHOT_DEVICES
        self._qnodes = {}

    def qnode(self, depth: int, snapshots: bool = True):
        """The QNode for exits 1..depth (cached); without ``snapshots`` only the last one."""
        key = (depth, snapshots)
        if key not in self._qnodes:
            self._qnodes[key] = self._build(depth, snapshots)
        return self._qnodes[key]

    def _build(self, depth: int, snapshots: bool):
        import pennylane as qml

        circ, noise = self.circuit, self.noise
        wires = list(range(circ.n_qubits))

        def gate_noise(ws):
            if noise.has_gate_noise:
                for w in ws:
                    noise.pennylane_ops(w, len(ws) == 2)

        @qml.qnode(self.device, interface="torch", diff_method=self.diff_method)
        def qnode(inputs, angles, u3s, cu3s):
            if circ.encoding == "amplitude":
                qml.AmplitudeEmbedding(inputs, wires=wires, normalize=True)
            for op in circ.prefix(depth):
                if op.kind == "exit":
                    if snapshots and op.index + 1 < depth:
                        qml.Snapshot(f"exit{op.index}", measurement=qml.probs(wires=wires))
                    continue
                if op.kind == "ry_data":
                    qml.RY(angles[..., op.index], wires=op.wires[0])
                elif op.kind == "u3":
                    p = u3s[op.layer, op.index]
                    qml.U3(p[0], p[1], p[2], wires=op.wires[0])
                elif op.kind == "cu3":
                    p = cu3s[op.layer, op.index]
                    qml.ctrl(qml.U3, control=op.wires[0])(p[0], p[1], p[2], wires=op.wires[1])
                gate_noise(op.wires)
            return qml.probs(wires=wires)

        return qnode

    def exits(
        self,
        inputs: torch.Tensor,
        angles: torch.Tensor | None,
        u3s: torch.Tensor,
        cu3s: torch.Tensor,
        depth: int,
    ) -> list[torch.Tensor]:
        """Probabilities (B, 2**n) at each of the first ``depth`` exits, from one execution.
        ``inputs``: the amplitude-encoded states; ``angles``: the data RY angles (or None)."""
        import pennylane as qml

        def rows(p) -> torch.Tensor:
            p = torch.as_tensor(p)
            return (p.unsqueeze(0) if p.dim() == 1 else p).to(inputs.dtype)

        if not self.snapshots:  # devices without snapshots: one QNode per exit
            qnodes = [self.qnode(d, False) for d in range(1, depth + 1)]
            return [rows(q(inputs, angles, u3s, cu3s)) for q in qnodes]
        out = qml.snapshots(self.qnode(depth))(inputs, angles, u3s, cu3s)
        return [rows(out[f"exit{i}"]) for i in range(depth - 1)] + [rows(out["execution_results"])]

    def draw(self, inputs, angles, u3s, cu3s) -> str:
        import pennylane as qml

        qnode = self.qnode(self.circuit.n_blocks, False)
        return qml.draw(qnode, decimals=None)(inputs, angles, u3s, cu3s)
