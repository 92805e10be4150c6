"""The video path is the image path: the same default network, its model line, --help, --max-frames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_robust_video import _write_video

from openpose_edu import __main__ as cli
from openpose_edu import media, weights


def test_video_defaults_to_the_image_paths_network_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[str | None] = []
    real = weights.load_model

    def recording(name=None, device="cpu"):
        asked.append(name)
        return real("bundled", device=device)  # offline stand-in; the name asked for is what counts

    monkeypatch.setattr(weights, "load_model", recording)
    out = tmp_path / "out"
    rc = cli.main(
        [str(_write_video(tmp_path / "c.mp4")), "--out", str(out), "--no-progress", "--max-frames", "2"]
    )
    assert rc == 0 and asked == [cli.DEFAULT_MODEL]
    assert sorted(p.name for p in out.glob("*_keypoints.json")) == [
        f"c_{i:012d}_keypoints.json" for i in range(2)
    ]
    assert "model: bundled" in capsys.readouterr().err  # the model line of the model actually loaded


def test_help_mentions_videos_and_maps(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Videos:" in text and "--maps S|L" in text and "--max-frames" in text


def test_real_street_video_finds_several_people_per_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        video = media.media_path("video", progress=False)
        weights.fetch(cli.DEFAULT_MODEL, progress=False)
    except (media.MediaUnavailable, OSError, ValueError):
        pytest.skip("no mirror of the example video or of the default weights")
    out = tmp_path / "out"
    assert cli.main([str(video), "--out", str(out), "--no-progress", "--max-frames", "2"]) == 0
    people = [len(json.loads(p.read_text())["people"]) for p in sorted(out.glob("*_keypoints.json"))]
    assert len(people) == 2 and min(people) >= 3, people  # a street with many people walking
    assert f"model: {cli.DEFAULT_MODEL}" in capsys.readouterr().err
