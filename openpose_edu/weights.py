"""Trained weights: a registry name -> file (mirror, cache, download), and loading into a model.

Three kinds of weights sit behind one call, ``load_model(name)`` (DESIGN.md "Three kinds of
trained weights"):

* ``"bundled"``: a small network of the paper's family trained by ``openpose_edu.train`` on
  synthetic scenes; it ships inside the package (``openpose_edu/checkpoints/bundled.pt``).
* ``"cmu-coco"`` / ``"cmu-coco-pth"``: CMU's original COCO model, the exact paper network
  (Fig. 2), as the Caffe file ``pose_iter_440000.caffemodel`` or its PyTorch conversion
  ``body_pose_model.pth``. Both load by Caffe layer name into ``OpenPoseNet(OpenPoseConfig.paper())``.
* ``"tfpose-mobilenet-v2-small"``: tf-pose-estimation's small COCO network (a frozen
  TensorFlow graph), read by ``openpose_edu.tfgraph``.

``fetch(name)`` finds a file: first in the mirror directory ``$OPENPOSE_EDU_MIRROR``, then in
the cache ``$OPENPOSE_EDU_CACHE`` (default ``~/.cache/openpose_edu``), then by download; the
hash is checked before anything is used, and a failed download leaves nothing behind.
Checkpoints of our own training: ``save_checkpoint`` / ``load_checkpoint`` (config inside).
Files from the internet are read with ``torch.load(..., weights_only=True)``: no code runs.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib
import os
import tempfile
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .assembly import ParsingParams
from .model import OpenPoseConfig, OpenPoseNet

CHECKPOINT_FORMAT = "openpose_edu/1"
BUNDLED_PATH = Path(__file__).resolve().parent / "checkpoints" / "bundled.pt"
_CMU_LICENCE = (
    "CMU OpenPose licence: academic or non-profit non-commercial research use only "
    "(https://github.com/CMU-Perceptual-Computing-Lab/openpose/blob/master/LICENSE)"
)


@dataclass(frozen=True)
class WeightSpec:
    """One registered weights file: where it comes from, how to check it, how to load it."""

    name: str  # registry name, e.g. "cmu-coco"
    filename: str  # file name in the mirror / cache directories
    urls: tuple[str, ...]  # download locations, tried in order (current one first)
    sha256: str | None = None  # hex digest; at least one of sha256 / md5 for downloadable files
    md5: str | None = None  # only where the publisher gives no sha256 (CMU's caffemodel)
    size: int | None = None  # bytes, where known
    licence: str = ""
    attribution: str = ""
    loader: str = ""  # "module:function" called as function(path, device) -> model
    description: str = ""
    path: Path | None = None  # set for files that ship inside the package (no download)

    @property
    def algorithm(self) -> str:
        return "sha256" if self.sha256 else "md5"

    @property
    def digest(self) -> str | None:
        return self.sha256 or self.md5


REGISTRY: dict[str, WeightSpec] = {
    spec.name: spec
    for spec in (
        WeightSpec(
            name="bundled",
            filename="bundled.pt",
            urls=(),
            licence="MIT (trained by this package on synthetic scenes)",
            attribution="openpose_edu, trained with openpose_edu.train (see checkpoints/ model card)",
            loader="openpose_edu.weights:load_checkpoint_model",
            description="small network of the paper's family trained on synthetic.py's scenes",
            path=BUNDLED_PATH,
        ),
        WeightSpec(
            name="cmu-coco",
            filename="pose_iter_440000.caffemodel",
            urls=(
                "http://vcl.snu.ac.kr/OpenPose/models/pose/coco/pose_iter_440000.caffemodel",
                "http://posefs1.perception.cs.cmu.edu/OpenPose/models/pose/coco/pose_iter_440000.caffemodel",
                "http://posefs1.perception.cs.cmu.edu/Users/ZheCao/pose_iter_440000.caffemodel",
            ),
            md5="5156d31f670511fce9b4e28b403f2939",  # OpenPose CMakeLists.txt download_model
            licence=_CMU_LICENCE,
            attribution="Cao, Simon, Wei, Sheikh (CMU Perceptual Computing Lab): OpenPose COCO model",
            loader="openpose_edu.weights:load_caffemodel",
            description="CMU's original COCO network (pose_deploy_linevec.prototxt), Caffe weights",
        ),
        WeightSpec(
            name="cmu-body25",
            filename="pose_iter_584000.caffemodel",
            urls=("http://vcl.snu.ac.kr/OpenPose/models/pose/body_25/pose_iter_584000.caffemodel",),
            md5="78287b57cf85fa89c03f1393d368e5b7",  # OpenPose CMakeLists.txt download_model("BODY_25")
            licence=_CMU_LICENCE,
            attribution="Cao, Hidalgo, Simon, Wei, Sheikh (CMU Perceptual Computing Lab): OpenPose BODY_25",
            loader="openpose_edu.body25:load_caffemodel",
            description="CMU BODY_25 (2019, PAF-first; body_25/pose_deploy.prototxt), Caffe weights",
        ),
        WeightSpec(
            name="cmu-coco-pth",
            filename="body_pose_model.pth",
            urls=(
                "https://huggingface.co/lllyasviel/Annotators/resolve/main/body_pose_model.pth",
                "https://huggingface.co/lllyasviel/ControlNet/resolve/main/annotator/ckpts/body_pose_model.pth",
            ),
            sha256="25a948c16078b0f08e236bda51a385d855ef4c153598947c28c0d47ed94bb746",
            size=209_267_595,
            licence=_CMU_LICENCE,
            attribution="CMU's COCO model, converted to PyTorch by Hzzone/pytorch-openpose",
            loader="openpose_edu.weights:load_pth",
            description="CMU's original COCO network as a PyTorch state dict (bare Caffe layer names)",
        ),
        WeightSpec(
            name="tfpose-mobilenet-v2-small",
            filename="tf-pose-mobilenet_v2_small-graph_opt.pb",
            urls=(
                "https://raw.githubusercontent.com/ildoonet/tf-pose-estimation/"
                "9aaf34708e9863eeab9685a7ec52a45f3b576e2d/models/graph/mobilenet_v2_small/graph_opt.pb",
            ),
            sha256="428a9d6e7bfc0319e1ce4de8c0191a9111cd281bea6ae2b496fd42c92d574160",
            size=2_096_019,
            licence="Apache-2.0 (tf-pose-estimation)",
            attribution="Ildoo Kim and contributors, ildoonet/tf-pose-estimation: mobilenet_v2_small",
            loader="openpose_edu.tfgraph:load_tfgraph",
            description="small real COCO-trained OpenPose network (MobileNetV2 backbone, 6 stages)",
        ),
    )
}


def _spec(name: str) -> WeightSpec:
    if name not in REGISTRY:
        raise ValueError(f"unknown weights {name!r}; registered names: {sorted(REGISTRY)}")
    return REGISTRY[name]


def cache_dir() -> Path:
    """Download cache: ``$OPENPOSE_EDU_CACHE``, default ``~/.cache/openpose_edu``."""
    return Path(os.environ.get("OPENPOSE_EDU_CACHE") or Path.home() / ".cache" / "openpose_edu").expanduser()


def mirror_dir() -> Path | None:
    """Directory of real files consulted before the network: ``$OPENPOSE_EDU_MIRROR`` (or None)."""
    path = os.environ.get("OPENPOSE_EDU_MIRROR")
    return Path(path).expanduser() if path else None


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB blocks (the CMU model is ~200 MB)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _matches(spec: WeightSpec, path: Path) -> tuple[bool, str]:
    if spec.digest is None:
        return True, ""
    actual = file_digest(path, spec.algorithm)
    return actual == spec.digest.lower(), actual


def _download(url: str, dst: Path, spec: WeightSpec, progress: bool, timeout: float = 30.0) -> None:
    """Stream ``url`` into ``dst`` (a temp file) with a tqdm bar, then check its hash.

    Raises ValueError on a hash mismatch (naming expected and actual) and OSError/URLError on
    network failures; the caller deletes ``dst``.
    """
    h = hashlib.new(spec.algorithm)
    request = urllib.request.Request(url, headers={"User-Agent": "openpose_edu"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dst, "wb") as f:
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        received = 0
        with tqdm(
            total=length or spec.size, unit="B", unit_scale=True, desc=spec.filename, disable=not progress
        ) as bar:
            for block in iter(lambda: response.read(1 << 20), b""):
                f.write(block)
                h.update(block)
                received += len(block)
                bar.update(len(block))
    if length is not None and received != length:  # urllib returns a cut body without complaint
        raise ConnectionError(f"{url}: connection closed after {received:,} of {length:,} bytes")
    actual = h.hexdigest()
    if spec.digest is not None and actual != spec.digest.lower():
        size = dst.stat().st_size
        raise ValueError(
            f"{spec.filename} downloaded from {url} has {spec.algorithm} {actual} ({size:,} bytes), "
            f"expected {spec.digest}" + (f" ({spec.size:,} bytes)" if spec.size else "") + "; file discarded"
        )


def fetch(name: str, progress: bool = True) -> Path:
    """Path of the registered file ``name``: mirror, then cache, then download (hash-checked).

    1. ``$OPENPOSE_EDU_MIRROR/<filename>`` if it exists (must match the hash; never modified).
    2. ``<cache_dir()>/<filename>`` if it exists and matches (a mismatching one is replaced).
    3. Each URL in turn, streamed to a temporary file in the cache directory, hash-checked, then
       renamed into place (atomic), so no half-written or wrong file is ever left under the name.
    """
    spec = _spec(name)
    if spec.path is not None:  # ships with the package
        if not spec.path.is_file():
            raise FileNotFoundError(
                f"the {name!r} checkpoint is missing at {spec.path}; it is made by the training "
                "helper (python -m openpose_edu.train) and ships with the package. Reinstall the "
                "package, or pass another registered name: " + ", ".join(sorted(set(REGISTRY) - {name}))
            )
        return spec.path

    mirror = mirror_dir()
    if mirror is not None and (mirror / spec.filename).is_file():
        path = mirror / spec.filename
        ok, actual = _matches(spec, path)
        if not ok:
            raise ValueError(
                f"{path} (from OPENPOSE_EDU_MIRROR) has {spec.algorithm} {actual}, expected {spec.digest}; "
                "replace it with the published file or unset OPENPOSE_EDU_MIRROR"
            )
        return path

    cache = cache_dir()
    target = cache / spec.filename
    if target.is_file():
        ok, _ = _matches(spec, target)
        if ok:
            return target
        target.unlink()  # a corrupted or outdated cache entry: fetch it again

    cache.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    wrong_content = False
    for url in spec.urls:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".part", dir=cache)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _download(url, tmp, spec, progress)
            os.replace(tmp, target)  # atomic on one file system: the name appears complete or not at all
            return target
        except ValueError as e:  # wrong content: try the next URL, report if none is right
            failures.append(str(e))
            wrong_content = True
        except (OSError, http.client.HTTPException) as e:  # URLError, timeouts, cut connections
            failures.append(f"{url}: {e}")
        finally:
            tmp.unlink(missing_ok=True)
    where = f"$OPENPOSE_EDU_MIRROR/{spec.filename}" + (f" (= {mirror / spec.filename})" if mirror else "")
    # A wrong file is a content problem (ValueError); otherwise the network failed.
    raise (ValueError if wrong_content else ConnectionError)(
        f"could not get {spec.filename!r} for {name!r}:\n  "
        + "\n  ".join(failures or ["no download URL registered"])
        + f"\nDownload it yourself from {spec.urls[0] if spec.urls else '(no URL)'} "
        f"({spec.algorithm} {spec.digest}) and put it at {target} or at {where}."
    )


# --- loading tensors into an OpenPoseNet by layer name -------------------------------------------


def _check_and_load(model: nn.Module, tensors: Mapping[str, Tensor], source: str) -> nn.Module:
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


def _caffe_keys(model: OpenPoseNet) -> dict[str, str]:
    """{'conv1_1.weight': 'backbone.conv1_1.weight', ...}: Caffe layer names -> our state-dict keys."""
    return {".".join(k.split(".")[-2:]): k for k in model.state_dict()}


def load_caffe_named(
    model: OpenPoseNet, tensors: Mapping[str, Tensor], source: str = "the weights"
) -> OpenPoseNet:
    """Load tensors keyed by Caffe layer name (``conv1_1.weight``, ``Mconv7_stage6_L2.bias``).

    Also accepts Hzzone-style keys with a block prefix (``model0.conv1_1.weight``,
    ``model2_1.Mconv1_stage2_L1.weight``): only the last two dotted parts count.
    """
    to_ours = _caffe_keys(model)
    renamed: dict[str, Tensor] = {}
    for key, value in tensors.items():
        short = ".".join(key.split(".")[-2:])
        renamed[to_ours.get(short, key)] = value
    return _check_and_load(model, renamed, source)  # type: ignore[return-value]


def load_pth(
    path: str | Path, device: str | torch.device = "cpu", config: OpenPoseConfig | None = None
) -> OpenPoseNet:
    """The ``body_pose_model.pth`` layout (a state dict with Caffe layer names) -> OpenPoseNet, eval mode.

    ``config`` defaults to the paper network (Fig. 2); ``weights_only=True``: no code in the file runs.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(
            f"{path} is not a state dict of tensors (got {type(state).__name__}); "
            "for an openpose_edu checkpoint use load_checkpoint"
        )
    model = OpenPoseNet(config or OpenPoseConfig.paper())
    load_caffe_named(model, state, source=str(path))
    return model.to(device).eval()


