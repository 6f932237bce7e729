"""A vehicle's whole local training of the fused default DQNN in one compiled call (numba).

At n = 8, batch 32 the compiled state passes are ~0.9 ms of a ~1.6-2.1 ms training step; the
rest was Python around them (encoding, stacking angles, readout matmuls, the loss, the Adam step,
slicing batches). Here every epoch and mini-batch runs in one call on numpy buffers allocated once:

* parameters live in FlatAdam's flat buffer (:mod:`dqfl.optim`); ``offsets[e]`` gives block e's
  (u3, cu3, gain, bias) offsets, ``w_off`` the class map W (F, C) of block 0;
* per mini-batch: gather the encoded rows ``psi0`` of the batch (``perms`` are the epochs'
  shuffles), build the step matrices, :func:`~dqfl.quantum._state_kernels.forward`, the shared
  readout ``logits_e = (p_e S) g_e W + b_e`` (``S`` by matmul, or by the Walsh transform when
  ``by_walsh``, as :mod:`dqfl.quantum.fused`), the loss and its closed-form gradient
  (:func:`dqfl.training.exit_loss_and_grad`), the readout's backward, then
  :func:`~dqfl.quantum._state_kernels.backward`;
* the proximal term ``prox_mu / 2 ||theta - gflat||^2`` on the entries where ``pmask`` is set;
* FlatAdam's update in the buffer's precision: ``m += (1 - b1)(g - m)``,
  ``v = b2 v + (1 - b2) g^2``, ``theta += -lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.

One compiled function: the shared passes are inlined copies (numba IR), not calls. A call
links to whichever build of the callee the process loaded first (its own cached one, or the copy
optimised inside this kernel), and those round differently under ``fastmath``: results depended
on what had run before. Inlined, a process that compiles this kernel and one that loads it from
numba's cache compute the same bits (README). numba's cache does not notice edits to
:mod:`dqfl.quantum._state_kernels`: delete ``dqfl/quantum/__pycache__`` after changing it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from dqfl.quantum import _state_kernels as state_kernels


def _inlined(kernel):
    """A copy of a shared kernel that numba inlines into the caller (module docstring)."""
    return njit(fastmath=True, inline="always")(kernel.py_func)


forward, backward = _inlined(state_kernels.forward), _inlined(state_kernels.backward)
step_matrices, walsh = _inlined(state_kernels.step_matrices), _inlined(state_kernels.walsh)

U3, CU3, GAIN, BIAS = range(4)
TEMPERATURE = 2.0  # dqfl.training.DISTILL_TEMPERATURE (the tests hold the two paths equal)


@njit(fastmath=True, cache=True, inline="always")
def _buffers(n_steps, n_layers, dim, batch, depth, by_walsh, dtype_probe):
    """A batch size's state store, exit probabilities and start states."""
    dt = dtype_probe.dtype
    store = np.empty((n_steps, n_layers + 1, 2, dim, batch), dt)
    probs = np.empty((dim, depth, batch) if by_walsh else (depth, batch, dim), dt)
    return store, probs, np.empty((batch, dim), dt)


@njit(fastmath=True, cache=True, inline="always")
def _scalar(x, probe):
    """``x`` in the precision of the array ``probe`` (arithmetic stays in it)."""
    out = np.empty(1, probe.dtype)
    out[0] = x
    return out[0]


@njit(fastmath=True, cache=True, inline="always")
def _softmax(z, scale, logp, p):
    """``logp[r] = log_softmax(z[r] * scale)`` and ``p[r] = softmax(z[r] * scale)`` over the
    last axis of (R, C) arrays (one exponential per entry)."""
    for r in range(z.shape[0]):
        mx = z[r, 0] * scale
        for c in range(z.shape[1]):
            mx = max(mx, z[r, c] * scale)
        s = z[r, 0] - z[r, 0]
        for c in range(z.shape[1]):
            logp[r, c] = z[r, c] * scale - mx
            p[r, c] = np.exp(logp[r, c])
            s += p[r, c]
        ls, inv = np.log(s), 1 / s
        for c in range(z.shape[1]):
            logp[r, c] -= ls
            p[r, c] *= inv


