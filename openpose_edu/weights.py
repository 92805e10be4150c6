"""Trained weights: a registry name -> file (mirror, cache, download), and loading into a model.

Three kinds of weights sit behind one call, ``load_model(name)`` (docs/design.md "Three kinds of
trained weights"):

* ``"bundled"``: a small network of the paper's family trained by ``openpose_edu.train`` on
  synthetic scenes; it ships inside the package (``openpose_edu/checkpoints/bundled.pt``).
* ``"cmu-coco"`` / ``"cmu-coco-pth"``: CMU's original COCO model, the exact paper network
  (Fig. 3), as the Caffe file ``pose_iter_440000.caffemodel`` or its PyTorch conversion
  ``body_pose_model.pth``. Both load by Caffe layer name into ``OpenPoseNet(OpenPoseConfig.paper())``.
* ``"tfpose-mobilenet-v2-small"``: tf-pose-estimation's small COCO network (a frozen
  TensorFlow graph), read by ``openpose_edu.formats.tfgraph``.
* ``"cmu-body25"``: CMU's BODY_25 network of the 2019 paper (``pose_iter_584000.caffemodel``),
  read through OpenCV's Caffe importer into ``body25.Body25Net``.

``fetch(name)`` finds a file: first in the mirror directory ``$OPENPOSE_EDU_MIRROR``, then in
the cache ``$OPENPOSE_EDU_CACHE`` (default ``~/.cache/openpose_edu``), then by download; the
hash is checked before anything is used, and a failed download leaves nothing behind.
Checkpoints of our own training: ``save_checkpoint`` / ``load_checkpoint`` (config inside).
Files from the internet are read with ``torch.load(..., weights_only=True)``: no code runs.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import importlib
import os
import pickle
import threading
import time
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .assembly import ParsingParams
from .io import atomic_write, check_device
from .model import ModelCard, OpenPoseConfig, OpenPoseNet, PoseModel

CHECKPOINT_FORMAT = "openpose_edu/1"
# A download must finish within this many seconds (a server trickling bytes cannot hold fetch
# for hours); .part files older than this are left by a killed fetch and removed by the next.
DOWNLOAD_DEADLINE_S = 900.0
SIZE_MARGIN = 1 << 20  # bytes beyond a registered size before a download is cut off
# errno values of a failed write or rename on this machine, not of the network.
_LOCAL_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.EFBIG,
    errno.EEXIST,
    errno.ENOTEMPTY,
}
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
    trained_on: str = "COCO"  # what the network has seen: "COCO" or "synthetic scenes"

    @property
    def card(self) -> ModelCard:
        """The model card every model loaded from this entry carries (``model.card``)."""
        return ModelCard(
            name=self.name,
            trained_on=self.trained_on,
            licence=self.licence,
            home=self.urls[0] if self.urls else "",
        )

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
            sha256="0be7f3e05343fc6269010dd38ace23d892969ce70d7f33c6ef8ce5c9afd14958",  # checked on load
            licence="MIT (trained by this package on synthetic scenes)",
            attribution="openpose_edu, trained with openpose_edu.train (see checkpoints/ model card)",
            loader="openpose_edu.weights:load_checkpoint_model",
            description="small network of the paper's family trained on synthetic.py's scenes",
            path=BUNDLED_PATH,
            trained_on="synthetic scenes only (openpose_edu.synthetic; it has never seen a photo)",
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
            loader="openpose_edu.formats.tfgraph:load_tfgraph",
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


class _LocalWriteError(OSError):
    """Writing the downloaded bytes failed here (disk full, read-only), not on the network."""


def _download(
    url: str, f: Any, spec: WeightSpec, progress: bool, timeout: float = 30.0, deadline: float | None = None
) -> None:
    """Stream ``url`` into the open file ``f`` (a temporary file) with a tqdm bar, checking its hash.

    Stops at the registered size (+ ``SIZE_MARGIN``) and at ``deadline`` seconds overall
    (default ``DOWNLOAD_DEADLINE_S``). Raises ValueError for wrong content (hash, size; naming
    expected and actual), _LocalWriteError when the file cannot be written, and
    OSError/URLError/TimeoutError on network failures; the caller deletes the temporary file.
    """
    deadline = DOWNLOAD_DEADLINE_S if deadline is None else deadline
    t_end = time.monotonic() + deadline
    limit = spec.size + SIZE_MARGIN if spec.size else None
    h = hashlib.new(spec.algorithm)
    request = urllib.request.Request(url, headers={"User-Agent": "openpose_edu"})
    with urllib.request.urlopen(request, timeout=min(timeout, deadline)) as response:
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if limit is not None and length is not None and length > limit:
            raise ValueError(
                f"{spec.filename} at {url} is {length:,} bytes, expected {spec.size:,}; not downloaded"
            )
        received = 0
        with tqdm(
            total=length or spec.size, unit="B", unit_scale=True, desc=spec.filename, disable=not progress
        ) as bar:
            # read1: what has arrived (up to 64 KiB), so a trickling server meets the deadline check
            read = getattr(response, "read1", response.read)
            for block in iter(lambda: read(1 << 16), b""):
                received += len(block)
                if limit is not None and received > limit:
                    raise ValueError(
                        f"{spec.filename} from {url}: more than {limit:,} bytes, expected {spec.size:,}; "
                        "download stopped and discarded"
                    )
                if time.monotonic() > t_end:
                    raise TimeoutError(
                        f"{url}: not finished after {deadline:.0f} s ({received:,} bytes received); "
                        "the server is too slow"
                    )
                try:
                    f.write(block)
                except OSError as e:
                    raise _LocalWriteError(e.errno, e.strerror) from e
                h.update(block)
                bar.update(len(block))
    if length is not None and received != length:  # urllib returns a cut body without complaint
        raise ConnectionError(f"{url}: connection closed after {received:,} of {length:,} bytes")
    actual = h.hexdigest()
    if spec.digest is not None and actual != spec.digest.lower():
        raise ValueError(
            f"{spec.filename} downloaded from {url} has {spec.algorithm} {actual} ({received:,} bytes), "
            f"expected {spec.digest}" + (f" ({spec.size:,} bytes)" if spec.size else "") + "; file discarded"
        )


def _clean_stale_parts(folder: Path, filename: str, older_than: float) -> None:
    """Remove ``.<filename>.*.part`` files a killed fetch left (none can still be written to)."""
    now = time.time()
    for part in folder.glob(f".{filename}.*.part"):
        try:
            if now - part.stat().st_mtime > older_than:
                part.unlink()
        except OSError:
            pass


def fetch(name: str, progress: bool = True, deadline: float | None = None) -> Path:
    """Path of the registered file ``name``: mirror, then cache, then download (hash-checked).

    1. ``$OPENPOSE_EDU_MIRROR/<filename>`` if it exists (must match the hash; never modified).
    2. ``<cache_dir()>/<filename>`` if it exists and matches (a mismatching one is replaced).
    3. Each URL in turn, streamed to a temporary file in the cache directory, hash-checked, then
       renamed into place (atomic), so no half-written or wrong file is ever left under the name.
       Each download has ``deadline`` seconds (default ``DOWNLOAD_DEADLINE_S``) and stops at the
       registered size; ``.part`` files of killed fetches are removed first.
    """
    spec = _spec(name)
    if spec.path is not None:  # ships with the package
        if not spec.path.is_file():
            raise FileNotFoundError(
                f"the {name!r} checkpoint is missing at {spec.path}; it is made by the training "
                "helper (python -m openpose_edu.train) and ships with the package. Reinstall the "
                "package, or pass another registered name: " + ", ".join(sorted(set(REGISTRY) - {name}))
            )
        ok, actual = _matches(spec, spec.path)
        if not ok:
            raise ValueError(
                f"the {name!r} checkpoint {spec.path} is damaged: sha256 {actual}, expected {spec.digest}; "
                "reinstall the package (pip install --force-reinstall openpose_edu) or restore the file"
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
    if target.exists() and not target.is_file():
        raise IsADirectoryError(
            f"{target} is a directory (or not a regular file), where the download of {name!r} belongs; "
            "remove it or set OPENPOSE_EDU_CACHE to another folder"
        )
    if target.is_file():
        ok, _ = _matches(spec, target)
        if ok:
            return target
        target.unlink()  # a corrupted or outdated cache entry: fetch it again

    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(
            e.errno, f"cannot create the cache folder {cache} ({e.strerror}); set OPENPOSE_EDU_CACHE"
        ) from None
    _clean_stale_parts(cache, spec.filename, DOWNLOAD_DEADLINE_S if deadline is None else deadline)
    failures: list[str] = []
    wrong_content = False
    for url in spec.urls:
        try:
            with atomic_write(target) as f:  # a temporary file renamed into place: complete or absent
                _download(url, f, spec, progress, deadline=deadline)
            return target
        except ValueError as e:  # wrong content: try the next URL, report if none is right
            failures.append(str(e))
            wrong_content = True
        except (OSError, http.client.HTTPException) as e:  # URLError, timeouts, cut connections
            if (
                isinstance(e, OSError)
                and e.errno in _LOCAL_ERRNOS
                and not isinstance(e, urllib.error.URLError)
            ):
                raise OSError(
                    e.errno,
                    f"cannot write the download of {name!r} to {cache} ({e.strerror or e}); "
                    "free disk space or set OPENPOSE_EDU_CACHE to a writable folder with room",
                ) from None
            failures.append(str(e) if url in str(e) else f"{url}: {e}")
    where = f"$OPENPOSE_EDU_MIRROR/{spec.filename}" + (f" (= {mirror / spec.filename})" if mirror else "")
    # A wrong file is a content problem (ValueError); otherwise the network failed.
    raise (ValueError if wrong_content else ConnectionError)(
        f"could not get {spec.filename!r} for {name!r}:\n  "
        + "\n  ".join(failures or ["no download URL registered"])
        + f"\nDownload it yourself from {spec.urls[0] if spec.urls else '(no URL)'} "
        f"({spec.algorithm} {spec.digest}) and put it at {target} or at {where}."
    )


def _torch_load(path: str | Path, what: str) -> Any:
    """``torch.load(weights_only=True)`` with one clear line for a file that is not a PyTorch file.

    Truncated, empty and random files, and files holding objects (code) rather than tensors and
    plain data, raise ValueError naming the file and what to do. (Torch's own message for the
    last case advises weights_only=False, which would let a file from the internet run code.)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file ({what})")
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{path}: the file is empty (0 bytes), not {what}; download or export it again")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError(
            f"{path}: holds Python objects that are not tensors or plain data, so it is not loaded "
            f"(no code from a weights file runs); it is not {what}. Use a file made by save_checkpoint "
            "or a plain state dict"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, KeyError, IndexError, OSError) as e:
        first = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise ValueError(
            f"{path}: not a readable PyTorch file ({size:,} bytes; {first}): truncated, corrupt or "
            f"not {what}; download or export it again"
        ) from None


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
    path: str | Path,
    device: str | torch.device = "cpu",
    config: OpenPoseConfig | None = None,
    card: ModelCard | None = None,
) -> OpenPoseNet:
    """The ``body_pose_model.pth`` layout (a state dict with Caffe layer names) -> OpenPoseNet, eval mode.

    ``config`` defaults to the paper network (Fig. 3); ``weights_only=True``: no code in the file runs.
    """
    state = _torch_load(path, "a PyTorch state dict (body_pose_model.pth)")
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(
            f"{path} is not a state dict of tensors (got {type(state).__name__}); "
            "for an openpose_edu checkpoint use load_checkpoint"
        )
    model = OpenPoseNet(config or OpenPoseConfig.paper(), card=card or REGISTRY["cmu-coco-pth"].card)
    load_caffe_named(model, state, source=str(path))
    return model.to(device).eval()


