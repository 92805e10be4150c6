"""The ground-truth playground: S* and L* of one scene for any sigma, limb width and variant (Eq. 6-9)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from .. import groundtruth, viz
from ..groundtruth import DEFAULT_TARGETS
from .base import (
    ALL,
    limb_options,
    part_options,
    render_widget,
)

# ipywidgets and matplotlib are imported where they are used: the package (and its command
# line) imports without them.
if TYPE_CHECKING:
    import ipywidgets
    from matplotlib.figure import Figure


@dataclass
class GroundTruthPlayground:
    """S* and L* of one scene under any sigma, limb width and variant (Eq. 6-9).

    ``keypoints``: (P, 18, 3) [x, y, v] in input pixels; ``image``: the uint8 scene they belong to.
    sigma and limb width (the half-width sigma_l of Eq. 8) are in input pixels; the variants
    are groundtruth.py's "paper" and "released" (CMU's training code).
    """

    image: np.ndarray
    keypoints: np.ndarray
    stride: int = DEFAULT_TARGETS.stride
    display: viz.Display = field(default_factory=viz.Display)

    def maps(
        self,
        sigma: float = DEFAULT_TARGETS.sigma,
        limb_width: float = DEFAULT_TARGETS.limb_width,
        variant: str = DEFAULT_TARGETS.variant,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(S* (19, h, w), L* (38, h, w)) from groundtruth.py for these settings."""

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
        sigma: float = DEFAULT_TARGETS.sigma,
        limb_width: float = DEFAULT_TARGETS.limb_width,
        variant: str = DEFAULT_TARGETS.variant,
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
        sigma = w.FloatSlider(
            value=DEFAULT_TARGETS.sigma, min=1.0, max=20.0, step=0.5, description="sigma (px)", style=wide
        )
        width = w.FloatSlider(
            value=DEFAULT_TARGETS.limb_width,
            min=2.0,
            max=24.0,
            step=1.0,
            description="limb width (px)",
            style=wide,
        )
        variant = w.ToggleButtons(
            options=list(groundtruth.VARIANTS),
            value=DEFAULT_TARGETS.variant,
            description="variant",
            style=wide,
        )
        part = w.Dropdown(options=part_options(), value=ALL, description="part", style=wide)
        limb = w.Dropdown(options=limb_options(), value=ALL, description="limb", style=wide)
        controls = dict(sigma=sigma, limb_width=width, variant=variant, part=part, limb=limb)
        return render_widget(self.figure, controls, self.display)
