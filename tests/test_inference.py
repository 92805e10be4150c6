"""inference.py: image checks, preprocessing, upsampling, multi-scale averaging, estimate."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from torch import nn

import openpose_edu
from openpose_edu import groundtruth
from openpose_edu.inference import (
    Maps,
    Padding,
    Poses,
    check_image,
    estimate,
    infer_maps,
    preprocess,
    resize_maps,
)
from openpose_edu.model import InputSpec, ModelCard, NetworkOutput, OpenPoseConfig, OpenPoseNet
from openpose_edu.skeleton import N_PARTS


class ConstantModel(nn.Module):
    """A stand-in network: stage t's maps are constant, t * (input height) / 100 (S) and minus
    that (L), so every averaging and stage choice can be checked by hand."""

    def __init__(self, spec: InputSpec, n_stages: int = 3) -> None:
        super().__init__()
        self.input_spec, self.stride, self.n_stages = spec, spec.stride, n_stages
        self.card = ModelCard(name="constant")
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, n_stages: int | None = None) -> NetworkOutput:
        self.inputs.append(x)
        N, _, h, w = x.shape
        T = n_stages or self.n_stages
        grid = (N, 1, h // self.stride, w // self.stride)
        S = [torch.full(grid, t * h / 100).expand(-1, 19, -1, -1) for t in range(1, T + 1)]
        L = [torch.full(grid, -t * h / 100).expand(-1, 38, -1, -1) for t in range(1, T + 1)]
        return NetworkOutput(F=torch.zeros(N, 4, *grid[2:]), S=S, L=L)


class PerfectModel(nn.Module):
    """A network that outputs the ground truth S*, L* of known people (at the grid of its input)."""

    def __init__(self, keypoints: np.ndarray, spec: InputSpec, card: ModelCard | None = None) -> None:
        super().__init__()
        self.keypoints, self.input_spec, self.stride, self.n_stages = keypoints, spec, spec.stride, 1
        self.card = card or ModelCard(name="perfect")

    def forward(self, x: torch.Tensor, n_stages: int | None = None) -> NetworkOutput:
        h, w = x.shape[2] // self.stride, x.shape[3] // self.stride
        S = groundtruth.confidence_maps(self.keypoints, (h, w), variant="released")
        L = groundtruth.part_affinity_fields(self.keypoints, (h, w), variant="released")
        return NetworkOutput(F=torch.zeros(1, 4, h, w), S=[S], L=[L])


def _person(neck: tuple[float, float], height: float) -> np.ndarray:
    from test_assembly import TEMPLATE

    pts = TEMPLATE * height + neck
    return np.column_stack([pts, np.full(N_PARTS, 2.0)])


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


def test_check_image_accepts_color_and_gray() -> None:
    rgb = np.zeros((4, 5, 3), np.uint8)
    assert check_image(rgb) is rgb
    gray = np.arange(20, dtype=np.uint8).reshape(4, 5)
    out = check_image(gray)
    assert out.shape == (4, 5, 3) and np.all(out[..., 0] == gray) and np.all(out[..., 2] == gray)
    assert check_image(gray[..., None]).shape == (4, 5, 3)


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (np.zeros((4, 5, 3), np.float32), TypeError, "uint8"),
        ([[0, 1], [2, 3]], TypeError, "numpy array"),
        (np.zeros((4, 5, 4), np.uint8), ValueError, "alpha"),
        (np.zeros((2, 4, 5, 3), np.uint8), ValueError, r"\(H, W, 3\)"),
        (np.zeros((0, 5, 3), np.uint8), ValueError, "empty"),
        (np.zeros((5, 0), np.uint8), ValueError, "empty"),
    ],
)
def test_check_image_refuses_clearly(image, error, match: str) -> None:
    with pytest.raises(error, match=match):
        check_image(image, name="photo.jpg")
    with pytest.raises(error, match="photo.jpg"):
        check_image(image, name="photo.jpg")


# --------------------------------------------------------------------------------------------
# Preprocessing and upsampling
# --------------------------------------------------------------------------------------------


def test_preprocess_resizes_pads_and_normalizes_like_the_demo() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (100, 151, 3), dtype=np.uint8)  # RGB
    spec = InputSpec()  # BGR, x/256 - 0.5, pad 128, stride 8, box 368
    x, pad = preprocess(image, spec, scale=1.0, color="RGB")
    resized = cv2.resize(image, (0, 0), fx=3.68, fy=3.68, interpolation=cv2.INTER_CUBIC)
    assert pad == Padding(image_size=(100, 151), resized_size=(368, 556), padded_size=(368, 560), factor=3.68)
    assert x.shape == (1, 3, 368, 560) and x.dtype == torch.float32
    # Channel 0 is blue (the original was trained on BGR), 128 pads to exactly 0.
    np.testing.assert_allclose(x[0, 0, :, :556].numpy(), resized[..., 2] / 256 - 0.5, atol=1e-6)
    np.testing.assert_allclose(x[0, 2, :, :556].numpy(), resized[..., 0] / 256 - 0.5, atol=1e-6)
    assert torch.all(x[..., 556:] == 0)
    # The same picture given as BGR gives the same input.
    x_bgr, _ = preprocess(image[..., ::-1].copy(), spec, color="BGR")
    assert torch.equal(x, x_bgr)


def test_preprocess_scale_sets_the_height() -> None:
    image = np.zeros((200, 300, 3), np.uint8)
    x, pad = preprocess(image, InputSpec(), scale=0.5)
    assert pad.resized_size == (184, 276) and x.shape == (1, 3, 184, 280)
    with pytest.raises(ValueError, match="scale"):
        preprocess(image, InputSpec(), scale=0)


def test_resize_maps_keeps_constants_and_returns_image_size() -> None:
    pad = Padding(image_size=(100, 151), resized_size=(368, 556), padded_size=(368, 560), factor=3.68)
    maps = torch.full((1, 57, 46, 70), 0.25)
    out = resize_maps(maps, pad)
    assert out.shape == (1, 57, 100, 151)
    torch.testing.assert_close(out, torch.full_like(out, 0.25))


# --------------------------------------------------------------------------------------------
# Multi-scale averaging and stages
# --------------------------------------------------------------------------------------------


def test_multiscale_is_the_mean_of_the_scales() -> None:
    """Pins the popular port's bug (``heatmap_avg += heatmap_avg + m / n``) out."""
    spec = InputSpec(box_size=64)
    model = ConstantModel(spec)
    image = np.zeros((40, 60, 3), np.uint8)
    scales = (0.5, 1.0, 2.0)
    maps = infer_maps(model, image, scales=scales)
    per_scale = [64 * s * 3 / 100 for s in scales]  # stage 3 of 3, input heights 32, 64, 128
    mean = sum(per_scale) / len(per_scale)
    ported = 0.0
    for v in per_scale:
        ported += ported + v / len(scales)  # Hzzone body.py
    assert abs(ported - mean) > 0.1
    np.testing.assert_allclose(maps.S, mean, rtol=1e-5)
    np.testing.assert_allclose(maps.L, -mean, rtol=1e-5)
    singles = [infer_maps(model, image, scales=(s,)).S for s in scales]
    np.testing.assert_allclose(maps.S, np.mean(singles, axis=0), rtol=1e-5)
    # An image smaller than the network input (box_size 64) is parsed at its own size.
    assert maps.scales == scales and maps.S.shape == (19, 40, 60) and maps.L.shape == (38, 40, 60)
    assert maps.image_size == (40, 60) and maps.grid_size == (40, 60)


