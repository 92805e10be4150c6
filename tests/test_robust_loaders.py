"""Issue 22, defect 5: weights files that are not what their suffix says give one clear line.

A text file named ``.caffemodel`` (e.g. a prototxt saved under the wrong name), an empty file and
a truncated download, given to each loader (COCO caffemodel, BODY_25 caffemodel, .pth, .pt, .pb
and ``load_model`` by suffix): a ValueError naming the file and what to do, never protobuf's
``DecodeError``, torch's ``PytorchStreamReader`` / ``UnpicklingError`` text or an ``EOFError``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pytest
from _caffe_files import caffe_state_dict, random_net

from openpose_edu import body25, weights
from openpose_edu.body25 import Body25Config, Body25Net
from openpose_edu.formats.caffe import caffemodel_bytes, model_blobs, to_prototxt
from openpose_edu.model import OpenPoseConfig, he_normal_

SMALL = OpenPoseConfig.small(0.125, n_stages=2, stage_kernel=3)
SMALL25 = Body25Config.small(0.125)
PROTOTXT = to_prototxt(SMALL)  # the network description: text, not weights

coco_caffemodel = functools.partial(weights.load_caffemodel, config=SMALL)
body25_caffemodel = functools.partial(body25.load_caffemodel, config=SMALL25)


def good_bytes(kind: str, tmp_path: Path) -> bytes:
    """A valid small file of each kind, made by the test."""
    if kind == "coco":
        return caffemodel_bytes(model_blobs(random_net(SMALL)))
    if kind == "body25":
        return caffemodel_bytes(model_blobs(he_normal_(Body25Net(SMALL25), 0)))
    import torch

    if kind == "pth":
        torch.save(caffe_state_dict(random_net(SMALL)), tmp_path / "good.pth")
        return (tmp_path / "good.pth").read_bytes()
    weights.save_checkpoint(tmp_path / "good.pt", random_net(SMALL), step=1)
    return (tmp_path / "good.pt").read_bytes()


LOADERS: dict[str, tuple[str, Callable]] = {
    "coco": (".caffemodel", coco_caffemodel),
    "body25": (".caffemodel", body25_caffemodel),
    "pth": (".pth", functools.partial(weights.load_pth, config=SMALL)),
    "pt": (".pt", weights.load_checkpoint),
}
# What each loader says (the file's path comes first in every message).
EMPTY = r"the file is empty \(0 bytes\)"
NOT_CAFFE = r"not a Caffe \.caffemodel .*truncated, corrupt or another kind of file"
NOT_TORCH = r"not a readable PyTorch file .*truncated, corrupt"


def _refused(load: Callable, path: Path, words: str) -> str:
    with pytest.raises(ValueError, match=words) as e:
        load(path)
    message = str(e.value)
    assert str(path) in message and "\n" not in message
    for raw in ("DecodeError:", "PytorchStreamReader", "weights_only=False", "Traceback"):
        assert raw not in message.split(";")[-1], message  # torch's / protobuf's advice is not passed on
    return message


@pytest.mark.parametrize("kind", ["coco", "body25"])
def test_a_text_caffemodel_is_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "pose_deploy.caffemodel"
    path.write_text(PROTOTXT)
    _refused(LOADERS[kind][1], path, NOT_CAFFE)
    if kind == "coco":  # load_model picks the loader by suffix
        _refused(lambda p: weights.load_model(p, cache=False), path, NOT_CAFFE)


@pytest.mark.parametrize("kind", list(LOADERS))
def test_an_empty_file_is_refused(tmp_path: Path, kind: str) -> None:
    suffix, load = LOADERS[kind]
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    _refused(load, path, EMPTY)


def test_an_empty_pb_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.pb").write_bytes(b"")
    _refused(lambda p: weights.load_model(p, cache=False), tmp_path / "empty.pb", "holds no graph nodes")


@pytest.mark.parametrize("kind", list(LOADERS))
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_a_truncated_file_is_refused(tmp_path: Path, kind: str, keep: float) -> None:
    suffix, load = LOADERS[kind]
    data = good_bytes(kind, tmp_path)
    load_ok = tmp_path / f"whole{suffix}"
    load_ok.write_bytes(data)
    load(load_ok)  # the whole file loads
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(data[: int(len(data) * keep)])
    _refused(load, path, NOT_CAFFE if suffix == ".caffemodel" else NOT_TORCH)
