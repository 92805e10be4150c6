"""Where the stages differ on a photo: the people and parts parsed at stage 1 and at the last stage.

The paper shows refinement as maps that sharpen and ambiguities that resolve from stage to stage
(CVPR 2017 Fig. 4; TPAMI 2019 Fig. 7). On some photos a stage changes a lot, on others almost
nothing; a notebook that wants to show refinement must pick its photo by measuring, not by
hoping. ``compare_stages`` runs the network once (every stage's maps kept), parses stage 1 and
stage T with the same parser, and lists the parts found by one and not the other
(``plots.part_changes``); ``rank_by_change`` orders photos by how much changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .inference import Poses, infer_maps, parsing_params_of, poses_from_maps
from .plots import PartChanges, part_changes


@dataclass(frozen=True)
class StageComparison:
    """One image parsed at an early stage (``first``, default stage 1) and at the last (``last``)."""

    name: str
    first: Poses
    last: Poses
    changes: PartChanges  # parts found at one stage only (image pixels; ``radius`` of part_changes)

    @property
    def people(self) -> tuple[int, int]:
        """People found at the early stage and at the last."""
        return len(self.first), len(self.last)

    @property
    def parts(self) -> tuple[int, int]:
        """Parts found (score > 0, all people) at the early stage and at the last."""
        return int((self.first.keypoints[..., 2] > 0).sum()), int((self.last.keypoints[..., 2] > 0).sum())

    @property
    def peaks(self) -> tuple[float, float]:
        """Highest part confidence (max of S over the 18 parts) at the early stage and at the last."""
        return float(self.first.maps.stage_maps(self.first.stage)[0][:-1].max()), float(
            self.last.maps.S[:-1].max()
        )

    def summary(self) -> str:
        """One line: people, parts, and what the last stage added and dropped."""
        (p1, pT), (n1, nT) = self.people, self.parts
        t1, tT = self.first.stage, self.last.stage
        return (
            f"{self.name}: people {p1} at stage {t1} -> {pT} at stage {tT}; parts {n1} -> {nT}; "
            f"stage {tT} adds {len(self.changes.added)} parts and drops {len(self.changes.removed)}"
        )


def compare_stages(
    model: Any,
    image: np.ndarray,
    name: str = "",
    stage: int = 1,
    radius: float | None = None,
    device: torch.device | str | None = None,
) -> StageComparison:
    """Parse ``image`` at ``stage`` and at the last stage of one forward pass (Eq. 1-2, Fig. 4).

    image: uint8 (H, W, 3) RGB; the model's own parser thresholds (``parsing_params_of``).
    A part counts as changed when the other stage has no part of its type within ``radius``
    image pixels; the default is two cells of the network's output grid (``change_radius``), so
    a peak that only moved to a neighbouring cell is the same part, not a new one.
    Returns a ``StageComparison``.
    """
    maps = infer_maps(model, image, all_stages=True, device=device)
    params = parsing_params_of(model)
    first = poses_from_maps(maps, params, stage=stage)
    last = poses_from_maps(maps, params)
    r = change_radius(model, image) if radius is None else radius
    return StageComparison(name, first, last, part_changes(first.keypoints, last.keypoints, r))


def change_radius(model: Any, image: np.ndarray, cells: float = 2.0) -> float:
    """``cells`` output cells of ``model`` in the image's pixels (the photo is resized to the
    network's input height ``input_spec.box_size``; one cell is ``model.stride`` input pixels)."""
    return cells * model.stride * image.shape[0] / model.input_spec.box_size


def rank_by_change(comparisons: Iterable[StageComparison]) -> list[StageComparison]:
    """The comparisons, most changed first: by parts added + dropped, then people gained or lost."""
    return sorted(comparisons, key=lambda c: (len(c.changes), abs(c.people[1] - c.people[0])), reverse=True)
