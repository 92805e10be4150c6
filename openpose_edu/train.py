"""Train an OpenPose network with intermediate supervision (paper Sec. 2.1, Eq. 3-5).

``python -m openpose_edu.train`` trains any ``OpenPoseConfig`` on the procedural scenes of
``synthetic.py`` (the bundled model was made this way) or on a COCO-format keypoint data set
(annotations JSON + image folder). One step:

    raw images (N, 3, H, W) RGB 0..255 -> InputSpec.normalize -> OpenPoseNet -> S^1..S^T, L^1..L^T
    targets S* (N, 19, h, w), L* (N, 38, h, w), mask W (N, 1, h, w)   (groundtruth.py, Eq. 6-9)
    loss f = sum_t f_S^t + f_L^t  (every stage is supervised, loss.openpose_loss, Eq. 3-5)

The paper fine-tunes from VGG-19 (Sec. 2.1) and names no optimizer; CMU's released training files
use SGD (lr 4e-5, momentum 0.9, batch 10, 600k iterations). We train a small network from
scratch on a CPU, so we use Adam with a short linear warm-up and a cosine decay: Adam's
per-parameter step sizes make the deep, unnormalized
conv+ReLU stack (no batch norm, as in the paper) trainable from scratch without tuning a learning
rate per layer, and the warm-up avoids the large early steps that kill ReLUs.

Data order is a pure function of the step: the images of step k are scenes
``data_seed, k*B .. k*B+B-1``. A checkpoint therefore only needs the weights, the optimizer
state and the step to resume bit-for-bit (tests/test_train.py checks it).

On COCO (``coco_annotations`` + ``coco_images``) the items are CMU's person-centred, augmented
crops (``coco_samples.CocoPersonDataset``, ``augment.py``; ``coco_pipeline="letterbox"`` keeps
the whole image letterboxed, no augmentation); ``val_every`` scores COCO AP on a held-out set
(``val_annotations`` + ``val_images``) during training, beside the losses in TensorBoard.

``torchrun --nproc-per-node N -m openpose_edu.train ...`` trains on N processes
(``distributed.py``: DistributedDataParallel, NCCL on GPUs, gloo on CPU): ``batch_size`` is per
process, step k reads items k*B*N .. (k+1)*B*N - 1 dealt out by a DistributedSampler, and N
processes reach the weights one process reaches with batch B*N. Rank 0 alone writes
checkpoints, history and TensorBoard. docs/training.md has the commands.

The training notebook (08_training) retraces how the bundled model was made;
``OPENPOSE_EDU_TRAIN_STEPS`` shortens any run (CI).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from . import distributed
from .augment import AugmentSpec
from .body25 import Body25Config
from .coco_samples import CocoPersonDataset
from .datasets import CocoKeypointDataset, SyntheticPoseDataset, collate
from .evaluate import evaluate_coco
from .groundtruth import DEFAULT_TARGETS, TargetSpec
from .io import atomic_write
from .loss import LossTerms, openpose_loss
from .model import InputSpec, OpenPoseConfig, OpenPoseNet, count_parameters, he_normal_
from .networks import config_from_dict
from .synthetic import VALIDATION_SEED
from .weights import load_checkpoint, save_checkpoint

# TrainConfig fields a resumed run may change: where and how fast it runs, how long, how often it
# logs. Every other field shapes the optimisation; a resumed run must keep the checkpoint's.
RESUMABLE_CHANGES = frozenset(
    {
        "steps",
        "out_dir",
        "num_workers",
        "threads",
        "device",
        "tensorboard",
        "log_every",
        "checkpoint_every",
        "amp",
        "cpu_bf16",
        "val_every",
        "val_annotations",
        "val_images",
        "val_max_images",
    }
)

STEPS_ENV = "OPENPOSE_EDU_TRAIN_STEPS"  # overrides TrainConfig.steps (CI shortens notebook runs)


def bundled_config() -> OpenPoseConfig:
    """The network of the bundled model: the paper's family (6 stages, 2 branches), narrower, stride 4.

    Same structure as ``OpenPoseConfig.paper()``: VGG-style backbone, two CPM convs giving F,
    stage 1 (3 convs + 1x1 + 1x1) and stages 2..6 on concat[L, S, F]. Narrower (1/4 of the
    widths), one conv fewer in the first two VGG blocks, 5x5 stage kernels where the paper has
    7x7 (3 layers per refinement stage, not 5), and one max pool fewer: two pools, so the maps
    have stride 4 (64 x 64 cells for a 256 x 256 image) where the paper has 8. The synthetic
    scenes hold people down to 64 pixels tall, and on a stride-8 grid even perfect maps S*, L*
    of them score only AP 0.747 (0.831 at stride 4; see the model card).
    Runs 1-3 trained the stride-8 form, vgg ((16,), (32,), (64, 64), (96, 96)) with 3x3 stage
    kernels; ``surgery.without_last_pool`` made it stride 4 (runs 4-5) and
    ``surgery.with_stage_kernel`` grew the kernels to 5x5 (run 6), every weight kept each time;
    run 8 trained it on toward PAFs one cell (4 px) wide, ``TrainConfig(limb_width=4)``.
    """
    return OpenPoseConfig.small(
        width=0.25,
        n_stages=6,
        stage_kernel=5,
        vgg=((16,), (32,), (64, 64, 96, 96)),
        cpm=(64, 48),
        stage_layers=3,
        # inference resizes images to the training crop height
        input=InputSpec(stride=4, box_size=TrainConfig.crop),
    )


# Bounds that keep one step's memory sane whatever the flags say (a typo's extra zeros hung the
# run generating 100000 scenes per step, or asked the allocator for a 100000 x 100000 crop).
MAX_BATCH = 256
MAX_CROP = 1024  # 2.8 times the demo's 368


def _device_name_ok(device: Any) -> bool:
    """'cpu', 'cuda' or 'cuda:N' (what torch.device parses; 'cuda:abc' is not)."""
    try:
        return isinstance(device, str) and torch.device(device).type in ("cpu", "cuda")
    except (RuntimeError, TypeError, ValueError):
        return False


@dataclass
class TrainConfig:
    """Every hyper-parameter of a training run (defaults: the bundled model's recipe)."""

    steps: int = 4800  # optimizer steps (run 1 of the bundled model); $OPENPOSE_EDU_TRAIN_STEPS overrides
    batch_size: int = 8  # images per step (CMU's training files: 10; the paper gives none)
    crop: int = 256  # training images are crop x crop pixels (CMU's training files: 368)
    lr: float = 1e-3  # Adam peak learning rate
    warmup: int = 200  # steps of linear warm-up from lr/100 to lr
    final_lr_ratio: float = 0.02  # cosine decay ends at lr * final_lr_ratio
    weight_decay: float = 0.0  # L2 on weights (CMU's train files: 5e-4, SGD); off: synthetic data is endless
    grad_clip: float = 0.0  # max global gradient norm (0: off; Adam's steps are bounded by lr anyway)
    seed: int = 0  # weight initialisation seed
    data_seed: int = 0  # synthetic scene stream (synthetic.VALIDATION_SEED is held out, refused here)
    max_people: int = 6  # synthetic scenes have 0..max_people people
    # The targets' widths (groundtruth.TargetSpec, which explains them; ``target_spec`` builds it with
    # the network's stride). Kept as two fields: the checkpoints' train_config and --sigma,
    # --limb-width name them so. Run 8 of the bundled model used limb_width 4 (1 cell).
    sigma: float = DEFAULT_TARGETS.sigma
    limb_width: float = DEFAULT_TARGETS.limb_width
    num_workers: int = 0  # DataLoader worker processes (0: generate in the training process)
    threads: int = 0  # torch.set_num_threads (0: leave torch's default)
    checkpoint_every: int = 500  # steps between checkpoints (also written at the end)
    log_every: int = 20  # steps between loss records (history, TensorBoard)
    out_dir: str = "runs/train"  # checkpoints, history.jsonl and TensorBoard logs go here
    device: str = "cpu"  # "cpu" or "cuda"
    amp: bool = True  # float16 autocast + gradient scaling, on CUDA only
    cpu_bf16: bool = False  # bfloat16 autocast + channels_last on CPU (about 2x faster with AVX512-BF16/AMX)
    tensorboard: bool = True  # write TensorBoard logs under out_dir/tb
    coco_annotations: str = ""  # COCO person_keypoints JSON: train on COCO instead of synthetic scenes
    coco_images: str = ""  # folder of the images the JSON names
    coco_pipeline: str = "cmu"  # "cmu": person-centred augmented crops (augment.py); or "letterbox"
    val_every: int = 0  # steps between COCO AP evaluations (0: none); needs val_annotations, val_images
    val_annotations: str = ""  # held-out COCO person_keypoints JSON scored during training
    val_images: str = ""  # its image folder
    val_max_images: int = 50  # score the first this many images (AP on a subset: minutes, not hours)

    def __post_init__(self) -> None:
        checks = {
            "steps": self.steps >= 1,
            "batch_size": 1 <= self.batch_size <= MAX_BATCH,
            "crop": 16 <= self.crop <= MAX_CROP and self.crop % 8 == 0,
            "lr": self.lr > 0 and math.isfinite(self.lr),
            "grad_clip": self.grad_clip >= 0 and math.isfinite(self.grad_clip),
            "weight_decay": self.weight_decay >= 0 and math.isfinite(self.weight_decay),
            "threads": self.threads >= 0,
            "max_people": self.max_people >= 0,
            "warmup": self.warmup >= 0,
            "final_lr_ratio": 0 <= self.final_lr_ratio <= 1,
            "checkpoint_every": self.checkpoint_every >= 1,
            "log_every": self.log_every >= 1,
            "num_workers": self.num_workers >= 0,
            "sigma": self.sigma > 0,
            "limb_width": self.limb_width > 0,
            "device": _device_name_ok(self.device),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            values = {name: getattr(self, name) for name in bad}
            raise ValueError(
                f"invalid TrainConfig values {values}: steps, checkpoint_every, log_every >= 1; "
                f"batch_size 1..{MAX_BATCH}; crop >= 16 and a multiple of 8, at most {MAX_CROP}; "
                "lr, sigma, limb_width > 0; "
                "grad_clip, weight_decay, threads, warmup, num_workers, max_people >= 0; "
                "0 <= final_lr_ratio <= 1; device 'cpu', 'cuda' or 'cuda:N'"
            )
        if bool(self.coco_annotations) != bool(self.coco_images):
            raise ValueError("give both coco_annotations (JSON) and coco_images (folder), or neither")
        _check_coco_training(self)

    @classmethod
    def from_env(cls, **kwargs: Any) -> TrainConfig:
        """A TrainConfig whose ``steps`` is taken from $OPENPOSE_EDU_TRAIN_STEPS when it is set."""
        cfg = cls(**kwargs)
        env = os.environ.get(STEPS_ENV)
        if env:
            try:
                cfg = replace(cfg, steps=int(env))
            except ValueError:
                raise ValueError(f"${STEPS_ENV} must be a positive integer, got {env!r}") from None
        return cfg

    def target_spec(self, stride: int) -> TargetSpec:
        """The targets this run trains toward, for a network of output stride ``stride``."""
        return TargetSpec(stride=stride, sigma=self.sigma, limb_width=self.limb_width)


def _check_coco_training(cfg: TrainConfig) -> None:
    """The COCO fields of a TrainConfig: a known pipeline, a validation set given whole."""
    if cfg.coco_pipeline not in ("cmu", "letterbox"):
        raise ValueError(f"coco_pipeline must be 'cmu' or 'letterbox', got {cfg.coco_pipeline!r}")
    if cfg.val_every < 0 or cfg.val_max_images < 1:
        raise ValueError(
            f"val_every must be >= 0 and val_max_images >= 1, got {cfg.val_every}, {cfg.val_max_images}"
        )
    if cfg.val_every and not (cfg.val_annotations and cfg.val_images):
        raise ValueError("val_every needs val_annotations (COCO JSON) and val_images (its folder)")


# ----------------------------------------------------------------------------- model set-up


def init_weights(net: nn.Module, seed: int = 0) -> nn.Module:
    """Initialise for training from scratch: Kaiming-normal for conv+ReLU, std 0.01 for map outputs.

    The last 1x1 conv of every branch (no ReLU) predicts S^t or L^t; starting it near zero keeps
    the first losses small and equal across stages. Its background channel starts at 1 in S,
    which is what S* is almost everywhere. Biases start at 0. Returns ``net`` (modified in place).
    """
    heat_outputs, paf_outputs = net.output_layers()  # OpenPoseNet and body25.Body25Net alike
    he_normal_(net, seed, bias_std=0.0, outputs=[*heat_outputs, *paf_outputs])
    with torch.no_grad():
        for m in heat_outputs:
            m.bias[-1] = 1.0  # background channel (skeleton.BACKGROUND is the last)
    return net


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up, then cosine decay to lr * final_lr_ratio."""
    if step < cfg.warmup:
        return cfg.lr * (0.01 + 0.99 * step / cfg.warmup)
    span = max(1, cfg.steps - cfg.warmup)
    progress = min(1.0, (step - cfg.warmup) / span)
    low = cfg.lr * cfg.final_lr_ratio
    return low + 0.5 * (cfg.lr - low) * (1 + math.cos(math.pi * progress))


# ----------------------------------------------------------------------------- data


def make_dataset(cfg: TrainConfig, n_items: int | None = None, stride: int = 8) -> Dataset:
    """The training data set: synthetic scenes (default) or a COCO keypoint data set.

    Items are dicts with ``image`` (3, crop, crop) uint8 RGB, ``S`` (19, h, w), ``L`` (38, h, w)
    and ``W`` (1, h, w) float32, h = w = crop / stride (``datasets.collate``); ``stride`` must be the
    network's output stride (``OpenPoseConfig.stride``: 8 for the paper's three max pools).
    n_items: how many items the run reads (default steps x batch_size x the processes torchrun
    started, ``distributed.world_size``). COCO: ``cfg.coco_pipeline`` "cmu" (person-centred, augmented
    crops, ``coco_samples.CocoPersonDataset``) or "letterbox" (``datasets.CocoKeypointDataset``).
    """
    n_items = n_items or cfg.steps * cfg.batch_size * distributed.world_size()
    if cfg.coco_annotations and cfg.coco_pipeline == "cmu":
        return CocoPersonDataset(
            cfg.coco_annotations,
            cfg.coco_images,
            AugmentSpec(crop=cfg.crop),
            cfg.target_spec(stride),
            length=n_items,
            seed=cfg.data_seed,
        )
    if cfg.coco_annotations:
        return CocoKeypointDataset(
            cfg.coco_annotations,
            cfg.coco_images,
            crop=cfg.crop,
            spec=cfg.target_spec(stride),
        )
    if cfg.data_seed == VALIDATION_SEED:
        raise ValueError(
            f"data_seed {cfg.data_seed} is the held-out validation seed (synthetic.VALIDATION_SEED); "
            "choose another"
        )
    return SyntheticPoseDataset(
        length=n_items,
        seed=cfg.data_seed,
        size=(cfg.crop, cfg.crop),
        max_people=cfg.max_people,
        spec=cfg.target_spec(stride),
    )


# ----------------------------------------------------------------------------- checkpoints


# ----------------------------------------------------------------------------- the loop


@dataclass
class TrainResult:
    """What ``train`` returns: the trained model, the loss records and the last checkpoint."""

    model: OpenPoseNet
    history: list[dict] = field(default_factory=list)  # one dict per log step (see ``_record``)
    checkpoint: Path | None = None
    seconds: float = 0.0  # wall time of this call
    images: int = 0  # images seen in this call


def _record(step: int, terms: Any, lr: float, images_per_s: float, grad_norm: float) -> dict:
    """One history entry: step, lr, throughput, gradient norm, total loss, every f_S^t and f_L^t."""
    return {
        "step": step,
        "lr": lr,
        "images_per_s": images_per_s,
        "grad_norm": grad_norm,
        "total": float(terms.total.detach()),
        "S": [float(s.detach()) for s in terms.S],
        "L": [float(v.detach()) for v in terms.L],
    }


def train(
    cfg: TrainConfig | None = None,
    model_config: OpenPoseConfig | None = None,
    resume: str | Path | None = None,
    dataset: Dataset | None = None,
    progress: bool = True,
    init_from: str | Path | None = None,
) -> TrainResult:
    """Train an OpenPoseNet with intermediate supervision (Eq. 3-5) and return it with its loss history.

    cfg: hyper-parameters (default ``TrainConfig.from_env()``). model_config: the network
    (default ``bundled_config()``; ignored when resuming, the checkpoint's config is used).
    resume: a checkpoint of this run: continues at its step with its optimizer state; raises
    ValueError if ``model_config`` is given and differs from the checkpoint's. dataset: items as
    ``make_dataset`` makes them (default: ``make_dataset(cfg)``). Checkpoints go to
    ``cfg.out_dir/last.pt`` (and ``step_XXXXXX.pt``), loss records to ``history.jsonl``.
    init_from: a checkpoint (or exported weights) whose network and weights start a NEW run
    (fine-tuning): step 0, a fresh optimizer and schedule; its config is used.
    Under torchrun (``distributed.py``) every process runs this function: DDP keeps their
    weights equal, rank 0 alone writes files and shows progress; ``checkpoint`` is None on the
    others. ``cfg.batch_size`` is per process.
    """
    cfg = cfg or TrainConfig.from_env()
    procs = distributed.Processes.from_environment(cfg.device)
    device = _device(cfg, procs)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    net, start, history, opt_state = _build(cfg, model_config, resume, init_from, procs.world_size)
    net.to(device).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if opt_state is not None:
        optimizer.load_state_dict(opt_state)
    precision = _Precision.of(cfg, device)
    net.to(memory_format=precision.memory_format)
    data = dataset or make_dataset(cfg, stride=net.config.stride)
    loader = _loader(data, cfg, start, device, procs)
    model = net  # the network itself: checkpoints, validation, what is returned
    net = distributed.wrap(net, procs, device)  # what the steps run (DDP with several processes)
    if procs.main:
        log: _Log | _QuietLog = _Log(out, cfg, start, history, progress)
        if progress and procs.active:
            tqdm.write(procs.describe(cfg.batch_size, cfg.lr))
    else:
        log = _QuietLog(cfg, history)
    step, last_ckpt = start, None
    try:
        for batch in loader:
            lr = lr_at(step, cfg)
            terms, grad_norm = _step(net, optimizer, precision, batch, lr, cfg, device, procs)
            if grad_norm is None:  # stopped before the update: the weights stay finite
                raise FloatingPointError(
                    f"the loss is {float(terms.total.detach())} at step {step + 1}: training diverged; "
                    f"lower --lr, set --grad-clip, or resume from an earlier checkpoint in {out}"
                )
            step += 1
            log.step(step, terms, lr, grad_norm, len(batch["image"]) * procs.world_size)
            if procs.main and (step % cfg.checkpoint_every == 0 or step == cfg.steps):
                last_ckpt = _checkpoint(out, model, optimizer, step, cfg, log.history, procs)
            if procs.main and cfg.val_every and (step % cfg.val_every == 0 or step == cfg.steps):
                _validate(model, cfg, step, out, getattr(log, "writer", None))
    except KeyboardInterrupt:  # Ctrl-C: keep the finished steps, then stop as asked
        log.bar.close()
        if step > start and procs.main:
            _checkpoint(out, model, optimizer, step, cfg, log.history, procs)
        raise
    log.close()
    if last_ckpt is None and step > 0 and procs.main:
        last_ckpt = _checkpoint(out, model, optimizer, step, cfg, log.history, procs)
    model.to(memory_format=torch.contiguous_format).eval()
    return TrainResult(
        model=model, history=log.history, checkpoint=last_ckpt, seconds=log.seconds(), images=log.images
    )


def _validate(model: nn.Module, cfg: TrainConfig, step: int, out: Path, writer: Any) -> dict:
    """COCO keypoint AP of the last stage on the held-out set (``evaluate.evaluate_coco``), at ``step``.

    Appended to out/validation.jsonl and written to TensorBoard under val/ (beside the losses).
    """

    model.eval()
    try:
        with torch.no_grad():
            stats = evaluate_coco(model, cfg.val_annotations, cfg.val_images, max_images=cfg.val_max_images)
    finally:
        model.train()
    record = {"step": step, **{k: v for k, v in next(iter(stats.values())).items() if isinstance(v, float)}}
    with open(out / "validation.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    if writer is not None:
        for name in ("AP", "AP50", "AP75", "AR"):
            writer.add_scalar(f"val/{name}", record[name], step)
    return record


def _device(cfg: TrainConfig, procs: distributed.Processes) -> torch.device:
    """The run's device (and torch's thread count, ``cfg.threads``); refuses a CUDA that is not there.

    Under torchrun "cuda" is this process's GPU, cuda:LOCAL_RANK.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = procs.device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device 'cuda' was asked for but torch.cuda.is_available() is False; use --device cpu"
        )
    return device


