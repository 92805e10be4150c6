"""The two-branch multi-stage CNN of OpenPose (paper Fig. 3; Sec. 2.1, Eq. 1-2), every stage exposed.

``OpenPoseConfig.paper()`` is exactly CMU's COCO network ``pose_deploy_linevec.prototxt``:

    image (N, 3, H, W)
      -> VGG-19 conv1_1..conv4_2 (3 ceil-mode max pools, stride 8)
      -> conv4_3_CPM, conv4_4_CPM                       = F   (N, 128, H/8, W/8)
      -> stage 1:  rho^1(F), phi^1(F)                    = S^1 (N, 19, ..), L^1 (N, 38, ..)
      -> stage t:  rho^t, phi^t on concat[L^{t-1}, S^{t-1}, F] (185 ch), t = 2..6

Module names are the Caffe layer names (``conv5_1_CPM_L1``, ``Mconv7_stage6_L2``, ...), so
the original weights load by name. Branch ``L1`` is the PAF branch (phi, L), ``L2`` the
confidence-map branch (rho, S). The last convolution of every branch has no ReLU: the
structure says so (``relu=False``), not a list of names.

Smaller members of the same family (narrower, fewer stages, smaller stage kernels) come from
the same dataclass; the bundled model is one of them. Explained in notebook 02.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn

from .formats.prototxt import CaffeLayer, render_layer
from .outputs import OutputSpec, skeleton_of
from .skeleton import N_HEATMAPS, N_PAFS


@dataclass(frozen=True)
class InputSpec:
    """How images must be fed to a model: what ``inference.preprocess`` reads.

    pixel value fed = raw value (0..255) * scale + offset, in ``channel_order``.
    """

    channel_order: str = "BGR"  # the original was trained on OpenCV (BGR) images
    scale: float = 1 / 256  # x/256 - 0.5: 128 maps to 0 (caffe_train, the Python demo)
    offset: float = -0.5
    pad_value: int = 128  # padding value in raw pixels (the demo pads with 128)
    stride: int = 8  # output stride of the network
    box_size: int = 368  # default network input height (the demo's boxsize)

    def normalize(self, images: Tensor, color: str = "RGB") -> Tensor:
        """Raw pixels (N, 3, H, W), 0..255 in ``color`` order -> network input (float32).

        Reorders the channels to ``channel_order`` and applies ``x * scale + offset``.
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected raw images of shape (N, 3, H, W), got {tuple(images.shape)}")
        if color not in ("RGB", "BGR"):
            raise ValueError(f"color must be 'RGB' or 'BGR', got {color!r}")
        x = images.float()
        if color != self.channel_order:
            x = x.flip(1)  # RGB <-> BGR
        return x * self.scale + self.offset

    def batch(self, image: Any, color: str = "RGB", device: torch.device | str | None = None) -> Tensor:
        """One image (H, W, 3), 0..255 in ``color`` order (a numpy array or tensor) -> network input.

        Returns the batch of one (1, 3, H, W) float32 on ``device`` (default: the CPU), channels in
        ``channel_order``, ``x * scale + offset`` (``normalize``). The image is not resized or
        padded: ``inference.preprocess`` does that for images of any size.
        """
        raw = image if isinstance(image, Tensor) else torch.from_numpy(np.ascontiguousarray(image))
        if raw.ndim != 3 or raw.shape[-1] != 3:
            raise ValueError(f"expected one image of shape (H, W, 3), got {tuple(raw.shape)}")
        return self.normalize(raw.to(device or "cpu").permute(2, 0, 1)[None], color=color)


