"""Local training and evaluation of multi-exit models (DQNN or the classical baseline).

Loss of a batch, for the exits 1..d being trained (d = ``train_depth`` or all):

    sum_j w_j CE(z_j, y)                  (w: exit_weights normalised; equal by default)
  + distill * sum_{j<d} w_j T^2 KL(softmax(z_d/T) || softmax(z_j/T))   (T = 2, z_d detached)
  + prox_mu / 2 * ||theta - theta_global||^2   (FedProx over trained, non-``.norm.`` params)

Equal exit weights are the default: every exit is a classifier someone may end up using (the
channel decides the depth), and on the plate data they trained at least as well as
depth-increasing weights. ``train_depth=d`` only simulates and optimises the first d
layers/exits; deeper blocks are not touched. Shuffling uses its own ``torch.Generator(seed)``;
global RNG and thread settings are left alone.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dqfl.blocks import within
from dqfl.errors import DqflError
from dqfl.optim import FlatAdam

DISTILL_TEMPERATURE = 2.0


@dataclass
class TrainResult:
    loss: float  # mean training loss (per example) over the last epoch
    exit_accuracy: list[float]  # training top-1 per trained exit over the last epoch
    num_examples: int
    seconds: float


def _n_exits(model: nn.Module) -> int:
    return int(getattr(model, "n_layers", len(getattr(model, "blocks", [None]))))


def _exit_weights(weights: Sequence[float] | None, depth: int) -> torch.Tensor:
    if weights is None:
        w = torch.ones(depth)
    else:
        if len(weights) < depth:
            raise DqflError(f"exit_weights needs at least {depth} values; got {len(weights)}")
        w = torch.tensor([float(v) for v in weights[:depth]])
        if (w < 0).any() or w.sum() <= 0:
            raise DqflError("exit_weights must be >= 0 with a positive sum")
    return w / w.sum()


def _device(model: nn.Module) -> torch.device:
    """Where the model's parameters live (its inputs are moved there)."""
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def exit_loss_and_grad(
    z: np.ndarray, y: np.ndarray, w: np.ndarray, distill: float
) -> tuple[float, np.ndarray]:
    """The loss of the module docstring for (d, B, C) logits and its gradient in closed form
    (``p = softmax``, ``e_y`` the one-hot label; the teacher z_d is detached):

        d/dz_j  w_j CE(z_j, y)                      = w_j / B (p(z_j) - e_y)
        d/dz_j  w_j T^2 KL(p(z_d/T) || p(z_j/T))   = w_j T / B (p(z_j/T) - p(z_d/T))   (j < d)
    """
    depth, batch, _ = z.shape
    rows = np.arange(batch)
    logp = _log_softmax(z)
    loss = -float(w @ logp[:, rows, y].mean(1))
    grad = np.exp(logp)
    grad[:, rows, y] -= 1
    grad *= (w / batch)[:, None, None]
    if distill > 0 and depth > 1:
        t = DISTILL_TEMPERATURE
        scaled = _log_softmax(z / t)
        teacher, student = scaled[-1], scaled[:-1]  # (B, C), (d-1, B, C)
        p_teacher = np.exp(teacher)
        kl = (p_teacher * (teacher - student)).sum(-1).mean(-1)  # batchmean KL per exit
        loss += distill * t * t * float(w[: depth - 1] @ kl)
        grad[:-1] += (np.exp(student) - p_teacher) * ((distill * t / batch) * w[: depth - 1])[
            :, None, None
        ]
    return loss, grad


