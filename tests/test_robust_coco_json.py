"""Issue 33: evaluate validates COCO JSON as pycocotools' own loader expects, and its flags.

Before: duplicate annotation ids gave AP 0.006 for perfect detections, annotation id 0 gave
0.835 (pycocotools' matcher reads id 0 as "unmatched"), ``category_id`` 2 gave AP -1.000 with
exit 0; an image id that is a list, a ``bbox`` string, an ``area`` string, a missing
``file_name``, deeply nested JSON, ``--json`` a directory and bad ``--perfect-maps`` targets each
ended in a traceback. Now each is one ValueError (or argparse line) naming the file, the
annotation and what is allowed; hypothesis throws any JSON value at each field.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from _coco_people import random_people
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openpose_edu import coco as cf
from openpose_edu import evaluate as ev
from openpose_edu.coco import ground_truth_coco

PEOPLE = random_people(np.random.default_rng(0), n_images=2, per_image=2)
GT = ground_truth_coco([(300, 500)] * len(PEOPLE), PEOPLE)
DETECTIONS = cf.detections_coco([1, 2], PEOPLE, [np.ones(len(p)) for p in PEOPLE])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


def test_perfect_detections_score_ap_1_with_valid_ids() -> None:
    assert cf.coco_keypoint_ap(GT, DETECTIONS)["AP"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda g: [a.update(id=1) for a in g["annotations"]], "annotation id 1 is used twice"),
        (lambda g: g["annotations"][0].update(id=0), "pycocotools reads id 0 as 'no match'"),
        (lambda g: g["annotations"][0].pop("id"), "every annotation needs an integer 'id'"),
        (lambda g: [a.update(category_id=2) for a in g["annotations"]], "has category_id 2"),
        (lambda g: g["images"][0].update(id=[1]), "image id [1] is not an integer"),
        (lambda g: g["images"][0].update(id={"a": 1}), "is not an integer"),
        (lambda g: g["annotations"][0].update(bbox="0 0 10 10"), "has bbox 0 0 10 10"),
        (lambda g: g["annotations"][0].update(bbox=[1, 2, 3]), "expected [x, y, width, height]"),
        (lambda g: g["annotations"][0].update(bbox=None), "has bbox None"),
        (lambda g: g["annotations"][0].update(area="big"), "has area big"),
        (lambda g: g["annotations"][0].update(num_keypoints="3"), "has num_keypoints 3"),
    ],
)
def test_a_bad_field_is_one_clear_error(edit, words: str) -> None:
    gt = copy.deepcopy(GT)
    edit(gt)
    with pytest.raises(ValueError) as info:
        cf.check_coco_annotations(gt)
    assert words in str(info.value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    where=st.sampled_from(["image", "annotation"]),
    key=st.sampled_from(
        ["id", "image_id", "bbox", "area", "num_keypoints", "iscrowd", "category_id", "keypoints"]
    ),
    value=JSON,
)
def test_any_json_value_in_any_field_is_accepted_or_refused_clearly(where: str, key: str, value) -> None:
    gt = copy.deepcopy(GT)
    (gt["images"][0] if where == "image" else gt["annotations"][0])[key] = value
    try:
        data = cf.check_coco_annotations(gt)
    except ValueError as e:
        assert "the annotation dict" in str(e)
        return
    # Accepted: pycocotools must then index and score it without an error of its own.
    stats = cf.coco_keypoint_ap(data, DETECTIONS)
    assert all(np.isfinite(v) for v in stats.values())


def test_deeply_nested_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="nested too deeply"):
        cf.check_coco_annotations(path)


@pytest.mark.parametrize("name", [None, "", "../x.png", 3])
def test_evaluate_coco_names_a_bad_file_name(tmp_path: Path, name) -> None:
    gt = copy.deepcopy(GT)
    gt["images"][0]["file_name"] = name
    if name is None:
        gt["images"][0].pop("file_name")
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    with pytest.raises(ValueError, match=r"image 1 has file_name"):
        ev.evaluate_coco(None, tmp_path / "gt.json", tmp_path)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--perfect-maps", "--stride", "0"], "TargetSpec.stride must be an integer >= 1"),
        (["--perfect-maps", "--sigma", "-1"], "sigma and limb_width must be > 0"),
        (["--perfect-maps", "--sigma", "nan"], "sigma and limb_width must be > 0"),
        (["--perfect-maps", "--variant", "foo"], "TargetSpec.variant must be one of"),
        (["--perfect-maps", "--limb-width", "0"], "sigma and limb_width must be > 0"),
        (["--parsing", '{"n_samples": 100000000}'], "n_samples must be an integer in 2..100"),
        (["--json", "."], "--json .: is a directory"),
        (["--json", "/nonexistent/x.json"], "cannot create a file in /nonexistent"),
    ],
)
def test_bad_flags_are_one_argparse_line(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        ev.main([*argv, "--n", "1"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


@pytest.mark.parametrize("content", [b"not a model", b"\x80\x04K\x01."])
def test_an_unknown_or_hostile_model_file_is_one_line(
    tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "m.pt"
    model.write_bytes(content)
    assert ev.main(["--tune-parsing", "--model", str(model), "--n", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot load model '{model}'") and err.count("\n") == 1
