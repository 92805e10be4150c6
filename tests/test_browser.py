"""A real browser: JupyterLab and the Voila workshop app in headless Chromium (Playwright).

Recipe and pitfalls: ../shared/design/NOTEBOOK_TESTING.md. Each test starts its server on
127.0.0.1 with a token in a temporary root, drives Debian's /usr/bin/chromium, moves a stage
slider and asserts that the picture changed, then stops the server's whole process group.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import nbformat
import pytest
from _servers import CHROMIUM, ROOT, jupyter_env, jupyterlab, run_all_cells, voila

APP = ROOT / "apps" / "workshop.ipynb"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium browser (apt-get install chromium; .ci/run does)"
    ),
]
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (requirements.txt)"
)

EXPLORER_NOTEBOOK = [
    "import numpy as np, torch\n"
    "from openpose_edu import widgets\n"
    "from openpose_edu.model import OpenPoseConfig, OpenPoseNet",
    "torch.manual_seed(0)\n"
    "net = OpenPoseNet(OpenPoseConfig.small(width=0.125, n_stages=3)).eval()\n"
    "image = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)",
    "widgets.StageExplorer(net, image).widget()",
]


def _browser(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])


SHOTS = os.environ.get("OPENPOSE_EDU_SCREENSHOTS")  # a folder to keep the screenshots in (to look at)


def _shot(page, tmp: Path, name: str) -> Path:
    folder = Path(SHOTS) if SHOTS else tmp
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _assert_sharp(page, selector: str) -> None:
    """Every picture matched is shown at most as wide as it is (never stretched by the browser)."""
    sizes = page.eval_on_selector_all(
        selector, "els => els.map(e => [e.naturalWidth, e.getBoundingClientRect().width])"
    )
    assert sizes, f"no picture matches {selector}"
    for natural, shown in sizes:
        if shown > 0:
            assert natural >= shown, f"a picture of {natural} px is stretched to {shown} px"


def _assert_aspect(page, selector: str, tolerance: float = 0.02) -> None:
    """Every picture matched is shown with its own aspect ratio (height / width) within ``tolerance``,
    whatever width the page gives it (JupyterLab with its file browser open caps the width)."""
    sizes = page.eval_on_selector_all(
        selector,
        "els => els.map(e => [e.naturalWidth, e.naturalHeight, e.getBoundingClientRect().width,"
        " e.getBoundingClientRect().height])",
    )
    assert sizes, f"no picture matches {selector}"
    for nw, nh, w, h in sizes:
        if w > 0 and nw > 0:
            ratio = (h / w) / (nh / nw)
            assert abs(ratio - 1) <= tolerance, (
                f"a {nw}x{nh} picture is shown {w:.0f}x{h:.0f} ({ratio:.3f} of its aspect)"
            )


def _move_slider_and_compare(page, picture_selector: str, timeout_ms: float) -> None:
    picture = page.locator(picture_selector).first
    picture.wait_for(state="visible", timeout=timeout_ms)
    page.wait_for_timeout(300)  # let the first image finish decoding
    before = picture.screenshot()
    handle = page.locator(".widget-slider .noUi-handle").first
    handle.focus()
    handle.press("ArrowLeft")  # stage T -> T-1: new maps, same everything else
    end = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < end:
        page.wait_for_timeout(200)
        if picture.screenshot() != before:
            return
    pytest.fail("the figure did not change after moving the stage slider")


def test_jupyterlab_stage_slider_redraws(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in EXPLORER_NOTEBOOK])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(nb, root / "explorer.ipynb")
    for base, token in jupyterlab(root, jupyter_env(tmp_path)):
        with playwright_api.sync_playwright() as p:
            browser = _browser(p)
            try:
                # JupyterLab's default layout on a laptop: 1280 x 800, the file browser open.
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                run_all_cells(page, base, token, "explorer.ipynb", 30_000)
                page.locator(".widget-image").first.wait_for(state="visible", timeout=40_000)
                page.wait_for_timeout(500)
                assert page.locator(".jp-FileBrowser").first.is_visible()  # the width the notebook gets
                _assert_sharp(page, ".widget-image")
                _assert_aspect(page, ".widget-image")
                _shot(page, tmp_path, "jupyterlab_stage_explorer")
                _move_slider_and_compare(page, ".widget-image", 40_000)
                _shot(page, tmp_path, "jupyterlab_stage_explorer_moved")
            finally:
                browser.close()


@pytest.mark.skipif(not APP.exists(), reason="apps/workshop.ipynb not written yet")
def test_voila_workshop_stage_slider_redraws(tmp_path: Path) -> None:
    for base, token in voila(APP, jupyter_env(tmp_path)):
        with playwright_api.sync_playwright() as p:
            browser = _browser(p)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"{base}/?token={token}", timeout=60_000)
                _move_slider_and_compare(page, ".widget-image", 60_000)
                _assert_sharp(page, ".widget-image")
                _assert_aspect(page, ".widget-image")
                _shot(page, tmp_path, "voila_app")
                # Upload a photo: the app must show it (not scene 0) with its people count.
                photo = tmp_path / "my_photo.png"
                import cv2
                from skimage.data import astronaut

                cv2.imwrite(str(photo), astronaut()[::2, ::2, ::-1])
                before = page.locator(".widget-image").first.screenshot()
                # ipywidgets' FileUpload opens the file chooser from its button (no input in the page).
                with page.expect_file_chooser() as chooser:
                    page.locator(".widget-upload").first.click()
                chooser.value.set_files(str(photo))
                status = page.get_by_text("found at stage").first
                page.wait_for_function(
                    "() => [...document.querySelectorAll('.widget-html')].some(e => "
                    "e.innerText.includes('upload: my_photo.png') && e.innerText.includes('found at stage'))",
                    timeout=90_000,
                )
                text = status.inner_text()
                assert re.search(r"\d+ (person|people) found at stage \d+ in upload: my_photo.png", text), (
                    text
                )
                select = page.locator(".widget-dropdown select").nth(1)
                assert select.input_value() == "upload: my_photo.png"
                page.wait_for_timeout(500)
                assert page.locator(".widget-image").first.screenshot() != before
                _assert_sharp(page, ".widget-image")
                _shot(page, tmp_path, "voila_app_after_upload")
                _move_slider_and_compare(page, ".widget-image", 60_000)
            finally:
                browser.close()
