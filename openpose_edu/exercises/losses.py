"""Checkers of notebook 06: the masked L2 (Eq. 3) and the loss summed over stages (Eq. 5)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import torch

from .. import loss
from .checker import Exercise, Result, run


def _l2_cases() -> Iterator[dict[str, Any]]:
    g = torch.Generator().manual_seed(11)
    for k in range(12):
        N, C, h, w = 1 + k % 2, 2 + k % 3, 3, 4
        W = (torch.rand(N, 1, h, w, generator=g) < 0.7).float()
        if k == 0:
            W = torch.zeros(N, 1, h, w)  # everything masked
        yield {
            "prediction": torch.rand(N, C, h, w, generator=g),
            "target": torch.rand(N, C, h, w, generator=g),
            "W": W,
        }


MASKED_L2 = Exercise(
    "masked_l2",
    _l2_cases,
    lambda prediction, target, W: float(loss.masked_l2(prediction, target, W, reduction="sum")),
    [
        (
            "you forgot the mask: multiply each squared error by W(p) (0 where a person is not labelled)",
            lambda prediction, target, W: float(((prediction - target) ** 2).sum()),
        ),
        (
            "the error is not squared: Eq. 3 sums W(p) ||S - S*||^2",
            lambda prediction, target, W: float((W * (prediction - target).abs()).sum()),
        ),
        (
            "you take the mean; Eq. 3 is a plain sum over p (and channels, and images)",
            lambda prediction, target, W: float((W * (prediction - target) ** 2).mean()),
        ),
    ],
    "f = sum over images, channels and cells of W(p) * (prediction - target)^2 (W broadcasts over channels)",
)


def check_masked_l2(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """Eq. 3: ``fn(prediction (N, C, h, w), target, W (N, 1, h, w)) -> float``, the paper's plain sum."""
    return run(MASKED_L2, fn, verbose)


def _stages_cases() -> Iterator[dict[str, Any]]:
    g = torch.Generator().manual_seed(12)
    for k in range(8):
        T, h, w = 1 + k % 3, 3, 3
        S_star, L_star = torch.rand(1, 19, h, w, generator=g), torch.rand(1, 38, h, w, generator=g)
        yield {
            "S_stages": [torch.rand(1, 19, h, w, generator=g) for _ in range(T)],
            "L_stages": [torch.rand(1, 38, h, w, generator=g) for _ in range(T)],
            "S_star": S_star,
            "L_star": L_star,
            "W": (torch.rand(1, 1, h, w, generator=g) < 0.7).float(),
        }


def _stages_ref(S_stages, L_stages, S_star, L_star, W) -> float:  # noqa: ANN001
    out = SimpleNamespace(S=S_stages, L=L_stages)
    return float(loss.openpose_loss(out, S_star, L_star, W, reduction="sum").total)


def _l2(p, t, W):  # noqa: ANN001, ANN202
    return float((W * (p - t) ** 2).sum())


LOSS_OVER_STAGES = Exercise(
    "loss_over_stages",
    _stages_cases,
    _stages_ref,
    [
        (
            (
                "you score only the last stage: Eq. 5 sums f_S^t + f_L^t "
                "over every stage t (intermediate supervision)"
            ),
            lambda S_stages, L_stages, S_star, L_star, W: (
                _l2(S_stages[-1], S_star, W) + _l2(L_stages[-1], L_star, W)
            ),
        ),
        (
            "you left out the PAF branch: each stage adds f_S^t (Eq. 3) and f_L^t (Eq. 4)",
            lambda S_stages, L_stages, S_star, L_star, W: sum(_l2(s, S_star, W) for s in S_stages),
        ),
        (
            "you average over stages; Eq. 5 sums them",
            lambda S_stages, L_stages, S_star, L_star, W: (
                sum(_l2(s, S_star, W) + _l2(l, L_star, W) for s, l in zip(S_stages, L_stages)) / len(S_stages)
            ),
        ),
    ],
    "f = sum over t of masked_l2(S^t, S*, W) + masked_l2(L^t, L*, W)",
)


def check_loss_over_stages(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """Eq. 5: ``fn(S_stages [T x (N,19,h,w)], L_stages [T x (N,38,h,w)], S_star, L_star, W) -> float``."""
    return run(LOSS_OVER_STAGES, fn, verbose)