@dataclass(frozen=True)
class OpenPoseConfig:
    """Every size of the network; ``paper()`` gives the CVPR-2017 COCO model."""

    # VGG blocks: output channels of each conv; a 2x2 max pool follows every block but the last.
    vgg: tuple[tuple[int, ...], ...] = ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512))
    cpm: tuple[int, ...] = (256, 128)  # conv4_3_CPM, conv4_4_CPM; the last is F's width
    stage1_width: int = 128  # conv5_1..5_3_CPM (3x3)
    stage1_layers: int = 3  # number of 3x3 convs in stage 1
    stage1_hidden: int = 512  # conv5_4_CPM (1x1)
    stage_width: int = 128  # Mconv1..5 of stages >= 2
    stage_layers: int = 5  # number of k x k convs in stages >= 2
    stage_kernel: int = 7  # k: 7x7 in the paper (Fig. 3; large receptive field, Sec. 2.4)
    stage_hidden: int = 128  # Mconv6 (1x1)
    n_stages: int = 6  # T: number of stages
    n_heatmaps: int = N_HEATMAPS  # J+1 = 19 (18 parts + background)
    n_pafs: int = N_PAFS  # 2C = 38
    input: InputSpec = field(default_factory=InputSpec)

    @classmethod
    def paper(cls) -> OpenPoseConfig:
        """The exact network of pose_deploy_linevec.prototxt (52,311,446 parameters)."""
        return cls()

    @classmethod
    def small(
        cls, width: float = 0.25, n_stages: int = 6, stage_kernel: int = 3, **overrides: object
    ) -> OpenPoseConfig:
        """A narrower member of the family: every width scaled by ``width``."""

        kw: dict[str, object] = scaled_widths(
            cls(), width, ("stage1_width", "stage1_hidden", "stage_width", "stage_hidden")
        )
        kw.update(n_stages=n_stages, stage_kernel=stage_kernel)
        kw.update(overrides)
        return cls(**kw)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        check_config_sizes(self)
        if self.n_stages < 1:
            raise ValueError(f"n_stages must be >= 1, got {self.n_stages}")
        if self.stage_kernel % 2 != 1:
            raise ValueError(f"stage_kernel must be odd (same padding), got {self.stage_kernel}")
        if len(self.vgg) < 1 or any(len(b) < 1 for b in self.vgg) or len(self.cpm) < 1:
            raise ValueError("vgg blocks and cpm must each have at least one conv")
        if self.input.stride != self.stride:
            raise ValueError(
                f"input.stride {self.input.stride} must equal the network's stride {self.stride} "
                f"(2 ** (len(vgg) - 1): one max pool between VGG blocks)"
            )

    @property
    def stride(self) -> int:
        return 2 ** (len(self.vgg) - 1)

    @property
    def F_channels(self) -> int:
        return self.cpm[-1]

    ARCHITECTURE: ClassVar[str] = "openpose2017"  # a checkpoint's config without "architecture"

    def output_spec(self) -> OutputSpec:
        """What the network's outputs mean: T aligned stages (S^t, L^t) of its skeleton."""
        return OutputSpec.aligned(skeleton_of(self.n_heatmaps, self.n_pafs), self.stride, self.n_stages)

    def build(self, card: ModelCard | None = None) -> OpenPoseNet:
        """The network of this config (random weights)."""
        return OpenPoseNet(self, card=card)

    def to_dict(self) -> dict:
        """Plain dict (lists, ints, strs) that travels inside checkpoints."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> OpenPoseConfig:
        return config_from_dict(cls, d)

    # --- the Caffe side (formats/caffe.py reads and writes the files with these) ---

    def caffe_net_layers(self) -> list[CaffeLayer]:
        """Every layer of the Caffe network, in pose_deploy_linevec.prototxt order (``caffe_net_layers``)."""
        return caffe_net_layers(self)

    def output_blobs(self) -> tuple[str, list[str], list[str]]:
        """OpenCV output names of F, [S^1..S^T], [L^1..L^T] (``output_blobs``)."""
        return output_blobs(self)

    def to_prototxt(self) -> str:
        """The deploy prototxt (``to_prototxt``)."""
        return to_prototxt(self)


# Bounds on a network config, checked before any layer is built: a crafted config file (n_stages
# 100000, a 2001 x 2001 kernel, 100000 channels) reached the allocator. The largest real networks
# (the paper's, BODY_25) are well inside them.
CONFIG_BOUNDS = {"width": 4096, "count": 32, "kernel": 15}
_COUNT_FIELDS = (
    "n_stages",
    "stage1_layers",
    "stage_layers",
    "paf_stages",
    "heat_stages",
    "blocks",
    "block_convs",
)


def check_config_sizes(config: Any) -> None:
    """Refuse a config whose sizes are not integers within ``CONFIG_BOUNDS`` (ValueError naming the field).

    Counts (stages, layers, blocks) are at most 32, kernels at most 15, every width (channels,
    the VGG and CPM convs) at most 4096; the VGG and the CPM list each at most 4 x 32 convs.
    """
    top_width, top_convs = CONFIG_BOUNDS["width"], 4 * CONFIG_BOUNDS["count"]
    for f in fields(config):
        value = getattr(config, f.name)
        if f.name in ("vgg", "cpm"):
            if f.name == "vgg" and not all(isinstance(b, (tuple, list)) for b in value):
                raise ValueError(
                    f"vgg must be blocks of conv widths, e.g. [[64, 64], [128, 128]], got {value!r}"
                )
            flat = [w for block in value for w in block] if f.name == "vgg" else list(value)
            bad = [
                w for w in flat if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= top_width
            ]
            if bad or len(flat) > top_convs:
                raise ValueError(
                    f"{f.name} widths must be integers in 1..{top_width} (at most {top_convs} convs), "
                    f"got {value!r}"
                )
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            continue  # InputSpec, names, the skeleton: checked by their own classes
        kind = "kernel" if "kernel" in f.name else "count" if f.name in _COUNT_FIELDS else "width"
        top = CONFIG_BOUNDS[kind]
        if not 0 <= value <= top:
            raise ValueError(f"{type(config).__name__}.{f.name} must be in 0..{top}, got {value}")


def config_from_dict(cls: Any, d: dict) -> Any:
    """A network config dataclass from its ``to_dict`` (lists back to tuples, the InputSpec
    rebuilt); unknown field names are refused by name. Shared by OpenPoseConfig and Body25Config."""
    known = {f.name for f in fields(cls)}
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}; known: {sorted(known)}")
    d = dict(d)
    if "vgg" in d:
        d["vgg"] = tuple(tuple(b) for b in d["vgg"])
    if "cpm" in d:
        d["cpm"] = tuple(d["cpm"])
    if "input" in d and isinstance(d["input"], dict):
        d["input"] = InputSpec(**d["input"])
    return cls(**d)


def scaled_widths(config: Any, width: float, stage_fields: Sequence[str]) -> dict[str, Any]:
    """The widths of a network config scaled by ``width`` (at least 4 channels each), as
    config fields: ``vgg`` and ``cpm`` (every config has them) and the named stage widths.
    What ``OpenPoseConfig.small`` and ``Body25Config.small`` build their narrow members from."""

    def w(c: int) -> int:
        return max(4, int(round(c * width)))

    kw: dict[str, Any] = {
        "vgg": tuple(tuple(w(c) for c in block) for block in config.vgg),
        "cpm": tuple(w(c) for c in config.cpm),
    }
    kw.update({name: w(getattr(config, name)) for name in stage_fields})
    return kw


@dataclass(frozen=True)
class ModelCard:
    """What a model is: where its weights come from and what it was trained on.

    Every model the package hands out carries one (``model.card``): the registry fills it for
    each entry (``weights.REGISTRY``), ``train.export_weights`` writes it into our checkpoints,
    and a freshly built network gets the default ("untrained"). Inference, evaluation, the
    widgets and the command line read the parser thresholds and target widths from here.
    """

    name: str = "untrained"  # registry name or file name
    trained_on: str = "nothing: random weights"  # "COCO" or "synthetic scenes" for trained models
    licence: str = ""
    home: str = ""  # where the weights come from (URL), "" for our own
    parsing: Any = None  # assembly.ParsingParams chosen for this network, None: the demo's defaults
    sigma: float | None = None  # the width of S* it was trained with (px), where known
    limb_width: float | None = None  # the PAF half-width of L* it was trained with (px), where known
    # The skeleton its S and L channels follow, spelled as skeleton.SKELETONS ("COCO18",
    # "BODY25"). A network sets it from its own ``output_spec`` (``card_for``); "" = not yet known.
    skeleton: str = ""

    def summary(self) -> str:
        """One line for a log or a CLI run: name and what it was trained on."""
        return f"{self.name} (trained on {self.trained_on})"


def card_for(card: ModelCard | None, spec: OutputSpec) -> ModelCard:
    """``card`` (default: untrained) with ``skeleton`` derived from the network's outputs."""
    card = card or ModelCard()
    if card.skeleton and card.skeleton != spec.skeleton.name:
        raise ValueError(f"the card says {card.skeleton!r}; the network's maps are {spec.skeleton.name}")
    return replace(card, skeleton=spec.skeleton.name)


