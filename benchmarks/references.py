"""The loop references the tests check the library against and the benchmarks time it beside.

Written as plainly as the paper, caffe_train and the reference Python demo state them: per-pixel
loops for the training targets (``reference_confidence_maps``, ``reference_part_affinity_fields``,
``reference_loss_mask``: Eq. 6-9 and W(p)), per-candidate loops for parsing (``loop_parse``:
Eq. 10-14 and the grouping, in the demo's style). One definition: tests/test_groundtruth.py
and tests/test_assembly.py import them from here (``from benchmarks import references``), and
benchmarks/groundtruth.py and benchmarks/parsing.py time the library against them. Also the
inputs both need: ``make_batch`` (keypoints like a training batch), ``crowd`` and
``perfect_maps`` (people standing in a grid, their ground-truth maps as network output).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.ndimage import gaussian_filter  # what the demo uses

from openpose_edu import groundtruth as gt
from openpose_edu.assembly import ParsingParams
from openpose_edu.inference import Padding, resize_maps
from openpose_edu.skeleton import COCO18, LIMBS, N_HEATMAPS, N_PAFS, N_PARTS, REDUNDANT_LIMBS, Skeleton

# --------------------------------------------------------------------------------------------
# Per-pixel loop references (one image: keypoints (P, 18, 3) numpy, x, y in input pixels)
# --------------------------------------------------------------------------------------------


def c_round(x: float) -> int:
    """C's round(): halves away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def reference_confidence_maps(
    kp: np.ndarray, grid_size: tuple[int, int], stride: int = 8, sigma: float = 7.0, variant: str = "paper"
) -> np.ndarray:
    """S* (19, h, w) float64, one grid cell and one person at a time (Eq. 6-7 / caffe_train)."""
    h, w = grid_size
    start = stride / 2 - 0.5
    S = np.zeros((N_HEATMAPS, h, w))
    for j in range(N_PARTS):
        for gy in range(h):
            for gx in range(w):
                x, y = start + stride * gx, start + stride * gy
                value = 0.0
                for person in kp:
                    if person[j, 2] <= 0:
                        continue
                    d2 = (x - person[j, 0]) ** 2 + (y - person[j, 1]) ** 2
                    if variant == "paper":
                        value = max(value, math.exp(-d2 / sigma**2))
                    else:
                        exponent = d2 / (2 * sigma**2)
                        if exponent > gt.RELEASED_CUTOFF:
                            continue
                        value = min(value + math.exp(-exponent), 1.0)
                S[j, gy, gx] = value
    for gy in range(h):
        for gx in range(w):
            S[N_PARTS, gy, gx] = max(1.0 - max(S[j, gy, gx] for j in range(N_PARTS)), 0.0)
    return S


def reference_part_affinity_fields(
    kp: np.ndarray,
    grid_size: tuple[int, int],
    stride: int = 8,
    limb_width: float = gt.DEFAULT_LIMB_WIDTH,
    variant: str = "paper",
    tol: float = 0.0,
) -> np.ndarray:
    """L* (38, h, w) float64, one grid cell and one person at a time (Eq. 8-9 / caffe_train).

    Cells within ``tol`` (input pixels; grid cells for "released") of a limb's edge may go
    either way in float32: with tol > 0 they are NaN (compare the others only).
    """
    h, w = grid_size
    L = np.zeros((N_PAFS, h, w))
    for limb in LIMBS:
        if variant == "paper":
            # p on limb c of person k <=> 0 <= v.(p - x_a) <= l and |v_perp.(p - x_a)| <= sigma_l;
            # the field is the mean of the covering people's unit vectors (Eq. 8-9).
            for gy in range(h):
                for gx in range(w):
                    px, py = stride / 2 - 0.5 + stride * gx, stride / 2 - 0.5 + stride * gy
                    sx = sy = 0.0
                    n = 0
                    either = False
                    for person in kp:
                        if person[limb.a, 2] <= 0 or person[limb.b, 2] <= 0:
                            continue
                        ax, ay = person[limb.a, 0], person[limb.a, 1]
                        bx, by = person[limb.b, 0], person[limb.b, 1]
                        length = math.hypot(bx - ax, by - ay)
                        if length == 0:
                            continue
                        vx, vy = (bx - ax) / length, (by - ay) / length
                        along = vx * (px - ax) + vy * (py - ay)
                        across = abs(-vy * (px - ax) + vx * (py - ay))
                        if 0 <= along <= length and across <= limb_width:
                            sx, sy, n = sx + vx, sy + vy, n + 1
                        if tol and min(abs(along), abs(along - length), abs(across - limb_width)) < tol:
                            either = True
                    if either:
                        L[[limb.paf_x, limb.paf_y], gy, gx] = np.nan
                    elif n:
                        L[limb.paf_x, gy, gx] = sx / n
                        L[limb.paf_y, gy, gx] = sy / n
            continue
        # caffe_train putVecMaps: grid units, bounding box + threshold, later people overwrite.
        thre = limb_width / stride
        either = np.zeros((h, w), bool)
        for person in kp:
            if person[limb.a, 2] <= 0 or person[limb.b, 2] <= 0:
                continue
            ax, ay = person[limb.a, 0] / stride, person[limb.a, 1] / stride
            bx, by = person[limb.b, 0] / stride, person[limb.b, 1] / stride
            norm = math.hypot(bx - ax, by - ay)
            if norm == 0:
                continue
            vx, vy = (bx - ax) / norm, (by - ay) / norm
            min_x, max_x = max(c_round(min(ax, bx) - thre), 0), min(c_round(max(ax, bx) + thre), w)
            min_y, max_y = max(c_round(min(ay, by) - thre), 0), min(c_round(max(ay, by) + thre), h)
            for gy in range(min_y, max_y):
                for gx in range(min_x, max_x):
                    dist = abs((gx - ax) * vy - (gy - ay) * vx)
                    if dist <= thre:
                        L[limb.paf_x, gy, gx] = vx
                        L[limb.paf_y, gy, gx] = vy
                    if tol and abs(dist - thre) < tol:
                        either[gy, gx] = True  # NaN even if a later person overwrites: rare
        L[[limb.paf_x, limb.paf_y]] = np.where(either, np.nan, L[[limb.paf_x, limb.paf_y]])
    return L


