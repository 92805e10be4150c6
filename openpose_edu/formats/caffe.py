"""The Caffe side of the original network: prototxt, .caffemodel files, and OpenCV's dnn runner.

CMU released OpenPose as a Caffe model: a text network description
(``pose_deploy_linevec.prototxt``) and binary weights (``pose_iter_440000.caffemodel``).
This module writes the prototxt of ANY ``OpenPoseConfig`` (for ``OpenPoseConfig.paper()`` it
has exactly the layer names, types, order and wiring of CMU's file), reads .caffemodel weights
with OpenCV's dnn Caffe importer (no Caffe install), and writes small .caffemodel files with a
minimal subset of ``caffe.proto`` so that tests can make their own.

OpenCV's dnn module is an independent implementation of every Caffe layer the network uses,
so running the same weights through it and through ``OpenPoseNet`` checks our PyTorch network
(tests/test_fidelity.py); ``benchmarks/forward.py`` times both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from ..model import NetworkOutput, OpenPoseConfig, OpenPoseNet, caffe_layers


@dataclass(frozen=True)
class CaffeLayer:
    """One layer of the prototxt: enough to write it and to match it to a torch module."""

    name: str  # Caffe layer name, e.g. "Mconv1_stage2_L1" (also the torch module name)
    type: str  # "Convolution", "ReLU", "Pooling" or "Concat"
    bottoms: tuple[str, ...]
    top: str
    num_output: int = 0  # Convolution only
    kernel: int = 0  # Convolution / Pooling
    pad: int = 0  # Convolution only
    c_in: int = 0  # Convolution only (not written; the weight blob's second axis)
    lr_mult: float = 1.0  # the training prototxt's learning-rate multiplier (4 for stages >= 2)


def _meta_net(config: OpenPoseConfig) -> OpenPoseNet:
    # Only the module tree is needed: build it on the meta device (no memory, no init time).
    with torch.device("meta"):
        return OpenPoseNet(config)


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
    if getattr(config, "architecture", None) == "body25":  # the 2019 network (body25.py)
        from .. import body25

        return body25.caffe_net_layers(config)
    net = _meta_net(config)
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
    if getattr(config, "architecture", None) == "body25":
        from .. import body25

        return body25.output_blobs(config)
    net = _meta_net(config)
    F = [n for n, m in net.cpm.named_children() if isinstance(m, nn.ReLU)][-1]
    S = [list(caffe_layers(st.L2))[-1] for st in net.stages]
    L = [list(caffe_layers(st.L1))[-1] for st in net.stages]
    return F, S, L


def render_layer(layer: CaffeLayer, deploy_only: bool = False) -> str:
    """One ``layer { ... }`` block of a prototxt, in the style of CMU's files.

    deploy_only=False: as in pose_deploy_linevec.prototxt (COCO), whose convolutions keep the
    training file's lr_mult/decay_mult params and weight/bias fillers. deploy_only=True: as in
    body_25/pose_deploy.prototxt, which has neither (the two files differ only there).
    """
    lines = ["layer {", f'  name: "{layer.name}"', f'  type: "{layer.type}"']
    lines += [f'  bottom: "{b}"' for b in layer.bottoms]
    if layer.name == layer.top or layer.type != "Concat":
        lines.append(f'  top: "{layer.top}"')
    else:
        lines += [f'  # top: "{layer.name}"', f'  top: "{layer.top}"']  # as in CMU's file
    if layer.type == "Convolution":
        lr = layer.lr_mult
        if not deploy_only:
            lines += ["  param {", f"    lr_mult: {lr:.1f}", "    decay_mult: 1", "  }"]
            lines += ["  param {", f"    lr_mult: {2 * lr:.1f}", "    decay_mult: 0", "  }"]
        lines += ["  convolution_param {", f"    num_output: {layer.num_output}"]
        lines += [f"    pad: {layer.pad}", f"    kernel_size: {layer.kernel}"]
        if not deploy_only:
            lines += ["    weight_filler {", '      type: "gaussian"', "      std: 0.01", "    }"]
            lines += ["    bias_filler {", '      type: "constant"', "    }"]
        lines.append("  }")
    elif layer.type == "Pooling":
        lines += ["  pooling_param {", "    pool: MAX", "    kernel_size: 2", "    stride: 2", "  }"]
    elif layer.type == "Concat":
        lines += ["  concat_param {", "    axis: 1", "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_prototxt(config: OpenPoseConfig | None = None) -> str:
    """The deploy prototxt of ``config`` (default: the paper network = pose_deploy_linevec.prototxt).

    Input blob ``image`` (1, 3, H, W), H and W set at run time as in CMU's file.
    """
    config = config or OpenPoseConfig.paper()
    if getattr(config, "architecture", None) == "body25":  # CMU's body_25/pose_deploy.prototxt
        from .. import body25

        return body25.to_prototxt(config)
    head = 'input: "image"\ninput_dim: 1\ninput_dim: 3\n'
    head += "input_dim: 1 # This value will be defined at runtime\n" * 2
    return head + "".join(render_layer(layer) for layer in caffe_net_layers(config))


# --- .caffemodel files: a minimal subset of caffe.proto ------------------------------------


@lru_cache(maxsize=1)
def _proto_classes() -> tuple[type, type]:
    """NetParameter and BlobProto classes for the fields a weights file needs (caffe.proto ids).

    NetParameter{name=1, layers=2 (old V1 format), layer=100}, LayerParameter{name=1, type=2,
    blobs=7}, V1LayerParameter{name=4, blobs=6}, BlobProto{data=5 packed float, shape=7},
    BlobShape{dim=1 packed int64}. A reader that knows the full caffe.proto (Caffe, OpenCV)
    reads the files we write; fields we do not know are skipped when we read theirs.
    """
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    Fd = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="openpose_edu_caffe_min.proto", package="caffe")
    fdp.syntax = "proto2"

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name
            if label == Fd.LABEL_REPEATED and ftype != Fd.TYPE_MESSAGE:
                f.options.packed = True

    rep, opt = Fd.LABEL_REPEATED, Fd.LABEL_OPTIONAL
    message("BlobShape", ("dim", 1, Fd.TYPE_INT64, rep, ""))
    message(
        "BlobProto",
        ("data", 5, Fd.TYPE_FLOAT, rep, ""),
        ("shape", 7, Fd.TYPE_MESSAGE, opt, ".caffe.BlobShape"),
    )
    message(
        "LayerParameter",
        ("name", 1, Fd.TYPE_STRING, opt, ""),
        ("type", 2, Fd.TYPE_STRING, opt, ""),
        ("blobs", 7, Fd.TYPE_MESSAGE, rep, ".caffe.BlobProto"),
    )
    message(
        "V1LayerParameter",
        ("name", 4, Fd.TYPE_STRING, opt, ""),
        ("blobs", 6, Fd.TYPE_MESSAGE, rep, ".caffe.BlobProto"),
    )
    message(
        "NetParameter",
        ("name", 1, Fd.TYPE_STRING, opt, ""),
        ("layers", 2, Fd.TYPE_MESSAGE, rep, ".caffe.V1LayerParameter"),
        ("layer", 100, Fd.TYPE_MESSAGE, rep, ".caffe.LayerParameter"),
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    get = message_factory.GetMessageClass
    return get(pool.FindMessageTypeByName("caffe.NetParameter")), get(
        pool.FindMessageTypeByName("caffe.BlobProto")
    )


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def caffemodel_bytes(blobs: dict[str, list[np.ndarray]], name: str = "openpose_edu") -> bytes:
    """Serialize {layer name: [weight, bias, ...]} as a binary Caffe NetParameter (.caffemodel).

    Arrays are stored as float32 with their shape (weight (C_out, C_in, k, k), bias (C_out,)).
    """
    NetParameter, _ = _proto_classes()
    net = NetParameter(name=name)
    for layer_name, arrays in blobs.items():
        layer = net.layer.add(name=layer_name, type="Convolution")
        for a in arrays:
            blob = layer.blobs.add()
            a = np.ascontiguousarray(a, dtype="<f4")
            blob.shape.dim.extend(a.shape)
            # Adding 50 M floats one by one takes seconds; parsing the packed field (tag 5,
            # wire type 2) from raw little-endian bytes is the same message, built in C.
            raw = a.tobytes()
            blob.MergeFromString(b"\x2a" + _varint(len(raw)) + raw)
    return net.SerializeToString()


def caffemodel_layer_names(source: str | Path | bytes) -> list[str]:
    """Names of the layers that carry weights in a .caffemodel (new and old V1 Caffe formats)."""
    NetParameter, _ = _proto_classes()
    net = NetParameter()
    net.ParseFromString(source if isinstance(source, bytes | bytearray) else Path(source).read_bytes())
    return [la.name for la in [*net.layer, *net.layers] if len(la.blobs) > 0]


def model_blobs(model: OpenPoseNet) -> dict[str, list[np.ndarray]]:
    """{Caffe layer name: [weight (C_out, C_in, k, k), bias (C_out,)]} of a torch model, float32.

    PReLU layers (BODY_25) carry one blob, their slopes (C,).
    """
    prelus = {
        name.rsplit(".", 1)[-1]: [m.weight.detach().float().cpu().numpy()]
        for name, m in model.named_modules()
        if isinstance(m, nn.PReLU)
    }
    return prelus | {
        name: [m.weight.detach().float().cpu().numpy(), m.bias.detach().float().cpu().numpy()]
        for name, m in caffe_layers(model).items()
    }


def write_caffemodel(path: str | Path, model: OpenPoseNet) -> Path:
    """Write ``model``'s convolution weights as a .caffemodel that Caffe and OpenCV can read."""
    path = Path(path)
    path.write_bytes(caffemodel_bytes(model_blobs(model)))
    return path


