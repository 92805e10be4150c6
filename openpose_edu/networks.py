"""The two network families and their configs' dict form, in one table.

``OpenPoseConfig`` (CVPR 2017, ``model.py``) and ``Body25Config`` (TPAMI 2019, ``body25.py``)
each build their network (``config.build()``), describe its outputs (``config.output_spec()``),
list their Caffe layers and write their dict form (``to_dict``). A checkpoint or a JSON file
names its family by the dict's ``"architecture"`` (absent: the 2017 network, whose dicts
predate the tag); ``config_from_dict`` looks it up here.
"""

from __future__ import annotations

from typing import Any

from .body25 import Body25Config
from .model import OpenPoseConfig

FAMILIES: dict[str, Any] = {cls.ARCHITECTURE: cls for cls in (OpenPoseConfig, Body25Config)}


def config_from_dict(d: dict) -> OpenPoseConfig | Body25Config:
    """A config of either family from its ``to_dict``: ``d["architecture"]`` picks the family."""
    name = d.get("architecture", OpenPoseConfig.ARCHITECTURE)
    if name not in FAMILIES:
        raise ValueError(f"unknown architecture {name!r}; known: {sorted(FAMILIES)}")
    return FAMILIES[name].from_dict(d)
