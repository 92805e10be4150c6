"""Six refinement stages in any order: the networks of TPAMI 2019 Table 5, small enough for a CPU.

The TPAMI 2019 paper (arXiv 1812.08008, Sec. 3.1, Eq. 1-4) refines the part affinity fields
first and the confidence maps last; CVPR 2017 (Eq. 1-2) refines both together. Table 5 of the
2019 paper compares orderings of six stages. Here one small network family builds all of them
from one description, ``RefinementConfig.order``, a string of stage kinds:

* ``"J"`` joint (CVPR 2017): two branches on concat[L, S, F], giving S^t and L^t;
* ``"P"`` a PAF stage: phi^t on concat[F, L^{t-1}, S^last] (Eq. 1-2 of TPAMI 2019);
* ``"C"`` a confidence-map stage: rho^t on concat[F, L^last, S^{t-1}] (Eq. 3-4).

A stage reads F and the latest maps of each kind that exist so far, so "PPPPCC" is the 2019
network (PAF stages see only F and L, the heatmap stages see the last L), "CCCPPP" the reverse
and "JJJJJJ" the 2017 one. Every stage has the same body: ``n_blocks`` blocks, a 1x1 conv to
``hidden`` channels and a 1x1 conv to the maps. The block is either the 2017 one (one k x k conv
and ReLU, ``block="conv"``) or the 2019 one (three chained 3x3 convs whose outputs are
concatenated, PReLU, ``block="chained"``, TPAMI 2019 Sec. 3.1 / Fig. 3). Backbone: the shared
``model.vgg_backbone`` and ``model.cpm_layers`` (stride 8). The forward pass returns a
``model.NetworkOutput`` with every S^t and L^t in the order they were made, so the loss
(``loss.openpose_loss``, Eq. 5 with intermediate supervision) trains all stages at once, and
``final_maps`` gives the last S and the last L, which the parser reads.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from .body25 import ChainedBlock  # the 2019 block, one implementation for both
from .model import InputSpec, ModelCard, NetworkOutput, conv, cpm_layers, relu_conv, vgg_backbone
from .skeleton import N_HEATMAPS, N_PAFS

STAGE_KINDS = ("J", "P", "C")
BLOCKS = ("conv", "chained")


@dataclass(frozen=True)
class RefinementConfig:
    """One network of the comparison: backbone widths, the stage order and the stage body."""

    order: str = "JJJJJJ"  # stage kinds, first to last: J joint, P PAF, C confidence maps
    block: str = (
        "conv"  # "conv": k x k conv + ReLU (CVPR 2017); "chained": 3 x 3x3 concat + PReLU (TPAMI 2019)
    )
    vgg: tuple[tuple[int, ...], ...] = ((16,), (32,), (32, 32), (48,))
    cpm: tuple[int, ...] = (32,)
    width: int = 16  # channels of each conv of a stage block
    kernel: int = 7  # k of the "conv" block (the chained block is three 3x3 = one 7x7's view)
    n_blocks: int = 2  # blocks per stage branch
    hidden: int = 48  # the 1x1 conv before the output
    input: InputSpec = field(default_factory=lambda: InputSpec(stride=8, box_size=160))

    def __post_init__(self) -> None:
        if not self.order or any(k not in STAGE_KINDS for k in self.order):
            raise ValueError(f"order must be a string of {STAGE_KINDS}, got {self.order!r}")
        if "J" in self.order and set(self.order) != {"J"}:
            raise ValueError(f"joint stages are not mixed with P/C stages here, got {self.order!r}")
        if "J" not in self.order and not ("P" in self.order and "C" in self.order):
            raise ValueError(f"order needs both a P and a C stage (or joint stages), got {self.order!r}")
        if self.block not in BLOCKS:
            raise ValueError(f"block must be one of {BLOCKS}, got {self.block!r}")
        if self.input.stride != 2 ** (len(self.vgg) - 1):
            raise ValueError(
                f"input.stride {self.input.stride} must be 2^(len(vgg) - 1) = {2 ** (len(self.vgg) - 1)}"
            )

    @property
    def F_channels(self) -> int:
        return self.cpm[-1]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a JSON file (``results.json``, a checkpoint)."""
        return asdict(self)


def branch(cfg: RefinementConfig, c_in: int, c_out: int) -> nn.Sequential:
    """One stage branch (phi^t or rho^t): ``n_blocks`` blocks, 1x1 to ``hidden``, 1x1 to the maps.

    (N, c_in, h, w) -> (N, c_out, h, w). The last conv has no activation (it predicts S or L).
    """
    layers: list[tuple[str, nn.Module]] = []
    c = c_in
    for i in range(1, cfg.n_blocks + 1):
        if cfg.block == "conv":
            layers += conv(f"conv{i}", c, cfg.width, cfg.kernel)
            c = cfg.width
        else:
            block = ChainedBlock(f"Mconv{i}", c, cfg.width, n=3, k=3)
            layers.append((f"block{i}", block))
            c = block.out_channels
    layers += conv("conv_hidden", c, cfg.hidden, 1)
    layers += conv("conv_out", cfg.hidden, c_out, 1, relu=False)
    return nn.Sequential(OrderedDict(layers))


