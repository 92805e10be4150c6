"""train.py: a few CPU steps lower the loss and reach every stage; resume round-trips exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from openpose_edu.datasets import SyntheticPoseDataset, collate
from openpose_edu.groundtruth import targets
from openpose_edu.model import OpenPoseConfig, OpenPoseNet
from openpose_edu.synthetic import VALIDATION_SEED
from openpose_edu.train import (
    STEPS_ENV,
    TrainConfig,
    bundled_config,
    export_weights,
    init_weights,
    lr_at,
    make_dataset,
    train,
)

CROP = 32  # 4 x 4 grid: enough for the loop, fast on any CPU


def tiny_config(n_stages: int = 3) -> OpenPoseConfig:
    return OpenPoseConfig.small(
        width=0.0625, n_stages=n_stages, stage_kernel=3, vgg=((4,), (4,), (8,), (8,)), stage_layers=1
    )


class TinyScenes(torch.utils.data.Dataset):
    """A person's keypoints drawn as bright dots on noise, with the real targets (groundtruth.targets)."""

    def __init__(self, n: int = 4, crop: int = CROP) -> None:
        rng = np.random.default_rng(0)
        self.items = []
        for _ in range(n):
            kps = np.zeros((1, 18, 3), np.float32)
            kps[0, :, :2] = rng.uniform(4, crop - 4, size=(18, 2))
            kps[0, :, 2] = 2
            image = rng.integers(0, 60, size=(crop, crop, 3), dtype=np.uint8)
            for x, y, _ in kps[0]:
                image[int(y) - 1 : int(y) + 2, int(x) - 1 : int(x) + 2] = 255
            S, L, W = targets(kps[None], None, grid_size=(crop // 8, crop // 8), stride=8)
            self.items.append(
                {"image": torch.as_tensor(image).permute(2, 0, 1), "S": S[0], "L": L[0], "W": W[0]}
            )

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


def quick(tmp_path, **kw) -> TrainConfig:
    base = dict(
        steps=4,
        batch_size=2,
        crop=CROP,
        warmup=2,
        log_every=1,
        checkpoint_every=2,
        out_dir=str(tmp_path / "run"),
    )
    base.update(tensorboard=False)
    base.update(kw)
    return TrainConfig(**base)


def test_a_few_steps_lower_the_loss(tmp_path) -> None:
    cfg = quick(tmp_path, steps=40, batch_size=4, lr=3e-3, warmup=5, checkpoint_every=40)
    result = train(cfg, model_config=tiny_config(), dataset=TinyScenes(4), progress=False)
    totals = [r["total"] for r in result.history]
    assert len(totals) == 40
    assert np.mean(totals[-5:]) < 0.8 * np.mean(totals[:5])
    # every stage's both branches are recorded (intermediate supervision)
    assert all(len(r["S"]) == 3 and len(r["L"]) == 3 for r in result.history)
    assert result.checkpoint is not None and result.checkpoint.is_file()
    assert (tmp_path / "run" / "history.jsonl").read_text().count("\n") == 40


def test_cpu_bfloat16_trains_like_float32(tmp_path) -> None:
    """cpu_bf16 (bfloat16 autocast, channels_last): float32's loss to bf16's precision, and it falls."""
    data = TinyScenes(4)
    kw = dict(steps=40, batch_size=4, lr=3e-3, warmup=5, checkpoint_every=40)
    f32 = train(quick(tmp_path / "f", **kw), model_config=tiny_config(), dataset=data, progress=False)
    b16 = train(
        quick(tmp_path / "b", cpu_bf16=True, **kw), model_config=tiny_config(), dataset=data, progress=False
    )
    first32, first16 = f32.history[0]["total"], b16.history[0]["total"]
    assert first16 == pytest.approx(first32, rel=0.02)
    assert first16 != first32  # bfloat16 really ran
    totals = [r["total"] for r in b16.history]
    assert np.mean(totals[-5:]) < 0.8 * np.mean(totals[:5])
    # what it returns and writes is a plain float32 NCHW network
    state = torch.load(b16.checkpoint, weights_only=True)["state_dict"]
    assert all(v.dtype == torch.float32 and v.is_contiguous() for v in state.values())
    assert all(p.is_contiguous() for p in b16.model.parameters())


def test_every_stage_gets_gradients() -> None:
    from openpose_edu.loss import openpose_loss

    net = init_weights(OpenPoseNet(tiny_config(n_stages=4)))
    batch = collate([TinyScenes(2)[i] for i in range(2)])
    x = net.input_spec.normalize(batch["image"], color="RGB")
    terms = openpose_loss(net(x), batch["S"], batch["L"], batch["W"])
    terms.total.backward()
    for stage in net.stages:
        for branch in (stage.L1, stage.L2):
            grads = [p.grad for p in branch.parameters()]
            assert all(g is not None for g in grads)
            assert sum(float(g.abs().sum()) for g in grads) > 0, f"stage {stage.t} got no gradient"
    assert sum(float(p.grad.abs().sum()) for p in net.backbone.parameters()) > 0


def test_resume_round_trips_exactly(tmp_path) -> None:
    data = TinyScenes(4)
    straight = train(quick(tmp_path / "a", steps=4), model_config=tiny_config(), dataset=data, progress=False)
    first = train(quick(tmp_path / "b", steps=4), model_config=tiny_config(), dataset=data, progress=False)
    half = tmp_path / "b" / "run" / "step_000002.pt"
    resumed = train(quick(tmp_path / "c", steps=4), resume=half, dataset=data, progress=False)
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
        assert torch.equal(value, first.model.state_dict()[key]), key
    # the history continues where the checkpoint stopped
    assert [r["step"] for r in resumed.history] == [1, 2, 3, 4]
    assert [r["total"] for r in resumed.history] == [r["total"] for r in straight.history]


def test_init_from_starts_a_new_run_from_the_weights(tmp_path) -> None:
    """Fine-tuning: the weights (and config) of a checkpoint, but step 0 and a fresh optimizer."""
    data = TinyScenes(4)
    first = train(quick(tmp_path / "a", steps=2), model_config=tiny_config(), dataset=data, progress=False)
    start = tmp_path / "a" / "run" / "step_000002.pt"
    # lr 1e-30: Adam's steps are far below a float32 ulp, so the weights stay the starting ones
    still = train(quick(tmp_path / "b", steps=1, lr=1e-30), init_from=start, dataset=data, progress=False)
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, still.model.state_dict()[key]), key
    tuned = train(quick(tmp_path / "c", steps=2), init_from=start, dataset=data, progress=False)
    assert [r["step"] for r in tuned.history] == [1, 2]  # a new run: its own steps and schedule
    assert tuned.history[0]["lr"] == pytest.approx(lr_at(0, quick(tmp_path, steps=2)))
    assert any(not torch.equal(v, tuned.model.state_dict()[k]) for k, v in first.model.state_dict().items())
    with pytest.raises(ValueError, match="not both"):
        train(quick(tmp_path / "d"), init_from=start, resume=start, dataset=data, progress=False)
    with pytest.raises(ValueError, match="different network config"):
        train(quick(tmp_path / "e"), tiny_config(2), init_from=start, dataset=data, progress=False)


def test_checkpoint_carries_config_step_optimizer_seed(tmp_path) -> None:
    train(quick(tmp_path, data_seed=7), model_config=tiny_config(), dataset=TinyScenes(2), progress=False)
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert ckpt["format"] == "openpose_edu/1"
    assert OpenPoseConfig.from_dict(ckpt["config"]) == tiny_config()
    assert ckpt["step"] == 4 and ckpt["data_seed"] == 7
    assert ckpt["optimizer"]["state"], "optimizer state missing"


def test_resume_with_another_config_is_refused(tmp_path) -> None:
    train(quick(tmp_path), model_config=tiny_config(), dataset=TinyScenes(2), progress=False)
    with pytest.raises(ValueError, match="different network config"):
        train(
            quick(tmp_path / "x"),
            model_config=tiny_config(n_stages=2),
            resume=tmp_path / "run" / "last.pt",
            dataset=TinyScenes(2),
            progress=False,
        )
    with pytest.raises(ValueError, match="data_seed"):
        train(quick(tmp_path / "y", data_seed=5), resume=tmp_path / "run" / "last.pt", dataset=TinyScenes(2))
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        train(quick(tmp_path / "z"), resume=tmp_path / "nothing.pt", dataset=TinyScenes(2))


def test_targets_follow_the_network_stride(tmp_path) -> None:
    """A stride-4 network (3 VGG blocks) trains on stride-4 targets, with no dataset passed in."""
    from openpose_edu.model import InputSpec

    net_cfg = OpenPoseConfig.small(
        width=0.0625, n_stages=2, vgg=((4,), (4,), (8,)), stage_layers=1, input=InputSpec(stride=4)
    )
    result = train(quick(tmp_path, steps=2, checkpoint_every=2), model_config=net_cfg, progress=False)
    assert result.model.stride == 4 and len(result.history) == 2
    item = make_dataset(TrainConfig(crop=32), n_items=1, stride=4)[0]
    assert item["S"].shape == (19, 8, 8) and item["L"].shape == (38, 8, 8) and item["W"].shape == (1, 8, 8)


def test_target_widths_reach_the_training_targets() -> None:
    """--sigma and --limb-width set S* and L* of the scenes (groundtruth.targets, same keypoints)."""
    cfg = TrainConfig(crop=128, sigma=4.0, limb_width=4.0, data_seed=3)
    item = make_dataset(cfg, n_items=2, stride=4)[1]
    scene = SyntheticPoseDataset(2, seed=3, size=(128, 128)).scene(1)
    S, L, _ = targets(scene.keypoints[None], grid_size=(32, 32), stride=4, sigma=4.0, limb_width=4.0)
    wide_S, wide_L, _ = targets(scene.keypoints[None], grid_size=(32, 32), stride=4)
    assert torch.equal(item["S"], S[0]) and torch.equal(item["L"], L[0])
    assert (L[0] != 0).sum() < (wide_L[0] != 0).sum() and S[0].sum() < wide_S[0].sum()


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="crop"):
        TrainConfig(crop=30)
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="device"):
        TrainConfig(device="tpu")
    with pytest.raises(ValueError, match="limb_width"):
        TrainConfig(limb_width=0)
    with pytest.raises(ValueError, match="sigma"):
        TrainConfig(sigma=-1)
    with pytest.raises(ValueError, match="coco_images"):
        TrainConfig(coco_annotations="a.json")


