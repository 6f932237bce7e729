"""Compiled state passes (numba) of the adjoint path on the CPU: a whole forward or backward in
one call.

At the DQNN's sizes (256 x 32 amplitudes at n = 8, batch 32) one layer is a few tens of
microseconds of arithmetic, about what PyTorch spends dispatching a handful of operations; a
step written as dozens of torch operations is mostly bookkeeping. Here the forward pass (build
every step matrix, run every layer, square the exits) and the backward pass (the conjugate
cotangent through every transposed step, each step's matrix cotangent contracted while both its
operands are in cache, every angle's gradient) are one compiled call each.

Layout: states are planar, ``(2, D, B)`` = (real, imaginary) x amplitude x batch, so the inner
loops run over the contiguous batch in the state's own precision (float32 or float64) and
vectorise. ``store[s, l]`` is the input of step s in layer l, ``store[0, L]`` the output. A step
is a row of ``steps``: (direct, lo, k, target bit, control bit, table offset, table rows,
matrix offset); see :mod:`dqfl.quantum.adjoint` for the plan and the maths.

Every helper here and in :mod:`dqfl.quantum._segment_kernels` is ``inline="always"`` and the
passes are ``fastmath``: a helper compiled on its own is inlined by LLVM one way when the pass
is compiled and another when it is loaded from numba's cache, which rounded gradients
differently in the two cases; inlined at numba's level, the pass is one function either way.
Keep new helpers inlined too (inlined code takes the caller's fastmath flags).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dqfl.quantum._segment_kernels import gate_grads, segment_grads, segment_matrices

DIRECT, LO, K, TBIT, CBIT, TAB0, TABN, MAT0 = range(8)
TILE = 256  # batch-side columns per pass: four output rows of a tile stay in L1
CTILE = 1024  # columns per contraction: fewer reductions across lanes; the tile stays in L2
BLK = 64  # a transposition's square blocks (measured: 16 is too short to vectorise)


@njit(fastmath=True, cache=True, inline="always")
def _blocks(x, groups, size, cols):
    """The real and imaginary planes of a planar state viewed (groups, size, cols)."""
    return x[0].reshape(groups, size, cols), x[1].reshape(groups, size, cols)


@njit(fastmath=True, cache=True, inline="always")
def _segment(m, x, out, groups, size, cols, acc):
    """``out = M x`` on the rows of planar states viewed (2, groups, size, cols); ``m``
    (2, size, size) planar in the state's precision (pass the transpose for ``M^T x``);
    ``acc`` (8, TILE) scratch."""
    xr, xi = _blocks(x, groups, size, cols)
    yr, yi = _blocks(out, groups, size, cols)
    for a in range(groups):
        for c0 in range(0, cols, TILE):
            _tile(m[0], m[1], xr[a], xi[a], yr[a], yi[a], c0, min(c0 + TILE, cols), acc)


@njit(fastmath=True, cache=True, inline="always")
def _tile(mr, mi, xr, xi, yr, yi, c0, c1, acc):
    """``y[:, c0:c1] = M x[:, c0:c1]`` on one group's (size, cols) planes: four output rows at a
    time, summed over the columns in the scratch ``acc`` (which aliases nothing, so the
    compiler vectorises it) and then stored."""
    size, w = xr.shape[0], c1 - c0
    for i0 in range(0, size, 4):  # segments hold >= 2 wires: size % 4 == 0
        for t in range(8):
            for c in range(w):
                acc[t, c] = 0
        for j in range(size):
            ur, ui = xr[j, c0:c1], xi[j, c0:c1]
            r0, r1, r2, r3 = mr[i0, j], mr[i0 + 1, j], mr[i0 + 2, j], mr[i0 + 3, j]
            q0, q1, q2, q3 = mi[i0, j], mi[i0 + 1, j], mi[i0 + 2, j], mi[i0 + 3, j]
            for c in range(w):
                p, q = ur[c], ui[c]
                acc[0, c] += r0 * p - q0 * q
                acc[1, c] += r0 * q + q0 * p
                acc[2, c] += r1 * p - q1 * q
                acc[3, c] += r1 * q + q1 * p
                acc[4, c] += r2 * p - q2 * q
                acc[5, c] += r2 * q + q2 * p
                acc[6, c] += r3 * p - q3 * q
                acc[7, c] += r3 * q + q3 * p
        for t in range(4):
            dr, di = yr[i0 + t, c0:c1], yi[i0 + t, c0:c1]
            for c in range(w):
                dr[c] = acc[2 * t, c]
                di[c] = acc[2 * t + 1, c]


@njit(fastmath=True, cache=True, inline="always")
def _tile_contract(lr, li, xr, xi, g, c0, c1):
    """``g[:, i, j] += sum lam[i, c0:c1] x[j, c0:c1]`` on one group's (size, cols) planes, two
    rows of each at a time: eight running sums share four loads of each operand."""
    size = xr.shape[0]
    for i in range(0, size, 2):
        a0r, a0i, a1r, a1i = lr[i, c0:c1], li[i, c0:c1], lr[i + 1, c0:c1], li[i + 1, c0:c1]
        for j in range(0, size, 2):
            b0r, b0i, b1r, b1i = xr[j, c0:c1], xi[j, c0:c1], xr[j + 1, c0:c1], xi[j + 1, c0:c1]
            r00 = a0r[0] - a0r[0]  # the states' precision (a literal 0 would make it float64)
            r01 = r10 = r11 = i00 = i01 = i10 = i11 = r00
            for c in range(c1 - c0):
                p0, q0, p1, q1 = a0r[c], a0i[c], a1r[c], a1i[c]
                u0, v0, u1, v1 = b0r[c], b0i[c], b1r[c], b1i[c]
                r00 += p0 * u0 - q0 * v0
                i00 += p0 * v0 + q0 * u0
                r01 += p0 * u1 - q0 * v1
                i01 += p0 * v1 + q0 * u1
                r10 += p1 * u0 - q1 * v0
                i10 += p1 * v0 + q1 * u0
                r11 += p1 * u1 - q1 * v1
                i11 += p1 * v1 + q1 * u1
            g[0, i, j] += r00
            g[1, i, j] += i00
            g[0, i, j + 1] += r01
            g[1, i, j + 1] += i01
            g[0, i + 1, j] += r10
            g[1, i + 1, j] += i10
            g[0, i + 1, j + 1] += r11
            g[1, i + 1, j + 1] += i11


@njit(fastmath=True, cache=True, inline="always")
def _segment_back(mt, lam, x, g, out, groups, size, cols, acc):
    """One segment of the backward, a column tile at a time so ``lam`` is read from memory once:
    ``g[:, i, j] += sum lam[i] x[j]`` (complex, planar (2, size, size) float64; each tile's
    partial sums in the states' precision) and ``out = M^T lam`` (``mt`` the transposed
    matrix)."""
    lr, li = _blocks(lam, groups, size, cols)
    xr, xi = _blocks(x, groups, size, cols)
    yr, yi = _blocks(out, groups, size, cols)
    for a in range(groups):
        for c0 in range(0, cols, CTILE):
            c1 = min(c0 + CTILE, cols)
            _tile_contract(lr[a], li[a], xr[a], xi[a], g, c0, c1)
            for t0 in range(c0, c1, TILE):
                _tile(mt[0], mt[1], lr[a], li[a], yr[a], yi[a], t0, min(t0 + TILE, c1), acc)


@njit(fastmath=True, cache=True, inline="always")
def _segment_contract(lam, x, g, groups, size, cols):
    """:func:`_segment_back` without ``out``: the first step's contraction when no gradient of
    the start state is wanted (the same tiles, so the same sums)."""
    lr, li = _blocks(lam, groups, size, cols)
    xr, xi = _blocks(x, groups, size, cols)
    for a in range(groups):
        for c0 in range(0, cols, CTILE):
            _tile_contract(lr[a], li[a], xr[a], xi[a], g, c0, min(c0 + CTILE, cols))


@njit(fastmath=True, cache=True, inline="always")
def _direct(m, x, out, tbit, cbit, transpose):
    """``out =`` a (controlled) 2x2 gate ``m`` (2, 2, 2) planar on the rows of planar (2, D, B)
    states."""
    r00, r01, r10, r11 = m[0, 0, 0], m[0, 0, 1], m[0, 1, 0], m[0, 1, 1]
    q00, q01, q10, q11 = m[1, 0, 0], m[1, 0, 1], m[1, 1, 0], m[1, 1, 1]
    if transpose:
        r01, r10, q01, q10 = r10, r01, q10, q01
    for i in range(x.shape[1]):
        if i & tbit:
            continue
        j = i | tbit
        if cbit and not i & cbit:
            for p in range(2):
                out[p, i] = x[p, i]
                out[p, j] = x[p, j]
            continue
        xr0, xi0, xr1, xi1 = x[0, i], x[1, i], x[0, j], x[1, j]
        yr0, yi0, yr1, yi1 = out[0, i], out[1, i], out[0, j], out[1, j]
        for c in range(x.shape[2]):
            ar, ai, br, bi = xr0[c], xi0[c], xr1[c], xi1[c]
            yr0[c] = r00 * ar - q00 * ai + r01 * br - q01 * bi
            yi0[c] = r00 * ai + q00 * ar + r01 * bi + q01 * br
            yr1[c] = r10 * ar - q10 * ai + r11 * br - q11 * bi
            yi1[c] = r10 * ai + q10 * ar + r11 * bi + q11 * br


@njit(fastmath=True, cache=True, inline="always")
def _direct_back(m, lam, x, g, out, tbit, cbit):
    """The backward of a direct gate with angles in one pass over its rows: ``g[:, t, u] +=
    sum lam[row t] x[row u]`` over the gate's (controlled) row pairs and ``out = m^T lam``."""
    r00, r01, r10, r11 = m[0, 0, 0], m[0, 1, 0], m[0, 0, 1], m[0, 1, 1]
    q00, q01, q10, q11 = m[1, 0, 0], m[1, 1, 0], m[1, 0, 1], m[1, 1, 1]
    for i in range(x.shape[1]):
        if i & tbit:
            continue
        j = i | tbit
        if cbit and not i & cbit:
            for p in range(2):
                out[p, i] = lam[p, i]
                out[p, j] = lam[p, j]
            continue
        l0r, l0i, l1r, l1i = lam[0, i], lam[1, i], lam[0, j], lam[1, j]
        x0r, x0i, x1r, x1i = x[0, i], x[1, i], x[0, j], x[1, j]
        y0r, y0i, y1r, y1i = out[0, i], out[1, i], out[0, j], out[1, j]
        a00 = l0r[0] - l0r[0]  # the states' precision (a literal 0 would make it float64)
        a01 = a10 = a11 = b00 = b01 = b10 = b11 = a00
        for c in range(x.shape[2]):
            ar, ai, br, bi = l0r[c], l0i[c], l1r[c], l1i[c]
            ur, ui, vr, vi = x0r[c], x0i[c], x1r[c], x1i[c]
            a00 += ar * ur - ai * ui
            b00 += ar * ui + ai * ur
            a01 += ar * vr - ai * vi
            b01 += ar * vi + ai * vr
            a10 += br * ur - bi * ui
            b10 += br * ui + bi * ur
            a11 += br * vr - bi * vi
            b11 += br * vi + bi * vr
            y0r[c] = r00 * ar - q00 * ai + r01 * br - q01 * bi
            y0i[c] = r00 * ai + q00 * ar + r01 * bi + q01 * br
            y1r[c] = r10 * ar - q10 * ai + r11 * br - q11 * bi
            y1i[c] = r10 * ai + q10 * ar + r11 * bi + q11 * br
        g[0, 0, 0] += a00
        g[1, 0, 0] += b00
        g[0, 0, 1] += a01
        g[1, 0, 1] += b01
        g[0, 1, 0] += a10
        g[1, 1, 0] += b10
        g[0, 1, 1] += a11
        g[1, 1, 1] += b11


