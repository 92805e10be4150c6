import pytest
import torch

from openpose_edu.model import (
    InputSpec,
    NetworkOutput,
    OpenPoseConfig,
    OpenPoseNet,
    caffe_layers,
    count_parameters,
    parameter_counts,
)


@pytest.fixture(scope="module")
def paper_net() -> OpenPoseNet:
    return OpenPoseNet(OpenPoseConfig.paper()).eval()


def test_paper_parameter_count(paper_net):
    assert count_parameters(paper_net) == 52_311_446
    counts = parameter_counts(paper_net)
    assert counts["vgg"] == 5_865_536
    assert counts["cpm"] == 1_474_944
    assert counts["stage1"] == 1_046_841
    for t in range(2, 7):
        assert counts[f"stage{t}"] == 8_784_825
    s1 = paper_net.stages[0]
    assert count_parameters(s1.L1) == 528_294 and count_parameters(s1.L2) == 518_547
    s2 = paper_net.stages[1]
    assert count_parameters(s2.L1) == 4_393_638 and count_parameters(s2.L2) == 4_391_187


def test_caffe_layer_names(paper_net):
    layers = caffe_layers(paper_net)
    assert len(layers) == 92  # 92 Convolution layers in pose_deploy_linevec.prototxt
    assert layers["conv1_1"].weight.shape == (64, 3, 3, 3)
    assert layers["conv4_4_CPM"].weight.shape == (128, 256, 3, 3)
    assert layers["conv5_5_CPM_L1"].weight.shape == (38, 512, 1, 1)
    assert layers["conv5_5_CPM_L2"].weight.shape == (19, 512, 1, 1)
    assert layers["Mconv1_stage2_L1"].weight.shape == (128, 185, 7, 7)
    assert layers["Mconv7_stage6_L2"].weight.shape == (19, 128, 1, 1)
    n_relu = sum(isinstance(m, torch.nn.ReLU) for m in paper_net.modules())
    assert n_relu == 80  # the 12 convs without ReLU: conv5_5_* and Mconv7_*


def test_last_layers_have_no_relu(paper_net):
    # A popular port puts a ReLU on the final heatmaps; Caffe has none. Negative outputs must survive.
    for stage in paper_net.stages:
        for branch in (stage.L1, stage.L2):
            assert isinstance(list(branch.children())[-1], torch.nn.Conv2d)
    net = OpenPoseNet(OpenPoseConfig.small(width=0.125)).eval()
    with torch.no_grad():
        out = net(torch.randn(1, 3, 64, 64))
    assert all((s < 0).any() for s in out.S) and all((p < 0).any() for p in out.L)


@pytest.mark.parametrize("hw", [(368, 368), (100, 77), (64, 200)])
def test_every_stage_returned_any_size(hw):
    cfg = OpenPoseConfig.small(width=0.125)
    net = OpenPoseNet(cfg).eval()
    H, W = hw
    with torch.no_grad():
        out = net(torch.randn(2, 3, H, W))
    assert isinstance(out, NetworkOutput) and out.n_stages == 6
    h, w = -(-H // 8), -(-W // 8)  # Caffe's ceil-mode pooling
    assert out.F.shape == (2, cfg.cpm[-1], h, w)
    for t in range(1, 7):
        S, L = out.stage(t)
        assert S.shape == (2, 19, h, w) and L.shape == (2, 38, h, w)


def test_paper_output_shape(paper_net):
    with torch.no_grad():
        out = paper_net(torch.randn(1, 3, 368, 368), n_stages=2)
    assert out.F.shape == (1, 128, 46, 46) and out.n_stages == 2 and out.S[1].shape == (1, 19, 46, 46)


def test_stages_feed_on_previous_stage():
    net = OpenPoseNet(OpenPoseConfig.small(width=0.125, n_stages=3)).eval()
    x = torch.randn(1, 3, 48, 48)
    with torch.no_grad():
        full = net(x)
        F = net.features(x)
        s1, l1 = net.stages[0](F)
        s2, l2 = net.stages[1](torch.cat([l1, s1, F], 1))
    torch.testing.assert_close(full.S[1], s2)
    torch.testing.assert_close(full.L[1], l2)


def test_dtype_and_bad_input():
    net = OpenPoseNet(OpenPoseConfig.small(width=0.125, n_stages=2)).to(torch.float64)
    out = net(torch.randn(1, 3, 32, 32, dtype=torch.float64))
    assert out.S[-1].dtype == torch.float64
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        net(torch.randn(3, 32, 32, dtype=torch.float64))
    with pytest.raises(ValueError, match="n_stages"):
        net(torch.randn(1, 3, 32, 32, dtype=torch.float64), n_stages=3)


def test_config_round_trip():
    cfg = OpenPoseConfig.small(width=0.25, n_stages=4, stage_kernel=5)
    assert OpenPoseConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        OpenPoseConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="odd"):
        OpenPoseConfig(stage_kernel=4)


