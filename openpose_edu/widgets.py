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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
    """

    def __init__(
        self,
        models: nn.Module | Mapping[str, nn.Module],
        images: np.ndarray | Mapping[str, np.ndarray],
        color: str = "RGB",
        panel_size: float = 3.2,
        dpi: int = 80,
    ) -> None:
        self.models = _as_named(models, "model")
        self.images = _as_named(images, "image")
        if not self.models or not self.images:
            raise ValueError("StageExplorer needs at least one model and one image")
        self.images = {name: check_image(im, name=f"image {name!r}") for name, im in self.images.items()}
        self.color = color
        self.panel_size = panel_size
        self.dpi = dpi
        self._cache: dict[tuple[str, str], Maps] = {}
        self._people: dict[tuple, Any] = {}
        self._fig: Figure | None = None
        self._key: tuple[str, str] | None = None
        self.forward_calls = 0  # how often the network actually ran (the cache's witness)

    def maps(self, model: str | None = None, image: str | None = None) -> Maps:
        """The cached maps of every stage of (model, image) (``network_maps``); the network runs once."""
        key = (model or next(iter(self.models)), image or next(iter(self.images)))
        if key[0] not in self.models or key[1] not in self.images:
            raise ValueError(
                f"unknown model/image {key}; models {list(self.models)}, images {list(self.images)}"
            )
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
        """A fresh figure for a new (model, image): base photo and one map artist per panel."""
        from matplotlib.figure import Figure

        out = self.maps(*key)
        image = grid_image(self.images[key[1]], out)  # the maps' grid is the network input's
        stride = 1
        fig = Figure(
            figsize=(2 * self.panel_size, self.panel_size * 1.05), dpi=self.dpi, layout="constrained"
        )
        ax_s, ax_l = fig.subplots(1, 2)
        self._hs = viz.plot_heatmap(ax_s, out.S, None, image=image, stride=stride)
        self._hl = viz.plot_paf_rgb(ax_l, out.L, None, image=image, stride=stride)
        self._ax_s, self._ax_l = ax_s, ax_l
        self._fig, self._key = fig, key
        viz.figure_to_png(fig)  # lay the panels out once ...
        fig.set_layout_engine("none")  # ... then freeze it: a redraw only repaints

    def redraw(
        self, model: str | None = None, image: str | None = None, stage: int | None = None,
        part: int = ALL, limb: int = ALL,
    ) -> Figure:  # fmt: skip
        """Show S^stage (``part``, or all parts) and L^stage (``limb`` or all) of (model, image).

        ``stage`` is 1-based (default: the last). Only array swaps unless (model, image) changed.
        Returns the (persistent) Figure.
        """
        key = (model or next(iter(self.models)), image or next(iter(self.images)))
        if key != self._key:
            self._build(key)
        out = self.maps(*key)
        t = out.stage if stage is None else stage
        S, L = out.stage_maps(t)
        self._hs.set_data(viz.part_map(S, None if part == ALL else part))
        self._hl.set_data(viz.paf_to_rgba(L, None if limb == ALL else limb))
        pname = "all parts" if part == ALL else ("background" if part == BACKGROUND else PART_NAMES[part])
        lname = "all limbs" if limb == ALL else LIMBS[limb].name
        self._ax_s.set_title(f"S^{t}: {pname}", fontsize=9)
        self._ax_l.set_title(f"L^{t}: {lname}", fontsize=9)
        assert self._fig is not None
        return self._fig

    def figure(self, **view: Any) -> Figure:
        """A static Figure of one view (default: first model and image, last stage, all parts/limbs)."""
        fig = self.redraw(**view)
        self._fig = None  # hand this figure out; the next redraw builds its own
        self._key = None
        return fig

    def png(self, **view: Any) -> bytes:
        """PNG bytes of a view: one redraw plus rendering (what a slider move costs)."""
        return viz.figure_to_png(self.redraw(**view))

    def widget(self) -> ipywidgets.VBox:
        """The UI: model and image menus, a stage slider 1..T, part and limb menus, the picture."""
        import ipywidgets as w

        model = w.Dropdown(options=list(self.models), description="model")
        image = w.Dropdown(options=list(self.images), description="image")
        T = self.n_stages()
        stage = w.IntSlider(value=T, min=1, max=T, description="stage t", continuous_update=True)
        part = w.Dropdown(options=part_options(), value=ALL, description="part")
        limb = w.Dropdown(options=limb_options(), value=ALL, description="limb")
        picture = w.Image(format="png")

        def update(_change: Any = None) -> None:
            n = self.n_stages(model.value)
            if stage.max != n:
                stage.max = n
            picture.value = self.png(
                model=model.value, image=image.value, stage=stage.value, part=part.value, limb=limb.value
            )

        for control in (model, image, stage, part, limb):
            control.observe(update, names="value")
        update()
        controls = w.HBox([w.VBox([model, image]), w.VBox([stage, part, limb])])
        box = w.VBox([controls, picture])
        box.update = update  # type: ignore[attr-defined]  # for tests and benchmarks
        box.controls = dict(model=model, image=image, stage=stage, part=part, limb=limb)  # type: ignore[attr-defined]
        box.picture = picture  # type: ignore[attr-defined]
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
    dpi: int = 80
    panel_size: float = 3.2

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
        fig = Figure(
            figsize=(2 * self.panel_size, self.panel_size * 1.05), dpi=self.dpi, layout="constrained"
        )
        ax_s, ax_l = fig.subplots(1, 2)
        p, c = (None if part == ALL else part), (None if limb == ALL else limb)
        viz.plot_heatmap(ax_s, S, p, image=self.image, stride=self.stride)
        viz.plot_paf_rgb(ax_l, L, c, image=self.image, stride=self.stride, max_norm=1.0)
        ax_s.set_title(f"S* ({variant}, sigma={sigma:g}): {ax_s.get_title()[3:]}", fontsize=9)
        ax_l.set_title(f"L* ({variant}, width={limb_width:g}): {ax_l.get_title()[3:]}", fontsize=9)
        return fig

    def widget(self) -> ipywidgets.VBox:
        """Sliders for sigma and limb width, a paper/released toggle, part and limb menus."""
        import ipywidgets as w

        sigma = w.FloatSlider(value=7.0, min=1.0, max=20.0, step=0.5, description="sigma (px)")
        width = w.FloatSlider(value=8.0, min=2.0, max=24.0, step=1.0, description="limb width (px)")
        variant = w.ToggleButtons(options=["paper", "released"], value="paper", description="variant")
        part = w.Dropdown(options=part_options(), value=ALL, description="part")
        limb = w.Dropdown(options=limb_options(), value=ALL, description="limb")
        controls = dict(sigma=sigma, limb_width=width, variant=variant, part=part, limb=limb)
        return _render_widget(self.figure, controls)


# --------------------------------------------------------------------------------------------
# Assembly stepper
# --------------------------------------------------------------------------------------------


class AssemblyStepper:
    """The parse of one image, step by step (Sec. 2.4, Eq. 10-15, Fig. 6).

    ``S`` (19, H, W) and ``L`` (38, H, W) are maps at image resolution (``inference.infer_maps``),
    ``image`` the uint8 (H, W, 3) picture they belong to. For a limb type it shows every candidate
    peak, the line-integral sample points of every candidate pair colored by L_c(p(u)) . v, each
    pair's score, and the greedy decisions up to step ``step``; beside it the people found.
    Parses are cached per set of thresholds, so moving the step slider only redraws.
    ``params``: the thresholds to start from (default the demo's ``ParsingParams()``; pass
    ``inference.parsing_params_of(model)`` for the ones chosen for a model).
    """

    def __init__(
        self, image: np.ndarray, S: Any, L: Any, dpi: int = 80, panel_size: float = 3.6, params: Any = None
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
        self.dpi, self.panel_size = dpi, panel_size
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
        """Left: candidates, samples, scores and the first ``step`` decisions of ``limb``; right: people."""
        from matplotlib.figure import Figure

        people = self.parse(**thresholds)
        steps = people.steps
        peaks, scores, conns = steps.peaks, steps.limbs[limb], steps.connections[limb]
        lb = LIMBS[limb]
        R = len(conns.ranked)
        step = R if step is None else max(0, min(step, R))
        fig = Figure(figsize=(2 * self.panel_size, self.panel_size), dpi=self.dpi, layout="constrained")
        ax, ax_p = fig.subplots(1, 2)
        viz.show_image(ax, self.image)
        # Every candidate part, faint; the two part types of this limb, large.
        colors = np.array([COLORS[j] for j in peaks.part.tolist()], np.float32).reshape(-1, 3) / 255
        ax.scatter(peaks.xy[:, 0], peaks.xy[:, 1], s=6, c=colors, alpha=0.5)
        for ids, marker in ((scores.a, "o"), (scores.b, "s")):
            ax.scatter(
                peaks.xy[ids, 0], peaks.xy[ids, 1], s=40, marker=marker, facecolors="none", edgecolors="w"
            )
        # The sample points p(u) of Eq. 11 on every pair, colored by the PAF along the pair (Eq. 10).
        if scores.samples.size:
            pts = scores.samples.reshape(-1, 2)
            ax.scatter(pts[:, 0], pts[:, 1], s=5, c=scores.paf.reshape(-1), cmap="coolwarm", vmin=-1, vmax=1)
        for r, ((i, j), ok) in enumerate(zip(conns.ranked.tolist(), conns.accepted.tolist())):
            if r >= step:
                break
            A, B = peaks.xy[scores.a[i]], peaks.xy[scores.b[j]]
            style = (
                dict(color=np.array(COLORS[limb]) / 255, lw=2.5) if ok else dict(color="0.6", lw=1, ls="--")
            )
            ax.plot([A[0], B[0]], [A[1], B[1]], **style)
            ax.text((A[0] + B[0]) / 2, (A[1] + B[1]) / 2, f"{scores.score[i, j]:.2f}", color="w", fontsize=7)
        ax.set_title(f"{lb.name}: decision {step} of {R}", fontsize=9)
        viz.show_image(ax_p, self.image, title=f"{len(people)} people")
        viz.plot_skeleton(ax_p, people.keypoints)
        return fig

    def widget(self) -> ipywidgets.VBox:
        """Limb menu, decision slider, and sliders for the three thresholds that matter most."""
        import ipywidgets as w

        d = self.params
        limb = w.Dropdown(options=limb_options()[1:], value=0, description="limb")
        step = w.IntSlider(value=0, min=0, max=20, description="decision")
        peak = w.FloatSlider(value=d.peak_threshold, min=0.01, max=0.9, step=0.01, description="peak thr")
        paf = w.FloatSlider(value=d.paf_threshold, min=0.0, max=0.9, step=0.01, description="PAF thr")
        mean = w.FloatSlider(value=d.min_mean_score, min=0.0, max=1.5, step=0.05, description="min mean")

        def figure(limb: int, step: int, peak_threshold: float, paf_threshold: float, min_mean_score: float):
            th = dict(
                peak_threshold=peak_threshold, paf_threshold=paf_threshold, min_mean_score=min_mean_score
            )
            n = len(self.parse(**th).steps.connections[limb].ranked)
            step_slider.max = max(n, 1)
            return self.figure(limb, step, **th)

        step_slider = step
        controls = dict(limb=limb, step=step, peak_threshold=peak, paf_threshold=paf, min_mean_score=mean)
        return _render_widget(figure, controls)


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


def workshop(
    models: Mapping[str, nn.Module], images: Mapping[str, np.ndarray], max_height: int = 368
) -> ipywidgets.VBox:
    """The workshop app: pick or upload an image, pick a model, then stage, part and limb.

    Shows S^t and L^t (the stage explorer) and the people parsed from stage t, drawn with the
    skeleton's colors. ``models``: {name: model}; ``images``: {name: uint8 RGB (H, W, 3)}.
    Built for ``voila apps/workshop.ipynb``.
    """
    import cv2
    import ipywidgets as w

    explorer = StageExplorer(models, images)
    ui = explorer.widget()
    c = ui.controls  # type: ignore[attr-defined]
    upload = w.FileUpload(accept="image/*", multiple=False, description="upload an image")
    people_picture = w.Image(format="png")
    status = w.HTML()

    def show_people(_change: Any = None) -> None:
        key = dict(model=c["model"].value, image=c["image"].value)
        people = explorer.people(stage=c["stage"].value, **key)
        drawn = viz.draw_people(explorer.images[key["image"]], people.keypoints)
        people_picture.value = cv2.imencode(".png", drawn[..., ::-1])[1].tobytes()
        status.value = f"<b>{len(people)}</b> people found at stage {c['stage'].value}"

    def on_upload(_change: Any) -> None:
        files = upload.value
        if not files:
            return
        f = files[0] if isinstance(files, (list, tuple)) else next(iter(files.values()))
        try:
            image = _decode_upload(bytes(f["content"]), max_height)
        except ValueError as e:
            status.value = f"<b>{e}</b>"
            return
        name = f"upload: {f['name']}"
        explorer.add_image(name, image)
        c["image"].options = list(explorer.images)
        c["image"].value = name

    for key in ("model", "image", "stage"):
        c[key].observe(show_people, names="value")
    upload.observe(on_upload, names="value")
    show_people()
    app = w.VBox([upload, ui, w.HBox([people_picture, status])])
    app.explorer = explorer  # type: ignore[attr-defined]
    app.controls = dict(c, upload=upload)  # type: ignore[attr-defined]
    app.picture = ui.picture  # type: ignore[attr-defined]
    app.people_picture = people_picture  # type: ignore[attr-defined]
    app.status = status  # type: ignore[attr-defined]
    return app


def _render_widget(figure_fn: Callable[..., Figure], controls: dict[str, Any]) -> ipywidgets.VBox:
    """A VBox of ``controls`` and an Image that shows ``figure_fn(**values)`` after every change."""
    import ipywidgets as w

    picture = w.Image(format="png")

    def update(_change: Any = None) -> None:
        picture.value = viz.figure_to_png(figure_fn(**{k: c.value for k, c in controls.items()}))

    for control in controls.values():
        control.observe(update, names="value")
    update()
    values = list(controls.values())
    rows = [w.HBox(values[i : i + 3]) for i in range(0, len(values), 3)]
    box = w.VBox([*rows, picture])
    box.update = update  # type: ignore[attr-defined]
    box.controls = controls  # type: ignore[attr-defined]
    box.picture = picture  # type: ignore[attr-defined]
    return box
