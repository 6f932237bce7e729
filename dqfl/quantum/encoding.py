"""Classical data -> initial quantum state (shared by every backend so they agree exactly).

* amplitude (default): the 2**n pixels become the 2**n amplitudes. Inputs are zero-padded or
  truncated to 2**n features, then L2-normalised inside the model; an all-zero row becomes |0..0>
  (so a blank image is a valid state, not a NaN).
* angle: 2**n (or any number of) pixels are average-pooled into n contiguous, equal chunks
  (zero-padded to a multiple of n; for 16x16 images and 8 qubits each qubit sees two image rows)
  and qubit i gets RY(pi * mean_i). Pixels are expected in about [0, 1]. This loses most spatial
  detail by design: it is the cheap, hardware-friendly baseline; ``reupload`` repeats the RY
  encoding before every variational layer.
"""

from __future__ import annotations

import math

import torch

_ZERO_NORM = 1e-12


def fit_features(x: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad or truncate the last dimension to ``size``."""
    m = x.shape[-1]
    if m == size:
        return x
    if m > size:
        return x[..., :size]
    return torch.nn.functional.pad(x, (0, size - m))


def amplitude_state(x: torch.Tensor, n_qubits: int) -> torch.Tensor:
    """Real, L2-normalised amplitudes ``(B, 2**n)``; zero rows map to |0...0>."""
    v = fit_features(x.reshape(x.shape[0], -1), 2**n_qubits)
    norm = v.norm(dim=-1, keepdim=True)
    zero = norm <= _ZERO_NORM
    e0 = torch.zeros_like(v)
    e0[:, 0] = 1.0
    return torch.where(zero, e0, v / torch.where(zero, torch.ones_like(norm), norm))


def angle_features(x: torch.Tensor, n_qubits: int) -> torch.Tensor:
    """RY angles ``(B, n)``: pi times the mean of n contiguous equal chunks of the pixels."""
    v = x.reshape(x.shape[0], -1)
    chunk = math.ceil(v.shape[-1] / n_qubits)
    v = fit_features(v, chunk * n_qubits)
    return math.pi * v.reshape(v.shape[0], n_qubits, chunk).mean(-1)


def ry_product_state(angles: torch.Tensor) -> torch.Tensor:
    """Real amplitudes of ``prod_i RY(angles_i)|0>`` (wire 0 most significant), ``(B, 2**n)``."""
    amps = torch.stack((torch.cos(angles / 2), torch.sin(angles / 2)), -1)  # (B, n, 2)
    out = amps[:, 0]
    for i in range(1, angles.shape[-1]):
        out = (out.unsqueeze(-1) * amps[:, i].unsqueeze(-2)).reshape(out.shape[0], -1)
    return out
