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
    Every vehicle calls this once per round, so tensors of one floating dtype are quantised
    together in a handful of whole-vector operations (:func:`_quantize_flat`, the same values
    as :func:`quantize_delta` tensor by tensor); anything else goes tensor by tensor.
    """
    if bits == 32:
        return dict(sent)
    if bits not in SUPPORTED_BITS:
        quantize_delta(torch.zeros(0), bits)  # the one clear error
    values = list(sent.values())
    if values and _flat_friendly(values):
        return _quantize_flat(sent, reference, bits)
    out = {}
    for key, value in sent.items():
        ref = reference[key].to(value.dtype)
        out[key] = ref + quantize_delta(value - ref, bits)
    return out


def _flat_friendly(values: list[torch.Tensor]) -> bool:
    """One floating dtype and device, no empty tensor: the whole-vector path applies."""
    first = values[0]
    return first.is_floating_point() and all(
        v.dtype == first.dtype and v.device == first.device and v.numel() > 0 for v in values
    )


def _quantize_flat(
    sent: Mapping[str, torch.Tensor], reference: Mapping[str, torch.Tensor], bits: int
) -> dict[str, torch.Tensor]:
    """:func:`quantize_upload` on one flat vector: per tensor the same scale, the same rounding
    and the same special cases (non-finite scale: delta as is; zero scale: zero) as
    :func:`quantize_delta`, element for element."""
    values = list(sent.values())
    dtype = values[0].dtype
    refs = (reference[k] for k in sent)
    ref = torch.cat([(r if r.dtype == dtype else r.to(dtype)).reshape(-1) for r in refs])
    delta = torch.cat([v.reshape(-1) for v in values]) - ref
    sizes = [v.numel() for v in values]
    if bits == 16:
        q = delta.to(torch.float16).to(dtype)
    else:
        counts = torch.tensor(sizes)
        maxima = torch.segment_reduce(delta.abs(), "max", lengths=counts)  # NaN propagates
        scale = (maxima / 127.0).repeat_interleave(counts)  # each tensor's scale, per element
        finite = torch.isfinite(scale)
        q = torch.where(
            finite & (scale != 0),
            torch.round(delta / scale).clamp(-127, 127) * scale,
            torch.where(finite, torch.zeros_like(delta), delta),
        )
    parts = (ref + q).split(sizes)
    return {key: part.view(v.shape) for (key, v), part in zip(sent.items(), parts, strict=True)}
