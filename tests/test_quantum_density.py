"""Density-matrix simulator and gates against PennyLane (default.qubit / default.mixed)."""

import numpy as np
import pennylane as qml
import pytest
import torch

from dqfl.quantum import density as D
from dqfl.quantum import gates as G

C128 = torch.complex128


@pytest.mark.parametrize(
    "ours, theirs, args",
    [
        (G.u3, qml.U3, (0.3, 1.1, -0.7)),
        (G.rx, qml.RX, (0.4,)),
        (G.ry, qml.RY, (-1.3,)),
        (G.rz, qml.RZ, (2.1,)),
        (G.phase_shift, qml.PhaseShift, (0.6,)),
    ],
)
def test_gate_matrices_match_pennylane(ours, theirs, args):
    a = ours(*[torch.tensor(v, dtype=torch.float64) for v in args]).numpy()
    np.testing.assert_allclose(a, theirs.compute_matrix(*args), atol=1e-12)


def test_controlled_gates_match_pennylane():
    cu = G.cu3(*[torch.tensor(v, dtype=torch.float64) for v in (0.3, 1.1, -0.7)]).numpy()
    ref = qml.matrix(qml.ctrl(qml.U3(0.3, 1.1, -0.7, wires=1), control=0), wire_order=[0, 1])
    np.testing.assert_allclose(cu, ref, atol=1e-12)
    np.testing.assert_allclose(G.cnot().numpy(), qml.CNOT.compute_matrix(), atol=0)


def test_batched_u3_shape():
    th = torch.rand(5, 3, dtype=torch.float64)
    assert G.u3(th, th, th).shape == (5, 3, 2, 2)
    assert G.cu3(th, th, th).shape == (5, 3, 4, 4)


def _circuit_ops(n):
    ops = [
        ("u3", (0.3, 1.1, -0.7), (0,)),
        ("ry", (0.4,), (1,)),
        ("rx", (0.2,), (n - 1,)),
        ("cu3", (0.5, 0.2, 0.9), (n - 1, 0)),
        ("cnot", (), (0, 1)),
        ("depol", 0.1, (1,)),
        ("ad", 0.2, (0,)),
        ("pd", 0.3, (n - 1,)),
        ("t1t2", (50.0, 70.0, 5.0), (1,)),
        ("cz", (), (n - 1, 1)),
        ("rz", (0.8,), (1,)),
        ("t1t2", (50.0, 30.0, 5.0), (0,)),
    ]
    return ops


def _run_ours(n, readout):
    r = D.zero_state(n, dtype=C128)
    for name, a, w in _circuit_ops(n):
        if name in ("u3", "rx", "ry", "rz"):
            r = D.apply_1q(
                r, getattr(G, name)(*[torch.tensor(v, dtype=torch.float64) for v in a]), w[0], n
            )
        elif name == "cu3":
            r = D.apply_2q(r, G.cu3(*a), w, n)
        elif name in ("cnot", "cz"):
            r = D.apply_2q(r, getattr(G, name)(), w, n)
        elif name == "depol":
            r = D.apply_kraus(r, D.depolarizing_kraus(a), w[0], n)
        elif name == "ad":
            r = D.apply_kraus(r, D.amplitude_damping_kraus(a), w[0], n)
        elif name == "pd":
            r = D.apply_kraus(r, D.phase_damping_kraus(a), w[0], n)
        elif name == "t1t2":
            r = D.apply_kraus(r, D.thermal_relaxation_kraus(*a), w[0], n)
    return D.apply_readout_error(D.probabilities(r), readout, readout, n)


def _run_pennylane(n, readout):
    dev = qml.device("default.mixed", wires=n)

    @qml.qnode(dev)
    def circuit():
        for name, a, w in _circuit_ops(n):
            if name == "u3":
                qml.U3(*a, wires=w[0])
            elif name in ("rx", "ry", "rz"):
                getattr(qml, name.upper())(*a, wires=w[0])
            elif name == "cu3":
                qml.ctrl(qml.U3, control=w[0])(*a, wires=w[1])
            elif name == "cnot":
                qml.CNOT(wires=w)
            elif name == "cz":
                qml.CZ(wires=w)
            elif name == "depol":
                qml.DepolarizingChannel(a, wires=w[0])
            elif name == "ad":
                qml.AmplitudeDamping(a, wires=w[0])
            elif name == "pd":
                qml.PhaseDamping(a, wires=w[0])
            elif name == "t1t2":
                qml.ThermalRelaxationError(0.0, *a, wires=w[0])
        # default.mixed(readout_prob=...) is broken in PennyLane 0.45.1 (TypeError), and a
        # symmetric readout error is exactly a bit flip before measurement.
        for w in range(n):
            qml.BitFlip(readout, wires=w)
        return qml.probs(wires=range(n))

    return np.asarray(circuit())


@pytest.mark.parametrize("n", [3, 4])
def test_noisy_circuit_matches_default_mixed(n):
    ours = _run_ours(n, 0.03).numpy()
    ref = _run_pennylane(n, 0.03)
    np.testing.assert_allclose(ours, ref, atol=1e-10)


def test_complex64_within_1e5():
    n = 3
    r = D.zero_state(n, dtype=torch.complex64)
    r = D.apply_1q(r, G.u3(0.3, 1.1, -0.7), 0, n)
    r = D.apply_2q(r, G.cu3(0.5, 0.2, 0.9), (0, 2), n)
    r = D.apply_kraus(r, D.depolarizing_kraus(0.1), 2, n)
    dev = qml.device("default.mixed", wires=n)

    @qml.qnode(dev)
    def c():
        qml.U3(0.3, 1.1, -0.7, wires=0)
        qml.ctrl(qml.U3, control=0)(0.5, 0.2, 0.9, wires=2)
        qml.DepolarizingChannel(0.1, wires=2)
        return qml.density_matrix(wires=range(n))

    np.testing.assert_allclose(r.numpy(), np.asarray(c()), atol=1e-6)


def test_asymmetric_readout_error_single_qubit():
    p = torch.tensor([0.7, 0.3], dtype=torch.float64)
    out = D.apply_readout_error(p, p01=0.1, p10=0.2, n_qubits=1)
    np.testing.assert_allclose(out.numpy(), [0.7 * 0.9 + 0.3 * 0.2, 0.7 * 0.1 + 0.3 * 0.8])


def test_batched_density_and_gradients():
    n = 3
    th = torch.tensor([0.2, 0.9], dtype=torch.float64, requires_grad=True)
    r = D.zero_state(n, batch_shape=(2,), dtype=C128)
    r = D.apply_1q(r, G.ry(th), 1, n)
    r = D.apply_kraus(r, D.amplitude_damping_kraus(0.3), 1, n)
    p1 = D.expval_z(r, n)[:, 1]
    p1.sum().backward()
    # <Z> after RY(t) then AD(g): 1 - 2 (1-g) sin^2(t/2); d/dt = -(1-g) sin t
    expected = -(0.7) * torch.sin(th.detach())
    np.testing.assert_allclose(th.grad.numpy(), expected.numpy(), atol=1e-12)


def test_thermal_relaxation_rejects_unphysical_t2():
    with pytest.raises(ValueError):
        D.thermal_relaxation_kraus(10.0, 30.0, 1.0)
