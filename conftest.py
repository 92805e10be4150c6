"""Root pytest set-up, loaded for tests/ and notebooks/ alike (nbval kernels inherit the env)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import torch

SHARED_WEIGHTS = Path(__file__).resolve().parent.parent / "shared" / "weights"
SHARED_EXAMPLES = SHARED_WEIGHTS.parent / "examples"

# The real published weights are mirrored beside the project (never committed). Point the
# package at them unless the caller already chose a mirror; notebook kernels inherit this.
if "OPENPOSE_EDU_MIRROR" not in os.environ and SHARED_WEIGHTS.is_dir():
    os.environ["OPENPOSE_EDU_MIRROR"] = str(SHARED_WEIGHTS)
# Likewise CMU's example photos and video (openpose_edu.media), never committed either.
if "OPENPOSE_EDU_EXAMPLES" not in os.environ and SHARED_EXAMPLES.is_dir():
    os.environ["OPENPOSE_EDU_EXAMPLES"] = str(SHARED_EXAMPLES)
# Headless plots in the test process only: an MPLBACKEND variable would reach the notebook
# kernels too and stop their inline figures (nbval would then miss the stored outputs).
matplotlib.use("Agg")

# Under pytest-xdist (`-n 2` on 2 cores) every worker gets one thread: two workers with two
# OpenMP threads each oversubscribe the cores and small ops get 10-50x slower. Notebook
# kernels started by nbval inherit OMP_NUM_THREADS.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
