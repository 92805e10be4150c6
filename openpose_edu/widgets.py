"""Interactive explorers for the notebooks, built from ipywidgets controls and matplotlib.

* ``StageExplorer``: model x image x stage t x part / limb, S^t and L^t side by side
  (Eq. 1-2, Fig. 4). The network runs once per (model, image); a slider move only redraws.
* ``GroundTruthPlayground``: S* and L* of a scene for any sigma, limb width and the paper or
  released-code variant (Eq. 6-9).
* ``AssemblyStepper``: the parse of one image step by step: candidate peaks, the line-integral
  samples of each candidate pair and its score (Eq. 10-11), each greedy decision in order
  (Eq. 12-15), the people, with threshold sliders.

Every explorer has ``.figure(...)`` (a static matplotlib Figure of a view; notebooks display the
default one so stored outputs show a picture) and ``.widget()`` (the ipywidgets UI, whose
picture is an ``ipywidgets.Image`` that each control move re-renders). Explained in notebooks
03, 04, 05 and 07 and in the workshop app.
"""

from __future__ import annotations

import base64
import html
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from . import viz
from .inference import Maps, Poses, infer_maps, parsing_params_of, poses_from_maps
from .io import check_image
from .skeleton import BACKGROUND, COLORS, LIMBS, PART_NAMES

if TYPE_CHECKING:
    import ipywidgets
    from matplotlib.figure import Figure

ALL = -1  # the "all parts" / "all limbs" choice of the part and limb menus


def part_options() -> list[tuple[str, int]]:
    """(label, value) pairs of a part menu: all parts, the 18 parts, the background."""
    return [
        ("all parts", ALL),
        *((f"{j} {n}", j) for j, n in enumerate(PART_NAMES)),
        ("background", BACKGROUND),
    ]


def limb_options() -> list[tuple[str, int]]:
    """(label, value) pairs of a limb menu: all limbs, then the 19 limbs in inference order."""
    return [("all limbs", ALL), *((f"{lb.index} {lb.name}", lb.index) for lb in LIMBS)]


def people_text(n: int) -> str:
    """'1 person', '0 people', '3 people'."""
    return f"{n} person" if n == 1 else f"{n} people"


def _busy_html(text: str) -> str:
    """A visible "working" line (shown while the network runs; the kernel answers nothing else)."""
    return f'<span style="color:#b35900"><b>&#9203; {html.escape(text)}</b></span>'


def _picture(display: viz.Display) -> ipywidgets.Image:
    """An Image shown ``display.width_px`` CSS pixels wide, height following the aspect (``_show``):
    a PNG of ``display.pixels`` pixels is then shown at its true sharpness, never stretched."""
    import ipywidgets as w

    return w.Image(format="png", layout=w.Layout(width=f"{display.width_px}px", align_self="flex-start"))


def _image_size(data: bytes) -> tuple[int, int, str]:
    """(width, height, "png" or "jpeg") of PNG or JPEG bytes, from the header."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.size[0], im.size[1], im.format.lower()


def _show(picture: ipywidgets.Image, png: bytes, width_px: float) -> None:
    """Put ``png`` into ``picture``, shown ``width_px`` CSS pixels wide and as high as its aspect says.

    An explicit height (read from the PNG header) keeps flex boxes from stretching the picture.
    """
    w, h, fmt = _image_size(png)
    if picture.format != fmt:
        picture.format = fmt
    height = f"{round(width_px * h / max(w, 1))}px"
    if picture.layout.height != height:
        picture.layout.height = height
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
            mime, stored = _static_picture(bytes(picture.value))
            data[mime] = base64.b64encode(stored).decode("ascii")
            data["text/plain"] = "(an interactive widget: run the notebook to use it)"
            width = str(picture.layout.width or "").removesuffix("px")
            return (data, {mime: {"width": int(float(width))}}) if width else data

    return WidgetBox


def _static_picture(data: bytes, quality: int = 85) -> tuple[str, bytes]:
    """(mime type, bytes) of the widget's picture for a notebook opened without a kernel: the
    smaller of the PNG and a JPEG (a PNG of a photo overlay is several times larger, and the
    stored notebook carries it; flat synthetic scenes compress better as PNG)."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        if im.format == "JPEG":
            return "image/jpeg", data
        out = io.BytesIO()
        im.convert("RGB").save(out, format="JPEG", quality=quality)
    jpeg = out.getvalue()
    return ("image/jpeg", jpeg) if len(jpeg) < len(data) else ("image/png", data)


def _WidgetBox(children: list) -> ipywidgets.VBox:
    global _WIDGET_BOX
    if _WIDGET_BOX is None:
        _WIDGET_BOX = _widget_box_class()
    return _WIDGET_BOX(children)


_WIDGET_BOX: Any = None


