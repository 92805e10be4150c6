"""Parsing speed: peaks + limb scores + matching + grouping vs the number of people.

    .venv/bin/python benchmarks/parsing.py [--people 1 5 10 20 40] [--size 368 656] [--repeat 5]

Perfect maps (ground-truth S*, L* at stride 8, upsampled like network output by
inference.resize_maps) of n people at 368 x 656 (the paper's runtime setting: 1080p frames
resized to 368 x 654). ``assembly.parse`` (vectorized) beside ``loop_parse``, a
straightforward implementation of the same algorithm written here the way the reference
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
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openpose_edu.assembly import ParsingParams, find_peaks, parse  # noqa: E402
from openpose_edu.skeleton import COCO18, LIMBS, N_PARTS, REDUNDANT_LIMBS, Skeleton  # noqa: E402

# --------------------------------------------------------------------------------------------
# The loop baseline: the reference demo's algorithm, in its style, with assembly's three fixes
# --------------------------------------------------------------------------------------------


def _smooth(m: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter  # what the demo uses

    return gaussian_filter(m, sigma=sigma)


def loop_parse(S: np.ndarray, L: np.ndarray, params: ParsingParams | None = None) -> np.ndarray:
    """The same parse as assembly.parse, loop by loop; returns keypoints (P, 18, 3)."""
    p = params or ParsingParams()
    H = S.shape[1]
    # Peaks, part by part (the demo's shifted copies).
    all_peaks = []
    peak_counter = 0
    for part in range(N_PARTS):
        map_ori = S[part]
        m = _smooth(map_ori, p.smooth_sigma) if p.smooth_sigma else map_ori
        binary = m > p.peak_threshold
        neighbours = [(0, 1), (0, -1), (1, 0), (-1, 0)]
        if p.peak_neighbours == 8:
            neighbours += [(1, 1), (1, -1), (-1, 1), (-1, -1)]
        for dy, dx in neighbours:
            shifted = np.zeros(m.shape, dtype=m.dtype)  # shifted[y, x] = m[y + dy, x + dx], 0 outside
            ys_dst = slice(max(-dy, 0), m.shape[0] - max(dy, 0))
            xs_dst = slice(max(-dx, 0), m.shape[1] - max(dx, 0))
            ys_src = slice(max(dy, 0), m.shape[0] - max(-dy, 0))
            xs_src = slice(max(dx, 0), m.shape[1] - max(-dx, 0))
            shifted[ys_dst, xs_dst] = m[ys_src, xs_src]
            binary &= m >= shifted
        ys, xs = np.nonzero(binary)
        peaks = [
            (int(x), int(y), float(map_ori[y, x]), peak_counter + i) for i, (x, y) in enumerate(zip(xs, ys))
        ]
        peak_counter += len(peaks)
        all_peaks.append(peaks)
    candidate = [pk for peaks in all_peaks for pk in peaks]

    # Limb scores and greedy matching, pair by pair.
    connection_all = []
    for limb in LIMBS:
        candA, candB = all_peaks[limb.a], all_peaks[limb.b]
        scored = []
        for i, a in enumerate(candA):
            for j, b in enumerate(candB):
                vec = (b[0] - a[0], b[1] - a[1])
                norm = max(math.sqrt(vec[0] ** 2 + vec[1] ** 2), 1e-3)
                unit = (vec[0] / norm, vec[1] / norm)
                xs = np.linspace(a[0], b[0], num=p.n_samples)
                ys = np.linspace(a[1], b[1], num=p.n_samples)
                along = [
                    L[limb.paf_x, int(round(y)), int(round(x))] * unit[0]
                    + L[limb.paf_y, int(round(y)), int(round(x))] * unit[1]
                    for x, y in zip(xs, ys)
                ]
                prior = min(p.distance_prior * H / norm - 1, 0) if p.distance_prior else 0.0
                score = sum(float(v) for v in along) / len(along) + prior
                above = sum(1 for v in along if v > p.paf_threshold)
                if above > p.min_above_fraction * len(along) and score > 0:
                    scored.append((i, j, score))
        scored.sort(key=lambda c: c[2], reverse=True)
        connections = []
        used_a, used_b = [], []
        for i, j, s in scored:
            if len(connections) >= min(len(candA), len(candB)):
                break
            if i not in used_a and j not in used_b:
                connections.append((candA[i][3], candB[j][3], s))
                used_a.append(i)
                used_b.append(j)
        connection_all.append(connections)

    # Grouping: scan every person for every connection (the demo's subset rows).
    rows: list[list[int]] = []
    totals: list[float] = []
    counts: list[int] = []
    for limb, connections in zip(LIMBS, connection_all):
        for a, b, s in connections:
            found = [r for r in range(len(rows)) if rows[r][limb.a] == a or rows[r][limb.b] == b]
            if not found:
                if limb.index not in REDUNDANT_LIMBS:
                    row = [-1] * N_PARTS
                    row[limb.a], row[limb.b] = a, b
                    rows.append(row)
                    totals.append(candidate[a][2] + candidate[b][2] + s)
                    counts.append(2)
            elif len(found) == 1:
                r = found[0]
                new, slot = (b, limb.b) if rows[r][limb.a] == a else (a, limb.a)
                if rows[r][slot] == -1:
                    rows[r][slot] = new
                    totals[r] += candidate[new][2] + s
                    counts[r] += 1
            else:
                j1, j2 = found
                if not any(x >= 0 and y >= 0 for x, y in zip(rows[j1], rows[j2])):
                    rows[j1] = [x if x >= 0 else y for x, y in zip(rows[j1], rows[j2])]
                    totals[j1] += totals[j2] + s
                    counts[j1] += counts[j2]
                    del rows[j2], totals[j2], counts[j2]
    people = []
    for row, total, count in zip(rows, totals, counts):
        if count >= p.min_parts and total / count >= p.min_mean_score:
            kp = np.zeros((N_PARTS, 3), dtype=np.float32)
            for part, cid in enumerate(row):
                if cid >= 0:
                    kp[part] = candidate[cid][:3]
            people.append(kp)
    return np.array(people, dtype=np.float32).reshape(-1, N_PARTS, 3)


# --------------------------------------------------------------------------------------------
# Scenes: n people standing in a grid of 4 rows x 10 columns
# --------------------------------------------------------------------------------------------

# A standing person, height 1, neck at the origin, x right, y down.
TEMPLATE = np.array(
    [
        (0.0, -0.16), (0.0, 0.0), (-0.12, 0.0), (-0.17, 0.18), (-0.2, 0.36), (0.12, 0.0),
        (0.17, 0.18), (0.2, 0.36), (-0.07, 0.38), (-0.09, 0.6), (-0.09, 0.82), (0.07, 0.38),
        (0.09, 0.6), (0.09, 0.82), (-0.06, -0.23), (0.06, -0.23), (-0.14, -0.19), (0.14, -0.19),
    ]
)  # fmt: skip


def crowd(n: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Keypoints (n, 18, 3) [x, y, v=2] of n people in distinct cells of a 4 x 10 grid."""
    H, W = size
    rows, cols = 4, 10
    if n > rows * cols:
        raise ValueError(f"at most {rows * cols} people fit, asked for {n}")
    rng = np.random.default_rng(seed)
    cells = rng.choice(rows * cols, size=n, replace=False)
    height = 0.9 * H / rows
    out = np.zeros((n, N_PARTS, 3))
    for k, c in enumerate(cells):
        r, q = divmod(int(c), cols)
        centre = np.array([(q + 0.5) * W / cols, (r + 0.25) * H / rows + 0.23 * height])
        pts = TEMPLATE * height * rng.uniform(0.9, 1.0) + rng.normal(0, 0.02 * height, TEMPLATE.shape)
        out[k, :, :2] = pts + centre
        out[k, :, 2] = 2
    return out


