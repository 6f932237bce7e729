"""One noise model: the therapy device is a preset of the core model, with 1q/2q depolarizing and
asymmetric readout; the DQNN's defaults stay noiseless."""

from __future__ import annotations

import pytest
import torch

from dqfl.errors import DqflError
from dqfl.quantum import density
from dqfl.quantum.noise import NoiseModel
from dqfl.therapy.noise import device_noise


def test_default_is_noiseless_and_symmetric():
    m = NoiseModel()
    assert m.is_noiseless and m.gate_superop(False) is None and m.gate_superop(True) is None
    m = NoiseModel(depolarizing=0.02, readout_error=0.1)
    assert m.p1 == m.p2 == 0.02 and m.readout_p01 == m.readout_p10 == 0.1


def test_therapy_device_is_the_superconducting_preset():
    d = device_noise()
    assert d == NoiseModel.preset("superconducting")
    assert (d.p1, d.p2, d.t1, d.t2) == (1e-3, 1e-2, 100.0, 80.0)
    assert (d.readout_p01, d.readout_p10) == (0.015, 0.03)
    with pytest.raises(DqflError, match="preset"):
        NoiseModel.preset("trapped-ion")


def test_two_qubit_depolarizing_is_separate():
    m = NoiseModel(depolarizing=0.01, depolarizing_2q=0.2)
    rho = density.zero_state(1, dtype=torch.complex128)
    after1 = density.apply_superop(rho, m.gate_superop(False), 0, 1)
    after2 = density.apply_superop(rho, m.gate_superop(True), 0, 1)
    # depolarizing p leaves P(1) = 2p/3 on |0>
    assert after1[1, 1].real.item() == pytest.approx(2 * 0.01 / 3)
    assert after2[1, 1].real.item() == pytest.approx(2 * 0.2 / 3)


def test_asymmetric_readout_in_measure():
    m = NoiseModel(readout_error=0.1, readout_error_10=0.3)
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)  # |0>, |1> on one qubit
    out = m.measure(p, 1, None)
    torch.testing.assert_close(out, torch.tensor([[0.9, 0.1], [0.3, 0.7]], dtype=torch.float64))


def test_scaled_and_validate():
    d = device_noise().scaled(10.0)
    assert d.p1 == pytest.approx(1e-2) and d.p2 == pytest.approx(0.1)
    assert d.t1 == pytest.approx(10.0) and d.readout_p10 == pytest.approx(0.3)
    assert d.gate_time_2q == device_noise().gate_time_2q
    with pytest.raises(DqflError, match="therapy.noise.t2"):
        NoiseModel(t1=10.0, t2=30.0).validate("therapy.noise")
    with pytest.raises(DqflError, match="depolarizing_2q"):
        NoiseModel(depolarizing_2q=1.5).validate()
    with pytest.raises(DqflError, match="scale"):
        device_noise().scaled(0.0)
