"""Training throughput: the synthetic data pipeline vs the same loop fed from memory.

Runs ``train.train`` twice in one process on the same network and batch shape:

1. baseline: the items are generated beforehand and held in memory (no data cost at all);
2. ours: ``SyntheticPoseDataset`` renders scenes and builds S*, L*, W on the fly through a
   DataLoader with ``--workers`` worker processes, as ``python -m openpose_edu.train`` does.

It prints images/s of both and the ratio ours / baseline; the goal is >= 0.9 (the data
pipeline is not the bottleneck). ``--cpu-bf16`` runs both in bfloat16 on the CPU
(``TrainConfig.cpu_bf16``): faster steps leave the data pipeline less time to hide in. The
first ``--skip`` steps of each run (warm-up, worker start) are left out of the rate.

``--forward`` instead times one forward pass at 368 x 368 (the paper's box size) of a
checkpoint's network (default: the bundled model) beside the paper network, same run.

    .venv/bin/python benchmarks/training.py [--steps 40] [--workers 1] [--device cpu] [--cpu-bf16]
    .venv/bin/python benchmarks/training.py --forward [--checkpoint PATH] [--threads 2]
"""

from __future__ import annotations

import argparse
import platform
import tempfile

import torch
from torch.utils.data import Dataset

from openpose_edu.datasets import SyntheticPoseDataset
from openpose_edu.groundtruth import TargetSpec
from openpose_edu.train import TrainConfig, bundled_config, train


class InMemory(Dataset):
    """Pre-generated items (the baseline): indexing costs nothing."""

    def __init__(self, items: list) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


def rate(history: list[dict], skip_records: int) -> float:
    """Mean images/s over the history records after the first ``skip_records``."""
    kept = history[skip_records:]
    return sum(r["images_per_s"] for r in kept) / len(kept)


def forward_times(checkpoint: str | None, threads: int, repeats: int = 5) -> None:
    """Median forward time at 368 x 368 of the checkpoint's network and of the paper network."""
    import time

    from openpose_edu.model import OpenPoseConfig, OpenPoseNet, count_parameters
    from openpose_edu.weights import load_checkpoint, load_model

    torch.set_num_threads(threads)
    ours = load_checkpoint(checkpoint)[0] if checkpoint else load_model()
    nets = {"ours": ours.eval(), "paper network (baseline)": OpenPoseNet(OpenPoseConfig.paper()).eval()}
    x = torch.zeros(1, 3, 368, 368)
    times = {}
    for name, net in nets.items():
        with torch.no_grad():
            net(x)  # warm-up
            runs = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                net(x)
                runs.append(time.perf_counter() - t0)
        times[name] = sorted(runs)[len(runs) // 2]
        print(f"{name:>26}: {times[name] * 1000:8.1f} ms  ({count_parameters(net):,} parameters)")
    ratio = times["paper network (baseline)"] / times["ours"]
    print(f"{'speed-up':>26}: {ratio:8.1f} x  ({threads} threads, 368x368)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--skip", type=int, default=10, help="steps left out of the rate (warm-up)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--forward", action="store_true", help="time a forward pass at 368x368 instead")
    p.add_argument("--checkpoint", default=None, help="with --forward: a checkpoint (default: bundled)")
    p.add_argument("--cpu-bf16", action="store_true", help="bfloat16 autocast on CPU (TrainConfig.cpu_bf16)")
    args = p.parse_args()
    if args.forward:
        forward_times(args.checkpoint, args.threads)
        return
    if args.steps <= args.skip or args.steps % args.skip:
        p.error("--steps must be a multiple of --skip and larger than it")

    n = args.steps * args.batch_size
    net_config = bundled_config()
    synthetic = SyntheticPoseDataset(
        n, seed=0, size=(args.crop, args.crop), spec=TargetSpec(stride=net_config.stride)
    )
    memory = InMemory([synthetic[i] for i in range(n)])
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, data, workers in (
            ("in-memory (baseline)", memory, 0),
            ("synthetic pipeline", synthetic, args.workers),
        ):
            cfg = TrainConfig(
                steps=args.steps,
                batch_size=args.batch_size,
                crop=args.crop,
                num_workers=workers,
                threads=args.threads,
                device=args.device,
                cpu_bf16=args.cpu_bf16,
                log_every=args.skip,
                checkpoint_every=10**9,
                tensorboard=False,
                out_dir=f"{tmp}/{workers}",
            )
            run = train(cfg, model_config=net_config, dataset=data, progress=False)
            results[name] = rate(run.history, 1)
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    print(
        f"device {args.device} ({device}), {args.threads} threads, batch {args.batch_size}, "
        f"crop {args.crop}, {args.workers} worker(s), {args.steps} steps ({args.skip} warm-up)"
        + (", bfloat16" if args.cpu_bf16 and args.device == "cpu" else "")
    )
    for name, value in results.items():
        print(f"{name:>22}: {value:7.1f} images/s")
    base, ours = results["in-memory (baseline)"], results["synthetic pipeline"]
    print(f"{'ratio':>22}: {ours / base:7.2f}  (goal >= 0.9)")


if __name__ == "__main__":
    main()
