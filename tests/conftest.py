"""Shared test set-up: the weights mirror, seeds, and the cuda marker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]  # the mirror and thread set-up live in ../conftest.py


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def mirror_dir() -> Path:
    path = os.environ.get("OPENPOSE_EDU_MIRROR")
    if not path or not Path(path).is_dir():
        pytest.skip("no weights mirror (set OPENPOSE_EDU_MIRROR or place ../shared/weights)")
    return Path(path)
