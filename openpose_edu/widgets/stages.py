"""The stage explorer: S^t and L^t of any model on any image, any stage t (Eq. 1-2, Fig. 4)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from torch import nn

from .. import viz
from ..inference import Maps, Poses, parsing_params_of, poses_from_maps
from ..io import check_image
from .base import (
    ALL,
    as_named,
    busy_html,
    limb_options,
    network_maps,
    part_options,
    picture_widget,
    show_png,
    widget_box,
)

# ipywidgets and matplotlib are imported where they are used: the package (and its command
# line) imports without them.
if TYPE_CHECKING:
    import ipywidgets
    from matplotlib.figure import Figure


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
        self.models = as_named(models, "model")
        self.images = as_named(images, "image")
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

    def remove_image(self, name: str) -> None:
        """Forget an image and everything computed from it (its maps of every stage, people, pictures).

        The maps of one photo are every stage's 57 channels at the photo's size (about 150 MB for
        a 368 x 490 photo and 6 stages): the workshop drops an upload's when the next one arrives.
        """
        self.images.pop(name, None)
        for cache in (self._cache, self._people):
            for key in [k for k in cache if k[1] == name]:
                del cache[key]
        for key in [k for k in self._pictures if k[0][1] == name]:
            del self._pictures[key]
        if self._key is not None and self._key[1] == name:  # the figure shows it: build anew next time
            self._fig, self._key, self._blit = None, None, None

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
        # The change view's scales: a diverging bar where S's 0..1 bar is, and one inside L's panel.
        self._s_bar = next(a for a in fig.axes if a not in (ax_s, ax_l))
        s_change = viz.add_change_colorbar(
            ax_s, "change of $S$", cax=fig.add_axes(self._s_bar.get_position())
        ).ax
        l_change = viz.add_change_colorbar(
            ax_l, "change of $|L|$", cax=ax_l.inset_axes([0.55, 0.06, 0.4, 0.035]), orientation="horizontal"
        ).ax
        self._change_bars = (s_change, l_change)
        for bar in self._change_bars:
            bar.set_visible(False)
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
        pname, lname = viz.part_label(p, out.skeleton), viz.limb_label(c, out.skeleton)
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
        self._s_bar.set_visible(view != "change")
        for bar in self._change_bars:
            bar.set_visible(view == "change")
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
        return [self._hs, self._hl, *self._overlays()]

    def _overlays(self) -> list:
        """What a redraw draws over the pasted pictures: titles, arrows, wheel, the colour scales."""
        return [
            self._ax_s.title,
            self._ax_l.title,
            self._quiver,
            self._wheel,
            self._s_bar,
            *self._change_bars,
        ]

    def pixels(self, **view: Any) -> np.ndarray:
        """The RGBA device pixels (H, W, 4) of a view: one redraw plus rendering (a slider move).

        Blitting: the still parts (colorbar, frame) are rendered once; a redraw pastes the two
        pictures, resized to their panels' device pixels with OpenCV, and draws only the titles,
        arrows and wheel on top, instead of letting Agg resample every pixel of a large figure.
        """
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
        for artist in self._overlays():
            if artist.get_visible():
                artist.draw(renderer)
        return buf

    def png(self, **view: Any) -> bytes:
        """PNG bytes of a view (lossless; slow to encode at a large size: see ``jpeg``)."""

        ok, data = cv2.imencode(".png", self.pixels(**view)[..., 2::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise RuntimeError("OpenCV could not encode the figure as PNG")
        return data.tobytes()

    def jpeg(self, **view: Any) -> bytes:
        """JPEG bytes (quality 92) of a view: what the widget shows. A 1920 px picture of photos
        encodes some 20 times faster as JPEG than as PNG, and is some 8 times smaller."""

        ok, data = cv2.imencode(".jpg", self.pixels(**view)[..., 2::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:
            raise RuntimeError("OpenCV could not encode the figure as JPEG")
        return data.tobytes()

    def widget(self) -> ipywidgets.VBox:
        """The UI: model and image menus, a stage slider 1..T, part and limb menus, the view, the picture.

        The picture is rendered at ``display.width_px`` x ``display.dpr`` pixels and shown
        ``display.width_px`` CSS pixels wide. ``box.set_images(names, value)`` changes the
        image menu's options and value together (one redraw, of ``value``). One function, like
        ``workshop``: the controls and their callbacks share state (the busy line, the picture).
        """
        import ipywidgets as w

        wide = {"description_width": "initial"}
        model = w.Dropdown(options=list(self.models), description="model", style=wide)
        image = w.Dropdown(options=list(self.images), description="image", style=wide)
        T = self.n_stages()
        stage = w.IntSlider(value=T, min=1, max=T, description="stage t", continuous_update=True, style=wide)
        skeleton = self.maps().skeleton  # the first model's (output_spec.skeleton)
        part = w.Dropdown(options=part_options(skeleton), value=ALL, description="part", style=wide)
        limb = w.Dropdown(options=limb_options(skeleton), value=ALL, description="limb", style=wide)
        view = w.ToggleButtons(
            options=[("maps", "maps"), ("change from t-1", "change"), ("arrows", "arrows")],
            value="maps", description="view", style={"description_width": "initial", "button_width": "auto"},
        )  # fmt: skip
        picture = picture_widget(self.display)
        busy = w.HTML()
        hold = [False]

        def update(_change: Any = None) -> None:
            if hold[0]:
                return
            if not self.is_cached(model.value, image.value):
                busy.value = busy_html(f"running {model.value} on {image.value} ...")
            try:
                n = self.n_stages(model.value)
                if stage.max != n:
                    stage.max = n
                skeleton = self.maps(model.value).skeleton  # each model's own parts and limbs
                if list(part.options) != part_options(skeleton):
                    hold[0] = True
                    try:
                        part.options, part.value = part_options(skeleton), ALL
                        limb.options, limb.value = limb_options(skeleton), ALL
                    finally:
                        hold[0] = False
                data = self.jpeg(
                    model=model.value, image=image.value, stage=stage.value, part=part.value,
                    limb=limb.value, view=view.value,
                )  # fmt: skip
                show_png(picture, data, self.display.width_px)
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
        box = widget_box([controls, busy, picture])
        box.update = update  # type: ignore[attr-defined]  # for tests and benchmarks
        box.set_images = set_images  # type: ignore[attr-defined]
        box.controls = dict(model=model, image=image, stage=stage, part=part, limb=limb, view=view)  # type: ignore[attr-defined]
        box.picture = picture  # type: ignore[attr-defined]
        box.busy = busy  # type: ignore[attr-defined]
        return box
