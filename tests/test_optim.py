"""FlatAdam == torch.optim.Adam, step by step, and the parameters stay the model's own."""

import torch

from dqfl.optim import FlatAdam
from dqfl.quantum import DQNN


def test_flat_adam_follows_torch_adam_step_by_step():
    a = DQNN(5, 3, 4, observables="z_zz_all", seed=1)
    b = DQNN(5, 3, 4, observables="z_zz_all", seed=1)
    ids = [id(p) for p in a.parameters()]
    fast = FlatAdam(list(a.parameters()), lr=0.05)
    ref = torch.optim.Adam(b.parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(0)
    for _ in range(6):
        x = torch.rand(8, 32, generator=gen)
        w = torch.randn(3, 8, 4, generator=gen)
        for model, opt in ((a, fast), (b, ref)):
            opt.zero_grad()
            (model(x) * w).sum().backward()
            opt.step()
    assert [id(p) for p in a.parameters()] == ids  # same Parameter objects, storage moved
    moved = 0.0
    for (name, p), q, q0 in zip(
        a.named_parameters(), b.parameters(), DQNN(5, 3, 4, seed=1).parameters(), strict=False
    ):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-5, msg=name)
        moved += float((p - q0).detach().abs().sum()) if p.shape == q0.shape else 0.0
    assert moved > 0.1  # the steps did move the parameters
    a.load_state_dict(b.state_dict())  # loading writes into the flat buffer's views
    assert fast.flat.data_ptr() == next(a.parameters()).data_ptr()


def test_flat_adam_refuses_mixed_dtypes():
    p, q = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2).double())
    assert not FlatAdam.supports([p, q])
    assert FlatAdam.supports([p, torch.nn.Parameter(torch.ones(3))])
