"""OpenPose 2019 (Cao et al., TPAMI 2019, arXiv 1812.08008): the BODY_25 network, PAF-first.

``Body25Config.paper()`` is exactly CMU's ``models/pose/body_25/pose_deploy.prototxt``:

    image (N, 3, H, W)
      -> VGG-19 conv1_1..conv4_2 (conv4_2 with PReLU), 3 max pools, stride 8
      -> conv4_3_CPM, conv4_4_CPM (PReLU)                      = F    (N, 128, H/8, W/8)
      -> PAF stage 0:      phi^1(F)                             = L^1  (N, 52, ..)
      -> PAF stage p:      phi^p(concat[F, L^{p-1}]), p = 1..3  = L^2..L^4
      -> heatmap stage 0:  rho^1(concat[F, L^4])                = S^1  (N, 26, ..)
      -> heatmap stage 1:  rho^2(concat[F, S^1, L^4])           = S^2

The 2019 paper (TPAMI Sec. 3.1, Fig. 3 there) changes the 2017 refinement in two ways:

1. **PAF first** (TPAMI Eq. 1-3). The PAF stages come first and alone; the heatmap stages
   come last, read the final PAFs, and the PAFs never see a heatmap. The paper found that
   refining PAFs matters more than refining heatmaps: heatmaps are easy once the limbs are
   known, not the other way.
2. **Chained 3x3 blocks** (TPAMI Sec. 3.1). Each 7x7 convolution of 2017 becomes a block of
   three 3x3 convolutions whose three outputs are concatenated: the same 7x7 receptive field
   (3 + 2 + 2) for about half the multiplications, and the concatenation keeps the fine
   (3x3) and the coarse (7x7) features side by side.

The released network also differs in ways the paper's headline does not isolate: PReLU
replaces ReLU, the stages are deeper (15 chained 3x3 convolutions against five 7x7), it has
BODY_25's feet and MidHip, and the redundant PAF connections go with the 2019 parser
(``assembly2019``). The released BODY_25 is 4 PAF stages - 2 confidence-map stages; the
paper's headline numbers are for 5 PAF - 1 CM.

Names swap meaning relative to the COCO network: here ``_L2`` is the PAF branch (phi, L) and
``_L1`` the heatmap branch (rho, S); stages are numbered from 0 in each branch. Module names
are CMU's layer names, so the weights load by name.

**What forward returns.** ``NetworkOutput(F, S=[S^1..S^H], L=[L^1..L^P])``: every stage, the
two lists of different lengths (P = 4 PAF stages, H = 2 heatmap stages in the paper). The
loss supervises each list entry (TPAMI Eq. 4-6); the last entries ``S[-1]``,
``L[-1]`` are the network's output, which inference parses. To parse "the maps after stage t"
for t = 1..P+H (``evaluate --stages all``), ``output.stage(t)`` follows ``outputs.OutputSpec``
(stage t <= P: L^t with the map stages run on it; stage P + h: S^h with L^P).

Smaller members of the family come from the same dataclass (``Body25Config.small``), with the
COCO-18 skeleton (19 heatmaps, 38 PAFs) so that they train on the synthetic scenes. Shown in
notebook 11 beside the 2017 network.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from .formats.caffe import caffemodel_layer_names, read_caffemodel
from .formats.prototxt import CaffeLayer, render_layer
from .model import (
    InputSpec,
    ModelCard,
    NetworkOutput,
    PoseNet,
    card_for,
    check_config_sizes,
    config_from_dict,
    cpm_layers,
    load_state_checked,
    meta_net,
    parameter_counts,
    scaled_widths,
    vgg_backbone,
)
from .outputs import OutputSpec, skeleton_of
from .skeleton import SKELETONS

__all__ = ["Body25Config", "Body25Net", "StageView", "load_caffemodel", "parameter_counts", "to_prototxt"]

ARCHITECTURE = "body25"  # the config dict's "architecture" tag (checkpoints tell the families apart)


@dataclass(frozen=True)
class Body25Config:
    """Every size of the PAF-first network; ``paper()`` gives CMU's BODY_25 (25,94x,xxx parameters)."""

    # VGG blocks; a 2x2 max pool follows every block but the last. The last conv of the last
    # block and the CPM convs use PReLU, the others ReLU (as in CMU's file: conv4_2 on).
    vgg: tuple[tuple[int, ...], ...] = ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512))
    cpm: tuple[int, ...] = (256, 128)  # conv4_3_CPM, conv4_4_CPM; the last is F's width
    paf_stages: int = 4  # P: PAF stages (run first)
    heat_stages: int = 2  # H: heatmap stages (run last, on the final PAFs)
    blocks: int = 5  # Mconv1..Mconv5: blocks per stage
    block_convs: int = 3  # chained convs per block (their outputs concatenated)
    kernel: int = 3  # their kernel (3x3: three of them see as far as one 7x7)
    stage0_width: int = 96  # width of each conv of stage 0 (both branches)
    stage0_hidden: int = 256  # Mconv6 (1x1) of stage 0
    stage_width: int = 128  # width of each conv of later stages
    stage_hidden: int = 512  # Mconv6 of later stages
    n_heatmaps: int = 26  # 25 parts + background (BODY_25); 19 for COCO-18
    n_pafs: int = 52  # 26 limbs x 2 (BODY_25); 38 for COCO-18
    input: InputSpec = field(default_factory=InputSpec)
    architecture: str = ARCHITECTURE

    @classmethod
    def paper(cls) -> Body25Config:
        """CMU's BODY_25 network (pose_deploy.prototxt, pose_iter_584000.caffemodel)."""
        return cls()

    @classmethod
    def small(cls, width: float = 0.25, skeleton: str = "COCO18", **overrides: Any) -> Body25Config:
        """A narrower member: every width scaled by ``width``; ``skeleton`` 'COCO18' or 'BODY25'."""
        if skeleton not in SKELETONS:
            raise ValueError(f"skeleton must be one of {sorted(SKELETONS)}, got {skeleton!r}")

        kw = scaled_widths(cls(), width, ("stage0_width", "stage0_hidden", "stage_width", "stage_hidden"))
        kw.update(n_heatmaps=SKELETONS[skeleton].n_heatmaps, n_pafs=SKELETONS[skeleton].n_pafs)
        kw.update(overrides)
        return cls(**kw)

    def __post_init__(self) -> None:
        check_config_sizes(self)
        if self.paf_stages < 1 or self.heat_stages < 1:
            raise ValueError(
                f"paf_stages and heat_stages must be >= 1, got {self.paf_stages}, {self.heat_stages}"
            )
        if self.blocks < 1 or self.block_convs < 1 or self.kernel % 2 != 1:
            raise ValueError("blocks and block_convs must be >= 1 and kernel odd")
        if self.architecture != ARCHITECTURE:
            raise ValueError(f"architecture must be {ARCHITECTURE!r}, got {self.architecture!r}")
        if self.input.stride != self.stride:
            raise ValueError(
                f"input.stride {self.input.stride} must equal the network's stride {self.stride}"
            )

    @property
    def stride(self) -> int:
        return 2 ** (len(self.vgg) - 1)

    @property
    def n_stages(self) -> int:
        return self.paf_stages + self.heat_stages

    @property
    def F_channels(self) -> int:
        return self.cpm[-1]

    ARCHITECTURE: ClassVar[str] = ARCHITECTURE

    @property
    def skeleton_name(self) -> str:
        """'BODY25' for 26 heatmaps, 'COCO18' for 19 (the skeleton the maps follow)."""
        return self.output_spec().skeleton.name

    def output_spec(self) -> OutputSpec:
        """What the network's outputs mean: P PAF stages, then H map stages (``outputs``)."""
        skeleton = skeleton_of(self.n_heatmaps, self.n_pafs)
        return OutputSpec.paf_first_layout(skeleton, self.stride, self.paf_stages, self.heat_stages)

    def build(self, card: ModelCard | None = None) -> Body25Net:
        """The network of this config (random weights)."""
        return Body25Net(self, card=card)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Body25Config:
        return config_from_dict(cls, d)

    # --- the Caffe side (formats/caffe.py reads and writes the files with these) ---

    def caffe_net_layers(self) -> list[CaffeLayer]:
        """Every layer of body_25/pose_deploy.prototxt for this config (``caffe_net_layers``)."""
        return caffe_net_layers(self)

    def output_blobs(self) -> tuple[str, list[str], list[str]]:
        """OpenCV output names of F, [S^1..S^H], [L^1..L^P] (``output_blobs``)."""
        return output_blobs(self)

    def to_prototxt(self) -> str:
        """The deploy prototxt (``to_prototxt``)."""
        return to_prototxt(self)