def stage_inputs(order: str) -> list[int]:
    """Channels each stage reads: F plus the latest S and/or L made before it (F excluded).

    For "PPPPCC": [0, 38, 38, 38, 38, 38 + 19]; for "JJJJJJ": [0, 57, 57, ...].
    """
    seen_S = seen_L = False
    out = []
    for kind in order:
        out.append(N_PAFS * seen_L + N_HEATMAPS * seen_S)
        seen_S |= kind in "JC"
        seen_L |= kind in "JP"
    return out


class RefinementNet(nn.Module):
    """Backbone + CPM -> F, then the stages of ``config.order``; forward -> NetworkOutput.

    Input (N, 3, H, W) normalized by ``config.input``; output S = [every S^t made, in order],
    L = [every L^t made]: (N, 19, h, w) and (N, 38, h, w), h = H / 8. A joint stage adds one
    of each, a P stage one L, a C stage one S.
    """

    def __init__(self, config: RefinementConfig | None = None) -> None:
        super().__init__()
        self.config = config or RefinementConfig()
        self.card = ModelCard(name=f"refinement {self.config.order} {self.config.block}")
        self.backbone = vgg_backbone(self.config.vgg, relu_conv)
        self.cpm = cpm_layers(self.config.vgg, self.config.cpm, relu_conv)
        F = self.config.F_channels
        self.stages = nn.ModuleList()
        for kind, extra in zip(self.config.order, stage_inputs(self.config.order)):
            heads = {"J": ("S", "L"), "P": ("L",), "C": ("S",)}[kind]
            self.stages.append(
                nn.ModuleDict(
                    {h: branch(self.config, F + extra, N_HEATMAPS if h == "S" else N_PAFS) for h in heads}
                )
            )

    @property
    def input_spec(self) -> InputSpec:
        return self.config.input

    @property
    def stride(self) -> int:
        return self.config.input.stride

    @property
    def n_stages(self) -> int:
        return len(self.stages)

    def output_layers(self) -> tuple[list[nn.Conv2d], list[nn.Conv2d]]:
        """(the last conv of every S branch, the last conv of every L branch): ``train.init_weights``."""
        S = [st["S"].conv_out for st in self.stages if "S" in st]
        L = [st["L"].conv_out for st in self.stages if "L" in st]
        return S, L

    def forward(self, x: Tensor, n_stages: int | None = None) -> NetworkOutput:
        """(N, 3, H, W) -> NetworkOutput(F, S=[S^1..], L=[L^1..]) (TPAMI 2019 Eq. 1-4 / CVPR 2017 Eq. 1-2)."""
        F = self.cpm(self.backbone(x))
        S: list[Tensor] = []
        L: list[Tensor] = []
        for stage in self.stages[: n_stages or len(self.stages)]:
            x_t = torch.cat([F, *L[-1:], *S[-1:]], dim=1)  # F and the latest maps of each kind
            if "S" in stage:
                S.append(stage["S"](x_t))
            if "L" in stage:
                L.append(stage["L"](x_t))
        return NetworkOutput(F=F, S=S, L=L)


class FinalMaps(nn.Module):
    """A view of a RefinementNet with one stage: its last S and last L (what the parser reads).

    ``inference.infer_maps`` and ``evaluate.predict`` pair S^t with L^t by t; a network whose
    stages make S and L in different numbers is read here as (S^last, L^last), stage 1 of 1.
    """

    def __init__(self, net: RefinementNet) -> None:
        super().__init__()
        self.net = net
        self.card = net.card

    input_spec = property(lambda self: self.net.input_spec)
    stride = property(lambda self: self.net.stride)
    n_stages = 1

    def forward(self, x: Tensor, n_stages: int | None = None) -> NetworkOutput:
        out = self.net(x)
        return NetworkOutput(F=out.F, S=[out.S[-1]], L=[out.L[-1]])


# The arms of the comparison (TPAMI 2019 Table 5's orderings of six stages, one block type),
# plus the 2019 block at the 2019 order to separate the block change from the order change.
ARMS: dict[str, dict[str, str]] = {
    "6 joint (2017)": {"order": "JJJJJJ", "block": "conv"},
    "3 CM -> 3 PAF": {"order": "CCCPPP", "block": "conv"},
    "3 PAF -> 3 CM": {"order": "PPPCCC", "block": "conv"},
    "4 PAF -> 2 CM": {"order": "PPPPCC", "block": "conv"},
    "5 PAF -> 1 CM": {"order": "PPPPPC", "block": "conv"},
    "4 PAF -> 2 CM, 2019 block": {"order": "PPPPCC", "block": "chained"},
}
