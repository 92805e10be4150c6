"""Training on several processes with PyTorch's own engine: torchrun + DistributedDataParallel.

``torchrun --nproc-per-node N -m openpose_edu.train ...`` starts N copies of the training
command and tells each its place through environment variables (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT). This module reads them and sets up what differs from one process:

* ``Processes.from_environment``: joins the process group (NCCL between GPUs, gloo on CPU);
  without torchrun it is one process and nothing changes.
* ``wrap``: DistributedDataParallel, which averages the gradients over the processes in
  backward, so every process takes the same optimizer step and keeps the same weights.
* ``step_sampler``: which items each process reads. Step k's batch for the whole run is items
  k*B*N .. (k+1)*B*N - 1 (B images per process, N processes); a ``DistributedSampler`` deals
  them out, process r taking every N-th from r. The union is the batch one process with
  B*N images would read, so N processes train like one with the total batch (the loss is a
  per-image mean, Eq. 5 / 2N as caffe's; averaging the N means is the mean of all).
* ``mean``: a value averaged over the processes (the logged losses, the finite-loss check).

Only rank 0 writes checkpoints, history and TensorBoard and shows the progress bar (``train.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler, Sampler


@dataclass(frozen=True)
class Processes:
    """Where this process stands: its rank, how many there are, its GPU on this machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes files and shows progress."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_environment(cls, device: str = "cpu") -> Processes:
        """The processes torchrun started (its RANK / WORLD_SIZE / LOCAL_RANK), joined into one group.

        Backend NCCL when ``device`` is CUDA, gloo on CPU. Without torchrun (no WORLD_SIZE, or 1):
        a single process, no group.
        """
        world = world_size()
        if world <= 1:
            return cls()
        procs = cls(rank(), world, int(os.environ.get("LOCAL_RANK", "0")))
        if not dist.is_initialized():
            cuda = device.split(":")[0] == "cuda"
            if cuda:
                torch.cuda.set_device(procs.local_rank)
            dist.init_process_group(backend="nccl" if cuda else "gloo")
        return procs

    def device(self, device: str) -> torch.device:
        """This process's device: ``cuda`` becomes ``cuda:LOCAL_RANK`` (one GPU per process)."""
        if self.active and device == "cuda":
            return torch.device("cuda", self.local_rank)
        return torch.device(device)

    def describe(self, batch_size: int, lr: float) -> str:
        """The batch and learning rate per process and in total, as a log line."""
        if not self.active:
            return f"1 process: batch {batch_size} images per step, lr {lr:g}"
        return (
            f"{self.world_size} processes x batch {batch_size} = {self.world_size * batch_size} images per "
            f"step; lr {lr:g} for that total batch (the gradients are averaged over the processes)"
        )


def world_size() -> int:
    """How many processes torchrun started (its WORLD_SIZE; 1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank among those torchrun started (its RANK; 0 without torchrun)."""
    return int(os.environ.get("RANK", "0"))


def wrap(net: nn.Module, procs: Processes, device: torch.device) -> nn.Module:
    """``net`` as DistributedDataParallel when there are several processes (else unchanged).

    DDP copies rank 0's weights to every process at the start and averages the gradients in
    backward (all-reduce), so the processes stay identical.
    """
    if not procs.active:
        return net
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(net, device_ids=ids)


def unwrap(net: nn.Module) -> nn.Module:
    """The network inside a DistributedDataParallel (its config, checkpoints, eval)."""
    return net.module if isinstance(net, DistributedDataParallel) else net


class _Window(torch.utils.data.Dataset):
    """Global item positions start, start + 1, ... (modulo ``length``): what DistributedSampler deals."""

    def __init__(self, start: int, count: int, length: int) -> None:
        self.start, self.count, self.length = start, count, length

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> int:
        return (self.start + i) % self.length


class _Positions(Sampler[int]):
    """The dataset indices of a DistributedSampler over a ``_Window``."""

    def __init__(self, window: _Window, inner: Sampler[int]) -> None:
        self.window, self.inner = window, inner

    def __iter__(self) -> Iterator[int]:
        return (self.window[i] for i in self.inner)

    def __len__(self) -> int:
        return len(self.inner)  # type: ignore[arg-type]


def step_sampler(start_step: int, steps: int, batch_size: int, length: int, procs: Processes) -> Sampler[int]:
    """Dataset indices of this process for steps ``start_step`` .. ``steps - 1``.

    Step k's items for the whole run are k*B*N .. (k+1)*B*N - 1 (modulo ``length``); with one
    process these are read in order (today's data order), with N a DistributedSampler (no
    shuffle: the order is already a function of the step, so a resumed run reads the same items)
    gives process r items r, r + N, ... of the window: B per step.
    """
    total = batch_size * procs.world_size
    window = _Window(start_step * total, max(0, steps - start_step) * total, length)
    inner = DistributedSampler(
        window, num_replicas=procs.world_size, rank=procs.rank, shuffle=False, drop_last=True
    )
    return _Positions(window, inner)


def mean(value: Tensor, procs: Processes) -> Tensor:
    """``value`` averaged over the processes (all-reduce; every process must call it)."""
    if not procs.active:
        return value
    out = value.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / procs.world_size


def close() -> None:
    """Leave the process group at the end of the run (nothing when there is none)."""
    if dist.is_initialized():
        dist.destroy_process_group()
