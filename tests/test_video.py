"""The video path (video.py, python -m openpose_edu VIDEO) and the camera's kernel side (camera.py)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from openpose_edu import __main__ as cli
from openpose_edu import load_model, video
from openpose_edu.camera import decode_jpeg, encode_jpeg, process_frame
from openpose_edu.io import MANIFEST, read_openpose_json, write_image
from openpose_edu.video import MapView

N_FRAMES = 5


def _frames(n: int = N_FRAMES, h: int = 96, w: int = 128) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (h, w + 4 * n, 3), dtype=np.uint8)
    return [np.ascontiguousarray(base[:, 4 * i : 4 * i + w]) for i in range(n)]  # a pan


def _write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(f[..., ::-1])
    writer.release()
    return path


def _count_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_video(tmp_path_factory.mktemp("clip") / "clip.mp4", _frames())


def test_video_cli_writes_openpose_json_per_frame_and_videos(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rc = cli.main([str(clip), "--out", str(out), "--no-progress", "--maps", "L", "--map-stage", "1"])
    assert rc == 0
    names = sorted(p.name for p in out.glob("*_keypoints.json"))
    assert names == [f"clip_{i:012d}_keypoints.json" for i in range(N_FRAMES)]
    for p in out.glob("*_keypoints.json"):
        assert json.loads(p.read_text())["version"] == 1.3
        read_openpose_json(p)
    for name in ("clip_rendered.mp4", "clip_maps.mp4"):
        assert _count_frames(out / name) == N_FRAMES
        cap = cv2.VideoCapture(str(out / name))
        assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (128, 96)
        cap.release()
    assert [p.name for p in out.glob(".*")] == [MANIFEST]  # no temporary file left


def test_folder_of_frames_with_video_flag(tmp_path: Path) -> None:
    frames_dir = tmp_path / "walk"
    frames_dir.mkdir()
    for i, f in enumerate(_frames(3)):
        write_image(frames_dir / f"f{i:03d}.png", f)
    out = tmp_path / "out"
    assert cli.main([str(frames_dir), "--video", "--out", str(out), "--no-progress"]) == 0
    names = sorted(p.name for p in out.glob("*_keypoints.json"))
    assert names == [f"walk_{i:012d}_keypoints.json" for i in range(3)]
    assert _count_frames(out / "walk_rendered.mp4") == 3


def test_corrupt_video_gives_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    out = tmp_path / "out"
    assert cli.main([str(bad), "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "bad.mp4" in err and "cannot read a video frame" in err
    assert not list(out.glob("*"))


def test_interrupted_run_leaves_no_half_written_file(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openpose_edu import inference

    real, calls = inference.estimate, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(inference, "estimate", interrupted)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        video.process_video(clip, load_model(None), out, MapView("S"), progress=False)
    files = sorted(p.name for p in out.iterdir() if p.name != MANIFEST)
    # Two finished frames, each a complete JSON file; no video under its final name, no temporaries.
    assert files == [f"clip_{i:012d}_keypoints.json" for i in range(2)]
    for name in files:
        json.loads((out / name).read_text())


def test_map_view_rejects_bad_choices() -> None:
    with pytest.raises(ValueError, match="kind"):
        MapView("X")
    with pytest.raises(ValueError, match="0..25"):
        MapView("L", 26)  # BODY_25 has 26 limbs, COCO-18 19: the maps decide (overlay_map)
    S, L = np.zeros((19, 4, 4), np.float32), np.zeros((38, 4, 4), np.float32)
    with pytest.raises(ValueError, match="0..18"):
        video.overlay_map(np.zeros((8, 8, 3), np.uint8), S, L, MapView("L", 19))
    with pytest.raises(ValueError, match="stage"):
        MapView("S", None, 0)


def test_process_frame_jpeg_in_jpeg_out_and_the_stage_changes_the_picture() -> None:
    model = load_model(None)
    frame = _frames(1, 184, 248)[0]
    data = encode_jpeg(frame)
    first = process_frame(model, data, MapView("S", None, 1))
    last = process_frame(model, data, MapView("S", None, None))
    a, b = decode_jpeg(first.jpeg), decode_jpeg(last.jpeg)
    assert a.shape == b.shape == frame.shape
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 0.5  # stage 1's maps differ from the last's
    assert set(first.timings) == {"decode", "network+parse", "render", "encode"}
    assert first.keypoints.shape[1:] == (18, 3)
    with pytest.raises(ValueError, match="JPEG"):
        decode_jpeg(b"not a jpeg")
