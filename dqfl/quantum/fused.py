"""The DQNN's default forward as one autograd node: pixels -> every exit's logits.

With the state passes compiled (:class:`dqfl.quantum.adjoint.CompiledLayerCircuit`), what was
left of a training step at n = 8, batch 32 was bookkeeping around them: the amplitude encoding,
stacking each block's angles, stacking the exits' probabilities and the shared readout, each a
handful of torch operations forward and backward (about 40 dispatched operations and their
autograd nodes, ~1.5x the state passes' own time). In the default configuration (amplitude
encoding, noiseless, ``shared`` readout, CPU) :class:`FusedExitLogits` does all of it in one
forward and one backward on numpy arrays:

* encoding: ``psi0 = v / |v|`` of the zero-padded pixels, ``|0...0>`` for a blank row
  (:func:`dqfl.quantum.encoding.amplitude_state`);
* state passes: :mod:`dqfl.quantum._state_kernels` (the same plan and kernels as the adjoint path);
* readout (:class:`dqfl.quantum.readout.SharedReadout`): ``f_e = p_e S``, ``z_e = f_e * g_e``,
  ``logits_e = z_e W + b_e``; backward ``dW = sum_e z_e^T G_e``, ``db_e = 1^T G_e``,
  ``dz_e = G_e W^T``, ``dg_e = 1^T (dz_e * f_e)``, ``dp_e = (dz_e * g_e) S^T``.
  From :data:`WALSH_MIN_QUBITS` up, the probabilities and their cotangents stay in the states'
  (amplitude, exit, batch) order (the kernels square and seed without transposing) and ``S^T P`` is
  read off a Walsh-Hadamard transform of ``P`` (every column of S is the parity of some bits, so
  each feature is one row of ``H P``) and ``S (dz g)^T`` is the transform of the feature
  cotangents scattered onto those rows: log2(D) add/sub passes instead of F x D multiply-adds
  (at n = 10, batch 32 ~70 us each way instead of ~190 us). Below it the readout is the matmul
  ``P S`` on (exit x batch, amplitude) rows and ``(dz g) S^T``, exactly the products the README's
  sweeps ran, on probabilities the kernels lay out as (exit, batch, amplitude), so the default
  n = 8 model trains bit for bit as they did (``S^T P`` straight on the states' order is faster
  but sums in another order at some batch sizes, e.g. the 24-row last mini-batch of a 600-crop
  epoch).

Quantum trajectories (gate noise, ``noise_method = "trajectories"``) run here too: a trajectory
with its Kraus draws fixed is the circuit with a fixed 2x2 operator after every gate
(:func:`dqfl.quantum.adjoint.noisy_plan`), so the node takes T trajectories' operators
(T, L, N, 2, 2), runs the same passes once per trajectory, and reads out the mean probabilities;
backward seeds each trajectory with ``dL/dp / T`` and sums the angle gradients. Through the
general path (one compiled node for the states, then the readout and the loss as torch autograd)
a T = 8 step at n = 8, batch 32 spent ~2 ms outside the state passes, a fifth of the step.

Every other configuration (density matrices, readout error, shots, other readouts, angle
encoding, PennyLane, CUDA, inputs that need a gradient) takes the general path in
:class:`dqfl.quantum.dqnn.DQNN`; the tests hold the two to the same outputs and gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dqfl.optim import FlatAdam
from dqfl.quantum import _state_kernels as state_kernels
from dqfl.quantum import _train_kernels as train_kernels
from dqfl.quantum.adjoint import compiled_plan, noisy_plan, plan_layer, segment_width
from dqfl.quantum.circuit import Circuit
from dqfl.quantum.readout import observable_signs

WALSH_MIN_QUBITS = 10  # features by the Walsh-Hadamard transform from here (module docstring)


def parity_masks(signs: np.ndarray) -> np.ndarray | None:
    """Column f of ``signs`` (D, F) as a bit mask m_f with ``signs[d, f] = (-1)**popcount(d &
    m_f)`` (read off the one-bit rows), or None if some column is not such a parity."""
    dim = signs.shape[0]
    bits = [1 << b for b in range(dim.bit_length() - 1)]
    masks = np.asarray([sum(b for b in bits if signs[b, f] < 0) for f in range(signs.shape[1])])
    d = np.arange(dim)[:, None] & masks[None, :]
    parity = np.zeros(d.shape, np.int64)
    for b in bits:
        parity ^= (d & b) > 0
    return masks if np.array_equal(signs, 1 - 2 * parity) else None


@dataclass(frozen=True, eq=False)
class FusedPlan:
    """What the fused node reads, built once per model: the compiled plan of one layer, the
    readout's sign matrix ``S`` (D, F), the rows of the
    Walsh-Hadamard transform that are the features (None: the matmuls, see the module
    docstring), the empty fixed-operator table of a noiseless run and, for trajectories, the
    kinds of a layer's noise slots (:func:`dqfl.quantum.adjoint.noisy_plan`; empty: noiseless)."""

    n_qubits: int
    layers_per_block: int
    steps: np.ndarray
    tables: np.ndarray
    signs: np.ndarray
    masks: np.ndarray | None
    no_ops: np.ndarray
    kinds: tuple[str, ...] = ()

    @classmethod
    def build(
        cls, circuit: Circuit, observables: str, dtype: torch.dtype, noisy: bool = False
    ) -> FusedPlan:
        n, width = circuit.n_qubits, segment_width(circuit.n_qubits, "compiled")
        plan, kinds = noisy_plan(circuit, width) if noisy else (plan_layer(circuit, width), ())
        steps, tables = compiled_plan(plan, n)
        signs = observable_signs(n, observables, dtype).numpy()
        masks = parity_masks(signs) if n >= WALSH_MIN_QUBITS else None
        no_ops = np.zeros((circuit.n_layers, 0, 2, 2), np.complex128)
        return cls(n, circuit.layers_per_block, steps, tables, signs, masks, no_ops, kinds)


