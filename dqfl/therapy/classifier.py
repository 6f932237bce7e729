"""Variational quantum classifier (VQC) of tumours by size and growth rate.

Data (synthetic, seeded): tumour size S (mm) ~ LogNormal(ln 20, 0.5) clipped to [3, 80] and
growth rate G (volume fraction per month) ~ LogNormal(ln 0.15, 0.6) clipped to [0.01, 1.2]. A
tumour is *aggressive* (label 1) when its projected 6-month size S (1 + G)^2 exceeds 40 mm (a
curved boundary in the (S, G) plane: the diameter grows as the cube root of the volume, so
S (1 + G)^(6/3)), and 8 % of labels are flipped to model clinical noise.

Model on n = 2..4 qubits (torch statevector, exact expectation values, backprop):
* feature map (ZZ-feature-map style, 2 repetitions): H on every wire, RZ(2 x_w) with
  x_w = feature (w mod 2) scaled to [0, pi], then for neighbouring wires CNOT - RZ(2 (pi - x_a)
  (pi - x_b)) - CNOT;
* ``layers`` variational layers of RY, RZ on every wire and a CNOT chain;
* output p(aggressive) = sigmoid(a <Z_0> + b) with trainable a, b.
Baselines on the same split: logistic regression and an RBF SVM (scikit-learn), each on the
standardised features.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dqfl.errors import DqflError


@dataclass
class ClassifierConfig:
    seed: int = 0
    n_samples: int = 400
    test_fraction: float = 0.3
    n_qubits: int = 2
    layers: int = 3
    epochs: int = 60
    lr: float = 0.05
    label_noise: float = 0.08

    def validate(self) -> None:
        if not 2 <= self.n_qubits <= 4:
            raise DqflError(f"classifier qubits must be 2-4; got {self.n_qubits}")
        if self.layers < 1 or self.epochs < 1:
            raise DqflError("classifier layers and epochs must be >= 1")
        if self.n_samples < 40:
            raise DqflError(f"classifier samples must be >= 40; got {self.n_samples}")
        if not 0 < self.test_fraction < 1:
            raise DqflError(f"classifier test_fraction must be in (0, 1); got {self.test_fraction}")
        if not 0 <= self.label_noise < 0.5:
            raise DqflError(f"classifier label_noise must be in [0, 0.5); got {self.label_noise}")


def tumour_data(n: int, seed: int, label_noise: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, 2): size mm, growth per month; labels (n,) 0/1), see the module docstring."""
    rng = np.random.default_rng([seed, 31])
    size = np.clip(rng.lognormal(math.log(20.0), 0.5, n), 3.0, 80.0)
    growth = np.clip(rng.lognormal(math.log(0.15), 0.6, n), 0.01, 1.2)
    y = (size * (1.0 + growth) ** 2 > 40.0).astype(np.int64)
    flip = rng.random(n) < label_noise
    y[flip] = 1 - y[flip]
    return np.column_stack([size, growth]), y


