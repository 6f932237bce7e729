"""DQNN: torch backend == PennyLane reference, depth truncation, state-dict contract."""

import pytest
import torch

from dqfl.errors import DqflError
from dqfl.quantum import DQNN, ModelConfig, block_parameter_counts, build_model


def _pair(n, layers, classes=5, dtype=torch.float64, **kw):
    a = DQNN(n, layers, classes, dtype=dtype, seed=1, **kw)
    b = DQNN(n, layers, classes, backend="pennylane", dtype=dtype, seed=2, **kw)
    with torch.no_grad():  # non-trivial readouts, so their gradients are checked too
        for blk in a.blocks:
            if hasattr(blk.readout, "scale"):
                blk.readout.scale.fill_(1.3)
            blk.readout.bias.copy_(torch.linspace(-0.2, 0.3, classes, dtype=dtype))
    b.load_state_dict(a.state_dict())
    return a, b


def _compare(a, b, x, atol):
    ya, yb = a(x), b(x)
    assert ya.shape == yb.shape == (a.n_layers, x.shape[0], a.n_classes)
    torch.testing.assert_close(ya, yb, atol=atol, rtol=0)
    w = torch.randn(ya.shape, dtype=ya.dtype, generator=torch.Generator().manual_seed(3))
    (ya * w).sum().backward()
    (yb * w).sum().backward()
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert na == nb
        torch.testing.assert_close(pa.grad, pb.grad, atol=atol, rtol=0, msg=na)