def amplitude_rows(x: np.ndarray, dim: int) -> np.ndarray:
    """:func:`dqfl.quantum.encoding.amplitude_state` on a (B, m) array: zero-pad or truncate
    to ``dim`` columns, L2-normalise each row, ``|0...0>`` for a (near-)zero row."""
    batch, m = x.shape
    if m == dim:
        v = x.copy()
    else:
        v = np.zeros((batch, dim), x.dtype)
        v[:, : min(m, dim)] = x[:, :dim]
    norm = np.sqrt(np.einsum("bd,bd->b", v, v))[:, None]
    zero = norm[:, 0] <= 1e-12
    v /= np.where(norm <= 1e-12, 1, norm).astype(x.dtype)
    if zero.any():
        v[zero] = 0
        v[zero, 0] = 1
    return v


def _forward(
    plan: FusedPlan, n_exits: int, x: torch.Tensor, params, ops: np.ndarray | None = None
) -> tuple[np.ndarray, tuple]:
    """Logits (E, B, C) as numpy and what :func:`_backward` needs (see :func:`block_params`
    for the order of ``params``). ``ops``: T trajectories' fixed operators (T, L, N, 2, 2) for a
    noisy plan (the exits then read the mean probabilities); None: noiseless."""
    u3s, cu3s = params[:n_exits], params[n_exits : 2 * n_exits]
    weight = params[2 * n_exits].detach().numpy()
    gains = np.stack([p.detach().numpy() for p in params[2 * n_exits + 1 : 3 * n_exits + 1]])
    biases = np.stack([p.detach().numpy() for p in params[3 * n_exits + 1 :]])
    dtype = weight.dtype
    pixels = x.detach().reshape(x.shape[0], -1).numpy().astype(dtype, copy=False)
    psi0 = amplitude_rows(pixels, 2**plan.n_qubits)
    u3 = np.concatenate([p.detach().numpy() for p in u3s]).astype(np.float64)
    cu3 = np.concatenate([p.detach().numpy() for p in cu3s]).astype(np.float64)
    n_layers, (batch, dim) = u3.shape[0], psi0.shape
    ops = plan.no_ops[None, :n_layers] if ops is None else ops
    # one buffer for every trajectory's states (separate ones made the allocator hand fresh
    # pages back and forth, see CompiledLayerCircuit)
    store = np.empty((len(ops), len(plan.steps), n_layers + 1, 2, dim, batch), dtype)
    k, by_walsh = plan.layers_per_block, plan.masks is not None
    # the Walsh path reads the states' (D, E, B) order; the matmuls take (E, B, D) rows
    probs = np.empty((dim, n_exits, batch) if by_walsh else (n_exits, batch, dim), dtype)
    one = probs if len(ops) == 1 else np.empty_like(probs)  # a lone run writes the exits
    planars = []
    for t, op in enumerate(ops):
        planars.append(
            state_kernels.step_matrices(u3, cu3, op, plan.tables, plan.steps, psi0[:0, 0])
        )
        state_kernels.forward(
            psi0, planars[t], plan.steps, plan.n_qubits, n_layers, k, store[t], one, by_walsh
        )
        if len(ops) > 1:
            if t == 0:
                probs[...] = one
            else:
                probs += one
    if len(ops) > 1:
        probs /= len(ops)
    if not by_walsh:  # P S, the product the README's runs computed
        feats = (probs.reshape(-1, dim) @ plan.signs).reshape(n_exits, batch, -1)
    else:
        state_kernels.walsh(probs.reshape(dim, -1))  # in place: probs are not kept
        feats_t = probs.reshape(dim, -1)[plan.masks]
        feats = np.ascontiguousarray(feats_t.reshape(-1, n_exits, batch).transpose(1, 2, 0))
    z = feats * gains[:, None, :]
    logits = z @ weight + biases[:, None, :]
    return logits, (u3, cu3, ops, planars, store, feats, z, weight, gains)


