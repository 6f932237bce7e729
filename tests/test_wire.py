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
