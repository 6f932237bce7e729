"""Noisy DQNN: density path == PennyLane default.mixed; trajectories are unbiased; depth costs."""

import pytest
import torch

from dqfl.quantum import DQNN, noisy
from dqfl.quantum import density as D
from dqfl.quantum.circuit import build_circuit
from dqfl.quantum.noise import NoiseModel, sample_frequencies

NOISE = NoiseModel(
    depolarizing=0.02,
    amplitude_damping=0.03,
    phase_damping=0.04,
    t1=50.0,
    t2=60.0,
    gate_time_1q=0.5,
    gate_time_2q=2.0,
    readout_error=0.03,
)


@pytest.mark.parametrize("layers_per_block", [1, 2])
@pytest.mark.parametrize("encoding", ["amplitude", "angle"])
def test_density_path_matches_default_mixed(encoding, layers_per_block):
    n, layers = 3, 2
    kw = dict(
        dtype=torch.float64,
        noise=NOISE,
        encoding=encoding,
        reupload=True,
        observables="z_zz_all",
        layers_per_block=layers_per_block,
    )
    a = DQNN(n, layers, 4, seed=1, **kw)
    b = DQNN(n, layers, 4, backend="pennylane", device="default.mixed", seed=2, **kw)
    b.load_state_dict(a.state_dict())
    x = torch.rand(3, 2**n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ya, yb = a(x), b(x)
    torch.testing.assert_close(ya, yb, atol=1e-5, rtol=0)
    ya.sum().backward()
    yb.sum().backward()
    for (k, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        torch.testing.assert_close(pa.grad, pb.grad, atol=1e-5, rtol=0, msg=k)


def _two_layer_problem(n: int, seed: int):
    """A two-layer circuit, its generator, random angles and one normalised start state."""
    circ = build_circuit(n, 2)
    gen = torch.Generator().manual_seed(seed)
    u3 = torch.rand(2, n, 3, generator=gen, dtype=torch.float64) * 3
    cu3 = torch.rand(2, n, 3, generator=gen, dtype=torch.float64) * 3
    psi = torch.rand(1, 2**n, dtype=torch.float64, generator=gen)
    return circ, gen, u3, cu3, psi / psi.norm()


def test_per_row_trajectories_converge_to_density_matrix():
    circ, gen, u3, cu3, psi = _two_layer_problem(4, seed=0)
    exact = noisy.density_exits(circ, psi, u3, cu3, NOISE, 2)
    rows = 600  # one independent trajectory per row
    est = noisy.trajectory_exits(
        circ, psi.repeat(rows, 1), u3, cu3, NOISE, 2, 1, gen, draws="per_row"
    )
    for e, t in zip(exact, est, strict=True):
        mean, se = t.mean(0), t.std(0) / rows**0.5
        z = (mean - e[0]).abs() / (se + 1e-12)
        assert (z < 4.5).all(), z.max()
    # the estimate sharpens with more trajectories: the T=200 mean is within 5 SE of exact
    est_many = noisy.trajectory_exits(circ, psi, u3, cu3, NOISE, 2, 200, gen, draws="per_row")
    est_many = est_many[-1][0]
    assert (est_many - exact[-1][0]).abs().max() < 5 * se.max() * (rows / 200) ** 0.5


def _shared_draws(circ, psi, u3, cu3, noise, gen, count, angles=None):
    """``count`` independent one-trajectory estimates of the shared-draw path: per draw the
    exit probabilities (E, B, D) and the gradient of a fixed linear functional of them."""
    w = torch.randn(circ.n_blocks, *psi.shape, dtype=torch.float64, generator=gen)
    probs, grads = [], []
    for _ in range(count):
        out = torch.stack(
            noisy.trajectory_exits(circ, psi, u3, cu3, noise, circ.n_blocks, 1, gen, angles)
        )
        g = torch.autograd.grad((out * w).sum(), (u3, cu3))
        probs.append(out.detach())
        grads.append(torch.cat([v.flatten() for v in g]))
    return torch.stack(probs), torch.stack(grads), w


def _within(samples: torch.Tensor, exact: torch.Tensor, z_max: float = 5.0) -> None:
    """The mean of ``samples`` (N, ...) is within ``z_max`` standard errors of ``exact``."""
    mean, se = samples.mean(0), samples.std(0) / len(samples) ** 0.5
    z = (mean - exact).abs() / (se + 1e-9)
    assert z.max() < z_max, (z.max(), (mean - exact).abs().max())


@pytest.mark.parametrize(
    ("n", "encoding", "noise"),
    [
        (4, "amplitude", NOISE),
        (4, "angle", NOISE),
        (5, "amplitude", NoiseModel(amplitude_damping=0.2)),  # singular Kraus operator
        (6, "amplitude", NoiseModel(depolarizing=0.03, t1=50.0, t2=40.0, gate_time_2q=1.0)),
    ],
)
def test_shared_trajectories_are_unbiased_outputs_and_gradients(n, encoding, noise):
    # each trajectory is one fixed circuit for the batch (Kraus operators inside the segment
    # matrices, prefix products for the gradient): its mean is the exact density result
    circ = build_circuit(n, 2, 1, encoding)
    gen = torch.Generator().manual_seed(n)
    u3 = (torch.rand(2, n, 3, generator=gen, dtype=torch.float64) * 3).requires_grad_()
    cu3 = (torch.rand(2, n, 3, generator=gen, dtype=torch.float64) * 3).requires_grad_()
    x = torch.rand(2, 2**n, dtype=torch.float64, generator=gen)
    angles = None
    if encoding == "angle":
        from dqfl.quantum import encoding as enc

        angles = enc.angle_features(x, n)
        psi = enc.ry_product_state(angles)
    else:
        psi = x / x.norm(dim=1, keepdim=True)
    # 1000 draws: damping draws are heavy-tailed (rare large weights), so the standard error of
    # a few hundred can be far off and a 5-sigma test flaky (400 gave z = 6.2 on one stream)
    probs, grads, w = _shared_draws(circ, psi, u3, cu3, noise, gen, 1000, angles)
    exact = torch.stack(noisy.density_exits(circ, psi, u3, cu3, noise, 2, angles))
    g = torch.autograd.grad((exact * w).sum(), (u3, cu3))
    _within(probs, exact.detach())
    _within(grads, torch.cat([v.flatten() for v in g]))
    assert probs.std(0).max() > 1e-3  # the draws differ (the test above could fail)


def test_shared_and_per_row_trajectories_agree_in_distribution():
    circ, gen, u3, cu3, psi = _two_layer_problem(5, seed=4)
    count = 400
    shared = torch.stack(
        [torch.stack(noisy.trajectory_exits(circ, psi, u3, cu3, NOISE, 2, 1, gen))[:, 0]
         for _ in range(count)]
    )  # fmt: skip
    many = psi.repeat(count, 1)
    rows = torch.stack(
        noisy.trajectory_exits(circ, many, u3, cu3, NOISE, 2, 1, gen, None, "per_row")
    ).transpose(0, 1)
    diff = shared.mean(0) - rows.mean(0)
    se = (shared.var(0) / count + rows.var(0) / count).sqrt()
    assert (diff.abs() / (se + 1e-9)).max() < 5
    # same law per sample: the total spreads agree too
    ratio = shared.var(0).sum() / rows.var(0).sum()
    assert 0.7 < ratio < 1.4, ratio


@pytest.mark.parametrize("encoding", ["amplitude", "angle"])
def test_shared_trajectories_without_noise_are_the_noiseless_adjoint_path(encoding):
    from dqfl.quantum import statevector as sv

    n, blocks = 6, 3
    circ = build_circuit(n, blocks, 2, encoding)
    gen = torch.Generator().manual_seed(2)
    u3 = torch.randn(2 * blocks, n, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    cu3 = torch.randn(2 * blocks, n, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    psi = torch.rand(3, 2**n, dtype=torch.float64, generator=gen)
    psi = psi / psi.norm(dim=1, keepdim=True)
    w = torch.randn(blocks, 3, 2**n, dtype=torch.float64, generator=gen)
    ref = torch.stack(sv.run(circ, psi, u3, cu3, blocks, simulator="adjoint"))
    # 4 identical trajectories: their mean (and its gradient's 1/4) is exact in floating point
    out = torch.stack(noisy.trajectory_exits(circ, psi, u3, cu3, NoiseModel(), blocks, 4, gen))
    assert torch.equal(out, ref)
    for a, b in zip(
        torch.autograd.grad((out * w).sum(), (u3, cu3)),
        torch.autograd.grad((ref * w).sum(), (u3, cu3)),
        strict=True,
    ):
        assert torch.equal(a, b)


def _noisy_plan_problem(n, encoding, seed, n_trajectories, engine="torch"):
    """A two-layer noisy plan, ``n_trajectories`` draws of its operators, float64 inputs that
    need gradients and a random functional ``w`` of the exits."""
    from dqfl.quantum import adjoint, trajectories

    circ = build_circuit(n, 2, 1, encoding)
    plan, kinds = adjoint.noisy_plan(circ, adjoint.segment_width(n, engine))
    gen = torch.Generator().manual_seed(seed)
    one, two = NOISE.gate_channels(False), NOISE.gate_channels(True)
    channels = {"encoding": one, "1q": one, "2q": two}
    ops = trajectories.slot_operators(channels, kinds, n_trajectories, 2, gen)
    u3 = torch.rand(2, n, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    cu3 = torch.rand(2, n, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    psi = torch.rand(3, 2**n, dtype=torch.float64, generator=gen, requires_grad=True)
    w = torch.randn(2, 3, 2**n, dtype=torch.float64, generator=gen)
    return circ, plan, ops, (psi, u3, cu3, w)


@pytest.mark.parametrize(("n", "encoding"), [(5, "angle"), (8, "amplitude")])
def test_both_engines_run_a_noisy_plan_alike(n, encoding):
    # the torch engine (the CUDA path, here on the CPU) and the compiled one on the same draws,
    # with the wrap-around CU3's operators as direct steps at n = 8
    from dqfl.quantum import adjoint

    circ, plan, ops, (psi, u3, cu3, w) = _noisy_plan_problem(n, encoding, 3, 1)
    assert any(s.direct and s.gates[0].kind == "noise" for s in plan) == (n > 5)
    got = []
    for engine in ("compiled", "torch"):
        out = adjoint.run_plan(psi, u3, cu3, circ, plan, ops[0], engine)
        got.append((out, *torch.autograd.grad((out * w).sum(), (psi, u3, cu3))))
    for a, b in zip(*got, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize(("n", "encoding"), [(5, "angle"), (8, "amplitude")])
def test_trajectories_in_one_node_equal_the_mean_of_single_runs(n, encoding):
    """CompiledLayerCircuit on T trajectories (their compiled passes in one autograd node) == the
    mean of one run_plan per trajectory (the torch engine's path), outputs and gradients."""
    from dqfl.quantum import adjoint

    circ, plan, ops, (psi, u3, cu3, w) = _noisy_plan_problem(n, encoding, 4, 3, "compiled")
    fused = adjoint.CompiledLayerCircuit.apply(psi, u3, cu3, circ, plan, ops)
    runs = [adjoint.run_plan(psi, u3, cu3, circ, plan, op, "torch") for op in ops]
    mean = torch.stack(runs).mean(0)
    assert not torch.allclose(runs[0], runs[1])  # the trajectories differ
    torch.testing.assert_close(fused, mean, atol=1e-12, rtol=1e-12)
    for a, b in zip(
        torch.autograd.grad((fused * w).sum(), (psi, u3, cu3)),
        torch.autograd.grad((mean * w).sum(), (psi, u3, cu3)),
        strict=True,
    ):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


def test_shared_trajectories_are_seeded():
    noise = NoiseModel(depolarizing=0.05, amplitude_damping=0.05)
    x = torch.rand(4, 2**6, generator=torch.Generator().manual_seed(0))

    def run(seed):
        m = DQNN(6, 2, 3, noise=noise, noise_method="trajectories", n_trajectories=4,
                 noise_seed=seed, seed=1)  # fmt: skip
        out = m(x)
        out.sum().backward()
        return out.detach(), m.blocks[0].u3.grad

    (a, ga), (b, gb), (c, _) = run(7), run(7), run(8)
    assert torch.equal(a, b) and torch.equal(ga, gb)
    assert not torch.equal(a, c)


def test_trajectory_gradients_of_probabilities_are_close_to_exact():
    # unbiased for quantities linear in the probabilities (the log in a readout is not)
    n = 4
    exact = DQNN(n, 2, 3, noise=NOISE, noise_method="density", dtype=torch.float64, seed=3)
    traj = DQNN(
        n,
        2,
        3,
        noise=NOISE,
        noise_method="trajectories",
        n_trajectories=400,
        dtype=torch.float64,
        seed=3,
    )
    x = torch.rand(2, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    w = torch.randn(2, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    sum((p * w).sum() for p in exact.exit_probabilities(x)).backward()
    sum((p * w).sum() for p in traj.exit_probabilities(x)).backward()
    ge, gt = exact.blocks[0].u3.grad, traj.blocks[0].u3.grad
    assert (ge - gt).abs().max() < 0.15 * ge.abs().max() + 0.05


def test_fidelity_with_noiseless_state_falls_with_depth():
    n, layers = 4, 4
    m = DQNN(n, layers, 3, dtype=torch.float64, seed=0)
    x = torch.rand(8, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    psi0, _ = m.encode(x)
    with torch.no_grad():
        u3, cu3 = m.stacked_angles(layers)
    noise = NoiseModel(depolarizing=0.01, t1=50.0, t2=40.0)
    rhos = noisy.density_states(m.circuit, psi0, u3, cu3, noise, layers)
    pure = noisy.density_states(m.circuit, psi0, u3, cu3, NoiseModel(), layers)
    fid = []
    for r, p in zip(rhos, pure, strict=True):
        psi = torch.linalg.eigh(p)[1][..., -1]  # the pure state's vector
        fid.append(D.fidelity_with_state(r, psi).mean().item())
    assert all(a > b for a, b in zip(fid, fid[1:], strict=False)), fid
    assert fid[-1] < 0.95


def test_shots_are_seeded_and_straight_through():
    p = torch.tensor([[0.1, 0.2, 0.3, 0.4]], dtype=torch.float64, requires_grad=True)
    f1 = sample_frequencies(p, 1000, torch.Generator().manual_seed(5))
    f2 = sample_frequencies(p, 1000, torch.Generator().manual_seed(5))
    torch.testing.assert_close(f1, f2)
    assert (f1.detach() * 1000).round().eq(f1.detach() * 1000).all()
    (f1 * torch.arange(4.0, dtype=torch.float64)).sum().backward()
    torch.testing.assert_close(p.grad, torch.arange(4.0, dtype=torch.float64).unsqueeze(0))


def test_noisy_model_with_shots_runs_and_is_reproducible():
    noise = NoiseModel(depolarizing=0.01, readout_error=0.02, shots=256)
    x = torch.rand(3, 16)
    y1 = DQNN(4, 2, 3, noise=noise, noise_seed=7)(x)
    y2 = DQNN(4, 2, 3, noise=noise, noise_seed=7)(x)
    torch.testing.assert_close(y1, y2)
    assert torch.isfinite(y1).all()


def test_the_memory_check_sizes_the_states_the_model_simulates():
    """preflight's estimate follows the model's own choice: noisy states only for gate noise
    (readout error alone keeps the state vector), density matrices up to DENSITY_MAX_QUBITS."""
    from dqfl.cli.preflight import model_training_bytes
    from dqfl.config import RunConfig, apply_overrides
    from dqfl.quantum.config import DENSITY_MAX_QUBITS

    def estimate(*sets: str) -> float:
        return model_training_bytes(apply_overrides(RunConfig(), list(sets)))

    clean = estimate()
    assert estimate("model.readout_error=0.05") == clean
    assert not DQNN(8, 2, 3, noise=NoiseModel(readout_error=0.05)).noise.has_gate_noise
    noisy = ["model.depolarizing=0.01", "model.n_trajectories=8"]
    assert DQNN(8, 2, 3, noise=NoiseModel(depolarizing=0.01)).noise_method == "trajectories"
    assert estimate(*noisy) == pytest.approx(8 * clean, rel=0.01)  # 8 trajectories, n = 8
    small = f"model.n_qubits={DENSITY_MAX_QUBITS}"
    assert DQNN(DENSITY_MAX_QUBITS, 2, 3, noise=NoiseModel(depolarizing=0.01)).noise_method == (
        "density"
    )
    ratio = estimate(small, *noisy) / estimate(small)
    assert ratio == pytest.approx(2**DENSITY_MAX_QUBITS, rel=0.05)  # 4**n vs 2**n amplitudes
