"""Benchmark: training targets (S*, L*, W) for a batch, vectorized vs a per-pixel loop.

A batch of 16 crops of 368x368 (46x46 grid, stride 8) with 10 people each, the size of the
original training batches. Our vectorized ``groundtruth.targets`` is timed beside the
straightforward per-pixel Python loops of benchmarks/references.py (the definitions, written as
plainly as the paper and caffe_train state them), in the same run; the outputs are checked equal. The loop
is slow, so it runs on the first ``--loop-samples`` crops and its time is scaled to the batch
(said so in the output). On a CUDA machine the vectorized code is timed there too.

    .venv/bin/python benchmarks/groundtruth.py [--batch 16] [--people 10] [--loop-samples 1] [--threads 1]

The reference loops are also what tests/test_groundtruth.py checks the library against.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.references import (  # noqa: E402
    EDGE_TOL,
    make_batch,
    reference_confidence_maps,
    reference_loss_mask,
    reference_part_affinity_fields,
)
from openpose_edu import groundtruth as gt  # noqa: E402


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