def test_stride_follows_the_vgg_blocks():
    """One max pool between VGG blocks: 3 blocks give stride 4, and input.stride must agree."""
    cfg = OpenPoseConfig.small(width=0.0625, n_stages=2, vgg=((4,), (4,), (8, 8)), input=InputSpec(stride=4))
    out = OpenPoseNet(cfg)(torch.zeros(1, 3, 32, 48))
    assert cfg.stride == 4 and out.S[-1].shape[-2:] == (8, 12) and out.L[-1].shape[-2:] == (8, 12)
    with pytest.raises(ValueError, match="input.stride 8 must equal the network's stride 4"):
        OpenPoseConfig.small(width=0.0625, vgg=((4,), (4,), (8, 8)))


@pytest.mark.cuda
def test_cuda_matches_cpu():
    net = OpenPoseNet(OpenPoseConfig.small(width=0.125)).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref = net(x)
        out = net.to("cuda")(x.to("cuda"))
    torch.testing.assert_close(out.S[-1].cpu(), ref.S[-1], atol=1e-4, rtol=1e-4)


def test_input_spec_normalize():
    from openpose_edu.model import InputSpec

    spec = InputSpec()  # BGR, x/256 - 0.5
    rgb = torch.tensor([10, 128, 250], dtype=torch.uint8).view(1, 3, 1, 1)
    x = spec.normalize(rgb, color="RGB")
    torch.testing.assert_close(x.flatten(), torch.tensor([250, 128, 10]) / 256 - 0.5)
    torch.testing.assert_close(spec.normalize(rgb.flip(1), color="BGR"), x)
    with pytest.raises(ValueError, match="color"):
        spec.normalize(rgb, color="HSV")


def test_batch_is_one_normalized_image():
    """InputSpec.batch: (H, W, 3) -> (1, 3, H, W), what normalize gives the permuted image."""
    import numpy as np

    spec = InputSpec()
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    raw = torch.from_numpy(image).permute(2, 0, 1)[None]
    assert torch.equal(spec.batch(image), spec.normalize(raw, color="RGB"))
    assert torch.equal(spec.batch(image[..., ::-1], color="BGR"), spec.batch(image))
    assert torch.equal(spec.batch(torch.from_numpy(image)), spec.batch(image))
    with pytest.raises(ValueError, match="H, W, 3"):
        spec.batch(image[..., 0])


def test_a_config_with_bad_backbone_widths_is_one_clear_error() -> None:
    """vgg is blocks of widths: a flat list, a width over the bound and too many convs name the field."""
    from openpose_edu.model import CONFIG_BOUNDS

    with pytest.raises(ValueError, match=r"vgg must be blocks of conv widths"):
        OpenPoseConfig(vgg=(64, 64))
    with pytest.raises(ValueError, match=r"vgg widths must be integers in 1\.\.4096 \(at most 128 convs\)"):
        OpenPoseConfig(vgg=((64, CONFIG_BOUNDS["width"] + 1),))
    with pytest.raises(ValueError, match=r"cpm widths must be integers"):
        OpenPoseConfig(cpm=(8,) * (4 * CONFIG_BOUNDS["count"] + 1))
