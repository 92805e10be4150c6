"""The assembly stepper: the parse of one image, one decision at a time (Eq. 10-15, Fig. 6).

Either parser: the CVPR 2017 demo's (``assembly.parse``: one limb type at a time, greedy) or
the TPAMI 2019 one (``assembly2019.parse_2019``: every connection of every limb type in one
ranked list, fragments joined and merged).
"""

from __future__ import annotations

import html
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from .. import viz
from ..assembly import ParsingParams, parse
from ..assembly2019 import JOIN, LOOP, MERGE, NEW, parse_2019
from ..inference import infer_maps, parsing_params_of
from ..io import check_image
from ..skeleton import COCO18, Skeleton
from .base import (
    limb_options,
    people_text,
    render_widget,
)

# ipywidgets and matplotlib are imported where they are used: the package (and its command
# line) imports without them.
if TYPE_CHECKING:
    import ipywidgets
    from matplotlib.figure import Figure


def _samples(ax: Any, points: np.ndarray, along: np.ndarray) -> None:
    """A pair's sample points p(u) of Eq. 11 (N, 2), coloured by L_c(p(u)) . v of Eq. 10 (N,):
    red along the limb, blue against it."""
    ax.scatter(points[:, 0], points[:, 1], s=22, c=along, cmap="coolwarm", vmin=-1, vmax=1,
               edgecolors="black", linewidths=0.5, zorder=4)  # fmt: skip


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
    ``parser``: "2017" (per limb type: the limb menu picks the type, the step its decisions) or
    "2019" (TPAMI Sec. 3.5: the step walks the one ranked list of all limb types; the limb menu
    only picks which samples are drawn).
    """

    PARSERS = ("2017", "2019")

    def __init__(
        self,
        image: np.ndarray,
        S: Any,
        L: Any,
        params: Any = None,
        display: viz.Display | None = None,
        skeleton: Skeleton = COCO18,
        parser: str = "2017",
    ) -> None:
        if parser not in self.PARSERS:
            raise ValueError(f"parser must be one of {self.PARSERS}, got {parser!r}")
        self.parser = parser

        self.image = check_image(image)
        # The thresholds the sliders start from and the others keep (default: the demo's).
        self.params = params or ParsingParams()
        self.S = viz.as_numpy(S)
        self.L = viz.as_numpy(L)
        if self.S.ndim != 3 or self.L.shape[1:] != self.S.shape[1:]:
            raise ValueError(
                f"S {self.S.shape} and L {self.L.shape} must be one image's maps on one grid (C, h, w); "
                "use inference.infer_maps"
            )
        if self.image.shape[:2] != self.S.shape[1:]:  # draw on the maps' grid (display only)
            h, w = self.S.shape[1:]
            self.image = cv2.resize(self.image, (w, h), interpolation=cv2.INTER_AREA)
        self.display = display or viz.Display()
        self.skeleton = skeleton  # what S's and L's channels mean (the model's output_spec.skeleton)
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
        kwargs.setdefault("skeleton", maps.skeleton)
        return cls(image, S, L, **kwargs)

    def parse(self, **thresholds: float) -> Any:
        """``assembly.parse`` with ``self.params`` changed by ``thresholds`` (cached): People, ``.steps``."""

        params = replace(self.params, **thresholds)
        if params not in self._cache:
            run = parse_2019 if self.parser == "2019" else parse
            self._cache[params] = run(self.S, self.L, params, skeleton=self.skeleton)
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
            (float(np.quantile(s.along, q, axis=-1).max()) for s in steps.limbs if s.along.size), default=1.0
        )
        base = self.parse(min_mean_score=0.0)
        mean_hi = float((base.scores / np.maximum(base.n_parts, 1)).max()) if len(base) else 1.0
        return {
            "peak_threshold": (0.01, max(peak_hi, 0.02)),
            "paf_threshold": (0.0, max(paf_hi, 0.01)),
            "min_mean_score": (0.0, max(mean_hi, 0.01)),
        }

    def n_decisions(self, limb: int, **thresholds: float) -> int:
        """How many decisions the step slider walks: limb ``limb``'s (2017) or all (2019)."""
        steps = self.parse(**thresholds).steps
        return len(steps.ranked) if self.parser == "2019" else len(steps.connections[limb].ranked)

    def decisions(self, limb: int, **thresholds: float) -> list[str]:
        """One line per decision, in order: pair, score, verdict (limb type ``limb``'s greedy
        decisions for the 2017 parser; every limb type's, in the global order, for 2019)."""
        steps = self.parse(**thresholds).steps
        if self.parser == "2019":
            return [steps.describe(r, self.skeleton) for r in range(len(steps.ranked))]
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

        people = self.parse(**thresholds)
        if self.parser == "2019":
            return self._figure_2019(people, step)
        steps = people.steps
        peaks = steps.peaks
        scores, conns = steps.limbs[limb], steps.connections[limb]
        lb = self.skeleton.limbs[limb]
        R = len(conns.ranked)
        step = R if step is None else max(0, min(step, R))
        # Every candidate part, faint; the two part types of this limb, large.
        fig, ax, ax_p = self._canvas(peaks)
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
            self._connection(ax, A, B, limb, ok)
            ax.text((A[0] + B[0]) / 2, (A[1] + B[1]) / 2, f"{scores.score[i, j]:.2f}", **label)
        if step >= 1:  # the pair decided at this step
            i, j = conns.ranked[step - 1]
            _samples(ax, scores.samples[i, j], scores.along[i, j])
        ax.set_title(f"{self.skeleton.limb_name(lb)}: decision {step} of {R}", fontsize=9)
        self._people(ax_p, people)
        return fig

    def _connection(self, ax: Any, A: np.ndarray, B: np.ndarray, limb: int, accepted: bool) -> None:
        """One decided connection A -> B: solid in limb ``limb``'s colour when it was accepted
        (it built a person), dashed grey when it was skipped."""
        if accepted:
            style = dict(color=np.array(self.skeleton.colors[limb]) / 255, lw=2.5)
        else:
            style = dict(color="0.6", lw=1, ls="--")
        ax.plot([A[0], B[0]], [A[1], B[1]], **style)

    def _people(self, ax_p: Any, people: Any) -> None:
        """The right panel: the image with the people parsed so far, and how many."""
        viz.show_image(ax_p, self.image, title=f"{people_text(len(people))} found")
        viz.plot_skeleton(ax_p, people.keypoints, skeleton=self.skeleton)

    def _canvas(self, peaks: Any) -> tuple[Any, Any, Any]:
        """The stepper's figure: the image with every candidate part (faint, in its part's colour)
        on the left, an empty axis for the people on the right. Returns (figure, left, right)."""
        from matplotlib.figure import Figure

        H, W = self.image.shape[:2]
        d = self.display
        fig = Figure(figsize=d.figsize(0.5 * H / W * 0.92 + 0.06), dpi=d.dpi, layout="constrained")
        ax, ax_p = fig.subplots(1, 2)
        viz.show_image(ax, self.image)
        palette = self.skeleton.colors
        colors = np.array([palette[j] for j in peaks.part.tolist()], np.float32).reshape(-1, 3) / 255
        ax.scatter(peaks.xy[:, 0], peaks.xy[:, 1], s=6, c=colors, alpha=0.5)
        return fig, ax, ax_p

    def _figure_2019(self, people: Any, step: int | None) -> Figure:
        """The 2019 walk up to decision ``step``: every connection decided so far, whatever its
        limb type (solid: it built a person; dashed grey: skipped), the current one's samples."""

        steps = people.steps
        peaks, rc = steps.peaks, steps.ranked
        R = len(rc)
        step = R if step is None else max(0, min(step, R))
        fig, ax, ax_p = self._canvas(peaks)
        built = {NEW, JOIN, LOOP, MERGE}
        for r in range(step):
            ok = int(steps.decision[r]) in built
            self._connection(ax, peaks.xy[rc.a[r]], peaks.xy[rc.b[r]], int(rc.limb[r]), ok)
        if step >= 1:  # the current connection
            r = step - 1
            limb = steps.limbs[int(rc.limb[r])]
            i = int(np.flatnonzero(limb.a == rc.a[r])[0])
            j = int(np.flatnonzero(limb.b == rc.b[r])[0])
            _samples(ax, limb.samples[i, j], limb.along[i, j])
            live = int(steps.n_people[r])
            ax.set_title(f"2019: decision {step} of {R}, {live} fragments", fontsize=9)
        else:
            ax.set_title(f"2019: decision 0 of {R}", fontsize=9)
        self._people(ax_p, people)
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

        limb = w.Dropdown(options=limb_options(self.skeleton)[1:], value=0, description="limb", style=wide)
        step = w.IntSlider(value=0, min=0, max=20, description="decision", style=wide)
        peak = slider("peak_threshold", d.peak_threshold, "peak threshold")
        paf = slider("paf_threshold", d.paf_threshold, "PAF threshold")
        mean = slider("min_mean_score", d.min_mean_score, "min score per part")
        text = w.HTML()

        def figure(limb: int, step: int, peak_threshold: float, paf_threshold: float, min_mean_score: float):
            th = dict(
                peak_threshold=peak_threshold, paf_threshold=paf_threshold, min_mean_score=min_mean_score
            )
            n = self.n_decisions(limb, **th)
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
        box = render_widget(figure, controls, self.display)
        box.children = (*box.children, text)
        box.decisions = text  # type: ignore[attr-defined]
        return box
