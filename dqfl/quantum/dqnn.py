"""The dynamic quantum neural network (DQNN): L variational layers, one exit after each.

Layer l = U3 on every qubit, then a ring of CU3 (qubit i controls i+1 mod n); exit l measures
the basis-state probabilities after layer l and maps them to class logits with a small readout
(:mod:`dqfl.quantum.readout`). ``model(x)`` returns the logits of every exit,
``(n_layers, batch, n_classes)``; ``model(x, depth=d)`` simulates only the first d layers.

State-dict contract (aggregation, payload size, FedBN): every key starts with ``blocks.<l>.``;
block l holds ``u3`` (n, 3) and ``cu3`` (n, 3) angles of layer l and ``readout.*`` of exit l.
Both backends use exactly the same modules, so their state dicts are interchangeable.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dqfl.errors import DqflError
from dqfl.quantum import encoding as enc
from dqfl.quantum import statevector as sv
from dqfl.quantum.config import ModelConfig
from dqfl.quantum.noise import NoiseModel
from dqfl.quantum.readout import make_readout

DENSITY_MAX_QUBITS = 6
DENSE_MAX_QUBITS = 6  # measured crossover (batch 64, 1 CPU thread): dense wins up to 6 qubits


def _block_readout(kind: str, index: int) -> str:
    """The shared readout's class map rides in the base block (always decoded first)."""
    return "shared-base" if kind == "shared" and index == 0 else kind


class DQNNBlock(nn.Module):
    """Layer l's circuit angles and exit l's readout (one aggregation unit)."""

    def __init__(
        self,
        n_qubits: int,
        n_classes: int,
        readout: str,
        init_scale: float,
        generator: torch.Generator,
        dtype: torch.dtype,
    ):
        super().__init__()

        def angles() -> torch.Tensor:
            u = torch.rand(n_qubits, 3, generator=generator, dtype=torch.float64)
            return ((2 * u - 1) * math.pi * init_scale).to(dtype)

        self.u3 = nn.Parameter(angles())
        self.cu3 = nn.Parameter(angles())
        self.readout = make_readout(readout, n_qubits, n_classes, dtype, generator)