def _build(
    cfg: TrainConfig,
    model_config: Any,
    resume: str | Path | None,
    init_from: str | Path | None,
    world_size: int,
) -> tuple[nn.Module, int, list, dict | None]:
    """The network to train and where it starts: (net, first step, history so far, optimizer state).

    A new run initialises ``model_config`` (``init_weights``); ``init_from`` starts a new run from
    a checkpoint's weights; ``resume`` continues a run, refusing hyper-parameters that shape the
    optimisation (all but ``RESUMABLE_CHANGES``), a data seed other than the checkpoint's and
    another number of processes (``world_size``: the total batch and the data order depend on it).
    """
    if resume is not None and init_from is not None:
        raise ValueError("give resume (continue a run) or init_from (start a new run from weights), not both")
    source = resume if resume is not None else init_from
    if source is None:
        return init_weights(build_model(model_config or bundled_config()), seed=cfg.seed), 0, [], None
    net, extra = load_checkpoint(source, device="cpu")
    if model_config is not None and model_config.to_dict() != net.config.to_dict():
        raise ValueError(
            f"checkpoint {source} holds a different network config than the one asked for:\n"
            f"  checkpoint: {net.config.to_dict()}\n  asked:      {model_config.to_dict()}\n"
            "use the checkpoint's own config (pass model_config=None) or start a new run"
        )
    if resume is None:
        return net, 0, [], None
    stored = extra.get("train_config", {})
    changed = {
        k: (stored[k], getattr(cfg, k))
        for k in stored
        if k not in RESUMABLE_CHANGES and hasattr(cfg, k) and stored[k] != getattr(cfg, k)
    }
    if changed:
        listed = ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in sorted(changed.items()))
        raise ValueError(
            f"checkpoint {resume} was trained with other hyper-parameters: {listed}; resume with the "
            "checkpoint's values (or start a new run with init_from / --init-from)"
        )
    if extra.get("data_seed", cfg.data_seed) != cfg.data_seed:
        raise ValueError(
            f"checkpoint {resume} was trained with data_seed {extra['data_seed']}, "
            f"this run asks for {cfg.data_seed}; resume with the same data_seed"
        )
    stored_processes = int(extra.get("processes", 1))
    if stored_processes != world_size:
        raise ValueError(
            f"checkpoint {resume} was trained on {stored_processes} process(es), this run has {world_size}; "
            "resume with the same number (torchrun --nproc-per-node), which keeps the total batch"
        )
    start = int(extra.get("step", 0))
    history = [r for r in extra.get("history", []) if r.get("step", 0) <= start]
    return net, start, history, extra.get("optimizer")


