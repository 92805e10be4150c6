"""The command line (python -m openpose_edu) and the files it reads and writes (io.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from openpose_edu import __main__ as cli
from openpose_edu import groundtruth
from openpose_edu.io import (
    openpose_json,
    read_image,
    read_openpose_json,
    write_image,
    write_openpose_json,
)
from openpose_edu.model import InputSpec, ModelCard, NetworkOutput
from openpose_edu.skeleton import N_PARTS

ROOT = Path(__file__).resolve().parents[1]


class PerfectModel(nn.Module):
    """Outputs the ground truth S*, L* of known people in a 128-pixel-high image, at any scale."""

    def __init__(self, keypoints: np.ndarray) -> None:
        super().__init__()
        self.keypoints, self.input_spec, self.stride, self.n_stages = keypoints, InputSpec(box_size=128), 8, 1
        self.card = ModelCard(name="perfect", trained_on="the test's ground truth")

    def forward(self, x: torch.Tensor, n_stages: int | None = None) -> NetworkOutput:
        h, w = x.shape[2] // 8, x.shape[3] // 8
        kp = self.keypoints * [x.shape[2] / 128, x.shape[2] / 128, 1]  # input pixels at this scale
        S = groundtruth.confidence_maps(kp, (h, w), variant="released")
        L = groundtruth.part_affinity_fields(kp, (h, w), variant="released")
        return NetworkOutput(F=torch.zeros(1, 4, h, w), S=[S], L=[L])


def _one_person() -> np.ndarray:
    from test_assembly import TEMPLATE

    return np.column_stack([TEMPLATE * 80 + (64, 36), np.full(N_PARTS, 2.0)])[None]  # (1, 18, 3)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A directory with a good image, a corrupt one, a text file and an empty one."""
    d = tmp_path / "in"
    d.mkdir()
    image = np.full((128, 128, 3), 90, np.uint8)
    cv2.imwrite(str(d / "good.png"), image)
    png = (d / "good.png").read_bytes()
    (d / "corrupt.png").write_bytes(png[: len(png) // 2][:40] + b"\x00garbage" * 20)
    (d / "notes.txt").write_text("not an image\n")
    (d / "empty.jpg").write_bytes(b"")
    return d


def test_directory_with_bad_files(inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    code = cli.run([inputs], PerfectModel(_one_person()), out, progress=False)
    assert code != 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "good_keypoints.json",
        "good_rendered.png",
    ]
    err = capsys.readouterr().err
    for name in ("corrupt.png", "notes.txt", "empty.jpg"):
        assert name in err
    assert "good.png" not in err.replace("good_", "")
    doc = json.loads((out / "good_keypoints.json").read_text())
    assert doc["version"] == 1.3 and len(doc["people"]) == 1
    found = np.array(doc["people"][0]["pose_keypoints_2d"]).reshape(N_PARTS, 3)
    assert np.all(found[:, 2] > 0) and np.abs(found[:, :2] - _one_person()[0, :, :2]).max() <= 1.0
    drawn = read_image(out / "good_rendered.png")
    assert drawn.shape == (128, 128, 3) and np.any(drawn != 90)  # the skeleton is drawn


def test_all_good_exits_zero_and_nobody_is_an_empty_list(inputs: Path, tmp_path: Path) -> None:
    nobody = PerfectModel(np.zeros((1, N_PARTS, 3)))
    cv2.imwrite(str(tmp_path / "good.jpg"), np.zeros((64, 64, 3), np.uint8))  # same stem, other suffix
    assert cli.run([inputs / "good.png", tmp_path / "good.jpg"], nobody, tmp_path / "o", progress=False) == 0
    assert (tmp_path / "o" / "good_jpg_keypoints.json").is_file()
    doc = json.loads((tmp_path / "o" / "good_keypoints.json").read_text())
    assert doc == {"version": 1.3, "people": []}
    assert read_openpose_json(tmp_path / "o" / "good_keypoints.json").shape == (0, N_PARTS, 3)


def test_main_parses_arguments_and_loads_the_model(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openpose_edu import weights

    seen = {}

    def fake_load_model(name=None, device="cpu", **kw):
        seen["name"], seen["device"] = name, device
        return PerfectModel(_one_person())

    monkeypatch.setattr(weights, "load_model", fake_load_model)
    out = tmp_path / "out"
    argv = [str(inputs / "good.png"), "--model", "bundled", "--out", str(out), "--scales", "0.5", "1"]
    assert cli.main([*argv, "--stage", "1", "--no-progress"]) == 0
    assert seen == {"name": "bundled", "device": "cpu"}
    assert len(read_openpose_json(out / "good_keypoints.json")) == 1
    with pytest.raises(SystemExit) as e:
        cli.main([str(inputs / "good.png"), "--scales", "-1"])
    assert e.value.code == 2


def test_default_model_is_the_real_network_and_each_run_names_its_model(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """No --model: the small real COCO network; the run says which model and what it saw."""
    from openpose_edu import weights

    seen = []

    def fake_load_model(name=None, device="cpu", **kw):
        seen.append(name)
        return PerfectModel(_one_person())

    monkeypatch.setattr(weights, "load_model", fake_load_model)
    assert cli.main([str(inputs / "good.png"), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    assert seen == ["tfpose-mobilenet-v2-small"]
    assert "model: perfect (trained on the test's ground truth)" in capsys.readouterr().err

    def offline(name=None, device="cpu", **kw):
        raise FileNotFoundError(f"{name}: not in the cache and no network")

    monkeypatch.setattr(weights, "load_model", offline)
    assert cli.main([str(inputs / "good.png"), "--out", str(tmp_path / "o2"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "tfpose-mobilenet-v2-small" in err and "--model bundled" in err


def test_python_dash_m_reports_a_missing_file() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "openpose_edu", "no/such/picture.jpg", "--no-progress"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "no/such/picture.jpg" in proc.stderr and "no such file" in proc.stderr


# --------------------------------------------------------------------------------------------
# io.py
# --------------------------------------------------------------------------------------------


def test_openpose_json_layout() -> None:
    kp = np.arange(2 * N_PARTS * 3, dtype=np.float32).reshape(2, N_PARTS, 3)
    doc = openpose_json(kp)
    assert doc["version"] == 1.3 and len(doc["people"]) == 2
    person = doc["people"][1]
    assert person["pose_keypoints_2d"] == [float(v) for v in kp[1].reshape(-1)]
    assert len(person["pose_keypoints_2d"]) == 54 and person["face_keypoints_2d"] == []
    json.dumps(doc)  # plain JSON types only
    assert openpose_json(kp[0])["people"][0]["pose_keypoints_2d"] == doc["people"][0]["pose_keypoints_2d"]
    with pytest.raises(ValueError, match=r"\(P, 18, 3\)"):
        openpose_json(np.zeros((2, 25, 3)))


def test_json_round_trip_and_foreign_files(tmp_path: Path) -> None:
    kp = np.random.default_rng(0).random((3, N_PARTS, 3)).astype(np.float32)
    path = write_openpose_json(tmp_path / "a_keypoints.json", kp)
    np.testing.assert_allclose(read_openpose_json(path), kp, rtol=1e-6)
    body25 = tmp_path / "b.json"
    body25.write_text(json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": [0.0] * 75}]}))
    with pytest.raises(ValueError, match="75"):
        read_openpose_json(body25)
    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(ValueError, match="c.json"):
        read_openpose_json(tmp_path / "c.json")


def test_read_image_orders_and_errors(tmp_path: Path) -> None:
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0] = 200  # red
    write_image(tmp_path / "red.png", rgb)
    assert read_image(tmp_path / "red.png")[0, 0].tolist() == [200, 0, 0]
    assert read_image(tmp_path / "red.png", color="BGR")[0, 0].tolist() == [0, 0, 200]
    cv2.imwrite(str(tmp_path / "gray.png"), np.full((5, 7), 33, np.uint8))
    assert read_image(tmp_path / "gray.png").shape == (5, 7, 3)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(IsADirectoryError):
        read_image(tmp_path)
    (tmp_path / "zero.png").write_bytes(b"")
    with pytest.raises(ValueError, match="zero.png.*empty"):
        read_image(tmp_path / "zero.png")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(ValueError, match="text.png.*cannot decode"):
        read_image(tmp_path / "text.png")
