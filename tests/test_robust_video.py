"""Issue 33: the video path keeps the image path's promises.

A full disk is an error with nothing under a final name; an output never replaces an input or a
file openpose_edu did not write (the folder's manifest); two inputs never share output names; a
folder of frames of two sizes, a FIFO named ``.mp4`` and ``--out results.mp4`` are one clear line
each; SIGINT, SIGTERM and SIGHUP end the run without a traceback or a temporary file, and a rerun
finishes the work.

The network is replaced by a stub (no people, a short sleep where a kill must land mid-run): these
tests are about files, not poses, and stay fast.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_robust_cli import _wait_for_output

from openpose_edu import __main__ as cli
from openpose_edu import inference, video
from openpose_edu.io import MANIFEST, write_image
from openpose_edu.skeleton import COCO18

ROOT = Path(__file__).resolve().parents[1]
N = 5  # frames per clip

# A subprocess running the CLI with the network replaced: SLEEP seconds per frame, no people.
STUB = """
import sys, time
import numpy as np
from openpose_edu import __main__ as cli, inference, weights
from openpose_edu.skeleton import COCO18

class _Poses:
    keypoints = np.zeros((0, 18, 3), np.float32)
    skeleton = COCO18
    def __len__(self):
        return 0

def estimate(frame, **kwargs):
    time.sleep({sleep})
    return _Poses()

class _Card:
    def summary(self):
        return "a stub network"

class _Model:
    card = _Card()

inference.estimate = estimate
weights.load_model = lambda *a, **k: _Model()
sys.argv[1:] = {argv!r}
sys.exit(cli.main())
"""


class _Poses:
    keypoints = np.zeros((0, 18, 3), np.float32)
    skeleton = COCO18

    def __len__(self) -> int:
        return 0


class _Card:
    def summary(self) -> str:
        return "a stub network"


class _Model:
    card = _Card()


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inference, "estimate", lambda frame, **kwargs: _Poses())
    monkeypatch.setattr(video.weights, "load_model", lambda *a, **k: _Model())


def _frames(n: int = N, h: int = 48, w: int = 64) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def _write_video(path: Path, n: int = N, h: int = 48, w: int = 64) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (w, h))
    for f in _frames(n, h, w):
        writer.write(f)
    writer.release()
    return path


def _count(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return n


def _run(argv: list[str], sleep: float = 0.0, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", STUB.format(sleep=sleep, argv=argv)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _limit_file_size(limit: int):
    """A full disk, for one process: writes beyond ``limit`` bytes fail with EFBIG (not a signal)."""

    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_is_an_error_and_leaves_no_video(tmp_path: Path) -> None:
    clip = _write_video(tmp_path / "in" / "clip.mp4", n=N, h=96, w=128)
    out = tmp_path / "out"
    proc = _run([str(clip), "--out", str(out), "--no-progress"], preexec_fn=_limit_file_size(20_000))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "clip_rendered.mp4: the video encoder wrote" in err and "a full disk" in err, err
    assert "Traceback" not in err
    assert not (out / "clip_rendered.mp4").exists()
    assert not [p.name for p in out.iterdir() if ".part" in p.name]


def test_a_signal_while_a_writer_is_made_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM (SystemExit in the CLI) the moment OpenCV has created the temporary video, before the
    writer is listed for clean-up: the temporary is still deleted (the same race as io.atomic_write's)."""
    clip = _write_video(tmp_path / "in" / "clip.mp4")
    real = cv2.VideoWriter

    def made_then_killed(*args, **kwargs):
        real(*args, **kwargs)
        raise SystemExit(143)

    monkeypatch.setattr(video.cv2, "VideoWriter", made_then_killed)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SystemExit):
        video.process_video(clip, _Model(), out, view=video.MapView(kind="S"), progress=False)
    assert os.listdir(out) == []