@dataclass
class _Precision:
    """How the step computes: float16 autocast + gradient scaling on CUDA, bfloat16 on CPU, or float32.

    bfloat16 keeps float32's exponent range, so no gradient scaling; oneDNN's bf16 convolutions
    want NHWC tensors (channels_last), NCHW ones are converted at every layer.
    """

    autocast: bool
    dtype: torch.dtype
    memory_format: torch.memory_format
    scaler: torch.amp.GradScaler

    @classmethod
    def of(cls, cfg: TrainConfig, device: torch.device) -> _Precision:
        use_amp = cfg.amp and device.type == "cuda"
        use_bf16 = cfg.cpu_bf16 and device.type == "cpu"
        return cls(
            autocast=use_amp or use_bf16,
            dtype=torch.bfloat16 if use_bf16 else torch.float16,
            memory_format=torch.channels_last if use_bf16 else torch.contiguous_format,
            scaler=torch.amp.GradScaler("cuda", enabled=use_amp),
        )


def _loader(
    dataset: Dataset,
    cfg: TrainConfig,
    start: int,
    device: torch.device,
    procs: distributed.Processes,
) -> DataLoader:
    """Batches of steps ``start`` .. ``cfg.steps - 1``: step k's images are items k*B .. k*B+B-1.

    With N processes step k's items are k*B*N .. (k+1)*B*N - 1, B to each (``distributed.step_sampler``).
    """
    return DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=distributed.step_sampler(start, cfg.steps, cfg.batch_size, len(dataset), procs),
        num_workers=cfg.num_workers,
        collate_fn=collate,
        drop_last=True,
        persistent_workers=False,
        pin_memory=device.type == "cuda",
    )


