"""A :class:`~dqfl.quantum.circuit.Circuit` under gate noise: exact (density matrices) or sampled
(quantum trajectories).

Both interpreters walk the same op list as the statevector and PennyLane paths and place the
channels of :mod:`dqfl.quantum.noise` after every gate on each wire it touched (data RYs of an
angle encoding included). They return the exact or estimated basis-state probabilities at every
exit, before readout error and shots.
"""

from __future__ import annotations

import functools

import torch

from dqfl.quantum import adjoint, density, gates, trajectories
from dqfl.quantum._wires import apply_to_state
from dqfl.quantum.circuit import Circuit
from dqfl.quantum.noise import NoiseModel
from dqfl.quantum.statevector import gate_matrices, op_matrix


def _start(psi0: torch.Tensor, circuit: Circuit) -> torch.Tensor:
    """Complex start state: the amplitudes, or |0...0> when the circuit's own RYs encode."""
    cdt = gates.complex_dtype(psi0.dtype)
    if circuit.encoding == "angle":
        zero = torch.zeros(psi0.shape, dtype=cdt, device=psi0.device)
        zero[:, 0] = 1.0
        return zero
    return psi0.to(cdt)


def density_states(
    circuit: Circuit,
    psi0: torch.Tensor,
    u3: torch.Tensor,
    cu3: torch.Tensor,
    noise: NoiseModel,
    depth: int,
    angles: torch.Tensor | None = None,
) -> list[torch.Tensor]:
    """Exact noisy density matrices (B, D, D) at each of the first ``depth`` exits."""
    n = circuit.n_qubits
    superops = {1: noise.gate_superop(False), 2: noise.gate_superop(True)}
    singles, doubles = gate_matrices(u3, cu3)
    data_rys = None if angles is None else gates.ry(angles)
    rho = density.from_statevector(_start(psi0, circuit))
    out = []
    for op in circuit.prefix(depth):
        if op.kind == "exit":
            out.append(rho)
            continue
        rho = density.apply_unitary(rho, op_matrix(op, singles, doubles, data_rys), op.wires, n)
        s = superops[len(op.wires)]
        if s is not None:
            for w in op.wires:
                rho = density.apply_superop(rho, s, w, n)
    return out


def density_exits(circuit, psi0, u3, cu3, noise, depth, angles=None) -> list[torch.Tensor]:
    """Exact noisy exit probabilities (B, D) (see :func:`density_states`)."""
    states = density_states(circuit, psi0, u3, cu3, noise, depth, angles)
    return [density.probabilities(r) for r in states]


def trajectory_exits(
    circuit: Circuit,
    psi0: torch.Tensor,
    u3: torch.Tensor,
    cu3: torch.Tensor,
    noise: NoiseModel,
    depth: int,
    n_trajectories: int,
    generator: torch.Generator | None,
    angles: torch.Tensor | None = None,
    draws: str = "auto",
) -> list[torch.Tensor]:
    """Unbiased trajectory estimate of :func:`density_exits` (see :mod:`trajectories`).

    ``draws="shared"``: each trajectory draws its Kraus operators once for the whole batch, so
    it is one fixed circuit run by the adjoint path (:func:`adjoint.noisy_plan`, the operators
    inside the layer matrices). The samples of a batch then share draws, i.e. their estimates
    are correlated; each sample's estimate, and so the batch loss's gradient, stays unbiased,
    because the sampling law does not depend on the state (nor on the sample). ``per_row``:
    independent draws per trajectory and sample, gate by gate with autograd (the general path,
    needed with re-uploading). ``auto``: shared wherever the adjoint path runs the circuit.
    ``psi0`` is the encoded start state (angle encoding: the RY product state)."""
    if draws == "auto":
        draws = "shared" if adjoint.supports(circuit) else "per_row"
    if draws == "per_row":
        return per_row_trajectory_exits(
            circuit, psi0, u3, cu3, noise, depth, n_trajectories, generator, angles
        )
    if draws != "shared":
        raise ValueError(f"draws must be auto, shared or per_row; got {draws!r}")
    k = circuit.layers_per_block
    u3, cu3 = u3[: depth * k], cu3[: depth * k]
    engine = adjoint.resolve_engine("auto", psi0.device)
    plan, kinds = adjoint.noisy_plan(circuit, adjoint.segment_width(circuit.n_qubits, engine))
    ops = trajectory_operators(noise, kinds, n_trajectories, u3.shape[0], generator)
    if engine == "compiled":  # every trajectory in one node
        return list(adjoint.CompiledLayerCircuit.apply(psi0, u3, cu3, circuit, plan, ops).unbind(0))
    runs = [adjoint.run_plan(psi0, u3, cu3, circuit, plan, op, engine) for op in ops]
    return list(torch.stack(runs).mean(0).unbind(0))


def trajectory_operators(
    noise: NoiseModel,
    kinds: tuple[str, ...],
    n_trajectories: int,
    n_layers: int,
    generator: torch.Generator | None,
):
    """Each trajectory's fixed operators (T, L, N, 2, 2) for the noise slots ``kinds`` of
    :func:`adjoint.noisy_plan`: one draw per slot from the channels ``noise`` puts after a
    gate (:func:`trajectories.slot_operators`); the shared-draws estimator's only randomness."""
    tables = _sampling_tables(noise)
    return trajectories.slot_operators(tables, kinds, n_trajectories, n_layers, generator)


@functools.lru_cache(maxsize=16)
def _sampling_tables(noise: NoiseModel) -> trajectories.SamplingTables:
    """The draws' tables of the channels ``noise`` puts after a gate (one, two wires)."""
    one, two = noise.gate_channels(False), noise.gate_channels(True)
    return trajectories.sampling_tables({"encoding": one, "1q": one, "2q": two})


def per_row_trajectory_exits(
    circuit: Circuit,
    psi0: torch.Tensor,
    u3: torch.Tensor,
    cu3: torch.Tensor,
    noise: NoiseModel,
    depth: int,
    n_trajectories: int,
    generator: torch.Generator | None,
    angles: torch.Tensor | None = None,
) -> list[torch.Tensor]:
    """:func:`trajectory_exits` with independent draws per trajectory and sample, op by op."""
    n, reps = circuit.n_qubits, n_trajectories
    start = _start(psi0, circuit)
    cdt = start.dtype
    channels = {1: noise.gate_channels(False), 2: noise.gate_channels(True)}
    singles, doubles = gate_matrices(u3, cu3)
    data_rys = None if angles is None else gates.ry(angles).to(cdt).repeat(reps, 1, 1, 1)
    psi = start.repeat(reps, 1)  # (T*B, D), trajectory-major
    out = []
    for op in circuit.prefix(depth):
        if op.kind == "exit":
            out.append(trajectories.mean_probabilities(psi, reps))
            continue
        psi = apply_to_state(psi, op_matrix(op, singles, doubles, data_rys).to(cdt), op.wires, n)
        for w in op.wires:
            for k in channels[len(op.wires)]:
                psi = trajectories.apply_sampled_kraus(psi, k, w, n, generator)
    return out