@runtime_checkable
class PoseModel(Protocol):
    """The interface every model of the package satisfies (OpenPoseNet, TFPoseNet, ...).

    ``forward(x, n_stages=None)`` takes a normalized batch (N, 3, H, W) (``inference.preprocess``)
    and returns a ``NetworkOutput`` with every stage up to ``n_stages`` (None: all ``n_stages``).
    ``input_spec`` says how to feed it, ``stride`` how its maps' grid sits on the input, ``card``
    what it is. Stages are numbered 1..T everywhere; None means the last. The package's
    networks also carry ``output_spec`` (``outputs.OutputSpec``: skeleton, stride, what stage t
    is); ``inference.output_spec_of`` reads it, and takes a model without one for the 2017
    layout on COCO-18.
    """

    input_spec: InputSpec
    stride: int
    n_stages: int
    card: ModelCard

    def forward(self, x: Tensor, n_stages: int | None = None) -> NetworkOutput: ...


@dataclass
class NetworkOutput:
    """What every model's ``forward`` returns: F and the maps of EVERY stage it ran.

    F: (N, C, h, w) image features. S: the confidence maps (N, J+1, h, w) of each map stage
    (background last), L: the part affinity fields (N, 2C, h, w) of each PAF stage, in running
    order; h, w = ceil(H/s), ceil(W/s) for an (N, 3, H, W) input. For the 2017 network S[t-1],
    L[t-1] are S^t, L^t; for a PAF-first network (TPAMI 2019) the two lists differ in length.
    ``spec`` says what stage t is (``outputs.OutputSpec``; None: the aligned 2017 layout);
    ``stage(t)`` gives it, whatever the network. The loss reads S and L as they are.
    """

    F: Tensor
    S: list[Tensor]
    L: list[Tensor]
    spec: OutputSpec | None = None
    ran: int | None = None  # the stages run (forward's n_stages); None: len(S) (aligned)
    # PAF-first: (F, L^p) -> the map stages run on L^p, for a stage t < P (``OutputSpec.source``).
    heads: Callable[[Tensor, Tensor], list[Tensor]] | None = field(default=None, repr=False)
    _rerun: dict[int, list[Tensor]] = field(default_factory=dict, repr=False)

    @property
    def n_stages(self) -> int:
        """The last stage t this output holds (stages 1..n_stages can be asked for)."""
        return self.ran if self.ran is not None else len(self.S)

    def stage(self, t: int) -> tuple[Tensor, Tensor]:
        """(S, L) of stage t = 1..n_stages (1-based, as in the papers), as ``spec`` defines it."""
        if isinstance(t, bool) or not 1 <= t <= self.n_stages:
            raise ValueError(f"stage must be in 1..{self.n_stages}, got {t}")
        if self.spec is None or not self.spec.paf_first:
            return self.S[t - 1], self.L[t - 1]
        src = self.spec.source(t)
        p = src.S_reads
        assert p is not None
        if p == len(self.L) and src.S <= len(self.S):
            return self.S[src.S - 1], self.L[src.L - 1]
        if p not in self._rerun:  # the map stages on an earlier L^p (each p computed once)
            if self.heads is None:
                raise ValueError(f"stage {t} needs the map stages re-run on L^{p}; this output cannot")
            self._rerun[p] = self.heads(self.F, self.L[p - 1])
        return self._rerun[p][src.S - 1], self.L[src.L - 1]

    def stages(self) -> list[tuple[Tensor, Tensor]]:
        """``stage(t)`` for t = 1..n_stages."""
        return [self.stage(t) for t in range(1, self.n_stages + 1)]


