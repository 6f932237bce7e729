"""The dynamic quantum neural network (DQNN): blocks of variational layers, one exit after each.

The circuit is data (:mod:`dqfl.quantum.circuit`): a layer is U3 on every qubit, then CU3 on
every entangler pair (default ring: qubit i controls i+1 mod n); a **block** holds
``layers_per_block`` layers and ends in an exit, which measures the basis-state probabilities and
maps them to class logits with a small readout (:mod:`dqfl.quantum.readout`). ``model(x)``
returns the logits of every exit, ``(n_layers, batch, n_classes)`` (``n_layers`` counts blocks);
``model(x, depth=d)`` simulates only the first d blocks.

State-dict contract (aggregation, payload size, FedBN): every key starts with ``blocks.<l>.``;
block l holds ``u3`` (k, n, 3) and ``cu3`` (k, P, 3) angles of its k layers and ``readout.*`` of
exit l (block 0 also the shared class map). Every backend uses exactly the same modules, so their
state dicts are interchangeable.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dqfl.errors import DqflError
from dqfl.optim import FlatAdam
from dqfl.quantum import encoding as enc
from dqfl.quantum import fused as fused_path
from dqfl.quantum import statevector as sv
from dqfl.quantum.circuit import Circuit, build_circuit
from dqfl.quantum.config import ModelConfig, resolve_noise_method
from dqfl.quantum.fused import FusedPlan
from dqfl.quantum.noise import NoiseModel
from dqfl.quantum.readout import SharedReadout, make_readout, stacked_shared_logits


class DQNNBlock(nn.Module):
    """One aggregation unit: the angles of the block's ``k`` layers and its exit's readout."""

    def __init__(
        self,
        circuit: Circuit,
        n_classes: int,
        readout: str,
        observables: str,
        holds_map: bool,
        init_scale: float,
        generator: torch.Generator,
        dtype: torch.dtype,
    ):
        super().__init__()

        def angles(shape) -> torch.Tensor:
            u = torch.rand(*shape, generator=generator, dtype=torch.float64)
            return ((2 * u - 1) * math.pi * init_scale).to(dtype)

        shapes = circuit.block_shapes()
        self.u3 = nn.Parameter(angles(shapes["u3"]))
        self.cu3 = nn.Parameter(angles(shapes["cu3"]))
        self.readout = make_readout(
            readout, circuit.n_qubits, n_classes, dtype, generator, observables, holds_map
        )


class DQNN(nn.Module):
    """Multi-exit quantum classifier; see the module docstring.

    Args:
        n_layers: number of blocks, i.e. of exits (each block holds ``layers_per_block``
            variational layers).
        backend: ``torch`` (fast batched simulator, default) or ``pennylane`` (one QNode with
            snapshots on ``device``). Both give the same outputs and gradients.
        encoding: ``amplitude`` (2**n pixels on n qubits) or ``angle`` (pooled RY angles,
            optionally re-uploaded before every layer); see :mod:`dqfl.quantum.encoding`.
        readout, observables: see :mod:`dqfl.quantum.readout`.
        entangler: CU3 pairs of a layer, ``ring`` or ``chain`` (:mod:`dqfl.quantum.circuit`).
        noise: a :class:`NoiseModel`; gate noise makes the torch backend use density matrices
            (n <= 6 with ``noise_method="auto"``) or ``n_trajectories`` trajectories.
        seed: seeds the parameter initialisation (angles uniform in +-pi*init_scale).
        dtype: float32 (complex64 simulation) or float64 (complex128).
        simulator: noiseless torch path (:data:`dqfl.quantum.statevector.SIMULATORS`).
    """

    def __init__(
        self,
        n_qubits: int = 8,
        n_layers: int = 4,
        n_classes: int = 10,
        backend: str = "torch",
        encoding: str = "amplitude",
        device: str = "default.qubit",
        reupload: bool = False,
        readout: str = "shared",
        observables: str = "z",
        layers_per_block: int = 1,
        entangler: str = "ring",
        noise: NoiseModel | None = None,
        noise_method: str = "auto",
        n_trajectories: int = 8,
        noise_seed: int = 0,
        init_scale: float = 1.0,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
        diff_method: str = "best",
        simulator: str = "auto",
    ):
        super().__init__()
        if n_qubits < 2:
            raise DqflError(f"model.n_qubits must be >= 2; got {n_qubits}")
        if n_layers < 1:
            raise DqflError(f"model.n_layers must be >= 1; got {n_layers}")
        if readout == "born" and 2**n_qubits < n_classes:
            raise DqflError(
                f"model.n_qubits must give 2**n_qubits >= n_classes for the born readout; "
                f"got {n_qubits} qubits for {n_classes} classes"
            )
        if backend not in ("torch", "pennylane"):
            raise DqflError(f"model.backend must be torch or pennylane; got {backend!r}")
        if encoding not in ("amplitude", "angle"):
            raise DqflError(f"model.encoding must be amplitude or angle; got {encoding!r}")
        if simulator not in sv.SIMULATORS:
            raise DqflError(
                f"simulator must be one of {', '.join(sv.SIMULATORS)}; got {simulator!r}"
            )
        self.circuit = build_circuit(
            n_qubits, n_layers, layers_per_block, encoding, reupload, entangler
        )
        self.n_qubits, self.n_layers, self.n_classes = n_qubits, n_layers, n_classes
        self.backend, self.encoding, self.reupload = backend, encoding, reupload
        self.readout_kind, self.observables = readout, observables
        self.simulator = simulator
        self.noise = noise or NoiseModel()
        self.noise_method = resolve_noise_method(noise_method, n_qubits)
        self.n_trajectories = n_trajectories
        self.noise_generator = torch.Generator().manual_seed(noise_seed)
        gen = torch.Generator().manual_seed(seed)
        self.blocks = nn.ModuleList(
            DQNNBlock(self.circuit, n_classes, readout, observables, i == 0, init_scale, gen, dtype)
            for i in range(n_layers)
        )
        self._pl = None
        # the one-node path's plan, when the configuration is the one it runs
        fusable = self._fusable()
        self._fused = (
            FusedPlan.build(self.circuit, observables, dtype, noisy=fusable == "trajectories")
            if fusable
            else None
        )
        if backend == "pennylane":
            from dqfl.quantum.pennylane_backend import PennyLaneCircuit

            self._pl = PennyLaneCircuit(self.circuit, device, self.noise, diff_method)

    @property
    def n_blocks(self) -> int:
        return self.n_layers

    def _fusable(self) -> str:
        """What :mod:`dqfl.quantum.fused` runs of this configuration in one node: ``noiseless``,
        ``trajectories`` (gate noise by trajectories), or nothing (empty string)."""
        plain = (
            self.backend == "torch"
            and self.encoding == "amplitude"
            and not self.reupload
            and self.readout_kind == "shared"
            and self.simulator in ("auto", "adjoint")
            and self.noise.readout_error == 0
            and self.noise.shots == 0
        )
        if not plain:
            return ""
        if not self.noise.has_gate_noise:
            return "noiseless"
        return "trajectories" if self.noise_method == "trajectories" else ""

    def _fused_ops(self, depth: int):
        """The trajectories' operators for the fused node's next call (None: noiseless),
        drawn from ``noise_generator`` exactly as the general trajectory path draws them."""
        if not self._fused.kinds:
            return None
        from dqfl.quantum import noisy

        layers = depth * self.circuit.layers_per_block
        return noisy.trajectory_operators(
            self.noise, self._fused.kinds, self.n_trajectories, layers, self.noise_generator
        )

    # ------------------------------------------------------------------ forward
    def _check_depth(self, depth: int | None) -> int:
        if depth is None:
            return self.n_layers
        if not 1 <= int(depth) <= self.n_layers:
            raise DqflError(f"depth must be in [1, {self.n_layers}]; got {depth}")
        return int(depth)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(real start state (B, 2**n), data RY angles (B, n) or None if the circuit has none)."""
        dtype = self.blocks[0].u3.dtype
        x = x.to(dtype=dtype, device=self.blocks[0].u3.device).reshape(x.shape[0], -1)
        angles = None
        if self.encoding == "angle" or self.reupload:
            angles = enc.angle_features(x, self.n_qubits)
        if self.encoding == "amplitude":
            return enc.amplitude_state(x, self.n_qubits), angles
        return enc.ry_product_state(angles), angles

    def stacked_angles(self, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(L, n, 3) U3 and (L, P, 3) CU3 angles of the first ``depth`` blocks' layers."""
        blocks = self.blocks[:depth]
        return torch.cat([b.u3 for b in blocks]), torch.cat([b.cu3 for b in blocks])

    def exit_probabilities(self, x: torch.Tensor, depth: int | None = None) -> list[torch.Tensor]:
        """Measured basis-state probabilities (B, 2**n) at each of the first ``depth`` exits
        (noise, readout error and shots included)."""
        depth = self._check_depth(depth)
        psi0, angles = self.encode(x)
        u3, cu3 = self.stacked_angles(depth)
        if self._pl is not None:
            probs = self._pl.exits(psi0, angles, u3, cu3, depth)
        elif self.noise.has_gate_noise:
            from dqfl.quantum import noisy

            if self.noise_method == "density":
                probs = noisy.density_exits(self.circuit, psi0, u3, cu3, self.noise, depth, angles)
            else:
                probs = noisy.trajectory_exits(
                    self.circuit,
                    psi0,
                    u3,
                    cu3,
                    self.noise,
                    depth,
                    self.n_trajectories,
                    self.noise_generator,
                    angles,
                )
        else:
            probs = sv.run(self.circuit, psi0, u3, cu3, depth, angles, self.simulator)
        if self.noise.readout_error > 0 or self.noise.shots > 0:
            probs = [self.noise.measure(p, self.n_qubits, self.noise_generator) for p in probs]
        return probs

    def forward(self, x: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        if self._fused_applies(x):  # the default configuration: one autograd node
            blocks = list(self.blocks)[: self._check_depth(depth)]  # a slice builds a ModuleList
            x = x.to(self.blocks[0].u3.dtype)
            return fused_path.exit_logits(self._fused, blocks, x, self._fused_ops(len(blocks)))
        probs = self.exit_probabilities(x, depth)
        weight = getattr(self.blocks[0].readout, "weight", None)
        readouts = [b.readout for b in self.blocks[: len(probs)]]
        if all(isinstance(r, SharedReadout) for r in readouts):
            return stacked_shared_logits(torch.stack(probs), readouts, weight)
        return torch.stack([r(p, weight) for r, p in zip(readouts, probs, strict=True)])

    def _fused_applies(self, x: torch.Tensor) -> bool:
        on_cpu = self.blocks[0].u3.device.type == "cpu"
        return self._fused is not None and on_cpu and not x.requires_grad

    def logits_and_vjp(self, x: torch.Tensor, depth: int | None = None):
        """``(logits (E, B, C) numpy, vjp)`` without autograd where the fused path applies
        (:func:`dqfl.quantum.fused.logits_and_vjp`), else None. ``vjp(dL/dlogits)`` returns
        ``[(parameter, gradient)]``; training uses it with the loss's closed-form gradient."""
        if not self._fused_applies(x):
            return None
        blocks = list(self.blocks)[: self._check_depth(depth)]
        x = x.to(self.blocks[0].u3.dtype)
        return fused_path.logits_and_vjp(self._fused, blocks, x, self._fused_ops(len(blocks)))

    def train_epochs(self, x, y, perms, batch_size, opt, weights, distill, prox_mu, prox_pairs):
        """Every epoch of :func:`dqfl.training.train_local` (``len(weights)`` blocks trained by
        the :class:`~dqfl.optim.FlatAdam` ``opt``) in one compiled call where the fused path
        applies (:func:`dqfl.quantum.fused.train_epochs`): (last epoch's summed loss, correct
        counts per exit), else None."""
        if not self._fused_applies(x) or not isinstance(opt, FlatAdam):
            return None
        blocks = list(self.blocks)[: self._check_depth(len(weights))]
        return fused_path.train_epochs(
            self._fused, blocks, x, y, perms, batch_size, opt, weights, distill, prox_mu, prox_pairs
        )

    # ------------------------------------------------------------------ reporting
    def parameter_counts(self) -> dict[str, list[int] | int]:
        """Trainable parameters per layer (circuit angles) and per exit (classical readout)."""
        q = [b.u3.numel() + b.cu3.numel() for b in self.blocks]
        c = [sum(p.numel() for p in b.readout.parameters()) for b in self.blocks]
        return {
            "quantum": q,
            "classical": c,
            "per_block": [a + b for a, b in zip(q, c, strict=True)],
            "total_quantum": sum(q),
            "total_classical": sum(c),
        }

    def draw(self) -> str:
        """``qml.draw`` text of the full circuit (uses a PennyLane circuit even for torch)."""
        from dqfl.quantum.pennylane_backend import PennyLaneCircuit

        pl = self._pl or PennyLaneCircuit(self.circuit, "default.qubit")
        d = 2**self.n_qubits
        psi0 = torch.ones(d, dtype=torch.float64) / math.sqrt(d)
        angles = torch.zeros(self.n_qubits, dtype=torch.float64)
        with torch.no_grad():
            u3, cu3 = self.stacked_angles(self.n_layers)
        return pl.draw(psi0, angles, u3.double(), cu3.double())


def build_model(cfg: ModelConfig, n_classes: int, n_inputs: int) -> DQNN:
    """The configured DQNN. ``n_inputs`` only needs to fit the encoding: amplitude encoding
    zero-pads or truncates to 2**n_qubits features (truncation drops information, so it is
    refused), angle encoding pools any size."""
    cfg.validate()
    if cfg.encoding == "amplitude" and n_inputs > 2**cfg.n_qubits:
        raise DqflError(
            f"model.n_qubits must be >= log2 of the input size for amplitude encoding; got "
            f"{cfg.n_qubits} qubits for {n_inputs} inputs"
        )
    return DQNN(
        n_qubits=cfg.n_qubits,
        n_layers=cfg.n_layers,
        n_classes=n_classes,
        backend=cfg.backend,
        encoding=cfg.encoding,
        device=cfg.device,
        reupload=cfg.reupload,
        readout=cfg.readout,
        observables=cfg.observables,
        layers_per_block=cfg.layers_per_block,
        entangler=cfg.entangler,
        noise=NoiseModel.from_config(cfg),
        noise_method=cfg.noise_method,
        n_trajectories=cfg.n_trajectories,
        noise_seed=cfg.noise_seed,
        init_scale=cfg.init_scale,
        seed=cfg.init_seed,
    )


def block_parameter_counts(model: nn.Module, exclude_local: bool = False) -> list[int]:
    """Trainable parameters per block (FedBN-local ones dropped if ``exclude_local``), the
    per-block payload the channel needs; the key rule lives in :mod:`dqfl.blocks`."""
    from dqfl.blocks import FEDBN_LOCAL, block_index, is_local

    counts: dict[int, int] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad or (exclude_local and is_local(name, FEDBN_LOCAL)):
            continue
        counts[block_index(name)] = counts.get(block_index(name), 0) + p.numel()
    return [counts.get(i, 0) for i in range(max(counts) + 1)] if counts else []
