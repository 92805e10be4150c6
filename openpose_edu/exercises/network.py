"""Checkers of notebooks 02 and 05: counting a convolution's parameters, a stage's receptive field."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from .checker import Exercise, Result, run


def _conv_cases() -> Iterator[dict[str, Any]]:
    for c_in, c_out, k in [(3, 64, 3), (128, 128, 7), (128, 19, 1), (185, 128, 7), (1, 1, 1), (64, 32, 5)]:
        yield {"c_in": c_in, "c_out": c_out, "k": k}


CONV_PARAMETERS = Exercise(
    "conv_parameters",
    _conv_cases,
    lambda c_in, c_out, k: sum(p.numel() for p in torch.nn.Conv2d(c_in, c_out, k).parameters()),
    [
        (
            "you forgot the bias: one more number per output channel",
            lambda c_in, c_out, k: c_in * c_out * k * k,
        ),
        (
            "a k x k kernel has k * k weights per (input, output) pair, not k",
            lambda c_in, c_out, k: c_in * c_out * k + c_out,
        ),
    ],
    "weights c_in * c_out * k * k, plus one bias per output channel",
    atol=0,
)


def check_conv_parameters(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """``fn(c_in, c_out, k) -> int``: the parameters of one k x k convolution (what the model counts)."""
    return run(CONV_PARAMETERS, fn, verbose)


def measured_receptive_field(kernels: list[int]) -> int:
    """The receptive field of a stack of stride-1 k x k convolutions, measured by a gradient.

    One output cell's gradient w.r.t. the input is non-zero on exactly the input cells it sees.
    """
    layers = [torch.nn.Conv2d(1, 1, k, padding=k // 2, bias=False) for k in kernels]
    for layer in layers:
        torch.nn.init.constant_(layer.weight, 1.0)
    size = 2 * sum(kernels) + 3
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    y = x
    for layer in layers:
        y = layer(y)
    y[0, 0, size // 2, size // 2].backward()
    return int((x.grad[0, 0, size // 2] != 0).sum())


RECEPTIVE_FIELD = Exercise(
    "receptive_field",
    lambda: iter(
        [{"kernels": k} for k in ([3], [3, 3], [7, 7, 7, 7, 7, 1, 1], [5, 5, 5, 5, 5, 1, 1], [1], [3, 5, 7])]
    ),
    measured_receptive_field,
    [
        (
            "you add the kernel sizes; each k x k layer adds k - 1 cells: 1 + sum (k - 1)",
            lambda kernels: sum(kernels),
        ),
        (
            "you multiply the kernel sizes; stride-1 layers add their reach: 1 + sum (k - 1)",
            lambda kernels: int(np.prod(kernels)),
        ),
        (
            "that is the largest kernel alone; the layers add up: 1 + sum (k - 1)",
            lambda kernels: max(kernels),
        ),
    ],
    "stride-1 layers: receptive field = 1 + sum over layers of (k - 1), in grid cells",
    atol=0,
)


def check_receptive_field(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """``fn(kernels: list[int]) -> int``: cells seen by a stack of stride-1 convolutions (Fig. 3 stages)."""
    return run(RECEPTIVE_FIELD, fn, verbose)
