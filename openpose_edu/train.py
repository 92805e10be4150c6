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

The training notebook (08_training) retraces how the bundled model was made;
``OPENPOSE_EDU_TRAIN_STEPS`` shortens any run (CI).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from .groundtruth import DEFAULT_LIMB_WIDTH
from .io import atomic_write
from .model import InputSpec, OpenPoseConfig, OpenPoseNet, count_parameters
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
    kernels; ``model.without_last_pool`` made it stride 4 (runs 4-5) and
    ``model.with_stage_kernel`` grew the kernels to 5x5 (run 6), every weight kept each time;
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
    data_seed: int = 0  # synthetic scene stream (evaluate.VAL_SEED is held out and refused here)
    max_people: int = 6  # synthetic scenes have 0..max_people people
    # S*'s Gaussian spread, input pixels, in the formula of groundtruth's variant: 7 is caffe_train's
    # value for exp(-d^2/2sigma^2); in the paper's exp(-d^2/sigma^2) (Eq. 6) it is sqrt(2) narrower.
    sigma: float = 7.0
    limb_width: float = DEFAULT_LIMB_WIDTH  # L*'s half-width sigma_l, px (Eq. 8); run 8 used 4 (1 cell)
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

    def __post_init__(self) -> None:
        checks = {
            "steps": self.steps >= 1,
            "batch_size": self.batch_size >= 1,
            "crop": self.crop >= 16 and self.crop % 8 == 0,
            "lr": self.lr > 0,
            "warmup": self.warmup >= 0,
            "final_lr_ratio": 0 <= self.final_lr_ratio <= 1,
            "checkpoint_every": self.checkpoint_every >= 1,
            "log_every": self.log_every >= 1,
            "num_workers": self.num_workers >= 0,
            "sigma": self.sigma > 0,
            "limb_width": self.limb_width > 0,
            "device": self.device.split(":")[0] in ("cpu", "cuda"),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            values = {name: getattr(self, name) for name in bad}
            raise ValueError(
                f"invalid TrainConfig values {values}: steps, batch_size, checkpoint_every, log_every >= 1; "
                "crop >= 16 and a multiple of 8; lr, sigma, limb_width > 0; 0 <= final_lr_ratio <= 1; "
                "device 'cpu' or 'cuda'"
            )
        if bool(self.coco_annotations) != bool(self.coco_images):
            raise ValueError("give both coco_annotations (JSON) and coco_images (folder), or neither")

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


# ----------------------------------------------------------------------------- model set-up


def init_weights(net: OpenPoseNet, seed: int = 0) -> OpenPoseNet:
    """Initialise for training from scratch: Kaiming-normal for conv+ReLU, std 0.01 for map outputs.

    The last 1x1 conv of every branch (no ReLU) predicts S^t or L^t; starting it near zero keeps
    the first losses small and equal across stages. Its background channel starts at 1 in S,
    which is what S* is almost everywhere. Returns ``net`` (modified in place).
    """
    gen = torch.Generator().manual_seed(seed)
    if hasattr(net, "output_layers"):  # body25.Body25Net: (heatmap outputs, PAF outputs)
        heat_outputs, paf_outputs = net.output_layers()
    else:
        heat_outputs = [stage.L2[-1] for stage in net.stages]
        paf_outputs = [stage.L1[-1] for stage in net.stages]
    outputs = {id(m) for m in [*heat_outputs, *paf_outputs]}
    with torch.no_grad():
        for m in net.modules():
            if not isinstance(m, nn.Conv2d):
                continue
            if id(m) in outputs:
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 0.01)
                m.bias.zero_()
            else:
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(2.0 / fan_in))
                m.bias.zero_()
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


class _StepSampler(Sampler[int]):
    """Dataset indices start, start+1, ... (modulo the dataset length): data order = f(step)."""

    def __init__(self, start: int, count: int, length: int) -> None:
        self.start, self.count, self.length = start, count, length

    def __iter__(self) -> Iterator[int]:
        return ((self.start + i) % self.length for i in range(self.count))

    def __len__(self) -> int:
        return self.count