def load_caffemodel(
    path: str | Path,
    device: str | torch.device = "cpu",
    config: OpenPoseConfig | None = None,
    card: ModelCard | None = None,
) -> OpenPoseNet:
    """A Caffe ``.caffemodel`` (read by OpenCV's dnn importer) -> OpenPoseNet, eval mode.

    The network description is our prototxt for ``config`` (default: the paper network, i.e.
    CMU's pose_deploy_linevec.prototxt); each convolution's blobs are weight
    (C_out, C_in, k, k) and bias (C_out,).
    """
    from .formats.caffe import caffemodel_layer_names, read_caffemodel  # cv2 only when a caffemodel is read

    config = config or OpenPoseConfig.paper()
    data = Path(path).read_bytes()
    if not data:
        raise ValueError(f"{path}: the file is empty (0 bytes), not a Caffe model; download it again")
    try:
        blobs = read_caffemodel(data, config)
        names = caffemodel_layer_names(data)
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError, cv2.error: the file is not a caffemodel
        first = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise ValueError(
            f"{path}: not a Caffe .caffemodel ({type(e).__name__}: {first}); truncated, corrupt or "
            "another kind of file; download it again (weights.fetch checks its hash)"
        ) from None
    model = OpenPoseNet(config, card=card or REGISTRY["cmu-coco"].card)
    missing = [name for name, b in blobs.items() if len(b) < 2]
    unexpected = [name for name in names if name not in blobs]
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
    with atomic_write(path) as f:
        torch.save(payload, f)
    return path


