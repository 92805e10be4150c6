"""Where bottom-up parsing fails, flagged on a parse (CVPR 2017 Fig. 9; TPAMI 2019 Figs. 14-15).

Without ground truth, a parse still shows its typical failures in its own geometry:

* **partial** person: few parts found (occlusion, truncation at the border, a part map too
  weak: the parser needs ``min_parts`` parts to keep a person at all);
* **small** person: shorter than a fraction of the image; at the network's stride (8 px at a
  368-px input) a limb of a small person spans few grid cells and its PAF band is thin
  (the papers' APM is below their APL: CVPR 2017 Table 3, 57.1 against 68.2 on test-dev);
* **overlap**: two people whose boxes mostly overlap: one person split into two fragments, or
  two people in front of each other whose parts the greedy matching shared out between them;
* **long limb**: a connection far longer than the same person's torso: a part of one person
  joined to another person (a wrong association).

    diagnose(keypoints, image_size, params) -> list[Finding]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import DRAWN_LIMBS, PART_INDEX, PART_NAMES


@dataclass(frozen=True)
class DiagnoseParams:
    """The thresholds of ``diagnose`` (fractions of image height or of a torso)."""

    min_parts: int = 8  # fewer parts than this: partial
    small_height: float = 0.2  # shorter than this fraction of the image height: small
    overlap: float = 0.6  # box intersection over the smaller box above this: overlap
    long_limb: float = 1.6  # a limb longer than this many torso lengths: long limb


@dataclass(frozen=True)
class Finding:
    """One flagged person (or pair of people) and why."""

    kind: str  # "partial", "small", "overlap" or "long limb"
    people: tuple[int, ...]  # indices into the keypoints
    detail: str


def _boxes(kp: np.ndarray) -> np.ndarray:
    on = kp[..., 2] > 0
    big = np.where(on[..., None], kp[..., :2], np.nan)
    with np.errstate(all="ignore"):
        return np.concatenate([np.nanmin(big, axis=1), np.nanmax(big, axis=1)], axis=1)  # (P, 4)


def _torso(person: np.ndarray) -> float:
    """Neck to mid-hip distance (or to the one hip found), NaN if the neck or both hips are missing."""
    neck, rhip, lhip = (person[PART_INDEX[name]] for name in ("Neck", "RHip", "LHip"))
    hips = [h[:2] for h in (rhip, lhip) if h[2] > 0]
    if neck[2] <= 0 or not hips:
        return float("nan")
    return float(np.hypot(*(neck[:2] - np.mean(hips, axis=0))))


def diagnose(
    keypoints: np.ndarray, image_size: tuple[int, int], params: DiagnoseParams | None = None
) -> list[Finding]:
    """Flag the typical failures of a parse. keypoints (P, 18, 3) [x, y, score] in image pixels.

    image_size (H, W). Returns the findings, people in index order, kinds in the order above.
    """
    p = params or DiagnoseParams()
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, len(PART_NAMES), 3)
    H = image_size[0]
    found: list[Finding] = []
    n_parts = (kp[..., 2] > 0).sum(axis=1)
    boxes = _boxes(kp) if len(kp) else np.zeros((0, 4))
    heights = boxes[:, 3] - boxes[:, 1]
    for i in np.flatnonzero(n_parts < p.min_parts):
        found.append(Finding("partial", (int(i),), f"{n_parts[i]} of 18 parts"))
    for i in np.flatnonzero(heights < p.small_height * H):
        found.append(Finding("small", (int(i),), f"{heights[i]:.0f} px tall in a {H}-px image"))
    for i in range(len(kp)):
        for j in range(i + 1, len(kp)):
            lo = np.maximum(boxes[i, :2], boxes[j, :2])
            hi = np.minimum(boxes[i, 2:], boxes[j, 2:])
            inter = np.prod(np.clip(hi - lo, 0, None))
            areas = np.prod(boxes[[i, j], 2:] - boxes[[i, j], :2], axis=1)
            if areas.min() > 0 and inter / areas.min() > p.overlap:
                found.append(Finding("overlap", (i, j), f"{inter / areas.min():.0%} of the smaller box"))
    for i, person in enumerate(kp):
        torso = _torso(person)
        if not np.isfinite(torso) or torso <= 0:
            continue
        for limb in DRAWN_LIMBS:  # the 17 limbs of the skeleton (not the ear-shoulder extras)
            a, b = person[limb.a], person[limb.b]
            if a[2] > 0 and b[2] > 0:
                ratio = float(np.hypot(*(a[:2] - b[:2]))) / torso
                if ratio > p.long_limb:
                    found.append(Finding("long limb", (i,), f"{limb.name} is {ratio:.1f} torso lengths"))
    return found
