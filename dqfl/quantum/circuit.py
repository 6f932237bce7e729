"""The DQNN circuit as data: one description, read by every simulator and by the PennyLane builder.

A :class:`Circuit` is a flat tuple of :class:`Op` records built once from the model's shape:

    [encoding RYs (angle encoding)]                              # amplitude encoding: none
    block 1: layer 1 .. layer k   (k = layers_per_block)
             each layer = [re-upload RYs] + U3 on every qubit + CU3 on every entangler pair

Re-uploading (``reupload``) puts RY(a_i) on every wire before every layer but the first, with
a_i the pooled angle features of the image (:func:`dqfl.quantum.encoding.angle_features`), for
either encoding: on top of an amplitude encoding it makes the exits non-quadratic in the pixels.
             EXIT 1
    block 2: ...                                                  EXIT 2
    ...

``Op.layer`` is the variational layer (row of the stacked parameters ``u3`` (L, n, 3) and
``cu3`` (L, P, 3), L = n_blocks * k); ``Op.index`` the qubit (U3), the pair (CU3) or the wire whose
data angle is uploaded (RY). Interpreters: ``statevector.run`` (gate by gate, or layers fused
by ``adjoint.plan_layer``), ``noisy.density_exits``, ``noisy.trajectory_exits``
and ``pennylane_backend.PennyLaneCircuit``.
Changing the architecture means changing :func:`build_circuit`, nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from dqfl.quantum.config import ENTANGLERS


@dataclass(frozen=True)
class Op:
    """One step of the circuit: ``kind`` is ``ry_data``, ``u3``, ``cu3`` or ``exit``."""

    kind: str
    wires: tuple[int, ...] = ()
    layer: int = -1
    index: int = -1


def entangler_pairs(n_qubits: int, entangler: str = "ring") -> tuple[tuple[int, int], ...]:
    """(control, target) of the CU3s of a layer: ``ring`` = i -> i+1 mod n, ``chain`` = no wrap."""
    if entangler == "ring":
        if n_qubits == 2:
            return ((0, 1), (1, 0))
        return tuple((i, (i + 1) % n_qubits) for i in range(n_qubits))
    if entangler == "chain":
        return tuple((i, i + 1) for i in range(n_qubits - 1))
    raise ValueError(f"unknown entangler {entangler!r}; use {', '.join(ENTANGLERS)}")


@dataclass(frozen=True)
class Circuit:
    n_qubits: int
    n_blocks: int
    layers_per_block: int
    encoding: str  # "amplitude" | "angle"
    reupload: bool
    entangler: str
    pairs: tuple[tuple[int, int], ...]
    ops: tuple[Op, ...]

    @property
    def n_layers(self) -> int:
        """Variational layers in the whole circuit (n_blocks * layers_per_block)."""
        return self.n_blocks * self.layers_per_block

    @property
    def data_reuploaded(self) -> bool:
        return self.reupload

    def block_shapes(self) -> dict[str, tuple[int, int, int]]:
        """Shapes of one block's parameter tensors."""
        k, n = self.layers_per_block, self.n_qubits
        return {"u3": (k, n, 3), "cu3": (k, len(self.pairs), 3)}

    def prefix(self, depth: int) -> Iterator[Op]:
        """The ops up to and including exit ``depth``."""
        for op in self.ops:
            yield op
            if op.kind == "exit" and op.index + 1 == depth:
                return


def build_circuit(
    n_qubits: int,
    n_blocks: int,
    layers_per_block: int = 1,
    encoding: str = "amplitude",
    reupload: bool = False,
    entangler: str = "ring",
) -> Circuit:
    """The DQNN ansatz (see the module docstring)."""
    if n_qubits < 2 or n_blocks < 1 or layers_per_block < 1:
        raise ValueError("need n_qubits >= 2, n_blocks >= 1 and layers_per_block >= 1")
    pairs = entangler_pairs(n_qubits, entangler)
    wires = range(n_qubits)
    ops: list[Op] = []
    if encoding == "angle":
        ops += [Op("ry_data", (w,), index=w) for w in wires]
    for block in range(n_blocks):
        for j in range(layers_per_block):
            layer = block * layers_per_block + j
            if reupload and layer > 0:
                ops += [Op("ry_data", (w,), index=w) for w in wires]
            ops += [Op("u3", (w,), layer, w) for w in wires]
            ops += [Op("cu3", pair, layer, i) for i, pair in enumerate(pairs)]
        ops.append(Op("exit", index=block))
    return Circuit(
        n_qubits, n_blocks, layers_per_block, encoding, reupload, entangler, pairs, tuple(ops)
    )
