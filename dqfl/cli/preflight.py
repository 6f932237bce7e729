"""Everything that can fail is checked before any work starts (and before Flower's engine starts).

`dqfl run` and `dqfl sweep` call :func:`check_points` with every (config, results folder) they
will run: each point's config, the sizes against this machine's memory, the model (qubits vs
image size, readout vs classes, the PennyLane device), the data paths, finished results of
another configuration in a target folder, and that every results folder can be created and
written. Folders are created only after every other check passed.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dqfl.config import RunConfig
from dqfl.data import class_names
from dqfl.errors import DqflError
from dqfl.limits import BYTES_PER_POINT, check_fits

#: One round's history row held in memory (its per-vehicle lists grow with the sampled fleet).
BYTES_PER_ROUND = 2_000
BYTES_PER_ROUND_VEHICLE = 200
#: Driver memory per vehicle: the bench_scale measurement (757 MB at 10 vehicles, 793 MB at
#: 1000) gives about 36 KB; rounded up.
BYTES_PER_VEHICLE = 40_000
#: A warm-up longer than this compiled the kernels (a load from numba's disk cache is faster).
COMPILE_NOTICE_S = 10.0
FLOAT = 4


def check_points(points: Sequence[tuple[RunConfig, Path]], label_points: bool = False) -> int:
    """Validate every point up front; returns how many hold reusable finished results."""
    from dqfl.federation.results import reusable_summary

    check_fits(
        f"a grid of {len(points)} points",
        len(points) * BYTES_PER_POINT,
        "use fewer values per axis",
    )
    models: set[str] = set()
    data: set[str] = set()
    finished = 0
    for cfg, out in points:
        prefix = f"grid point {cfg.run_name()}: " if label_points else ""
        try:
            cfg.validate()
            check_sizes(cfg)
            key = repr((cfg.model, cfg.federation.method, cfg.data.alphabet, cfg.data.image_size))
            if key not in models:
                check_model(cfg)
                models.add(key)
            key = repr((cfg.data.data_root, cfg.data.font_dir, cfg.data.alphabet))
            if key not in data:
                check_data_paths(cfg)
                data.add(key)
            finished += reusable_summary(cfg, out) is not None
            check_writable(Path(out))
        except DqflError as exc:
            raise DqflError(f"{prefix}{exc}") from None
    create_folders([Path(out) for _, out in points])
    return finished


def check_sizes(cfg: RunConfig) -> None:
    """Memory estimates of the largest things one run holds; refused above the limit."""
    d, m = cfg.data, cfg.model
    pixels = d.image_size**2
    check_fits(
        f"one vehicle's {d.samples_per_vehicle} crops (data.samples_per_vehicle)",
        2 * d.samples_per_vehicle * pixels * FLOAT,  # rendered crops + the float copy
        "lower data.samples_per_vehicle",
    )
    n_classes = len(class_names(cfg.data_config()))
    check_fits(
        f"the held-out set of {d.test_per_class} crops per class (data.test_per_class)",
        2 * d.test_per_class * n_classes * pixels * FLOAT,
        "lower data.test_per_class",
    )
    check_fits(
        f"a fleet of {d.n_vehicles} vehicles (data.n_vehicles)",
        d.n_vehicles * BYTES_PER_VEHICLE,
        "lower data.n_vehicles",
    )
    f = cfg.federation
    sampled = max(1, math.ceil(f.fraction * d.n_vehicles))
    check_fits(
        f"the history of {f.rounds} rounds (federation.rounds)",
        f.rounds * (BYTES_PER_ROUND + BYTES_PER_ROUND_VEHICLE * sampled),
        "lower federation.rounds",
    )
    from dqfl.federation.methods import method

    if method(cfg.federation.method).model == "dqnn":
        check_fits(
            f"a {m.n_qubits}-qubit DQNN with {m.n_layers} layers (model.n_layers)",
            model_training_bytes(cfg),
            "lower model.n_layers, model.n_qubits or federation.batch_size",
        )


def model_training_bytes(cfg: RunConfig) -> float:
    """Parameters plus the states kept for one batch's backward pass through every layer."""
    from dqfl.quantum.config import resolve_noise_method

    m = cfg.model
    dim = 2**m.n_qubits
    state = 2 * dim  # [Re|Im]
    if m.has_gate_noise and m.backend == "torch":  # readout error alone keeps the state vector
        density = resolve_noise_method(m.noise_method, m.n_qubits) == "density"
        state = 2 * dim * dim if density else 2 * dim * m.n_trajectories
    # the adjoint path keeps every step's input for the backward pass (3-qubit ranges on the
    # CPU: about n / 2 steps per layer); autograd paths keep about three tensors per layer
    from dqfl.quantum.adjoint import plan_layer, segment_width
    from dqfl.quantum.circuit import build_circuit

    circuit = build_circuit(m.n_qubits, 1, 1, m.encoding, m.reupload, m.entangler)
    steps = len(plan_layer(circuit, segment_width(m.n_qubits, "compiled")))
    per_layer = max(3, steps + 1) * cfg.federation.batch_size * state * FLOAT
    params = m.n_layers * (6 * m.n_qubits + 2 * (m.n_qubits + 1) * 33) * FLOAT
    return m.n_layers * per_layer + params


