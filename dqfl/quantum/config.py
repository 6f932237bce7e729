"""``[model]`` section: the DQNN's shape, simulator backend and (optional) noise model.

Pure dataclass with no heavy imports, so configs load without torch. Noise is off by default;
any non-zero noise field switches the torch backend to a noisy simulator (``noise_method``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dqfl.errors import DqflError

ENCODINGS = ("amplitude", "angle")
BACKENDS = ("torch", "pennylane")
READOUTS = ("shared", "born", "expval", "linear")
OBSERVABLES = ("z", "z_zz_ring", "z_zz_all")
ENTANGLERS = ("ring", "chain")
NOISE_METHODS = ("auto", "density", "trajectories")
TORCH_DEVICES = ("cpu", "cuda", "auto")  # and "cuda:N" for one GPU of several
_TORCH_DEVICE = re.compile(r"cpu|auto|cuda(:\d+)?")
#: ``noise_method = "auto"`` simulates density matrices up to this many qubits and trajectories
#: above: a density matrix holds 4**n amplitudes per sample, a trajectory 2**n.
DENSITY_MAX_QUBITS = 6


@dataclass
class ModelConfig:
    """DQNN hyper-parameters; the defaults are the product's defaults."""

    n_qubits: int = 8
    n_layers: int = 4
    encoding: str = "amplitude"
    reupload: bool = False
    backend: str = "torch"
    device: str = "default.qubit"  # the PennyLane device of backend = "pennylane"
    # Where the torch model trains and evaluates: cpu (default: the same numbers on every
    # machine, and faster for the small default batches), cuda / cuda:N, or auto (cuda when
    # torch sees a GPU, else cpu). Results always come back to the CPU.
    torch_device: str = "cpu"
    readout: str = "shared"  # per-exit gains/biases, one class map in block 0
    observables: str = "z_zz_all"  # every exit reads <Z_i> (+ <Z_i Z_j>: ring or all pairs)
    layers_per_block: int = 1  # variational layers per block (= per exit and uplink unit)
    entangler: str = "ring"  # CU3 pairs of a layer: ring (i -> i+1 mod n) or chain
    init_scale: float = 1.0
    init_seed: int = 0
    # --- noise (all off by default) ---
    depolarizing: float = 0.0  # probability, after every gate on each wire it touched
    amplitude_damping: float = 0.0  # gamma per gate (on each touched wire)
    phase_damping: float = 0.0  # gamma per gate (on each touched wire)
    t1: float = 0.0  # microseconds; 0 = no thermal relaxation
    t2: float = 0.0  # microseconds; must be <= 2*t1
    gate_time_1q: float = 0.05  # microseconds
    gate_time_2q: float = 0.3  # microseconds
    readout_error: float = 0.0  # symmetric bit-flip probability at measurement
    shots: int = 0  # 0 = exact probabilities
    noise_method: str = "auto"  # auto: density matrices up to 6 qubits, trajectories above
    n_trajectories: int = 8  # the benchmark recommends 4-8 at n = 8 (loss error; README)
    noise_seed: int = 0

    def validate(self) -> None:
        if not isinstance(self.n_qubits, int) or not 2 <= self.n_qubits <= 14:
            raise DqflError(f"model.n_qubits must be an integer in [2, 14]; got {self.n_qubits}")
        if not isinstance(self.n_layers, int) or self.n_layers < 1:
            raise DqflError(f"model.n_layers must be an integer >= 1; got {self.n_layers}")
        if not isinstance(self.layers_per_block, int) or self.layers_per_block < 1:
            raise DqflError(
                f"model.layers_per_block must be an integer >= 1; got {self.layers_per_block}"
            )
        for name, value, allowed in (
            ("encoding", self.encoding, ENCODINGS),
            ("backend", self.backend, BACKENDS),
            ("readout", self.readout, READOUTS),
            ("observables", self.observables, OBSERVABLES),
            ("entangler", self.entangler, ENTANGLERS),
            ("noise_method", self.noise_method, NOISE_METHODS),
        ):
            if value not in allowed:
                raise DqflError(f"model.{name} must be one of {', '.join(allowed)}; got {value!r}")
        if not self.device or not isinstance(self.device, str):
            raise DqflError(f"model.device must be a PennyLane device name; got {self.device!r}")
        if not isinstance(self.torch_device, str) or not _TORCH_DEVICE.fullmatch(self.torch_device):
            raise DqflError(
                f"model.torch_device must be one of {', '.join(TORCH_DEVICES)} (or cuda:N); "
                f"got {self.torch_device!r}"
            )
        if self.init_scale < 0:
            raise DqflError(f"model.init_scale must be >= 0; got {self.init_scale}")
        for name in ("depolarizing", "amplitude_damping", "phase_damping", "readout_error"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise DqflError(f"model.{name} must be a probability in [0, 1]; got {v}")
        for name in ("t1", "t2", "gate_time_1q", "gate_time_2q"):
            if getattr(self, name) < 0:
                raise DqflError(f"model.{name} must be >= 0; got {getattr(self, name)}")
        if (self.t1 > 0) != (self.t2 > 0):
            raise DqflError("model.t1 and model.t2 must be both 0 (off) or both > 0")
        if self.t1 > 0 and self.t2 > 2 * self.t1:
            raise DqflError(f"model.t2 must be <= 2 * model.t1; got t1={self.t1}, t2={self.t2}")
        if not isinstance(self.shots, int) or self.shots < 0:
            raise DqflError(f"model.shots must be an integer >= 0; got {self.shots}")
        if not isinstance(self.n_trajectories, int) or self.n_trajectories < 1:
            raise DqflError(
                f"model.n_trajectories must be an integer >= 1; got {self.n_trajectories}"
            )

    @property
    def has_gate_noise(self) -> bool:
        return any(
            v > 0 for v in (self.depolarizing, self.amplitude_damping, self.phase_damping, self.t1)
        )


def resolve_noise_method(method: str, n_qubits: int) -> str:
    """The noisy simulator ``model.noise_method`` picks at ``n_qubits`` (``density`` or
    ``trajectories``; ``auto`` by :data:`DENSITY_MAX_QUBITS`). The model and the run's memory
    check both ask here, so they cannot disagree."""
    if method == "auto":
        return "density" if n_qubits <= DENSITY_MAX_QUBITS else "trajectories"
    return method


def resolve_torch_device(name: str) -> str:
    """The torch device ``model.torch_device`` names on this machine (``auto``: ``cuda`` when
    torch sees a GPU, else ``cpu``). Asking for a GPU this machine does not have is a DqflError
    here, at placement, not in :meth:`ModelConfig.validate`: a GPU run's saved config must stay
    readable (reports, comparisons) on a machine without one."""
    if name == "cpu":
        return "cpu"
    import torch

    available = torch.cuda.is_available()
    if name == "auto":
        return "cuda" if available else "cpu"
    if not _TORCH_DEVICE.fullmatch(name):
        raise DqflError(
            f"model.torch_device must be one of {', '.join(TORCH_DEVICES)} (or cuda:N); "
            f"got {name!r}"
        )
    if not available:
        raise DqflError(
            f"model.torch_device = {name!r} but torch sees no CUDA device on this machine "
            f"(torch {torch.__version__}); use cpu or auto"
        )
    index = int(name.split(":")[1]) if ":" in name else 0
    if index >= torch.cuda.device_count():
        raise DqflError(
            f"model.torch_device = {name!r} but this machine has {torch.cuda.device_count()} "
            "CUDA device(s)"
        )
    return name
