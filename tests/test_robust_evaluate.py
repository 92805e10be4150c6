"""Issue 22, defect 8: evaluate's edge cases: ``--max-images`` (-1, 0, N), zero images, images
with nobody annotated, and annotations with missing keypoints or fields.

Each is a clear message (naming the file and the annotation) or the right AP, never AP 0.000 or
-1.000 for a question that has no answer.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from openpose_edu import coco as cf
from openpose_edu import evaluate as ev
from openpose_edu.weights import load_model

MODEL = load_model("bundled")


@pytest.fixture(scope="module")
def coco(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """Three synthetic scenes as a COCO annotation file and an image folder."""
    from openpose_edu.synthetic import make_scene

    root = tmp_path_factory.mktemp("coco")
    scenes = [make_scene(5, i, size=(128, 128)) for i in range(3)]
    gt = cf.scenes_ground_truth(scenes)
    (root / "img").mkdir()
    for info, scene in zip(gt["images"], scenes):
        info["file_name"] = f"{info['id']}.png"
        cv2.imwrite(str(root / "img" / info["file_name"]), scene.image[..., ::-1])
    (root / "gt.json").write_text(json.dumps(gt))
    return root / "gt.json", root / "img", gt


def _write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_max_images_n_evaluates_exactly_the_first_n(coco, tmp_path: Path) -> None:
    ann, img, gt = coco
    first_two = {
        **gt,
        "images": gt["images"][:2],
        "annotations": [a for a in gt["annotations"] if a["image_id"] <= 2],
    }
    cut = ev.evaluate_coco(MODEL, ann, img, max_images=2)
    alone = ev.evaluate_coco(MODEL, _write(tmp_path / "two.json", first_two), img)
    assert cut == alone
    assert cut != ev.evaluate_coco(MODEL, ann, img)  # the third image counts


def test_max_images_at_or_over_the_count_drops_no_image(coco, monkeypatch) -> None:
    ann, img, _ = coco
    seen = []

    def predict(model, images, stages, **kwargs):  # count the images; nobody found
        seen.append(len(images))
        return {t: ([np.zeros((0, 18, 3))] * len(images), [np.zeros(0)] * len(images)) for t in stages}

    monkeypatch.setattr(ev, "predict", predict)
    for n in (None, 1, 2, 3, 10):
        ev.evaluate_coco(MODEL, ann, img, max_images=n)
    assert seen == [3, 1, 2, 3, 3]  # --max-images -1 used to give 2 (images[:-1])


@pytest.mark.parametrize("n", [0, -1, True])
def test_max_images_below_one_is_refused(coco, n) -> None:
    ann, img, _ = coco
    with pytest.raises(ValueError, match=f"max_images must be None \\(all\\) or >= 1, got {n}"):
        ev.evaluate_coco(MODEL, ann, img, max_images=n)


def test_command_line_max_images_minus_one_and_n_zero_are_argument_errors(coco, capsys) -> None:
    ann, img, _ = coco
    for argv, words in [
        (
            ["--coco-annotations", str(ann), "--coco-images", str(img), "--max-images", "-1"],
            "must be >= 1, got -1",
        ),
        (["--n", "0"], "argument --n: must be >= 1, got 0"),
    ]:
        with pytest.raises(SystemExit) as e:
            ev.main(["--model", "bundled", *argv])
        assert e.value.code == 2 and words in capsys.readouterr().err


def test_zero_images_is_a_clear_error(coco, tmp_path: Path, capsys) -> None:
    _, img, _ = coco
    empty = _write(tmp_path / "empty.json", {"images": [], "annotations": []})
    with pytest.raises(ValueError, match="lists no images: nothing to evaluate"):
        ev.evaluate_coco(MODEL, empty, img)
    assert ev.main(["--model", "bundled", "--coco-annotations", str(empty), "--coco-images", str(img)]) == 1
    assert f"error: {empty} lists no images" in capsys.readouterr().err
    with pytest.raises(ValueError, match="n must be >= 1 scenes, got 0"):
        ev.evaluate_synthetic(MODEL, n=0)


def test_images_with_nobody_annotated_is_a_clear_error(coco, tmp_path: Path) -> None:
    _, img, gt = coco
    nobody = _write(tmp_path / "nobody.json", {**gt, "annotations": []})
    with pytest.raises(ValueError, match="none of the 3 images has an annotated person.*would print -1"):
        ev.evaluate_coco(MODEL, nobody, img)
    unlabelled = copy.deepcopy(gt)
    for a in unlabelled["annotations"]:
        a["keypoints"], a["num_keypoints"] = [0] * 51, 0
    with pytest.raises(ValueError, match="none of the 3 images has an annotated person"):
        ev.evaluate_coco(MODEL, _write(tmp_path / "unlabelled.json", unlabelled), img)


def _people_with_missing_parts() -> tuple[dict, np.ndarray]:
    rng = np.random.default_rng(0)
    kps = np.zeros((2, 18, 3))
    kps[..., :2] = rng.uniform(50, 250, (2, 18, 2))
    kps[..., 2] = 2
    kps[0, 3:8] = 0  # person 0: right elbow .. left wrist not labelled
    kps[1, 14:] = 0  # person 1: no eyes, no ears
    return cf.ground_truth_coco([(300, 300)], [kps]), kps


def test_missing_keypoints_are_not_counted_against_a_detection() -> None:
    gt, kps = _people_with_missing_parts()
    assert [a["num_keypoints"] for a in gt["annotations"]] == [12, 13]  # COCO-17 parts labelled
    exact = cf.detections_coco([1], [kps], [np.ones(2)])
    assert cf.coco_keypoint_ap(gt, exact)["AP"] == pytest.approx(1.0)
    guessed = kps.copy()
    guessed[0, 3:8, :2], guessed[0, 3:8, 2] = 5.0, 1.0  # a guess where nothing is labelled: no cost
    assert cf.coco_keypoint_ap(gt, cf.detections_coco([1], [guessed], [np.ones(2)]))["AP"] == pytest.approx(
        1.0
    )


def test_num_keypoints_and_iscrowd_may_be_left_out() -> None:
    gt, kps = _people_with_missing_parts()
    exact = cf.detections_coco([1], [kps], [np.ones(2)])
    bare = copy.deepcopy(gt)
    for a in bare["annotations"]:
        del a["num_keypoints"], a["iscrowd"]
    assert cf.coco_keypoint_ap(bare, exact) == cf.coco_keypoint_ap(gt, exact)  # was KeyError 'num_keypoints'


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda a: a.pop("keypoints"), "annotation 2 has no 'keypoints' field; expected 17 x"),
        (lambda a: a.update(keypoints=a["keypoints"][:-3]), "annotation 2 has keypoints of 48 values"),
        (lambda a: a.update(keypoints=[None] * 51), "annotation 2 has keypoints of 51 values"),
        (lambda a: a.pop("area"), "annotation 2 has no 'area' field"),  # was KeyError 'area'
        (lambda a: (a.pop("area"), a.pop("bbox")), "annotation 2 has no 'bbox' and no 'area' field"),
        (lambda a: a.update(image_id=99), "annotation 2 names image_id 99"),
    ],
)
def test_a_malformed_annotation_is_named_with_its_file(tmp_path: Path, edit, words: str) -> None:
    gt, kps = _people_with_missing_parts()
    edit(gt["annotations"][1])
    path = _write(tmp_path / "bad.json", gt)
    with pytest.raises(ValueError, match=f"{path}: {words}"):
        cf.coco_keypoint_ap(path, cf.detections_coco([1], [kps], [np.ones(2)]))