@njit(fastmath=True, cache=True, inline="always")
def _loss_and_grad(logits, y, weights, distill, grad, logp, scaled, p_t, correct):
    """Loss of (d, B, C) logits and ``grad`` = dL/dlogits (training.exit_loss_and_grad's
    maths); adds each exit's correct top-1 counts to ``correct``. ``logp``, ``scaled`` and
    ``p_t`` are scratch like ``logits``."""
    depth, batch, n_classes = logits.shape
    one = _scalar(1, logits)
    loss = 0.0
    for e in range(depth):
        _softmax(logits[e], one, logp[e], grad[e])  # grad[e] = p(z_e) for now
        ce = 0.0
        we = _scalar(weights[e] / batch, logits)
        for b in range(batch):
            ce += logp[e, b, y[b]]
            best = 0
            for c in range(n_classes):
                if logits[e, b, c] > logits[e, b, best]:
                    best = c
            grad[e, b, y[b]] -= 1
            for c in range(n_classes):
                grad[e, b, c] *= we
            correct[e] += best == y[b]
        loss -= weights[e] * (ce / batch)
    if distill > 0 and depth > 1:
        t = TEMPERATURE
        inv_t = _scalar(1 / t, logits)
        for e in range(depth):
            _softmax(logits[e], inv_t, scaled[e], p_t[e])  # log p(z_e / T), p(z_e / T)
        teacher, p_teacher = scaled[depth - 1], p_t[depth - 1]
        for e in range(depth - 1):
            kl = 0.0
            f = _scalar(distill * t / batch * weights[e], logits)
            for b in range(batch):
                for c in range(n_classes):
                    pt = p_teacher[b, c]
                    kl += pt * (teacher[b, c] - scaled[e, b, c])
                    grad[e, b, c] += (p_t[e, b, c] - pt) * f
            loss += distill * t * t * weights[e] * (kl / batch)
    return loss