def card_from_checkpoint(extra: Mapping[str, Any], base: ModelCard) -> ModelCard:
    """The model card of one of our checkpoints: ``base`` (the registry's, or the file's name)
    with what the file's ``meta`` says: parser thresholds, target widths, training data."""
    meta = extra.get("meta", {}) or {}
    widths = {**extra.get("train_config", {}), **meta}
    parsing = meta.get("parsing")
    return replace(
        base,
        trained_on=meta.get("trained_on", base.trained_on),
        parsing=ParsingParams.from_dict(parsing) if parsing is not None else None,
        sigma=widths.get("sigma"),
        limb_width=widths.get("limb_width"),
    )


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu", card: ModelCard | None = None
) -> tuple[OpenPoseNet, dict[str, Any]]:
    """A checkpoint from ``save_checkpoint`` -> (OpenPoseNet in eval mode on ``device``, extras).

    The config travels inside the file, so any member of the family loads without arguments.
    When the file's ``meta["parsing"]`` names parser thresholds chosen for this network, the
    model's card carries them (``model.card.parsing``, a ``ParsingParams``), which ``estimate``
    and ``evaluate`` then use unless given others; so do the target widths (``card.sigma``,
    ``card.limb_width``). ``card``: the registry's card to start from (default: the file's name,
    trained on synthetic scenes).
    """
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"checkpoint not found: {path} (a training run writes out_dir/last.pt and step_XXXXXX.pt)"
        )
    payload = _torch_load(path, "an openpose_edu checkpoint")
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(
            f"{path} is not an openpose_edu checkpoint (format {got!r}, expected {CHECKPOINT_FORMAT!r}); "
            "for CMU's body_pose_model.pth use load_pth, for a .caffemodel load_caffemodel"
        )
    missing = [k for k in ("config", "state_dict") if not isinstance(payload.get(k), dict)]
    if missing:
        raise ValueError(
            f"{path}: an openpose_edu checkpoint without {' and '.join(repr(k) for k in missing)}; "
            "it was not written by save_checkpoint or was edited; use last.pt or step_XXXXXX.pt of a run"
        )
    body25 = payload["config"].get("architecture") == "body25"  # the 2019 network (body25.py)
    try:
        if body25:
            from .body25 import Body25Config, Body25Net

            config = Body25Config.from_dict(payload["config"])
        else:
            config = OpenPoseConfig.from_dict(payload["config"])
    except (TypeError, ValueError, KeyError) as e:
        raise ValueError(f"{path}: the checkpoint's config is not a valid OpenPoseConfig ({e})") from None
    extra = {k: v for k, v in payload.items() if k not in ("format", "config", "state_dict")}
    base = card or ModelCard(name=Path(path).name, trained_on="synthetic scenes (openpose_edu.synthetic)")
    net_class = Body25Net if body25 else OpenPoseNet
    model = net_class(config, card=card_from_checkpoint(extra, base))
    _check_and_load(model, payload["state_dict"], source=str(path))
    return model.to(device).eval(), extra