# --- OpenCV dnn ------------------------------------------------------------------------------


def opencv_net(config: OpenPoseConfig | None, caffemodel: str | Path | bytes) -> cv2.dnn.Net:
    """An OpenCV dnn network: our prototxt for ``config`` plus the weights in ``caffemodel``.

    ``caffemodel`` is a path or the file's bytes. Winograd convolution is disabled: it trades
    accuracy for speed, and this network is used as a numerical reference.
    """
    proto = np.frombuffer(to_prototxt(config).encode(), dtype=np.uint8)
    if isinstance(caffemodel, bytes | bytearray):
        data = np.frombuffer(caffemodel, dtype=np.uint8)
    else:
        path = Path(caffemodel)
        if not path.is_file():
            raise FileNotFoundError(f"no .caffemodel at {path}")
        data = np.fromfile(path, dtype=np.uint8)
    try:
        net = cv2.dnn.readNetFromCaffe(proto, data)
    except cv2.error as e:
        raise ValueError(
            f"OpenCV could not read the caffemodel with the prototxt of this config: {e}. "
            "Is it a Caffe weights file of this network (e.g. pose_iter_440000.caffemodel)?"
        ) from e
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    net.enableWinograd(False)
    return net


def read_caffemodel(
    path: str | Path | bytes, config: OpenPoseConfig | None = None
) -> dict[str, list[np.ndarray]]:
    """{Caffe layer name: [weight, bias]} read by OpenCV's Caffe importer for ``config``'s layers.

    A layer of the prototxt that the file lacks comes back with an empty list.
    """
    config = config or OpenPoseConfig.paper()
    net = opencv_net(config, path)
    out: dict[str, list[np.ndarray]] = {}
    for layer in caffe_net_layers(config):
        if layer.type not in ("Convolution", "PReLU"):
            continue
        blobs = list(net.getLayer(layer.name).blobs)
        out[layer.name] = [np.asarray(b, dtype=np.float32) for b in blobs]
    return out


def opencv_forward(
    net: cv2.dnn.Net, x: np.ndarray | torch.Tensor, config: OpenPoseConfig | None = None
) -> NetworkOutput:
    """Run an OpenCV dnn network (from ``opencv_net``) on x (N, 3, H, W): F and every (S^t, L^t).

    Returns the same ``NetworkOutput`` as ``OpenPoseNet.forward`` (float32 CPU tensors).
    """
    config = config or OpenPoseConfig.paper()
    F, S, L = output_blobs(config)
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    net.setInput(np.ascontiguousarray(x, dtype=np.float32))
    outs = [torch.from_numpy(np.array(o)) for o in net.forward([F, *S, *L])]
    T = len(S)
    return NetworkOutput(F=outs[0], S=outs[1 : 1 + T], L=outs[1 + T :])