def _backward(plan: FusedPlan, n_exits: int, saved: tuple, g: np.ndarray) -> list[torch.Tensor]:
    """Gradients of every parameter (order of :func:`block_params`) given dL/dlogits ``g``."""
    u3, cu3, ops, planars, store, feats, z, weight, gains = saved
    n_features, n_classes = weight.shape
    grad_bias = g.sum(1)
    grad_weight = z.reshape(-1, n_features).T @ g.reshape(-1, n_classes)
    dz = g @ weight.T
    grad_gain = np.einsum("ebf,ebf->ef", dz, feats)
    grad_feats = (dz * gains[:, None, :]).reshape(-1, n_features)  # (E B, F)
    dim, batch = store.shape[4], store.shape[5]
    by_walsh = plan.masks is not None
    if not by_walsh:  # (dz g) S^T as the README's runs computed it: (E, B, D)
        grad_probs = (grad_feats @ plan.signs.T).reshape(n_exits, batch, dim)
    else:
        grad_probs = np.zeros((dim, grad_feats.shape[0]), store.dtype)
        grad_probs[plan.masks] = grad_feats.T
        state_kernels.walsh(grad_probs)
        grad_probs = grad_probs.reshape(dim, n_exits, batch)
    if len(ops) > 1:  # every trajectory's share of the mean
        grad_probs = grad_probs / np.asarray(len(ops), grad_probs.dtype)
    grad_u3, grad_cu3 = np.zeros_like(u3), np.zeros_like(cu3)
    no_psi0 = np.empty((0, 0), store.dtype)  # the pixels take no gradient
    for op, planar, states in zip(ops, planars, store, strict=True):
        state_kernels.backward(  # adds each trajectory's angle gradients
            grad_probs,
            states,
            planar,
            plan.steps,
            plan.tables,
            u3,
            cu3,
            op,
            plan.n_qubits,
            plan.layers_per_block,
            no_psi0,
            grad_u3,
            grad_cu3,
            by_walsh,
            False,
        )
    k, dtype = plan.layers_per_block, weight.dtype
    return [
        *(
            torch.from_numpy(a[e * k : (e + 1) * k])
            for a in (grad_u3.astype(dtype), grad_cu3.astype(dtype))
            for e in range(n_exits)
        ),
        torch.from_numpy(grad_weight),
        *torch.from_numpy(grad_gain).unbind(0),
        *torch.from_numpy(grad_bias).unbind(0),
    ]


class FusedExitLogits(torch.autograd.Function):
    """``(x (B, m), ops, *params) -> logits (E, B, C)`` of the first E blocks (``params`` in the
    order of :func:`block_params`; ``ops`` as in :func:`_forward`). No gradient for ``x``."""

    @staticmethod
    def forward(ctx, x, plan: FusedPlan, n_exits: int, ops, *params):
        logits, ctx.saved = _forward(plan, n_exits, x, params, ops)
        ctx.plan, ctx.n_exits = plan, n_exits
        return torch.from_numpy(logits)

    @staticmethod
    def backward(ctx, grad_logits):
        g = grad_logits.detach().contiguous().numpy()
        return None, None, None, None, *_backward(ctx.plan, ctx.n_exits, ctx.saved, g)


