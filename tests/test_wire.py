"""Packing a state dict for a message is exact and refuses arrays that do not fit the layout."""

from __future__ import annotations

import pytest
import torch

from dqfl.federation.wire import from_record, pack, to_record, unpack


def _state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "blocks.0.u3": torch.randn(1, 8, 3, generator=g),
        "blocks.0.readout.weight": torch.randn(36, 10, generator=g),
        "blocks.1.count": torch.tensor(7),
        "blocks.1.w": torch.randn(4, generator=g, dtype=torch.float64),
        "blocks.1.v": torch.randn(2, 2, generator=g),
    }


def test_round_trip_is_exact_in_order_dtype_and_shape() -> None:
    state = _state()
    arrays, layout = pack(state)
    assert sorted(arrays) == ["packed-float32", "packed-float64", "packed-int64"]
    back = unpack(arrays, layout)
    assert list(back) == list(state)
    for key, value in state.items():
        assert back[key].dtype == value.dtype and torch.equal(back[key], value), key
    back["blocks.0.u3"] += 1  # owns its memory: the sender's tensors are not touched
    assert not torch.equal(back["blocks.0.u3"], state["blocks.0.u3"])


def test_flower_record_round_trip() -> None:
    pytest.importorskip("flwr")
    record, layout = to_record(_state())
    assert len(record) == 3  # one array per dtype, not one per tensor
    back = from_record(record, layout)
    assert all(torch.equal(back[k], v) for k, v in _state().items())


def test_arrays_that_do_not_fit_the_layout_are_refused() -> None:
    arrays, layout = pack(_state())
    short = dict(arrays, **{"packed-float32": arrays["packed-float32"][:-1]})
    with pytest.raises(ValueError):
        unpack(short, layout)
    with pytest.raises(ValueError):
        unpack({k: v for k, v in arrays.items() if k != "packed-int64"}, layout)
    _, small = pack({"blocks.0.u3": _state()["blocks.0.u3"]})
    with pytest.raises(ValueError):
        unpack(arrays, small)  # more values than described


def test_arrays_read_as_flower_reads_them() -> None:
    """The cached-header reader returns what ``Array.numpy()`` returns for every dtype and
    shape (Fortran order and 0-d included), and leaves other serialisations to Flower."""
    pytest.importorskip("flwr")
    import numpy as np
    from flwr.app import Array

    from dqfl.federation.wire import array_numpy

    samples = [
        np.arange(12, dtype=np.float32),
        np.arange(6, dtype=np.int64).reshape(2, 3),
        np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
        np.array(3.5, dtype=np.float16),
        np.zeros((0, 4), dtype=np.complex64),
    ]
    for value in samples:
        array = Array.from_numpy_ndarray(value)
        for _ in range(2):  # parsed once, then from the cache
            got, want = array_numpy(array), array.numpy()
            assert got.dtype == want.dtype and got.shape == want.shape
            assert np.array_equal(got, want) and np.array_equal(got, value)
    other = Array(dtype="float32", shape=(2,), stype="torch.raw", data=b"\0" * 8)
    with pytest.raises(TypeError):  # Flower's own refusal of a serialisation it cannot read
        array_numpy(other)
    short = Array.from_numpy_ndarray(np.arange(8, dtype=np.float32))
    short.data = short.data[:-4]
    with pytest.raises(ValueError):
        array_numpy(short)
