"""The workshop app (Voila, ``apps/workshop.ipynb``): upload or pick an image, the stage explorer
beside the people parsed from the chosen stage.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from torch import nn

from .. import viz
from ..io import check_image, decode_image
from ..skeleton import COCO18, Skeleton
from .base import (
    busy_html,
    people_text,
    show_png,
)

# ipywidgets and matplotlib are imported where they are used: the package (and its command
# line) imports without them.
if TYPE_CHECKING:
    import ipywidgets

from .stages import StageExplorer


def decode_upload(content: bytes, max_height: int = 368) -> np.ndarray:
    """Uploaded file bytes -> uint8 RGB (H, W, 3), at most ``max_height`` rows (aspect kept).

    The header's size is checked before decoding (``io.MAX_IMAGE_PIXELS``). Raises ValueError
    with a message for the app: no bytes, too many pixels, not an image.
    """

    bgr = decode_image(content, "the uploaded file")
    if bgr.shape[0] > max_height:
        f = max_height / bgr.shape[0]
        bgr = cv2.resize(bgr, (max(1, round(bgr.shape[1] * f)), max_height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(bgr[..., ::-1])


def people_png(
    image: np.ndarray, keypoints: Any, box_px: int = 360, dpr: float = 2.0, skeleton: Skeleton = COCO18
) -> tuple[bytes, int]:
    """The people drawn on the photo, sized to fit a ``box_px`` x ``box_px`` CSS-pixel box at
    device pixel ratio ``dpr`` (the photo is enlarged before drawing, so lines stay sharp).

    Returns (PNG bytes, width in CSS pixels to show it at).
    """

    H, W = image.shape[:2]
    css = min(box_px / W, box_px / H)
    f = css * dpr
    big = cv2.resize(
        check_image(image), (max(1, round(W * f)), max(1, round(H * f))), interpolation=cv2.INTER_LINEAR
    )
    kp = np.array(viz.as_numpy(keypoints), np.float32, copy=True).reshape(-1, skeleton.n_parts, 3)
    kp[..., :2] *= f
    r, th = max(2, round(3 * f)), max(2, round(2 * f))
    drawn = viz.draw_people(big, kp, radius=r, thickness=th, skeleton=skeleton)
    return cv2.imencode(".png", drawn[..., ::-1])[1].tobytes(), round(W * css)


def _legend_png(width_px: int = 200, dpr: float = 2.0, skeleton: Skeleton = COCO18) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_px / 100, width_px / 100 * 1.05), dpi=100 * dpr, layout="constrained")
    viz.skeleton_legend(fig.subplots(), fontsize=6, skeleton=skeleton)
    return viz.figure_to_png(fig)


def workshop(
    models: Mapping[str, nn.Module], images: Mapping[str, np.ndarray], max_height: int = 368,
    display: viz.Display | None = None, people_px: int = 360,
) -> ipywidgets.VBox:  # fmt: skip
    """The workshop app: pick or upload an image, pick a model, then stage, part and limb.

    Shows S^t and L^t (the stage explorer) and, beside them, the people parsed from stage t with
    the legend of part and limb colours. ``models``: {name: model}; ``images``: {name: uint8 RGB
    (H, W, 3)}. ``display``: the maps' picture size (default 820 CSS px, DPR 2); ``people_px``:
    the box of the people picture. Built for ``voila apps/workshop.ipynb``. One function: the
    controls, the two callbacks (``show_people``, ``on_upload``) and the layout share the explorer
    and its pictures, so they are read as one closure: build, callbacks, wiring, layout.
    """
    import ipywidgets as w

    display = display or viz.Display(width_px=820)
    explorer = StageExplorer(models, images, display=display)
    ui = explorer.widget()
    c = ui.controls  # type: ignore[attr-defined]
    upload = w.FileUpload(accept="image/*", multiple=False, description="upload an image",
                          layout=w.Layout(width="auto"))  # fmt: skip
    people_picture = w.Image(format="png", layout=w.Layout(height="auto", align_self="flex-start"))
    status = w.HTML()
    legend = w.Image(
        value=_legend_png(dpr=display.dpr), format="png", layout=w.Layout(width="200px", height="auto")
    )
    uploading = [False]
    shown_legend = [COCO18.name]

    def show_people(_change: Any = None) -> None:
        if uploading[0]:
            return
        key = dict(model=c["model"].value, image=c["image"].value)
        people = explorer.people(stage=c["stage"].value, **key)
        png, width = people_png(
            explorer.images[key["image"]], people.keypoints, people_px, display.dpr, people.skeleton
        )
        people_picture.layout.width = f"{width}px"
        show_png(people_picture, png, width)
        if people.skeleton.name != shown_legend[0]:  # the model's own parts and colours
            legend.value = _legend_png(dpr=display.dpr, skeleton=people.skeleton)
            shown_legend[0] = people.skeleton.name
        status.value = (
            f"<b>{people_text(len(people))}</b> found at stage {c['stage'].value} in "
            f"<i>{html.escape(key['image'])}</i>"
        )

    samples = list(explorer.images)  # the images the app came with; uploads come and go

    def show_image(name: str) -> None:
        """Show image ``name`` in the explorer (one redraw), then its people."""
        uploading[0] = True
        try:
            ui.set_images(list(explorer.images), name)  # type: ignore[attr-defined]
        finally:
            uploading[0] = False
        show_people()

    def on_upload(_change: Any) -> None:
        files = upload.value
        if not files:
            return
        f = files[0] if isinstance(files, (list, tuple)) else next(iter(files.values()))
        name, previous = f"upload: {f.get('name', '')}", c["image"].value
        upload.value = ()  # the widget lets go of the file's bytes (this call sees no files: returns)
        try:
            image = decode_upload(bytes(f["content"]), max_height)
        except ValueError as e:  # empty, too large, not an image: the message, nothing else changes
            status.value = f"<b>{html.escape(str(e))}</b>"
            return
        try:
            for old in [n for n in explorer.images if n not in samples]:
                explorer.remove_image(old)  # the latest upload only: memory stays flat
            explorer.add_image(name, image)
            status.value = busy_html(f"running {c['model'].value} on {name} ...")
            show_image(name)
        except Exception as e:  # noqa: BLE001 - any failure is a message in the app, not a traceback
            explorer.remove_image(name)
            try:
                show_image(previous if previous in explorer.images else samples[0])
            except Exception:  # noqa: BLE001 - the message below matters more than the redraw
                pass
            status.value = f"<b>{html.escape(str(e) or type(e).__name__)}</b>"

    for key in ("model", "image", "stage"):
        c[key].observe(show_people, names="value")
    upload.observe(on_upload, names="value")
    show_people()
    controls, busy, picture = ui.children
    side = w.VBox([status, people_picture, legend], layout=w.Layout(margin="0 0 0 12px"))
    app = w.VBox([w.HBox([upload, busy]), controls, w.HBox([picture, side])])
    app.explorer = explorer  # type: ignore[attr-defined]
    app.controls = dict(c, upload=upload)  # type: ignore[attr-defined]
    app.picture = ui.picture  # type: ignore[attr-defined]
    app.people_picture = people_picture  # type: ignore[attr-defined]
    app.status = status  # type: ignore[attr-defined]
    return app