def perfect_maps(
    keypoints: np.ndarray, size: tuple[int, int], variant: str = "released", skeleton: Skeleton = COCO18
) -> tuple:
    """Ground-truth S*, L* on the stride-8 grid, upsampled to the image like network output.

    keypoints (P, J, 3) in image pixels -> S (J + 1, H, W), L (2 C, H, W) float32 numpy:
    (19, H, W) and (38, H, W) for COCO18, (26, H, W) and (52, H, W) for BODY25.
    """
    import torch

    from openpose_edu import groundtruth
    from openpose_edu.inference import Padding, resize_maps

    H, W = size
    grid = (math.ceil(H / 8), math.ceil(W / 8))
    kp = keypoints if len(keypoints) else np.zeros((1, skeleton.n_parts, 3))
    S = groundtruth.confidence_maps(kp, grid, variant=variant, skeleton=skeleton)  # (1, J + 1, h, w)
    L = groundtruth.part_affinity_fields(kp, grid, variant=variant, skeleton=skeleton)  # (1, 2 C, h, w)
    padding = Padding(
        image_size=(H, W), resized_size=(H, W), padded_size=(grid[0] * 8, grid[1] * 8), factor=1.0
    )
    maps = resize_maps(torch.cat([S, L], dim=1), padding)[0].numpy()  # (J + 1 + 2 C, H, W)
    return maps[: skeleton.n_heatmaps], maps[skeleton.n_heatmaps :]


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