def _step(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    precision: _Precision,
    batch: dict,
    lr: float,
    cfg: TrainConfig,
    device: torch.device,
    procs: distributed.Processes,
) -> tuple[LossTerms, Tensor | None]:
    """One optimizer step on ``batch`` at learning rate ``lr``: the loss of Eq. 5 over every stage.

    Returns (the loss terms, the gradient norm before clipping); the norm is None when the loss
    is not finite: then nothing was updated. With several processes the returned terms are
    their average (``_shared_terms``), so all of them stop together.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    spec = distributed.unwrap(net).input_spec
    x = spec.normalize(batch["image"].to(device, non_blocking=True), color="RGB")  # (N, 3, H, W)
    x = x.contiguous(memory_format=precision.memory_format)
    S_star = batch["S"].to(device, non_blocking=True)  # (N, 19, h, w)
    L_star = batch["L"].to(device, non_blocking=True)  # (N, 38, h, w)
    W = batch["W"].to(device, non_blocking=True)  # (N, 1, h, w)
    with torch.autocast(device.type, dtype=precision.dtype, enabled=precision.autocast):
        output = net(x)
    terms = openpose_loss(_float_output(output), S_star, L_star, W)
    shared = _shared_terms(terms, procs)
    if not torch.isfinite(shared.total):
        return shared, None
    optimizer.zero_grad(set_to_none=True)
    scaler = precision.scaler
    scaler.scale(terms.total).backward()
    scaler.unscale_(optimizer)
    grad_norm = nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip or math.inf)  # recorded
    scaler.step(optimizer)
    scaler.update()
    return shared, grad_norm


def _shared_terms(terms: LossTerms, procs: distributed.Processes) -> LossTerms:
    """The loss terms averaged over the processes (one all-reduce), detached; ``terms`` on one process."""
    if not procs.active:
        return terms
    flat = distributed.mean(torch.stack([terms.total, *terms.S, *terms.L]).detach(), procs)
    n_S = len(terms.S)
    return LossTerms(total=flat[0], S=list(flat[1 : 1 + n_S]), L=list(flat[1 + n_S :]))


class _Log:
    """The run's records: a tqdm bar, history.jsonl every ``cfg.log_every`` steps, TensorBoard."""

    def __init__(self, out: Path, cfg: TrainConfig, start: int, history: list, progress: bool) -> None:
        self.out, self.cfg, self.history = out, cfg, history
        self.writer = None
        if cfg.tensorboard:  # imported here: TensorBoard is slow to import and optional
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(out / "tb"), purge_step=start if start else None)
        self.bar = tqdm(total=cfg.steps, initial=start, disable=not progress, desc="train", mininterval=5.0)
        self.t0 = time.perf_counter()
        self.t_log, self.n_log, self.images = self.t0, 0, 0
        _write_history(out, history)  # a resumed run's file restarts at its checkpoint: no step twice

    def step(self, step: int, terms: LossTerms, lr: float, grad_norm: Tensor, n_images: int) -> None:
        """Count the step's images; on a log step, append a record (``_record``) and write it out."""
        self.images += n_images
        self.n_log += n_images
        self.bar.update(1)
        if step % self.cfg.log_every == 0 or step == self.cfg.steps:
            now = time.perf_counter()
            rec = _record(step, terms, lr, self.n_log / max(now - self.t_log, 1e-9), float(grad_norm))
            self.t_log, self.n_log = now, 0
            self.history.append(rec)
            self.bar.set_postfix(loss=f"{rec['total']:.4g}", lr=f"{lr:.2g}")
            _write_history(self.out, self.history)
            if self.writer is not None:
                _log_tensorboard(self.writer, rec)

    def seconds(self) -> float:
        return time.perf_counter() - self.t0

    def close(self) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.close()


