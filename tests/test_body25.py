"""The BODY_25 network (2019 paper): CMU's prototxt, parameter counts, OpenCV fidelity, training hooks.

The reference prototxt is CMU's ``models/pose/body_25/pose_deploy.prototxt``; the tests that
read it skip when ``../shared/reference`` is absent (it is CMU's file, not in the repository).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from openpose_edu import body25
from openpose_edu.body25 import Body25Config, Body25Net, parameter_counts
from openpose_edu.formats.caffe import caffemodel_bytes, model_blobs, opencv_forward, opencv_net, to_prototxt
from openpose_edu.loss import openpose_loss
from openpose_edu.macs import conv_macs, part_macs
from openpose_edu.model import he_normal_

REFERENCE = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "reference" / "body_25_pose_deploy.prototxt"
)
# sha256 of CMU's body_25/pose_deploy.prototxt (openpose @5c5d9652, docs/body25_facts.md): 42,330 bytes.
BODY25_PROTOTXT_SHA256 = "44d6ed3a5268d8d41ca59b3a040491277d876975c3234d82cf7ec0539b4b1f61"
TOL = 1e-4


def _prototxt_layers(text: str) -> list[dict]:
    """Each layer of a prototxt as {name, type, bottoms, tops, params} (the file's own words)."""
    out = []
    for block in re.findall(r"layer \{(.*?)\n\}", text, re.S):
        out.append(
            {
                "name": re.search(r'name: "(.*?)"', block).group(1),
                "type": re.search(r'type: "(.*?)"', block).group(1),
                "bottoms": re.findall(r'bottom: "(.*?)"', block),
                "tops": re.findall(r'top: "(.*?)"', block),
                "params": re.findall(r"(\w+): (\w+)\n", block),
            }
        )
    return out


def test_paper_prototxt_is_pinned() -> None:
    text = to_prototxt(Body25Config.paper())
    assert len(text) == 42_330
    assert hashlib.sha256(text.encode()).hexdigest() == BODY25_PROTOTXT_SHA256


@pytest.mark.skipif(not REFERENCE.is_file(), reason="CMU's BODY_25 prototxt is not in ../shared/reference")
def test_paper_prototxt_equals_cmus_layer_by_layer() -> None:
    ours = _prototxt_layers(to_prototxt(Body25Config.paper()))
    theirs = _prototxt_layers(REFERENCE.read_text())
    assert len(theirs) == 261
    for a, b in zip(ours, theirs, strict=True):
        assert a == b, (a["name"], b["name"])
    assert to_prototxt(Body25Config.paper()) == REFERENCE.read_text()


def test_paper_wiring_pafs_first_then_heatmaps() -> None:
    layers = {la.name: la for la in body25.caffe_net_layers(Body25Config.paper())}
    assert Counter(la.type for la in body25.caffe_net_layers(Body25Config.paper())) == {
        "Convolution": 114,
        "ReLU": 9,
        "PReLU": 99,
        "Pooling": 3,
        "Concat": 36,
    }
    assert layers["concat_stage1_L2"].bottoms == ("conv4_4_CPM", "Mconv7_stage0_L2")
    assert layers["concat_stage0_L1"].bottoms == ("conv4_4_CPM", "Mconv7_stage3_L2")
    assert layers["concat_stage1_L1"].bottoms == ("conv4_4_CPM", "Mconv7_stage0_L1", "Mconv7_stage3_L2")
    assert layers["net_output"].bottoms == ("Mconv7_stage1_L1", "Mconv7_stage3_L2")
    assert layers["Mconv7_stage3_L2"].num_output == 52 and layers["Mconv7_stage1_L1"].num_output == 26
    assert layers["Mconv2_stage1_L2_0"].c_in == 3 * 128  # a block reads the previous block's concat


def _prototxt_parameter_counts(text: str) -> dict[str, int]:
    """Parameters per part counted from the prototxt alone (channels flow through the blobs)."""
    channels = {"image": 3}
    counts: Counter[str] = Counter()
    for la in _prototxt_layers(text):
        params = dict(la["params"])
        part = (
            "vgg" if not la["name"].startswith(("M", "conv4_3", "conv4_4", "prelu4_3", "prelu4_4")) else "cpm"
        )
        m = re.search(r"stage(\d)_L(\d)", la["name"])
        if m:
            part = ("paf" if m.group(2) == "2" else "heat") + m.group(1)
        if la["type"] == "Convolution":
            c_out, k = int(params["num_output"]), int(params["kernel_size"])
            counts[part] += c_out * channels[la["bottoms"][0]] * k * k + c_out
            channels[la["tops"][0]] = c_out
        elif la["type"] == "PReLU":
            counts[part] += channels[la["bottoms"][0]]
        elif la["type"] == "Concat":
            channels[la["tops"][0]] = sum(channels[b] for b in la["bottoms"])
        else:
            channels[la["tops"][0]] = channels[la["bottoms"][0]]
    return dict(counts)


def test_parameter_counts_per_part_equal_the_prototxts() -> None:
    with torch.device("meta"):
        net = Body25Net()
    ours = parameter_counts(net)
    assert ours == _prototxt_parameter_counts(to_prototxt(Body25Config.paper()))
    # docs/body25_facts.md: vgg 5.87 M, CPM 1.47 M, PAF 0 2.02 M, PAF 1-3 3.68 M, heat 0 2.06 M, 1: 3.69 M
    assert ours["vgg"] == 5_866_048 and ours["paf0"] == 2_025_844 and ours["heat1"] == 3_696_154
    assert sum(ours.values()) == 26_166_084
    if REFERENCE.is_file():
        assert ours == _prototxt_parameter_counts(REFERENCE.read_text())


def test_macs_of_the_two_papers() -> None:
    from openpose_edu.model import OpenPoseNet

    with torch.device("meta"):
        b25, coco = Body25Net(), OpenPoseNet()
    assert abs(sum(conv_macs(b25).values()) / 1e9 - 80.6) < 0.1  # docs/body25_facts.md: about 80.6 GMACs
    assert abs(sum(conv_macs(coco).values()) / 1e9 - 136) < 0.5
    # one counter, grouped by the same parts as parameter_counts, for both families
    for net in (b25, coco):
        per_part = part_macs(net)
        assert list(per_part) == list(parameter_counts(net))
        assert sum(per_part.values()) == sum(conv_macs(net).values())


def test_forward_returns_every_stage_pafs_first() -> None:
    cfg = Body25Config.small(0.125)
    net = Body25Net(cfg).eval()
    x = torch.randn(2, 3, 40, 48)
    out = net(x)
    assert len(out.L) == 4 and len(out.S) == 2
    assert out.L[0].shape == (2, 38, 5, 6) and out.S[-1].shape == (2, 19, 5, 6)
    assert net.n_stages == 6 and len(net.stages) == 6 and net.stride == 8
    with pytest.raises(ValueError, match="n_stages"):
        net(x, n_stages=7)
    assert len(net(x, n_stages=5).S) == 1
    # Stage t as outputs.OutputSpec defines it, from one forward pass (no StageView).
    view = out.stages()
    assert len(view) == 6 and out.n_stages == 6
    torch.testing.assert_close(view[5][0], out.S[-1])
    torch.testing.assert_close(view[3][0], out.S[-1])  # stage P: the network's output
    torch.testing.assert_close(view[5][1], out.L[-1])
    torch.testing.assert_close(view[4][0], out.S[0])
    assert not torch.allclose(view[0][0], out.S[-1])  # heatmaps on L^1 differ
    # forward(n_stages=t) stops after stage t and gives the same stage t
    for t in (1, 3, 5):
        short = net(x, n_stages=t)
        assert short.n_stages == t and len(short.L) == min(t, 4)
        for a, b in zip(short.stage(t), view[t - 1], strict=True):
            torch.testing.assert_close(a, b)


def test_loss_supervises_every_stage_of_both_lists() -> None:
    net = Body25Net(Body25Config.small(0.125))
    out = net(torch.randn(1, 3, 32, 32))
    terms = openpose_loss(out, torch.zeros(1, 19, 4, 4), torch.zeros(1, 38, 4, 4))
    assert len(terms.S) == 2 and len(terms.L) == 4
    logged = terms.as_dict()  # every term of both lists is logged, and they sum to the total
    assert [k for k in logged if k != "total"] == [
        "stage1/S", "stage1/L", "stage2/S", "stage2/L", "stage3/L", "stage4/L"
    ]  # fmt: skip
    assert abs(sum(v for k, v in logged.items() if k != "total") - logged["total"]) < 1e-4 * logged["total"]
    terms.total.backward()
    assert all(p.grad is not None for p in net.parameters())


def test_config_round_trip_and_checkpoint(tmp_path: Path) -> None:
    from openpose_edu.train import build_model, init_weights
    from openpose_edu.weights import load_checkpoint, save_checkpoint

    cfg = Body25Config.small(0.125)
    assert Body25Config.from_dict(cfg.to_dict()) == cfg
    assert cfg.skeleton_name == "COCO18" and Body25Config.paper().skeleton_name == "BODY25"
    net = init_weights(build_model(cfg), seed=0)
    assert isinstance(net, Body25Net)
    assert net.heat_stages[0].output_conv.bias[-1].item() == 1.0
    path = save_checkpoint(tmp_path / "b.pt", net)
    loaded, _ = load_checkpoint(path)
    assert isinstance(loaded, Body25Net) and loaded.config == cfg
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(loaded(x).S[-1], net.eval()(x).S[-1])


def _fidelity(cfg: Body25Config, size: tuple[int, int], seed: int) -> dict[str, float]:
    net = he_normal_(Body25Net(cfg), seed).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # PReLU slopes away from their common 0.25 start
        for m in net.modules():
            if isinstance(m, torch.nn.PReLU):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.5)
    x = torch.randn(1, 3, *size, generator=g)
    with torch.no_grad():
        ours = net(x)
    theirs = opencv_forward(opencv_net(cfg, caffemodel_bytes(model_blobs(net))), x, cfg)
    out = {"F": (ours.F - theirs.F).abs().max().item()}
    out |= {
        f"S{t}": (a - b).abs().max().item() for t, (a, b) in enumerate(zip(ours.S, theirs.S, strict=True), 1)
    }
    out |= {
        f"L{t}": (a - b).abs().max().item() for t, (a, b) in enumerate(zip(ours.L, theirs.L, strict=True), 1)
    }
    scale = max(float(m.abs().max()) for m in [*ours.S, *ours.L])
    assert scale > 0.1  # realistic map magnitudes: a tolerance that means something
    return out


