"""train_local / evaluate: learning, determinism, FedProx, train_depth, distillation."""

import pytest
import torch

from dqfl.classical import ClassicalNet
from dqfl.errors import DqflError
from dqfl.quantum import DQNN
from dqfl.training import evaluate, train_local


def _separable(n_per_class=40, n_classes=3, dim=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    protos = torch.rand(n_classes, dim, generator=g) ** 3
    y = torch.arange(n_classes).repeat_interleave(n_per_class)
    x = protos[y] + 0.05 * torch.rand(len(y), dim, generator=g)
    return x, y


def _train(model, x, y, **kw):
    args = dict(epochs=3, batch_size=16, lr=0.05, seed=0)
    args.update(kw)
    return train_local(model, x, y, **args)


def test_dqnn_learns_synthetic_separable_data():
    x, y = _separable()
    m = DQNN(4, 2, 3, seed=0)
    res = _train(m, x, y, epochs=8)
    acc = evaluate(m, x, y)
    assert len(acc) == 2 and res.num_examples == len(x) and res.seconds > 0
    assert acc[-1] > 0.8, acc


def test_training_is_deterministic_by_seed():
    x, y = _separable()
    states = []
    for _ in range(2):
        m = DQNN(4, 2, 3, seed=0)
        _train(m, x, y, epochs=1)
        states.append(m.state_dict())
    for k in states[0]:
        torch.testing.assert_close(states[0][k], states[1][k])


def test_fedprox_keeps_weights_closer_to_global():
    x, y = _separable()
    dist = {}
    for mu in (0.0, 10.0):
        m = DQNN(4, 2, 3, seed=0)
        g = {k: v.clone() for k, v in m.state_dict().items()}
        _train(m, x, y, prox_mu=mu, global_state=g, epochs=2)
        dist[mu] = sum(((m.state_dict()[k] - g[k]) ** 2).sum() for k in g).item()
    assert dist[10.0] < 0.5 * dist[0.0], dist


def test_train_depth_leaves_deeper_blocks_untouched():
    x, y = _separable()
    m = DQNN(4, 3, 3, seed=0)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    res = _train(m, x, y, train_depth=2, epochs=1)
    assert len(res.exit_accuracy) == 2
    after = m.state_dict()
    for k in before:
        same = torch.equal(before[k], after[k])
        assert same == k.startswith("blocks.2."), k


def test_distillation_changes_the_update_and_exit_weights_validated():
    x, y = _separable()
    a, b = DQNN(4, 2, 3, seed=0), DQNN(4, 2, 3, seed=0)
    _train(a, x, y, epochs=1)
    _train(b, x, y, epochs=1, distill=1.0)
    assert not torch.equal(a.blocks[0].u3, b.blocks[0].u3)
    with pytest.raises(DqflError):
        _train(DQNN(4, 2, 3), x, y, exit_weights=[1.0])
    with pytest.raises(DqflError):
        _train(DQNN(4, 2, 3), x, y, train_depth=3)


def test_classical_baseline_trains_with_the_same_api():
    x, y = _separable(dim=32)
    m = ClassicalNet(32, 3)
    assert m(x).shape == (1, len(x), 3)
    assert all(k.startswith("blocks.0.") for k in m.state_dict())
    counts = m.parameter_counts()
    assert counts["per_block"][0] > DQNN(8, 4, 10).parameter_counts()["total_quantum"]
    _train(m, x, y, epochs=5, lr=0.01)
    assert evaluate(m, x, y)[0] > 0.9


def test_centralised_training_of_the_default_model_is_well_above_chance_and_deterministic():
    from dqfl.data import DataConfig, load_partition, load_test_set
    from dqfl.quantum import ModelConfig, build_model
    from dqfl.schedules import scheduled_lr

    cfg = DataConfig(seed=0, samples_per_vehicle=300)
    parts = [load_partition(cfg, v) for v in range(5)]
    x = torch.cat([p[0] for p in parts])
    y = torch.cat([p[1] for p in parts])
    xt, yt = load_test_set(cfg)
    accs = []
    for _ in range(2):
        m = build_model(ModelConfig(), n_classes=10, n_inputs=x.shape[1])
        for epoch in range(3):
            _train(
                m,
                x,
                y,
                epochs=1,
                batch_size=32,
                seed=epoch,
                lr=scheduled_lr("cosine", 0.05, epoch, 3),
            )
        accs.append(evaluate(m, xt, yt))
    assert accs[0] == accs[1]  # same seeds, same numbers
    assert accs[0][-1] > 0.4 and accs[0][0] > 0.3, accs[0]  # chance is 0.1


def test_all_exit_loss_equals_the_per_exit_formula():
    """The vectorised loss is the module docstring's sum: weighted CE of every exit plus the
    distillation KL of each shallower exit against the detached deepest one."""
    import torch.nn.functional as F

    from dqfl.training import DISTILL_TEMPERATURE, exit_loss

    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 6, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 5, (6,), generator=gen)
    w = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    t = DISTILL_TEMPERATURE
    teacher = F.log_softmax(logits[-1] / t, -1)
    expected = sum(w[j] * F.cross_entropy(logits[j], y) for j in range(4))
    expected = expected + 0.3 * t * t * sum(
        w[j]
        * F.kl_div(
            F.log_softmax(logits[j] / t, -1), teacher, log_target=True, reduction="batchmean"
        )
        for j in range(3)
    )
    torch.testing.assert_close(exit_loss(logits, y, w, 0.3).double(), expected.double())


