"""Drawing for the live loops: the all-limbs PAF view computed plane by plane gives the same numbers."""

from __future__ import annotations

import numpy as np

from openpose_edu.drawing import limb_field
from openpose_edu.skeleton import LIMBS


def _stacked_argmax(paf: np.ndarray) -> np.ndarray:
    """The former formula: stack the 19 fields, argmax of the squared lengths, take that field."""
    fields = np.stack([paf[[lb.paf_x, lb.paf_y]] for lb in LIMBS])  # (19, 2, h, w)
    best = (fields**2).sum(axis=1).argmax(axis=0)[None, None]
    return np.take_along_axis(fields, np.broadcast_to(best, (1, 2, *best.shape[2:])), axis=0)[0]


def test_all_limbs_field_equals_the_stacked_argmax() -> None:
    rng = np.random.default_rng(0)
    paf = (rng.standard_normal((38, 23, 31)) * 0.3).astype(np.float32)
    paf[:, :5] = 0.0  # ties everywhere (background): the first limb's zero vector
    paf[:, 10, 10] = 0.0
    paf[[LIMBS[3].paf_x, LIMBS[7].paf_y], 10, 10] = 0.5  # two limbs as long, other directions
    got = limb_field(paf, None)
    assert got.dtype == np.float32 and got.shape == (2, 23, 31)
    np.testing.assert_array_equal(got, _stacked_argmax(paf))
    np.testing.assert_array_equal(got[:, 10, 10], [0.5, 0.0])  # the first of the two limbs
    np.testing.assert_array_equal(limb_field(paf[None], None), got)  # (1, 38, h, w) too
