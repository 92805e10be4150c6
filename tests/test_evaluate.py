"""evaluate.py: per-stage AP of a model on the synthetic validation scenes, the ceiling, tuning, the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from _coco_people import random_people, write_ground_truth

from openpose_edu.coco import detections_coco
from openpose_edu.groundtruth import TargetSpec
from openpose_edu.skeleton import COCO_PART_NAMES


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
    fine = evaluate_perfect_maps(n=12, spec=TargetSpec(stride=4, sigma=3.5, limb_width=4.0))
    assert fine["AP"] > coarse["AP"] + 0.05 and fine["AP75"] > coarse["AP75"]
    args = ["--perfect-maps", "--n", "12", "--stride", "4", "--sigma", "3.5", "--limb-width", "4"]
    assert main(args) == 0
    assert f"{fine['AP']:6.3f}" in capsys.readouterr().out
    with pytest.raises(ValueError, match="multiple of stride"):
        evaluate_perfect_maps(n=2, spec=TargetSpec(stride=24))


def test_keypoint_errors_name_the_missing_and_the_misplaced_parts(tmp_path, capsys) -> None:
    """Detections that lack every left wrist and put every nose 3 px right: exactly that is read back."""
    from openpose_edu.coco import format_keypoint_errors, keypoint_errors
    from openpose_edu.evaluate import main
    from openpose_edu.skeleton import PART_INDEX

    people = random_people(np.random.default_rng(4))
    path = write_ground_truth(tmp_path, people)
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
    from openpose_edu.evaluate import main, tune_parsing
    from openpose_edu.model import InputSpec, OpenPoseConfig, OpenPoseNet
    from openpose_edu.synthetic import VALIDATION_SEED

    net = OpenPoseNet(OpenPoseConfig.small(width=0.0625, n_stages=1, input=InputSpec(box_size=64))).eval()
    with pytest.raises(ValueError, match="validation seed"):
        tune_parsing(net, n=1, seed=VALIDATION_SEED)
    with pytest.raises(ValueError, match="no combination"):
        tune_parsing(net, grid={"n_samples": ()}, n=1)
    with pytest.raises(SystemExit):
        main(["--tune-parsing", "--seed", str(VALIDATION_SEED)])


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
