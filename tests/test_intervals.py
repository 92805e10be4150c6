"""intervals.py: COCO AP recomputed from per-image matches, bootstrap intervals, which arms differ."""

from __future__ import annotations

import numpy as np
import pytest

from openpose_edu import intervals
from openpose_edu.coco import _coco_eval, coco_keypoint_ap, detections_coco, scenes_ground_truth
from openpose_edu.synthetic import make_scene


@pytest.fixture(scope="module")
def scored() -> tuple[dict, list, list[int]]:
    """12 small scenes, detections = the true people jittered, some dropped, one false person each."""
    rng = np.random.default_rng(3)
    scenes = [make_scene(5, i, size=(96, 96), max_people=3) for i in range(12)]
    gt = scenes_ground_truth(scenes)
    kps, scores = [], []
    for s in scenes:
        people = s.keypoints[rng.random(len(s.keypoints)) < 0.8].copy()  # some people missed
        people[..., :2] += rng.normal(0, rng.uniform(0.5, 6), (len(people), 1, 1)) * (people[..., 2:] > 0)
        people[..., 2] = (people[..., 2] > 0).astype(np.float32)
        fake = np.concatenate([rng.uniform(0, 96, (1, 18, 2)), np.ones((1, 18, 1))], axis=-1)
        kps.append(np.concatenate([people, fake]).astype(np.float32))
        scores.append(rng.random(len(people) + 1))
    ids = list(range(1, len(scenes) + 1))
    return gt, detections_coco(ids, kps, scores), ids


def test_ap_from_matches_is_cocoevals(scored) -> None:
    gt, dets, ids = scored
    ours = intervals.average_precision(intervals.image_matches(_coco_eval(gt, dets, ids)))
    coco = coco_keypoint_ap(gt, dets)
    assert 0.05 < coco["AP"] < 0.95  # neither trivial nor perfect: the comparison means something
    for k in intervals.METRICS:
        assert ours[k] == pytest.approx(coco[k], abs=1e-9)


def test_weighted_images_equal_duplicated_images(scored) -> None:
    """A resample that draws image i c_i times scores as COCOeval on a set holding c_i copies of it."""
    gt, dets, ids = scored
    m = intervals.image_matches(_coco_eval(gt, dets, ids))
    counts = intervals.resample_counts(np.random.default_rng(0), len(ids), 1)[0]
    images, anns, dup_dets = [], [], []
    for i, c in enumerate(counts):
        for _ in range(c):
            new = len(images) + 1
            images.append({**gt["images"][i], "id": new})
            for a in gt["annotations"]:
                if a["image_id"] == i + 1:
                    anns.append({**a, "image_id": new, "id": len(anns) + 1})
            dup_dets += [{**d, "image_id": new} for d in dets if d["image_id"] == i + 1]
    dup_gt = {**gt, "images": images, "annotations": anns}
    coco = coco_keypoint_ap(dup_gt, dup_dets)
    ours = intervals.average_precision(m, np.repeat(np.arange(len(ids)), counts))
    for k in intervals.METRICS:
        assert ours[k] == pytest.approx(coco[k], abs=1e-9)


def test_bootstrap_interval_holds_the_point(scored) -> None:
    gt, dets, ids = scored
    m = intervals.image_matches(_coco_eval(gt, dets, ids))
    counts = intervals.resample_counts(np.random.default_rng(1), len(ids), 200)
    assert counts.shape == (200, len(ids)) and (counts.sum(1) == len(ids)).all()
    b = intervals.bootstrap_ap(m, np.arange(len(ids)), counts)
    lo, hi = intervals.interval(b["boot"]["AP"])
    assert lo < b["point"]["AP"] < hi and hi - lo > 0.01  # 12 scenes: a wide interval


def _diffs(ci_ab: list[float], ci_ac: list[float]) -> list[dict]:
    return [
        {"a": "A", "b": "B", "metric": "AP", "diff": round(sum(ci_ab) / 2, 4), "ci": ci_ab},
        {"a": "A", "b": "C", "metric": "AP", "diff": round(sum(ci_ac) / 2, 4), "ci": ci_ac},
        {"a": "A", "b": "B", "metric": "AP50", "diff": 0.3, "ci": [0.2, 0.4]},
    ]


def test_differing_pairs_need_an_interval_without_zero() -> None:
    assert intervals.differing_pairs(_diffs([-0.05, 0.02], [-0.01, 0.04])) == []
    assert intervals.differing_pairs(_diffs([0.01, 0.05], [-0.06, -0.02])) == [
        ("A", "B", 0.03),
        ("C", "A", 0.04),
    ]
    assert intervals.differing_pairs(_diffs([-0.05, 0.02], [-0.01, 0.04]), "AP50") == [("A", "B", 0.3)]


def test_conclusion_says_no_difference_when_every_interval_holds_zero() -> None:
    text = intervals.conclusion(_diffs([-0.05, 0.02], [-0.01, 0.04]))
    assert text.startswith("AP: no difference at this budget") and "2 pairwise" in text
    text = intervals.conclusion(_diffs([0.01, 0.05], [-0.01, 0.04]), where="on crowded scenes")
    assert "A beats B by 0.030" in text and "on crowded scenes" in text and "other 1 of 2" in text


def test_paired_differences_use_the_same_resamples() -> None:
    rng = np.random.default_rng(0)
    shared = rng.normal(0.5, 0.1, 500)  # scene difficulty, common to both arms
    boot = {"A": {k: shared + 0.02 for k in intervals.METRICS}, "B": {k: shared for k in intervals.METRICS}}
    point = {"A": dict.fromkeys(intervals.METRICS, 0.52), "B": dict.fromkeys(intervals.METRICS, 0.5)}
    d = intervals.paired_differences(boot, point)
    assert len(d) == 3 and all(x["ci"] == [0.02, 0.02] for x in d)  # pairing removes the shared spread
    assert [p[:2] for p in intervals.differing_pairs(d)] == [("A", "B")]


def test_over_seeds_widens_the_interval_by_the_seed_spread() -> None:
    rng = np.random.default_rng(0)
    scenes = rng.normal(0.0, 0.005, 1000)  # the scene resamples' spread
    same = intervals.over_seeds(np.stack([0.15 + scenes, 0.15 + scenes]), rng)
    assert np.allclose(same, 0.15 + scenes)  # identical seeds: nothing added
    apart = intervals.over_seeds(np.stack([0.14 + scenes, 0.16 + scenes]), rng)
    lo, hi = intervals.interval(apart)
    assert lo < 0.141 and hi > 0.159  # either seed alone is a possible outcome
    assert set(np.round(apart - scenes, 6)) == {0.14, 0.15, 0.16}


def test_pair_verdict_reads_either_orientation_and_each_outcome() -> None:
    diffs = [
        {"a": "x", "b": "y", "metric": "AP", "diff": 0.05, "ci": [0.01, 0.09]},
        {"a": "x", "b": "z", "metric": "AP", "diff": -0.02, "ci": [-0.05, 0.01]},
        {"a": "y", "b": "z", "metric": "AP", "diff": -0.04, "ci": [-0.07, -0.01]},
    ]
    assert intervals.pair_verdict(diffs, "x", "y").endswith("x beats y")
    assert "-0.050, 95 % interval [-0.090, -0.010]: x beats y" in intervals.pair_verdict(diffs, "y", "x")
    assert intervals.pair_verdict(diffs, "z", "y").endswith("z beats y")
    assert "no difference" in intervals.pair_verdict(diffs, "z", "x")
    with pytest.raises(KeyError, match="AP50"):
        intervals.pair_verdict(diffs, "x", "y", "AP50")