def test_stage_choice_and_all_stages() -> None:
    model = ConstantModel(InputSpec(box_size=64), n_stages=3)
    image = np.zeros((64, 64, 3), np.uint8)
    last = infer_maps(model, image)
    assert last.stage == 3 and last.S_stages is None
    np.testing.assert_allclose(last.S, 3 * 0.64, rtol=1e-5)
    second = infer_maps(model, image, stage=2)
    assert second.stage == 2
    np.testing.assert_allclose(second.S, 2 * 0.64, rtol=1e-5)
    every = infer_maps(model, image, all_stages=True)
    assert len(every.S_stages) == len(every.L_stages) == 3
    for t, (S, L) in enumerate(zip(every.S_stages, every.L_stages), start=1):
        np.testing.assert_allclose(S, t * 0.64, rtol=1e-5)
        np.testing.assert_allclose(L, -t * 0.64, rtol=1e-5)
    np.testing.assert_array_equal(every.S, every.S_stages[-1])


@pytest.mark.parametrize("kwargs", [{"scales": ()}, {"scales": (1.0, -1.0)}, {"stage": 0}])
def test_infer_maps_refuses_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        infer_maps(ConstantModel(InputSpec(box_size=64)), np.zeros((8, 8, 3), np.uint8), **kwargs)


