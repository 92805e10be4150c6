"""The camera widget in a real browser: Chromium's fake camera fed from a .y4m clip of a real photo.

In JupyterLab and in Voila, on the compiled path (runtime="openvino"; eager where it is not installed,
and the widget's note must say which): the widget starts, frames reach the kernel, at least one person is
found and drawn, the stage slider changes the picture, stop stops. Every server is stopped
(its whole process group). Screenshots go to the test's tmp_path.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import nbformat
import numpy as np
import pytest
from _servers import CHROMIUM, jupyter_env, jupyterlab, run_all_cells, voila

from openpose_edu.runtime import openvino_available

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium browser (apt-get install chromium)"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

NOTEBOOK = [
    "from openpose_edu import camera\nmodel, note = camera.load_live_model()",
    # The compiled path when the extra is installed (CI installs it); the note says which runs.
    "box = camera.camera_widget(model, width=320, max_fps=5, runtime='openvino')\nbox",
]
RUNS = "runtime: openvino" if openvino_available() else "runtime: eager PyTorch"


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 5) -> Path:
    """RGB frames -> a YUV4MPEG2 (4:2:0) file, what Chromium's fake camera plays in a loop."""
    h, w = frames[0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            f.write(b"FRAME\n" + cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def _clip(tmp: Path) -> Path:
    import skimage.data

    photo = cv2.resize(skimage.data.astronaut(), (640, 480), interpolation=cv2.INTER_AREA)
    return write_y4m(tmp / "astronaut.y4m", [np.roll(photo, 4 * i, axis=1) for i in range(5)])


def _drive(page, tmp: Path, name: str) -> None:
    toggle = page.locator(".openpose-camera-toggle").first
    toggle.wait_for(state="visible", timeout=120_000)
    toggle.click()
    info = page.locator(".openpose-camera-info").first
    page.wait_for_function(
        "() => /[1-9][0-9]* people/.test(document.querySelector('.openpose-camera-info').textContent)",
        timeout=120_000,
    )
    picture = page.locator(".openpose-camera-picture").first
    page.screenshot(path=str(tmp / f"{name}_running.png"))
    assert RUNS in page.content()  # the widget's note: which runtime runs the frames
    before = picture.screenshot()
    handle = page.locator(".widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(5):
        handle.press("ArrowLeft")  # stage T -> 1
    changed = False
    for _ in range(120):
        page.wait_for_timeout(500)
        if picture.screenshot() != before:
            changed = True
            break
    page.screenshot(path=str(tmp / f"{name}_stage1.png"))
    assert changed, "the picture did not change after moving the stage slider"
    toggle.click()
    page.wait_for_function(
        "() => document.querySelector('.openpose-camera-info').textContent.includes('camera stopped')",
        timeout=30_000,
    )
    assert toggle.text_content() == "start camera"
    assert re.search("stopped", info.text_content())


def _browser(p, clip: Path):
    args = [
        "--no-sandbox", "--disable-dev-shm-usage", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}", "--use-fake-ui-for-media-stream",
    ]  # fmt: skip
    return p.chromium.launch(executable_path=CHROMIUM, args=args)


def _notebook(root: Path) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in NOTEBOOK])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    path = root / "camera.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = jupyter_env(tmp_path)
    env.setdefault("OPENPOSE_EDU_MIRROR", os.environ.get("OPENPOSE_EDU_MIRROR", "/work/shared/weights"))
    return env


@pytest.mark.parametrize("where", ["lab", "voila"])
def test_camera_in_the_browser(tmp_path: Path, env: dict[str, str], where: str) -> None:
    """In JupyterLab (run every cell) and in Voila (the page runs them)."""
    root = tmp_path / "root"
    root.mkdir()
    path = _notebook(root)
    clip = _clip(tmp_path)
    server = jupyterlab(root, env) if where == "lab" else voila(path, env)
    for base, token in server:
        with playwright_api.sync_playwright() as p:
            browser = _browser(p, clip)
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 1000})
                if where == "lab":
                    run_all_cells(page, base, token, path.name, 60_000)
                else:
                    page.goto(f"{base}/?token={token}", timeout=120_000)
                _drive(page, tmp_path, where)
            finally:
                browser.close()
