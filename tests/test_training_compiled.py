"""train_local's compiled whole-epoch path (dqfl.quantum._train_kernels) == its per-step loop:
the same shuffles, loss, accuracy counts and FlatAdam updates, on every option it covers."""

import pytest
import torch

from dqfl.quantum import DQNN
from dqfl.quantum import fused as fused_path
from dqfl.training import train_local


@pytest.fixture
def calls(monkeypatch):
    """How often the compiled path ran (and was not declined)."""
    seen = []
    original = fused_path.train_epochs

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        seen.append(out is not None)
        return out

    monkeypatch.setattr(fused_path, "train_epochs", spy)
    return seen


def _data(n, pixels, n_classes=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, pixels, generator=gen), torch.randint(0, n_classes, (n,), generator=gen)


def _both(model_kw, x, y, freeze=None, **train_kw):
    """(result, state) of the per-step loop and of the compiled path from the same model."""
    args = dict(epochs=2, batch_size=16, lr=0.05, seed=3, distill=0.1)
    args.update(train_kw)
    runs = []
    for compiled in (False, True):
        model = DQNN(**model_kw)
        if freeze:
            getattr(model.blocks[0], freeze).requires_grad_(False)
        if "global_state" in args:
            args["global_state"] = {k: v + 0.1 for k, v in model.state_dict().items()}
        result = train_local(model, x, y, compiled_epochs=compiled, **args)
        runs.append((result, {k: v.clone() for k, v in model.state_dict().items()}))
    return runs


def _assert_same(runs, atol, rtol, loose=()):
    """Equal results and parameters; ``loose`` entries only within ``atol_loose`` (see below)."""
    (a, sa), (b, sb) = runs
    assert a.loss == pytest.approx(b.loss, rel=1e-5)
    assert a.exit_accuracy == b.exit_accuracy
    for k in sa:
        if k in loose:
            # the last CU3 phases before the deepest exit commute with the Z measurement: their
            # exact gradient is 0 and Adam turns the rounding noise into lr-sized steps
            tight = sa[k].clone()
            tight[..., 1] = sb[k][..., 1]
            torch.testing.assert_close(tight, sb[k], atol=atol, rtol=rtol, msg=k)
            assert (sa[k] - sb[k]).abs().max() < loose[k], k
        else:
            torch.testing.assert_close(sa[k], sb[k], atol=atol, rtol=rtol, msg=k)


def test_default_model_float32_equals_the_per_step_path(calls):
    """n = 8, 4 exits, z_zz_all features, float32, a partial last batch (70 = 2 x 32 + 6)."""
    x, y = _data(70, 256)
    model_kw = dict(n_qubits=8, n_layers=4, observables="z_zz_all", seed=1)
    runs = _both(model_kw, x, y, batch_size=32, lr=0.05)
    assert calls == [True]
    _assert_same(runs, atol=1e-5, rtol=1e-4, loose={"blocks.3.cu3": 6 * 0.05})
    start = DQNN(**model_kw).state_dict()
    assert (runs[1][1]["blocks.0.u3"] - start["blocks.0.u3"]).abs().max() > 1e-2  # it trained


@pytest.mark.parametrize(
    "n_qubits,train_kw",
    [
        (6, dict()),
        (6, dict(train_depth=2)),
        (6, dict(distill=0.0)),
        (6, dict(prox_mu=0.5, global_state=None)),
        (6, dict(exit_weights=[1.0, 2.0, 0.0, 4.0], batch_size=7)),
        (6, dict(batch_size=1, epochs=1)),
        (10, dict(train_depth=3, prox_mu=0.2, global_state=None)),  # the Walsh readout
    ],
)
def test_compiled_epochs_equal_the_per_step_path_float64(calls, n_qubits, train_kw):
    n = 5 if train_kw.get("batch_size") == 1 else 40
    x, y = _data(n, 2 ** min(n_qubits, 8), n_classes=5)
    model_kw = dict(
        n_qubits=n_qubits, n_layers=4, n_classes=5, observables="z_zz_all",
        dtype=torch.float64, seed=2,
    )  # fmt: skip
    runs = _both(model_kw, x, y, **train_kw)
    assert calls == [True]
    assert (fused_path.WALSH_MIN_QUBITS <= n_qubits) == (DQNN(**model_kw)._fused.masks is not None)
    _assert_same(runs, atol=1e-9, rtol=0)
    depth = train_kw.get("train_depth", 4)
    start = DQNN(**model_kw).state_dict()
    for block in range(4):
        moved = (runs[1][1][f"blocks.{block}.u3"] - start[f"blocks.{block}.u3"]).abs().max()
        assert (moved > 1e-4) == (block < depth), block  # deeper blocks untouched


def test_frozen_parameter_takes_the_per_step_path(calls):
    x, y = _data(20, 64, n_classes=5)
    model_kw = dict(n_qubits=6, n_layers=2, n_classes=5, dtype=torch.float64, seed=0)
    runs = _both(model_kw, x, y, freeze="u3")
    assert calls == [False]
    _assert_same(runs, atol=0, rtol=0)


def test_compiled_path_is_deterministic_by_seed():
    x, y = _data(50, 256)
    states = []
    for _ in range(2):
        model = DQNN(8, 4, observables="z_zz_all", seed=0)
        train_local(model, x, y, epochs=1, batch_size=32, lr=0.05, seed=7, distill=0.1)
        states.append(model.state_dict())
    for k in states[0]:
        assert torch.equal(states[0][k], states[1][k]), k


def test_trajectory_noise_takes_the_per_step_path(calls):
    """Trajectories draw their operators from the model's generator every step: not compiled."""
    from dqfl.quantum.noise import NoiseModel

    x, y = _data(12, 64, n_classes=5)
    noise = NoiseModel(depolarizing=0.01)
    model_kw = dict(
        n_qubits=6, n_layers=2, n_classes=5, noise=noise, noise_method="trajectories",
        n_trajectories=2, dtype=torch.float64, seed=0,
    )  # fmt: skip
    assert DQNN(**model_kw)._fused.kinds  # the fused node runs it, per step
    runs = _both(model_kw, x, y, epochs=1)
    assert calls == [False]
    _assert_same(runs, atol=0, rtol=0)
