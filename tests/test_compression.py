"""The upload carries what its bits can say: quantised deltas against hand computations."""

import pytest
import torch

from dqfl.compression import quantize_delta, quantize_upload
from dqfl.errors import DqflError


def test_eight_bit_delta_is_a_multiple_of_the_scale_and_within_half_a_step():
    delta = torch.tensor([0.5, -1.27, 0.003, 0.0])
    q = quantize_delta(delta, 8)
    scale = 1.27 / 127
    torch.testing.assert_close(q, torch.tensor([50.0, -127.0, 0.0, 0.0]) * scale)
    assert (q - delta).abs().max() <= scale / 2 + 1e-7


def test_sixteen_bit_is_half_precision_and_32_is_exact():
    delta = torch.tensor([1.0 + 2**-12, -3.0e-5])
    torch.testing.assert_close(quantize_delta(delta, 16), delta.half().float())
    assert quantize_delta(delta, 32) is delta


def test_upload_is_reference_plus_quantised_update():
    ref = {"blocks.0.u3": torch.full((2, 3), 2.0)}
    sent = {"blocks.0.u3": ref["blocks.0.u3"] + torch.tensor([[0.1, -0.2, 0.0], [0.05, 0.2, 0.0]])}
    out = quantize_upload(sent, ref, 8)
    assert (out["blocks.0.u3"] - sent["blocks.0.u3"]).abs().max() <= 0.2 / 127 / 2 + 1e-6
    assert not torch.equal(out["blocks.0.u3"], sent["blocks.0.u3"])
    nan = {"blocks.0.u3": torch.full((2, 3), float("nan"))}
    assert torch.isnan(quantize_upload(nan, ref, 8)["blocks.0.u3"]).all()


def test_unsupported_width_is_a_clear_error():
    with pytest.raises(DqflError, match="8, 16, 32"):
        quantize_delta(torch.ones(2), 4)


def _per_tensor(sent, reference, bits):
    """The definition: every tensor on its own through quantize_delta."""
    out = {}
    for key, value in sent.items():
        ref = reference[key].to(value.dtype)
        out[key] = ref + quantize_delta(value - ref, bits)
    return out


@pytest.mark.parametrize("bits", [8, 16])
def test_whole_upload_at_once_gives_the_per_tensor_values_bit_for_bit(bits):
    """The upload is quantised as one vector; every special case of one tensor (zero update,
    NaN, Inf, huge values, signed zeros) must come out exactly as tensor by tensor."""
    gen = torch.Generator().manual_seed(3)
    shapes = [(1, 8, 3), (36, 10), (36,), (10,), (1, 8, 3), (36,), (10,)]
    for trial in range(40):
        ref = {f"blocks.{i}.w": torch.randn(s, generator=gen) * 10.0 ** (trial % 5 - 2)
               for i, s in enumerate(shapes)}  # fmt: skip
        sent = {k: v + torch.randn(v.shape, generator=gen) * 10.0 ** (-trial % 7)
                for k, v in ref.items()}  # fmt: skip
        sent["blocks.1.w"] = ref["blocks.1.w"].clone()  # nothing learned: zero scale
        if trial % 2:
            sent["blocks.2.w"][3] = float("nan")
            sent["blocks.3.w"][0] = -float("inf")
        if trial % 3 == 0:
            sent["blocks.4.w"] = ref["blocks.4.w"] + 1e38
            ref["blocks.5.w"][0], sent["blocks.5.w"][0] = -0.0, 0.0
        got, want = quantize_upload(sent, ref, bits), _per_tensor(sent, ref, bits)
        assert list(got) == list(want)
        for key in want:
            assert got[key].shape == want[key].shape and got[key].dtype == want[key].dtype
            assert torch.equal(got[key].view(torch.int32), want[key].view(torch.int32)), key


def test_mixed_dtypes_go_tensor_by_tensor():
    ref = {"a": torch.zeros(3), "b": torch.zeros(2, dtype=torch.float64)}
    sent = {
        "a": torch.tensor([0.5, -1.0, 0.25]),
        "b": torch.tensor([1.0, 2.0], dtype=torch.float64),
    }
    got = quantize_upload(sent, ref, 8)
    assert got["b"].dtype == torch.float64
    for key, value in _per_tensor(sent, ref, 8).items():
        assert torch.equal(got[key], value)