class ExitLoss(torch.autograd.Function):
    """:func:`exit_loss_and_grad` as one autograd node on CPU tensors. Autograd through the
    same maths as torch operations (:func:`exit_loss_reference`) records ~15 tiny operations
    forward and ~20 backward, about as long as the DQNN's whole state simulation at n = 8,
    batch 32; here the loss and its gradient are a few numpy operations in the forward pass."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor, distill: float):
        z = logits.detach()
        z = z if z.dtype == torch.float64 else z.float()  # float64 models keep their precision
        loss, grad = exit_loss_and_grad(z.numpy(), y.numpy(), w.to(z.dtype).numpy(), distill)
        ctx.save_for_backward(torch.from_numpy(grad).to(logits.dtype))
        return torch.tensor(loss, dtype=torch.float32)

    @staticmethod
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        return grad * grad_output, None, None, None


def exit_loss_reference(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor, distill: float):
    """The same loss written as torch operations (autograd, any device): the reference the tests
    hold :class:`ExitLoss` to, and the path for tensors that are not on the CPU."""
    depth, batch, n_classes = logits.shape
    z = logits.float()
    ce = F.cross_entropy(z.reshape(-1, n_classes), y.repeat(depth), reduction="none")
    loss = (w * ce.view(depth, batch).mean(1)).sum()
    if distill > 0 and depth > 1:
        t = DISTILL_TEMPERATURE
        teacher = F.log_softmax(z[-1].detach() / t, -1)  # (B, C)
        student = F.log_softmax(z[:-1] / t, -1)  # (d-1, B, C)
        kl = (teacher.exp() * (teacher - student)).sum(-1).mean(-1)  # batchmean KL per exit
        loss = loss + distill * t * t * (w[: depth - 1] * kl).sum()
    return loss


def exit_loss(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor, distill: float):
    """The training loss of (d, B, C) logits (module docstring); :class:`ExitLoss` on the CPU."""
    if logits.device.type == "cpu":
        return ExitLoss.apply(logits, y, w, float(distill))
    return exit_loss_reference(logits, y, w, distill)


def _forward(model: nn.Module, x: torch.Tensor, depth: int) -> torch.Tensor:
    try:
        return model(x, depth=depth)
    except TypeError:  # a model without the depth keyword
        return model(x)[:depth]


def batch_gradients(
    model: nn.Module,
    xb: torch.Tensor,
    yb: torch.Tensor,
    w: torch.Tensor,
    distill: float,
    depth: int,
    prox_mu: float = 0.0,
    prox_pairs: Sequence[tuple[torch.Tensor, torch.Tensor]] = (),
) -> tuple[float, torch.Tensor]:
    """One batch's loss (module docstring) and every trained parameter's ``.grad`` (which must
    be None on entry); returns (loss, detached logits (d, B, C)).

    Where the model offers ``logits_and_vjp`` (the DQNN's fused default path) the gradient is
    taken without autograd: the loss's closed-form gradient (:func:`exit_loss_and_grad`) goes
    straight into the model's hand-written backward, and the proximal term's gradient
    ``mu (theta - theta_global)`` is added to it. Elsewhere autograd does the same sum."""
    fast = getattr(model, "logits_and_vjp", None)
    out = fast(xb, depth) if fast is not None else None
    if out is not None:
        logits, vjp = out
        z = logits if logits.dtype == np.float64 else logits.astype(np.float32, copy=False)
        loss, grad = exit_loss_and_grad(z, yb.numpy(), w.numpy().astype(z.dtype), distill)
        for p, g in vjp(grad.astype(logits.dtype, copy=False)):
            if p.requires_grad:
                p.grad = g
        for p, g in prox_pairs:
            diff = p.detach() - g
            p.grad.add_(diff, alpha=prox_mu)
            loss += 0.5 * prox_mu * float((diff * diff).sum())
        return loss, torch.from_numpy(logits)
    logits = _forward(model, xb, depth)
    yb = yb.to(logits.device)
    loss = exit_loss(logits, yb, w.to(logits.device), distill)
    if prox_pairs:
        prox = sum(((p - g) ** 2).sum() for p, g in prox_pairs)
        loss = loss + 0.5 * prox_mu * prox
    loss.backward()
    return float(loss.detach()), logits.detach()


def train_local(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    optimizer: str = "adam",
    seed: int,
    exit_weights: Sequence[float] | None = None,
    distill: float = 0.0,
    prox_mu: float = 0.0,
    global_state: Mapping[str, torch.Tensor] | None = None,
    train_depth: int | None = None,
    compiled_epochs: bool = True,
) -> TrainResult:
    """Train ``model`` in place on (x, y); see the module docstring for the objective. Where the
    model offers ``train_epochs`` (the DQNN's fused path with :class:`FlatAdam`) every epoch runs
    in one compiled call: the same shuffles, loss, gradients and updates without ~1 ms of Python
    per step. ``compiled_epochs=False`` forces the per-step loop (tests and benchmarks compare)."""
    n_exits = _n_exits(model)
    depth = n_exits if train_depth is None else int(train_depth)
    if not 1 <= depth <= n_exits:
        raise DqflError(f"train_depth must be in [1, {n_exits}]; got {train_depth}")
    if epochs < 0 or batch_size < 1 or lr <= 0:
        raise DqflError("train_local needs epochs >= 0, batch_size >= 1 and lr > 0")
    if distill < 0 or prox_mu < 0:
        raise DqflError("distill and prox_mu must be >= 0")
    if len(x) != len(y):
        raise DqflError(f"x and y differ in length ({len(x)} vs {len(y)})")
    n = len(x)
    start = time.perf_counter()
    if n == 0 or epochs == 0:
        return TrainResult(0.0, [0.0] * depth, n, time.perf_counter() - start)

    named = [(k, p) for k, p in model.named_parameters() if p.requires_grad and within(k, depth)]
    params = [p for _, p in named]
    if optimizer == "adam":
        if FlatAdam.supports(params):  # a few operations on one buffer (dqfl.optim)
            opt = FlatAdam(params, lr=lr)
        else:
            opt = torch.optim.Adam(params, lr=lr, fused=True)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, foreach=True)
    else:
        raise DqflError(f"optimizer must be adam or sgd; got {optimizer!r}")
    prox_pairs = []
    if prox_mu > 0 and global_state is not None:
        for k, p in named:
            if ".norm." not in k and k in global_state:
                prox_pairs.append((p, global_state[k].detach().to(p.device, p.dtype)))
    w = _exit_weights(exit_weights, depth)
    x, y = x.to(_device(model)), y.to(_device(model))  # once: batches are then sliced there
    gen = torch.Generator().manual_seed(int(seed))
    was_training = model.training
    model.train()
    y = y.long()
    perms = [torch.randperm(n, generator=gen) for _ in range(epochs)]
    fast = getattr(model, "train_epochs", None) if compiled_epochs else None
    out = None
    if fast is not None:
        out = fast(x, y, torch.stack(perms), batch_size, opt, w, distill, prox_mu, prox_pairs)
    if out is not None:
        total_loss, correct = out[0], torch.from_numpy(out[1]).float()
        perms = []
    for perm in perms:
        total_loss, correct = 0.0, torch.zeros(depth)
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size].to(x.device)
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            loss, logits = batch_gradients(model, xb, yb, w, distill, depth, prox_mu, prox_pairs)
            opt.step()
            total_loss += loss * len(idx)
            correct += (logits.argmax(-1) == yb.to(logits.device)).sum(-1).float().cpu()
    model.train(was_training)
    return TrainResult(
        loss=total_loss / n,
        exit_accuracy=(correct / n).tolist(),
        num_examples=n,
        seconds=time.perf_counter() - start,
    )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    depth: int | None = None,
    batch_size: int = 512,
) -> list[float]:
    """Top-1 accuracy of every exit (the first ``depth`` ones if given)."""
    n_exits = _n_exits(model)
    depth = n_exits if depth is None else int(depth)
    if not 1 <= depth <= n_exits:
        raise DqflError(f"depth must be in [1, {n_exits}]; got {depth}")
    if len(x) == 0:
        return [0.0] * depth
    was_training = model.training
    model.eval()
    correct = torch.zeros(depth)
    device = _device(model)
    for i in range(0, len(x), batch_size):
        logits = _forward(model, x[i : i + batch_size].to(device), depth)
        yb = y[i : i + batch_size].to(logits.device)
        correct += (logits.argmax(-1) == yb).sum(-1).float().cpu()
    model.train(was_training)
    return (correct / len(x)).tolist()