def reference_loss_mask(ignore: np.ndarray, grid_size: tuple[int, int], stride: int = 8) -> np.ndarray:
    """W (1, h, w) float64: 1 where at least half of the cell's pixels are annotated."""
    h, w = grid_size
    H, W = ignore.shape
    out = np.zeros((1, h, w))
    for gy in range(h):
        for gx in range(w):
            annotated = 0
            for y in range(stride * gy, stride * gy + stride):
                for x in range(stride * gx, stride * gx + stride):
                    # Pixels beyond the image count as annotated (caffe_train pads with 255).
                    annotated += 1 if (y >= H or x >= W or not ignore[y, x]) else 0
            out[0, gy, gx] = 1.0 if annotated >= stride * stride / 2 else 0.0
    return out


# --------------------------------------------------------------------------------------------
# A batch that looks like training data
# --------------------------------------------------------------------------------------------


def make_batch(n: int, people: int, crop: int = 368, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (n, people, 18, 3) and ignore masks (n, crop, crop): people ~100 px tall."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, crop, size=(n, people, 1, 2))
    scale = rng.uniform(20, 50, size=(n, people, 1, 1))
    xy = centres + scale * rng.normal(size=(n, people, N_PARTS, 2))
    v = rng.choice([0, 1, 2], p=[0.15, 0.15, 0.7], size=(n, people, N_PARTS, 1)).astype(float)
    kp = np.concatenate([xy, v], axis=-1)
    ignore = np.zeros((n, crop, crop), bool)
    for i in range(n):
        for _ in range(2):  # two unannotated people per crop, as boxes
            x, y = rng.uniform(0, crop, 2)
            ignore[i] |= gt.ignore_from_regions((crop, crop), boxes=[(x, y, 40, 90)])
    return kp, ignore


# How close to a limb's edge a cell may fall either way (input px for "paper", cells for "released").
EDGE_TOL = {"paper": 1e-3, "released": 1e-3 / 8}


# --------------------------------------------------------------------------------------------
# The loop baseline: the reference demo's algorithm, in its style, with assembly's three fixes
# --------------------------------------------------------------------------------------------


def _smooth(m: np.ndarray, sigma: float) -> np.ndarray:
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
    H, W = size
    grid = (math.ceil(H / 8), math.ceil(W / 8))
    kp = keypoints if len(keypoints) else np.zeros((1, skeleton.n_parts, 3))
    S = gt.confidence_maps(kp, grid, variant=variant, skeleton=skeleton)  # (1, J + 1, h, w)
    L = gt.part_affinity_fields(kp, grid, variant=variant, skeleton=skeleton)  # (1, 2 C, h, w)
    padding = Padding(
        image_size=(H, W), resized_size=(H, W), padded_size=(grid[0] * 8, grid[1] * 8), factor=1.0
    )
    maps = resize_maps(torch.cat([S, L], dim=1), padding)[0].numpy()  # (J + 1 + 2 C, H, W)
    return maps[: skeleton.n_heatmaps], maps[skeleton.n_heatmaps :]
