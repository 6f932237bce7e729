"""Layer-wise aggregation as a pure function: partial deliveries, weights, untouched blocks."""

from __future__ import annotations

import math

import pytest
import torch

from dqfl.aggregation import (
    aggregate_layerwise,
    block_index,
    delivered_counts,
    is_fedbn_local,
    n_blocks,
    update_is_sane,
)


def _state(value: float) -> dict[str, torch.Tensor]:
    return {
        "blocks.0.theta": torch.full((2, 3), value),
        "blocks.0.readout.weight": torch.full((4,), value),
        "blocks.1.theta": torch.full((2, 3), value),
        "blocks.1.norm.weight": torch.full((4,), value),
        "blocks.2.theta": torch.full((2,), value),
        "blocks.1.norm.num_batches_tracked": torch.tensor(int(value)),
    }


def test_block_index_and_counts() -> None:
    assert block_index("blocks.12.theta") == 12
    assert block_index("blocks.0.readout.bias") == 0
    assert block_index("scale") == 0
    assert n_blocks(_state(0.0)) == 3
    assert is_fedbn_local("blocks.1.norm.weight") and not is_fedbn_local("blocks.1.theta")
    assert delivered_counts([0, 1, 3, 2], 3) == [3, 2, 1]


def test_partial_deliveries_weighted_and_untouched_blocks() -> None:
    glob = _state(0.0)
    updates = [_state(1.0), _state(3.0), _state(10.0)]
    depths = [1, 2, 0]  # vehicle 3 was in outage: contributes nothing
    weights = [1.0, 3.0, 100.0]
    new = aggregate_layerwise(glob, updates, depths, weights, local_keys=is_fedbn_local)
    # block 0: both delivering vehicles, weighted (1*1 + 3*3) / 4 = 2.5
    assert torch.allclose(new["blocks.0.theta"], torch.full((2, 3), 2.5))
    assert torch.allclose(new["blocks.0.readout.weight"], torch.full((4,), 2.5))
    # block 1: only vehicle 2 delivered it
    assert torch.allclose(new["blocks.1.theta"], torch.full((2, 3), 3.0))
    # block 2: nobody delivered it -> previous global value
    assert torch.equal(new["blocks.2.theta"], glob["blocks.2.theta"])
    # FedBN-local keys never aggregated
    assert torch.equal(new["blocks.1.norm.weight"], glob["blocks.1.norm.weight"])
    assert new["blocks.1.norm.num_batches_tracked"].dtype == torch.int64
    # inputs untouched, dtypes kept
    assert torch.equal(glob["blocks.0.theta"], torch.zeros(2, 3))
    assert all(new[k].dtype == glob[k].dtype and new[k].shape == glob[k].shape for k in glob)


def test_equal_full_depth_is_fedavg() -> None:
    glob = _state(0.0)
    ups = [_state(1.0), _state(2.0)]
    new = aggregate_layerwise(glob, ups, [3, 3], [2.0, 2.0])
    for key in glob:
        expected = 1.5 if glob[key].is_floating_point() else 2  # ints: round half to even
        assert torch.allclose(new[key].double(), torch.full_like(glob[key], expected).double())


def test_local_keys_as_collection_and_missing_keys() -> None:
    glob = _state(0.0)
    up = {k: v for k, v in _state(4.0).items() if ".norm." not in k}  # FedBN keys never sent
    new = aggregate_layerwise(glob, [up], [3], [5.0], local_keys={"blocks.2.theta"})
    assert torch.equal(new["blocks.2.theta"], glob["blocks.2.theta"])
    assert torch.equal(new["blocks.1.norm.weight"], glob["blocks.1.norm.weight"])  # not sent
    assert torch.allclose(new["blocks.1.theta"], torch.full((2, 3), 4.0))


def test_zero_weight_and_no_updates() -> None:
    glob = _state(0.5)
    new = aggregate_layerwise(glob, [_state(9.0)], [3], [0.0])
    assert all(torch.equal(new[k], glob[k]) for k in glob)
    new = aggregate_layerwise(glob, [], [], [])
    assert all(torch.equal(new[k], glob[k]) for k in glob)


def test_argument_errors() -> None:
    with pytest.raises(ValueError):
        aggregate_layerwise(_state(0.0), [_state(1.0)], [1, 2], [1.0])
    with pytest.raises(ValueError):
        aggregate_layerwise(_state(0.0), [_state(1.0)], [1], [math.nan])
    bad = _state(1.0)
    bad["blocks.0.theta"] = torch.zeros(3, 2)
    with pytest.raises(ValueError):
        aggregate_layerwise(_state(0.0), [bad], [1], [1.0])


def test_update_sanity() -> None:
    ref = _state(0.0)
    assert update_is_sane(_state(1.0), ref, 100.0)[0]
    nan = _state(1.0)
    nan["blocks.2.theta"][0] = math.inf
    ok, reason = update_is_sane(nan, ref, 100.0)
    assert not ok and "non-finite" in reason
    ok, reason = update_is_sane(_state(100.0), ref, 10.0)
    assert not ok and "norm" in reason


def test_update_sanity_names_the_first_problem_in_key_order() -> None:
    """The values are checked as one vector; the reason still names the first offending key,
    in the order a key-by-key check meets them."""
    ref = _state(0.0)
    keys = list(ref)
    bad = _state(1.0)
    bad[keys[4]][0] = math.nan
    bad[keys[1]][0] = math.inf
    assert update_is_sane(bad, ref, 100.0) == (False, f"non-finite values in {keys[1]}")
    wrong_shape = _state(1.0)
    wrong_shape[keys[0]] = torch.zeros(7)
    wrong_shape[keys[1]][0] = math.nan  # after the bad shape: the shape is reported
    ok, reason = update_is_sane(wrong_shape, ref, 100.0)
    assert not ok and reason.startswith(f"{keys[0]}: shape")
    extra = {"unknown": torch.zeros(2), **_state(1.0)}
    assert update_is_sane(extra, ref, 100.0) == (False, "unexpected key unknown")
    mixed = _state(0.5)
    mixed[keys[0]] = mixed[keys[0]].double()
    norm = math.sqrt(sum(float(((v.double() - ref[k].double()) ** 2).sum())
                         for k, v in mixed.items()))  # fmt: skip
    assert update_is_sane(mixed, ref, norm * 1.001)[0]
    assert update_is_sane(mixed, ref, norm * 0.999) == (
        False, f"update norm {norm:.3g} > max_update_norm {norm * 0.999:g}")  # fmt: skip