def load_checkpoint_model(
    path: str | Path, device: str | torch.device = "cpu", card: ModelCard | None = None
) -> OpenPoseNet:
    """``load_checkpoint`` without the extras (the registry's loader for our own checkpoints)."""
    return load_checkpoint(path, device, card=card)[0]


def _loader_for_path(path: Path) -> str:
    suffix = path.suffix.lower()
    loaders = {
        ".caffemodel": "openpose_edu.weights:load_caffemodel",
        ".pth": "openpose_edu.weights:load_pth",
        ".pt": "openpose_edu.weights:load_checkpoint_model",
        ".pb": "openpose_edu.formats.tfgraph:load_tfgraph",
    }
    if suffix not in loaders:
        raise ValueError(f"do not know how to load {path} (suffix {suffix!r}); known: {sorted(loaders)}")
    return loaders[suffix]


_MODELS: dict[tuple, nn.Module] = {}  # load_model's cache: (name or file identity, device) -> model
_MODELS_LOCK = threading.Lock()


def _cache_key(name: str | Path, device: str | torch.device) -> tuple:
    """A registry entry is known by its spec; a file by its path, size and modification time."""
    dev = str(torch.device(device))
    if isinstance(name, str) and name in REGISTRY:
        return (REGISTRY[name], dev)
    stat = Path(name).resolve().stat()
    return (str(Path(name).resolve()), stat.st_size, stat.st_mtime_ns, dev)


