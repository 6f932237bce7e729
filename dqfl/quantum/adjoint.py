"""The training fast path: U3 + CU3 layers with a hand-derived (adjoint) backward pass.

Autograd through a statevector simulation records hundreds of small operations per step (every
gate, reshape, stack and cast, forward and backward), and at the DQNN's sizes their bookkeeping,
not arithmetic, is the cost. :class:`LayerCircuit` is one ``torch.autograd.Function`` whose
forward and backward are written out:

* **Plan** (:func:`plan_layer`, once per circuit): a layer's gates are grouped into *segments*,
  contiguous wire ranges whose gates are multiplied into one ``2**k x 2**k`` matrix (the whole
  layer up to 5 qubits; above, ranges of :func:`segment_width` wires overlapping by one), plus
  *direct* gates that fit no range (the ring's wrap-around CU3), applied to the state as they are.
  A gate joins an earlier segment only past gates on other wires, so the product is unchanged.
* **Forward**: the segment matrices of every layer come from compiled loops
  (:mod:`dqfl.quantum._segment_kernels`, batch-independent, float64), then the column-major
  ``(2**n, B)`` state goes through one matmul per segment and one small update per direct gate,
  every step's input kept in one buffer; exits record ``|psi|**2``.
* **Backward** (the adjoint method, conjugated so no conjugate copy of the states is made): the
  conjugate cotangent ``lam`` runs back through the transposed step matrices, and each step's
  ``conj(dL/dM) = sum lam psi^T`` is one contraction over the batch for all layers at once; the
  compiled loops then walk each segment's gates backwards (each gate's input is the product
  of the rows before it, kept from a forward sweep) and give every angle its gradient by the
  closed form ``dL/dtheta = Re sum(conj(dL/dG) * dG/dtheta)`` (torch's convention for complex
  gradients: ``dL/dRe + i dL/dIm``).
* **Noise** (:func:`noisy_plan`): a quantum trajectory with its Kraus draws fixed is the same
  circuit with a fixed 2x2 operator after every gate on each touched wire; the operators join
  the segment matrices (or follow a direct gate as direct steps of their own), and nothing
  above assumes they are unitary.

Two engines run the state part. On the CPU, :class:`CompiledLayerCircuit` does a whole
forward or backward in one compiled call (:mod:`dqfl.quantum._state_kernels`: planar float
states, each step's matrix cotangent contracted while its operands are in cache); dispatching
the same work as torch operations cost about as much as the arithmetic at n = 8, batch 32.
Elsewhere (CUDA) :class:`LayerCircuit` runs it as torch operations. ``adjoint_exits(engine=)``
picks one; both are tested on the CPU.

Tests check outputs and gradients against PennyLane and against autograd through the
gate-by-gate simulator (``statevector.gatewise_exits``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from dqfl.quantum import _segment_kernels as kernels
from dqfl.quantum import _state_kernels as state_kernels
from dqfl.quantum import gates
from dqfl.quantum.circuit import Circuit

SEGMENT_MAX_QUBITS = 5  # whole-layer matrices up to here (measured: at 6 qubits two ranges win)


@dataclass(frozen=True)
class Gate:
    """One gate of a layer: ``kind`` u3 or cu3 (``index``: its row in the layer's u3/cu3
    angles) or ``noise`` (a fixed 2x2 operator, ``index``: its slot in the layer's noise
    operators, see :func:`noisy_plan`), ``target`` wire and ``control`` wire (-1 for one
    wire)."""

    kind: str
    index: int
    target: int
    control: int = -1

    @property
    def wires(self) -> tuple[int, ...]:
        return (self.target,) if self.control < 0 else (self.control, self.target)


@dataclass(frozen=True)
class Step:
    """Gates applied to the state as one matrix on wires ``lo..hi`` (a segment), or one gate
    applied directly (``direct``)."""

    lo: int
    hi: int
    gates: tuple[Gate, ...]
    direct: bool = False

    @property
    def k(self) -> int:
        return self.hi - self.lo + 1


def segment_ranges(n_qubits: int, width: int | None = None) -> tuple[tuple[int, int], ...]:
    """The wire ranges gates are fused into: the whole register up to
    :data:`SEGMENT_MAX_QUBITS`, else a chain of ``width``-qubit ranges that overlap by one wire
    (so the chain CU3 across a boundary joins the next range). Narrow ranges cost less
    arithmetic per sample (2**width rows per amplitude), more operations per layer."""
    if n_qubits <= SEGMENT_MAX_QUBITS:
        return ((0, n_qubits - 1),)
    width = width or segment_width(n_qubits)
    out, lo = [], 0
    while lo < n_qubits - 1:
        hi = min(lo + width - 1, n_qubits - 1)
        out.append((lo, hi))
        lo = hi
    return tuple(out)


def segment_width(n_qubits: int, engine: str = "torch") -> int:
    """Wires per range, measured per engine (plans of 2-7-qubit ranges timed side by side at
    n = 6-12, batch 32/128, one thread, on the loaded 2-core machine; the benchmark measures only
    the chosen plan). Torch operations: 5 qubits up to 9, then 4 (each range is one dispatched
    matmul, so fewer, larger ones win). Compiled passes: 3 (nothing is dispatched, so the
    narrow ranges' smaller arithmetic wins: 8 complex multiply-adds per amplitude per range)."""
    if engine == "compiled":
        return 3
    return 5 if n_qubits <= 9 else 4


def layer_gates(circuit: Circuit) -> tuple[Gate, ...]:
    """The gates of one variational layer in circuit order (every layer has the same shape)."""
    out = []
    for op in circuit.ops:
        if op.layer != 0:
            continue
        if op.kind == "u3":
            out.append(Gate("u3", op.index, op.wires[0]))
        elif op.kind == "cu3":
            out.append(Gate("cu3", op.index, op.wires[1], op.wires[0]))
        else:
            raise ValueError(f"the adjoint path has no {op.kind} gates inside a layer")
    return tuple(out)


@functools.lru_cache(maxsize=64)
def plan_layer(circuit: Circuit, width: int | None = None) -> tuple[Step, ...]:
    """Group a layer's gates into steps (see the module docstring). A gate joins the earliest
    step at or after the last step that touched its wires whose range holds all its wires;
    otherwise it opens a new segment (a range that holds it) or a direct step."""
    ranges = segment_ranges(circuit.n_qubits, width)
    steps: list[tuple[int, int, list[Gate], bool]] = []
    last = [-1] * circuit.n_qubits
    for gate in layer_gates(circuit):
        earliest = max(0, *(last[w] for w in gate.wires))
        where = next(
            (
                i
                for i in range(earliest, len(steps))
                if not steps[i][3] and all(steps[i][0] <= w <= steps[i][1] for w in gate.wires)
            ),
            None,
        )
        if where is None:
            span = next((r for r in ranges if all(r[0] <= w <= r[1] for w in gate.wires)), None)
            if span is None:
                steps.append((min(gate.wires), max(gate.wires), [gate], True))
            else:
                steps.append((span[0], span[1], [gate], False))
            where = len(steps) - 1
        else:
            steps[where][2].append(gate)
        for w in gate.wires:
            last[w] = where
    return tuple(Step(lo, hi, tuple(g), d) for lo, hi, g, d in steps)


@functools.lru_cache(maxsize=64)
def noisy_plan(
    circuit: Circuit, width: int | None = None
) -> tuple[tuple[Step, ...], tuple[str, ...]]:
    """:func:`plan_layer` with a fixed 2x2 operator (a ``noise`` gate) after every gate on each
    wire it touches, and the kind of each of the layer's noise slots: ``1q``/``2q`` (after a
    U3/CU3) or ``encoding`` (before a wire's first gate, present with angle encoding: the
    noise of the encoding RYs, used in layer 0 only). Inside a segment the operators join its
    matrix; after a direct gate each is a direct step of its own. One trajectory with its
    Kraus draws fixed is then this circuit with those operators (see ``noisy.py``)."""
    n, encoded = circuit.n_qubits, circuit.encoding == "angle"
    kinds = ["encoding"] * n if encoded else []
    slot: dict[tuple[Gate, int], int] = {}
    for gate in layer_gates(circuit):
        for w in gate.wires:
            slot[gate, w] = len(kinds)
            kinds.append("1q" if gate.control < 0 else "2q")
    seen: set[int] = set()

    def before(gate: Gate) -> list[Gate]:  # the encoding noise, ahead of a wire's first gate
        fresh = [w for w in gate.wires if encoded and w not in seen]
        seen.update(gate.wires)
        return [Gate("noise", w, w) for w in fresh]

    def after(gate: Gate) -> list[Gate]:
        return [Gate("noise", slot[gate, w], w) for w in gate.wires]

    steps: list[Step] = []
    for step in plan_layer(circuit, width):
        if step.direct:
            gate = step.gates[0]
            steps += [Step(g.target, g.target, (g,), True) for g in before(gate)]
            steps.append(step)
            steps += [Step(g.target, g.target, (g,), True) for g in after(gate)]
        else:
            rows = [row for g in step.gates for row in (*before(g), g, *after(g))]
            steps.append(Step(step.lo, step.hi, tuple(rows)))
    return tuple(steps), tuple(kinds)


# ---------------------------------------------------------------------------- state kernels
def _gate_rows(x: torch.Tensor, gate: Gate, n: int, flat: bool = True):
    """Rows of ``x`` (..., 2**n, m) a direct gate acts on, with the target wire in dim -2 when
    ``flat`` (a copy when the control is below the target) else in dim -3, and for a
    controlled gate the untouched control=0 rows (else None)."""
    lead, m = x.shape[:-2], x.shape[-1]
    t, c = gate.target, gate.control
    if c < 0:
        return x.reshape(*lead, 2**t, 2, 2 ** (n - t - 1) * m), None
    a, b = min(c, t), max(c, t)
    xv = x.view(*lead, 2**a, 2, 2 ** (b - a - 1), 2, 2 ** (n - b - 1) * m)
    if c < t:
        x0, x1 = xv.unbind(-4)  # (..., 2**a, 2**(b-a-1), 2 [target], r)
        return x1, x0
    x0, x1 = xv.unbind(-2)  # (..., 2**a, 2 [target], 2**(b-a-1), r)
    return (x1.reshape(*x1.shape[:-2], -1) if flat else x1), x0


def _direct_apply(x: torch.Tensor, g: torch.Tensor, gate: Gate, n: int, out: torch.Tensor):
    """A (controlled) 2x2 gate ``g`` (2, 2) on the rows of the state ``x`` (2**n, m), into
    ``out``."""
    x1, x0 = _gate_rows(x, gate, n)
    if x0 is None:
        torch.matmul(g, x1, out=out.view(x1.shape))
        return out
    o1, o0 = _gate_rows(out, gate, n, flat=False)
    o0.copy_(x0)
    o1.copy_((g @ x1).view(o1.shape))
    return out


def _direct_grad(lam: torch.Tensor, x: torch.Tensor, gate: Gate, n: int) -> torch.Tensor:
    """sum lam x^T (L, 2, 2) over the gate's rows: conj(dL/dg) when ``lam`` is the conjugate
    output cotangent; ``lam`` and the inputs ``x`` are (L, 2**n, m)."""
    l1, _ = _gate_rows(lam, gate, n)
    x1, _ = _gate_rows(x, gate, n)
    prod = l1 @ x1.transpose(-1, -2)
    return prod.reshape(prod.shape[0], -1, 2, 2).sum(1)


def _apply_step(
    psi: torch.Tensor, step: Step, mat: torch.Tensor, n: int, out: torch.Tensor
) -> torch.Tensor:
    """A step's matrix (segment: (2**k, 2**k); direct: the gate's 2x2) on the (D, B) state,
    written into ``out``."""
    if step.direct:
        return _direct_apply(psi, mat, step.gates[0], n, out)
    view = (2**step.lo, 2**step.k, -1)
    torch.matmul(mat, psi.view(view), out=out.view(view))
    return out


def _step_grads(step: Step, lams: torch.Tensor, xs: torch.Tensor, n: int) -> torch.Tensor:
    """sum lam x^T per layer (L, K, K) over a step's rows from (L, D, B) conjugate cotangents and
    inputs: the conjugate of dL/d(step matrix)."""
    if step.direct:
        return _direct_grad(lams, xs, step.gates[0], n)
    n_layers, groups, size = xs.shape[0], 2**step.lo, 2**step.k
    shape = (n_layers * groups, size, -1)
    prod = torch.bmm(lams.reshape(shape), xs.reshape(shape).transpose(1, 2))
    return prod.view(n_layers, groups, size, size).sum(1) if groups > 1 else prod


def _add_step(lam: torch.Tensor, step: Step, mat: torch.Tensor, n: int, acc: torch.Tensor):
    """``acc += (step matrix) lam`` on the (D, B) state (in place where the step allows)."""
    if step.direct or step.lo > 0:
        acc.add_(_apply_step(lam, step, mat, n, out=torch.empty_like(acc)))
        return
    size = 2**step.k
    acc.view(size, -1).addmm_(mat, lam.view(size, -1))


KIND_CODES = {"u3": 0, "cu3": 1, "noise": 2}  # the kernels' row kinds


@functools.lru_cache(maxsize=256)
def _table(step: Step) -> np.ndarray:
    """The step's gates as the kernels' int64 rows (kind, index, local target, local control);
    a direct step's row is its bare 2x2 matrix (target 0 of one wire, no control)."""
    if step.direct:
        g = step.gates[0]
        return np.asarray([(KIND_CODES[g.kind], g.index, 0, -1)], dtype=np.int64)
    rows = [
        (
            KIND_CODES[g.kind],
            g.index,
            g.target - step.lo,
            g.control - step.lo if g.control >= 0 else -1,
        )
        for g in step.gates
    ]
    return np.asarray(rows, dtype=np.int64)


class LayerCircuit(torch.autograd.Function):
    """``(psi0 (B, D) real, u3 (L, n, 3), cu3 (L, P, 3)) -> exit probabilities (E, B, D)``.

    The step matrices come from the compiled kernels on the CPU (float64) and move to the
    state's device and precision; the state part runs in torch wherever the state lives.
    States are kept step-major, ``store[s, l]`` = the input of step s in layer l
    (``store[0, L]`` = the output), so each step's inputs over all layers are one contiguous
    block: the backward contraction of a step is one matmul and the exits need no copy."""

    @staticmethod
    def forward(ctx, psi0, u3, cu3, circuit: Circuit, plan: tuple[Step, ...], ops: np.ndarray):
        n, k = circuit.n_qubits, circuit.layers_per_block
        cdt = gates.complex_dtype(psi0.dtype)
        angles = (
            u3.detach().to("cpu", torch.float64).numpy(),
            cu3.detach().to("cpu", torch.float64).numpy(),
        )
        tables = [_table(step) for step in plan]
        mats64 = [
            kernels.segment_matrices(*angles, ops, t, 1 if step.direct else step.k)
            for step, t in zip(plan, tables, strict=True)
        ]
        step_mats = [torch.from_numpy(m).to(psi0.device, cdt) for m in mats64]
        n_layers, n_steps = u3.shape[0], len(plan)
        store = torch.empty(n_steps, n_layers + 1, *psi0.shape[::-1], dtype=cdt, device=psi0.device)
        store[0, 0].copy_(psi0.t())
        for layer in range(n_layers):
            for s, (step, mat) in enumerate(zip(plan, step_mats, strict=True)):
                out = store[s + 1, layer] if s + 1 < n_steps else store[0, layer + 1]
                _apply_step(store[s, layer], step, mat[layer], n, out=out)
        amps = store[0, k::k]  # (E, D, B): the state after every block
        probs = torch.view_as_real(amps).square().sum(-1).transpose(1, 2)
        ctx.circuit, ctx.plan = circuit, plan
        ctx.extras = (angles, ops, tables, step_mats, store)
        return probs

    @staticmethod
    def backward(ctx, grad_probs):
        angles, ops, tables, step_mats, store = ctx.extras
        circuit, plan = ctx.circuit, ctx.plan
        n, k = circuit.n_qubits, circuit.layers_per_block
        n_layers, n_steps = angles[0].shape[0], len(plan)
        # The conjugate cotangent runs backwards through transposed matrices, so the gradient
        # contractions below need no conjugated copy of the stored states. lams[s, l] is the
        # conjugate cotangent at store[s, l]; every exit first gets 2 conj(psi) dL/dp, and the
        # cotangent from the later layers is added to it.
        transposed = [m.transpose(-1, -2).contiguous() for m in step_mats]
        lams = torch.empty_like(store)
        g = grad_probs.transpose(1, 2).to(store.real.dtype)
        torch.mul(store[0, k::k].conj(), 2 * g, out=lams[0, k::k])
        for layer in reversed(range(n_layers)):
            for s in reversed(range(n_steps)):
                lam = lams[s + 1, layer] if s + 1 < n_steps else lams[0, layer + 1]
                mat = transposed[s][layer]
                if s == 0 and layer % k == 0 and layer > 0:  # an exit: add to its cotangent
                    _add_step(lam, plan[s], mat, n, lams[0, layer])
                else:
                    _apply_step(lam, plan[s], mat, n, out=lams[s, layer])
        grad_u3, grad_cu3 = np.zeros_like(angles[0]), np.zeros_like(angles[1])
        for s, step in enumerate(plan):
            kind, index = tables[s][0, 0], tables[s][0, 1]
            if step.direct and kind == KIND_CODES["noise"]:
                continue  # a fixed operator: no angle
            lam = lams[s + 1, :n_layers] if s + 1 < n_steps else lams[0, 1:]
            g = _step_grads(step, lam, store[s, :n_layers], n).cpu().numpy()
            if step.direct:
                dst = grad_u3 if kind == 0 else grad_cu3
                kernels.gate_grads(angles[kind][:, index], g, dst[:, index])
            else:
                kernels.segment_grads(*angles, ops, tables[s], step.k, g, grad_u3, grad_cu3)
        real = store.real.dtype
        grad_psi0 = lams[0, 0].real.t().contiguous() if ctx.needs_input_grad[0] else None
        return (
            grad_psi0,
            torch.from_numpy(grad_u3).to(store.device, real),
            torch.from_numpy(grad_cu3).to(store.device, real),
            None,
            None,
            None,
        )


@functools.lru_cache(maxsize=64)
def compiled_plan(plan: tuple[Step, ...], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The plan as the compiled passes read it: one int64 row per step (see
    :mod:`dqfl.quantum._state_kernels`) and every step's gate table stacked."""
    rows, tables, offset = [], [], 0
    for step in plan:
        table = _table(step)
        g = step.gates[0]
        tbit = 1 << (n - 1 - g.target) if step.direct else 0
        cbit = 1 << (n - 1 - g.control) if step.direct and g.control >= 0 else 0
        k = 1 if step.direct else step.k
        rows.append((int(step.direct), step.lo, k, tbit, cbit, offset, len(table), 0))
        tables.append(table)
        offset += len(table)
    return np.asarray(rows, dtype=np.int64), np.concatenate(tables)


class CompiledLayerCircuit(torch.autograd.Function):
    """:class:`LayerCircuit` on the CPU with the state passes compiled
    (:mod:`dqfl.quantum._state_kernels`): one call forward, one backward, no per-step torch
    operations. Same inputs, outputs and gradients.

    ``ops`` may also stack T trajectories' fixed operators, (T, L, N, 2, 2): the output is then
    the mean exit probabilities over the T circuits (:func:`noisy_plan`), still one node, each
    trajectory's backward run with ``dL/dp / T`` and the angle gradients summed (an autograd
    node per trajectory, plus the stack and mean over them, cost more than a trajectory's
    arithmetic at n = 8, batch 32). One trajectory is exactly the plain circuit."""

    @staticmethod
    def forward(ctx, psi0, u3, cu3, circuit: Circuit, plan: tuple[Step, ...], ops: np.ndarray):
        n, k = circuit.n_qubits, circuit.layers_per_block
        steps, tables = compiled_plan(plan, n)
        angles = (
            u3.detach().to(torch.float64).numpy(),
            cu3.detach().to(torch.float64).numpy(),
        )
        ops = ops[None] if ops.ndim == 4 else ops
        x0 = psi0.detach().contiguous().numpy()
        n_layers, (batch, dim) = angles[0].shape[0], x0.shape
        mean = np.zeros((n_layers // k, batch, dim), x0.dtype)
        probs = np.empty_like(mean)
        # one buffer for every trajectory's states: T separate ones, held together, made the
        # allocator hand fresh pages back and forth (page faults cost ~2x the arithmetic)
        stores = np.empty((len(ops), len(plan), n_layers + 1, 2, dim, batch), x0.dtype)
        runs = []
        for op, store in zip(ops, stores, strict=True):
            planar = state_kernels.step_matrices(*angles, op, tables, steps, x0[:0, 0])
            state_kernels.forward(x0, planar, steps, n, n_layers, k, store, probs, False)
            mean += probs  # 0 + p and p / 1 are exact: one trajectory is the plain circuit
            runs.append((planar, store))
        mean /= len(ops)
        ctx.circuit = circuit
        ctx.extras = (angles, ops, steps, tables, runs)
        return torch.from_numpy(mean)

    @staticmethod
    def backward(ctx, grad_probs):
        angles, ops, steps, tables, runs = ctx.extras
        n, k = ctx.circuit.n_qubits, ctx.circuit.layers_per_block
        g = grad_probs.detach().contiguous().numpy() / len(ops)
        grad_u3, grad_cu3 = np.zeros_like(angles[0]), np.zeros_like(angles[1])
        store = runs[0][1]
        grad_psi0 = np.zeros((store.shape[4], store.shape[3]), store.dtype)
        one = np.empty_like(grad_psi0)
        need = ctx.needs_input_grad[0]
        for op, (planar, store) in zip(ops, runs, strict=True):
            args = (*angles, op, n, k, one, grad_u3, grad_cu3, False, need)
            state_kernels.backward(g, store, planar, steps, tables, *args)
            if need:
                grad_psi0 += one
        real = torch.from_numpy(store[:0]).dtype
        return (
            torch.from_numpy(grad_psi0) if need else None,
            torch.from_numpy(grad_u3).to(real),
            torch.from_numpy(grad_cu3).to(real),
            None,
            None,
            None,
        )


ENGINES = ("auto", "compiled", "torch")


def supports(circuit: Circuit) -> bool:
    """The adjoint path runs U3 + CU3 layers on a data-independent start state."""
    return not circuit.data_reuploaded


def adjoint_exits(
    psi0: torch.Tensor, u3, cu3, circuit: Circuit, engine: str = "auto"
) -> list[torch.Tensor]:
    """Exit probabilities (B, D) of every block in ``u3``/``cu3`` (L = blocks * k layers).
    ``engine``: ``compiled`` state passes (CPU), ``torch`` operations (any device), ``auto``
    = compiled on the CPU, torch elsewhere."""
    if not supports(circuit):
        raise ValueError("the adjoint path needs a circuit without re-uploaded data")
    engine = resolve_engine(engine, psi0.device)
    plan = plan_layer(circuit, segment_width(circuit.n_qubits, engine))
    no_ops = np.zeros((u3.shape[0], 0, 2, 2), np.complex128)
    return list(run_plan(psi0, u3, cu3, circuit, plan, no_ops, engine).unbind(0))


def resolve_engine(engine: str, device: torch.device) -> str:
    """``compiled`` or ``torch``: ``auto`` is compiled on the CPU, torch elsewhere."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if engine == "auto":
        return "compiled" if device.type == "cpu" else "torch"
    return engine


def run_plan(
    psi0: torch.Tensor, u3, cu3, circuit: Circuit, plan: tuple[Step, ...], ops, engine="auto"
) -> torch.Tensor:
    """Exit probabilities (E, B, D) of ``plan`` (from :func:`plan_layer` or
    :func:`noisy_plan`) with the fixed operators ``ops`` (L, N, 2, 2) complex128."""
    engine = resolve_engine(engine, psi0.device)
    fn = CompiledLayerCircuit if engine == "compiled" else LayerCircuit
    return fn.apply(psi0, u3, cu3, circuit, plan, ops)
