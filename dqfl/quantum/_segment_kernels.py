"""Compiled kernels (numba) for the adjoint path's small, batch-independent matrices.

A segment's matrix (``2**k x 2**k``, k <= 7 on the DQNN's sizes) is a product of a dozen 2x2
gates. Built with torch, every gate costs several dispatched operations forward and more
backward, and at these sizes that bookkeeping, not arithmetic, dominates a training step. Here
the whole product, and its reverse-mode derivative in every angle, is one compiled loop.

Gate tables are int64 rows ``(kind, index, target, control)``: ``kind`` 0 = U3 (angles from
``u3[layer, index]``), 1 = CU3 (angles from ``cu3[layer, index]``), 2 = a fixed 2x2 matrix
``ops[layer, index]`` without angles (a noise trajectory's sampled Kraus operator; noiseless
circuits pass an empty ``ops``); wires are local to the segment (wire 0 = most significant bit)
and ``control`` is -1 for single-wire rows. Angles follow
``qml.U3(theta, phi, delta)``; complex gradients follow torch's convention ``dL/dRe + i dL/dIm``,
so ``dL/dtheta = Re sum(conj(dL/dU) * dU/dtheta)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, fastmath=True, inline="always")
def _u3(theta, phi, delta):
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    ea, eb = np.exp(1j * phi), np.exp(1j * delta)
    return c + 0j, -eb * s, ea * s, ea * eb * c


@njit(cache=True, fastmath=True, inline="always")
def _apply(x, g00, g01, g10, g11, target, control, k):
    """Gate on the rows of ``x`` (2**k, m), in place."""
    tb = 1 << (k - 1 - target)
    cb = 0 if control < 0 else 1 << (k - 1 - control)
    for i in range(x.shape[0]):
        if i & tb or (cb and not i & cb):
            continue
        j = i | tb
        for c in range(x.shape[1]):
            a, b = x[i, c], x[j, c]
            x[i, c] = g00 * a + g01 * b
            x[j, c] = g10 * a + g11 * b


@njit(cache=True, fastmath=True, inline="always")
def _row(table, r, layer, u3, cu3, ops):
    """Row ``r``'s 2x2 matrix in ``layer`` and its angles (zeros for a fixed op)."""
    kind, index = table[r, 0], table[r, 1]
    if kind == 2:
        m = ops[layer, index]
        return m[0, 0], m[0, 1], m[1, 0], m[1, 1], 0.0, 0.0, 0.0
    src = u3 if kind == 0 else cu3
    th, ph, de = src[layer, index, 0], src[layer, index, 1], src[layer, index, 2]
    g00, g01, g10, g11 = _u3(th, ph, de)
    return g00, g01, g10, g11, th, ph, de


@njit(cache=True, fastmath=True, inline="always")
def segment_matrices(u3, cu3, ops, table, k):
    """(L, 2**k, 2**k) complex128: the rows of ``table`` applied in order, for every layer."""
    n_layers, d = u3.shape[0], 1 << k
    out = np.zeros((n_layers, d, d), np.complex128)
    for layer in range(n_layers):
        x = out[layer]
        for i in range(d):
            x[i, i] = 1.0
        for r in range(table.shape[0]):
            g00, g01, g10, g11, _, _, _ = _row(table, r, layer, u3, cu3, ops)
            _apply(x, g00, g01, g10, g11, table[r, 2], table[r, 3], k)
    return out


@njit(cache=True, fastmath=True, inline="always")
def _angle_grad(q00, q01, q10, q11, theta, phi, delta, out):
    """Add dL/d(theta, phi, delta) of a U3 whose matrix cotangent is ``q`` to ``out`` (3,)."""
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    ea, eb = np.exp(1j * phi), np.exp(1j * delta)
    q00, q01, q10, q11 = np.conj(q00), np.conj(q01), np.conj(q10), np.conj(q11)
    abc = ea * eb * c
    out[0] += (0.5 * (-q00 * s - q01 * eb * c + q10 * ea * c - q11 * ea * eb * s)).real
    out[1] += (1j * (q10 * ea * s + q11 * abc)).real
    out[2] += (1j * (-q01 * eb * s + q11 * abc)).real


@njit(cache=True, fastmath=True, inline="always")
def segment_grads(u3, cu3, ops, table, k, conj_grads, grad_u3, grad_cu3):
    """Add the angle gradients of every gate in ``table`` to ``grad_u3``/``grad_cu3``, given the
    conjugates of the segment matrices' cotangents ``conj_grads`` (L, 2**k, 2**k) (any complex
    precision; what the state pass contracts): the products of the rows before each row (its
    input) are kept from a forward sweep, and the cotangent walks the rows backwards. Keeping
    them, rather than undoing each row on the segment matrix, is what lets fixed rows be
    non-unitary (sampled Kraus operators; amplitude damping's are singular)."""
    n_layers, d, n_rows = u3.shape[0], 1 << k, table.shape[0]
    inputs = np.zeros((n_rows, d, d), np.complex128)
    for layer in range(n_layers):
        x = np.zeros((d, d), np.complex128)
        for i in range(d):
            x[i, i] = 1.0
        for r in range(n_rows):
            inputs[r] = x
            g00, g01, g10, g11, _, _, _ = _row(table, r, layer, u3, cu3, ops)
            _apply(x, g00, g01, g10, g11, table[r, 2], table[r, 3], k)
        gy = np.conj(conj_grads[layer]).astype(np.complex128)
        for r in range(n_rows - 1, -1, -1):
            g00, g01, g10, g11, th, ph, de = _row(table, r, layer, u3, cu3, ops)
            t, ctl = table[r, 2], table[r, 3]
            if table[r, 0] != 2:
                y = inputs[r]
                tb = 1 << (k - 1 - t)
                cb = 0 if ctl < 0 else 1 << (k - 1 - ctl)
                q00 = q01 = q10 = q11 = 0j
                for i in range(d):
                    if i & tb or (cb and not i & cb):
                        continue
                    j = i | tb
                    for c in range(d):
                        xi, xj = np.conj(y[i, c]), np.conj(y[j, c])
                        q00 += gy[i, c] * xi
                        q01 += gy[i, c] * xj
                        q10 += gy[j, c] * xi
                        q11 += gy[j, c] * xj
                dst = grad_u3 if table[r, 0] == 0 else grad_cu3
                _angle_grad(q00, q01, q10, q11, th, ph, de, dst[layer, table[r, 1]])
            # the cotangent at the row's input: G^H applied to the one at its output
            _apply(gy, np.conj(g00), np.conj(g10), np.conj(g01), np.conj(g11), t, ctl, k)


@njit(cache=True, fastmath=True, inline="always")
def gate_grads(angles, conj_grads, out):
    """Add dL/d(angles) (L, 3) of one U3 per layer whose 2x2 cotangents are the conjugates of
    ``conj_grads``."""
    for layer in range(angles.shape[0]):
        q = np.conj(conj_grads[layer]).astype(np.complex128)
        a = angles[layer]
        _angle_grad(q[0, 0], q[0, 1], q[1, 0], q[1, 1], a[0], a[1], a[2], out[layer])
