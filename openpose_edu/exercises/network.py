"""Checkers of notebooks 02 and 05: counting a convolution's parameters, the stages' receptive field."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from ..model import OpenPoseConfig, meta_net
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

    One output cell's gradient w.r.t. the input is non-zero on exactly the input cells it sees:
    ``measured_stage_receptive_field`` with a single stage.
    """
    return measured_stage_receptive_field([kernels])


def measured_stage_receptive_field(stages: list[list[int]]) -> int:
    """The receptive field on F (in grid cells) of one output cell of the last stage, measured.

    ``stages[0]``: the kernel sizes of stage 1, which reads F; ``stages[t - 1]`` (t >= 2): those
    of stage t, which reads the concatenation [L^{t-1}, S^{t-1}, F] (CVPR 2017 Eq. 1-2, Fig. 3).
    The graph is rebuilt with one channel per map (the previous stage's output and F, both read by
    the first layer of stage t) and positive weights, and the gradient of one output cell w.r.t.
    F is non-zero on exactly the cells of F it sees, through every path: directly and through
    every earlier stage.
    """
    size = 2 * sum(sum(ks) for ks in stages) + 3
    F = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    y = None
    for kernels in stages:
        x = F if y is None else torch.cat([y, F], dim=1)
        for k in kernels:
            w = torch.full((1, x.shape[1], k, k), 1.0 / (x.shape[1] * k * k), dtype=torch.float64)
            x = torch.nn.functional.conv2d(x, w, padding=k // 2)
        y = x
    assert y is not None, "stages must hold at least one stage"
    y[0, 0, size // 2, size // 2].backward()
    assert F.grad is not None
    return int((F.grad[0, 0, size // 2] != 0).sum())


def stage_kernels(config: Any) -> list[list[int]]:
    """The kernel sizes of every stage's branch, read off the network ``config`` builds.

    The network is built on the meta device (no memory, no weights); ``OpenPoseConfig.paper()``
    gives [[3, 3, 3, 1, 1], [7, 7, 7, 7, 7, 1, 1] x 5] (pose_deploy_linevec.prototxt).
    """
    net = meta_net(config)
    return [
        [int(m.kernel_size[0]) for m in stage.L1.modules() if isinstance(m, torch.nn.Conv2d)]
        for stage in net.stages
    ]


def _stage_cases() -> Iterator[dict[str, Any]]:
    paper = stage_kernels(OpenPoseConfig.paper())
    small = stage_kernels(OpenPoseConfig.small())  # 3x3 stages
    for stages in (paper[:2], paper, small, paper[:1], [[1]], [[3]], [[5, 5], [1], [3, 3]], small[:3]):
        yield {"stages": stages}


def _reach(kernels: list[int]) -> int:
    return sum(k - 1 for k in kernels)


RECEPTIVE_FIELD = Exercise(
    "receptive_field",
    _stage_cases,
    measured_stage_receptive_field,
    [
        (
            "that is only the path from F directly into the last stage; it also reads L and S of the "
            "stage before, which saw further: the widest path goes through every stage",
            lambda stages: 1 + _reach(stages[-1]),
        ),
        (
            "you count every stage like the last one; stage 1 has its own kernels (3x3 in the paper): "
            "go through each stage's own list",
            lambda stages: 1 + len(stages) * _reach(stages[-1]),
        ),
        (
            "you add the stages' receptive fields; the reaches add, not the fields: "
            "1 + sum over every layer of every stage of (k - 1)",
            lambda stages: sum(1 + _reach(ks) for ks in stages),
        ),
        (
            "you add the kernel sizes; each k x k layer adds k - 1 cells: 1 + sum (k - 1)",
            lambda stages: sum(sum(ks) for ks in stages),
        ),
    ],
    "the widest path from F to the output runs through every stage: 1 + sum over all layers of (k - 1)",
    atol=0,
)


def check_receptive_field(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """``fn(stages: list of kernel lists) -> int``: cells of F one output cell of the last stage sees.

    Stage 1 reads F, stage t >= 2 reads [L^{t-1}, S^{t-1}, F] (CVPR 2017 Fig. 3, Eq. 1-2).
    """
    return run(RECEPTIVE_FIELD, fn, verbose)
