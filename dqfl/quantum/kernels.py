"""The simulator's compiled (numba) kernels, loaded or compiled ahead of their first use.

numba compiles a kernel on its first call and keeps the machine code on disk (``cache=True``), so
a fresh install pays about a minute and a half once and later processes load it in well under a
second. :func:`warm_up` makes those first calls on a tiny circuit and a tiny model in the process
that should pay: ``make`` right after the install (in a fresh process, so every checkout builds
the same code), the CLI's checks before Flower's engine starts, and each of Ray's workers as it
starts (:mod:`dqfl.federation.worker_start`). It sits above the model and the training loop
because it drives both; the kernels live in ``_state_kernels``, ``_segment_kernels`` and
``_train_kernels``.
"""

from __future__ import annotations

import time

import torch

from dqfl.quantum.adjoint import adjoint_exits
from dqfl.quantum.circuit import build_circuit


def warm_up(dtype: torch.dtype = torch.float32) -> float:
    """Compile (or load from numba's disk cache) the state passes and the whole-epoch training
    kernel for ``dtype``; returns the seconds it took. The calls keep the order they have always
    had (state passes first), since the order is part of what a fresh build compiles."""
    start = time.perf_counter()
    circuit = build_circuit(3, 1, 1, "amplitude", False, "ring")
    shapes = circuit.block_shapes()
    psi0 = torch.full((1, 8), 8**-0.5, dtype=dtype)
    u3 = torch.zeros(shapes["u3"], dtype=dtype, requires_grad=True)
    cu3 = torch.zeros(shapes["cu3"], dtype=dtype, requires_grad=True)
    torch.stack(adjoint_exits(psi0, u3, cu3, circuit, "compiled")).sum().backward()
    # the vehicles' whole-epoch training kernel (dqfl.quantum._train_kernels) on a tiny model:
    # its argument types do not depend on the model's size
    from dqfl.quantum.dqnn import DQNN
    from dqfl.training import train_local

    model = DQNN(3, 2, 2, dtype=dtype)
    x, y = torch.rand(3, 8, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 0])
    train_local(model, x, y, epochs=1, batch_size=2, lr=0.01, seed=0, distill=0.1)
    return time.perf_counter() - start
