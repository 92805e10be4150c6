"""Parsing speed: peaks + limb scores + matching + grouping vs the number of people.

    .venv/bin/python benchmarks/parsing.py [--people 1 5 10 20 40] [--size 368 656] [--repeat 5]

Perfect maps (ground-truth S*, L* at stride 8, upsampled like network output by
inference.resize_maps) of n people at 368 x 656 (the paper's runtime setting: 1080p frames
resized to 368 x 654). ``assembly.parse`` (vectorized) beside ``loop_parse``, a
straightforward implementation of the same algorithm (benchmarks/references.py) written the way the reference
Python demo is written (per-part peak loops, per-candidate-pair Python loops for the line
integral, list scans for matching and grouping). Both must find the same people; the script
says so for every n and prints times and the ratio, with the demo's default Gaussian
smoothing of the maps (sigma 3; the loop smooths whole maps with scipy as the demo does,
ours smooths only boxes around the parts, with the same peaks) and without it (OpenPose's
C++ parser does not smooth). The paper: 0.58 ms for 9 people (C++).

``loop_parse`` is also the reference the tests check ``assembly.parse`` against.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.references import crowd, loop_parse, perfect_maps  # noqa: E402
from openpose_edu.assembly import ParsingParams, find_peaks, parse  # noqa: E402


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, nargs="+", default=[1, 5, 10, 20, 40])
    ap.add_argument("--size", type=int, nargs=2, default=[368, 656], metavar=("H", "W"))
    ap.add_argument("--repeat", type=int, default=5, help="runs of ours per n (best kept); the loop runs 2")
    args = ap.parse_args(argv)
    size = (args.size[0], args.size[1])
    import torch

    print(
        f"parsing perfect maps at {size[0]}x{size[1]}, numpy {np.__version__}, "
        f"torch threads {torch.get_num_threads()}; times are the best of several runs"
    )
    configs = {
        "demo defaults (sigma 3 smoothing)": ParsingParams(),
        "no smoothing (OpenPose C++)": ParsingParams(smooth_sigma=None),
    }
    all_same = True
    for title, params in configs.items():
        print(f"\n{title}")
        print(
            f"{'people':>6} {'found':>5} {'peaks':>5} {'ours ms':>9} {'(peaks ms)':>10} {'loop ms':>9} "
            f"{'ratio':>7}  same people"
        )
        for n in args.people:
            S, L = perfect_maps(crowd(n, size, seed=n), size)
            ours = parse(S, L, params)
            base = loop_parse(S, L, params)
            same = ours.keypoints.shape == base.shape and np.allclose(ours.keypoints, base, atol=1e-4)
            all_same &= same
            t_ours = _best(lambda: parse(S, L, params), args.repeat)  # noqa: B023
            t_peaks = _best(lambda: find_peaks(S, params), args.repeat)  # noqa: B023
            t_loop = _best(lambda: loop_parse(S, L, params), 2)  # noqa: B023
            print(
                f"{n:>6} {len(ours):>5} {len(ours.steps.peaks):>5} {1e3 * t_ours:>9.2f} "
                f"{1e3 * t_peaks:>10.2f} {1e3 * t_loop:>9.1f} {t_loop / t_ours:>6.1f}x  "
                f"{'yes' if same else 'NO'}"
            )
    print("\npaper (C++, GTX-1080 laptop): 0.58 ms parsing for 9 people")
    return 0 if all_same else 1


if __name__ == "__main__":
    sys.exit(main())