def test_a_real_small_network_end_to_end() -> None:
    net = OpenPoseNet(OpenPoseConfig.small(width=0.125, n_stages=3, input=InputSpec(box_size=96))).eval()
    image = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    maps = infer_maps(net, image, all_stages=True)
    assert maps.S.shape == (19, 50, 70) and maps.L.shape == (38, 50, 70) and maps.S.dtype == np.float32
    np.testing.assert_allclose(infer_maps(net, image, stage=2).S, maps.S_stages[1], atol=1e-5)
    poses = estimate(image, model=net, stage=2)
    assert isinstance(poses, Poses) and isinstance(poses.maps, Maps)
    assert poses.keypoints.shape == (len(poses), N_PARTS, 3) and poses.scores.shape == (len(poses),)
    assert poses.maps.stage == 2
    doc = poses.to_json()
    assert doc["version"] == 1.3 and len(doc["people"]) == len(poses)
    for person, k in zip(doc["people"], poses.keypoints):
        assert person["pose_keypoints_2d"] == [float(v) for v in k.reshape(-1)]


def test_estimate_recovers_the_people_a_perfect_network_sees() -> None:
    """preprocess -> network -> resize -> parse, with a network that outputs S*, L* exactly."""
    kp = np.stack([_person((80, 70), 160), _person((190, 80), 150)])
    model = PerfectModel(kp, InputSpec(box_size=256))  # image height 256: no resizing
    image = np.zeros((256, 256), np.uint8)  # gray works too
    poses = openpose_edu.estimate(image, model=model)
    assert len(poses) == 2
    for person in kp:
        d = np.linalg.norm(poses.keypoints[:, :, :2] - person[None, :, :2], axis=2)
        k = int(np.argmin(d.sum(axis=1)))
        assert np.all(poses.keypoints[k, :, 2] > 0) and d[k].max() <= 1.0
    assert poses.people.steps is not None and poses.maps.S.shape == (19, 256, 256)


def test_estimate_without_a_model_loads_the_bundled_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from openpose_edu import weights

    calls = []
    net = OpenPoseNet(OpenPoseConfig.small(width=0.125, n_stages=2, input=InputSpec(box_size=64))).eval()

    def fake_load_model(name=None, device="cpu", **kw):
        calls.append(name)
        return net

    monkeypatch.setattr(weights, "load_model", fake_load_model)
    image = np.zeros((40, 40, 3), np.uint8)
    assert estimate(image).keypoints.shape[1:] == (N_PARTS, 3)
    estimate(image, model="cmu-coco")
    assert calls == [None, "cmu-coco"]


def test_estimate_uses_the_models_own_parser_thresholds_unless_given_others() -> None:
    """parsing_params_of: explicit params > model.parsing_params > the demo's ParsingParams()."""
    from openpose_edu.assembly import ParsingParams
    from openpose_edu.inference import parsing_params_of

    kp = np.stack([_person((80, 70), 160), _person((190, 80), 150)])
    model = PerfectModel(kp, InputSpec(box_size=256))
    image = np.zeros((256, 256, 3), np.uint8)
    assert parsing_params_of(model) == ParsingParams()
    assert len(estimate(image, model=model)) == 2
    model.card = ModelCard(parsing=ParsingParams(min_parts=N_PARTS + 1))  # nobody has 19 parts
    assert parsing_params_of(model) is model.card.parsing
    assert len(estimate(image, model=model)) == 0
    assert len(estimate(image, model=model, params=ParsingParams())) == 2


def test_nobody_gives_an_empty_result() -> None:
    model = PerfectModel(np.zeros((1, N_PARTS, 3)), InputSpec(box_size=64))  # one unlabelled person
    poses = estimate(np.zeros((64, 80, 3), np.uint8), model=model)
    assert poses.keypoints.shape == (0, N_PARTS, 3)
    assert poses.to_json() == {"version": 1.3, "people": []}


@pytest.mark.cuda
def test_cuda_maps_equal_cpu_maps() -> None:
    net = OpenPoseNet(OpenPoseConfig.small(width=0.125, n_stages=2, input=InputSpec(box_size=96))).eval()
    image = np.random.default_rng(1).integers(0, 256, (60, 90, 3), dtype=np.uint8)
    cpu = infer_maps(net, image, scales=(0.5, 1.0))
    gpu = infer_maps(net.to("cuda"), image, scales=(0.5, 1.0))
    np.testing.assert_allclose(gpu.S, cpu.S, atol=1e-4)
    np.testing.assert_allclose(gpu.L, cpu.L, atol=1e-4)
