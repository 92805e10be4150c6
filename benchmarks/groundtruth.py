"""Benchmark: training targets (S*, L*, W) for a batch, vectorized vs a per-pixel loop.

A batch of 16 crops of 368x368 (46x46 grid, stride 8) with 10 people each, the size of the
original training batches. Our vectorized ``groundtruth.targets`` is timed beside the
straightforward per-pixel Python loops below (the definitions, written as plainly as the
paper and caffe_train state them), in the same run; the outputs are checked equal. The loop
is slow, so it runs on the first ``--loop-samples`` crops and its time is scaled to the batch
(said so in the output). On a CUDA machine the vectorized code is timed there too.

    .venv/bin/python benchmarks/groundtruth.py [--batch 16] [--people 10] [--loop-samples 1] [--threads 1]

The reference loops are also what tests/test_groundtruth.py checks the library against.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import torch

from openpose_edu import groundtruth as gt
from openpose_edu.skeleton import LIMBS, N_HEATMAPS, N_PAFS, N_PARTS

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


def check_equal(what: str, ours: np.ndarray, loop: np.ndarray, atol: float = 1e-5) -> None:
    err = np.abs(ours - loop).max()
    if not err <= atol:
        raise SystemExit(f"MISMATCH {what}: max |ours - loop| = {err:.3g}")


def _time(fn, repeat: int, sync=lambda: None) -> float:
    fn()  # warm-up
    sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--people", type=int, default=10)
    parser.add_argument("--crop", type=int, default=368)
    parser.add_argument("--loop-samples", type=int, default=1, help="crops the slow loop runs on")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch CPU threads (0: torch's default); 1 is steadier on a busy machine",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    stride = 8
    grid = (args.crop // stride, args.crop // stride)
    kp, ignore = make_batch(args.batch, args.people, args.crop)
    n_loop = min(args.loop_samples, args.batch)
    print(
        f"targets (S*, L*, W) for {args.batch} crops {args.crop}x{args.crop} (grid {grid[0]}x{grid[1]}), "
        f"{args.people} people each; torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
    )
    for variant in gt.VARIANTS:

        def ours(device: str = "cpu", variant: str = variant):
            return gt.targets(
                torch.as_tensor(kp, device=device),
                torch.as_tensor(ignore, device=device),
                grid_size=grid,
                variant=variant,
            )

        t_ours = _time(ours, args.repeat)
        S, L, W = ours()
        t_loop, n_edge = 0.0, 0
        for i in range(n_loop):
            t0 = time.perf_counter()
            S_ref = reference_confidence_maps(kp[i], grid, stride, variant=variant)
            L_ref = reference_part_affinity_fields(kp[i], grid, stride, variant=variant)
            W_ref = reference_loss_mask(ignore[i], grid, stride)
            t_loop += time.perf_counter() - t0
            check_equal(f"S* ({variant}, crop {i})", S[i].numpy(), S_ref)
            check_equal(f"W ({variant}, crop {i})", W[i].numpy(), W_ref)
            differ = np.abs(L[i].numpy() - L_ref) > 1e-5
            if differ.any():
                # float32 geometry: a cell within 1e-3 px of a limb's edge may go either way.
                L_tol = reference_part_affinity_fields(
                    kp[i], grid, stride, variant=variant, tol=EDGE_TOL[variant]
                )
                if (differ & ~np.isnan(L_tol)).any():
                    check_equal(f"L* ({variant}, crop {i})", L[i].numpy(), L_ref)
                n_edge += int(differ.any(axis=0).sum())
        t_loop = t_loop / n_loop * args.batch
        edge = (
            f"; {n_edge} cell(s) within {EDGE_TOL[variant]:g} of a limb's edge fell the other way"
            if n_edge
            else ""
        )
        print(f"\nvariant={variant!r}: outputs equal on {n_loop} crop(s) (max abs difference <= 1e-5{edge})")
        print(
            f"  loop reference : {t_loop:9.3f} s / batch  {t_loop / args.batch * 1e3:9.1f} ms / sample"
            f"  (timed on {n_loop} crop(s), scaled to {args.batch})"
        )
        print(
            f"  ours, CPU      : {t_ours:9.4f} s / batch  {t_ours / args.batch * 1e3:9.2f} ms / sample"
            f"  -> {t_loop / t_ours:,.0f}x faster"
        )
        if torch.cuda.is_available():
            sync = torch.cuda.synchronize
            t_cuda = _time(lambda: ours("cuda"), args.repeat, sync)
            S_c, L_c, W_c = ours("cuda")
            same = max((a.cpu() - b).abs().max().item() for a, b in ((S_c, S), (L_c, L), (W_c, W)))
            print(
                f"  ours, CUDA     : {t_cuda:9.4f} s / batch  {t_cuda / args.batch * 1e3:9.2f} ms / sample"
                f"  -> {t_loop / t_cuda:,.0f}x faster; max |CUDA - CPU| = {same:.2g}"
                f"  ({torch.cuda.get_device_name()})"
            )


if __name__ == "__main__":
    main()
