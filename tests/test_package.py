import pytest

import openpose_edu


def test_public_api_and_submodules_resolve_lazily():
    assert callable(openpose_edu.load_model) and callable(openpose_edu.estimate)
    assert openpose_edu.inference.preprocess is not None
    assert openpose_edu.skeleton.N_PARTS == 18
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = openpose_edu.nope


def test_resize_to_height_keeps_the_aspect_and_refuses_bad_heights() -> None:
    import numpy as np
    import pytest

    from openpose_edu.io import resize_to_height

    out = resize_to_height(np.zeros((512, 768, 3), np.uint8), 368)
    assert out.shape == (368, 552, 3) and out.dtype == np.uint8
    assert resize_to_height(np.zeros((10, 1, 3), np.uint8), 5).shape == (5, 1, 3)  # never 0 wide
    with pytest.raises(ValueError, match="height"):
        resize_to_height(np.zeros((8, 8, 3), np.uint8), 0)