def build_vqc(n_qubits: int, layers: int, seed: int):
    """The VQC as a torch module (built in a function so torch is imported lazily)."""
    import torch

    from dqfl.quantum import gates

    class _VQC(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            g = torch.Generator().manual_seed(seed)
            self.theta = torch.nn.Parameter(
                0.1 * torch.randn(layers, 2, n_qubits, generator=g, dtype=torch.float64)
            )
            self.scale = torch.nn.Parameter(torch.tensor(2.0, dtype=torch.float64))
            self.bias = torch.nn.Parameter(torch.tensor(0.0, dtype=torch.float64))
            self.n = n_qubits
            dim = 2**n_qubits
            idx = torch.arange(dim)
            self.cnot_perm = {}
            for w in range(n_qubits - 1):
                ctl = (idx >> (n_qubits - 1 - w)) & 1
                self.cnot_perm[w] = idx ^ (ctl << (n_qubits - 2 - w))
            self.z0 = (1 - 2 * ((idx >> (n_qubits - 1)) & 1)).to(torch.float64)
            self.register_buffer("_h", gates.hadamard(torch.complex128))

        def one(self, psi, u, w):
            """u: (2,2) or (B,2,2) on wire w of psi (B, 2^n)."""
            b = psi.shape[0]
            v = psi.reshape(b, 2**w, 2, 2 ** (self.n - w - 1))
            eq = "ij,bajc->baic" if u.dim() == 2 else "bij,bajc->baic"
            return torch.einsum(eq, u.to(psi.dtype), v).reshape(b, -1)

        def cnot(self, psi, w):
            return psi[:, self.cnot_perm[w]]

        def features(self, x):
            """x: (B, 2) already scaled to [0, pi]."""
            b = x.shape[0]
            psi = torch.zeros(b, 2**self.n, dtype=torch.complex128)
            psi[:, 0] = 1
            xs = [x[:, w % 2] for w in range(self.n)]
            for _rep in range(2):
                for w in range(self.n):
                    psi = self.one(psi, self._h, w)
                    psi = self.one(psi, gates.rz(2 * xs[w]), w)
                for w in range(self.n - 1):
                    psi = self.cnot(psi, w)
                    phi = 2 * (math.pi - xs[w]) * (math.pi - xs[w + 1])
                    psi = self.one(psi, gates.rz(phi), w + 1)
                    psi = self.cnot(psi, w)
            return psi

        def forward(self, x):
            psi = self.features(x)
            for layer in range(self.theta.shape[0]):
                for w in range(self.n):
                    psi = self.one(psi, gates.ry(self.theta[layer, 0, w]), w)
                    psi = self.one(psi, gates.rz(self.theta[layer, 1, w]), w)
                for w in range(self.n - 1):
                    psi = self.cnot(psi, w)
            z = (psi.abs() ** 2) @ self.z0
            return self.scale * z + self.bias  # logit

    return _VQC()


def run_classifier(cfg: ClassifierConfig, out: Path | None = None) -> dict:
    """Train the VQC and the classical baselines; optionally write the boundary plot."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    cfg.validate()
    t0 = time.perf_counter()
    x, y = tumour_data(cfg.n_samples, cfg.seed, cfg.label_noise)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=cfg.test_fraction, random_state=cfg.seed, stratify=y
    )
    # sizes and rates are log-normal: scale them to [0, pi] in log space (train-set range)
    lo, hi = np.log(x_tr).min(0), np.log(x_tr).max(0)

    def scale(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.clip((np.log(a) - lo) / (hi - lo), 0, 1) * math.pi)

    torch.manual_seed(cfg.seed)
    model = build_vqc(cfg.n_qubits, cfg.layers, cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    xt, yt = scale(x_tr), torch.as_tensor(y_tr, dtype=torch.float64)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(cfg.epochs):
            opt.zero_grad()
            loss = loss_fn(model(xt), yt)
            loss.backward()
            opt.step()
        with torch.no_grad():
            pred = (model(scale(x_te)) > 0).numpy().astype(int)
    finally:
        torch.set_num_threads(threads)
    acc_vqc = float((pred == y_te).mean())
    logreg = make_pipeline(StandardScaler(), LogisticRegression()).fit(x_tr, y_tr)
    svm = make_pipeline(StandardScaler(), SVC(kernel="rbf", C=1.0, gamma="scale")).fit(x_tr, y_tr)
    chance = max(y_te.mean(), 1 - y_te.mean())
    result = {
        "vqc": acc_vqc,
        "logreg": float(logreg.score(x_te, y_te)),
        "svm": float(svm.score(x_te, y_te)),
        "chance": float(chance),
        "n_test": int(len(y_te)),
        "final_loss": float(loss.detach()),
    }
    if out is not None:
        plot_boundary(model, scale, x_tr, y_tr, x_te, y_te, result, Path(out))
    result["seconds"] = time.perf_counter() - t0
    return result


def plot_boundary(model, scale, x_tr, y_tr, x_te, y_te, result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DqflError(f"cannot create {path.parent}: {exc}") from None
    s = np.geomspace(3, 80, 120)
    g = np.geomspace(0.01, 1.2, 120)
    ss, gg = np.meshgrid(s, g)
    grid = np.column_stack([ss.ravel(), gg.ravel()])
    with torch.no_grad():
        prob = torch.sigmoid(model(scale(grid))).numpy().reshape(ss.shape)
    fig, ax = plt.subplots(figsize=(7, 5))
    cf = ax.contourf(ss, gg, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.55)
    cs = ax.contour(
        ss, gg, prob, levels=[0.1, 0.25, 0.75, 0.9], colors="k", linewidths=0.6, linestyles="dotted"
    )
    ax.clabel(cs, fmt="%.2f", fontsize=7)
    ax.contour(ss, gg, prob, levels=[0.5], colors="k", linewidths=1.6)
    ax.plot(s, np.sqrt(40.0 / s) - 1, "g--", lw=1, label="true rule S(1+G)^2 = 40")
    for xs, ys, filled in ((x_tr, y_tr, False), (x_te, y_te, True)):
        for label, marker, color in ((0, "o", "tab:blue"), (1, "s", "tab:red")):
            m = ys == label
            ax.scatter(
                xs[m, 0],
                xs[m, 1],
                marker=marker,
                s=16,
                edgecolors=color,
                facecolors=color if filled else "none",
                linewidths=0.8,
            )
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(0.01, 1.2)
    ax.set_xticks([3, 5, 10, 20, 40, 80])
    ax.set_yticks([0.01, 0.03, 0.1, 0.3, 1.0])
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("tumour size (mm)")
    ax.set_ylabel("growth rate (volume fraction / month)")
    ax.set_title(
        f"VQC decision boundary (test acc {result['vqc']:.2f}; logistic {result['logreg']:.2f}, "
        f"RBF SVM {result['svm']:.2f})",
        fontsize=9,
    )
    fig.colorbar(cf, ax=ax, label="p(aggressive)")
    ax.legend(
        loc="lower left",
        fontsize=8,
        title="circles indolent, squares aggressive;\nhollow train, filled test",
        title_fontsize=7,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