@pytest.mark.parametrize("depth,distill", [(4, 0.3), (4, 0.0), (1, 0.5), (2, 1.0)])
def test_closed_form_loss_gradient_equals_autograd(depth, distill):
    """ExitLoss (numpy, gradient in closed form) == autograd through the torch reference, with
    the teacher detached, on the logits' gradient."""
    from dqfl.training import exit_loss, exit_loss_reference

    gen = torch.Generator().manual_seed(depth)
    logits = torch.randn(depth, 7, 10, generator=gen).mul(3).requires_grad_()
    y = torch.randint(0, 10, (7,), generator=gen)
    w = torch.rand(depth, generator=gen)
    w = w / w.sum()
    fast = exit_loss(logits, y, w, distill)
    (grad_fast,) = torch.autograd.grad(2.5 * fast, logits)
    ref = exit_loss_reference(logits, y, w, distill)
    (grad_ref,) = torch.autograd.grad(2.5 * ref, logits)
    torch.testing.assert_close(fast, ref, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(grad_fast, grad_ref, atol=1e-7, rtol=1e-5)
    assert grad_ref.abs().max() > 1e-3  # a gradient that could have been wrong


def test_stacked_shared_readout_equals_each_exit_readout():
    from dqfl.quantum import DQNN
    from dqfl.quantum.readout import stacked_shared_logits

    m = DQNN(5, 3, 4, dtype=torch.float64, observables="z_zz_all", readout="shared", seed=2)
    with torch.no_grad():
        for i, b in enumerate(m.blocks):
            b.readout.gain.mul_(1 + 0.1 * i)
            b.readout.bias.add_(0.05 * i)
    probs = torch.rand(3, 7, 32, dtype=torch.float64)
    weight = m.blocks[0].readout.weight
    each = torch.stack([b.readout(p, weight) for b, p in zip(m.blocks, probs, strict=True)])
    readouts = [b.readout for b in m.blocks]
    torch.testing.assert_close(stacked_shared_logits(probs, readouts, weight), each)


@pytest.mark.parametrize("train_depth,prox_mu", [(None, 0.0), (3, 0.05)])
def test_training_without_autograd_equals_the_autograd_path(train_depth, prox_mu):
    """train_local on the DQNN's fused path (closed-form loss gradient into the hand-written
    backward, FedProx term added by hand) == autograd through the general path, float64."""
    from dqfl.quantum import DQNN
    from dqfl.training import train_local

    gen = torch.Generator().manual_seed(1)
    x, y = torch.rand(40, 64, generator=gen), torch.randint(0, 5, (40,), generator=gen)
    runs = []
    for fused in (True, False):
        model = DQNN(6, 4, 5, observables="z_zz_all", dtype=torch.float64, seed=2)
        anchor = {k: v + 0.1 for k, v in model.state_dict().items()}
        if not fused:
            model._fused = None
        assert (model.logits_and_vjp(x[:2]) is not None) == fused
        result = train_local(
            model, x, y, epochs=2, batch_size=16, lr=0.05, seed=3, distill=0.2,
            prox_mu=prox_mu, global_state=anchor, train_depth=train_depth,
        )  # fmt: skip
        runs.append((result, model.state_dict()))
    (a, sa), (b, sb) = runs
    assert a.loss == pytest.approx(b.loss, rel=1e-6)
    assert a.exit_accuracy == b.exit_accuracy
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], atol=1e-9, rtol=0, msg=k)
    start = DQNN(6, 4, 5, observables="z_zz_all", dtype=torch.float64, seed=2).state_dict()
    assert (sa["blocks.0.u3"] - start["blocks.0.u3"]).abs().max() > 1e-3  # it trained
    if train_depth == 3:
        torch.testing.assert_close(sa["blocks.3.u3"], start["blocks.3.u3"], atol=0, rtol=0)
