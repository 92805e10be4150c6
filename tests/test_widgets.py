"""Tests of the widgets package with a small random network, headless (Agg)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from openpose_edu import widgets
from openpose_edu.model import ModelCard, OpenPoseConfig, OpenPoseNet
from openpose_edu.skeleton import LIMBS
from openpose_edu.widgets.app import decode_upload


@pytest.fixture(scope="module")
def small_net() -> OpenPoseNet:
    torch.manual_seed(0)
    return OpenPoseNet(OpenPoseConfig.small(width=0.125, n_stages=3)).eval()


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 96, dtype=np.float32)
    return {
        "noise": rng.integers(0, 256, (72, 96, 3), dtype=np.uint8),
        "ramp": np.broadcast_to(ramp[None, :, None], (72, 96, 3)).astype(np.uint8),
    }


def test_network_maps_are_the_maps_estimate_parses(small_net, images):
    """One inference path: the widgets' maps of stage t are infer_maps(..., stage=t)'s."""
    from openpose_edu.inference import infer_maps

    out = widgets.network_maps(small_net, images["noise"])
    assert (
        out.n_stages == 3 and out.S_stages[0].shape == (19, 72, 96) and out.L_stages[0].shape == (38, 72, 96)
    )
    for t in (1, 2, 3):
        ref = infer_maps(small_net, images["noise"], stage=t)
        np.testing.assert_allclose(out.stage_maps(t)[0], ref.S, atol=1e-5)
        np.testing.assert_allclose(out.stage_maps(t)[1], ref.L, atol=1e-5)


def test_stage_explorer_runs_the_network_once_per_image(small_net, images):
    ex = widgets.StageExplorer({"small": small_net}, images)
    box = ex.widget()
    stage, part, limb, image = (box.controls[k] for k in ("stage", "part", "limb", "image"))
    assert (stage.min, stage.max, stage.value) == (1, 3, 3)
    first = box.picture.value
    assert first[:3] == b"\xff\xd8\xff"  # JPEG: photos encode 20 times faster than as PNG
    stage.value = 1
    assert box.picture.value != first  # stage 1's maps differ from stage 3's
    for t in (2, 3, 1, 2):
        stage.value = t
    part.value = 4
    limb.value = 7
    assert ex.forward_calls == 1
    image.value = "ramp"
    image.value = "noise"
    assert ex.forward_calls == 2  # the second visit to "noise" came from the cache


def test_stage_explorer_shows_the_requested_maps(small_net, images):
    from openpose_edu import viz

    ex = widgets.StageExplorer(small_net, images["noise"])
    fig = ex.figure(stage=2, part=3, limb=5)
    ax_s, ax_l = fig.axes[:2]
    assert ax_s.get_title() == "$S^{2}$: RElbow" and ax_l.get_title() == f"$L^{{2}}$: {LIMBS[5].name}"
    S, L = ex.maps().stage_maps(2)
    shown = np.asarray(ax_s.get_images()[-1].get_array())
    np.testing.assert_array_equal(shown, viz.overlay_heatmap(images["noise"], S, 3, stride=1))
    shown_l = np.asarray(ax_l.get_images()[-1].get_array())
    np.testing.assert_array_equal(shown_l, viz.overlay_paf(images["noise"], L, 5, stride=1))
    # The change view: S^t - S^{t-1}; no change would leave the faded photo.
    change = ex.figure(stage=2, view="change")
    assert change.axes[0].get_title().startswith("$S^{2} - S^{1}$")
    arrows = ex.figure(stage=2, view="arrows")
    assert arrows.axes[1].collections[-1].get_visible()  # the quiver
    with pytest.raises(ValueError, match="view"):
        ex.figure(view="sideways")


@pytest.mark.parametrize("width_px, dpr", [(960, 2.0), (600, 1.0), (700, 1.5)])
def test_widget_png_is_rendered_at_its_displayed_width_times_dpr(small_net, images, width_px, dpr):
    import cv2

    from openpose_edu import viz

    ex = widgets.StageExplorer(small_net, images, display=viz.Display(width_px=width_px, dpr=dpr))
    box = ex.widget()
    png = cv2.imdecode(np.frombuffer(box.picture.value, np.uint8), cv2.IMREAD_COLOR)
    assert png.shape[1] == round(width_px * dpr)
    assert box.picture.layout.width == f"{width_px}px"  # shown at that width: never stretched
    # nor squashed: the height follows the picture's own aspect at whatever width the page allows
    assert (box.picture.layout.height, box.picture.layout.max_width) == ("auto", "100%")
    box.controls["view"].value = "change"
    png = cv2.imdecode(np.frombuffer(box.picture.value, np.uint8), cv2.IMREAD_COLOR)
    assert png.shape[1] == round(width_px * dpr)
    # Without a kernel the cell shows the picture, not "VBox(children=...)".
    bundle, meta = box._repr_mimebundle_()
    assert "image/jpeg" in bundle and "VBox" not in bundle["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert meta["image/jpeg"]["width"] == width_px  # the static picture is shown at the widget's width


def test_people_text_grammar():
    assert [widgets.people_text(n) for n in (0, 1, 2)] == ["0 people", "1 person", "2 people"]


def test_stage_explorer_rejects_bad_input(small_net, images):
    with pytest.raises(TypeError, match="image 'x'"):
        widgets.StageExplorer(small_net, {"x": np.zeros((8, 8, 3), np.float32)})
    with pytest.raises(ValueError, match="image 'x'.*alpha"):
        widgets.StageExplorer(small_net, {"x": np.zeros((8, 8, 4), np.uint8)})
    gray = widgets.StageExplorer(small_net, {"x": np.zeros((16, 16), np.uint8)})
    assert gray.images["x"].shape == (16, 16, 3)  # gray is repeated to 3 channels, as in inference
    ex = widgets.StageExplorer(small_net, images)
    with pytest.raises(ValueError, match="unknown model/image"):
        ex.maps(image="nope")
    with pytest.raises(ValueError, match="stage must be in 1..3"):
        ex.figure(stage=4)


def test_menus_cover_every_part_and_limb():
    assert [v for _, v in widgets.part_options()] == [widgets.ALL, *range(19)]
    assert [v for _, v in widgets.limb_options()] == [widgets.ALL, *range(len(LIMBS))]


# ---------------------------------------------------------------- ground truth and assembly


@pytest.fixture(scope="module")
def scene():
    from openpose_edu.synthetic import make_scene

    for index in range(20):  # the first scene with two labelled people
        s = make_scene(seed=3, index=index, size=(128, 128), max_people=3)
        if len(s.keypoints) >= 2 and (s.keypoints[..., 2] > 0).sum() >= 20:
            return s
    pytest.fail("no two-person scene among the first 20")


def test_ground_truth_playground_shows_groundtruth_maps(scene):
    from openpose_edu import groundtruth

    pg = widgets.GroundTruthPlayground(scene.image, scene.keypoints)
    S, L = pg.maps(sigma=5.0, limb_width=6.0, variant="released")
    ref = groundtruth.confidence_maps(scene.keypoints, grid_size=(16, 16), sigma=5.0, variant="released")
    torch.testing.assert_close(S, ref[0])
    assert L.shape == (38, 16, 16)
    fig = pg.figure(sigma=5.0, part=1)
    assert "= 5 px" in fig.axes[0].get_title() and "Neck" in fig.axes[0].get_title()
    box = pg.widget()
    first = box.picture.value
    box.controls["sigma"].value = 12.0
    assert box.picture.value != first  # wider Gaussians, new picture
    box.controls["variant"].value = "released"
    assert box.picture.value[:4] == b"\x89PNG"


def test_assembly_stepper_replays_the_parse(scene):
    from openpose_edu import assembly, groundtruth

    H, W = scene.image.shape[:2]
    # Perfect maps at image resolution (stride 1): the parse must find the labelled people.
    S = groundtruth.confidence_maps(scene.keypoints, grid_size=(H, W), stride=1, sigma=4.0)[0]
    L = groundtruth.part_affinity_fields(scene.keypoints, grid_size=(H, W), stride=1, limb_width=3.0)[0]
    st = widgets.AssemblyStepper(scene.image, S, L)
    people = st.parse()
    ref = assembly.parse(S, L)
    np.testing.assert_array_equal(people.keypoints, ref.keypoints)
    limb = 2
    lines = st.decisions(limb)
    conns = people.steps.connections[limb]
    assert len(lines) == len(conns.ranked)
    assert sum("accepted" in line for line in lines) == len(conns)
    fig = st.figure(limb=limb, step=1)
    assert fig.axes[0].get_title() == f"{LIMBS[limb].name}: decision 1 of {len(conns.ranked)}"
    assert fig.axes[1].get_title() == f"{widgets.people_text(len(people))} found"
    assert st.parse() is people  # cached
    stricter = st.parse(peak_threshold=0.99)
    assert len(stricter.steps.peaks) < len(people.steps.peaks)
    box = st.widget()
    before = box.picture.value
    box.controls["step"].value = 1
    assert box.picture.value != before
    assert "<b>1. candidates" in box.decisions.value  # the decision text, the current one bold
    # Each slider spans where its threshold acts: at its maximum nobody is left.
    ranges = st.threshold_ranges()
    for name, (lo, hi) in ranges.items():
        assert box.controls[name].min == lo and box.controls[name].max >= hi > lo
    assert len(st.parse(min_mean_score=ranges["min_mean_score"][1] + 1e-3)) == 0
    assert len(st.parse(min_mean_score=ranges["min_mean_score"][0])) > 0
    assert len(st.parse(peak_threshold=ranges["peak_threshold"][1] + 1e-3).steps.peaks) == 0
    with pytest.raises(ValueError, match="one grid"):
        widgets.AssemblyStepper(scene.image, S[:, ::2], L)


def test_assembly_stepper_starts_from_the_thresholds_it_is_given(scene):
    """params= is the stepper's base: its parse is assembly.parse(S, L, params), the sliders start
    at its values, and a slider changes only its own field."""
    from openpose_edu import assembly, groundtruth

    H, W = scene.image.shape[:2]
    S = groundtruth.confidence_maps(scene.keypoints, grid_size=(H, W), stride=1, sigma=4.0)[0]
    L = groundtruth.part_affinity_fields(scene.keypoints, grid_size=(H, W), stride=1, limb_width=3.0)[0]
    base = assembly.ParsingParams(min_parts=19)  # nobody has 19 parts
    st = widgets.AssemblyStepper(scene.image, S, L, params=base)
    assert len(st.parse()) == 0 and len(assembly.parse(S, L)) > 0
    assert len(st.parse(min_mean_score=0.0)) == 0  # min_parts stays the base's
    box = st.widget()
    assert box.controls["min_mean_score"].value == base.min_mean_score
    assert box.controls["paf_threshold"].value == base.paf_threshold


def test_workshop_app_parses_each_stage_and_takes_uploads(small_net, images):
    import cv2

    app = widgets.workshop({"small": small_net}, {"noise": images["noise"]})
    c = app.controls
    assert "stage 3" in app.status.value and app.people_picture.value[:4] == b"\x89PNG"
    c["stage"].value = 1
    assert "stage 1" in app.status.value
    people = app.explorer.people(stage=1)
    assert people.keypoints.shape[1:] == (18, 3)
    assert app.explorer.people(stage=1) is people  # cached
    # An upload: a tall PNG is decoded to RGB, shrunk to 368 rows and becomes the shown image.
    tall = np.zeros((400, 200, 3), np.uint8)
    tall[..., 2] = 255  # red in BGR
    png = cv2.imencode(".png", tall)[1].tobytes()
    from datetime import datetime, timezone

    when = datetime(2024, 1, 1, tzinfo=timezone.utc)
    file = {"name": "red.png", "type": "image/png", "size": len(png), "content": memoryview(png)}
    c["upload"].value = (dict(file, last_modified=when),)
    assert c["image"].value == "upload: red.png"
    assert "upload: red.png" in app.status.value and "found at stage" in app.status.value
    assert ("upload: red.png",) == tuple(k[1] for k in app.explorer._cache if k[1].startswith("upload"))
    up = app.explorer.images["upload: red.png"]
    assert up.shape == (368, 184, 3) and (up[..., 0] == 255).all() and (up[..., 2] == 0).all()
    with pytest.raises(ValueError, match="not an image"):
        decode_upload(b"not an image")


def test_stage_explorer_parses_with_the_models_own_thresholds(small_net, images, monkeypatch):
    """StageExplorer.people: given params first, else the model's parsing_params (its file's)."""
    from openpose_edu import assembly

    seen = []
    real_parse = assembly.parse

    def spy(S, L, params=None, **kwargs):  # kwargs: skeleton= (the maps' own, Maps.skeleton)
        seen.append(params)
        return real_parse(S, L, params, **kwargs)

    from openpose_edu import inference

    monkeypatch.setattr(inference, "parse", spy)  # what poses_from_maps calls
    own = assembly.ParsingParams(n_samples=30, paf_threshold=0.01)
    monkeypatch.setattr(small_net, "card", ModelCard(parsing=own))
    ex = widgets.StageExplorer({"small": small_net}, {"noise": images["noise"]})
    ex.people(stage=2)
    ex.people(stage=2, params=assembly.ParsingParams())
    assert seen == [own, assembly.ParsingParams()]


def test_stage_explorer_keeps_the_pictures_of_the_last_views(small_net, images):
    """A slider moved back pastes the kept pictures: the same arrays, equal to fresh overlays."""
    from openpose_edu import viz

    ex = widgets.StageExplorer(small_net, images["noise"])
    ex.redraw(stage=1, part=2)
    ((view, kept),) = ex._pictures.items()
    ex.redraw(stage=2, part=2)
    ex.redraw(stage=1, part=2)
    assert ex._view_pictures(*view) is kept  # not computed again
    np.testing.assert_array_equal(np.asarray(ex._hs.get_array()), kept[0])
    S, _ = ex.maps().stage_maps(1)
    np.testing.assert_array_equal(kept[0], viz.overlay_heatmap(images["noise"], S, 2, stride=1))
    for t in range(40):  # bounded: the oldest views are dropped
        ex.redraw(stage=1 + t % 3, part=t % 18)
    assert len(ex._pictures) <= 32


def test_a_widget_stores_its_smaller_static_picture(scene):
    """The stepper draws PNGs (lines, text); without a kernel the notebook shows the smaller of
    that PNG and a JPEG of it: a JPEG for a photo, the PNG for a flat synthetic scene."""
    import base64

    from skimage.data import astronaut

    from openpose_edu import groundtruth

    for image, keypoints in ((scene.image, scene.keypoints), (astronaut()[:256, :256], scene.keypoints)):
        H, W = image.shape[:2]
        S = groundtruth.confidence_maps(keypoints, grid_size=(H, W), stride=1, sigma=4.0)[0].numpy()
        L = groundtruth.part_affinity_fields(keypoints, grid_size=(H, W), stride=1, limb_width=3.0)[0].numpy()
        box = widgets.AssemblyStepper(image, S, L).widget()
        assert box.picture.format == "png"
        bundle, meta = box._repr_mimebundle_()
        (mime,) = [k for k in bundle if k.startswith("image/")]
        stored = base64.b64decode(bundle[mime])
        assert len(stored) <= len(box.picture.value) and meta[mime]["width"] == 960
        if image is not scene.image:
            assert mime == "image/jpeg" and stored[:3] == b"\xff\xd8\xff"  # a photo: the JPEG
