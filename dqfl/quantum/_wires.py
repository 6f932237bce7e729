"""Apply a small matrix to chosen qubits of a batched register (shared by every simulator).

The register is a tensor whose dimension ``axis`` (default -1) has size ``2**n``; wire 0 is the
most significant bit of that index (PennyLane's order). Contiguous ascending wires are applied
with a reshape and one batched matmul (no copy); other wire orders are permuted first.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def apply_to_rows(x: torch.Tensor, u: torch.Tensor, wires: Sequence[int], n: int) -> torch.Tensor:
    """``u`` on ``wires`` of the row index of ``x`` (shape ``(..., 2**n, m)``).

    ``u`` has shape ``(..., 2**k, 2**k)``; its leading dimensions broadcast against those of x.
    """
    wires = [int(w) for w in wires]
    k = len(wires)
    if x.shape[-2] != 2**n:
        raise ValueError(f"register dimension {x.shape[-2]} is not 2**{n}")
    if u.shape[-1] != 2**k or u.shape[-2] != 2**k:
        raise ValueError(f"a {k}-qubit gate needs a {2**k}x{2**k} matrix, got {tuple(u.shape)}")
    if len(set(wires)) != k or min(wires) < 0 or max(wires) >= n:
        raise ValueError(f"invalid wires {wires} for {n} qubits")
    batch = x.shape[:-2]
    m = x.shape[-1]
    if wires == list(range(wires[0], wires[0] + k)):
        w = wires[0]
        xv = x.reshape(*batch, 2**w, 2**k, 2 ** (n - w - k) * m)
        out = u.unsqueeze(-3) @ xv
        return out.reshape(*out.shape[:-3], 2**n, m)
    nb = len(batch)
    rest = [q for q in range(n) if q not in wires]
    xv = x.reshape(*batch, *([2] * n), m)
    perm = list(range(nb)) + [nb + q for q in wires + rest] + [nb + n]
    xp = xv.permute(perm).reshape(*batch, 2**k, 2 ** (n - k) * m)
    out = u @ xp
    ob = out.shape[:-2]
    out = out.reshape(*ob, *([2] * n), m)
    inv = [0] * n
    for i, q in enumerate(wires + rest):
        inv[q] = i
    nob = len(ob)
    out = out.permute(list(range(nob)) + [nob + i for i in inv] + [nob + n])
    return out.reshape(*ob, 2**n, m)


def apply_to_state(psi: torch.Tensor, u: torch.Tensor, wires: Sequence[int], n: int):
    """``u`` on ``wires`` of statevectors ``psi`` shaped ``(..., 2**n)``."""
    return apply_to_rows(psi.unsqueeze(-1), u, wires, n).squeeze(-1)