@pytest.mark.parametrize("n", [4, 6, 8])
@pytest.mark.parametrize("layers", [1, 3])
def test_torch_backend_matches_pennylane(n, layers):
    a, b = _pair(n, layers)
    x = torch.rand(4, 2**n, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
    _compare(a, b, x, 1e-5)


def test_complex64_meets_tolerance_at_8_qubits():
    a64, b = _pair(8, 3)
    a32 = DQNN(8, 3, 5, dtype=torch.float32)
    a32.load_state_dict({k: v.float() for k, v in a64.state_dict().items()})
    x = torch.rand(4, 256, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(a32(x.float()).double(), b(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("readout", ["expval", "linear"])
def test_other_readouts_match(readout):
    a, b = _pair(4, 2, readout=readout)
    x = torch.rand(3, 16, dtype=torch.float64)
    _compare(a, b, x, 1e-8)


def test_angle_encoding_with_reupload_matches():
    a, b = _pair(4, 3, encoding="angle", reupload=True)
    x = torch.rand(3, 16, dtype=torch.float64)
    _compare(a, b, x, 1e-8)


def test_depth_equals_prefix_of_full_forward():
    m = DQNN(6, 4, 10, seed=0)
    x = torch.rand(5, 64)
    full = m(x)
    for d in range(1, 5):
        torch.testing.assert_close(m(x, depth=d), full[:d])
    with pytest.raises(DqflError):
        m(x, depth=5)


def test_state_dict_contract_and_counts():
    m = DQNN(8, 4, 10)
    for k in m.state_dict():
        assert k.startswith("blocks.") and int(k.split(".")[1]) in range(4)
    counts = m.parameter_counts()
    assert counts["quantum"] == [48] * 4
    assert counts["total_classical"] <= counts["total_quantum"]
    assert block_parameter_counts(m) == counts["per_block"]
    m33 = DQNN(8, 4, 33, readout="born")  # the budget-keeping readout for large alphabets
    c33 = m33.parameter_counts()
    assert c33["total_classical"] <= c33["total_quantum"]
    assert m33(torch.rand(2, 256)).shape == (4, 2, 33)


def test_zero_and_short_inputs_are_valid():
    m = DQNN(4, 2, 3)
    y = m(torch.zeros(2, 10))
    assert torch.isfinite(y).all()


def test_build_model_and_validation():
    m = build_model(ModelConfig(n_qubits=4, n_layers=2), n_classes=3, n_inputs=16)
    assert m(torch.rand(2, 16)).shape == (2, 2, 3)
    with pytest.raises(DqflError, match="model.n_qubits"):
        build_model(ModelConfig(n_qubits=4), n_classes=3, n_inputs=256)
    with pytest.raises(DqflError, match="model.encoding"):
        ModelConfig(encoding="basis").validate()
    with pytest.raises(DqflError, match="model.t2"):
        ModelConfig(t1=10.0, t2=30.0).validate()


def test_draw_mentions_gates():
    text = DQNN(4, 2, 3).draw()
    assert "U3" in text and "Probs" in text


@pytest.mark.parametrize("simulator", ["adjoint", "gatewise"])
def test_both_torch_simulators_agree(simulator):
    a = DQNN(8, 2, 5, dtype=torch.float64, simulator=simulator)
    b = DQNN(8, 2, 5, backend="pennylane", dtype=torch.float64)
    b.load_state_dict(a.state_dict())
    x = torch.rand(3, 256, dtype=torch.float64)
    _compare(a, b, x, 1e-8)


def test_shared_readout_map_rides_in_the_base_block():
    m = DQNN(6, 3, 10, readout="shared")
    keys = set(m.state_dict())
    assert "blocks.0.readout.weight" in keys
    assert not any(
        k.startswith(("blocks.1.readout.weight", "blocks.2.readout.weight")) for k in keys
    )
    counts = m.parameter_counts()
    assert counts["classical"][0] == 6 * 10 + 6 + 10
    assert counts["classical"][1:] == [6 + 10, 6 + 10]
    # the deepest exit's loss trains the shared class map in block 0
    m(torch.rand(4, 64))[-1].sum().backward()
    assert m.blocks[0].readout.weight.grad is not None
    assert m.blocks[0].readout.weight.grad.abs().sum() > 0


# ---------------------------------------------------------------- one circuit description
OBSERVABLE_SETS = ["z", "z_zz_ring", "z_zz_all"]


READOUT_CASES = [("born", "z")] + [
    (r, o) for r in ("shared", "linear", "expval") for o in OBSERVABLE_SETS
]  # born reads basis-state groups, not observables


@pytest.mark.parametrize("layers_per_block", [1, 2])
@pytest.mark.parametrize(("readout", "observables"), READOUT_CASES)
def test_every_readout_and_block_size_matches_pennylane_float64(
    readout, observables, layers_per_block
):
    a, b = _pair(4, 2, readout=readout, observables=observables, layers_per_block=layers_per_block)
    x = torch.rand(3, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    _compare(a, b, x, 1e-9)


@pytest.mark.parametrize("layers_per_block", [1, 2])
def test_default_model_float32_matches_pennylane(layers_per_block):
    cfg = ModelConfig(layers_per_block=layers_per_block, n_layers=3)
    a = build_model(cfg, n_classes=10, n_inputs=256)
    b = DQNN(
        8,
        3,
        10,
        backend="pennylane",
        dtype=torch.float32,
        readout=cfg.readout,
        observables=cfg.observables,
        layers_per_block=layers_per_block,
    )
    b.load_state_dict(a.state_dict())
    x = torch.rand(4, 256, generator=torch.Generator().manual_seed(1))
    _compare(a, b, x, 1e-5)


@pytest.mark.parametrize("n", [3, 6, 7, 8, 10])
@pytest.mark.parametrize("layers_per_block", [1, 2])
def test_adjoint_path_agrees_with_gatewise_reference(n, layers_per_block):
    kw = dict(
        dtype=torch.float64, seed=4, observables="z_zz_all", layers_per_block=layers_per_block
    )
    ref = DQNN(n, 3, 10, simulator="gatewise", **kw)
    fast = DQNN(n, 3, 10, simulator="adjoint", **kw)
    x = torch.rand(5, 2**n, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    _compare(fast, ref, x, 1e-9)


@pytest.mark.parametrize("kw", [dict(entangler="chain"), dict(encoding="angle")])
@pytest.mark.parametrize("n", [4, 9])
def test_adjoint_path_covers_chains_and_angle_encoding(kw, n):
    ref = DQNN(n, 2, 5, simulator="gatewise", dtype=torch.float64, seed=5, **kw)
    fast = DQNN(n, 2, 5, simulator="adjoint", dtype=torch.float64, seed=5, **kw)
    x = torch.rand(4, 2**n, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    _compare(fast, ref, x, 1e-9)


def test_adjoint_segments_hold_every_gate_once_in_a_valid_order():
    from collections import Counter

    from dqfl.quantum.adjoint import layer_gates, plan_layer
    from dqfl.quantum.circuit import build_circuit

    for n, width in [(n, w) for n in (2, 5, 7, 8, 10, 12, 14) for w in (None, 3)]:
        circuit = build_circuit(n, 2)
        plan = plan_layer(circuit, width)
        placed = [(s, g) for s, step in enumerate(plan) for g in step.gates]
        assert Counter(g for _, g in placed) == Counter(layer_gates(circuit))
        for step in plan:
            assert all(step.lo <= w <= step.hi for g in step.gates for w in g.wires)
            assert step.direct or step.k <= 5
        # gates sharing a wire keep their circuit order (steps run in order)
        order = {g: i for i, g in enumerate(layer_gates(circuit))}
        position = {g: (s, j) for s, step in enumerate(plan) for j, g in enumerate(step.gates)}
        for g in order:
            for h in order:
                if order[g] < order[h] and set(g.wires) & set(h.wires):
                    assert position[g] < position[h]


def test_adjoint_path_gives_the_input_gradient():
    from dqfl.quantum import statevector as sv
    from dqfl.quantum.circuit import build_circuit

    circuit = build_circuit(7, 2)
    gen = torch.Generator().manual_seed(0)
    psi0 = torch.rand(3, 128, dtype=torch.float64, generator=gen, requires_grad=True)
    u3 = torch.rand(2, 7, 3, dtype=torch.float64, generator=gen)
    cu3 = torch.rand(2, 7, 3, dtype=torch.float64, generator=gen)
    w = torch.rand(2, 3, 128, dtype=torch.float64, generator=gen)
    grads = []
    for simulator in ("adjoint", "gatewise"):
        out = torch.stack(sv.run(circuit, psi0, u3, cu3, 2, simulator=simulator))
        grads.append(torch.autograd.grad((out * w).sum(), psi0)[0])
    torch.testing.assert_close(grads[0], grads[1], atol=1e-12, rtol=0)


@pytest.mark.parametrize("engine", ["compiled", "torch"])
@pytest.mark.parametrize(
    ("n", "layers_per_block", "entangler"),
    [(3, 1, "ring"), (5, 2, "ring"), (6, 1, "chain"), (8, 1, "ring"), (11, 2, "ring")],
)
def test_both_state_engines_agree_with_gatewise(engine, n, layers_per_block, entangler):
    """The compiled CPU passes and the torch operations (the CUDA path, run here on the CPU):
    exit probabilities and the gradients in the start state and every angle."""
    from dqfl.quantum import adjoint
    from dqfl.quantum import statevector as sv
    from dqfl.quantum.circuit import build_circuit

    circuit = build_circuit(n, 2, layers_per_block, entangler=entangler)
    shapes = circuit.block_shapes()
    gen = torch.Generator().manual_seed(n)
    psi0 = torch.rand(3, 2**n, dtype=torch.float64, generator=gen, requires_grad=True)
    u3 = torch.rand(2 * layers_per_block, *shapes["u3"][1:], dtype=torch.float64, generator=gen)
    cu3 = torch.rand(2 * layers_per_block, *shapes["cu3"][1:], dtype=torch.float64, generator=gen)
    u3.requires_grad_(), cu3.requires_grad_()
    w = torch.rand(2, 3, 2**n, dtype=torch.float64, generator=gen)
    out = torch.stack(adjoint.adjoint_exits(psi0, u3, cu3, circuit, engine))
    ref = torch.stack(sv.gatewise_exits(psi0, u3, cu3, circuit, None, 2))
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=0)
    got = torch.autograd.grad((out * w).sum(), (psi0, u3, cu3))
    want = torch.autograd.grad((ref * w).sum(), (psi0, u3, cu3))
    for g, h in zip(got, want, strict=True):  # |grad| up to ~5 at n = 11: rounding ~1e-12
        torch.testing.assert_close(g, h, atol=1e-12, rtol=1e-10)


def test_compiled_engine_in_single_precision_tracks_double():
    from dqfl.quantum import adjoint
    from dqfl.quantum.circuit import build_circuit

    circuit = build_circuit(9, 3)
    gen = torch.Generator().manual_seed(0)
    psi0 = torch.nn.functional.normalize(torch.rand(4, 512, dtype=torch.float64, generator=gen))
    u3 = torch.rand(3, 9, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    cu3 = torch.rand(3, 9, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    weights = torch.rand(512, dtype=torch.float64, generator=gen)
    results = []
    for dtype in (torch.float32, torch.float64):
        a, b = u3.detach().to(dtype).requires_grad_(), cu3.detach().to(dtype).requires_grad_()
        p = torch.stack(adjoint.adjoint_exits(psi0.to(dtype), a, b, circuit, "compiled"))
        assert p.dtype == dtype
        (p * weights.to(dtype)).sum().backward()
        results.append((p.double(), a.grad.double(), b.grad.double()))
    for x32, x64 in zip(*results, strict=True):
        torch.testing.assert_close(x32, x64, atol=1e-5 * x64.abs().max().item(), rtol=0)


@pytest.mark.parametrize("n,batch", [(8, 5), (10, 3)])
def test_compiled_passes_give_the_same_bits_in_either_probability_layout(n, batch):
    """The fused path's (amplitude, exit, batch) probabilities and cotangents, and its backward
    without a start-state gradient (the first step only contracts), change nothing: the
    probabilities and every angle gradient are bit for bit those of the (exit, batch,
    amplitude) layout with the start-state gradient taken."""
    import numpy as np

    from dqfl.quantum import _state_kernels as sk
    from dqfl.quantum.adjoint import compiled_plan, plan_layer, segment_width
    from dqfl.quantum.circuit import build_circuit

    circuit = build_circuit(n, 4)
    steps, tables = compiled_plan(plan_layer(circuit, segment_width(n, "compiled")), n)
    rng = np.random.default_rng(n)
    psi0 = rng.random((batch, 2**n)).astype(np.float32)
    psi0 /= np.linalg.norm(psi0, axis=1, keepdims=True)
    u3, cu3 = rng.random((4, n, 3)), rng.random((4, n, 3))
    ops = np.zeros((4, 0, 2, 2), np.complex128)
    planar = sk.step_matrices(u3, cu3, ops, tables, steps, psi0[:0, 0])
    store = np.empty((len(steps), 5, 2, 2**n, batch), np.float32)
    probs = np.empty((4, batch, 2**n), np.float32)
    sk.forward(psi0, planar, steps, n, 4, 1, store, probs, False)
    rows = np.empty((2**n, 4, batch), np.float32)
    sk.forward(psi0, planar, steps, n, 4, 1, store, rows, True)
    assert np.array_equal(rows.transpose(1, 2, 0), probs)
    g = rng.standard_normal(probs.shape).astype(np.float32)
    grads = []
    for grad_probs, rows_first, need in (
        (g, False, True),
        (g.transpose(2, 0, 1).copy(), True, False),
    ):
        gu, gc = np.zeros_like(u3), np.zeros_like(cu3)
        gp = np.full((batch, 2**n), 7.0, np.float32)
        sk.backward(grad_probs, store, planar, steps, tables, u3, cu3, ops, n, 1, gp, gu, gc,
                    rows_first, need)  # fmt: skip
        grads.append((gu, gc))
        assert need or (gp == 7).all()  # left alone
        assert not need or np.abs(gp).max() > 0
    assert np.array_equal(grads[0][0], grads[1][0]) and np.array_equal(grads[0][1], grads[1][1])
    assert np.abs(grads[0][0]).max() > 0 and np.abs(grads[0][1]).max() > 0


def test_chain_entangler_and_reupload_follow_the_description():
    for kw in (dict(entangler="chain"), dict(encoding="angle", reupload=True, layers_per_block=2)):
        a, b = _pair(4, 2, **kw)
        x = torch.rand(3, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
        _compare(a, b, x, 1e-9)


def test_pennylane_backend_runs_one_execution_per_forward():
    import pennylane as qml

    m = DQNN(4, 4, 5, backend="pennylane", dtype=torch.float64, layers_per_block=2)
    x = torch.rand(6, 16, dtype=torch.float64)
    with qml.Tracker(m._pl.device) as tracker:
        m(x).sum().backward()
    assert tracker.totals["simulations"] == 1
    assert tracker.totals["batches"] == 1


def test_circuit_description_shapes_the_blocks():
    m = DQNN(6, 3, 10, layers_per_block=2, observables="z_zz_all")
    c = m.circuit
    assert c.n_layers == 6 and c.n_blocks == 3
    assert sum(op.kind == "exit" for op in c.ops) == 3
    assert sum(op.kind == "u3" for op in c.ops) == 6 * 6
    assert m.blocks[1].u3.shape == (2, 6, 3) and m.blocks[1].cu3.shape == (2, 6, 3)
    counts = m.parameter_counts()
    f = 6 + 15  # <Z_i> and all <Z_i Z_j>
    assert counts["quantum"] == [72] * 3
    assert counts["classical"] == [f * 10 + f + 10] + [f + 10] * 2


def test_amplitude_encoding_with_reupload_matches_pennylane():
    a, b = _pair(4, 3, reupload=True, observables="z_zz_all")
    x = torch.rand(3, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    _compare(a, b, x, 1e-9)
    assert sum(op.kind == "ry_data" for op in a.circuit.ops) == 4 * 2


@pytest.mark.parametrize("dtype,atol", [(torch.float64, 1e-12), (torch.float32, 2e-6)])
@pytest.mark.parametrize(
    "n,layers,k,observables,depth",
    [
        (8, 4, 1, "z_zz_all", 4),
        (6, 3, 2, "z", 2),
        (5, 2, 1, "z_zz_ring", 1),
        (9, 2, 1, "z", 2),
        (10, 2, 1, "z_zz_all", 2),  # features by the Walsh-Hadamard transform
    ],
)
def test_fused_default_path_equals_the_general_path(dtype, atol, n, layers, k, observables, depth):
    """The one-node forward of the default configuration (encoding, state passes, shared
    readout) == the general path (encoding, adjoint exits, stacked readout as torch operations)
    on logits and every parameter's gradient, including a blank row and short/long inputs."""
    a = DQNN(n, layers, 10, observables=observables, layers_per_block=k, dtype=dtype, seed=4)
    assert a._fused is not None
    assert (a._fused.masks is not None) == (n >= 10)  # the transform's readout from n = 10
    b = DQNN(n, layers, 10, observables=observables, layers_per_block=k, dtype=dtype, seed=5)
    b.load_state_dict(a.state_dict())
    b._fused = None  # the general path
    gen = torch.Generator().manual_seed(n)
    for cols in (2**n - 3, 2**n, 2**n + 5):
        x = torch.rand(6, cols, generator=gen)
        x[2] = 0
        ya, yb = a(x, depth=depth), b(x, depth=depth)
        assert ya.shape == (depth, 6, 10)
        torch.testing.assert_close(ya, yb, atol=atol, rtol=0)
        w = torch.randn(ya.shape, dtype=dtype, generator=gen)
        ga = torch.autograd.grad((ya * w).sum(), list(a.parameters()), allow_unused=True)
        gb = torch.autograd.grad((yb * w).sum(), list(b.parameters()), allow_unused=True)
        for (name, _), u, v in zip(a.named_parameters(), ga, gb, strict=True):
            assert (u is None) == (v is None) == (int(name.split(".")[1]) >= depth), name
            if u is not None:
                torch.testing.assert_close(u, v, atol=atol * 10, rtol=0, msg=name)


@pytest.mark.parametrize(
    "n,layers,k,depth,noise",
    [
        (8, 4, 1, 4, {"depolarizing": 0.01, "t1": 50.0, "t2": 40.0}),
        (7, 3, 1, 2, {"amplitude_damping": 0.05, "phase_damping": 0.02}),  # singular Kraus ops
        (10, 2, 1, 2, {"depolarizing": 0.02}),  # the Walsh-Hadamard readout
        (6, 4, 2, 1, {"depolarizing": 0.02}),
    ],
)
def test_fused_trajectories_equal_the_general_trajectory_path(n, layers, k, depth, noise):
    """Gate noise by trajectories in the one-node path == the general path (the compiled
    trajectory node, then the readout as torch operations) with the same noise seed: the same
    draws, logits and every gradient; and the generator moves on identically (next call too)."""
    from dqfl.quantum.noise import NoiseModel

    kw = dict(layers_per_block=k, observables="z_zz_all", noise_method="trajectories")
    kw |= dict(n_trajectories=4, noise_seed=3, dtype=torch.float64)
    noise_model = NoiseModel(**noise)
    a = DQNN(n, layers, 10, noise=noise_model, seed=4, **kw)
    assert a._fused is not None and a._fused.kinds  # the noisy plan
    b = DQNN(n, layers, 10, noise=noise_model, seed=5, **kw)
    b.load_state_dict(a.state_dict())
    b._fused = None
    gen = torch.Generator().manual_seed(n)
    for _ in range(2):  # two calls: the generators stay in step
        x = torch.rand(5, 2**n, generator=gen)
        ya, yb = a(x, depth=depth), b(x, depth=depth)
        assert ya.shape == (depth, 5, 10)
        torch.testing.assert_close(ya, yb, atol=1e-10, rtol=0)
        w = torch.randn(ya.shape, dtype=ya.dtype, generator=gen)
        ga = torch.autograd.grad((ya * w).sum(), list(a.parameters()), allow_unused=True)
        gb = torch.autograd.grad((yb * w).sum(), list(b.parameters()), allow_unused=True)
        for (name, _), u, v in zip(a.named_parameters(), ga, gb, strict=True):
            assert (u is None) == (v is None), name
            if u is not None:
                torch.testing.assert_close(u, v, atol=1e-9, rtol=0, msg=name)
    # the trajectories differ from the noiseless circuit (the operators are in)
    clean = DQNN(n, layers, 10, seed=4, layers_per_block=k, observables="z_zz_all")
    clean.load_state_dict(a.state_dict())
    x = torch.rand(3, 2**n, generator=gen, dtype=torch.float64)
    assert not torch.allclose(a(x).float(), clean(x.float()), atol=1e-4)


@pytest.mark.parametrize("n,observables", [(3, "z_zz_all"), (10, "z_zz_all"), (11, "z_zz_ring")])
def test_walsh_transform_rows_are_the_sign_matrix_features(n, observables):
    """Every readout column is a parity (its mask found), and the transform's rows at those
    masks are ``S^T P``; its transpose side (a scattered cotangent) is ``S G^T``."""
    import numpy as np

    from dqfl.quantum import _state_kernels as sk
    from dqfl.quantum.fused import parity_masks
    from dqfl.quantum.readout import observable_signs

    signs = observable_signs(n, observables, torch.float64).numpy()
    masks = parity_masks(signs)
    assert masks is not None and len(set(masks.tolist())) == signs.shape[1]
    bent = signs.copy()
    bent[3, 0] *= -1
    assert parity_masks(bent) is None
    rng = np.random.default_rng(n)
    p = rng.random((2**n, 7))
    a = p.copy()
    sk.walsh(a)
    np.testing.assert_allclose(a[masks], signs.T @ p, rtol=0, atol=1e-12 * 2**n)
    g = rng.standard_normal((signs.shape[1], 7))
    b = np.zeros_like(p)
    b[masks] = g
    sk.walsh(b)
    np.testing.assert_allclose(b, signs @ g, rtol=0, atol=1e-12 * 2**n)


def test_fused_path_is_skipped_where_it_does_not_apply():
    """Density matrices, readout error, shots, other readouts, angle encoding and inputs that
    need a gradient take the general path (which the fused node does not implement)."""
    from dqfl.quantum.noise import NoiseModel

    noisy = NoiseModel(depolarizing=0.01)
    assert DQNN(4, 2, 3, noise=noisy, noise_method="density")._fused is None
    assert DQNN(8, 2, 3, noise=noisy)._fused.kinds  # auto above 6 qubits: trajectories
    for other in (NoiseModel(readout_error=0.01), NoiseModel(shots=100)):
        assert DQNN(8, 2, 3, noise=other, noise_method="trajectories")._fused is None
    assert DQNN(4, 2, 3, readout="linear")._fused is None
    assert DQNN(4, 2, 3, encoding="angle")._fused is None
    assert DQNN(4, 2, 3, backend="pennylane")._fused is None
    m = DQNN(4, 2, 3)
    x = torch.rand(2, 16, requires_grad=True)
    m(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