class DQNN(nn.Module):
    """Multi-exit quantum classifier; see the module docstring.

    Args:
        backend: ``torch`` (fast batched simulator, default) or ``pennylane`` (QNode reference on
            ``device``). Both give the same outputs and gradients.
        encoding: ``amplitude`` (2**n pixels on n qubits) or ``angle`` (pooled RY angles,
            optionally re-uploaded before every layer); see :mod:`dqfl.quantum.encoding`.
        readout: ``shared`` (default), ``born``, ``expval`` or ``linear``; see
            :mod:`dqfl.quantum.readout`.
        noise: a :class:`NoiseModel`; gate noise makes the torch backend use density matrices
            (n <= 6 with ``noise_method="auto"``) or ``n_trajectories`` trajectories.
        seed: seeds the parameter initialisation (angles uniform in ±pi*init_scale).
        dtype: float32 (complex64 simulation) or float64 (complex128).
        simulator: noiseless torch path: ``dense`` (per-layer unitaries as real GEMMs),
            ``fused`` (three fused gate blocks per layer), ``gatewise`` (Kronecker halves + each
            CU3) or ``auto`` (dense up to 6 qubits, fused above; measured fastest on CPU).
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
        noise: NoiseModel | None = None,
        noise_method: str = "auto",
        n_trajectories: int = 32,
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
        self.n_qubits, self.n_layers, self.n_classes = n_qubits, n_layers, n_classes
        self.backend, self.encoding, self.reupload = backend, encoding, reupload
        self.readout_kind = readout
        if simulator not in ("auto", "dense", "gatewise", "fused"):
            raise DqflError(f"simulator must be auto, dense, fused or gatewise; got {simulator!r}")
        self.simulator = simulator
        self.noise = noise or NoiseModel()
        if noise_method == "auto":
            noise_method = "density" if n_qubits <= DENSITY_MAX_QUBITS else "trajectories"
        self.noise_method = noise_method
        self.n_trajectories = n_trajectories
        self.noise_generator = torch.Generator().manual_seed(noise_seed)
        gen = torch.Generator().manual_seed(seed)
        self.blocks = nn.ModuleList(
            DQNNBlock(n_qubits, n_classes, _block_readout(readout, i), init_scale, gen, dtype)
            for i in range(n_layers)
        )
        self._pl = None
        if backend == "pennylane":
            from dqfl.quantum.pennylane_backend import PennyLaneCircuit

            self._pl = PennyLaneCircuit(
                n_qubits, n_layers, device, encoding, reupload, self.noise, diff_method
            )

    # ------------------------------------------------------------------ forward
    def _check_depth(self, depth: int | None) -> int:
        if depth is None:
            return self.n_layers
        if not 1 <= int(depth) <= self.n_layers:
            raise DqflError(f"depth must be in [1, {self.n_layers}]; got {depth}")
        return int(depth)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(real start state (B, 2**n), RY angles (B, n) or None)."""
        dtype = self.blocks[0].u3.dtype
        x = x.to(dtype=dtype, device=self.blocks[0].u3.device).reshape(x.shape[0], -1)
        if self.encoding == "amplitude":
            return enc.amplitude_state(x, self.n_qubits), None
        angles = enc.angle_features(x, self.n_qubits)
        return enc.ry_product_state(angles), angles

    def exit_probabilities(self, x: torch.Tensor, depth: int | None = None) -> list[torch.Tensor]:
        """Measured basis-state probabilities (B, 2**n) after each of the first ``depth`` layers
        (noise, readout error and shots included)."""
        depth = self._check_depth(depth)
        psi0, angles = self.encode(x)
        params = [(b.u3, b.cu3) for b in self.blocks[:depth]]
        if self._pl is not None:
            inputs = psi0 if angles is None else angles
            u3s = torch.stack([p[0] for p in params])
            cu3s = torch.stack([p[1] for p in params])
            probs = self._pl.exits(inputs, u3s, cu3s, depth)
        elif self.noise.has_gate_noise:
            from dqfl.quantum import noisy

            if self.noise_method == "density":
                probs = noisy.density_exits(
                    psi0, params, self.n_qubits, self.noise, angles, self.reupload
                )
            else:
                probs = noisy.trajectory_exits(
                    psi0,
                    params,
                    self.n_qubits,
                    self.noise,
                    self.n_trajectories,
                    self.noise_generator,
                    angles,
                    self.reupload,
                )
        else:
            probs = self._statevector_exits(psi0, angles, params)
        if self.noise.readout_error > 0 or self.noise.shots > 0:
            probs = [self.noise.measure(p, self.n_qubits, self.noise_generator) for p in probs]
        return probs

    def _statevector_exits(self, psi0, angles, params) -> list[torch.Tensor]:
        if not (self.reupload and angles is not None):
            u3 = torch.stack([p[0] for p in params])
            cu3 = torch.stack([p[1] for p in params])
            sim = self.simulator
            if sim == "auto":
                sim = "dense" if self.n_qubits <= DENSE_MAX_QUBITS else "fused"
            if sim == "dense":
                return sv.dense_exits(psi0, u3, cu3)
            if sim == "fused":
                return sv.fused_exits(psi0, u3, cu3)
            return sv.gatewise_exits(psi0, u3, cu3)
        psi = psi0  # re-uploading: per-sample RY between layers, one layer at a time
        out = []
        for layer, (u3, cu3) in enumerate(params):
            if self.reupload and angles is not None and layer > 0:
                psi = sv.ry_layer_real(psi, angles, self.n_qubits)
            psi = sv.apply_real_block(psi, sv.real_block(sv.layer_unitary(u3, cu3)))
            out.append(sv.probs_from_real(psi))
        return out

    def forward(self, x: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        probs = self.exit_probabilities(x, depth)
        if self.readout_kind == "shared":
            weight = self.blocks[0].readout.weight
            return torch.stack([self.blocks[i].readout(p, weight) for i, p in enumerate(probs)])
        return torch.stack([self.blocks[i].readout(p) for i, p in enumerate(probs)])

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

        pl = self._pl or PennyLaneCircuit(
            self.n_qubits, self.n_layers, "default.qubit", self.encoding, self.reupload
        )
        d = 2**self.n_qubits
        inputs = torch.ones(d, dtype=torch.float64) / math.sqrt(d)
        if self.encoding == "angle":
            inputs = torch.zeros(self.n_qubits, dtype=torch.float64)
        u3s = torch.stack([b.u3.detach() for b in self.blocks])
        cu3s = torch.stack([b.cu3.detach() for b in self.blocks])
        return pl.draw(inputs, u3s, cu3s)


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
        noise=NoiseModel.from_config(cfg),
        noise_method=cfg.noise_method,
        n_trajectories=cfg.n_trajectories,
        noise_seed=cfg.noise_seed,
        init_scale=cfg.init_scale,
        seed=cfg.init_seed,
    )


def block_parameter_counts(model: nn.Module, exclude_local: bool = False) -> list[int]:
    """Trainable parameters per ``blocks.<l>.`` prefix (FedBN-local ``.norm.`` ones dropped if
    ``exclude_local``), the per-block payload the channel needs."""
    counts: dict[int, int] = {}
    for name, p in model.named_parameters():
        parts = name.split(".")
        if len(parts) < 3 or parts[0] != "blocks" or not p.requires_grad:
            continue
        if exclude_local and ".norm." in name:
            continue
        counts[int(parts[1])] = counts.get(int(parts[1]), 0) + p.numel()
    return [counts.get(i, 0) for i in range(max(counts) + 1)] if counts else []