@njit(cache=True, inline="always")
def _step_view(steps, s, n, batch):
    """(groups, size, cols) of a segment step on the (D, B) rows."""
    lo, k = steps[s, LO], steps[s, K]
    return 1 << lo, 1 << k, (1 << (n - lo - k)) * batch


@njit(cache=True)
def step_matrices(u3, cu3, ops, tables, steps, dtype_probe):
    """Every step's matrices of every layer, planar ``(S, L, 2, Kmax, Kmax)`` in the state's
    precision; ``ops`` (L, N, 2, 2) holds the fixed rows' matrices (see ``_segment_kernels``)."""
    n_steps, n_layers = steps.shape[0], u3.shape[0]
    kmax = 1
    for s in range(n_steps):
        kmax = max(kmax, 1 << steps[s, K])
    planar = np.zeros((n_steps, n_layers, 2, kmax, kmax), dtype_probe.dtype)
    for s in range(n_steps):
        size = 1 << steps[s, K]
        table = tables[steps[s, TAB0] : steps[s, TAB0] + steps[s, TABN]]
        mats = segment_matrices(u3, cu3, ops, table, steps[s, K])
        for layer in range(n_layers):
            for i in range(size):
                for j in range(size):
                    v = mats[layer, i, j]
                    planar[s, layer, 0, i, j] = v.real
                    planar[s, layer, 1, i, j] = v.imag
    return planar


