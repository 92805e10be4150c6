"""evaluate.py: COCO keypoint AP of known detections, the OpenPose-18 -> COCO-17 mapping."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpose_edu.evaluate import (
    coco_keypoint_ap,
    detections_coco,
    ground_truth_coco,
    openpose_to_coco,
)
from openpose_edu.skeleton import COCO_PART_NAMES, PART_NAMES


def _people(rng: np.random.Generator, n_images: int = 4, per_image: int = 3) -> list[np.ndarray]:
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


def _write_gt(tmp_path, people: list[np.ndarray]) -> str:
    gt = ground_truth_coco([(300, 500)] * len(people), people)
    path = tmp_path / "person_keypoints_tiny.json"
    path.write_text(json.dumps(gt))
    return str(path)


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
    people = _people(np.random.default_rng(0))
    path = _write_gt(tmp_path, people)
    dets = detections_coco(range(1, len(people) + 1), people, [np.ones(len(p)) for p in people])
    stats = coco_keypoint_ap(path, dets)
    assert stats["AP"] == pytest.approx(1.0)
    assert stats["AR"] == pytest.approx(1.0)
    assert set(stats) >= {"AP", "AP50", "AP75", "AR"}


def test_perturbed_detections_score_lower(tmp_path) -> None:
    rng = np.random.default_rng(1)
    people = _people(rng)
    path = _write_gt(tmp_path, people)
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
    people = _people(np.random.default_rng(2))
    path = _write_gt(tmp_path, people)
    half = [p[:1] for p in people]  # one of three people per image found
    stats = coco_keypoint_ap(path, detections_coco(range(1, 5), half, [np.ones(1)] * 4))
    assert stats["AR"] == pytest.approx(1 / 3, abs=1e-6)


def test_no_detections_give_zero(tmp_path) -> None:
    path = _write_gt(tmp_path, _people(np.random.default_rng(3)))
    assert coco_keypoint_ap(path, [])["AP"] == 0.0


def test_detections_in_ignore_regions_are_not_false_positives() -> None:
    people = _people(np.random.default_rng(4), n_images=1, per_image=2)
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
    people = _people(np.random.default_rng(seed), n_images=2, per_image=2)
    for p in people:  # some parts unlabelled: they must not count
        p[:, ::5, 2] = 0
    gt = ground_truth_coco([(300, 500)] * 2, people)
    stats = coco_keypoint_ap(gt, detections_coco([1, 2], people, [np.ones(2)] * 2))
    assert stats["AP"] == pytest.approx(1.0)


def test_evaluate_synthetic_runs_every_stage() -> None:
    from openpose_edu.evaluate import evaluate_synthetic, format_table
    from openpose_edu.model import InputSpec, OpenPoseConfig, OpenPoseNet

    cfg = OpenPoseConfig.small(
        width=0.0625, n_stages=2, vgg=((4,), (4,), (8,), (8,)), stage_layers=1, input=InputSpec(box_size=64)
    )
    net = OpenPoseNet(cfg).eval()
    results = evaluate_synthetic(net, n=2, stages="all", size=(64, 64))
    assert sorted(results) == [1, 2]
    for stats in results.values():
        assert -1.0 <= stats["AP"] <= 1.0 and "AR" in stats
    assert "AP50" in format_table(results)


def test_perfect_maps_give_the_ceiling(capsys) -> None:
    """Parsing the ground-truth maps finds most people well, but not perfectly (stride 8)."""
    from openpose_edu.evaluate import evaluate_perfect_maps, main

    stats = evaluate_perfect_maps(n=6)
    assert 0.5 < stats["AP"] < 1.0 and stats["AP50"] >= stats["AP75"] >= stats["AP"] - 0.3
    assert main(["--perfect-maps", "--n", "6"]) == 0
    assert f"{stats['AP']:6.3f}" in capsys.readouterr().out


def test_scales_reach_the_maps(monkeypatch, capsys) -> None:
    """--scales is passed through evaluate_synthetic to predict (maps averaged over scales)."""
    from openpose_edu import evaluate

    seen = []

    def fake_predict(model, images, stages, color="RGB", params=None, scales=(1.0,), progress=False):
        seen.append(tuple(scales))
        return {t: ([np.zeros((0, 18, 3))] * len(images), [np.zeros(0)] * len(images)) for t in stages}

    monkeypatch.setattr(evaluate, "predict", fake_predict)
    assert evaluate.main(["--n", "3", "--scales", "1", "1.5"]) == 0
    assert seen == [(1.0, 1.5)]
    assert "AP50" in capsys.readouterr().out


def test_perfect_maps_on_a_finer_grid_raise_the_ceiling(capsys) -> None:
    """Stride 4 (the network on the image enlarged twice) localizes parts better than stride 8,
    and catches short limbs (nose-eye) that no stride-8 grid point of Eq. 8's rectangle covers."""
    from openpose_edu.evaluate import evaluate_perfect_maps, main

    coarse = evaluate_perfect_maps(n=12)
    fine = evaluate_perfect_maps(n=12, stride=4, sigma=3.5, limb_width=4.0)
    assert fine["AP"] > coarse["AP"] + 0.05 and fine["AP75"] > coarse["AP75"]
    args = ["--perfect-maps", "--n", "12", "--stride", "4", "--sigma", "3.5", "--limb-width", "4"]
    assert main(args) == 0
    assert f"{fine['AP']:6.3f}" in capsys.readouterr().out
    with pytest.raises(ValueError, match="multiple of stride"):
        evaluate_perfect_maps(n=2, stride=24)