class _QuietLog:
    """What ranks other than 0 keep of ``_Log``: the history (unwritten) and the image count."""

    def __init__(self, cfg: TrainConfig, history: list) -> None:
        self.cfg, self.history, self.images = cfg, history, 0
        self.bar = tqdm(disable=True)
        self.t0 = time.perf_counter()

    def step(self, step: int, terms: LossTerms, lr: float, grad_norm: Tensor, n_images: int) -> None:
        self.images += n_images
        if step % self.cfg.log_every == 0 or step == self.cfg.steps:
            self.history.append(_record(step, terms, lr, 0.0, float(grad_norm)))

    def seconds(self) -> float:
        return time.perf_counter() - self.t0

    def close(self) -> None:
        self.bar.close()


def _write_history(out: Path, history: list) -> None:
    """out/history.jsonl: one JSON line per loss record, rewritten atomically (never half a line)."""
    with atomic_write(out / "history.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in history)


def _float_output(output: Any) -> Any:
    """Autocast outputs in float32: the loss (sums of squares) overflows float16, loses bfloat16's digits."""
    output.S = [s.float() for s in output.S]
    output.L = [v.float() for v in output.L]
    return output


def _log_tensorboard(writer: Any, rec: dict) -> None:
    """Per-stage, per-branch losses (f_S^t, f_L^t), their total, lr and throughput."""
    step = rec["step"]
    writer.add_scalar("loss/total", rec["total"], step)
    for t, fs in enumerate(rec["S"], start=1):  # a Body25Net has fewer S than L stages
        writer.add_scalar(f"loss_S/stage{t}", fs, step)
    for t, fl in enumerate(rec["L"], start=1):
        writer.add_scalar(f"loss_L/stage{t}", fl, step)
    writer.add_scalar("lr", rec["lr"], step)
    writer.add_scalar("images_per_s", rec["images_per_s"], step)
    writer.add_scalar("grad_norm", rec["grad_norm"], step)


def _checkpoint(
    out: Path,
    net: OpenPoseNet,
    optimizer: Any,
    step: int,
    cfg: TrainConfig,
    history: list,
    procs: distributed.Processes,
) -> Path:
    """Write out/last.pt and a numbered copy: config, weights, step, optimizer, data seed, history,
    and the number of processes (a resumed run must keep it). Rank 0 alone calls it."""
    extra = {
        "processes": procs.world_size,
        "step": step,
        "optimizer": optimizer.state_dict(),
        "data_seed": cfg.data_seed,
        "train_config": asdict(cfg),
        "history": history,
        "meta": {"parameters": count_parameters(net), "torch": str(torch.__version__)},
    }

    with _interrupt_after():
        path = save_checkpoint(out / "last.pt", net, **extra)
        save_checkpoint(out / f"step_{step:06d}.pt", net, **extra)
    return path


@contextmanager
def _interrupt_after() -> Iterator[None]:
    """Ctrl-C while a checkpoint is written takes effect once it is written.

    Inside ``torch.save`` a KeyboardInterrupt surfaces as torch's RuntimeError ("failed writing
    file"), which hid the interrupt: the finished steps were not saved. Here SIGINT is only noted
    while the block runs, and raised as KeyboardInterrupt after it (main thread only: elsewhere
    signals cannot be caught, and the block runs as it is).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def export_weights(
    checkpoint: str | Path, dest: str | Path, box_size: int | None = None, **meta: Any
) -> Path:
    """Copy a training checkpoint's config and weights (no optimizer, no history) to ``dest``.

    This is how openpose_edu/checkpoints/bundled.pt was made: small, and loadable with
    ``weights_only=True``. ``box_size`` sets the input height inference resizes images to
    (``InputSpec.box_size``; the training crop is the natural choice), the weights are unchanged.
    ``meta`` (command, steps, seed, ...) is stored under "meta", with the widths of the targets
    the run's config asked for (``sigma``, ``limb_width``, and the whole ``groundtruth.TargetSpec`` under
    "targets": what S*, L* to compare the maps with;
    a data set handed to ``train`` makes its own).
    """

    net, extra = load_checkpoint(checkpoint)
    if box_size is not None:
        net.config = replace(net.config, input=replace(net.config.input, box_size=int(box_size)))
    run = extra.get("train_config", {})
    widths = {k: v for k, v in run.items() if k in ("sigma", "limb_width")}
    if widths:  # the whole TargetSpec too (weights.card_from_checkpoint reads the widths)
        widths["targets"] = TargetSpec(stride=net.stride, **widths).as_dict()
    data = "COCO" if extra.get("train_config", {}).get("coco_annotations") else "synthetic scenes"
    info = {
        "trained_on": data,  # the model card's trained_on (weights.card_from_checkpoint)
        "step": extra.get("step"),
        "data_seed": extra.get("data_seed"),
        **widths,
        **extra.get("meta", {}),
        **meta,
    }
    return save_checkpoint(
        dest, net, step=extra.get("step", 0), data_seed=extra.get("data_seed", 0), meta=info
    )


# ----------------------------------------------------------------------------- command line


def _bool(text: str) -> bool:
    """A strict boolean: true/false, yes/no, 1/0, on/off (``flase`` is an error, not False)."""
    truth = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False}
    value = {**truth, "off": False}.get(text.lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected true/false (or yes/no, 1/0, on/off), got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m openpose_edu.train",
        description="Train an OpenPose network (intermediate supervision) on synthetic scenes or COCO.",
    )
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        value = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            p.add_argument(flag, type=_bool, default=value, metavar="BOOL")
        else:
            p.add_argument(flag, type=type(value), default=value)
    p.add_argument("--resume", default=None, help="checkpoint to continue from (its config is used)")
    p.add_argument(
        "--init-from",
        default=None,
        help="weights to start a new run from (fine-tuning: step 0, fresh optimizer; its config is used)",
    )
    p.add_argument(
        "--model",
        default=None,
        help="network: 'bundled' (train.bundled_config, the default), 'paper', or a JSON file of "
        "OpenPoseConfig fields; with --resume / --init-from it must match the checkpoint's",
    )
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    return p


def build_model(config: Any) -> nn.Module:
    """The network of a config: ``OpenPoseNet`` (2017) or ``body25.Body25Net`` (2019, PAF-first)."""
    return config.build()


def model_config_from_arg(arg: str) -> Any:
    """'bundled' | 'paper' | 'body25' | a JSON dict of OpenPoseConfig (or Body25Config) fields -> config.

    A JSON dict with ``"architecture": "body25"`` is a ``body25.Body25Config`` (the 2019 network).
    """
    if arg == "body25":
        return Body25Config.paper()
    if arg == "bundled":
        return bundled_config()
    if arg == "paper":
        return OpenPoseConfig.paper()
    path = Path(arg)
    if not path.is_file():
        raise ValueError(
            f"--model must be 'bundled', 'paper' or a JSON file of OpenPoseConfig fields, got {arg!r}"
        )
    try:
        d = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"--model {arg}: not a JSON file ({e})") from None
    if not isinstance(d, dict):
        raise ValueError(
            f"--model {arg}: expected a JSON object of OpenPoseConfig fields, got a {type(d).__name__}"
        )
    return config_from_dict(d)  # "architecture" picks the family


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig)}
    try:  # a bad value is an argument error (usage and one line, exit 2), not a traceback
        if STEPS_ENV in os.environ:
            values.pop("steps")
            cfg = TrainConfig.from_env(**values)
        else:
            cfg = TrainConfig(**values)
        if args.resume or args.init_from:
            model_config = model_config_from_arg(args.model) if args.model else None
        else:
            model_config = model_config_from_arg(args.model or "bundled")
        out = Path(cfg.out_dir)
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out-dir {out}: exists and is not a directory; give a folder")
    except (ValueError, TypeError, KeyError) as e:
        parser.error(str(e))
    try:
        result = train(
            cfg,
            model_config=model_config,
            resume=args.resume,
            progress=not args.no_progress,
            init_from=args.init_from,
        )
    except KeyboardInterrupt:
        print(
            f"interrupted; the finished steps are in {Path(cfg.out_dir) / 'last.pt'} (continue with --resume)"
        )
        return 130
    except FloatingPointError as e:
        print(f"error: {e}")
        return 1
    except (ValueError, FileNotFoundError) as e:  # a checkpoint that does not fit this run
        print(f"error: {e}")
        return 2
    finally:
        distributed.close()
    if distributed.rank() != 0:  # under torchrun rank 0 reports
        return 0
    final = result.history[-1]["total"] if result.history else float("nan")
    print(
        f"trained {count_parameters(result.model):,} parameters for {cfg.steps} steps "
        f"({result.images} images in {result.seconds:.0f} s); final loss {final:.4g}; "
        f"checkpoint {result.checkpoint}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