@njit(fastmath=True, cache=True, inline="always")
def _square(psi, probs, buf):
    """``probs`` (B, D) = ``|psi|**2`` of planar (2, D, B) states. Transpositions go through
    BLK x BLK blocks in ``buf`` (every cache line read or written whole, once), batch blocks
    outside: then the (B, D) side is written as BLK rows at a time, each sequentially (the
    other order touched a page of each of B rows per block: a TLB miss per line)."""
    dim, batch = psi.shape[1], psi.shape[2]
    for b0 in range(0, batch, BLK):
        bw = min(BLK, batch - b0)
        for d0 in range(0, dim, BLK):
            dw = min(BLK, dim - d0)
            for d in range(dw):
                pr, pi = psi[0, d0 + d, b0 : b0 + bw], psi[1, d0 + d, b0 : b0 + bw]
                for b in range(bw):
                    buf[d, b] = pr[b] * pr[b] + pi[b] * pi[b]
            for b in range(bw):
                row = probs[b0 + b, d0 : d0 + dw]
                for d in range(dw):
                    row[d] = buf[d, b]


@njit(fastmath=True, cache=True, inline="always")
def _seed(lam, psi, grad_probs, buf):
    """``lam += 2 conj(psi) dL/dp`` at an exit (``grad_probs`` (B, D)); blocks as in
    :func:`_square`."""
    dim, batch = psi.shape[1], psi.shape[2]
    for b0 in range(0, batch, BLK):
        bw = min(BLK, batch - b0)
        for d0 in range(0, dim, BLK):
            dw = min(BLK, dim - d0)
            for b in range(bw):
                row = grad_probs[b0 + b, d0 : d0 + dw]
                for d in range(dw):
                    buf[d, b] = 2 * row[d]
            for d in range(dw):
                pr, pi = psi[0, d0 + d, b0 : b0 + bw], psi[1, d0 + d, b0 : b0 + bw]
                lr, li = lam[0, d0 + d, b0 : b0 + bw], lam[1, d0 + d, b0 : b0 + bw]
                for b in range(bw):
                    lr[b] += buf[d, b] * pr[b]
                    li[b] -= buf[d, b] * pi[b]


