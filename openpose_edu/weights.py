"""Trained weights: a registry name or a file -> a ready model (``load_model``), and our checkpoints.

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

The names, their files and ``fetch(name)`` (mirror, cache, download, hash-checked) are
registry.py's, re-exported here. Checkpoints of our own training: ``save_checkpoint`` /
``load_checkpoint`` (config inside). Files from the internet are read with
``torch.load(..., weights_only=True)``: no code runs.
"""

from __future__ import annotations

import importlib
import pickle
import threading
import zipfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .assembly import ParsingParams
from .formats.caffe import caffemodel_layer_names, read_caffemodel
from .io import atomic_write, check_device
from .model import ModelCard, OpenPoseConfig, OpenPoseNet, PoseModel, load_state_checked
from .networks import config_from_dict
from .registry import (
    BUNDLED_PATH,
    DOWNLOAD_DEADLINE_S,
    REGISTRY,
    SIZE_MARGIN,
    WeightSpec,
    cache_dir,
    fetch,
    file_digest,
    mirror_dir,
    weight_spec,
)

CHECKPOINT_FORMAT = "openpose_edu/1"

__all__ = [
    "BUNDLED_PATH",
    "CHECKPOINT_FORMAT",
    "DOWNLOAD_DEADLINE_S",
    "REGISTRY",
    "SIZE_MARGIN",
    "WeightSpec",
    "cache_dir",
    "card_from_checkpoint",
    "fetch",
    "file_digest",
    "load_caffe_named",
    "load_caffemodel",
    "load_checkpoint",
    "load_checkpoint_model",
    "load_model",
    "load_pth",
    "mirror_dir",
    "save_checkpoint",
    "weight_spec",
]


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
    return load_state_checked(model, renamed, source)  # type: ignore[return-value]


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
    try:
        config = config_from_dict(payload["config"])  # either family (networks.FAMILIES)
    except (TypeError, ValueError, KeyError) as e:
        raise ValueError(f"{path}: the checkpoint's config is not a valid network config ({e})") from None
    extra = {k: v for k, v in payload.items() if k not in ("format", "config", "state_dict")}
    base = card or ModelCard(name=Path(path).name, trained_on="synthetic scenes (openpose_edu.synthetic)")
    model = config.build(card=card_from_checkpoint(extra, base))
    load_state_checked(model, payload["state_dict"], source=str(path))
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


# Photos need a network that has seen photos: the small real COCO network (2 MB, downloaded
# once) is the command line's default, for images and videos alike; the bundled model knows
# synthetic scenes only.
DEFAULT_MODEL = "tfpose-mobilenet-v2-small"


def load_cli_model(name: str | None, device: str) -> Any:
    """A registry name (None: ``DEFAULT_MODEL``) or the path of a weights file -> model (eval mode)."""
    if name is not None and not name.strip():
        raise ValueError("--model is empty; give a registry name or a weights file, or leave --model out")
    return load_model(name or DEFAULT_MODEL, device=device)


def cli_model_error(name: str | None, error: BaseException) -> str:
    """The command lines' one line for a model ``load_cli_model(name, ...)`` could not load: the
    error's first line, and for the default model (``name`` None) the offline way out."""
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    hint = " (offline? '--model bundled' works without a download, on synthetic scenes only)"
    shown = DEFAULT_MODEL if name is None else name
    return f"error: cannot load model {shown!r}: {first}{hint if name is None else ''}"
