"""Pictures of every intermediate result: skeletons, confidence maps S, PAFs L, all stages.

The notebooks' one word for drawing (``from openpose_edu import viz``); the code lives in three
modules, each one kind of helper:

* ``drawing``: numpy/OpenCV pictures: ``draw_people`` (the command line and the workshop app
  use it; no matplotlib needed), a map or field as an RGB image, overlays, ``Display``.
* ``plots``: matplotlib helpers that draw on an ``Axes``: a heatmap overlay (Sec. 2.2, Fig. 2b),
  a PAF as arrows and as a colour wheel (Sec. 2.3, Fig. 2c), the skeleton (Fig. 2e), the grid of
  all stages side by side (Eq. 1-2, Fig. 4).
* ``macs``: ``conv_macs``, multiply-accumulates per part of a network (notebook 02).

Explained in notebooks 01-05.
"""

from .drawing import (
    L_MAX_NORM,
    S_CMAP,
    S_RANGE,
    ArrayLike,
    Display,
    as_numpy,
    check_keypoints,
    color_wheel,
    draw_people,
    limb_field,
    map_to_image,
    overlay_change,
    overlay_heatmap,
    overlay_paf,
    paf_to_rgb,
    paf_to_rgba,
    part_map,
)
from .macs import conv_macs, macs_per_part, part_macs
from .plots import (
    PartChanges,
    add_change_colorbar,
    add_colorbar,
    change_colormap,
    figure_to_png,
    limb_label,
    mark_part_changes,
    part_changes,
    part_label,
    part_names,
    pipeline_figure,
    plot_color_wheel,
    plot_heatmap,
    plot_paf_arrows,
    plot_paf_rgb,
    plot_skeleton,
    show_image,
    skeleton_legend,
    stage_grid,
)

__all__ = [
    "L_MAX_NORM",
    "S_CMAP",
    "S_RANGE",
    "ArrayLike",
    "Display",
    "PartChanges",
    "add_change_colorbar",
    "add_colorbar",
    "as_numpy",
    "change_colormap",
    "check_keypoints",
    "color_wheel",
    "conv_macs",
    "draw_people",
    "figure_to_png",
    "limb_field",
    "limb_label",
    "macs_per_part",
    "part_macs",
    "map_to_image",
    "mark_part_changes",
    "overlay_change",
    "overlay_heatmap",
    "overlay_paf",
    "paf_to_rgb",
    "paf_to_rgba",
    "part_changes",
    "part_label",
    "part_map",
    "part_names",
    "pipeline_figure",
    "plot_color_wheel",
    "plot_heatmap",
    "plot_paf_arrows",
    "plot_paf_rgb",
    "plot_skeleton",
    "show_image",
    "skeleton_legend",
    "stage_grid",
]
