"""coco.py: COCO keypoint AP of known detections, the OpenPose-18 -> COCO-17 mapping."""

from __future__ import annotations

import numpy as np
import pytest
from _coco_people import random_people, write_ground_truth
from hypothesis import given, settings
from hypothesis import strategies as st

from openpose_edu.coco import (
    coco_keypoint_ap,
    detections_coco,
    ground_truth_coco,
    openpose_to_coco,
)
from openpose_edu.skeleton import COCO_PART_NAMES, PART_NAMES


def test_openpose_to_coco_matches_part_names() -> None:
    kps = np.zeros((1, 18, 3))
    kps[0, :, 0] = np.arange(18)  # x = OpenPose part index
    coco = openpose_to_coco(kps)
    assert coco.shape == (1, 17, 3)
    for k, name in enumerate(COCO_PART_NAMES):
        op_name = PART_NAMES[int(coco[0, k, 0])]
        # COCO "left_shoulder" <-> OpenPose "LShoulder", "nose" <-> "Nose"
        side, _, part = name.partition("_")
        expected = (side[0].upper() + part.capitalize()) if part else side.capitalize()
        assert op_name == expected
    assert 1 not in coco[0, :, 0]  # the Neck has no COCO keypoint


def test_openpose_to_coco_rejects_bad_shape() -> None:
    with pytest.raises(ValueError, match="18, 3"):
        openpose_to_coco(np.zeros((2, 17, 3)))


def test_ground_truth_detections_give_ap_one(tmp_path) -> None:
    people = random_people(np.random.default_rng(0))
    path = write_ground_truth(tmp_path, people)
    dets = detections_coco(range(1, len(people) + 1), people, [np.ones(len(p)) for p in people])
    stats = coco_keypoint_ap(path, dets)
    assert stats["AP"] == pytest.approx(1.0)
    assert stats["AR"] == pytest.approx(1.0)
    assert set(stats) >= {"AP", "AP50", "AP75", "AR"}


def test_perturbed_detections_score_lower(tmp_path) -> None:
    rng = np.random.default_rng(1)
    people = random_people(rng)
    path = write_ground_truth(tmp_path, people)
    ids = range(1, len(people) + 1)
    small = [
        p + np.concatenate([rng.normal(0, 2, p[..., :2].shape), np.zeros(p[..., 2:].shape)], -1)
        for p in people
    ]
    large = [
        p + np.concatenate([rng.normal(0, 8, p[..., :2].shape), np.zeros(p[..., 2:].shape)], -1)
        for p in people
    ]
    ones = [np.ones(len(p)) for p in people]
    ap_small = coco_keypoint_ap(path, detections_coco(ids, small, ones))["AP"]
    ap_large = coco_keypoint_ap(path, detections_coco(ids, large, ones))["AP"]
    assert 0.0 <= ap_large < ap_small < 1.0


def test_missing_people_lower_recall(tmp_path) -> None:
    people = random_people(np.random.default_rng(2))
    path = write_ground_truth(tmp_path, people)
    half = [p[:1] for p in people]  # one of three people per image found
    stats = coco_keypoint_ap(path, detections_coco(range(1, 5), half, [np.ones(1)] * 4))
    assert stats["AR"] == pytest.approx(1 / 3, abs=1e-6)


def test_no_detections_give_zero(tmp_path) -> None:
    path = write_ground_truth(tmp_path, random_people(np.random.default_rng(3)))
    assert coco_keypoint_ap(path, [])["AP"] == 0.0


def test_detections_in_ignore_regions_are_not_false_positives() -> None:
    people = random_people(np.random.default_rng(4), n_images=1, per_image=2)
    ignore = np.zeros((300, 500), bool)
    ignore[20:220, 380:480] = True  # an unlabelled person
    gt = ground_truth_coco([(300, 500)], [people[0]], [ignore])
    ghost = np.zeros((1, 18, 3))
    ghost[0, :, :2] = np.random.default_rng(5).uniform([390, 30], [470, 210], size=(18, 2))
    ghost[0, :, 2] = 1
    dets = np.concatenate([people[0], ghost])
    with_ignore = coco_keypoint_ap(gt, detections_coco([1], [dets], [np.array([0.5, 0.5, 0.9])]))["AP"]
    gt_plain = ground_truth_coco([(300, 500)], [people[0]])
    without = coco_keypoint_ap(gt_plain, detections_coco([1], [dets], [np.array([0.5, 0.5, 0.9])]))["AP"]
    assert with_ignore == pytest.approx(1.0)
    assert without < 1.0


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**16))
def test_ap_is_one_for_any_exact_people(seed: int) -> None:
    people = random_people(np.random.default_rng(seed), n_images=2, per_image=2)
    for p in people:  # some parts unlabelled: they must not count
        p[:, ::5, 2] = 0
    gt = ground_truth_coco([(300, 500)] * 2, people)
    stats = coco_keypoint_ap(gt, detections_coco([1, 2], people, [np.ones(2)] * 2))
    assert stats["AP"] == pytest.approx(1.0)
