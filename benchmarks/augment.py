"""Benchmark: COCO training samples per second per DataLoader worker, CMU's pipeline vs letterbox.

Synthetic scenes at COCO's typical size (480 x 640) are saved as a COCO data set
(``coco_samples.write_coco_scenes``); then, in one process with one thread (what one
DataLoader worker has), in the same run:

* letterbox: ``datasets.CocoKeypointDataset`` (the whole image scaled into the crop, no
  augmentation): the baseline this package had;
* cmu: ``coco_samples.CocoPersonDataset`` (person-centred crop, random scale, rotation, flip,
  one ``cv2.warpAffine`` per sample for the image and one for the mask);
* the augmentation alone, ours (one matrix) beside caffe_train's order (resize, rotate the
  whole image, crop, flip: four resamplings) on the same draws.

Each item includes reading the PNG and drawing S*, L*, W (``groundtruth.targets``).

    .venv/bin/python benchmarks/augment.py [--crop 368] [--scenes 24] [--items 48]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openpose_edu.augment import AugmentSpec, augment, draw  # noqa: E402
from openpose_edu.coco_samples import CocoPersonDataset, write_coco_scenes  # noqa: E402
from openpose_edu.datasets import CocoKeypointDataset  # noqa: E402
from openpose_edu.groundtruth import TargetSpec  # noqa: E402


def rate(fn, n: int) -> float:
    """Calls per second of fn(i) for i < n (after one warm-up call)."""
    fn(0)
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t0)


def caffe_train_order(image: np.ndarray, mask: np.ndarray, center, height: float, d, spec: AugmentSpec):
    """caffe_train's four resamplings: resize, rotate the whole image (grown box), crop + pad, flip."""
    s = spec.target_dist * spec.crop / height * d.scale
    img = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
    msk = cv2.resize(mask, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
    h, w = img.shape[:2]
    R = cv2.getRotationMatrix2D((w / 2, h / 2), d.degrees, 1.0)
    bw = int(h * abs(R[0, 1]) + w * abs(R[0, 0]))
    bh = int(h * abs(R[0, 0]) + w * abs(R[0, 1]))
    R[:, 2] += (bw / 2 - w / 2, bh / 2 - h / 2)
    img = cv2.warpAffine(img, R, (bw, bh), flags=cv2.INTER_CUBIC, borderValue=(128,) * 3)
    msk = cv2.warpAffine(msk, R, (bw, bh), flags=cv2.INTER_CUBIC, borderValue=255)
    cx, cy = R @ np.array([center[0] * s, center[1] * s, 1.0])
    x0, y0 = int(cx + d.shift[0] - spec.crop / 2), int(cy + d.shift[1] - spec.crop / 2)
    out = np.full((spec.crop, spec.crop, 3), 128, np.uint8)
    out_m = np.full((spec.crop, spec.crop), 255, np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + spec.crop, bw), min(y0 + spec.crop, bh)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = img[sy0:sy1, sx0:sx1]
        out_m[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = msk[sy0:sy1, sx0:sx1]
    if d.flip:
        out, out_m = out[:, ::-1].copy(), out_m[:, ::-1].copy()
    return out, out_m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crop", type=int, default=368)
    parser.add_argument("--scenes", type=int, default=24)
    parser.add_argument("--items", type=int, default=48)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    spec = TargetSpec(stride=8)
    aug = AugmentSpec(crop=args.crop)
    with tempfile.TemporaryDirectory() as tmp:
        annotations, images = write_coco_scenes(tmp, args.scenes, size=(480, 640), max_people=6)
        letterbox = CocoKeypointDataset(annotations, images, crop=args.crop, spec=spec)
        cmu = CocoPersonDataset(annotations, images, aug, spec, length=10**6)
        n = args.items
        r_letter = rate(lambda i: letterbox[i % len(letterbox)], n)
        r_cmu = rate(lambda i: cmu[i], n)
        # the augmentation alone, on one decoded image and its mask, the same draws both ways
        bgr = cv2.imread(str(Path(images) / "1.png"))
        mask = np.zeros(bgr.shape[:2], bool)
        mask[100:200, 100:180] = True
        kps = np.zeros((4, 18, 3), np.float32)
        rng = np.random.default_rng(0)
        draws = [draw(rng, aug) for _ in range(n + 1)]
        center, height = (320.0, 240.0), 200.0
        r_one = rate(lambda i: augment(bgr, mask, kps, center, height, draws[i], aug), n)
        m255 = (~mask).astype(np.uint8) * 255
        r_four = rate(lambda i: caffe_train_order(bgr, m255, center, height, draws[i], aug), n)
    print(f"one process, one thread (a DataLoader worker); crop {args.crop}, stride 8; {n} items each")
    print(f"{'pipeline':42s} {'samples/s':>10s}")
    print(f"{'letterbox (CocoKeypointDataset, baseline)':42s} {r_letter:10.1f}")
    print(f"{'cmu (CocoPersonDataset: read, augment, S*/L*/W)':42s} {r_cmu:10.1f}")
    print(f"{'  augmentation alone, one warpAffine':42s} {r_one:10.1f}")
    print(f"{'  augmentation alone, caffe_train order':42s} {r_four:10.1f}")
    print(f"cmu / letterbox: {r_cmu / r_letter:.2f}x; one matrix / four resamplings: {r_one / r_four:.2f}x")


if __name__ == "__main__":
    main()