def _as_named(x: Any, default: str) -> dict[str, Any]:
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
    import cv2

    h, w = maps.grid_size
    if image.shape[:2] == (h, w):
        return image
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)


# --------------------------------------------------------------------------------------------
# Stage explorer
# --------------------------------------------------------------------------------------------


class StageExplorer:
    """S^t and L^t of any model on any image, for any stage t, part and limb (Eq. 1-2, Fig. 4).

    ``models``: a model or {name: model} (anything with ``.input_spec``, ``.stride`` and a forward
    returning NetworkOutput). ``images``: a uint8 (H, W, 3) image or {name: image}. The forward
    pass runs once per (model, image) and is cached; ``redraw`` only swaps the displayed arrays.
    Three views: "maps" (S^t with its 0..1 colorbar, L^t with its colour wheel), "change"
    (S^t - S^{t-1} and |L^t| - |L^{t-1}|: what stage t corrected) and "arrows" (L^t as a quiver).
    ``display``: the width (CSS pixels) and device pixel ratio the picture is rendered for.
    """

    VIEWS = ("maps", "change", "arrows")

    def __init__(
        self,
        models: nn.Module | Mapping[str, nn.Module],
        images: np.ndarray | Mapping[str, np.ndarray],
        color: str = "RGB",
        display: viz.Display | None = None,
    ) -> None:
        self.models = _as_named(models, "model")
        self.images = _as_named(images, "image")
        if not self.models or not self.images:
            raise ValueError("StageExplorer needs at least one model and one image")
        self.images = {name: check_image(im, name=f"image {name!r}") for name, im in self.images.items()}
        self.color = color
        self.display = display or viz.Display()
        self._cache: dict[tuple[str, str], Maps] = {}
        self._people: dict[tuple, Any] = {}
        # The two pictures of the last views drawn (a slider moved back is only pasted again).
        self._pictures: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._fig: Figure | None = None
        self._key: tuple[str, str] | None = None
        self.forward_calls = 0  # how often the network actually ran (the cache's witness)

    def _key_of(self, model: str | None, image: str | None) -> tuple[str, str]:
        key = (model or next(iter(self.models)), image or next(iter(self.images)))
        if key[0] not in self.models or key[1] not in self.images:
            raise ValueError(
                f"unknown model/image {key}; models {list(self.models)}, images {list(self.images)}"
            )
        return key

    def is_cached(self, model: str | None = None, image: str | None = None) -> bool:
        """Whether (model, image)'s forward pass has run (if not, the next view waits for it)."""
        return self._key_of(model, image) in self._cache

    def maps(self, model: str | None = None, image: str | None = None) -> Maps:
        """The cached maps of every stage of (model, image) (``network_maps``); the network runs once."""
        key = self._key_of(model, image)
        if key not in self._cache:
            self._cache[key] = network_maps(self.models[key[0]], self.images[key[1]], self.color)
            self.forward_calls += 1
        return self._cache[key]

    def people(
        self, model: str | None = None, image: str | None = None, stage: int | None = None, params: Any = None
    ) -> Poses:
        """The people parsed from stage ``stage``'s maps (Sec. 2.4), cached per view.

        Reuses the cached maps and parses them with ``inference.poses_from_maps``, exactly as
        ``estimate(..., stage=stage)`` does, with ``params`` or the model's own thresholds
        (``inference.parsing_params_of``). Returns ``inference.Poses`` (keypoints in image pixels).
        """
        key = (model or next(iter(self.models)), image or next(iter(self.images)))
        maps = self.maps(*key)
        t = maps.stage if stage is None else stage
        params = parsing_params_of(self.models[key[0]], params)
        cache_key = (*key, t, params)
        if cache_key not in self._people:
            self._people[cache_key] = poses_from_maps(maps, params, stage=t)
        return self._people[cache_key]

    def add_image(self, name: str, image: np.ndarray) -> None:
        """Offer one more image (e.g. an upload); its forward pass runs when it is first shown."""
        self.images[name] = check_image(image, name=f"image {name!r}")

    def n_stages(self, model: str | None = None) -> int:
        """T of a model (runs it on the first image if it has not run yet)."""
        return self.maps(model).n_stages

    def _build(self, key: tuple[str, str]) -> None:
        """A fresh figure for a new (model, image): one picture artist per panel, legends, layout."""
        from matplotlib.figure import Figure

        out = self.maps(*key)
        image = self.images[key[1]]
        stride = 1  # the maps' grid covers the whole image (inference.network_grid)
        cell = image.shape[1] / out.grid_size[1]  # image pixels per grid pixel
        self._step = max(1, round(2 * self.models[key[0]].stride / cell))  # an arrow per 2 x 2 network cells
        H, W = image.shape[:2]
        d = self.display
        # Two panels of the image's aspect side by side, plus room for titles and the colorbar.
        fig = Figure(figsize=d.figsize(0.5 * H / W * 0.92 + 0.06), dpi=d.dpi, layout="constrained")
        ax_s, ax_l = fig.subplots(1, 2)
        self._hs = viz.plot_heatmap(ax_s, out.S, None, image=image, stride=stride, colorbar=True)
        self._hl = viz.plot_paf_rgb(ax_l, out.L, None, image=image, stride=stride, legend=True)
        self._wheel = ax_l.child_axes[-1]
        # The arrow view: one arrow per 2 x 2 block of map cells, hidden until asked for.
        self._quiver = viz.plot_paf_arrows(ax_l, out.L, None, stride=cell, step=self._step, min_norm=-1.0)
        ax_l.set_xlim(-0.5, W - 0.5)
        ax_l.set_ylim(H - 0.5, -0.5)
        self._quiver.set_visible(False)
        self._ax_s, self._ax_l = ax_s, ax_l
        self._fig, self._key = fig, key
        viz.figure_to_png(fig)  # lay the panels out once ...
        fig.set_layout_engine("none")  # ... then freeze it: a redraw only repaints
        self._blit: dict[str, Any] | None = None

    def redraw(
        self, model: str | None = None, image: str | None = None, stage: int | None = None,
        part: int = ALL, limb: int = ALL, view: str = "maps",
    ) -> Figure:  # fmt: skip
        """Show stage ``stage`` (1-based, default the last) of (model, image) in ``view``.

        "maps": S^t (``part`` or all parts) and L^t (``limb`` or all limbs), fixed scales;
        "change": S^t - S^{t-1} and |L^t| - |L^{t-1}| (red grew, blue shrank; stage 1 against
        zero); "arrows": S^t and L^t as arrows. Only array swaps unless (model, image) changed.
        Returns the (persistent) Figure.
        """
        if view not in self.VIEWS:
            raise ValueError(f"view must be one of {self.VIEWS}, got {view!r}")
        key = self._key_of(model, image)
        if key != self._key:
            self._build(key)
        out = self.maps(*key)
        t = out.stage if stage is None else stage
        S_L = out.stage_maps(t)
        p, c = (None if part == ALL else part), (None if limb == ALL else limb)
        pname, lname = viz.part_label(p), viz.limb_label(c)
        pictures = self._view_pictures(key, t, p, c, view)
        self._hs.set_data(pictures[0])
        self._hl.set_data(pictures[1])
        if view == "change":
            prev = f"S^{{{t - 1}}}" if t > 1 else "0"
            self._ax_s.set_title(f"$S^{{{t}}} - {prev}$: {pname} (red grew, blue shrank)", fontsize=9)
            self._ax_l.set_title(f"$|L^{{{t}}}| - |{prev.replace('S', 'L')}|$: {lname}", fontsize=9)
        else:
            self._ax_s.set_title(f"$S^{{{t}}}$: {pname}", fontsize=9)
            self._ax_l.set_title(f"$L^{{{t}}}$: {lname}", fontsize=9)
            if view == "arrows":
                vec = viz.limb_field(S_L[1], c)[:, :: self._step, :: self._step]
                self._quiver.set_UVC(vec[0].ravel(), vec[1].ravel())
        self._quiver.set_visible(view == "arrows")
        self._wheel.set_visible(view == "maps")
        assert self._fig is not None
        return self._fig

    def _view_pictures(
        self, key: tuple[str, str], t: int, p: int | None, c: int | None, view: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """The two uint8 pictures (S panel, L panel) of one view, kept for the last 32 views."""
        ck = (key, t, p, c, view)
        if ck in self._pictures:
            self._pictures.move_to_end(ck)
            return self._pictures[ck]
        out, photo, stride = self.maps(*key), self.images[key[1]], 1
        S, L = out.stage_maps(t)
        if view == "change":
            S0, L0 = out.stage_maps(t - 1) if t > 1 else (np.zeros_like(S), np.zeros_like(L))
            norm = lambda x: np.hypot(*viz.limb_field(x, c))  # noqa: E731
            pictures = (
                viz.overlay_change(photo, viz.part_map(S, p) - viz.part_map(S0, p), stride),
                viz.overlay_change(photo, norm(L) - norm(L0), stride),
            )
        else:
            pictures = (
                viz.overlay_heatmap(photo, S, p, stride),
                photo if view == "arrows" else viz.overlay_paf(photo, L, c, stride),
            )
        self._pictures[ck] = pictures
        if len(self._pictures) > 32:
            self._pictures.popitem(last=False)
        return pictures

    def figure(self, **view: Any) -> Figure:
        """A static Figure of one view (default: first model and image, last stage, all parts/limbs)."""
        fig = self.redraw(**view)
        for artist in self._changing():
            artist.set_animated(False)
        self._fig = None  # hand this figure out; the next redraw builds its own
        self._key = None
        return fig

    def _changing(self) -> list:
        """The artists a redraw changes: the two pictures, the titles, the arrows, the wheel."""
        return [self._hs, self._hl, self._ax_s.title, self._ax_l.title, self._quiver, self._wheel]

    def pixels(self, **view: Any) -> np.ndarray:
        """The RGBA device pixels (H, W, 4) of a view: one redraw plus rendering (a slider move).

        Blitting: the still parts (colorbar, frame) are rendered once; a redraw pastes the two
        pictures, resized to their panels' device pixels with OpenCV, and draws only the titles,
        arrows and wheel on top, instead of letting Agg resample every pixel of a large figure.
        """
        import cv2
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig = self.redraw(**view)
        canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
        if self._blit is None:
            for artist in self._changing():
                artist.set_animated(True)
            canvas.draw()
            boxes = []
            height = canvas.get_width_height()[1]
            for ax in (self._ax_s, self._ax_l):
                x0, y0, x1, y1 = ax.get_window_extent().extents
                boxes.append((round(height - y1), round(height - y0), round(x0), round(x1)))
            self._blit = dict(background=canvas.copy_from_bbox(fig.bbox), boxes=boxes)
        canvas.restore_region(self._blit["background"])
        buf = np.asarray(canvas.buffer_rgba())
        for handle, (r0, r1, c0, c1) in zip((self._hs, self._hl), self._blit["boxes"]):
            picture = np.asarray(handle.get_array())[..., :3]
            buf[r0:r1, c0:c1, :3] = cv2.resize(picture, (c1 - c0, r1 - r0), interpolation=cv2.INTER_LINEAR)
            buf[r0:r1, c0:c1, 3] = 255
        renderer = canvas.get_renderer()
        for artist in (self._ax_s.title, self._ax_l.title, self._quiver, self._wheel):
            if artist.get_visible():
                artist.draw(renderer)
        return buf

    def png(self, **view: Any) -> bytes:
        """PNG bytes of a view (lossless; slow to encode at a large size: see ``jpeg``)."""
        import cv2

        ok, data = cv2.imencode(".png", self.pixels(**view)[..., 2::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise RuntimeError("OpenCV could not encode the figure as PNG")
        return data.tobytes()

    def jpeg(self, **view: Any) -> bytes:
        """JPEG bytes (quality 92) of a view: what the widget shows. A 1920 px picture of photos
        encodes some 20 times faster as JPEG than as PNG, and is some 8 times smaller."""
        import cv2

        ok, data = cv2.imencode(".jpg", self.pixels(**view)[..., 2::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:
            raise RuntimeError("OpenCV could not encode the figure as JPEG")
        return data.tobytes()

    def widget(self) -> ipywidgets.VBox:
        """The UI: model and image menus, a stage slider 1..T, part and limb menus, the view, the picture.

        The picture is rendered at ``display.width_px`` x ``display.dpr`` pixels and shown
        ``display.width_px`` CSS pixels wide. ``box.set_images(names, value)`` changes the
        image menu's options and value together (one redraw, of ``value``).
        """
        import ipywidgets as w

        wide = {"description_width": "initial"}
        model = w.Dropdown(options=list(self.models), description="model", style=wide)
        image = w.Dropdown(options=list(self.images), description="image", style=wide)
        T = self.n_stages()
        stage = w.IntSlider(value=T, min=1, max=T, description="stage t", continuous_update=True, style=wide)
        part = w.Dropdown(options=part_options(), value=ALL, description="part", style=wide)
        limb = w.Dropdown(options=limb_options(), value=ALL, description="limb", style=wide)
        view = w.ToggleButtons(
            options=[("maps", "maps"), ("change from t-1", "change"), ("arrows", "arrows")],
            value="maps", description="view", style={"description_width": "initial", "button_width": "auto"},
        )  # fmt: skip
        picture = _picture(self.display)
        busy = w.HTML()
        hold = [False]

        def update(_change: Any = None) -> None:
            if hold[0]:
                return
            if not self.is_cached(model.value, image.value):
                busy.value = _busy_html(f"running {model.value} on {image.value} ...")
            try:
                n = self.n_stages(model.value)
                if stage.max != n:
                    stage.max = n
                data = self.jpeg(
                    model=model.value, image=image.value, stage=stage.value, part=part.value,
                    limb=limb.value, view=view.value,
                )  # fmt: skip
                _show(picture, data, self.display.width_px)
            finally:
                busy.value = ""

        def set_images(names: list[str], value: str) -> None:
            hold[0] = True
            try:
                image.options = names
                image.value = value
            finally:
                hold[0] = False
            update()

        for control in (model, image, stage, part, limb, view):
            control.observe(update, names="value")
        update()
        controls = w.HBox([w.VBox([model, image, view]), w.VBox([stage, part, limb])])
        box = _WidgetBox([controls, busy, picture])
        box.update = update  # type: ignore[attr-defined]  # for tests and benchmarks
        box.set_images = set_images  # type: ignore[attr-defined]
        box.controls = dict(model=model, image=image, stage=stage, part=part, limb=limb, view=view)  # type: ignore[attr-defined]
        box.picture = picture  # type: ignore[attr-defined]
        box.busy = busy  # type: ignore[attr-defined]
        return box


# --------------------------------------------------------------------------------------------
# Ground-truth playground
# --------------------------------------------------------------------------------------------


@dataclass
class GroundTruthPlayground:
    """S* and L* of one scene under any sigma, limb width and variant (Eq. 6-9).

    ``keypoints``: (P, 18, 3) [x, y, v] in input pixels; ``image``: the uint8 scene they belong to.
    sigma and limb width (the half-width sigma_l of Eq. 8) are in input pixels; the variants
    are groundtruth.py's "paper" and "released" (CMU's training code).
    """

    image: np.ndarray
    keypoints: np.ndarray
    stride: int = 8
    display: viz.Display = field(default_factory=viz.Display)

    def maps(
        self, sigma: float = 7.0, limb_width: float = 8.0, variant: str = "paper"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(S* (19, h, w), L* (38, h, w)) from groundtruth.py for these settings."""
        from . import groundtruth

        H, W = self.image.shape[:2]
        grid = (-(-H // self.stride), -(-W // self.stride))
        kp = torch.as_tensor(np.asarray(self.keypoints, np.float32))[None]  # (1, P, 18, 3)
        S = groundtruth.confidence_maps(kp, grid_size=grid, stride=self.stride, sigma=sigma, variant=variant)
        L = groundtruth.part_affinity_fields(
            kp, grid_size=grid, stride=self.stride, limb_width=limb_width, variant=variant
        )
        return S[0], L[0]

    def figure(
        self,
        sigma: float = 7.0,
        limb_width: float = 8.0,
        variant: str = "paper",
        part: int = ALL,
        limb: int = ALL,
    ) -> Figure:
        """S* (one part or all) and L* (one limb or all) over the scene, side by side."""
        from matplotlib.figure import Figure

        S, L = self.maps(sigma, limb_width, variant)
        H, W = self.image.shape[:2]
        fig = Figure(figsize=self.display.figsize(0.5 * H / W * 0.92 + 0.06), dpi=self.display.dpi,
                     layout="constrained")  # fmt: skip
        ax_s, ax_l = fig.subplots(1, 2)
        p, c = (None if part == ALL else part), (None if limb == ALL else limb)
        s_title = f"$S^*$ ({variant}, $\\sigma$ = {sigma:g} px): {viz.part_label(p)}"
        l_title = f"$L^*$ ({variant}, width {limb_width:g} px): {viz.limb_label(c)}"
        viz.plot_heatmap(ax_s, S, p, image=self.image, stride=self.stride, colorbar=True, title=s_title)
        viz.plot_paf_rgb(ax_l, L, c, image=self.image, stride=self.stride, legend=True, title=l_title)
        return fig

    def widget(self) -> ipywidgets.VBox:
        """Sliders for sigma and limb width, a paper/released toggle, part and limb menus."""
        import ipywidgets as w

        wide = {"description_width": "initial"}
        sigma = w.FloatSlider(value=7.0, min=1.0, max=20.0, step=0.5, description="sigma (px)", style=wide)
        width = w.FloatSlider(
            value=8.0, min=2.0, max=24.0, step=1.0, description="limb width (px)", style=wide
        )
        variant = w.ToggleButtons(
            options=["paper", "released"], value="paper", description="variant", style=wide
        )
        part = w.Dropdown(options=part_options(), value=ALL, description="part", style=wide)
        limb = w.Dropdown(options=limb_options(), value=ALL, description="limb", style=wide)
        controls = dict(sigma=sigma, limb_width=width, variant=variant, part=part, limb=limb)
        return _render_widget(self.figure, controls, self.display)


# --------------------------------------------------------------------------------------------
# Assembly stepper
# --------------------------------------------------------------------------------------------


class AssemblyStepper:
    """The parse of one image, step by step (Sec. 2.4, Eq. 10-15, Fig. 6).

    ``S`` (19, H, W) and ``L`` (38, H, W) are maps at image resolution (``inference.infer_maps``),
    ``image`` the uint8 (H, W, 3) picture they belong to. For a limb type it shows every candidate
    peak, the pair being decided at step ``step`` with its line-integral sample points colored by
    the sign of L_c(p(u)) . v (red along the limb, blue against), each decided pair's score, and
    the greedy decisions up to that step; beside it the people found; below, the decisions as text.
    Parses are cached per set of thresholds, so moving the step slider only redraws.
    ``params``: the thresholds to start from (default the demo's ``ParsingParams()``; pass
    ``inference.parsing_params_of(model)`` for the ones chosen for a model, as ``from_model`` does).
    """

    def __init__(
        self, image: np.ndarray, S: Any, L: Any, params: Any = None, display: viz.Display | None = None
    ) -> None:
        from .assembly import ParsingParams

        self.image = check_image(image)
        # The thresholds the sliders start from and the others keep (default: the demo's).
        self.params = params or ParsingParams()
        self.S = viz._numpy(S)
        self.L = viz._numpy(L)
        if self.S.ndim != 3 or self.L.shape[1:] != self.S.shape[1:]:
            raise ValueError(
                f"S {self.S.shape} and L {self.L.shape} must be one image's maps on one grid (C, h, w); "
                "use inference.infer_maps"
            )
        if self.image.shape[:2] != self.S.shape[1:]:  # draw on the maps' grid (display only)
            import cv2

            h, w = self.S.shape[1:]
            self.image = cv2.resize(self.image, (w, h), interpolation=cv2.INTER_AREA)
        self.display = display or viz.Display()
        self._cache: dict[Any, Any] = {}

    @classmethod
    def from_model(
        cls, model: Any, image: np.ndarray, stage: int | None = None, color: str = "RGB", **kwargs: Any
    ) -> AssemblyStepper:
        """The stepper of ``model``'s stage ``stage`` maps of ``image`` (``inference.infer_maps``),
        starting from the model's own thresholds (``inference.parsing_params_of``)."""
        maps = infer_maps(model, image, color=color, all_stages=stage is not None, stage=stage)
        S, L = maps.stage_maps(stage)
        kwargs.setdefault("params", parsing_params_of(model))
        return cls(image, S, L, **kwargs)

    def parse(self, **thresholds: float) -> Any:
        """``assembly.parse`` with ``self.params`` changed by ``thresholds`` (cached): People, ``.steps``."""
        from dataclasses import replace

        from .assembly import parse

        params = replace(self.params, **thresholds)
        if params not in self._cache:
            self._cache[params] = parse(self.S, self.L, params)
        return self._cache[params]

    def threshold_ranges(self) -> dict[str, tuple[float, float]]:
        """Where each threshold acts on these maps: {name: (low, high)}, measured on this image.

        peak_threshold: up to the highest candidate peak (above it no part is left);
        paf_threshold: up to the highest value at which some candidate pair still has its
        ``min_above_fraction`` of samples above it (above it no limb is valid);
        min_mean_score: up to the best person's score per part (above it nobody is kept).
        """
        loose = self.parse(peak_threshold=0.01, paf_threshold=0.0, min_mean_score=0.0)
        steps = loose.steps
        peak_hi = float(steps.peaks.score.max()) if len(steps.peaks.score) else 1.0
        q = 1.0 - self.params.min_above_fraction
        paf_hi = max(
            (float(np.quantile(s.paf, q, axis=-1).max()) for s in steps.limbs if s.paf.size), default=1.0
        )
        base = self.parse(min_mean_score=0.0)
        mean_hi = float((base.scores / np.maximum(base.n_parts, 1)).max()) if len(base) else 1.0
        return {
            "peak_threshold": (0.01, max(peak_hi, 0.02)),
            "paf_threshold": (0.0, max(paf_hi, 0.01)),
            "min_mean_score": (0.0, max(mean_hi, 0.01)),
        }

    def decisions(self, limb: int, **thresholds: float) -> list[str]:
        """One line per greedy decision of limb type ``limb``, in order: pair, score, verdict."""
        steps = self.parse(**thresholds).steps
        scores, conns = steps.limbs[limb], steps.connections[limb]
        lines = []
        for r, ((i, j), ok) in enumerate(zip(conns.ranked.tolist(), conns.accepted.tolist())):
            a, b = int(scores.a[i]), int(scores.b[j])
            verdict = "accepted" if ok else "rejected: an end is already used or the limb is full"
            lines.append(f"{r + 1}. candidates {a} -> {b}  E = {scores.score[i, j]:.3f}  {verdict}")
        return lines

    def figure(self, limb: int = 0, step: int | None = None, **thresholds: float) -> Figure:
        """Left: candidates, the current pair's samples, scores and the first ``step`` decisions
        of ``limb``; right: the people."""
        from matplotlib.figure import Figure

        people = self.parse(**thresholds)
        steps = people.steps
        peaks, scores, conns = steps.peaks, steps.limbs[limb], steps.connections[limb]
        lb = LIMBS[limb]
        R = len(conns.ranked)
        step = R if step is None else max(0, min(step, R))
        H, W = self.image.shape[:2]
        d = self.display
        fig = Figure(figsize=d.figsize(0.5 * H / W * 0.92 + 0.06), dpi=d.dpi, layout="constrained")
        ax, ax_p = fig.subplots(1, 2)
        viz.show_image(ax, self.image)
        # Every candidate part, faint; the two part types of this limb, large.
        colors = np.array([COLORS[j] for j in peaks.part.tolist()], np.float32).reshape(-1, 3) / 255
        ax.scatter(peaks.xy[:, 0], peaks.xy[:, 1], s=6, c=colors, alpha=0.5)
        for ids, marker in ((scores.a, "o"), (scores.b, "s")):
            ax.scatter(peaks.xy[ids, 0], peaks.xy[ids, 1], s=40, marker=marker, facecolors="none",
                       edgecolors="w", linewidths=1.2)  # fmt: skip
        label = dict(
            fontsize=7, color="white", bbox=dict(boxstyle="round,pad=0.15", fc="black", ec="none", alpha=0.75)
        )
        for r, ((i, j), ok) in enumerate(zip(conns.ranked.tolist(), conns.accepted.tolist())):
            if r >= step:
                break
            A, B = peaks.xy[scores.a[i]], peaks.xy[scores.b[j]]
            style = (
                dict(color=np.array(COLORS[limb]) / 255, lw=2.5) if ok else dict(color="0.6", lw=1, ls="--")
            )
            ax.plot([A[0], B[0]], [A[1], B[1]], **style)
            ax.text((A[0] + B[0]) / 2, (A[1] + B[1]) / 2, f"{scores.score[i, j]:.2f}", **label)
        # The pair decided at this step: its sample points p(u) of Eq. 11, colored by
        # L_c(p(u)) . v (Eq. 10): red along the limb, blue against it.
        if step >= 1:
            i, j = conns.ranked[step - 1]
            pts, vals = scores.samples[i, j], scores.paf[i, j]
            ax.scatter(pts[:, 0], pts[:, 1], s=22, c=vals, cmap="coolwarm", vmin=-1, vmax=1,
                       edgecolors="black", linewidths=0.5, zorder=4)  # fmt: skip
        ax.set_title(f"{lb.name}: decision {step} of {R}", fontsize=9)
        viz.show_image(ax_p, self.image, title=f"{people_text(len(people))} found")
        viz.plot_skeleton(ax_p, people.keypoints)
        return fig

    def widget(self) -> ipywidgets.VBox:
        """Limb menu, decision slider, sliders for the three thresholds that matter most (over the
        range where each acts on these maps, from ``self.params``), the picture and the decisions."""
        import ipywidgets as w

        d = self.params
        ranges = self.threshold_ranges()
        wide = {"description_width": "initial"}

        def slider(name: str, value: float, text: str) -> w.FloatSlider:
            lo, hi = ranges[name]
            hi = max(hi, value)
            return w.FloatSlider(value=value, min=lo, max=hi, step=(hi - lo) / 100, description=text,
                                 readout_format=".3f", style=wide)  # fmt: skip

        limb = w.Dropdown(options=limb_options()[1:], value=0, description="limb", style=wide)
        step = w.IntSlider(value=0, min=0, max=20, description="decision", style=wide)
        peak = slider("peak_threshold", d.peak_threshold, "peak threshold")
        paf = slider("paf_threshold", d.paf_threshold, "PAF threshold")
        mean = slider("min_mean_score", d.min_mean_score, "min score per part")
        text = w.HTML()

        def figure(limb: int, step: int, peak_threshold: float, paf_threshold: float, min_mean_score: float):
            th = dict(
                peak_threshold=peak_threshold, paf_threshold=paf_threshold, min_mean_score=min_mean_score
            )
            n = len(self.parse(**th).steps.connections[limb].ranked)
            step_slider.max = max(n, 1)
            lines = self.decisions(limb, **th)
            shown = [
                f"<b>{html.escape(x)}</b>" if k == step - 1 else html.escape(x)
                for k, x in enumerate(lines[: max(step, 0)])
            ]
            text.value = (
                "<pre style='line-height:1.3'>" + ("\n".join(shown) or "(no decision yet)") + "</pre>"
            )
            return self.figure(limb, step, **th)

        step_slider = step
        controls = dict(limb=limb, step=step, peak_threshold=peak, paf_threshold=paf, min_mean_score=mean)
        box = _render_widget(figure, controls, self.display)
        box.children = (*box.children, text)
        box.decisions = text  # type: ignore[attr-defined]
        return box


# --------------------------------------------------------------------------------------------
# The workshop app (Voila)
# --------------------------------------------------------------------------------------------


def _decode_upload(content: bytes, max_height: int = 368) -> np.ndarray:
    """Uploaded file bytes -> uint8 RGB (H, W, 3), at most ``max_height`` rows (aspect kept)."""
    import cv2

    bgr = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("the uploaded file is not an image OpenCV can read (try a JPEG or PNG)")
    if bgr.shape[0] > max_height:
        f = max_height / bgr.shape[0]
        bgr = cv2.resize(bgr, (max(1, round(bgr.shape[1] * f)), max_height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(bgr[..., ::-1])


def people_png(image: np.ndarray, keypoints: Any, box_px: int = 360, dpr: float = 2.0) -> tuple[bytes, int]:
    """The people drawn on the photo, sized to fit a ``box_px`` x ``box_px`` CSS-pixel box at
    device pixel ratio ``dpr`` (the photo is enlarged before drawing, so lines stay sharp).

    Returns (PNG bytes, width in CSS pixels to show it at).
    """
    import cv2

    H, W = image.shape[:2]
    css = min(box_px / W, box_px / H)
    f = css * dpr
    big = cv2.resize(
        check_image(image), (max(1, round(W * f)), max(1, round(H * f))), interpolation=cv2.INTER_LINEAR
    )
    kp = np.array(viz._numpy(keypoints), np.float32, copy=True).reshape(-1, len(PART_NAMES), 3)
    kp[..., :2] *= f
    drawn = viz.draw_people(big, kp, radius=max(2, round(3 * f)), thickness=max(2, round(2 * f)))
    return cv2.imencode(".png", drawn[..., ::-1])[1].tobytes(), round(W * css)


def _legend_png(width_px: int = 200, dpr: float = 2.0) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_px / 100, width_px / 100 * 1.05), dpi=100 * dpr, layout="constrained")
    viz.skeleton_legend(fig.subplots(), fontsize=6)
    return viz.figure_to_png(fig)


def workshop(
    models: Mapping[str, nn.Module], images: Mapping[str, np.ndarray], max_height: int = 368,
    display: viz.Display | None = None, people_px: int = 360,
) -> ipywidgets.VBox:  # fmt: skip
    """The workshop app: pick or upload an image, pick a model, then stage, part and limb.

    Shows S^t and L^t (the stage explorer) and, beside them, the people parsed from stage t with
    the legend of part and limb colours. ``models``: {name: model}; ``images``: {name: uint8 RGB
    (H, W, 3)}. ``display``: the maps' picture size (default 820 CSS px, DPR 2); ``people_px``:
    the box of the people picture. Built for ``voila apps/workshop.ipynb``.
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

    def show_people(_change: Any = None) -> None:
        if uploading[0]:
            return
        key = dict(model=c["model"].value, image=c["image"].value)
        people = explorer.people(stage=c["stage"].value, **key)
        png, width = people_png(explorer.images[key["image"]], people.keypoints, people_px, display.dpr)
        people_picture.layout.width = f"{width}px"
        _show(people_picture, png, width)
        status.value = (
            f"<b>{people_text(len(people))}</b> found at stage {c['stage'].value} in "
            f"<i>{html.escape(key['image'])}</i>"
        )

    def on_upload(_change: Any) -> None:
        files = upload.value
        if not files:
            return
        f = files[0] if isinstance(files, (list, tuple)) else next(iter(files.values()))
        try:
            image = _decode_upload(bytes(f["content"]), max_height)
        except ValueError as e:
            status.value = f"<b>{html.escape(str(e))}</b>"
            return
        name = f"upload: {f['name']}"
        explorer.add_image(name, image)
        status.value = _busy_html(f"running {c['model'].value} on {name} ...")
        uploading[0] = True
        try:
            ui.set_images(list(explorer.images), name)  # type: ignore[attr-defined]  # one redraw, of the upload
        finally:
            uploading[0] = False
        show_people()

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


def _render_widget(
    figure_fn: Callable[..., Figure], controls: dict[str, Any], display: viz.Display
) -> ipywidgets.VBox:
    """A VBox of ``controls`` and an Image that shows ``figure_fn(**values)`` after every change."""
    import ipywidgets as w

    picture = _picture(display)

    def update(_change: Any = None) -> None:
        _show(
            picture,
            viz.figure_to_png(figure_fn(**{k: c.value for k, c in controls.items()})),
            display.width_px,
        )

    for control in controls.values():
        control.observe(update, names="value")
    update()
    values = list(controls.values())
    rows = [w.HBox(values[i : i + 3]) for i in range(0, len(values), 3)]
    box = _WidgetBox([*rows, picture])
    box.update = update  # type: ignore[attr-defined]
    box.controls = controls  # type: ignore[attr-defined]
    box.picture = picture  # type: ignore[attr-defined]
    return box
