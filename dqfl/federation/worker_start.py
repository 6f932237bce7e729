"""Imported by each of Ray's worker processes as it starts (see :func:`.harness.start_engine`).

It brings in what a vehicle's first message needs, the vehicle's code and the simulator's compiled
kernels from numba's disk cache, while Ray and the driver are still starting. Otherwise the first
message pays for it: about 2.5 s of imports and 1 s of kernel loads per worker, before that
vehicle could train.
"""

from __future__ import annotations

import torch

from dqfl.federation import vehicle  # noqa: F401  (imported for its imports)
from dqfl.quantum.kernels import warm_up

warm_up(torch.float32)
