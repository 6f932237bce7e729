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


def test_trajectories_converge_to_density_matrix():
    n = 4
    circ = build_circuit(n, 2)
    gen = torch.Generator().manual_seed(0)
    u3 = torch.rand(2, n, 3, generator=gen, dtype=torch.float64) * 3
    cu3 = torch.rand(2, n, 3, generator=gen, dtype=torch.float64) * 3
    psi = torch.rand(1, 2**n, dtype=torch.float64, generator=gen)
    psi = psi / psi.norm()
    exact = noisy.density_exits(circ, psi, u3, cu3, NOISE, 2)
    rows = 600  # one independent trajectory per row
    est = noisy.trajectory_exits(circ, psi.repeat(rows, 1), u3, cu3, NOISE, 2, 1, gen)
    for e, t in zip(exact, est, strict=True):
        mean, se = t.mean(0), t.std(0) / rows**0.5
        z = (mean - e[0]).abs() / (se + 1e-12)
        assert (z < 4.5).all(), z.max()
    # the estimate sharpens with more trajectories: the T=200 mean is within 5 SE of exact
    est_many = noisy.trajectory_exits(circ, psi, u3, cu3, NOISE, 2, 200, gen)[-1][0]
    assert (est_many - exact[-1][0]).abs().max() < 5 * se.max() * (rows / 200) ** 0.5


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