def _conv(name: str, c_in: int, c_out: int, k: int, act: str | None) -> list[tuple[str, nn.Module]]:
    """A Caffe convolution (stride 1, same padding) and its activation ('relu', 'prelu' or None)."""
    layers: list[tuple[str, nn.Module]] = [(name, nn.Conv2d(c_in, c_out, k, padding=k // 2))]
    if act == "relu":
        layers.append((name.replace("conv", "relu", 1), nn.ReLU(inplace=True)))
    elif act == "prelu":
        # Caffe's PReLU: one learned slope per channel, initialised at 0.25.
        layers.append((name.replace("conv", "prelu", 1), nn.PReLU(c_out, init=0.25)))
    return layers


class ChainedBlock(nn.Module):
    """Three chained k x k convs (each with PReLU), their outputs concatenated (TPAMI 2019 Sec. 3.1).

    (N, C_in, h, w) -> (N, 3 * width, h, w). Receptive field of the chain: 1 + 3 (k - 1) cells
    (7 for k = 3: one 7x7's reach for 3 * 9 / 49 = 55 % of its multiplications per channel pair).
    Modules named ``Mconv{i}_stage{s}_L{b}_{j}`` and ``Mprelu{i}_stage{s}_L{b}_{j}``.
    """

    def __init__(self, name: str, c_in: int, width: int, n: int, k: int) -> None:
        super().__init__()
        self.name = name  # Mconv{i}_stage{s}_L{b}; its concat is name + "_concat"
        c = c_in
        for j in range(n):
            (cn, conv), (an, act) = _conv(f"{name}_{j}", c, width, k, "prelu")
            self.add_module(cn, conv)  # registered under CMU's name too (state_dict keys)
            self.add_module(an, act)
            c = width
        self._names = [(f"{name}_{j}", f"{name.replace('Mconv', 'Mprelu', 1)}_{j}") for j in range(n)]
        self.out_channels = n * width  # the n outputs, concatenated

    def forward(self, x: Tensor) -> Tensor:
        outs = []
        for conv_name, act_name in self._names:
            x = getattr(self, act_name)(getattr(self, conv_name)(x))
            outs.append(x)
        return torch.cat(outs, dim=1)


class RefinementStage(nn.Module):
    """One stage of one branch: ``blocks`` ChainedBlocks, Mconv6 (1x1, PReLU), Mconv7 (1x1, the maps).

    stage s, branch b: b = 2 for PAFs (phi: -> L), b = 1 for heatmaps (rho: -> S).
    """

    def __init__(self, cfg: Body25Config, s: int, b: int, c_in: int, c_out: int) -> None:
        super().__init__()
        self.s, self.b = s, b
        width = cfg.stage0_width if s == 0 else cfg.stage_width
        hidden = cfg.stage0_hidden if s == 0 else cfg.stage_hidden
        layers: list[tuple[str, nn.Module]] = []
        c = c_in
        for i in range(1, cfg.blocks + 1):
            name = f"Mconv{i}_stage{s}_L{b}"
            layers.append((name, ChainedBlock(name, c, width, cfg.block_convs, cfg.kernel)))
            c = width * cfg.block_convs
        n = cfg.blocks + 1
        layers += _conv(f"Mconv{n}_stage{s}_L{b}", c, hidden, 1, "prelu")  # + Mprelu{n}_...
        layers += _conv(f"Mconv{n + 1}_stage{s}_L{b}", hidden, c_out, 1, None)
        self.body = nn.Sequential(OrderedDict(layers))

    @property
    def output_conv(self) -> nn.Conv2d:
        return self.body[-1]

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


def _vgg_conv(name: str, c_in: int, c_out: int, last: bool) -> list[tuple[str, nn.Module]]:
    """The backbone's convs: ReLU, the last one (conv4_2) with PReLU (prelu4_2)."""
    return _conv(name, c_in, c_out, 3, "prelu" if last else "relu")


def _cpm_conv(name: str, c_in: int, c_out: int, last: bool) -> list[tuple[str, nn.Module]]:
    """conv4_3_CPM, conv4_4_CPM with PReLU: F."""
    return _conv(name, c_in, c_out, 3, "prelu")


class Body25Net(PoseNet):
    """The PAF-first OpenPose network (TPAMI 2019); ``forward`` returns F, [S^1..S^H], [L^1..L^P].

    Same interface as ``OpenPoseNet`` (``model.PoseNet``): ``input_spec``, ``output_spec``,
    ``stride``, ``n_stages`` (= P + H, in running order: ``outputs`` says what stage t is) and
    ``stages`` (the P PAF stages, then the H heatmap stages, in the order they run).
    """

    def __init__(self, config: Body25Config | None = None, card: ModelCard | None = None) -> None:
        super().__init__()
        cfg = self.config = config or Body25Config.paper()
        self.card = card_for(card, cfg.output_spec())
        self.backbone = vgg_backbone(cfg.vgg, _vgg_conv)  # VGG-19 conv1_1..conv4_2, stride 8
        self.cpm = cpm_layers(cfg.vgg, cfg.cpm, _cpm_conv)
        Fc = cfg.F_channels
        self.paf_stages = nn.ModuleList(
            RefinementStage(cfg, p, 2, Fc if p == 0 else Fc + cfg.n_pafs, cfg.n_pafs)
            for p in range(cfg.paf_stages)
        )
        self.heat_stages = nn.ModuleList(
            RefinementStage(
                cfg, h, 1, Fc + cfg.n_pafs if h == 0 else Fc + cfg.n_heatmaps + cfg.n_pafs, cfg.n_heatmaps
            )
            for h in range(cfg.heat_stages)
        )

    @property
    def stages(self) -> list[RefinementStage]:
        """Every stage in the order it runs: PAF stages 0..P-1, then heatmap stages 0..H-1."""
        return [*self.paf_stages, *self.heat_stages]

    def parts(self) -> dict[str, nn.Module]:
        """'vgg', 'cpm', 'paf0'..'paf{P-1}', 'heat0'..'heat{H-1}' (CMU's stage numbers, from 0)."""
        parts: dict[str, nn.Module] = {"vgg": self.backbone, "cpm": self.cpm}
        parts |= {f"paf{i}": s for i, s in enumerate(self.paf_stages)}
        return parts | {f"heat{i}": s for i, s in enumerate(self.heat_stages)}

    def output_layers(self) -> tuple[list[nn.Conv2d], list[nn.Conv2d]]:
        """(the last conv of every heatmap stage, the last conv of every PAF stage)."""
        return [s.output_conv for s in self.heat_stages], [s.output_conv for s in self.paf_stages]

    def heatmaps(self, F: Tensor, paf: Tensor, n: int | None = None) -> list[Tensor]:
        """The heatmap stages on features F and PAFs ``paf``: [S^1..S^n] (n default H)."""
        S: list[Tensor] = []
        for stage in self.heat_stages[: n or len(self.heat_stages)]:
            S.append(stage(torch.cat([F, paf] if not S else [F, S[-1], paf], dim=1)))
        return S

    def forward(self, x: Tensor, n_stages: int | None = None) -> NetworkOutput:
        """Image (N, 3, H, W) -> NetworkOutput(F, S, L), stages 1..t in running order.

        t = ``n_stages`` (default P + H). t > P: L = [L^1..L^P], S = [S^1..S^{t-P}] (the map
        stages on [F, (S^{h-1},) L^P]): with t = P + H what training supervises (TPAMI Eq. 4-6).
        t <= P: L = [L^1..L^t] and S = the H map stages run on L^t (stage t of ``outputs``:
        the output if PAF refinement stopped after t stages). ``output.stage(t')`` gives any
        earlier stage, re-running the map stages on L^t' where it must.
        """
        self._check_input(x)
        P, T = self.config.paf_stages, self.n_stages
        t = T if n_stages is None else n_stages
        if isinstance(t, bool) or not 1 <= t <= T:
            raise ValueError(f"n_stages must be in 1..{T} (the {P} PAF stages run first), got {n_stages}")
        F = self.features(x)
        L: list[Tensor] = []
        for stage in self.paf_stages[: min(t, P)]:
            L.append(stage(F if not L else torch.cat([F, L[-1]], dim=1)))
        S = self.heatmaps(F, L[-1], t - P if t > P else None)
        return NetworkOutput(F=F, S=S, L=L, spec=self.output_spec, ran=t, heads=self.heatmaps)


def StageView(net: Body25Net) -> Body25Net:  # noqa: N802 - the former class's name
    """The network itself: ``Body25Net`` now numbers its stages 1..P+H in every view
    (``outputs.OutputSpec``), so a view is no longer needed. Kept for old scripts."""
    return net


def caffe_modules(net: nn.Module) -> dict[str, nn.Module]:
    """Every Conv2d and PReLU by its Caffe layer name (the modules that carry blobs)."""
    out: dict[str, nn.Module] = {}
    for name, m in net.named_modules():
        if isinstance(m, nn.Conv2d | nn.PReLU):
            out.setdefault(name.rsplit(".", 1)[-1], m)
    return out


# --- the Caffe side: prototxt layers, OpenCV output names ------------------------------------


def _layers_of(seq: nn.Module, bottom: str) -> tuple[list[CaffeLayer], str]:
    """A Sequential / ChainedBlock / RefinementStage -> Caffe layers (in-place activations), its top."""
    layers: list[CaffeLayer] = []
    for name, m in seq.named_children():
        if isinstance(m, RefinementStage):
            sub, bottom = _layers_of(m.body, bottom)
            layers += sub
        elif isinstance(m, ChainedBlock):
            sub, _ = _layers_of(m, bottom)
            layers += sub
            tops = tuple(la.top for la in sub if la.type == "Convolution")
            layers.append(CaffeLayer(f"{name}_concat", "Concat", tops, f"{name}_concat"))
            bottom = f"{name}_concat"
        elif isinstance(m, nn.Conv2d):
            k = m.kernel_size[0]
            layers.append(
                CaffeLayer(name, "Convolution", (bottom,), name, m.out_channels, k, k // 2, m.in_channels)
            )
            bottom = name
        elif isinstance(m, nn.ReLU | nn.PReLU):
            layers.append(CaffeLayer(name, "ReLU" if isinstance(m, nn.ReLU) else "PReLU", (bottom,), bottom))
        elif isinstance(m, nn.MaxPool2d):
            layers.append(CaffeLayer(name, "Pooling", (bottom,), name, kernel=2))
            bottom = name
        else:
            raise TypeError(f"no Caffe layer for module {name!r} of type {type(m).__name__}")
    return layers, bottom


def caffe_net_layers(config: Body25Config) -> list[CaffeLayer]:
    """Every layer of the Caffe network for ``config`` in pose_deploy.prototxt order (walks the model).

    PAF stage p > 0 reads ``concat_stage{p}_L2`` = [F, L^p]; heatmap stage 0 reads
    ``concat_stage0_L1`` = [F, L^P]; heatmap stage h > 0 reads ``concat_stage{h}_L1`` =
    [F, S^h, L^P]; ``net_output`` = [S^H, L^P] (heatmaps first, as in the COCO network).
    """
    net = meta_net(config)
    layers, F = _layers_of(net.backbone, "image")
    more, F = _layers_of(net.cpm, F)
    layers += more
    paf = ""
    for p, stage in enumerate(net.paf_stages):
        bottom = F
        if p > 0:
            bottom = f"concat_stage{p}_L2"
            layers.append(CaffeLayer(bottom, "Concat", (F, paf), bottom))
        more, paf = _layers_of(stage.body, bottom)
        layers += more
    heat = ""
    for h, stage in enumerate(net.heat_stages):
        bottom = f"concat_stage{h}_L1"
        layers.append(CaffeLayer(bottom, "Concat", (F, paf) if h == 0 else (F, heat, paf), bottom))
        more, heat = _layers_of(stage.body, bottom)
        layers += more
    layers.append(CaffeLayer("net_output", "Concat", (heat, paf), "net_output"))
    return layers


def to_prototxt(config: Body25Config | None = None) -> str:
    """The deploy prototxt of ``config`` (default: the paper network = CMU's body_25/pose_deploy.prototxt)."""
    config = config or Body25Config.paper()
    runtime = " # This value will be defined at runtime"
    head = f'name: "OpenPose - BODY_25"\ninput: "image"\ninput_dim: 1{runtime}\ninput_dim: 3\n'
    head += f"input_dim: 16{runtime}\n" * 2
    return head + "".join(render_layer(layer, deploy_only=True) for layer in caffe_net_layers(config))


def output_blobs(config: Body25Config) -> tuple[str, list[str], list[str]]:
    """OpenCV output names of F, [S^1..S^H] and [L^1..L^P] (F: prelu4_4_CPM, after its PReLU)."""
    net = meta_net(config)
    F = [n for n, m in net.cpm.named_children() if isinstance(m, nn.PReLU)][-1]
    S = [list(s.body.named_children())[-1][0] for s in net.heat_stages]
    L = [list(s.body.named_children())[-1][0] for s in net.paf_stages]
    return F, S, L


# --- CMU's weights ----------------------------------------------------------------------------


def load_caffemodel(
    path: str | Path,
    device: str | torch.device = "cpu",
    config: Body25Config | None = None,
    card: ModelCard | None = None,
) -> Body25Net:
    """A BODY_25 ``.caffemodel`` (CMU's pose_iter_584000.caffemodel) -> Body25Net, eval mode.

    Read by OpenCV's dnn Caffe importer with our prototxt for ``config`` (default the paper
    network = CMU's pose_deploy.prototxt): each Convolution carries weight (C_out, C_in, k, k)
    and bias (C_out,), each PReLU its slopes (C,). Every layer must be in the file, and nothing else.
    """
    config = config or Body25Config.paper()
    data = Path(path).read_bytes()
    if not data:
        raise ValueError(f"{path}: the file is empty (0 bytes), not a Caffe model; download it again")
    modules = caffe_modules(meta_net(config))
    want = {n: 2 if isinstance(m, nn.Conv2d) else 1 for n, m in modules.items()}
    try:
        present = caffemodel_layer_names(data)  # checked before OpenCV, which stops at a bare PReLU
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError: the file is not a caffemodel
        raise ValueError(
            f"{path}: not a Caffe .caffemodel ({type(e).__name__}: {str(e)[:120]}); truncated, corrupt "
            "or another kind of file (a text .prototxt?); download it again (weights.fetch checks its hash)"
        ) from None
    missing = [n for n in want if n not in present]
    unexpected = [n for n in present if n not in want]
    if missing or unexpected:
        raise ValueError(
            f"{path} does not match the BODY_25 network's layers: missing {missing[:10]}"
            f"{' ...' if len(missing) > 10 else ''}, unexpected {unexpected[:10]}; "
            "is it another network's file (pose_iter_440000.caffemodel is the COCO one: cmu-coco)?"
        )
    blobs = read_caffemodel(data, config)
    model = Body25Net(config, card=card)
    keys = {name.rsplit(".", 1)[-1]: name for name, m in model.named_modules() if name}
    tensors: dict[str, Tensor] = {}
    for name, arrays in blobs.items():
        tensors[f"{keys[name]}.weight"] = torch.from_numpy(
            arrays[0].reshape(modules[name].weight.shape).copy()
        )
        if want[name] == 2:
            tensors[f"{keys[name]}.bias"] = torch.from_numpy(arrays[1].reshape(-1).copy())
    load_state_checked(model, tensors, source=str(path))
    return model.to(device).eval()
