"""Skeletons as data: COCO18 and BODY25 against the facts files; BODY_25 ground truth and JSON.

The BODY_25 assembly round trip on perfect maps is in tests/test_assembly.py, beside COCO-18's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from openpose_edu import groundtruth
from openpose_edu import skeleton as sk
from openpose_edu.io import openpose_json, read_openpose_json, write_openpose_json
from openpose_edu.skeleton import BODY25, COCO18


def test_coco18_instance_is_the_module_tables() -> None:
    assert COCO18.parts == sk.PART_NAMES and COCO18.limbs == sk.LIMBS
    assert (COCO18.n_heatmaps, COCO18.n_pafs, COCO18.background) == (19, 38, 18)
    assert COCO18.redundant == sk.REDUNDANT_LIMBS and COCO18.flip == sk.FLIP_PARTS
    assert COCO18.drawn_limbs == sk.DRAWN_LIMBS


def test_body25_against_body25_facts() -> None:
    assert (BODY25.n_parts, BODY25.n_heatmaps, BODY25.n_limbs, BODY25.n_pafs) == (25, 26, 26, 52)
    assert BODY25.parts[8] == "MidHip" and BODY25.parts[24] == "RHeel" and BODY25.parts[19] == "LBigToe"
    pairs = [(limb.a, limb.b) for limb in BODY25.limbs]
    assert pairs[:3] == [(1, 8), (1, 2), (1, 5)] and pairs[-1] == (11, 24)
    channels = [c for limb in BODY25.limbs for c in limb.channels]
    assert sorted(channels) == list(range(52))  # every PAF channel used once
    assert BODY25.limbs[1].channels == (14, 15) and BODY25.limbs[13].channels == (30, 31)
    assert {BODY25.limb_name(BODY25.limbs[k]) for k in BODY25.redundant} == {
        "RShoulder-REar",
        "LShoulder-LEar",
    }
    flip = BODY25.flip
    assert all(flip[flip[j]] == j for j in range(25))
    assert BODY25.parts[flip[BODY25.part_index("LHeel")]] == "RHeel" and flip[8] == 8
    assert len(BODY25.colors) == BODY25.n_limbs
    # COCO-17: the shared parts map, MidHip is the hips' mean, the feet are not in COCO.
    assert BODY25.from_coco[2] == 6 and BODY25.from_coco[8] is None and BODY25.mean_of_coco[8] == (11, 12)
    assert all(BODY25.from_coco[j] is None for j in range(19, 25))
    for j, c in enumerate(COCO18.from_coco):  # same COCO source for each part both skeletons share
        if c is not None:
            assert BODY25.from_coco[BODY25.part_index(COCO18.parts[j])] == c


def _body25_person(rng: np.random.Generator) -> np.ndarray:
    """(25, 3) [x, y, v]: a random BODY_25 person, every part labelled (v = 2)."""
    return np.column_stack([rng.uniform(20, 150, (25, 2)), np.full(25, 2.0)])


def test_body25_ground_truth_is_coco18_on_the_shared_parts_and_limbs() -> None:
    """groundtruth with skeleton=BODY25: S* (26 channels), L* (52) and W (78) in BODY_25's
    channels, equal to COCO-18's maps wherever a part or limb has the same name in both."""
    rng = np.random.default_rng(0)
    kp25 = np.stack([_body25_person(rng) for _ in range(2)])
    kp25[1, 4, 2] = 0  # an unlabelled RWrist
    kp18 = kp25[:, [BODY25.part_index(n) for n in COCO18.parts]]
    for variant in ("paper", "released"):
        S25, L25, W25 = groundtruth.targets(kp25, grid_size=(21, 22), variant=variant, skeleton=BODY25)
        S18, L18, _ = groundtruth.targets(kp18, grid_size=(21, 22), variant=variant)
        assert S25.shape == (1, 26, 21, 22) and L25.shape == (1, 52, 21, 22) and W25.shape == (1, 1, 21, 22)
        for j, name in enumerate(COCO18.parts):
            torch.testing.assert_close(S25[:, BODY25.part_index(name)], S18[:, j], rtol=0, atol=0)
        names25 = {BODY25.limb_name(limb): limb for limb in BODY25.limbs}
        shared = [limb for limb in COCO18.limbs if COCO18.limb_name(limb) in names25]
        assert len(shared) == 17  # all but Neck-RHip and Neck-LHip (BODY_25 goes through MidHip)
        for limb in shared:
            other = names25[COCO18.limb_name(limb)]
            torch.testing.assert_close(
                L25[:, list(other.channels)], L18[:, list(limb.channels)], rtol=0, atol=0
            )
        # MidHip's own limbs are drawn in their POSE_MAP_INDEX channels (0-1: Neck-MidHip).
        neck_midhip = BODY25.limbs[0]
        assert neck_midhip.channels == (0, 1) and L25[0, :2].abs().sum() > 0
        # The background is 1 - max over the 25 parts, the feet included.
        torch.testing.assert_close(S25[:, 25], (1 - S25[:, :25].amax(1)).clamp(min=0))
    assert groundtruth.loss_mask(np.zeros((32, 40), bool), channels=78, skeleton=BODY25).shape == (
        1,
        78,
        4,
        5,
    )
    with pytest.raises(ValueError, match="channels must be 1 or 57"):
        groundtruth.loss_mask(np.zeros((32, 40), bool), channels=78)
    with pytest.raises(ValueError, match=r"\(P, 25, 3\)"):
        groundtruth.confidence_maps(kp18, (8, 8), skeleton=BODY25)


def test_coco_to_body25() -> None:
    """COCO-17 -> BODY_25: the shared parts as for COCO-18, MidHip the hips' mean (labelled
    only if both hips are), the six foot points unlabelled."""
    rng = np.random.default_rng(1)
    coco = np.concatenate([rng.uniform(0, 100, (3, 17, 2)), rng.choice([0, 1, 2], (3, 17, 1))], -1)
    coco[0, 11:13, 2] = 2
    coco[1, 11, 2] = 0  # one hip missing: no MidHip
    b25 = groundtruth.coco_to_openpose(coco, skeleton=BODY25)
    o18 = groundtruth.coco_to_openpose(coco)
    assert b25.shape == (3, 25, 3)
    np.testing.assert_array_equal(b25[:, [BODY25.part_index(n) for n in COCO18.parts]], o18)
    np.testing.assert_allclose(b25[0, 8], [*(coco[0, 11, :2] + coco[0, 12, :2]) / 2, 2])
    assert (b25[1, 8] == 0).all() and (b25[:, 19:] == 0).all()


def test_openpose_json_with_25_parts(tmp_path: Path) -> None:
    kp = np.random.default_rng(0).uniform(0, 100, (2, 25, 3)).astype(np.float32)
    doc = openpose_json(kp, skeleton=BODY25)
    assert [len(p["pose_keypoints_2d"]) for p in doc["people"]] == [75, 75]
    path = write_openpose_json(tmp_path / "x_keypoints.json", kp, skeleton=BODY25)
    np.testing.assert_allclose(read_openpose_json(path, skeleton=BODY25), kp, rtol=1e-6)
    assert json.loads(path.read_text())["version"] == 1.3
    with pytest.raises(ValueError, match="BODY_25 files 75"):
        read_openpose_json(path)  # a COCO-18 reader refuses a BODY_25 file, saying so
