"""Issue 22, defect 1: memory is bounded for any image size.

A 1x5000 strip, a 6000x4000 (24-megapixel) photo and a 16000x16000 image each go through
``estimate`` with the bundled model in a fresh subprocess, which reports its peak resident set
size (``VmHWM`` of /proc/self/status). The bounds:

* the strip is refused by ``inference.MAX_INPUT_SIDE`` with a clear message, before any work;
* the others give a result, with a peak of at most **1.5 GB** for the whole process (the
  16000x16000x3 input alone is 768 MB), of which at most **300 MB** beyond the process with its
  image already in memory: estimate's own work does not grow with the image, because the network
  input is resized to ``box_size`` rows and the maps are parsed on a grid no larger than that.

Before issue 22 (and "one path from image to people") the 1x5000 strip and the 16000x16000
image ran out of memory with no message and a 24-megapixel photo peaked at 11 GB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PEAK_BOUND_MB = 1536  # the whole process
WORK_BOUND_MB = 300  # estimate's own allocations, beyond the input image

SCRIPT = """
import json, resource, sys
import numpy as np
from openpose_edu import estimate, load_model

def rss_mb():
    # VmHWM, this process's own peak: ru_maxrss would carry over the peak of the (forked) parent
    # into the exec'd child on Linux, so a big pytest worker would read as a big child.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB

h, w = int(sys.argv[1]), int(sys.argv[2])
model = load_model("bundled")
estimate(np.zeros((64, 64, 3), np.uint8), model=model)  # warm: the first call's one-off allocations
base = rss_mb()
image = np.full((h, w, 3), 90, np.uint8)  # every page touched: the input's real cost
image[h // 3 : h // 2, w // 3 : w // 2] = 200
with_image = rss_mb()
try:
    outcome = {"people": len(estimate(image, model=model).keypoints)}
except ValueError as e:
    outcome = {"error": str(e)}
print(json.dumps({"base": base, "with_image": with_image, "peak": rss_mb(), **outcome}))
"""


def run_estimate(h: int, w: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(h), str(w)],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_1x5000_strip_is_refused_before_any_work() -> None:
    r = run_estimate(1, 5000)
    assert "over the limit of 2048 per side (inference.MAX_INPUT_SIDE)" in r["error"]
    assert "image 1x5000" in r["error"] and "crop a very wide or tall image" in r["error"]
    assert r["peak"] - r["with_image"] < 20  # refused before anything was allocated


@pytest.mark.slow
@pytest.mark.parametrize(("h", "w"), [(6000, 4000), (16000, 16000)], ids=["24MP", "16000x16000"])
def test_large_images_run_within_the_bound(h: int, w: int) -> None:
    r = run_estimate(h, w)
    assert "people" in r, r
    print(f"{h}x{w}: base {r['base']:.0f} MB, with image {r['with_image']:.0f} MB, peak {r['peak']:.0f} MB")
    assert r["peak"] <= PEAK_BOUND_MB, r
    assert r["peak"] - r["with_image"] <= WORK_BOUND_MB, r
