"""openpose_edu: learn OpenPose (Cao et al., CVPR 2017, arXiv 1611.08050) by running it.

The public API (docs/design.md "The public API"):

* ``load_model(name=None, device="cpu")``: a registered model (None -> the bundled one).
* ``estimate(image, model=None, params=None, scales=(1.0,), stage=None)`` -> ``Poses``.
* ``OpenPoseNet``, ``OpenPoseConfig``, ``NetworkOutput``: the network, every stage exposed.
"""

from __future__ import annotations

import importlib
from typing import Any

from .model import InputSpec, NetworkOutput, OpenPoseConfig, OpenPoseNet

__version__ = "0.1.0"

# Heavier entry points are imported on first use, so `import openpose_edu` stays fast.
_LAZY = {
    "load_model": "weights",
    "estimate": "inference",
    "Poses": "inference",
    "ParsingParams": "assembly",
}


_SUBMODULES = {
    "assembly",
    "augment",
    "coco",
    "coco_samples",
    "datasets",
    "distributed",
    "evaluate",
    "formats",
    "groundtruth",
    "inference",
    "io",
    "loss",
    "media",
    "model",
    "runtime",
    "skeleton",
    "surgery",
    "synthetic",
    "train",
    "viz",
    "weights",
    "widgets",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:  # `openpose_edu.inference` works without an explicit import
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'openpose_edu' has no attribute {name!r}")


__all__ = ["InputSpec", "NetworkOutput", "OpenPoseConfig", "OpenPoseNet", *_LAZY]
