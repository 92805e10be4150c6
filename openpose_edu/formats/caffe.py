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

from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from ..model import NetworkOutput, OpenPoseConfig, OpenPoseNet, caffe_layers
from .prototxt import CaffeLayer, render_layer  # noqa: F401 - render_layer: its old home


def caffe_net_layers(config: Any) -> list[CaffeLayer]:
    """Every layer of the Caffe network of ``config``: each family lists its own layers."""
    return config.caffe_net_layers()


def output_blobs(config: Any) -> tuple[str, list[str], list[str]]:
    """OpenCV output names of F, [S..] and [L..] of ``config``'s network (``config.output_blobs()``)."""
    return config.output_blobs()


def to_prototxt(config: Any = None) -> str:
    """The deploy prototxt of ``config`` (default: the paper network = pose_deploy_linevec.prototxt)."""
    return (config or OpenPoseConfig.paper()).to_prototxt()


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
    n_S, spec = len(S), config.output_spec()  # every stage ran: BODY_25's P + H, not len(S) = H
    return NetworkOutput(F=outs[0], S=outs[1 : 1 + n_S], L=outs[1 + n_S :], spec=spec, ran=spec.n_stages)
