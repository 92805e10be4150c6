import pytest

import openpose_edu


def test_public_api_and_submodules_resolve_lazily():
    assert callable(openpose_edu.load_model) and callable(openpose_edu.estimate)
    assert openpose_edu.inference.preprocess is not None
    assert openpose_edu.skeleton.N_PARTS == 18
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = openpose_edu.nope