def load_caffemodel(
    path: str | Path, device: str | torch.device = "cpu", config: OpenPoseConfig | None = None
) -> OpenPoseNet:
    """A Caffe ``.caffemodel`` (read by OpenCV's dnn importer) -> OpenPoseNet, eval mode.

    The network description is our prototxt for ``config`` (default: the paper network, i.e.
    CMU's pose_deploy_linevec.prototxt); each convolution's blobs are weight
    (C_out, C_in, k, k) and bias (C_out,).
    """
    from .caffe import caffemodel_layer_names, read_caffemodel  # cv2 only when a caffemodel is read

    config = config or OpenPoseConfig.paper()
    data = Path(path).read_bytes()
    blobs = read_caffemodel(data, config)
    model = OpenPoseNet(config)
    missing = [name for name, b in blobs.items() if len(b) < 2]
    unexpected = [name for name in caffemodel_layer_names(data) if name not in blobs]
    if missing or unexpected:
        raise ValueError(
            f"{path} does not match the network's layers: missing {missing}, unexpected {unexpected}; "
            "is it for another network (config)?"
        )
    tensors: dict[str, Tensor] = {}
    for name, (w, b, *_) in blobs.items():
        tensors[f"{name}.weight"] = torch.from_numpy(w.copy())
        tensors[f"{name}.bias"] = torch.from_numpy(b.reshape(-1).copy())  # OpenCV keeps it (C_out, 1)
    load_caffe_named(model, tensors, source=str(path))
    return model.to(device).eval()


