"""torchrun + DDP (distributed.py, train.py) on CPU with gloo, on a tiny COCO-format set.

Two processes with batch 2 each reach the weights of one process with batch 4; a run resumed
from its step-2 checkpoint ends where the uninterrupted run ends; validation writes COCO AP.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from openpose_edu import distributed
from openpose_edu.coco_samples import write_coco_scenes
from openpose_edu.model import OpenPoseConfig
from openpose_edu.synthetic import SceneConfig
from openpose_edu.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
STEPS, CROP = 4, 32


def tiny_config() -> OpenPoseConfig:
    return OpenPoseConfig.small(
        width=0.0625, n_stages=2, stage_kernel=3, vgg=((4,), (4,), (8,), (8,)), stage_layers=1
    )


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coco")
    annotations, images = write_coco_scenes(folder, 4, size=(120, 160), config=SceneConfig(p_unlabelled=0.5))
    model = folder / "tiny.json"
    model.write_text(json.dumps(tiny_config().to_dict()))
    return str(annotations), str(images), str(model)


def settings(out: Path, annotations: str, images: str, **kw) -> dict:
    base = dict(
        steps=STEPS,
        batch_size=4,
        crop=CROP,
        warmup=2,
        lr=3e-3,
        log_every=1,
        checkpoint_every=2,
        tensorboard=False,
        coco_annotations=annotations,
        coco_images=images,
        out_dir=str(out),
        threads=1,
    )
    base.update(kw)
    return base


def torchrun(n: int, cfg: dict, model: str, *extra: str) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc-per-node n -m openpose_edu.train`` with ``cfg`` as flags."""
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in cfg.items()]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n}"]
    cmd += ["-m", "openpose_edu.train", *flags, "--model", model, "--no-progress", *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("OPENPOSE_EDU_TRAIN_STEPS", None)
    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                           start_new_session=True)  # fmt: skip
    try:
        out, err = run.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)  # torchrun and its workers, not only torchrun
        raise
    assert run.returncode == 0, out[-3000:] + err[-3000:]
    return subprocess.CompletedProcess(cmd, run.returncode, out, err)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def test_two_processes_train_like_one_with_the_total_batch_and_resume_exactly(coco, tmp_path) -> None:
    annotations, images, model = coco
    one = train(
        TrainConfig(**settings(tmp_path / "one", annotations, images)),
        model_config=tiny_config(),
        progress=False,
    )
    two = settings(tmp_path / "two", annotations, images, batch_size=2)  # 2 processes x 2 = 4 per step
    done = torchrun(2, two, model)
    assert done.stdout.count("trained ") == 1  # rank 0 alone reports
    final = weights(tmp_path / "two" / "last.pt")
    single = one.model.state_dict()
    for key, value in final.items():
        torch.testing.assert_close(value, single[key], rtol=1e-4, atol=1e-6, msg=key)
    assert any(not torch.equal(v, weights(tmp_path / "two" / "step_000002.pt")[k]) for k, v in final.items())
    # the logged losses are the mean over both processes: the single process's loss on the same images
    history = [json.loads(line) for line in (tmp_path / "two" / "history.jsonl").read_text().splitlines()]
    assert [r["step"] for r in history] == [1, 2, 3, 4]
    for a, b in zip(history, one.history):
        assert a["total"] == pytest.approx(b["total"], rel=1e-4)
    # stopped after step 2 (what a kill leaves: the last checkpoint), resumed: the same weights, bit for bit
    resumed = settings(tmp_path / "resumed", annotations, images, batch_size=2)
    torchrun(2, resumed, model, f"--resume={tmp_path / 'two' / 'step_000002.pt'}")
    for key, value in weights(tmp_path / "resumed" / "last.pt").items():
        assert torch.equal(value, final[key]), key


def test_a_resume_keeps_the_number_of_processes(coco, tmp_path) -> None:
    annotations, images, _ = coco
    cfg = TrainConfig(**settings(tmp_path / "a", annotations, images, steps=2))
    train(cfg, model_config=tiny_config(), progress=False)
    checkpoint = tmp_path / "a" / "step_000002.pt"
    assert torch.load(checkpoint, weights_only=True)["processes"] == 1
    data = torch.load(checkpoint, weights_only=True)
    data["processes"] = 2
    torch.save(data, tmp_path / "two.pt")
    with pytest.raises(ValueError, match="2 process"):
        train(
            TrainConfig(**settings(tmp_path / "b", annotations, images)),
            resume=tmp_path / "two.pt",
            progress=False,
        )


def test_validation_writes_coco_ap_every_k_steps(coco, tmp_path) -> None:
    annotations, images, _ = coco
    cfg = TrainConfig(
        **settings(tmp_path / "v", annotations, images, steps=2, batch_size=2),
        val_every=1,
        val_annotations=annotations,
        val_images=images,
        val_max_images=2,
    )
    train(cfg, model_config=tiny_config(), progress=False)
    records = [json.loads(line) for line in (tmp_path / "v" / "validation.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    assert all(0.0 <= r["AP"] <= 1.0 and 0.0 <= r["AR"] <= 1.0 for r in records)
    with pytest.raises(ValueError, match="val_annotations"):
        TrainConfig(val_every=5)


def test_one_process_reads_the_steps_in_order() -> None:
    """Without torchrun the sampler is today's: step k reads items k*B .. k*B+B-1 (modulo the length)."""
    sampler = distributed.step_sampler(3, 5, 4, 10, distributed.Processes())
    assert list(sampler) == [(12 + i) % 10 for i in range(8)]
    parts = [list(distributed.step_sampler(3, 5, 2, 100, distributed.Processes(r, 2))) for r in (0, 1)]
    assert sorted(parts[0] + parts[1]) == list(range(12, 20))  # two processes: the same items, shared
    assert parts[0][:2] == [12, 14] and parts[1][:2] == [13, 15]