@njit(fastmath=True, cache=True, inline="always")
def _square_rows(psi, probs):
    """``probs`` (D, B) (a strided view is fine) = ``|psi|**2`` of planar (2, D, B) states, no
    transposition."""
    for d in range(psi.shape[1]):
        pr, pi, row = psi[0, d], psi[1, d], probs[d]
        for b in range(psi.shape[2]):
            row[b] = pr[b] * pr[b] + pi[b] * pi[b]


@njit(fastmath=True, cache=True, inline="always")
def _seed_rows(lam, psi, grad_probs):
    """:func:`_seed` from ``grad_probs`` (D, B) (a strided view is fine): the same products,
    no transposition."""
    for d in range(psi.shape[1]):
        pr, pi, row = psi[0, d], psi[1, d], grad_probs[d]
        lr, li = lam[0, d], lam[1, d]
        for b in range(psi.shape[2]):
            t = 2 * row[b]
            lr[b] += t * pr[b]
            li[b] -= t * pi[b]


@njit(fastmath=True, cache=True, inline="always")
def _transpose(src, dst, buf):
    """``dst`` (n, m) = ``src`` (m, n) transposed; blocks as in :func:`_square`, the shorter
    side (the batch) in the outer loop."""
    rows, cols = src.shape
    for i0 in range(0, min(rows, cols), BLK):
        for k0 in range(0, max(rows, cols), BLK):
            r0, c0 = (i0, k0) if rows <= cols else (k0, i0)
            rw, cw = min(BLK, rows - r0), min(BLK, cols - c0)
            for r in range(rw):
                row = src[r0 + r, c0 : c0 + cw]
                for c in range(cw):
                    buf[c, r] = row[c]
            for c in range(cw):
                out = dst[c0 + c, r0 : r0 + rw]
                for r in range(rw):
                    out[r] = buf[c, r]


