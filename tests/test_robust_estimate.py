"""Issue 22: ``estimate`` on any array or PIL image gives a result or the one clear error it should,
never another exception (hypothesis properties over shapes, dtypes, channel counts and PIL modes).

The oracle below says, from the shape and dtype alone, which outcome is right: a TypeError naming
uint8 for another dtype, a ValueError naming (H, W, 3) for another channel count, "empty" for no
pixels, ``MAX_INPUT_SIDE`` for a strip too long for the network, "smaller than one cell" for one
too thin, else people (P, 18, 3) in image pixels. Small max_examples, derandomized: quick and the
same examples every run.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from openpose_edu import estimate, load_model
from openpose_edu.inference import MAX_INPUT_SIDE

MODEL = load_model("bundled")  # box_size 256, stride 4
SETTINGS = settings(
    max_examples=30, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

sides = st.one_of(
    st.integers(0, 4),  # empty, 1 pixel, tiny
    st.integers(5, 96),
    st.sampled_from([255, 256, 257, 600, 2047, 2048, 2049]),  # around box_size and the bound
    st.sampled_from([3000, 5000]),  # 1xN / Nx1 strips
)
channels = st.sampled_from([None, 0, 1, 2, 3, 4, 5])  # None: a 2-D gray array
dtypes = st.sampled_from([np.uint8, np.int8, np.int16, np.uint16, np.int64, np.float16, np.float32, bool])


def expected(shape: tuple[int, ...], dtype: np.dtype) -> tuple[type[Exception], str] | None:
    """The error ``estimate`` must raise for this array (type and words of the message), or None."""
    if np.dtype(dtype) != np.uint8:
        return TypeError, "expected dtype uint8"
    if not (len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3))):
        return ValueError, r"expected an image of shape \(H, W, 3\)"
    H, W = shape[:2]
    if H == 0 or W == 0:
        return ValueError, "the image is empty"
    spec = MODEL.input_spec
    h, w = spec.box_size, W * spec.box_size / H  # the network input at scale 1
    if h > MAX_INPUT_SIDE or w > MAX_INPUT_SIDE:
        return ValueError, "over the limit of 2048 per side"
    if round(h) < spec.stride or round(w) < spec.stride:
        return ValueError, "smaller than one cell of the network"
    return None


def smooth(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """A uint8 image of ``shape`` with a few smooth blobs (noise would make the parser slow)."""
    h, w = shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = np.random.default_rng(seed).uniform(0, 1, 2) * (h, w)
    plane = 255 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (0.2 * max(h, w, 1)) ** 2))
    image = plane.astype(np.uint8).reshape(h, w, *([1] * (len(shape) - 2)))
    return np.broadcast_to(image, shape).copy()


def check_result(poses, H: int, W: int) -> None:
    kp = np.asarray(poses.keypoints)
    assert kp.ndim == 3 and kp.shape[1:] == (18, 3)
    assert np.isfinite(kp).all()
    found = kp[..., 2] > 0
    assert (kp[..., 0][found] >= -1).all() and (kp[..., 0][found] <= W + 1).all()  # image pixels
    assert (kp[..., 1][found] >= -1).all() and (kp[..., 1][found] <= H + 1).all()
    assert len(poses.scores) == len(kp)


@SETTINGS
@given(h=sides, w=sides, c=channels, dtype=dtypes, seed=st.integers(0, 3))
def test_estimate_on_any_array_is_a_result_or_the_clear_error(h, w, c, dtype, seed) -> None:
    shape = (h, w) if c is None else (h, w, c)
    if np.prod(shape) <= 1 << 20:
        image = smooth(shape, seed).astype(dtype)
    else:  # large: one grey level (cheap to make; the path through estimate is the same)
        image = np.full(shape, 40 * seed, dtype=dtype)
    outcome = expected(shape, dtype)
    if outcome is None:
        check_result(estimate(image, model=MODEL), *shape[:2])
    else:
        error, words = outcome
        with pytest.raises(error, match=words):
            estimate(image, model=MODEL)


# PIL modes: 8-bit ones are converted by PIL ("P" through its palette, "CMYK", "YCbCr", "LAB", ...);
# wider ones are refused (PIL's convert("RGB") would clip them), as are modes PIL cannot convert.
EIGHT_BIT = ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"]
WIDE = ["I", "F", "I;16", "I;16B", "I;16L"]


@settings(max_examples=15, derandomize=True, deadline=None)
@given(mode=st.sampled_from(EIGHT_BIT + WIDE + ["La"]), h=st.integers(16, 64), w=st.integers(8, 64))
def test_estimate_on_any_pil_mode_is_a_result_or_the_clear_error(mode: str, h: int, w: int) -> None:
    rgb = smooth((h, w, 3), h * 100 + w)
    pil = Image.fromarray(rgb).convert(mode) if mode in EIGHT_BIT else Image.new(mode, (w, h))
    if mode in WIDE:
        with pytest.raises(ValueError, match="more than 8 bits per pixel; scale it to 8 bits"):
            estimate(pil, model=MODEL)
    elif mode == "La":  # PIL has the mode but cannot convert it
        with pytest.raises(ValueError, match="cannot convert PIL mode 'La' to RGB"):
            estimate(pil, model=MODEL)
    elif expected((h, w, 3), np.uint8) is None:
        check_result(estimate(pil, model=MODEL), h, w)
    else:
        error, words = expected((h, w, 3), np.uint8)
        with pytest.raises(error, match=words):
            estimate(pil, model=MODEL)


def test_pil_palette_image_is_read_through_its_palette() -> None:
    """A "P" image's bytes are palette indices: estimate sees the colours (as convert("RGB") gives)."""
    from openpose_edu.io import check_image
    from openpose_edu.synthetic import make_scene

    scene = make_scene(3, 0, size=(128, 128)).image
    pil = Image.fromarray(scene).convert("P")
    assert np.array_equal(check_image(pil), np.asarray(pil.convert("RGB")))
    assert not np.array_equal(check_image(pil)[..., 0], np.asarray(pil))  # not the raw indices
    a = estimate(pil, model=MODEL).keypoints
    b = estimate(np.asarray(pil.convert("RGB")), model=MODEL).keypoints
    assert np.array_equal(a, b)