def make_dataset(cfg: TrainConfig, n_items: int | None = None, stride: int = 8) -> Dataset:
    """The training data set: synthetic scenes (default) or a COCO keypoint data set.

    Items are dicts with ``image`` (3, crop, crop) uint8 RGB, ``S`` (19, h, w), ``L`` (38, h, w)
    and ``W`` (1, h, w) float32, h = w = crop / stride (see ``collate``); ``stride`` must be the
    network's output stride (``OpenPoseConfig.stride``: 8 for the paper's three max pools).
    """
    if cfg.coco_annotations:
        return CocoKeypointDataset(
            cfg.coco_annotations,
            cfg.coco_images,
            crop=cfg.crop,
            stride=stride,
            sigma=cfg.sigma,
            limb_width=cfg.limb_width,
        )
    from .evaluate import VAL_SEED

    if cfg.data_seed == VAL_SEED:
        raise ValueError(
            f"data_seed {cfg.data_seed} is the held-out validation seed (evaluate.VAL_SEED); choose another"
        )
    from .synthetic import SyntheticPoseDataset

    return SyntheticPoseDataset(
        length=n_items or cfg.steps * cfg.batch_size,
        seed=cfg.data_seed,
        size=(cfg.crop, cfg.crop),
        max_people=cfg.max_people,
        stride=stride,
        sigma=cfg.sigma,
        limb_width=cfg.limb_width,
    )


def collate(items: Sequence[Any]) -> dict[str, Tensor]:
    """Stack dataset items into a batch dict: image (N,3,H,W) uint8 RGB, S, L, W float32."""
    batch: dict[str, list[Tensor]] = {"image": [], "S": [], "L": [], "W": []}
    for item in items:
        item = _as_item(item)
        for key in batch:
            batch[key].append(item[key])
    return {key: torch.stack(value) for key, value in batch.items()}


def _as_item(item: Any) -> dict[str, Tensor]:
    """One dataset item as {image (3,H,W) uint8, S (19,h,w), L (38,h,w), W (1,h,w)}."""
    if not isinstance(item, dict):
        raise TypeError(f"dataset items must be dicts, got {type(item).__name__}")
    aliases = {
        "image": ("image",),
        "S": ("S", "S_star", "heatmaps", "confidence_maps"),
        "L": ("L", "L_star", "pafs", "part_affinity_fields"),
        "W": ("W", "mask", "loss_mask"),
    }
    out = {}
    for key, names in aliases.items():
        name = next((n for n in names if n in item), None)
        if name is None:
            raise KeyError(f"dataset item has no {key!r} (looked for {names}); it has {sorted(item)}")
        value = torch.as_tensor(item[name])
        if key == "image" and value.ndim == 3 and value.shape[-1] == 3 and value.shape[0] != 3:
            value = value.permute(2, 0, 1)  # HWC -> CHW
        if key == "W" and value.ndim == 2:
            value = value[None]
        out[key] = value if key == "image" else value.float()
    return out