def test_validation_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="held-out"):
        make_dataset(TrainConfig(data_seed=VALIDATION_SEED))


def test_lr_schedule_warms_up_then_decays() -> None:
    cfg = TrainConfig(steps=100, warmup=10, lr=1e-3, final_lr_ratio=0.1)
    lrs = [lr_at(s, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-5)
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:11]))
    assert lrs[10] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lr_at(100, cfg) == pytest.approx(1e-4)


def test_steps_env_override(monkeypatch) -> None:
    monkeypatch.setenv(STEPS_ENV, "3")
    assert TrainConfig.from_env(batch_size=2).steps == 3
    monkeypatch.setenv(STEPS_ENV, "many")
    with pytest.raises(ValueError, match=STEPS_ENV):
        TrainConfig.from_env()


def test_init_weights_outputs_start_small() -> None:
    net = init_weights(OpenPoseNet(tiny_config()))
    out = net(torch.zeros(1, 3, CROP, CROP))
    for S, L in zip(out.S, out.L):
        assert L.abs().max() < 0.5
        assert torch.allclose(S[:, -1], torch.ones_like(S[:, -1]), atol=0.5)  # background ~ 1


def test_export_keeps_weights_and_config_only(tmp_path) -> None:
    cfg = quick(tmp_path, limb_width=3.0)
    result = train(cfg, model_config=tiny_config(), dataset=TinyScenes(2), progress=False)
    dest = export_weights(result.checkpoint, tmp_path / "bundled.pt", command="test")
    ckpt = torch.load(dest, weights_only=True)
    assert "optimizer" not in ckpt and "history" not in ckpt
    assert ckpt["meta"]["command"] == "test" and ckpt["step"] == 4
    assert (ckpt["meta"]["sigma"], ckpt["meta"]["limb_width"]) == (7.0, 3.0)  # the config's widths
    net = OpenPoseNet(OpenPoseConfig.from_dict(ckpt["config"]))
    net.load_state_dict(ckpt["state_dict"])
    for key, value in result.model.state_dict().items():
        assert torch.equal(value, net.state_dict()[key])


