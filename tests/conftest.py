"""Shared test set-up: the weights mirror, seeds, and the cuda marker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_WEIGHTS = ROOT.parent / "shared" / "weights"

# The real published weights are mirrored beside the project (never committed). Point the
# package at them unless the caller already chose a mirror; notebook kernels inherit this.
if "OPENPOSE_EDU_MIRROR" not in os.environ and SHARED_WEIGHTS.is_dir():
    os.environ["OPENPOSE_EDU_MIRROR"] = str(SHARED_WEIGHTS)
os.environ.setdefault("MPLBACKEND", "Agg")

# Under pytest-xdist (`-n 2` on 2 cores) every worker gets one thread: two workers with two
# OpenMP threads each oversubscribe the cores and small ops get 10-50x slower. Notebook
# kernels started by nbval inherit OMP_NUM_THREADS.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


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
