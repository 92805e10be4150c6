"""Random annotated people and a COCO ground-truth file of them (test_coco.py, test_evaluate.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from openpose_edu.coco import ground_truth_coco


def random_people(rng: np.random.Generator, n_images: int = 4, per_image: int = 3) -> list[np.ndarray]:
    """Random upright-ish people: 18 parts spread in a 60x150 box, all visible (v=2)."""
    out = []
    for _ in range(n_images):
        kps = np.zeros((per_image, 18, 3))
        for p in range(per_image):
            origin = np.array([40 + 150 * p, 40.0])
            kps[p, :, :2] = origin + rng.uniform([0, 0], [60, 150], size=(18, 2))
            kps[p, :, 2] = 2
        out.append(kps)
    return out


def write_ground_truth(tmp_path: Path, people: list[np.ndarray]) -> str:
    """``people`` (one (P, 18, 3) array per 300 x 500 image) as a COCO person_keypoints JSON file."""
    gt = ground_truth_coco([(300, 500)] * len(people), people)
    path = tmp_path / "person_keypoints_tiny.json"
    path.write_text(json.dumps(gt))
    return str(path)