def test_out_in_the_input_folder_never_replaces_a_users_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "work"
    clip = _write_video(folder / "clip.mp4")
    mine = {folder / "clip_rendered.mp4": b"my own video", folder / "clip_000000000000_keypoints.json": b"{}"}
    for path, data in mine.items():
        path.write_bytes(data)
    assert cli.main([str(clip), "--out", str(folder), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "exists and was not written by openpose_edu" in err
    for path, data in mine.items():
        assert path.read_bytes() == data


def test_an_input_named_like_an_output_is_not_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _write_video(tmp_path / "a.mp4", n=2)
    a_rendered = _write_video(tmp_path / "a_rendered.mp4", n=4)
    before = a_rendered.read_bytes()
    assert cli.main([str(a), str(a_rendered), "--out", str(tmp_path), "--no-progress"]) == 1
    assert "would overwrite an input" in capsys.readouterr().err
    assert a_rendered.read_bytes() == before and _count(a_rendered) == 4
    assert _count(tmp_path / "a_rendered_rendered.mp4") == 4  # the other input still ran


def test_two_clips_of_one_name_get_their_own_outputs(tmp_path: Path) -> None:
    x = _write_video(tmp_path / "x" / "clip.mp4", n=2)
    y = _write_video(tmp_path / "y" / "clip.mp4", n=3)
    out = tmp_path / "out"
    assert cli.main([str(x), str(y), "--out", str(out), "--no-progress"]) == 0
    assert len(list(out.glob("*_keypoints.json"))) == 5
    assert _count(out / "clip_rendered.mp4") == 2 and _count(out / "clip_mp4_rendered.mp4") == 3
    # A rerun may replace its own files (the manifest lists them).
    assert cli.main([str(x), str(y), "--out", str(out), "--no-progress"]) == 0
    assert "clip_mp4_rendered.mp4" in json.loads((out / MANIFEST).read_text())["files"]


def test_the_current_folder_as_frames_gets_a_named_output(tmp_path: Path, monkeypatch) -> None:
    """``python -m openpose_edu . --video``: '.' has no name; its outputs are not '_rendered.mp4'."""
    for i, frame in enumerate(_frames(2)):
        write_image(tmp_path / f"{i}.png", frame)
    monkeypatch.chdir(tmp_path)
    assert video.unique_names([Path(".")]) == {Path("."): "_frames"}
    assert cli.main([".", "--video", "--out", "out", "--no-progress"]) == 0
    assert _count(tmp_path / "out" / "_frames_rendered.mp4") == 2


def test_frames_of_two_sizes_are_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "walk"
    folder.mkdir()
    for i, f in enumerate(_frames()):
        write_image(folder / f"f{i}.png", f if i != 3 else f[:40])
    out = tmp_path / "out"
    assert cli.main([str(folder), "--video", "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "f3.png: frame 4 is 40x64 (height x width) but the first frame is 48x64" in err
    assert not out.exists() or not list(out.glob("walk*"))


def test_a_fifo_named_mp4_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    proc = _run([str(fifo), "--out", str(tmp_path / "out"), "--no-progress"])
    _, err = proc.communicate(timeout=60)  # it hung forever before
    assert proc.returncode == 1
    assert "pipe.mp4: not a regular file (a FIFO, device or socket)" in err


@pytest.mark.parametrize("out", ["results.mp4", "x.json"])
def test_out_named_like_a_file_is_not_an_input(
    tmp_path: Path, out: str, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "a.png"
    write_image(image, _frames(1)[0])
    assert not video.wants_video([str(image), "--out", out])
    assert not video.wants_video([str(image), "--ou", out, "--model", "m.mp4"])
    assert video.wants_video([str(image), "--out=o", "clip.mp4"])
    assert cli.main([str(image), "--out", str(tmp_path / out), "--no-progress"]) == 2
    assert "--out is the folder the outputs go into, not a file" in capsys.readouterr().err
    assert not (tmp_path / out).exists()


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL], ids=lambda s: s.name
)
def test_a_signal_ends_cleanly_and_a_rerun_finishes(tmp_path: Path, sig: signal.Signals) -> None:
    clip = _write_video(tmp_path / "clip.mp4", n=8)
    out = tmp_path / "out"
    argv = [str(clip), "--out", str(out), "--no-progress"]
    proc = _run(argv, sleep=0.25)
    _wait_for_output(out, proc, 60)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 128 + sig), err
    assert "Traceback" not in err
    if sig != signal.SIGKILL:  # nothing can clean up after SIGKILL: the rerun does
        assert [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != MANIFEST] == []
    assert not (out / "clip_rendered.mp4").exists()
    rerun = _run(argv)
    _, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != MANIFEST] == []
    assert _count(out / "clip_rendered.mp4") == 8 and len(list(out.glob("*_keypoints.json"))) == 8


def test_a_video_too_small_for_a_person_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An 8x8 video runs (its JSON says: nobody) but the run says why nobody can be found."""
    clip = _write_video(tmp_path / "tiny.mp4", n=3, h=8, w=8)
    assert cli.main([str(clip), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "tiny.mp4 frames: 8x8 pixels (height x width) is under 32" in err and "expect no people" in err
    big = _write_video(tmp_path / "big.mp4", n=2, h=48, w=64)
    assert cli.main([str(big), "--out", str(tmp_path / "out2"), "--no-progress"]) == 0
    assert "warning" not in capsys.readouterr().err
