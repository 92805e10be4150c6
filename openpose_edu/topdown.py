"""Bottom-up against top-down: the cost of running a pose network once per person.

A top-down method (CVPR 2017 Sec. 1; its Table 4 pairs a person detector, SSD, or the ground
truth boxes with the single-person CPM) crops each detected person and runs a single-person
estimator on the crop, so its runtime grows with the number of people n. OpenPose runs the
network once per image and parses, whose cost grows as O(n^2) but is tiny (CVPR 2017 Sec. 3.3,
Fig. 8d; TPAMI 2019 Fig. 12 against Mask R-CNN and Alpha-Pose).

    person_boxes(keypoints, margin)           -> (P, 4)       boxes around labelled people (oracle detector)
    single_person(model, image, box, height)  -> (18, 3)      one person: the crop's per-part maximum of S
    top_down(model, image, boxes, height)     -> (P, 18, 3)   single_person once per box
    time_per_box(model, image, boxes, height) -> (P, 18, 3), (P,) seconds, (P,) input pixels: the loop, timed
    time_bottom_up / time_top_down            -> seconds      wall-clock of each, for a runtime curve

The detector's own cost is left out (the boxes come from the labels), which favours top-down.
Shown in notebook 12.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from . import assembly, inference
from .skeleton import N_PARTS


def person_boxes(keypoints: np.ndarray, margin: float = 0.2) -> np.ndarray:
    """(P, 4) float64 [x0, y0, x1, y1] boxes around each person's labelled parts, grown by ``margin``.

    keypoints (P, 18, 3) [x, y, v]; a person without labelled parts gets an empty box (0, 0, 0, 0).
    """
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, N_PARTS, 3)
    on = kp[..., 2] > 0  # (P, 18)
    big = np.where(on[..., None], kp[..., :2], np.nan)
    with np.errstate(all="ignore"):
        lo, hi = np.nanmin(big, axis=1), np.nanmax(big, axis=1)  # (P, 2)
    pad = margin * np.nanmax(hi - lo, axis=1, keepdims=True) if len(kp) else np.zeros((0, 1))
    boxes = np.concatenate([lo - pad, hi + pad], axis=1)
    return np.nan_to_num(boxes, nan=0.0)


def _crop(image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of ``box`` (clipped to the image, at least 1 x 1) and its top-left corner [x, y]."""
    H, W = image.shape[:2]
    x0, y0 = int(np.clip(np.floor(box[0]), 0, W - 1)), int(np.clip(np.floor(box[1]), 0, H - 1))
    x1, y1 = int(np.clip(np.ceil(box[2]), x0 + 1, W)), int(np.clip(np.ceil(box[3]), y0 + 1, H))
    return image[y0:y1, x0:x1], np.array([x0, y0], dtype=np.float64)


def single_person(model: Any, image: np.ndarray, box: np.ndarray, height: int = 96) -> np.ndarray:
    """One person's parts from the crop of ``box``: for each part, the maximum of its map.

    A single-person estimator needs no grouping: the crop is resized to ``height`` pixels,
    the network runs once, and part j is the grid cell where the last stage's S_j peaks
    (its value the score), mapped back to image pixels. image uint8 (H, W, 3) RGB.
    Returns (18, 3) float32 [x, y, score].
    """
    crop, corner = _crop(image, box)
    spec = model.input_spec
    x, pad = inference.preprocess(
        crop, spec, scale=height / spec.box_size, device=inference.model_device(model)
    )
    with torch.no_grad():
        S = model(x).S[-1][0, :N_PARTS].float().cpu().numpy()  # (18, h, w) on the stride grid
    h, w = S.shape[1:]
    flat = S.reshape(N_PARTS, -1)
    best = flat.argmax(axis=1)
    gy, gx = np.divmod(best, w)
    stride = pad.padded_size[0] / h
    xy = (np.stack([gx, gy], axis=1) + 0.5) * stride - 0.5  # cell centre, network-input pixels
    out = np.zeros((N_PARTS, 3), dtype=np.float32)
    out[:, :2] = xy / pad.factor + corner
    out[:, 2] = flat[np.arange(N_PARTS), best]
    return out


def top_down(model: Any, image: np.ndarray, boxes: np.ndarray, height: int = 96) -> np.ndarray:
    """(P, 18, 3) float32: ``single_person`` once per box, the top-down loop."""
    return (
        np.stack([single_person(model, image, b, height) for b in boxes])
        if len(boxes)
        else np.zeros((0, N_PARTS, 3))
    )


def input_pixels(model: Any, image: np.ndarray, height: int | None = None) -> int:
    """Pixels of the network input for ``image`` resized to ``height`` (default: the model's box size).

    A fully convolutional network's cost grows with its input's pixel count, so this is the
    machine-independent measure of one pass (padding to the stride included).
    """
    spec = model.input_spec
    scale = 1.0 if height is None else height / spec.box_size
    H, W = image.shape[:2]
    f = spec.box_size * scale / H
    h, w = round(H * f), round(W * f)
    s = spec.stride
    return int(-(-h // s) * s * (-(-w // s) * s))


def time_per_box(
    model: Any, image: np.ndarray, boxes: np.ndarray, height: int = 96
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The top-down loop, each pass timed: keypoints (P, 18, 3), seconds (P,), input pixels (P,).

    The cumulative sum of the seconds is the top-down runtime for the first 1, 2, ... people.
    """
    out, seconds, pixels = [], [], []
    for box in boxes:
        t0 = time.perf_counter()
        out.append(single_person(model, image, box, height))
        seconds.append(time.perf_counter() - t0)
        pixels.append(input_pixels(model, _crop(image, box)[0], height))
    kp = np.stack(out) if out else np.zeros((0, N_PARTS, 3), dtype=np.float32)
    return kp, np.array(seconds), np.array(pixels, dtype=np.int64)


def best_seconds(run: Callable[[], Any], repeats: int) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``run`` (the least disturbed by other work)."""
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return float(best)


def time_bottom_up(model: Any, image: np.ndarray, repeats: int = 1) -> float:
    """Seconds (best of ``repeats``) for the whole bottom-up pipeline: one network pass and the parse."""
    return best_seconds(lambda: inference.estimate(image, model), repeats)


def time_top_down(
    model: Any, image: np.ndarray, boxes: np.ndarray, height: int = 96, repeats: int = 1
) -> float:
    """Seconds (best of ``repeats``) for the top-down loop over ``boxes`` (the detector not counted)."""
    return best_seconds(lambda: top_down(model, image, boxes, height), repeats)


def time_parse(S: np.ndarray, L: np.ndarray, repeats: int = 3) -> float:
    """Seconds (best of ``repeats``) for ``assembly.parse`` alone on maps (19, H, W), (38, H, W)."""
    return best_seconds(lambda: assembly.parse(S, L), repeats)
