"""Small-scale block fading: one complex gain per vehicle per round, unit mean power.

Rayleigh: h ~ CN(0, 1). Rician with K: h = sqrt(K/(K+1)) + sqrt(1/(K+1)) w, w ~ CN(0, 1) (K = 0 is
Rayleigh). Across rounds the scattered part w is either independent (default) or AR(1),
w_r = rho w_{r-1} + sqrt(1 - rho^2) e_r, with Jakes' rho = J0(2 pi f_D T), f_D = v f_c / c and
T = round_s; then corr(w_r, w_{r-1}) = rho and corr(|w_r|^2, |w_{r-1}|^2) = rho^2.
Innovations e_r come from ``default_rng([seed, r, STREAM_FADING])`` so a round's draws never depend
on call history; with AR(1) the state is rebuilt from round 0 when needed.
"""

from __future__ import annotations

import numpy as np

from dqfl.channel.config import ChannelConfig

SPEED_OF_LIGHT = 299_792_458.0
STREAM_FADING = 2


def doppler_hz(speed_mps: np.ndarray, carrier_hz: float) -> np.ndarray:
    """Maximum Doppler shift f_D = v f_c / c."""
    return np.asarray(speed_mps, dtype=float) * carrier_hz / SPEED_OF_LIGHT


def ar1_coefficient(speed_mps: np.ndarray, carrier_hz: float, lag_s: float) -> np.ndarray:
    """Jakes' correlation J0(2 pi f_D T) between fades one round apart."""
    from scipy import special  # lazy: keeps `import dqfl.channel` (and `dqfl --help`) fast

    return special.j0(2 * np.pi * doppler_hz(speed_mps, carrier_hz) * lag_s)


def innovations(seed: int, round_idx: int, n_vehicles: int) -> np.ndarray:
    """CN(0, 1) draws of one round, one per vehicle (prefix-stable in n_vehicles)."""
    rng = np.random.default_rng([seed, round_idx, STREAM_FADING])
    z = rng.standard_normal((n_vehicles, 2))
    return (z[:, 0] + 1j * z[:, 1]) / np.sqrt(2.0)


def power_gain(scattered: np.ndarray, fading: str, rician_k: float) -> np.ndarray:
    """|h|^2 with E|h|^2 = 1 from the scattered CN(0, 1) component."""
    if fading == "rayleigh":
        return np.abs(scattered) ** 2
    k = float(rician_k)
    h = np.sqrt(k / (k + 1)) + np.sqrt(1 / (k + 1)) * scattered
    return np.abs(h) ** 2


def gain_survival(x: np.ndarray, fading: str, rician_k: float = 0.0) -> np.ndarray:
    """P(|h|^2 >= x) for unit-mean Rayleigh (exp(-x)) or Rician (noncentral chi-square)."""
    x = np.asarray(x, dtype=float)
    if fading == "rayleigh" or rician_k == 0:
        return np.exp(-x)
    from scipy import stats

    k = float(rician_k)
    # 2(K+1)|h|^2 is noncentral chi-square with 2 degrees of freedom and non-centrality 2K.
    return stats.ncx2.sf(2 * (k + 1) * x, 2, 2 * k)


class FadingProcess:
    """Scattered fading component per vehicle per round, independent or AR(1) in time."""

    def __init__(self, cfg: ChannelConfig, speed_mps: np.ndarray, seed: int) -> None:
        self.cfg = cfg
        self.seed = seed
        self.n = len(speed_mps)
        self.rho = (
            ar1_coefficient(speed_mps, cfg.carrier_hz, cfg.round_s)
            if cfg.correlated_fading
            else np.zeros(self.n)
        )
        self._state: tuple[int, np.ndarray] | None = None  # (round, w) last computed (AR(1))

    def scattered(self, round_idx: int) -> np.ndarray:
        """w_r for all vehicles (complex, CN(0, 1) marginally)."""
        if round_idx < 0:
            raise ValueError("round_idx must be >= 0")
        if not self.cfg.correlated_fading:
            return innovations(self.seed, round_idx, self.n)
        if self._state is None or self._state[0] > round_idx:
            self._state = (0, innovations(self.seed, 0, self.n))
        r, w = self._state
        keep = np.sqrt(1 - self.rho**2)
        while r < round_idx:
            r += 1
            w = self.rho * w + keep * innovations(self.seed, r, self.n)
        self._state = (r, w)
        return w

    def gains(self, round_idx: int) -> np.ndarray:
        """Unit-mean power gains |h|^2 of one round."""
        return power_gain(self.scattered(round_idx), self.cfg.fading, self.cfg.rician_k)