class PoseNet(nn.Module):
    """What the two network families share (OpenPoseNet, body25.Body25Net), written once.

    A subclass sets ``self.config`` (with ``input``, ``stride``, ``output_spec()``) and
    ``self.card`` (``card_for``), and lists its parts (``parts``: name -> module, in running
    order). ``parameter_counts`` and ``macs.macs_per_part`` read the parts.
    """

    config: Any
    card: ModelCard

    @property
    def input_spec(self) -> InputSpec:
        return self.config.input

    @property
    def output_spec(self) -> OutputSpec:
        """Skeleton, stride and stage layout of the maps (``outputs.OutputSpec``)."""
        return self.config.output_spec()

    @property
    def skeleton(self) -> Any:
        """The ``skeleton.Skeleton`` its S and L channels follow."""
        return self.output_spec.skeleton

    @property
    def stride(self) -> int:
        return self.config.stride

    @property
    def n_stages(self) -> int:
        """T: stages 1..T in running order (``output_spec``)."""
        return self.output_spec.n_stages

    @property
    def parsing_params(self) -> Any:
        """The parser thresholds chosen for this network (``card.parsing``), None for the demo's."""
        return self.card.parsing

    def parts(self) -> dict[str, nn.Module]:
        """The network's parts by name, in running order ('vgg', 'cpm', then the stages)."""
        raise NotImplementedError

    def features(self, x: Tensor) -> Tensor:
        """Image (N, 3, H, W) -> F (N, C_F, H/s, W/s): VGG-19 conv1_1..conv4_2 + the CPM convs."""
        return self.cpm(self.backbone(x))

    def _check_input(self, x: Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected an image batch of shape (N, 3, H, W), got {tuple(x.shape)}")


def conv(name: str, c_in: int, c_out: int, k: int, relu: bool = True) -> list[tuple[str, nn.Module]]:
    """A Caffe-style convolution (stride 1, 'same' padding, bias) and optionally its ReLU."""
    layers: list[tuple[str, nn.Module]] = [(name, nn.Conv2d(c_in, c_out, k, padding=k // 2))]
    if relu:
        layers.append((name.replace("conv", "relu", 1), nn.ReLU(inplace=True)))
    return layers


# One conv layer of the feature extractor: (name, c_in, c_out, is_last) -> named modules.
MakeConv = Callable[[str, int, int, bool], list[tuple[str, nn.Module]]]


def vgg_backbone(vgg: Sequence[Sequence[int]], make_conv: MakeConv) -> nn.Sequential:
    """VGG-19 conv1_1..conv4_2 (paper Sec. 2.1: 'the first 10 layers of VGG-19'), stride 8.

    ``vgg``: the channels of each block; a 2x2 max pool between blocks. ``make_conv`` builds
    each 3x3 conv with its activation (ReLU here; BODY_25 ends in a PReLU). Shared by both papers.
    """
    layers: list[tuple[str, nn.Module]] = []
    c = 3
    for b, block in enumerate(vgg, start=1):
        for i, c_out in enumerate(block, start=1):
            layers += make_conv(f"conv{b}_{i}", c, c_out, b == len(vgg) and i == len(block))
            c = c_out
        if b < len(vgg):
            # Caffe rounds pooled sizes up: ceil_mode keeps odd inputs identical to the original.
            layers.append((f"pool{b}_stage1", nn.MaxPool2d(2, 2, ceil_mode=True)))
    return nn.Sequential(OrderedDict(layers))


def cpm_layers(vgg: Sequence[Sequence[int]], cpm: Sequence[int], make_conv: MakeConv) -> nn.Sequential:
    """conv4_3_CPM, conv4_4_CPM: reduce the VGG features to F (128 channels in the paper)."""
    layers: list[tuple[str, nn.Module]] = []
    c = vgg[-1][-1]
    for i, c_out in enumerate(cpm, start=len(vgg[-1]) + 1):
        layers += make_conv(f"conv{len(vgg)}_{i}_CPM", c, c_out, i == len(vgg[-1]) + len(cpm))
        c = c_out
    return nn.Sequential(OrderedDict(layers))


def relu_conv(name: str, c_in: int, c_out: int, last: bool) -> list[tuple[str, nn.Module]]:
    """The 2017 backbone's and CPM's convs (``MakeConv``): 3x3 with ReLU, the last one too."""
    return conv(name, c_in, c_out, 3)


def _stage1_branch(cfg: OpenPoseConfig, b: int, c_out: int) -> nn.Sequential:
    """Stage 1 branch L{b} (rho^1 or phi^1, Sec. 2.1, unnumbered): 3x3 convs, a 1x1, and a 1x1 to the maps."""
    layers: list[tuple[str, nn.Module]] = []
    c = cfg.F_channels
    for i in range(1, cfg.stage1_layers + 1):
        layers += conv(f"conv5_{i}_CPM_L{b}", c, cfg.stage1_width, 3)
        c = cfg.stage1_width
    n = cfg.stage1_layers + 1
    layers += conv(f"conv5_{n}_CPM_L{b}", c, cfg.stage1_hidden, 1)
    layers += conv(f"conv5_{n + 1}_CPM_L{b}", cfg.stage1_hidden, c_out, 1, relu=False)
    return nn.Sequential(OrderedDict(layers))


def _stage_branch(cfg: OpenPoseConfig, t: int, b: int, c_out: int) -> nn.Sequential:
    """Stage t >= 2 branch L{b} (rho^t or phi^t, Eq. 1-2) on concat[L, S, F]."""
    layers: list[tuple[str, nn.Module]] = []
    c = cfg.n_pafs + cfg.n_heatmaps + cfg.F_channels  # 38 + 19 + 128 = 185 in the paper
    for i in range(1, cfg.stage_layers + 1):
        layers += conv(f"Mconv{i}_stage{t}_L{b}", c, cfg.stage_width, cfg.stage_kernel)
        c = cfg.stage_width
    n = cfg.stage_layers + 1
    layers += conv(f"Mconv{n}_stage{t}_L{b}", c, cfg.stage_hidden, 1)
    layers += conv(f"Mconv{n + 1}_stage{t}_L{b}", cfg.stage_hidden, c_out, 1, relu=False)
    return nn.Sequential(OrderedDict(layers))


class Stage(nn.Module):
    """One stage t: the PAF branch ``L1`` (phi^t -> L^t) and the confidence branch ``L2`` (rho^t -> S^t)."""

    def __init__(self, cfg: OpenPoseConfig, t: int) -> None:
        super().__init__()
        self.t = t
        if t == 1:
            self.L1 = _stage1_branch(cfg, 1, cfg.n_pafs)
            self.L2 = _stage1_branch(cfg, 2, cfg.n_heatmaps)
        else:
            self.L1 = _stage_branch(cfg, t, 1, cfg.n_pafs)
            self.L2 = _stage_branch(cfg, t, 2, cfg.n_heatmaps)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: F (stage 1) or concat[L^{t-1}, S^{t-1}, F] -> (S^t (N,19,h,w), L^t (N,38,h,w))."""
        return self.L2(x), self.L1(x)


class OpenPoseNet(PoseNet):
    """The OpenPose network; ``forward`` returns F and every stage's (S^t, L^t).

    Input: (N, 3, H, W) float, already normalized as ``config.input`` says
    (``inference.preprocess`` does that). Any H, W; the maps are (ceil(H/s), ceil(W/s)),
    s = ``config.stride`` (8 with the paper's three max pools).
    """

    def __init__(self, config: OpenPoseConfig | None = None, card: ModelCard | None = None) -> None:
        super().__init__()
        self.config = config or OpenPoseConfig.paper()
        self.card = card_for(card, self.config.output_spec())  # what the weights are (weights.load_model)
        self.backbone = vgg_backbone(self.config.vgg, relu_conv)
        self.cpm = cpm_layers(self.config.vgg, self.config.cpm, relu_conv)
        self.stages = nn.ModuleList(Stage(self.config, t) for t in range(1, self.config.n_stages + 1))

    def parts(self) -> dict[str, nn.Module]:
        """'vgg', 'cpm', 'stage1', ..., 'stageT' (compare docs/openpose_facts.md s.3)."""
        return {"vgg": self.backbone, "cpm": self.cpm, **{f"stage{s.t}": s for s in self.stages}}

    def output_layers(self) -> tuple[list[nn.Conv2d], list[nn.Conv2d]]:
        """(the last conv of every confidence-map branch L2, the last conv of every PAF branch L1)."""
        return [stage.L2[-1] for stage in self.stages], [stage.L1[-1] for stage in self.stages]

    def forward(self, x: Tensor, n_stages: int | None = None) -> NetworkOutput:
        """Image (N, 3, H, W) -> NetworkOutput(F, S=[S^1..S^T], L=[L^1..L^T]) (Eq. 1-2).

        ``n_stages`` stops after that many stages (the later ones are not computed).
        """
        self._check_input(x)
        T = len(self.stages) if n_stages is None else n_stages
        if not 1 <= T <= len(self.stages):
            raise ValueError(f"n_stages must be in 1..{len(self.stages)}, got {n_stages}")
        F = self.features(x)  # (N, 128, h, w)
        S, L = [], []
        s, paf = self.stages[0](F)  # stage 1 sees F alone (Sec. 2.1, unnumbered)
        S.append(s)
        L.append(paf)
        for stage in self.stages[1:T]:
            s, paf = stage(torch.cat([paf, s, F], dim=1))  # [L, S, F]: (N, 185, h, w) (Eq. 1-2)
            S.append(s)
            L.append(paf)
        return NetworkOutput(F=F, S=S, L=L, spec=self.output_spec)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable values (weights + biases)."""
    return sum(p.numel() for p in module.parameters())


def parameter_counts(net: PoseNet) -> dict[str, int]:
    """Parameters per part of either family (``net.parts()``): 'vgg', 'cpm', then each stage
    ('stage1'.. for OpenPoseNet, 'paf0'.., 'heat0'.. for Body25Net; PReLU slopes included)."""
    return {name: count_parameters(m) for name, m in net.parts().items()}


def caffe_layers(net: nn.Module) -> dict[str, nn.Conv2d]:
    """Every convolution by its Caffe layer name (``conv1_1``, ``Mconv7_stage6_L2``, ...)."""
    return {name.rsplit(".", 1)[-1]: m for name, m in net.named_modules() if isinstance(m, nn.Conv2d)}


def load_state_checked(model: nn.Module, tensors: Mapping[str, Tensor], source: str) -> nn.Module:
    """Copy ``tensors`` (keys as in model.state_dict()) into ``model``; every mismatch is named.

    Raises ValueError listing missing and unexpected keys, or the first layer whose shape differs
    with both shapes.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in tensors]
    unexpected = [k for k in tensors if k not in own]
    if missing or unexpected:
        raise ValueError(
            f"{source} does not match the model's layers: missing {missing[:20]}"
            + (f" (+{len(missing) - 20} more)" if len(missing) > 20 else "")
            + f", unexpected {unexpected[:20]}"
            + (f" (+{len(unexpected) - 20} more)" if len(unexpected) > 20 else "")
            + "; is it for another network (config)?"
        )
    for k, v in tensors.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise ValueError(
                f"layer {k!r}: {source} has shape {tuple(v.shape)}, the model expects {tuple(own[k].shape)}; "
                "the file was made for another network config"
            )
    model.load_state_dict(dict(tensors), strict=True)
    return model


def he_normal_(
    net: nn.Module,
    seed: int = 0,
    bias_std: float = 0.05,
    outputs: Iterable[nn.Module] = (),
    output_std: float = 0.01,
) -> nn.Module:
    """He-normal weights (std sqrt(2 / fan_in), He et al. 2015) of every conv, in place; returns ``net``.

    Keeps activations O(1) through the conv+ReLU stack of all stages, so random networks give
    maps of realistic size (the OpenCV fidelity test and the forward benchmark compare such
    networks) and a network trained from scratch starts well (``train.init_weights``).
    bias_std: biases drawn from N(0, bias_std^2); 0 sets them to zero (and draws none).
    outputs: convs with no ReLU after them (the map outputs) drawn with std ``output_std`` instead.
    Convs are drawn in module order from one generator seeded by ``seed``.
    """
    g = torch.Generator().manual_seed(seed)
    small = {id(m) for m in outputs}
    with torch.no_grad():
        for m in net.modules():
            if not isinstance(m, nn.Conv2d):
                continue
            std = output_std if id(m) in small else math.sqrt(2.0 / m.weight[0].numel())
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) * std)
            if bias_std:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * bias_std)
            else:
                m.bias.zero_()
    return net


# --- the Caffe side of the 2017 network (formats/caffe.py reads and writes the files) ---


def meta_net(config: Any) -> nn.Module:
    """``config.build()`` on the meta device: the module tree only (no memory, no init time), for
    reading layer names and kernel sizes off it (either family: OpenPoseConfig, Body25Config)."""
    with torch.device("meta"):
        return config.build()


def _sequence(seq: nn.Sequential, bottom: str, lr_mult: float) -> list[list[CaffeLayer]]:
    """A torch Sequential -> Caffe layers, grouped as [conv, its ReLU] or [pool] units."""
    units: list[list[CaffeLayer]] = []
    for name, m in seq.named_children():
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0]
            conv = CaffeLayer(
                name, "Convolution", (bottom,), name, m.out_channels, k, k // 2, m.in_channels, lr_mult
            )
            units.append([conv])
            bottom = name
        elif isinstance(m, nn.ReLU):
            # Caffe's ReLUs are in place: they overwrite their convolution's top blob.
            units[-1].append(CaffeLayer(name, "ReLU", (bottom,), bottom))
        elif isinstance(m, nn.MaxPool2d):
            units.append([CaffeLayer(name, "Pooling", (bottom,), name, kernel=2)])
            bottom = name
        else:
            raise TypeError(f"no Caffe layer for module {name!r} of type {type(m).__name__}")
    return units


def caffe_net_layers(config: OpenPoseConfig) -> list[CaffeLayer]:
    """Every layer of the Caffe network for ``config``, in prototxt order (Fig. 3 as Caffe sees it).

    Walks the ``OpenPoseNet`` module tree, so the prototxt always describes the torch model.
    Layer order follows pose_deploy_linevec.prototxt: the two branches of a stage interleaved
    (conv of L1, its ReLU, conv of L2, its ReLU, ...), then ``concat_stage{t+1}`` = [L, S, F].
    The last layer, ``concat_stage{T+1}``, is the original's 57-channel ``net_output`` [S | L].
    """
    net = meta_net(config)
    layers: list[CaffeLayer] = []
    bottom = "image"
    for seq in (net.backbone, net.cpm):
        for unit in _sequence(seq, bottom, 1.0):
            layers += unit
            bottom = unit[0].top
    F = bottom  # conv4_4_CPM in the paper network
    tops: tuple[str, str] = ("", "")
    for stage in net.stages:
        if stage.t > 1:
            concat = f"concat_stage{stage.t}"
            layers.append(CaffeLayer(concat, "Concat", (tops[0], tops[1], F), concat))
            bottom = concat
        lr = 1.0 if stage.t == 1 else 4.0  # stages >= 2 train with lr_mult 4 (training prototxt)
        u1, u2 = _sequence(stage.L1, bottom, lr), _sequence(stage.L2, bottom, lr)
        for a, b in zip(u1, u2, strict=True):
            layers += a + b
        tops = (u1[-1][0].top, u2[-1][0].top)  # (L^t, S^t)
    T = len(net.stages) + 1
    layers.append(CaffeLayer(f"concat_stage{T}", "Concat", (tops[1], tops[0]), "net_output"))
    return layers


def output_blobs(config: OpenPoseConfig) -> tuple[str, list[str], list[str]]:
    """OpenCV output names of F, [S^1..S^T] and [L^1..L^T] in the Caffe network for ``config``.

    OpenCV names an output by the layer that computes it. F is the ReLU of conv4_4_CPM
    (``relu4_4_CPM``): asking for ``conv4_4_CPM`` would give the values before the ReLU.
    """
    net = meta_net(config)
    F = [n for n, m in net.cpm.named_children() if isinstance(m, nn.ReLU)][-1]
    S = [list(caffe_layers(st.L2))[-1] for st in net.stages]
    L = [list(caffe_layers(st.L1))[-1] for st in net.stages]
    return F, S, L


def to_prototxt(config: OpenPoseConfig | None = None) -> str:
    """The deploy prototxt of ``config`` (default: the paper network = pose_deploy_linevec.prototxt).

    Input blob ``image`` (1, 3, H, W), H and W set at run time as in CMU's file.
    """
    config = config or OpenPoseConfig.paper()
    head = 'input: "image"\ninput_dim: 1\ninput_dim: 3\n'
    head += "input_dim: 1 # This value will be defined at runtime\n" * 2
    return head + "".join(render_layer(layer) for layer in caffe_net_layers(config))