def block_params(blocks) -> list[torch.nn.Parameter]:
    """The parameters the fused node reads, in its order: every block's ``u3``, every block's
    ``cu3``, the class map W (block 0), every exit's gains, every exit's biases."""
    readouts = [b.readout for b in blocks]
    return [
        *(b.u3 for b in blocks),
        *(b.cu3 for b in blocks),
        readouts[0].weight,
        *(r.gain for r in readouts),
        *(r.bias for r in readouts),
    ]


def exit_logits(plan: FusedPlan, blocks, x: torch.Tensor, ops=None) -> torch.Tensor:
    """Logits (E, B, C) of ``blocks`` (the first E :class:`~dqfl.quantum.dqnn.DQNNBlock`\\ s,
    shared readouts, block 0 holding the class map) on the pixels ``x``, as an autograd node
    (``ops``: trajectories' operators for a noisy plan, see :func:`_forward`)."""
    return FusedExitLogits.apply(x, plan, len(blocks), ops, *block_params(blocks))


def logits_and_vjp(plan: FusedPlan, blocks, x: torch.Tensor, ops=None):
    """The same logits without autograd, and the function that takes dL/dlogits (numpy) to
    ``[(parameter, gradient)]``: a training step that knows its loss's gradient in closed form
    skips the autograd engine (its graph, per-parameter accumulation and bookkeeping cost
    ~0.4-0.7 ms per step at n = 8, more than a third of the simulation)."""
    params = block_params(blocks)
    logits, saved = _forward(plan, len(blocks), x, params, ops)

    def vjp(grad_logits: np.ndarray) -> list[tuple[torch.nn.Parameter, torch.Tensor]]:
        return list(zip(params, _backward(plan, len(blocks), saved, grad_logits), strict=True))

    return logits, vjp


def train_epochs(
    plan: FusedPlan,
    blocks,
    x: torch.Tensor,
    y: torch.Tensor,
    perms: torch.Tensor,
    batch_size: int,
    opt: FlatAdam,
    weights: torch.Tensor,
    distill: float,
    prox_mu: float,
    prox_pairs,
) -> tuple[float, np.ndarray] | None:
    """Every epoch of :func:`dqfl.training.train_local` on ``blocks`` (the first d) in one
    compiled call (:mod:`dqfl.quantum._train_kernels`), updating ``opt``'s buffers as its steps
    would; returns (the last epoch's summed loss, its correct counts per exit), or None for a
    noisy plan or when ``opt`` does not hold exactly these blocks' parameters."""
    if plan.kinds:  # trajectories draw operators from the model's generator every step
        return None
    params = block_params(blocks)
    offsets = [opt.offset(p) for p in params]
    flat = opt.flat.numpy()
    if None in offsets or len(params) != len(opt.params) or flat.dtype != plan.signs.dtype:
        return None
    depth = len(blocks)
    table = np.asarray(
        [offsets[e::depth][:2] + offsets[2 * depth + 1 + e :: depth][:2] for e in range(depth)],
        np.int64,
    )
    pixels = x.detach().reshape(len(x), -1).numpy().astype(flat.dtype, copy=False)
    rows = amplitude_rows(pixels, 2**plan.n_qubits)
    gflat, pmask = np.zeros_like(flat), np.zeros(len(flat), np.bool_)
    for p, g in prox_pairs:
        at = opt.offset(p)
        gflat[at : at + p.numel()] = g.detach().reshape(-1).numpy()
        pmask[at : at + p.numel()] = True
    k = plan.layers_per_block
    no_masks = np.zeros(0, np.int64)
    loss, correct = train_kernels.train_epochs(  # every array C-contiguous: one compiled version
        rows,
        np.ascontiguousarray(y.numpy(), np.int64),
        np.ascontiguousarray(perms.numpy(), np.int64),
        int(batch_size),
        flat,
        opt.m.numpy(),
        opt.v.numpy(),
        int(opt.t),
        float(opt.lr),
        float(opt.betas[0]),
        float(opt.betas[1]),
        float(opt.eps),
        table,
        int(offsets[2 * depth]),
        int(params[-1].numel()),
        k,
        int(blocks[0].cu3.shape[1]),
        plan.steps,
        plan.tables,
        plan.no_ops[: depth * k],
        np.ascontiguousarray(plan.signs),
        np.ascontiguousarray(plan.signs.T),
        no_masks if plan.masks is None else plan.masks.astype(np.int64),
        plan.masks is not None,
        weights.numpy().astype(flat.dtype),
        float(distill),
        float(prox_mu),
        gflat,
        pmask,
    )
    opt.t += perms.shape[0] * -(-len(x) // batch_size)
    return float(loss), correct
