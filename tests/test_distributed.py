"""torchrun + DDP (distributed.py, train.py) on CPU with gloo, on a tiny COCO-format set.

Two processes with batch 2 each reach the weights of one process with batch 4; a run killed
after its first checkpoint and resumed ends where the uninterrupted run ends; validation writes
COCO AP.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
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


def start_torchrun(n: int, cfg: dict, model: str, *extra: str) -> subprocess.Popen:
    """``torchrun --standalone --nproc-per-node n -m openpose_edu.train`` with ``cfg`` as flags, started."""
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in cfg.items()]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n}"]
    cmd += ["-m", "openpose_edu.train", *flags, "--model", model, "--no-progress", *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("OPENPOSE_EDU_TRAIN_STEPS", None)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                            start_new_session=True)  # fmt: skip


def kill_all(run: subprocess.Popen) -> None:
    """SIGKILL torchrun and every process under it (its workers run in sessions of their own)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    family, grew = {run.pid}, True
    while grew:
        more = {pid for pid, ppid in parents.items() if ppid in family} - family
        family |= more
        grew = bool(more)
    for pid in sorted(family, reverse=True):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    run.communicate()


def torchrun(n: int, cfg: dict, model: str, *extra: str) -> str:
    """Run ``start_torchrun`` to the end; its output (it must succeed)."""
    run = start_torchrun(n, cfg, model, *extra)
    try:
        out, err = run.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        kill_all(run)
        raise
    assert run.returncode == 0, out[-3000:] + err[-3000:]
    return out


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def test_two_processes_train_like_one_with_the_total_batch_and_a_killed_run_resumes_exactly(
    coco, tmp_path
) -> None:
    annotations, images, model = coco
    steps = 16
    one = train(
        TrainConfig(**settings(tmp_path / "one", annotations, images, steps=steps)),
        model_config=tiny_config(),
        progress=False,
    )
    two = settings(tmp_path / "two", annotations, images, steps=steps, batch_size=2)  # 2 processes x 2
    assert torchrun(2, two, model).count("trained ") == 1  # rank 0 alone reports
    for step in ("step_000004.pt", "last.pt"):
        single = weights(tmp_path / "one" / step)
        for key, value in weights(tmp_path / "two" / step).items():
            torch.testing.assert_close(value, single[key], rtol=1e-4, atol=1e-6, msg=f"{step} {key}")
    # the logged losses are the mean over both processes: the single process's loss on the same images
    history = [json.loads(line) for line in (tmp_path / "two" / "history.jsonl").read_text().splitlines()]
    assert [r["step"] for r in history] == list(range(1, steps + 1))
    for a, b in zip(history, one.history):
        assert a["total"] == pytest.approx(b["total"], rel=1e-4)

    # the same run, killed (SIGKILL, every process) as soon as its first checkpoint is written ...
    killed = settings(tmp_path / "killed", annotations, images, steps=steps, batch_size=2)
    run = start_torchrun(2, killed, model)
    first = tmp_path / "killed" / "step_000002.pt"
    deadline = time.monotonic() + 300
    while not first.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    kill_all(run)
    left = torch.load(tmp_path / "killed" / "last.pt", weights_only=True)["step"]
    assert 2 <= left < steps, f"the kill came after step {left}"
    # ... and resumed from what it left: the uninterrupted run's weights, bit for bit
    torchrun(2, killed, model, f"--resume={tmp_path / 'killed' / 'last.pt'}")
    final = weights(tmp_path / "two" / "last.pt")
    for key, value in weights(tmp_path / "killed" / "last.pt").items():
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
