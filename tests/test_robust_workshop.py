"""Issue 33: the workshop app's uploads: any file is a message in the app, memory stays flat.

Before: an empty file, a 1x5000 strip, a 5000x1 strip and a 300x9000 panorama raised out of the
upload callback (the app showed nothing), a 20000x20000 PNG decoded to 1.2 GB first, and every
upload's maps stayed in the kernel (12 uploads: +1.6 GB, measured by
benchmarks/workshop_memory.py). Now the app keeps its sample images and the latest upload only,
and says what is wrong with a file.
"""

from __future__ import annotations

import struct
import zlib
from datetime import datetime, timezone

import cv2
import numpy as np
import pytest
import torch

from openpose_edu import widgets
from openpose_edu.model import OpenPoseConfig, OpenPoseNet

WHEN = datetime(2024, 1, 1, tzinfo=timezone.utc)


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header says width x height (8-bit gray) over one tiny data chunk: a 'bomb'."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def app():
    torch.manual_seed(0)
    net = OpenPoseNet(OpenPoseConfig.small(width=0.125, n_stages=2)).eval()
    noise = np.random.default_rng(0).integers(0, 256, (72, 96, 3), dtype=np.uint8)
    return widgets.workshop({"small": net}, {"noise": noise})


def upload(app, name: str, content: bytes) -> None:
    f = {"name": name, "type": "image/png", "size": len(content), "content": memoryview(content)}
    app.controls["upload"].value = (dict(f, last_modified=WHEN),)


def png(h: int, w: int) -> bytes:
    return cv2.imencode(".png", np.full((h, w, 3), 120, np.uint8))[1].tobytes()


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("empty.png", b"", "the file is empty (0 bytes)"),
        ("text.png", b"hello", "cannot decode the file as an image"),
        ("strip.png", png(1, 5000), "over the limit of 2048 per side"),
        ("tall.png", png(5000, 1), "smaller than one cell of the network"),
        ("panorama.png", png(300, 9000), "over the limit of 2048 per side"),
        ("bomb.png", png_header(20000, 20000), "over the limit of 64,000,000 pixels"),
    ],
)
def test_a_bad_upload_is_a_message_in_the_app(app, name: str, content: bytes, words: str) -> None:
    upload(app, name, content)  # raised out of the callback before
    assert words in app.status.value, app.status.value
    assert app.controls["image"].value == "noise"  # the app still shows a good image
    assert not [n for n in app.explorer.images if n.startswith("upload")]
    assert app.controls["upload"].value == ()  # the bytes are let go


def test_only_the_latest_upload_is_kept(app) -> None:
    for i in range(3):
        upload(app, f"p{i}.png", png(60 + 8 * i, 80))
        assert app.controls["image"].value == f"upload: p{i}.png" and "found at stage" in app.status.value
    assert list(app.explorer.images) == ["noise", "upload: p2.png"]
    assert list(app.controls["image"].options) == ["noise", "upload: p2.png"]
    assert {k[1] for k in app.explorer._cache} <= {"noise", "upload: p2.png"}
    assert all(k[1] != "upload: p0.png" for k in app.explorer._people)
