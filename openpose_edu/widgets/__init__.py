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

Modules: ``base`` (menus, the re-rendered picture), ``stages`` (StageExplorer), ``playground``
(GroundTruthPlayground), ``stepper`` (AssemblyStepper), ``app`` (the workshop app). The names
below are the notebooks' vocabulary: ``from openpose_edu import widgets; widgets.StageExplorer``.
"""

from .app import people_png, workshop
from .base import ALL, grid_image, limb_options, network_maps, part_options, people_text
from .playground import GroundTruthPlayground
from .stages import StageExplorer
from .stepper import AssemblyStepper

__all__ = [
    "ALL",
    "AssemblyStepper",
    "GroundTruthPlayground",
    "StageExplorer",
    "grid_image",
    "limb_options",
    "network_maps",
    "part_options",
    "people_png",
    "people_text",
    "workshop",
]
