"""Stage explorer: time per slider move (redraw only) vs re-running the network for the same view.

    python benchmarks/widgets.py [--model NAME] [--size 368] [--moves 50]

Without --model it uses a random network of the paper's family (OpenPoseConfig.small(0.5));
with --model it loads a registered model (e.g. bundled, tfpose-mobilenet-v2-small). The image is
skimage's astronaut (public domain) resized to --size. Both timings come from this run, on this
machine: "redraw" is what StageExplorer does on a slider move (swap the arrays, render the JPEG;
"first visit" when that stage's overlays are computed, later moves paste the kept pictures),
"recompute" is the forward pass a naive widget would repeat for the same view plus that redraw.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("MPLBACKEND", "Agg")

import cv2
import torch
from skimage.data import astronaut

from openpose_edu import widgets
from openpose_edu.model import OpenPoseConfig, OpenPoseNet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="registered model name (default: random small network)")
    ap.add_argument("--size", type=int, default=368, help="image side in pixels")
    ap.add_argument("--moves", type=int, default=50, help="slider moves to time")
    args = ap.parse_args()
    torch.manual_seed(0)
    if args.model:
        from openpose_edu import load_model

        model, name = load_model(args.model), args.model
    else:
        model, name = OpenPoseNet(OpenPoseConfig.small(width=0.5)).eval(), "random small(width=0.5)"
    image = cv2.resize(astronaut(), (args.size, args.size), interpolation=cv2.INTER_AREA)
    explorer = widgets.StageExplorer({name: model}, {"astronaut": image})
    box = explorer.widget()  # the first view: runs the network once
    stage = box.controls["stage"]
    T = stage.max

    first = []  # the first visit of each stage: the overlays are computed
    for _ in range(T):
        t0 = time.perf_counter()
        stage.value = 1 + (stage.value % T)
        first.append(time.perf_counter() - t0)
    redraw = []  # later moves over the same stages: the explorer keeps the last 32 views' pictures
    for _ in range(args.moves):
        t0 = time.perf_counter()
        stage.value = 1 + (stage.value % T)  # one slider step: the observer re-renders
        redraw.append(time.perf_counter() - t0)

    recompute = []
    for i in range(max(5, args.moves // 5)):
        t0 = time.perf_counter()
        out = widgets.network_maps(model, image)  # what a widget without the cache would redo
        out.stage_maps(1 + i % T)
        explorer.jpeg(stage=1 + i % T)
        recompute.append(time.perf_counter() - t0)

    r, c, f = statistics.median(redraw), statistics.median(recompute), statistics.median(first)
    d = explorer.display
    print(f"model: {name}, image {args.size}x{args.size}, torch threads {torch.get_num_threads()}")
    print(f"picture: shown {d.width_px} CSS px wide at device pixel ratio {d.dpr:g}: JPEG {d.pixels} px wide")
    print(f"forward passes during {args.moves} slider moves: {explorer.forward_calls} (the first view only)")
    print(f"first visit of a stage (median of {len(first)}):         {1e3 * f:8.1f} ms")
    print(f"redraw per slider move (median of {len(redraw)}):      {1e3 * r:8.1f} ms")
    print(f"recompute network + redraw (median of {len(recompute)}): {1e3 * c:8.1f} ms")
    goal = {True: "met", False: "missed"}
    print(f"ratio recompute / redraw: {c / r:.1f}x; goal < 100 ms per redraw: {goal[r < 0.1]}")
    print(f"goal < 100 ms on a first visit too: {goal[f < 0.1]}")


if __name__ == "__main__":
    main()
