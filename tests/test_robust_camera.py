"""Issue 33: the live camera replies to every frame, whatever goes wrong with it.

The browser sends the next frame only after the kernel's reply. Before, a frame whose handling
raised anything but ValueError (an empty buffer: ``cv2.error``) got no reply and the stream froze
until stop/start. Now every frame gets a reply, and the widget's message says why one was skipped.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from openpose_edu import camera, load_model
from openpose_edu.camera import encode_jpeg


@pytest.fixture(scope="module")
def widget():
    box = camera.camera_widget(load_model("bundled"), width=160)
    sent: list[dict] = []
    box.camera.send = lambda content, buffers=None: sent.append(content)
    box.sent = sent
    return box


def _frame(box, data: bytes) -> dict:
    before = len(box.sent)
    box.camera._handle_custom_msg({"type": "frame"}, [memoryview(data)])
    assert len(box.sent) == before + 1, "no reply: the browser would wait forever"
    return box.sent[-1]


@pytest.mark.parametrize("data", [b"", b"\xff\xd8\xff", b"not a jpeg"], ids=["empty", "cut", "text"])
def test_a_bad_frame_gets_a_reply_and_a_message(widget, data: bytes) -> None:
    assert _frame(widget, data) == {"type": "result", "people": 0, "ms": 0.0}
    assert widget.camera.message.startswith("frame skipped: cannot decode")


@pytest.mark.parametrize(
    "error", [cv2.error("OpenCV(4) error"), RuntimeError("CUDA out of memory"), KeyError("x"), MemoryError()]
)
def test_any_error_in_a_frame_gets_a_reply(
    widget, error: BaseException, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(*args, **kwargs):
        raise error

    monkeypatch.setattr(camera, "process_frame", fails)
    assert _frame(widget, b"anything")["people"] == 0
    assert widget.camera.message.startswith("frame skipped:")


def test_a_good_frame_after_a_bad_one_is_processed(widget) -> None:
    _frame(widget, b"")
    frames = widget.camera.frames
    reply = _frame(widget, encode_jpeg(np.full((96, 128, 3), 90, np.uint8)))
    assert reply["type"] == "result" and widget.camera.frames == frames + 1
    assert widget.camera.message == ""