@njit(fastmath=True, cache=True)
def train_epochs(
    rows,
    labels,
    perms,
    batch_size,
    flat,
    m,
    v,
    t0,
    lr,
    beta1,
    beta2,
    eps,
    offsets,
    w_off,
    n_classes,
    k,
    n_pairs,
    steps,
    tables,
    ops,
    signs,
    signs_t,
    masks,
    by_walsh,
    weights,
    distill,
    prox_mu,
    gflat,
    pmask,
):
    """Train in place (module docstring); returns (the last epoch's summed loss, its correct
    top-1 counts per exit). ``rows`` (N, D) are the encoded start states, ``perms`` (epochs, N)
    the shuffles, ``t0`` FlatAdam's step count before the call."""
    n, dim = rows.shape
    n_qubits = 0
    while 1 << n_qubits < dim:
        n_qubits += 1
    depth = weights.shape[0]
    n_layers, n_features, n_steps = depth * k, signs.shape[1], steps.shape[0]
    full = min(batch_size, n)
    rest = n % full if n % full else full
    store_a, probs_a, psi_a = _buffers(n_steps, n_layers, dim, full, depth, by_walsh, flat[:0])
    store_b, probs_b, psi_b = _buffers(n_steps, n_layers, dim, rest, depth, by_walsh, flat[:0])
    u3 = np.empty((n_layers, n_qubits, 3))
    cu3 = np.empty((n_layers, n_pairs, 3))
    grad_u3, grad_cu3 = np.empty_like(u3), np.empty_like(cu3)
    weight = np.empty((n_features, n_classes), flat.dtype)
    gains = np.empty((depth, n_features), flat.dtype)
    grad = np.empty_like(flat)
    yb = np.empty(full, np.int64)
    no_psi0 = np.empty((0, 0), flat.dtype)
    correct = np.zeros(depth, np.int64)
    nu, ncu = k * n_qubits * 3, k * n_pairs * 3
    t, loss_sum = t0, 0.0
    b2, epsf = _scalar(beta2, flat), _scalar(eps, flat)
    for epoch in range(perms.shape[0]):
        loss_sum = 0.0
        correct[:] = 0
        for i0 in range(0, n, full):
            batch = min(full, n - i0)
            if batch == full:
                store, probs, psi0 = store_a, probs_a, psi_a
            else:
                store, probs, psi0 = store_b, probs_b, psi_b
            for r in range(batch):
                psi0[r] = rows[perms[epoch, i0 + r]]
                yb[r] = labels[perms[epoch, i0 + r]]
            # the parameters of the first `depth` blocks, as the fused path stacks them
            for e in range(depth):
                u3.reshape(-1)[e * nu : (e + 1) * nu] = flat[offsets[e, U3] : offsets[e, U3] + nu]
                cu3.reshape(-1)[e * ncu : (e + 1) * ncu] = flat[
                    offsets[e, CU3] : offsets[e, CU3] + ncu
                ]
                gains[e] = flat[offsets[e, GAIN] : offsets[e, GAIN] + n_features]
            weight.reshape(-1)[:] = flat[w_off : w_off + n_features * n_classes]
            planar = step_matrices(u3, cu3, ops, tables, steps, psi0[:0, 0])
            forward(psi0, planar, steps, n_qubits, n_layers, k, store, probs, by_walsh)
            # readout forward: feats (d B, F), z = feats * g_e, logits = z W + b_e
            rows_eb = depth * batch
            if not by_walsh:
                feats = np.dot(probs.reshape(rows_eb, dim), signs)
            else:
                flat_probs = probs.reshape(dim, rows_eb)
                walsh(flat_probs)
                feats = np.empty((rows_eb, n_features), flat.dtype)
                for f in range(n_features):
                    src = flat_probs[masks[f]]
                    for j in range(rows_eb):
                        feats[j, f] = src[j]
            z = np.empty_like(feats)
            for e in range(depth):
                for b in range(batch):
                    for f in range(n_features):
                        z[e * batch + b, f] = feats[e * batch + b, f] * gains[e, f]
            logits = np.dot(z, weight).reshape(depth, batch, n_classes)
            for e in range(depth):
                bias = flat[offsets[e, BIAS] : offsets[e, BIAS] + n_classes]
                for b in range(batch):
                    for c in range(n_classes):
                        logits[e, b, c] += bias[c]
            g = np.empty_like(logits)
            scratch = np.empty((3,) + logits.shape, logits.dtype)
            loss = _loss_and_grad(
                logits, yb[:batch], weights, distill, g, scratch[0], scratch[1], scratch[2], correct
            )
            # readout backward into the flat gradient
            g2 = g.reshape(rows_eb, n_classes)
            grad[w_off : w_off + n_features * n_classes] = np.dot(z.T, g2).reshape(-1)
            dz = np.dot(g2, weight.T)
            for e in range(depth):
                gb = grad[offsets[e, BIAS] : offsets[e, BIAS] + n_classes]
                gb[:] = 0
                for b in range(batch):
                    for c in range(n_classes):
                        gb[c] += g[e, b, c]
                gg = grad[offsets[e, GAIN] : offsets[e, GAIN] + n_features]
                gg[:] = 0
                for b in range(batch):
                    j = e * batch + b
                    for f in range(n_features):
                        gg[f] += dz[j, f] * feats[j, f]
                        dz[j, f] *= gains[e, f]  # now dL/dfeats
            if not by_walsh:
                grad_probs = np.dot(dz, signs_t).reshape(depth, batch, dim)
            else:
                scattered = np.zeros((dim, rows_eb), flat.dtype)
                for f in range(n_features):
                    dst = scattered[masks[f]]
                    for j in range(rows_eb):
                        dst[j] = dz[j, f]
                walsh(scattered)
                grad_probs = scattered.reshape(dim, depth, batch)
            grad_u3[:] = 0
            grad_cu3[:] = 0
            backward(
                grad_probs,
                store,
                planar,
                steps,
                tables,
                u3,
                cu3,
                ops,
                n_qubits,
                k,
                no_psi0,
                grad_u3,
                grad_cu3,
                by_walsh,
                False,
            )
            for e in range(depth):
                src_u = grad_u3.reshape(-1)[e * nu : (e + 1) * nu]
                dst_u = grad[offsets[e, U3] : offsets[e, U3] + nu]
                for i in range(nu):
                    dst_u[i] = src_u[i]
                src_c = grad_cu3.reshape(-1)[e * ncu : (e + 1) * ncu]
                dst_c = grad[offsets[e, CU3] : offsets[e, CU3] + ncu]
                for i in range(ncu):
                    dst_c[i] = src_c[i]
            if prox_mu > 0:
                mu, prox = _scalar(prox_mu, flat), _scalar(0, flat)
                for i in range(flat.shape[0]):
                    if pmask[i]:
                        diff = flat[i] - gflat[i]
                        grad[i] += mu * diff
                        prox += diff * diff
                loss += 0.5 * prox_mu * prox
            # FlatAdam's step
            t += 1
            w1 = _scalar(1 - beta1, flat)
            w2 = _scalar(1 - beta2, flat)
            inv_bc2 = _scalar(1 / math.sqrt(1 - beta2**t), flat)
            step = _scalar(-lr / (1 - beta1**t), flat)
            for i in range(flat.shape[0]):
                gi = grad[i]
                m[i] = m[i] + w1 * (gi - m[i])
                v[i] = v[i] * b2 + w2 * gi * gi
                flat[i] += step * (m[i] / (np.sqrt(v[i]) * inv_bc2 + epsf))
            loss_sum += loss * batch
    return loss_sum, correct