def check_model(cfg: RunConfig) -> None:
    """Build the run's model once: qubits vs image size, readout vs classes, the device names
    (PennyLane's, and a GPU for model.torch_device that this machine must have)."""
    from dqfl.federation.common import avoid_llvm_clash, build, torch_device

    avoid_llvm_clash()
    torch_device(cfg)
    try:
        model = build(cfg)
    except ValueError as exc:
        raise DqflError(f"the model cannot be built from this configuration: {exc}") from None
    warm_up_kernels(cfg, model)
    from dqfl.federation.common import block_counts
    from dqfl.federation.methods import method

    if method(cfg.federation.method).uplink == "superposition":
        n_blocks = len(block_counts(cfg, model))  # vectors must have one entry per block
        cfg.channel.split_for(n_blocks)
        cfg.channel.utilities_for(n_blocks)


def warm_up_kernels(cfg: RunConfig, model) -> None:
    """Compile the simulator's state passes here, once, before Flower's actors start (each
    would otherwise compile them itself on a fresh install, about a minute and a half apiece)."""
    from dqfl.quantum import adjoint
    from dqfl.quantum.dqnn import DQNN

    if (
        not isinstance(model, DQNN)
        or model.backend != "torch"
        or not adjoint.supports(model.circuit)
    ):
        return
    if cfg.model.torch_device not in ("cpu", "auto"):
        return
    from dqfl.quantum.kernels import warm_up

    seconds = warm_up(model.blocks[0].u3.dtype)
    if seconds > COMPILE_NOTICE_S:  # loading them from numba's cache takes a few seconds at most
        from rich.console import Console

        Console(stderr=True).print(
            f"compiled the simulator's kernels in {seconds:.0f} s (kept on disk for later runs)"
        )


def check_data_paths(cfg: RunConfig) -> None:
    """Real images and user fonts are read by the vehicles later: look at them now."""
    data = cfg.data_config()
    if data.data_root:
        from dqfl.data.imagefolder import load_pool

        load_pool(data)  # reads (and caches) every image now: unreadable ones warned here, once
    if data.font_dir:
        from dqfl.data.fonts import user_fonts

        user_fonts(data.font_dir)


def check_writable(folder: Path) -> None:
    """The folder (or the nearest existing folder above it) must accept new files."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise DqflError(f"cannot write results to {folder}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise DqflError(f"cannot write results to {folder}: {probe} is not writable")


def create_folders(folders: Sequence[Path]) -> None:
    """Create every results folder and write a probe file in it; undo on failure."""
    created: list[Path] = []
    try:
        for folder in folders:
            missing = [p for p in [folder, *folder.parents] if not p.exists()]
            try:
                folder.mkdir(parents=True, exist_ok=True)
                created += reversed(missing)
                with tempfile.TemporaryFile(dir=folder):
                    pass
            except OSError as exc:
                raise DqflError(
                    f"cannot write results to {folder}: {exc.strerror or exc}"
                ) from None
    except DqflError:
        for path in reversed(created):
            try:
                path.rmdir()
            except OSError:
                pass
        raise
