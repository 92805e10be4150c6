"""What every explorer shares: the part and limb menus, a picture that re-renders on each
control move (``render_widget``), and a box that also carries its picture as a static PNG so a
notebook opened without a kernel still shows it (``widget_box``).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image
from torch import nn

from .. import viz
from ..inference import Maps, infer_maps
from ..skeleton import COCO18, Skeleton

# ipywidgets and matplotlib are imported where they are used: the package (and its command
# line) imports without them.
if TYPE_CHECKING:
    import ipywidgets
    from matplotlib.figure import Figure


ALL = -1  # the "all parts" / "all limbs" choice of the part and limb menus


def part_options(skeleton: Skeleton = COCO18) -> list[tuple[str, int]]:
    """(label, value) pairs of a part menu: all parts, the skeleton's parts, the background."""
    return [
        ("all parts", ALL),
        *((f"{j} {n}", j) for j, n in enumerate(skeleton.parts)),
        ("background", skeleton.background),
    ]


def limb_options(skeleton: Skeleton = COCO18) -> list[tuple[str, int]]:
    """(label, value) pairs of a limb menu: all limbs, then the skeleton's limbs in inference order."""
    return [
        ("all limbs", ALL),
        *((f"{lb.index} {skeleton.limb_name(lb)}", lb.index) for lb in skeleton.limbs),
    ]  # noqa: E501


def people_text(n: int) -> str:
    """'1 person', '0 people', '3 people'."""
    return f"{n} person" if n == 1 else f"{n} people"


def busy_html(text: str) -> str:
    """A visible "working" line (shown while the network runs; the kernel answers nothing else)."""
    return f'<span style="color:#b35900"><b>&#9203; {html.escape(text)}</b></span>'


def picture_widget(display: viz.Display) -> ipywidgets.Image:
    """An Image shown ``display.width_px`` CSS pixels wide, height following the aspect (``show_png``):
    a PNG of ``display.pixels`` pixels is then shown at its true sharpness, never stretched."""
    import ipywidgets as w

    return w.Image(format="png", layout=w.Layout(width=f"{display.width_px}px", align_self="flex-start"))


def _image_size(data: bytes) -> tuple[int, int, str]:
    """(width, height, "png" or "jpeg") of PNG or JPEG bytes, from the header."""

    with Image.open(io.BytesIO(data)) as im:
        return im.size[0], im.size[1], im.format.lower()


def show_png(picture: ipywidgets.Image, png: bytes, width_px: float) -> None:
    """Put ``png`` into ``picture``, shown ``width_px`` CSS pixels wide (at most the width the page
    gives it) and as high as its aspect says, at every width.

    The height is ``auto`` (an image's own aspect ratio): a fixed height in pixels stayed
    when the frontend capped the width (JupyterLab with its file browser open), squeezing the
    picture. ``align_self: flex-start`` keeps flex boxes from stretching it.
    """
    fmt = _image_size(png)[2]
    if picture.format != fmt:
        picture.format = fmt
    layout = {
        "width": f"{round(width_px)}px",
        "max_width": "100%",
        "height": "auto",
    }
    for key, value in layout.items():
        if getattr(picture.layout, key, None) != value:
            setattr(picture.layout, key, value)
    picture.value = png


def _widget_box_class():
    """A VBox whose output also carries its picture as a static PNG (built lazily: ipywidgets)."""
    import ipywidgets as w

    class WidgetBox(w.VBox):
        """A VBox that, besides the live widget, hands the frontend its current picture as image/png.

        A notebook opened without a kernel (nbconvert's HTML export, GitHub, a viewer) then
        shows the picture instead of the text ``VBox(children=...)``; with a kernel, the widget.
        """

        def _repr_mimebundle_(self, **kwargs: Any) -> Any:
            data = super()._repr_mimebundle_(**kwargs) or {}
            picture = getattr(self, "picture", None)
            if picture is None or not picture.value:
                return data
            mime, stored = static_picture(bytes(picture.value))
            data[mime] = base64.b64encode(stored).decode("ascii")
            data["text/plain"] = "(an interactive widget: run the notebook to use it)"
            width = str(picture.layout.width or "").removesuffix("px")
            return (data, {mime: {"width": int(float(width))}}) if width else data

    return WidgetBox


def static_picture(data: bytes, quality: int = 85) -> tuple[str, bytes]:
    """(mime type, bytes) of a widget's picture for a notebook opened without a kernel: the
    smaller of the PNG and a JPEG (a PNG of a photo overlay is several times larger, and the
    stored notebook carries it; flat synthetic scenes compress better as PNG)."""
    with Image.open(io.BytesIO(data)) as im:
        if im.format == "JPEG":
            return "image/jpeg", data
        out = io.BytesIO()
        im.convert("RGB").save(out, format="JPEG", quality=quality)
    jpeg = out.getvalue()
    return ("image/jpeg", jpeg) if len(jpeg) < len(data) else ("image/png", data)


def widget_box(children: list) -> ipywidgets.VBox:
    global _WIDGET_BOX
    if _WIDGET_BOX is None:
        _WIDGET_BOX = _widget_box_class()
    return _WIDGET_BOX(children)


_WIDGET_BOX: Any = None


def as_named(x: Any, default: str) -> dict[str, Any]:
    return dict(x) if isinstance(x, Mapping) else {default: x}


def network_maps(model: nn.Module, image: np.ndarray, color: str = "RGB") -> Maps:
    """Every stage's maps of ``model`` for one uint8 (H, W, 3) image (Eq. 1-2), as ``estimate`` sees them.

    ``inference.infer_maps(..., all_stages=True)``: the image is resized to the model's input
    height (``input_spec.box_size``) exactly as ``estimate`` does, and the maps come on that
    bounded grid (``Maps.grid_size``); ``Maps.stage_maps(t)`` gives (S^t, L^t) as numpy arrays.
    """
    return infer_maps(model, image, color=color, all_stages=True)


def grid_image(image: np.ndarray, maps: Maps) -> np.ndarray:
    """The image resized to the maps' grid, for drawing maps over it (display only)."""

    h, w = maps.grid_size
    if image.shape[:2] == (h, w):
        return image
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)


def render_widget(
    figure_fn: Callable[..., Figure], controls: dict[str, Any], display: viz.Display
) -> ipywidgets.VBox:
    """A VBox of ``controls`` and an Image that shows ``figure_fn(**values)`` after every change."""
    import ipywidgets as w

    picture = picture_widget(display)

    def update(_change: Any = None) -> None:
        show_png(
            picture,
            viz.figure_to_png(figure_fn(**{k: c.value for k, c in controls.items()})),
            display.width_px,
        )

    for control in controls.values():
        control.observe(update, names="value")
    update()
    values = list(controls.values())
    rows = [w.HBox(values[i : i + 3]) for i in range(0, len(values), 3)]
    box = widget_box([*rows, picture])
    box.update = update  # type: ignore[attr-defined]
    box.controls = controls  # type: ignore[attr-defined]
    box.picture = picture  # type: ignore[attr-defined]
    return box
