"""The DQNN circuit as PennyLane QNodes: the reference implementation (``backend="pennylane"``).

One QNode per exit depth d (the circuit truncated after layer d, measuring ``qml.probs`` on all
wires), because a mid-circuit readout would collapse the state. Inputs are the same encoded
vectors the torch backend uses (amplitudes via ``qml.AmplitudeEmbedding``, angles via
``qml.AngleEmbedding(rotation="Y")``) and are broadcast over the batch (parameter
broadcasting). Gradients: ``backprop`` on ``default.qubit`` / ``default.mixed``,
``parameter-shift`` on other devices (e.g. ``lightning.qubit``), unless ``diff_method`` says
otherwise. Gate noise is inserted as PennyLane channels and therefore needs ``default.mixed``.
"""

from __future__ import annotations

import torch

from dqfl.errors import DqflError
from dqfl.quantum.noise import NoiseModel
from dqfl.quantum.statevector import ring_pairs

BACKPROP_DEVICES = ("default.qubit", "default.mixed")


class PennyLaneCircuit:
    """Builds and runs the per-depth QNodes; stateless apart from the device."""

    def __init__(
        self,
        n_qubits: int,
        n_layers: int,
        device: str = "default.qubit",
        encoding: str = "amplitude",
        reupload: bool = False,
        noise: NoiseModel | None = None,
        diff_method: str = "best",
    ):
        import pennylane as qml

        self.n_qubits, self.n_layers = n_qubits, n_layers
        self.encoding, self.reupload = encoding, reupload
        self.noise = noise or NoiseModel()
        if self.noise.has_gate_noise and device != "default.mixed":
            raise DqflError(
                f"model.device must be default.mixed for gate noise with the pennylane backend; "
                f"got {device!r}"
            )
        try:
            self.device = qml.device(device, wires=n_qubits)
        except Exception as exc:  # PennyLane raises several types for unknown devices
            raise DqflError(
                f"model.device {device!r} is not an available PennyLane device: {exc}"
            ) from exc
        if diff_method == "best":
            diff_method = "backprop" if device in BACKPROP_DEVICES else "parameter-shift"
        self.diff_method = diff_method
        self._qnodes = {}

    def qnode(self, depth: int):
        """The QNode for exits 1..depth's last one (cached)."""
        if depth not in self._qnodes:
            self._qnodes[depth] = self._build(depth)
        return self._qnodes[depth]

    def _build(self, depth: int):
        import pennylane as qml

        n, noise = self.n_qubits, self.noise
        wires = list(range(n))

        def gate_noise(ws, two):
            if noise.has_gate_noise:
                for w in ws:
                    noise.pennylane_ops(w, two)

        @qml.qnode(self.device, interface="torch", diff_method=self.diff_method)
        def circuit(inputs, u3s, cu3s):
            if self.encoding == "amplitude":
                qml.AmplitudeEmbedding(inputs, wires=wires, normalize=True)
            else:
                qml.AngleEmbedding(inputs, wires=wires, rotation="Y")
                gate_noise(wires, False)
            for layer in range(depth):
                if self.reupload and self.encoding == "angle" and layer > 0:
                    qml.AngleEmbedding(inputs, wires=wires, rotation="Y")
                    gate_noise(wires, False)
                for i in wires:
                    qml.U3(u3s[layer, i, 0], u3s[layer, i, 1], u3s[layer, i, 2], wires=i)
                    gate_noise([i], False)
                for i, (c, t) in enumerate(ring_pairs(n)):
                    p = cu3s[layer, i]
                    qml.ctrl(qml.U3, control=c)(p[0], p[1], p[2], wires=t)
                    gate_noise([c, t], True)
            return qml.probs(wires=wires)

        return circuit

    def exits(
        self, inputs: torch.Tensor, u3s: torch.Tensor, cu3s: torch.Tensor, depth: int
    ) -> list[torch.Tensor]:
        """Probabilities (B, 2**n) after each of the first ``depth`` layers."""
        out = []
        for d in range(1, depth + 1):
            p = self.qnode(d)(inputs, u3s[:d], cu3s[:d])
            p = torch.as_tensor(p)
            if p.dim() == 1:
                p = p.unsqueeze(0)
            out.append(p.to(inputs.dtype))
        return out

    def draw(self, inputs: torch.Tensor, u3s: torch.Tensor, cu3s: torch.Tensor) -> str:
        import pennylane as qml

        return qml.draw(self.qnode(self.n_layers), decimals=None)(inputs, u3s, cu3s)
