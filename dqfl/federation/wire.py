"""A state dict as one flat array per dtype plus a layout string: what travels in a message.

Flower serialises every array of a record separately (one ``.npy`` header written and parsed per
tensor); for the DQNN's 17 small tensors that was about 2 ms per message on each end, per vehicle
and round, on the server's single process too. Packed, a model is one array and one header.
Unpacking is exact (same dtypes, shapes and values) and yields tensors that own their memory.
Flower stores each array as ``.npy`` bytes whose header ``np.load`` parses with
``ast.literal_eval`` (about 0.1 ms, the largest part of unpacking a reply on the server); every
message of a run carries the same few headers, so :func:`array_numpy` parses each distinct
header once.
"""

from __future__ import annotations

import ast
import functools
import json
import math
from collections.abc import Mapping

import numpy as np
import torch

PREFIX = "packed-"


def pack(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, np.ndarray], str]:
    """(one flat array per dtype, keyed ``packed-<dtype>``; the layout as a JSON string)."""
    groups: dict[str, list[torch.Tensor]] = {}
    layout = []
    for key, tensor in state.items():
        dtype = str(tensor.dtype).removeprefix("torch.")  # numpy's name for it
        layout.append([key, dtype, list(tensor.shape)])
        groups.setdefault(dtype, []).append(tensor.detach().reshape(-1))
    arrays = {PREFIX + dtype: torch.cat(parts).cpu().numpy() for dtype, parts in groups.items()}
    return arrays, json.dumps(layout)


def unpack(arrays: Mapping[str, np.ndarray], layout: str) -> dict[str, torch.Tensor]:
    """Inverse of :func:`pack` (raises ValueError when the arrays do not fit the layout)."""
    offsets: dict[str, int] = {}
    flats = {name: np.array(a, copy=True) for name, a in arrays.items()}  # writable, owned
    out: dict[str, torch.Tensor] = {}
    for key, dtype, shape in _layout(layout):
        flat = flats.get(PREFIX + dtype)
        start, size = offsets.get(dtype, 0), math.prod(shape)
        if flat is None or flat.dtype != np.dtype(dtype) or start + size > flat.size:
            raise ValueError(f"packed arrays do not hold {key} ({dtype}, {shape})")
        out[key] = torch.from_numpy(flat[start : start + size].reshape(shape))
        offsets[dtype] = start + size
    if any(offsets.get(n.removeprefix(PREFIX), 0) != a.size for n, a in flats.items()):
        raise ValueError("packed arrays hold more values than the layout describes")
    return out


@functools.lru_cache(maxsize=64)
def _layout(text: str) -> tuple[tuple[str, str, tuple[int, ...]], ...]:
    """A layout string parsed (every message of a run carries the same one or two)."""
    return tuple((str(k), str(d), tuple(int(n) for n in s)) for k, d, s in json.loads(text))


LAYOUT_KEY = "arrays-layout"  # where a message's ConfigRecord carries the layout


def to_record(state: Mapping[str, torch.Tensor]) -> tuple[object, str]:
    """(a Flower ``ArrayRecord`` holding ``state`` packed, its layout)."""
    from flwr.app import Array, ArrayRecord

    arrays, layout = pack(state)
    record = ArrayRecord(array_dict={k: Array.from_numpy_ndarray(v) for k, v in arrays.items()})
    return record, layout


def from_record(record: object, layout: str) -> dict[str, torch.Tensor]:
    """The state dict a :func:`to_record` record holds."""
    return unpack({name: array_numpy(array) for name, array in record.items()}, layout)


_NPY_MAGIC = b"\x93NUMPY"


def array_numpy(array: object) -> np.ndarray:
    """What Flower's ``Array.numpy()`` returns (a read-only view of the message's bytes), with
    the ``.npy`` header parsed once per distinct header; anything unusual (another
    serialisation, a damaged or object-typed header) goes through ``Array.numpy()`` itself."""
    data = getattr(array, "data", b"")
    if getattr(array, "stype", None) != "numpy.ndarray" or data[:6] != _NPY_MAGIC:
        return array.numpy()  # type: ignore[attr-defined]
    size = 2 if data[6] == 1 else 4  # version 1: uint16 header length; 2 and 3: uint32
    start = 8 + size
    end = start + int.from_bytes(data[8:start], "little")
    parsed = _npy_header(bytes(data[start:end]), data[6])
    if parsed is None:
        return array.numpy()  # type: ignore[attr-defined]
    dtype, shape, order = parsed
    flat = np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=end)
    return flat.reshape(shape, order=order)


@functools.lru_cache(maxsize=64)
def _npy_header(header: bytes, version: int) -> tuple[np.dtype, tuple[int, ...], str] | None:
    """(dtype, shape, order) of a ``.npy`` header; None when it is not a plain array's."""
    try:
        fields = ast.literal_eval(header.decode("utf8" if version >= 3 else "latin1"))
        dtype = np.dtype(fields["descr"])
        shape = tuple(int(n) for n in fields["shape"])
        order = "F" if fields["fortran_order"] else "C"
    except (ValueError, TypeError, KeyError, SyntaxError, UnicodeDecodeError):
        return None
    if dtype.hasobject or version not in (1, 2, 3):
        return None
    return dtype, shape, order