# --- our own checkpoints --------------------------------------------------------------------------


def save_checkpoint(path: str | Path, model: OpenPoseNet, **extra: Any) -> Path:
    """Save ``model`` with its config (and ``extra`` such as step, optimizer, data_seed, meta).

    File = torch.save of {"format": "openpose_edu/1", "config": cfg.to_dict(),
    "state_dict": ..., **extra}; extras must be plain data (numbers, strings, lists, dicts,
    tensors) so that ``load_checkpoint`` can read it with weights_only=True. Written to a
    temporary file first and renamed, so a crash never leaves half a checkpoint.
    """
    reserved = {"format", "config", "state_dict"} & set(extra)
    if reserved:
        raise ValueError(f"extra keys {sorted(reserved)} are reserved for the checkpoint itself; rename them")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}  # NCHW on disk
    payload = {"format": CHECKPOINT_FORMAT, "config": model.config.to_dict(), "state_dict": state, **extra}
    tmp = path.with_name(f".{path.name}.part")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[OpenPoseNet, dict[str, Any]]:
    """A checkpoint from ``save_checkpoint`` -> (OpenPoseNet in eval mode on ``device``, extras).

    The config travels inside the file, so any member of the family loads without arguments.
    When the file's ``meta["parsing"]`` names parser thresholds chosen for this network, the
    model carries them as ``model.parsing_params`` (a ``ParsingParams``), which ``estimate``
    and ``evaluate`` then use unless given others.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"checkpoint not found: {path} (a training run writes out_dir/last.pt and step_XXXXXX.pt)"
        )
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(
            f"{path} is not an openpose_edu checkpoint (format {got!r}, expected {CHECKPOINT_FORMAT!r}); "
            "for CMU's body_pose_model.pth use load_pth, for a .caffemodel load_caffemodel"
        )
    if payload["config"].get("architecture") == "body25":  # the 2019 network (body25.py)
        from .body25 import Body25Config, Body25Net

        model = Body25Net(Body25Config.from_dict(payload["config"]))
    else:
        model = OpenPoseNet(OpenPoseConfig.from_dict(payload["config"]))
    _check_and_load(model, payload["state_dict"], source=str(path))
    extra = {k: v for k, v in payload.items() if k not in ("format", "config", "state_dict")}
    parsing = extra.get("meta", {}).get("parsing")
    if parsing is not None:  # the parser thresholds chosen for this network (inference.parsing_params_of)
        model.parsing_params = ParsingParams.from_dict(parsing)
    return model.to(device).eval(), extra


def load_checkpoint_model(path: str | Path, device: str | torch.device = "cpu") -> OpenPoseNet:
    """``load_checkpoint`` without the extras (the registry's loader for our own checkpoints)."""
    return load_checkpoint(path, device)[0]


def _loader_for_path(path: Path) -> str:
    suffix = path.suffix.lower()
    loaders = {
        ".caffemodel": "openpose_edu.weights:load_caffemodel",
        ".pth": "openpose_edu.weights:load_pth",
        ".pt": "openpose_edu.weights:load_checkpoint_model",
        ".pb": "openpose_edu.tfgraph:load_tfgraph",
    }
    if suffix not in loaders:
        raise ValueError(f"do not know how to load {path} (suffix {suffix!r}); known: {sorted(loaders)}")
    return loaders[suffix]


def load_model(
    name: str | Path | None = None, device: str | torch.device = "cpu", progress: bool = True
) -> nn.Module:
    """A ready model in eval mode: a registry name (None -> "bundled") or a weights file path.

    Every model returned has ``.input_spec``, ``.stride`` and ``forward(x, n_stages=None) ->
    NetworkOutput`` (F and every stage's S^t, L^t; Fig. 2). Registered names:
    ``REGISTRY`` (bundled, cmu-coco, cmu-coco-pth, tfpose-mobilenet-v2-small).
    """
    name = "bundled" if name is None else name
    if isinstance(name, str) and name in REGISTRY:
        path, loader = fetch(name, progress=progress), REGISTRY[name].loader
    elif Path(name).is_file():
        path, loader = Path(name), _loader_for_path(Path(name))
    else:
        raise ValueError(
            f"{str(name)!r} is neither a registered name {sorted(REGISTRY)} nor an existing file"
        )
    module_name, func = loader.split(":")
    model = getattr(importlib.import_module(module_name), func)(path, device)
    return model.eval()
