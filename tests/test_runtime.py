"""The compiled path (runtime.py): OpenVINO's maps and people equal eager PyTorch's; threads policy.

The comparisons skip, with the reason, where the optional extra ``openvino`` is missing
(``pip install openpose_edu[fast]``; CI installs it from requirements.txt). Each compiled model
costs a second or two to build, so the models are module-scoped and the inputs few.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from openpose_edu import __main__ as cli
from openpose_edu import load_model, runtime
from openpose_edu.camera import encode_jpeg, process_frame
from openpose_edu.inference import estimate, preprocess
from openpose_edu.io import write_image
from openpose_edu.media import MediaUnavailable, load_example
from openpose_edu.runtime import CompiledPoseModel, ThreadPolicy, compile_model
from openpose_edu.synthetic import make_scene
from openpose_edu.video import MapView

needs_openvino = pytest.mark.skipif(
    not runtime.openvino_available(), reason="openvino is not installed (pip install openpose_edu[fast])"
)
TOL = 1e-4  # the goal for the compiled maps against eager
PHOTO = "COCO_val2014_000000000241"  # CMU's example photo: several people, full bodies


@pytest.fixture(scope="module")
def tfpose():
    mirror = os.environ.get("OPENPOSE_EDU_MIRROR")
    if not mirror or not (Path(mirror) / "tf-pose-mobilenet_v2_small-graph_opt.pb").is_file():
        pytest.skip("no weights mirror with the tf-pose graph (set OPENPOSE_EDU_MIRROR)")
    eager = load_model("tfpose-mobilenet-v2-small")
    compiled, note = compile_model(eager, "openvino")
    assert isinstance(compiled, CompiledPoseModel), note
    return eager, compiled


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    try:
        rgb = load_example(PHOTO)  # the mirror's copy, hash-checked
    except MediaUnavailable as e:  # no mirror and no network
        pytest.skip(f"example photo unavailable: {e}")
    return np.ascontiguousarray(cv2.resize(rgb, (320, 240), interpolation=cv2.INTER_AREA))


def _same_poses(a, b) -> None:
    assert np.abs(a.maps.S - b.maps.S).max() <= TOL
    assert np.abs(a.maps.L - b.maps.L).max() <= TOL
    assert len(a) == len(b)
    np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-2)  # pixels
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-3)


@needs_openvino
@pytest.mark.slow  # exports and compiles (1-3 s per shape on 2 quiet cores)
def test_compiled_equals_eager_on_a_real_photo(tfpose, photo: np.ndarray) -> None:
    eager, compiled = tfpose
    x, _ = preprocess(photo, eager.input_spec)
    with torch.no_grad():
        a, b = eager(x), compiled(x)
    assert len(b.S) == len(b.L) == eager.n_stages
    for u, v in zip([a.F, *a.S, *a.L], [b.F, *b.S, *b.L]):
        assert u.shape == v.shape
        assert (u - v).abs().max() <= TOL * max(1.0, float(u.abs().max()))  # F is in the tens
    pe, pc = estimate(photo, eager), estimate(photo, compiled)
    assert len(pe) >= 2  # the photo has people: the comparison is not between two empty parses
    _same_poses(pe, pc)


@needs_openvino
@pytest.mark.slow  # exports and compiles (1-3 s per shape on 2 quiet cores)
def test_compiled_equals_eager_at_an_earlier_stage_and_caches_per_shape(tfpose, photo: np.ndarray) -> None:
    eager, compiled = tfpose
    _same_poses(estimate(photo, eager, stage=2), estimate(photo, compiled, stage=2))
    n = len(compiled._exported)
    estimate(photo, compiled, stage=2)  # same shape, same stages: reused
    assert len(compiled._exported) == n
    estimate(photo[:200], compiled, stage=2)  # another shape: one more compiled model
    assert len(compiled._exported) == n + 1
    assert compile_model(eager, "openvino")[0] is compiled  # one compiled model per eager model


@needs_openvino
@pytest.mark.slow  # exports and compiles (1-3 s per shape on 2 quiet cores)
def test_compiled_bundled_model_equals_eager_on_a_synthetic_scene() -> None:
    scene = make_scene(0, 3, size=(192, 256))
    eager = load_model("bundled")
    compiled, _ = compile_model(eager, "openvino")
    pe, pc = estimate(scene.image, eager), estimate(scene.image, compiled)
    assert len(pe) >= 1
    _same_poses(pe, pc)


@needs_openvino
def test_camera_frame_through_the_compiled_path(tfpose, photo: np.ndarray) -> None:
    eager, compiled = tfpose
    jpeg = encode_jpeg(photo)
    a = process_frame(eager, jpeg, MapView("L", 3, 2))
    b = process_frame(compiled, jpeg, MapView("L", 3, 2))
    assert len(a.keypoints) == len(b.keypoints) >= 1
    np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-2)


@needs_openvino
def test_cli_runtime_openvino_says_so_and_writes_the_same_people(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = make_scene(0, 3, size=(192, 256)).image
    write_image(tmp_path / "scene.png", image)
    outs = {}
    for rt in ("eager", "openvino"):
        out = tmp_path / rt
        argv = [str(tmp_path / "scene.png"), "--model", "bundled", "--out", str(out), "--no-progress"]
        assert cli.main([*argv, "--runtime", rt]) == 0
        err = capsys.readouterr().err
        assert f"runtime: {'openvino' if rt == 'openvino' else 'eager PyTorch'}" in err
        outs[rt] = (out / "scene_keypoints.json").read_text()
    a, b = (json.loads(outs[k])["people"] for k in ("eager", "openvino"))
    assert len(a) == len(b) >= 1
    np.testing.assert_allclose(
        [p["pose_keypoints_2d"] for p in a], [p["pose_keypoints_2d"] for p in b], atol=1e-2
    )


def test_without_openvino_the_eager_model_runs_and_the_line_says_why(monkeypatch) -> None:
    model = load_model("bundled")
    monkeypatch.setattr(runtime, "openvino_available", lambda: False)
    same, note = compile_model(model, "openvino")
    assert same is model
    assert "eager" in note and "openvino is not installed" in note and "[fast]" in note
    assert compile_model(model, "eager")[0] is model
    with pytest.raises(ValueError, match="runtime must be one of"):
        compile_model(model, "tensorrt")


def test_thread_policy_follows_the_faster_choice_and_tries_the_other_again(monkeypatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(runtime.time, "perf_counter", lambda: clock[0])
    policy = ThreadPolicy(max_threads=2, explore=10.0)
    assert policy.choices == (2, 1)

    def run(cost: dict[int, float], frames: int) -> list[int]:
        used = []
        for _ in range(frames):
            n = policy.choose()
            clock[0] += cost[n]
            policy.record(n, cost[n])
            used.append(n)
        return used

    quiet = run({2: 0.05, 1: 0.08}, 40)  # two threads faster: chosen after both were tried
    assert set(quiet[:4]) == {1, 2} and quiet[-10:].count(2) >= 9
    busy = run({2: 1.0, 1: 0.1}, 60)  # a competing process: two threads 10x slower
    assert busy[-20:].count(1) >= 19  # one thread from then on
    assert busy.count(2) <= 10  # the slow choice is retried rarely (at most ~1/explore of the time)
    again = run({2: 0.05, 1: 0.08}, 200)  # quiet again: noticed at the next try (after ~10 s)
    switch = again.index(2)
    after = again[switch:]
    assert switch * 0.08 <= 10.0 + 0.1 and after.count(2) >= 0.85 * len(after)


def test_thread_policy_sets_and_restores_torch_threads() -> None:
    before = torch.get_num_threads(), cv2.getNumThreads()
    policy = ThreadPolicy(max_threads=1)
    with policy.frame() as n:
        assert n == 1 and torch.get_num_threads() == 1 and cv2.getNumThreads() == 1
    assert (torch.get_num_threads(), cv2.getNumThreads()) == before
    assert ThreadPolicy(max_threads=4, adaptive=False).choices == (4,)


@needs_openvino
def test_video_cli_runtime_openvino(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):  # the synthetic scene panned: one frame size, compiled once
        write_image(frames / f"{i:03d}.png", np.roll(make_scene(0, 3, size=(192, 256)).image, 4 * i, axis=1))
    argv = [str(frames), "--video", "--model", "bundled", "--out", str(tmp_path / "out"), "--no-progress"]
    assert cli.main([*argv, "--runtime", "openvino"]) == 0
    assert "runtime: openvino" in capsys.readouterr().err
    assert len(list((tmp_path / "out").glob("frames_*_keypoints.json"))) == 3


@needs_openvino
@pytest.mark.slow  # exports and compiles a small BODY_25 network twice (about 2 s each)
def test_compiled_body25_returns_the_paf_first_lists_of_the_eager_network() -> None:
    """BODY_25 runs P PAF stages, then H map stages: the compiled output has the eager lists (not
    T and T), the same stages 1..P+H, and an earlier stage t <= P re-runs the map heads."""
    from openpose_edu.body25 import Body25Config, Body25Net

    cfg = Body25Config.small(0.125, paf_stages=2, heat_stages=1)
    eager = Body25Net(cfg).eval()
    compiled, note = compile_model(eager, "openvino")
    assert isinstance(compiled, CompiledPoseModel), note
    x = torch.randn(1, 3, 64, 48, generator=torch.Generator().manual_seed(0))
    for T in (3, 1):  # every stage; PAF stage 1 only (S: the map stages on L^1)
        with torch.no_grad():
            a, b = eager(x, n_stages=T), compiled(x, n_stages=T)
        assert (len(b.S), len(b.L), b.n_stages) == (len(a.S), len(a.L), a.n_stages) == (1, min(T, 2), T)
        for t in range(1, T + 1):
            with torch.no_grad():
                for u, v in zip(a.stage(t), b.stage(t), strict=True):
                    assert u.shape == v.shape and (u - v).abs().max() <= TOL * max(1.0, float(u.abs().max()))