@njit(fastmath=True, cache=True)
def walsh(a):
    """In place: ``a`` (D, M) -> ``H a`` with ``H[f, d] = (-1)**popcount(f & d)`` (unnormalised
    Walsh-Hadamard transform along the rows; H is its own transpose). Row ``f`` is then the
    expectation of the Z string on f's bits for every column of probabilities: log2(D) add/sub
    passes instead of a (F, D) sign matmul. Radix 4 (half the passes over memory), one radix-2
    pass when log2(D) is odd."""
    dim, m = a.shape
    h = 1
    while h * 4 <= dim:
        for i0 in range(0, dim, 4 * h):
            for i in range(i0, i0 + h):
                w, x, y, z = a[i], a[i + h], a[i + 2 * h], a[i + 3 * h]
                for c in range(m):
                    p, q, r, t = w[c], x[c], y[c], z[c]
                    p, q = p + q, p - q
                    r, t = r + t, r - t
                    w[c] = p + r
                    y[c] = p - r
                    x[c] = q + t
                    z[c] = q - t
        h *= 4
    if h < dim:
        for i in range(h):
            x, y = a[i], a[i + h]
            for c in range(m):
                u, v = x[c], y[c]
                x[c] = u + v
                y[c] = u - v


@njit(fastmath=True, cache=True)
def forward(psi0, planar, steps, n, n_layers, k, store, probs, rows_first):
    """Run every layer from the real start states ``psi0`` (B, D) into ``store``
    (S, L+1, 2, D, B) and write every block's exit probabilities into ``probs``: (E, B, D), or
    (D, E, B) when ``rows_first`` (the states' own order: no transposition, and one matmul
    takes every exit's features, see :mod:`dqfl.quantum.fused`)."""
    n_steps, batch = steps.shape[0], psi0.shape[0]
    acc = np.empty((8, TILE), store.dtype)
    buf = np.empty((BLK, BLK), store.dtype)
    _transpose(psi0, store[0, 0, 0], buf)
    store[0, 0, 1] = 0
    for layer in range(n_layers):
        for s in range(n_steps):
            out = store[s + 1, layer] if s + 1 < n_steps else store[0, layer + 1]
            size = 1 << steps[s, K]
            m = planar[s, layer, :, :size, :size]
            if steps[s, DIRECT]:
                _direct(m, store[s, layer], out, steps[s, TBIT], steps[s, CBIT], False)
            else:
                groups, size, cols = _step_view(steps, s, n, batch)
                _segment(m, store[s, layer], out, groups, size, cols, acc)
        if (layer + 1) % k == 0:
            e = (layer + 1) // k - 1
            if rows_first:
                _square_rows(store[0, layer + 1], probs[:, e])
            else:
                _square(store[0, layer + 1], probs[e], buf)