def test_tensorboard_logs_every_stage(tmp_path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(
        quick(tmp_path, tensorboard=True), model_config=tiny_config(), dataset=TinyScenes(2), progress=False
    )
    acc = EventAccumulator(str(tmp_path / "run" / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"loss/total", "loss_S/stage1", "loss_L/stage3", "lr"} <= tags


def test_bundled_config_is_the_paper_family() -> None:
    from dataclasses import replace

    from openpose_edu.model import InputSpec
    from openpose_edu.surgery import with_stage_kernel, without_last_pool

    cfg = bundled_config()
    paper = OpenPoseConfig.paper()
    assert cfg.n_stages == paper.n_stages == 6
    assert (cfg.n_heatmaps, cfg.n_pafs) == (19, 38)
    assert (cfg.stride, paper.stride) == (4, 8)  # one max pool fewer than the paper
    assert (cfg.stage_kernel, paper.stage_kernel) == (5, 7)
    # the 3x3 stride-8 form of runs 1-3, with its last pool removed (runs 4-5) and its stage
    # kernels grown to 5x5 (run 6), is this network
    stride8 = replace(
        cfg, vgg=((16,), (32,), (64, 64), (96, 96)), stage_kernel=3, input=replace(cfg.input, stride=8)
    )
    assert stride8.stride == 8 and isinstance(stride8.input, InputSpec)
    assert with_stage_kernel(without_last_pool(OpenPoseNet(stride8)), 5).config == cfg


def test_bundled_checkpoint_is_small_and_self_describing() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "openpose_edu" / "checkpoints" / "bundled.pt"
    if not path.is_file():
        pytest.skip("bundled.pt not built yet")
    assert path.stat().st_size <= 10 * 2**20
    ckpt = torch.load(path, weights_only=True)
    assert "optimizer" not in ckpt
    assert OpenPoseConfig.from_dict(ckpt["config"]) == bundled_config()
    # trained toward L* one grid cell wide (run 8; notebooks 04-06 compare with limb_width=stride)
    assert ckpt["meta"]["limb_width"] == bundled_config().stride and ckpt["meta"]["sigma"] == 7.0
    # its parser thresholds, chosen by evaluate.tune_parsing, are one combination of TUNING_GRID
    from openpose_edu.assembly import ParsingParams
    from openpose_edu.evaluate import TUNING_GRID

    chosen = ParsingParams.from_dict(ckpt["meta"]["parsing"])
    assert chosen != ParsingParams()
    assert all(getattr(chosen, name) in values for name, values in TUNING_GRID.items())
    net = OpenPoseNet(bundled_config())
    net.load_state_dict(ckpt["state_dict"])
    out = net.eval()(torch.zeros(1, 3, 64, 64))
    assert out.n_stages == 6 and out.S[-1].shape == (1, 19, 16, 16)