def test_fidelity_paper_network_every_stage_matches_opencv() -> None:
    diffs = _fidelity(Body25Config.paper(), (64, 72), seed=0)
    assert len(diffs) == 1 + 2 + 4
    assert max(diffs.values()) <= TOL, diffs


def test_fidelity_small_coco18_member_matches_opencv() -> None:
    diffs = _fidelity(Body25Config.small(0.25), (48, 40), seed=1)
    assert max(diffs.values()) <= TOL, diffs


def test_small_member_json_trains_with_train_py(tmp_path: Path) -> None:
    import json

    from openpose_edu.train import TrainConfig, model_config_from_arg, train

    cfg = Body25Config.small(0.125)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(cfg.to_dict()))
    assert model_config_from_arg(str(path)) == cfg
    res = train(
        TrainConfig(steps=2, batch_size=1, crop=32, warmup=1, tensorboard=False, out_dir=str(tmp_path / "r")),
        model_config=cfg,
        progress=False,
    )
    assert isinstance(res.model, Body25Net) and len(res.history[-1]["L"]) == 4
    assert np.isfinite(res.history[-1]["total"])


# --- CMU's weights: the registry entry and the loader (on test-made files) ----------------------


def test_registry_names_cmus_body25_file() -> None:
    from openpose_edu.weights import REGISTRY

    spec = REGISTRY["cmu-body25"]
    assert spec.filename == "pose_iter_584000.caffemodel"
    assert spec.md5 == "78287b57cf85fa89c03f1393d368e5b7"  # CMU's CMakeLists.txt (docs/body25_facts.md)
    assert spec.urls[0].endswith("pose/body_25/pose_iter_584000.caffemodel")
    assert "non-commercial" in spec.licence and spec.loader == "openpose_edu.body25:load_caffemodel"