@njit(fastmath=True, cache=True)
def backward(
    grad_probs,
    store,
    planar,
    steps,
    tables,
    u3,
    cu3,
    ops,
    n,
    k,
    grad_psi0,
    grad_u3,
    grad_cu3,
    rows_first,
    need_psi0,
):
    """The adjoint sweep: the conjugate cotangent ``lam`` starts at zero, picks up
    ``2 conj(psi) dL/dp`` at every exit, runs back through the transposed steps; each step's
    ``sum lam x^T`` (the conjugate of its matrix cotangent) is taken on the way and turned into
    angle gradients at the end (a step of a fixed op alone has none to take). ``grad_probs`` is
    laid out as :func:`forward`'s ``probs`` (``rows_first``). ``grad_psi0`` (B, D) receives
    Re(lam) at the start state when ``need_psi0``; otherwise the first step only contracts (its
    output would be that cotangent) and ``grad_psi0`` is left alone."""
    n_steps, n_layers = steps.shape[0], u3.shape[0]
    dim, batch = store.shape[3], store.shape[4]
    kmax = planar.shape[3]
    lam = np.zeros((2, dim, batch), store.dtype)
    nxt = np.empty_like(lam)
    acc = np.empty((8, TILE), store.dtype)
    mt = np.empty((2, kmax, kmax), store.dtype)
    buf = np.empty((BLK, BLK), store.dtype)
    contr = np.zeros((n_steps, n_layers, 2, kmax, kmax), np.float64)
    for layer in range(n_layers - 1, -1, -1):
        if (layer + 1) % k == 0:
            e = (layer + 1) // k - 1
            if rows_first:
                _seed_rows(lam, store[0, layer + 1], grad_probs[:, e])
            else:
                _seed(lam, store[0, layer + 1], grad_probs[e], buf)
        for s in range(n_steps - 1, -1, -1):
            x = store[s, layer]
            size = 1 << steps[s, K]
            m = planar[s, layer, :, :size, :size]
            g = contr[s, layer, :, :size, :size]
            if steps[s, DIRECT]:
                if tables[steps[s, TAB0], 0] != 2:
                    _direct_back(m, lam, x, g, nxt, steps[s, TBIT], steps[s, CBIT])
                else:  # a fixed operator: no angle, nothing to contract
                    _direct(m, lam, nxt, steps[s, TBIT], steps[s, CBIT], True)
            elif layer == 0 and s == 0 and not need_psi0:
                groups, size, cols = _step_view(steps, s, n, batch)
                _segment_contract(lam, x, g, groups, size, cols)
            else:
                groups, size, cols = _step_view(steps, s, n, batch)
                t = mt[:, :size, :size]
                for p in range(2):
                    for i in range(size):
                        for j in range(size):
                            t[p, i, j] = m[p, j, i]
                _segment_back(t, lam, x, g, nxt, groups, size, cols, acc)
            lam, nxt = nxt, lam
    if need_psi0:
        _transpose(lam[0], grad_psi0, buf)
    for s in range(n_steps):
        size = 1 << steps[s, K]
        conj = np.empty((n_layers, size, size), np.complex128)
        for layer in range(n_layers):
            for i in range(size):
                for j in range(size):
                    conj[layer, i, j] = contr[s, layer, 0, i, j] + 1j * contr[s, layer, 1, i, j]
        table = tables[steps[s, TAB0] : steps[s, TAB0] + steps[s, TABN]]
        if steps[s, DIRECT]:
            if table[0, 0] != 2:
                src = u3 if table[0, 0] == 0 else cu3
                dst = grad_u3 if table[0, 0] == 0 else grad_cu3
                gate_grads(src[:, table[0, 1]], conj, dst[:, table[0, 1]])
        else:
            segment_grads(u3, cu3, ops, table, steps[s, K], conj, grad_u3, grad_cu3)