def load_model(
    name: str | Path | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    cache: bool = True,
) -> PoseModel:
    """A ready model in eval mode: a registry name (None -> "bundled") or a weights file path.

    Every model returned satisfies ``model.PoseModel``: ``.input_spec``, ``.stride``,
    ``.n_stages``, ``.card`` (what it is and what it was trained on) and
    ``forward(x, n_stages=None) -> NetworkOutput`` (F and every stage's S^t, L^t; Fig. 3).
    Registered names: ``REGISTRY`` (bundled, cmu-coco, cmu-coco-pth, tfpose-mobilenet-v2-small).
    The default, ``"bundled"``, works offline but knows **synthetic scenes only**: for photos use
    ``"tfpose-mobilenet-v2-small"`` (a real COCO network, 2 MB, downloaded once).
    Models are cached per (name, device): a second call returns the same object without
    reading the file again (``cache=False`` loads a fresh copy, e.g. to train it).
    """
    check_device(device)
    name = "bundled" if name is None else name
    if isinstance(name, str) and name in REGISTRY:
        spec = REGISTRY[name]
        loader, card = spec.loader, spec.card
        locate = lambda: fetch(name, progress=progress)  # noqa: E731
    elif Path(name).is_file():
        loader, card = _loader_for_path(Path(name)), None
        locate = lambda: Path(name)  # noqa: E731
    else:
        raise ValueError(
            f"{str(name)!r} is neither a registered name {sorted(REGISTRY)} nor an existing file"
        )
    key = _cache_key(name, device)
    with _MODELS_LOCK:
        if cache and key in _MODELS:
            return _MODELS[key]
    module_name, func = loader.split(":")
    load = getattr(importlib.import_module(module_name), func)
    model = (load(locate(), device) if card is None else load(locate(), device, card=card)).eval()
    if cache:
        with _MODELS_LOCK:
            model = _MODELS.setdefault(key, model)
    return model