def test_keypoint_errors_name_the_missing_and_the_misplaced_parts(tmp_path, capsys) -> None:
    """Detections that lack every left wrist and put every nose 3 px right: exactly that is read back."""
    from openpose_edu.evaluate import format_keypoint_errors, keypoint_errors, main
    from openpose_edu.skeleton import PART_INDEX

    people = _people(np.random.default_rng(4))
    path = _write_gt(tmp_path, people)
    found = []
    for p in people:
        d = p.copy()
        d[:, PART_INDEX["LWrist"]] = 0  # not found
        d[:, PART_INDEX["Nose"], 0] += 3.0
        found.append(d)
    errors = keypoint_errors(path, detections_coco(range(1, 5), found, [np.ones(3)] * 4))
    assert list(errors) == list(COCO_PART_NAMES)
    for name, e in errors.items():
        assert e["people"] == 1.0 and e["labelled"] == 12
        assert e["missed"] == (1.0 if name == "left_wrist" else 0.0), name
        if name == "nose":
            assert e["median_px"] == pytest.approx(3.0) and e["p90_px"] == pytest.approx(3.0)
        elif name != "left_wrist":
            assert e["median_px"] == pytest.approx(0.0, abs=1e-9)
    assert "left_wrist" in format_keypoint_errors(errors)
    assert keypoint_errors(path, [])["nose"]["people"] == 0.0
    assert main(["--perfect-maps", "--n", "3", "--per-keypoint"]) == 0
    out = capsys.readouterr().out
    assert "right_ankle" in out and "missed" in out


def test_tune_parsing_tries_every_combination_best_first() -> None:
    """Each combination of the grid is scored on the selection scenes; the best comes first and
    scores what evaluate_synthetic gives with it; fields outside the grid keep the base's values."""
    from openpose_edu import load_model
    from openpose_edu.assembly import ParsingParams
    from openpose_edu.evaluate import SELECTION_SEED, evaluate_synthetic, format_tuning, tune_parsing

    model = load_model()
    base = ParsingParams(min_parts=3)
    grid = {"peak_threshold": (0.97, 0.1), "n_samples": (10, 20)}
    results = tune_parsing(model, grid=grid, n=4, base=base)
    assert len(results) == 4
    aps = [r["AP"] for _, r in results]
    assert aps == sorted(aps, reverse=True)
    assert {(p.peak_threshold, p.n_samples) for p, _ in results} == {
        (0.97, 10),
        (0.97, 20),
        (0.1, 10),
        (0.1, 20),
    }
    assert all(p.min_parts == 3 and p.smooth_sigma == base.smooth_sigma for p, _ in results)
    best, stats = results[0]
    assert best.peak_threshold == 0.1  # a threshold above almost every peak finds almost nobody
    assert stats["AP"] > results[-1][1]["AP"] + 0.2
    again = evaluate_synthetic(model, n=4, seed=SELECTION_SEED, params=best)
    assert list(again.values())[0]["AP"] == pytest.approx(stats["AP"])
    assert "peak_threshold" in format_tuning(results, grid=grid)


def test_tune_parsing_refuses_the_validation_seed_and_an_empty_grid() -> None:
    from openpose_edu.evaluate import VAL_SEED, main, tune_parsing
    from openpose_edu.model import InputSpec, OpenPoseConfig, OpenPoseNet

    net = OpenPoseNet(OpenPoseConfig.small(width=0.0625, n_stages=1, input=InputSpec(box_size=64))).eval()
    with pytest.raises(ValueError, match="validation seed"):
        tune_parsing(net, n=1, seed=VAL_SEED)
    with pytest.raises(ValueError, match="no combination"):
        tune_parsing(net, grid={"n_samples": ()}, n=1)
    with pytest.raises(SystemExit):
        main(["--tune-parsing", "--seed", str(VAL_SEED)])


def test_parsing_flag_reaches_predict(monkeypatch) -> None:
    """--parsing: 'model' leaves the choice to the model (None), 'demo' is ParsingParams(),
    JSON sets fields; a bad value stops the command with a message."""
    from openpose_edu import evaluate
    from openpose_edu.assembly import ParsingParams

    seen = []

    def fake_predict(model, images, stages, color="RGB", params=None, scales=(1.0,), progress=False):
        seen.append(params)
        return {t: ([np.zeros((0, 18, 3))] * len(images), [np.zeros(0)] * len(images)) for t in stages}

    monkeypatch.setattr(evaluate, "predict", fake_predict)
    for flag in ("model", "demo", '{"n_samples": 20, "paf_threshold": 0.02}'):
        assert evaluate.main(["--n", "2", "--parsing", flag]) == 0
    assert seen == [None, ParsingParams(), ParsingParams(n_samples=20, paf_threshold=0.02)]
    for bad in ("{not json", '{"no_such_field": 1}', '{"n_samples": 1}'):
        with pytest.raises(SystemExit):
            evaluate.main(["--n", "2", "--parsing", bad])
