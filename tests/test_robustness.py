"""Issue 22: every entry point gives a clear message for a bad input and never loses a file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from openpose_edu import __main__ as cli
from openpose_edu import estimate, train
from openpose_edu.assembly import ParsingParams
from openpose_edu.io import atomic_write, check_image, openpose_json, read_image, write_image
from openpose_edu.weights import load_checkpoint, load_pth


def test_atomic_write_leaves_nothing_on_error(tmp_path: Path) -> None:  # defect 3
    target = tmp_path / "a.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as f:
        f.write("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["a.json"]


def test_atomic_write_a_signal_just_after_the_file_is_created(tmp_path: Path, monkeypatch) -> None:
    """The CI kill test's race, made deterministic: SIGTERM (SystemExit in the CLI) raised the moment
    ``os.open`` has created the temporary file, before any name is returned, still deletes it."""
    real_open = os.open

    def open_then_killed(*args, **kwargs):
        real_open(*args, **kwargs)
        raise SystemExit(143)

    monkeypatch.setattr("openpose_edu.io.os.open", open_then_killed)
    with pytest.raises(SystemExit), atomic_write(tmp_path / "a.json", "w") as f:
        f.write("never")
    assert os.listdir(tmp_path) == []


def test_atomic_write_draws_again_when_its_name_is_taken(tmp_path: Path, monkeypatch) -> None:
    """A temporary name that exists belongs to another writer: it is left alone and another is drawn."""
    names = iter(["taken", "free"])
    monkeypatch.setattr("openpose_edu.io.secrets.token_hex", lambda n: next(names))
    (tmp_path / ".a.json.taken.part").write_text("theirs")
    old = os.umask(0o027)
    try:
        with atomic_write(tmp_path / "a.json", "w") as f:
            f.write("mine")
    finally:
        os.umask(old)
    assert (tmp_path / ".a.json.taken.part").read_text() == "theirs"
    assert (tmp_path / "a.json").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == [".a.json.taken.part", "a.json"]
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640  # as a plain open() under that umask


def test_cli_same_stem_distinct_outputs_and_fifo_refused(tmp_path: Path) -> None:  # defects 2, 4
    for d in ("x", "y"):
        (tmp_path / d).mkdir()
        cv2.imwrite(str(tmp_path / d / "a.png"), np.zeros((32, 32, 3), np.uint8))
    os.mkfifo(tmp_path / "pipe.png")
    names = cli.output_names([tmp_path / "x" / "a.png", tmp_path / "y" / "a.png"])
    assert len(set(names.values())) == 2
    files, errors = cli.find_images([tmp_path / "pipe.png"])
    assert files == [] and "not a regular file" in errors[0]


def test_cli_out_checked_before_the_model(tmp_path: Path, capsys) -> None:  # defects 4, 6
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((32, 32, 3), np.uint8))
    (tmp_path / "a_rendered.png").write_bytes(b"mine")
    (tmp_path / "file").write_text("x")
    assert cli.main([str(tmp_path / "a.png"), "--out", str(tmp_path / "file"), "--no-progress"]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert cli.main([str(tmp_path / "a.png"), "--out", str(tmp_path), "--no-progress"]) == 2
    assert (
        "a_rendered.png" in capsys.readouterr().err and (tmp_path / "a_rendered.png").read_bytes() == b"mine"
    )
    for bad in (["--scales", "inf"], ["--scales", "0"], ["--stage", "0"]):
        with pytest.raises(SystemExit):
            cli.parse_args(["a.png", *bad])


def test_weights_file_errors_are_one_line(tmp_path: Path) -> None:  # defect 5
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "rand.pth").write_bytes(os.urandom(1000))
    with pytest.raises(ValueError, match="empty"):
        load_checkpoint(tmp_path / "empty.pt")
    with pytest.raises(ValueError, match="rand.pth") as e:
        load_pth(tmp_path / "rand.pth")
    assert "weights_only=False" not in str(e.value)


def test_bundled_checkpoint_with_a_flipped_bit_is_refused(tmp_path: Path, monkeypatch) -> None:  # defect 5
    from dataclasses import replace

    from openpose_edu import weights

    data = bytearray(weights.BUNDLED_PATH.read_bytes())
    data[len(data) // 2] ^= 1
    (tmp_path / "bundled.pt").write_bytes(bytes(data))
    monkeypatch.setitem(
        weights.REGISTRY, "bundled", replace(weights.REGISTRY["bundled"], path=tmp_path / "bundled.pt")
    )
    with pytest.raises(ValueError, match="damaged"):
        weights.fetch("bundled")


@pytest.mark.parametrize("mode", ["P", "YCbCr", "HSV", "LAB", "RGBA", "LA", "1", "CMYK"])
def test_pil_modes_are_converted(mode: str) -> None:  # defect 7
    rgb = np.random.default_rng(0).integers(0, 255, (8, 9, 3), dtype=np.uint8)
    pil = Image.fromarray(rgb).convert(mode)
    assert np.array_equal(check_image(pil), np.asarray(pil.convert("RGB")))


def test_sixteen_bit_pil_is_refused() -> None:  # defect 7
    with pytest.raises(ValueError, match="8 bits"):
        check_image(Image.new("I;16", (4, 4)))


def test_smaller_defects(tmp_path: Path) -> None:  # defect 11
    gray = np.tile(np.arange(16, dtype=np.uint8)[None] * 10, (4, 1))
    write_image(tmp_path / "g.png", gray)
    assert np.array_equal(read_image(tmp_path / "g.png")[..., 0], gray)  # not mirrored
    kp = np.full((1, 18, 3), np.nan)
    assert (
        json.loads(json.dumps(openpose_json(kp), allow_nan=False))["people"][0]["pose_keypoints_2d"]
        == [0.0] * 54
    )
    image = np.zeros((40, 40, 3), np.uint8)
    for kwargs, error in [
        ({"scales": "1"}, TypeError),
        ({"stage": True}, TypeError),
        ({"scales": [float("inf")]}, ValueError),
        ({"model": object()}, TypeError),
    ]:
        with pytest.raises(error):
            estimate(image, **kwargs)
    for bad in ({"peak_threshold": float("nan")}, {"peak_threshold": -1.0}):
        with pytest.raises(ValueError):
            ParsingParams(**bad)


def test_train_bool_flags_are_strict() -> None:  # defect 10
    with pytest.raises(SystemExit):
        train._parser().parse_args(["--tensorboard", "flase"])


def test_evaluate_refuses_bad_annotations(tmp_path: Path) -> None:  # defect 8
    from openpose_edu.coco import check_coco_annotations

    ann = {"images": [{"id": 1}, {"id": 1}], "annotations": []}
    with pytest.raises(ValueError, match="twice"):
        check_coco_annotations(ann)
    ann = {"images": [{"id": 1}], "annotations": [{"id": 7, "image_id": 1, "keypoints": [0] * 50}]}
    with pytest.raises(ValueError, match="annotation 7"):
        check_coco_annotations(ann)