class CocoKeypointDataset(Dataset):
    """A COCO-format keypoint data set as training items (images letterboxed to crop x crop).

    Each image is scaled so that its longer side is ``crop`` pixels and padded with 128 (the
    original pad value); keypoints go through ``groundtruth.coco_to_openpose`` (COCO-17 ->
    OpenPose-18, Neck = mean of the shoulders); people without keypoints and crowd regions are
    masked out of the loss (W = 0), as caffe_train's mask_miss does. No augmentation: simple,
    for a user who wants to fine-tune on their own annotations. sigma and limb_width: S*'s
    Gaussian and L*'s half-width in pixels of the crop (``groundtruth.targets``).
    """

    def __init__(
        self,
        annotations: str | Path,
        images: str | Path,
        crop: int = 368,
        stride: int = 8,
        sigma: float = 7.0,
        limb_width: float = DEFAULT_LIMB_WIDTH,
    ) -> None:
        if crop % stride:  # SyntheticPoseDataset checks its size the same way
            raise ValueError(f"crop {crop} must be a multiple of the network's stride {stride}")
        annotations, images = Path(annotations), Path(images)
        if not annotations.is_file():
            raise FileNotFoundError(
                f"COCO annotation file not found: {annotations} (a person_keypoints JSON)"
            )
        if not images.is_dir():
            raise FileNotFoundError(f"COCO image folder not found: {images} (the images the JSON names)")
        import contextlib
        import io

        from pycocotools.coco import COCO

        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            self.coco = COCO(str(annotations))
        self.images = images
        self.crop, self.stride, self.sigma, self.limb_width = crop, stride, sigma, limb_width
        self.ids = sorted(self.coco.getImgIds(catIds=self.coco.getCatIds(catNms=["person"])))
        if not self.ids:
            raise ValueError(f"{annotations} has no images with 'person' annotations")

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        import cv2

        from .groundtruth import coco_to_openpose, targets

        info = self.coco.loadImgs(self.ids[index])[0]
        path = self.images / info["file_name"]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"cannot read image {path} (named in the COCO annotations)")
        H, W = bgr.shape[:2]
        scale = self.crop / max(H, W)
        h, w = round(H * scale), round(W * scale)
        image = np.full((self.crop, self.crop, 3), 128, np.uint8)
        image[:h, :w] = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)[..., ::-1]  # -> RGB
        anns = self.coco.loadAnns(self.coco.getAnnIds(imgIds=info["id"], iscrowd=None))
        labelled = [a for a in anns if a.get("num_keypoints", 0) > 0 and not a.get("iscrowd", 0)]
        ignore = np.zeros((H, W), bool)
        for a in anns:
            if a not in labelled and ("segmentation" in a or "bbox" in a):
                ignore |= self.coco.annToMask(a).astype(bool)
        ignore_crop = np.zeros((self.crop, self.crop), bool)
        ignore_crop[:h, :w] = cv2.resize(ignore.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        kps17 = np.array([a["keypoints"] for a in labelled], np.float32).reshape(-1, 17, 3)
        kps = torch.as_tensor(np.asarray(coco_to_openpose(kps17)), dtype=torch.float32).reshape(-1, 18, 3)
        kps[..., :2] *= scale
        grid = (self.crop // self.stride, self.crop // self.stride)
        maps = targets(
            kps[None],
            ignore_crop[None],
            grid_size=grid,
            stride=self.stride,
            sigma=self.sigma,
            limb_width=self.limb_width,
        )
        S, L, Wm = (t[0] for t in maps)
        return {"image": torch.as_tensor(image.copy()).permute(2, 0, 1), "S": S, "L": L, "W": Wm}


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
    """
    cfg = cfg or TrainConfig.from_env()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device 'cuda' was asked for but torch.cuda.is_available() is False; use --device cpu"
        )
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)

    start, history, opt_state = 0, [], None
    if resume is not None and init_from is not None:
        raise ValueError("give resume (continue a run) or init_from (start a new run from weights), not both")
    source = resume if resume is not None else init_from
    if source is not None:
        net, extra = load_checkpoint(source, device="cpu")
        if model_config is not None and model_config.to_dict() != net.config.to_dict():
            raise ValueError(
                f"checkpoint {source} holds a different network config than the one asked for:\n"
                f"  checkpoint: {net.config.to_dict()}\n  asked:      {model_config.to_dict()}\n"
                "use the checkpoint's own config (pass model_config=None) or start a new run"
            )
    if resume is not None:
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
        start = int(extra.get("step", 0))
        history = [r for r in extra.get("history", []) if r.get("step", 0) <= start]
        opt_state = extra.get("optimizer")
    elif source is None:
        net = init_weights(build_model(model_config or bundled_config()), seed=cfg.seed)
    net.to(device).train()

    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if opt_state is not None:
        optimizer.load_state_dict(opt_state)
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    # bfloat16 keeps float32's exponent range, so no gradient scaling; oneDNN's bf16 convolutions
    # want NHWC tensors (channels_last), NCHW ones are converted at every layer.
    use_bf16 = cfg.cpu_bf16 and device.type == "cpu"
    autocast_dtype = torch.bfloat16 if use_bf16 else torch.float16
    memory_format = torch.channels_last if use_bf16 else torch.contiguous_format
    net.to(memory_format=memory_format)

    if dataset is None:
        dataset = make_dataset(cfg, stride=net.config.stride)
    remaining = max(0, cfg.steps - start)
    loader = DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=_StepSampler(start * cfg.batch_size, remaining * cfg.batch_size, len(dataset)),
        num_workers=cfg.num_workers,
        collate_fn=collate,
        drop_last=True,
        persistent_workers=False,
        pin_memory=device.type == "cuda",
    )

    writer = None
    if cfg.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(out / "tb"), purge_step=start if start else None)

    from .loss import openpose_loss

    spec = net.input_spec
    bar = tqdm(total=cfg.steps, initial=start, disable=not progress, desc="train", mininterval=5.0)
    t0 = time.perf_counter()
    t_log, n_log, images = t0, 0, 0
    step = start
    last_ckpt: Path | None = None
    _write_history(out, history)  # a resumed run's file restarts at its checkpoint: no step twice
    try:
        for batch in loader:
            lr = lr_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x = spec.normalize(batch["image"].to(device, non_blocking=True), color="RGB")  # (N, 3, H, W)
            x = x.contiguous(memory_format=memory_format)
            S_star = batch["S"].to(device, non_blocking=True)  # (N, 19, h, w)
            L_star = batch["L"].to(device, non_blocking=True)  # (N, 38, h, w)
            W = batch["W"].to(device, non_blocking=True)  # (N, 1, h, w)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=use_amp or use_bf16):
                output = net(x)
            terms = openpose_loss(_float_output(output), S_star, L_star, W)
            if not torch.isfinite(terms.total):  # stop before the update: the weights stay finite
                raise FloatingPointError(
                    f"the loss is {float(terms.total.detach())} at step {step + 1}: training diverged; "
                    f"lower --lr, set --grad-clip, or resume from an earlier checkpoint in {out}"
                )
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(terms.total).backward()
            scaler.unscale_(optimizer)
            grad_norm = nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip or math.inf)  # recorded
            scaler.step(optimizer)
            scaler.update()
            step += 1
            images += x.shape[0]
            n_log += x.shape[0]
            bar.update(1)

            if step % cfg.log_every == 0 or step == cfg.steps:
                now = time.perf_counter()
                rec = _record(step, terms, lr, n_log / max(now - t_log, 1e-9), float(grad_norm))
                t_log, n_log = now, 0
                history.append(rec)
                bar.set_postfix(loss=f"{rec['total']:.4g}", lr=f"{lr:.2g}")
                _write_history(out, history)
                if writer is not None:
                    _log_tensorboard(writer, rec)
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                last_ckpt = _checkpoint(out, net, optimizer, step, cfg, history)
    except KeyboardInterrupt:  # Ctrl-C: keep the finished steps, then stop as asked
        bar.close()
        if step > start:
            _checkpoint(out, net, optimizer, step, cfg, history)
        raise
    bar.close()
    if writer is not None:
        writer.close()
    if last_ckpt is None and step > 0:
        last_ckpt = _checkpoint(out, net, optimizer, step, cfg, history)
    net.to(memory_format=torch.contiguous_format).eval()
    return TrainResult(
        model=net, history=history, checkpoint=last_ckpt, seconds=time.perf_counter() - t0, images=images
    )


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
    out: Path, net: OpenPoseNet, optimizer: Any, step: int, cfg: TrainConfig, history: list
) -> Path:
    """Write out/last.pt and a numbered copy: config, weights, step, optimizer, data seed, history."""
    extra = {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "data_seed": cfg.data_seed,
        "train_config": asdict(cfg),
        "history": history,
        "meta": {"parameters": count_parameters(net), "torch": str(torch.__version__)},
    }

    path = save_checkpoint(out / "last.pt", net, **extra)
    save_checkpoint(out / f"step_{step:06d}.pt", net, **extra)
    return path


def export_weights(
    checkpoint: str | Path, dest: str | Path, box_size: int | None = None, **meta: Any
) -> Path:
    """Copy a training checkpoint's config and weights (no optimizer, no history) to ``dest``.

    This is how openpose_edu/checkpoints/bundled.pt was made: small, and loadable with
    ``weights_only=True``. ``box_size`` sets the input height inference resizes images to
    (``InputSpec.box_size``; the training crop is the natural choice), the weights are unchanged.
    ``meta`` (command, steps, seed, ...) is stored under "meta", with the widths of the targets
    the run's config asked for (``sigma``, ``limb_width``: what S*, L* to compare the maps with;
    a data set handed to ``train`` makes its own).
    """

    net, extra = load_checkpoint(checkpoint)
    if box_size is not None:
        net.config = replace(net.config, input=replace(net.config.input, box_size=int(box_size)))
    widths = {k: v for k, v in extra.get("train_config", {}).items() if k in ("sigma", "limb_width")}
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
    if getattr(config, "architecture", None) == "body25":
        from .body25 import Body25Net

        return Body25Net(config)
    return OpenPoseNet(config)


def model_config_from_arg(arg: str) -> Any:
    """'bundled' | 'paper' | 'body25' | a JSON dict of OpenPoseConfig (or Body25Config) fields -> config.

    A JSON dict with ``"architecture": "body25"`` is a ``body25.Body25Config`` (the 2019 network).
    """
    if arg == "body25":
        from .body25 import Body25Config

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
    d = json.loads(path.read_text())
    if d.get("architecture") == "body25":
        from .body25 import Body25Config

        return Body25Config.from_dict(d)
    return OpenPoseConfig.from_dict(d)


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
    final = result.history[-1]["total"] if result.history else float("nan")
    print(
        f"trained {count_parameters(result.model):,} parameters for {cfg.steps} steps "
        f"({result.images} images in {result.seconds:.0f} s); final loss {final:.4g}; "
        f"checkpoint {result.checkpoint}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
