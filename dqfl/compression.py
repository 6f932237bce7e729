"""What a vehicle's upload carries at ``channel.bits_per_param`` bits per parameter.

The uplink's payload is counted as parameters x ``bits_per_param`` (:mod:`dqfl.channel.payload`),
so the values the server receives must be what those bits can say. Both ends know the global
model the round started from, so a vehicle sends its *update* delta = local - global:

* 32 bits: the float32 values as they are;
* 16 bits: delta rounded to IEEE half precision;
* 8 bits: delta = scale * q with q = round(delta / scale) in [-127, 127] and one float32 scale per
  tensor, scale = max |delta| / 127 (symmetric per-tensor quantisation, round to nearest; the
  few scale bits per tensor are not counted in the payload).

Rounding is deterministic, so no random stream is needed and runs stay reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from dqfl.errors import DqflError

SUPPORTED_BITS = (8, 16, 32)


def quantize_delta(delta: torch.Tensor, bits: int) -> torch.Tensor:
    """The value of ``delta`` after a round trip through ``bits``-bit encoding."""
    if bits == 32:
        return delta
    if bits == 16:
        return delta.to(torch.float16).to(delta.dtype)
    if bits == 8:
        scale = delta.abs().max() / 127.0
        if not torch.isfinite(scale) or scale == 0:
            return delta if not torch.isfinite(scale) else torch.zeros_like(delta)
        return torch.round(delta / scale).clamp(-127, 127) * scale
    raise DqflError(f"channel.bits_per_param must be one of 8, 16, 32; got {bits}")


def quantize_upload(
    sent: Mapping[str, torch.Tensor], reference: Mapping[str, torch.Tensor], bits: int
) -> dict[str, torch.Tensor]:
    """``sent`` as the server decodes it: reference + quantised (sent - reference) per tensor.

    Non-finite updates pass through unchanged so the server's validity check still sees them.
    """
    if bits == 32:
        return dict(sent)
    out = {}
    for key, value in sent.items():
        ref = reference[key].to(value.dtype)
        out[key] = ref + quantize_delta(value - ref, bits)
    return out
