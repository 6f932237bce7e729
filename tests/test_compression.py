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