def test_test_made_caffemodel_loads_identical_tensors(tmp_path: Path) -> None:
    cfg = Body25Config.small(0.125, skeleton="BODY25")
    net = he_normal_(Body25Net(cfg), 3).eval()
    path = tmp_path / "tiny.caffemodel"
    path.write_bytes(caffemodel_bytes(model_blobs(net)))
    loaded = body25.load_caffemodel(path, config=cfg)
    for (k, a), (k2, b) in zip(net.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k == k2
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_caffemodel_missing_layers_are_named(tmp_path: Path) -> None:
    cfg = Body25Config.small(0.125)
    blobs = model_blobs(Body25Net(cfg))
    del blobs["Mconv7_stage1_L1"], blobs["Mprelu1_stage0_L2_0"]
    path = tmp_path / "partial.caffemodel"
    path.write_bytes(caffemodel_bytes(blobs))
    with pytest.raises(ValueError, match="Mconv7_stage1_L1"):
        body25.load_caffemodel(path, config=cfg)


def test_load_model_fetches_cmu_body25_from_a_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry path end to end: mirror -> MD5 check -> body25.load_caffemodel (small test file)."""
    import dataclasses
    import functools

    from openpose_edu import weights

    cfg = Body25Config.small(0.125, skeleton="BODY25")
    net = he_normal_(Body25Net(cfg), 4).eval()
    (tmp_path / "pose_iter_584000.caffemodel").write_bytes(caffemodel_bytes(model_blobs(net)))
    digest = weights.file_digest(tmp_path / "pose_iter_584000.caffemodel", "md5")
    spec = dataclasses.replace(weights.REGISTRY["cmu-body25"], md5=digest, loader="test_body25:_small_loader")
    monkeypatch.setitem(weights.REGISTRY, "cmu-body25", spec)
    monkeypatch.setenv("OPENPOSE_EDU_MIRROR", str(tmp_path))
    monkeypatch.setenv("OPENPOSE_EDU_CACHE", str(tmp_path / "cache"))
    global _small_loader
    _small_loader = functools.partial(body25.load_caffemodel, config=cfg)
    model = weights.load_model("cmu-body25", progress=False)
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(model(x).L[-1], net(x).L[-1])


_small_loader = None  # set by the test above: the registry's loader with a small config


def test_opencv_forward_holds_every_stage_of_body25() -> None:
    """OpenCV runs the whole network: its output holds stages 1..P+H (not H, the length of S)."""
    cfg = Body25Config.small(0.125, paf_stages=2, heat_stages=2)
    net = Body25Net(cfg).eval()
    x = torch.randn(1, 3, 32, 40, generator=torch.Generator().manual_seed(1))
    theirs = opencv_forward(opencv_net(cfg, caffemodel_bytes(model_blobs(net))), x, cfg)
    with torch.no_grad():
        ours = net(x)
    assert theirs.n_stages == ours.n_stages == 4
    for t in (3, 4):  # the map stages OpenCV ran (stages 1, 2 would need the map heads re-run)
        for u, v in zip(ours.stage(t), theirs.stage(t), strict=True):
            torch.testing.assert_close(u, v, atol=1e-4, rtol=1e-4)
