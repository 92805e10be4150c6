"""stage_changes: one forward pass, parsed at stage 1 and at the last stage, and the ranking."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from openpose_edu.inference import estimate
from openpose_edu.model import OpenPoseConfig, OpenPoseNet
from openpose_edu.plots import PartChanges
from openpose_edu.stage_changes import StageComparison, change_radius, compare_stages, rank_by_change


@pytest.fixture(scope="module")
def net() -> OpenPoseNet:
    torch.manual_seed(0)
    return OpenPoseNet(OpenPoseConfig.small(width=0.125, n_stages=3)).eval()


def test_compare_stages_parses_stage_1_and_the_last_like_estimate(net: OpenPoseNet) -> None:
    image = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    c = compare_stages(net, image, "noise")
    for poses, stage in ((c.first, 1), (c.last, None)):
        expected = estimate(image, model=net, stage=stage)  # the network stopped at that stage
        np.testing.assert_allclose(poses.keypoints, expected.keypoints, atol=1e-4)
    assert c.first.stage == 1 and c.last.stage == 3
    assert c.parts == (int((c.first.keypoints[..., 2] > 0).sum()), int((c.last.keypoints[..., 2] > 0).sum()))
    assert c.summary().startswith("noise: people ")
    assert change_radius(net, image) == pytest.approx(2 * net.stride * 96 / net.input_spec.box_size)


def _comparison(name: str, n_changed: int, people: tuple[int, int]) -> StageComparison:
    class _P:  # just what rank_by_change reads
        def __init__(self, n: int) -> None:
            self.n = n

        def __len__(self) -> int:
            return self.n

    pts = np.zeros((n_changed, 3), np.float32)
    return StageComparison(name, _P(people[0]), _P(people[1]), PartChanges(added=pts, removed=pts[:0]))


def test_rank_by_change_puts_the_most_changed_first() -> None:
    ranked = rank_by_change(
        [_comparison("a", 2, (1, 1)), _comparison("b", 9, (2, 2)), _comparison("c", 2, (1, 3))]
    )
    assert [c.name for c in ranked] == ["b", "c", "a"]  # parts changed, then people gained or lost
