"""From an image to maps and people: preprocessing, the network per scale, upsampling, averaging.

The left-to-right data flow of the paper's Figure 2 at test time (arXiv 1611.08050), as the
reference demo (ZheC's Python demo, ported by Hzzone) runs it:

    preprocess(image, spec, scale)    resize height to box_size * scale, pad right/bottom to the
                                      stride with 128, normalize x/256 - 0.5 in the model's channel order
    run_network(model, x)             S^t, L^t at stride 8 (every stage, or one)
    resize_maps(maps, padding)        bicubic x8, crop the padding, resize to the image
    infer_maps(model, image, scales)  the above per scale, then the mean over scales -> Maps
    estimate(image, model)            infer_maps + assembly.parse -> Poses (the one-call API), with
                                      the model's own parser thresholds when its file names them

Images are uint8 (H, W, 3); ``color`` says whether they are RGB (skimage, matplotlib,
PIL) or BGR (cv2.imread). Gray (H, W) and (H, W, 1) images are accepted and repeated to 3
channels. Maps come back as numpy float32 at image resolution. Explained in notebooks 01
(the pipeline) and 09 (real photos, multi-scale, stages).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import cv2
import numpy as np
import torch
import torch.nn.functional as nnf
from torch import Tensor

from .assembly import ParsingParams, People, parse
from .io import check_device, check_image, check_model, check_scales, check_stage
from .model import InputSpec
from .skeleton import N_HEATMAPS, N_PAFS


class Padding(NamedTuple):
    """Where the network input came from: what ``resize_maps`` needs to undo ``preprocess``."""

    image_size: tuple[int, int]  # (H, W) of the original image
    resized_size: tuple[int, int]  # (h, w) after resizing, before padding
    padded_size: tuple[int, int]  # (h, w) fed to the network, multiples of the stride
    factor: float  # resize factor: resized = factor * original


def preprocess(
    image: np.ndarray,
    spec: InputSpec,
    scale: float = 1.0,
    color: str = "RGB",
    device: torch.device | str | None = None,
) -> tuple[Tensor, Padding]:
    """Image -> network input: resize, pad to the stride, normalize (the demo's preprocessing).

    The height becomes ``spec.box_size * scale`` (bicubic, aspect ratio kept), the bottom and
    right are padded with ``spec.pad_value`` up to multiples of ``spec.stride``, and
    ``spec.normalize`` maps 0..255 to the model's input (BGR, x/256 - 0.5 for the original).
    image: uint8 (H, W, 3) in ``color`` order. Returns x (1, 3, h, w) float32 on ``device``
    (default "cpu") and the ``Padding`` that ``resize_maps`` undoes.
    """
    image = check_image(image)
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    H, W = image.shape[:2]
    factor = spec.box_size * scale / H
    if round(W * factor) < 1 or round(H * factor) < 1:
        raise ValueError(f"image {(H, W)} resized by {factor:.4g} has no pixels left; use a larger scale")
    resized = cv2.resize(image, (0, 0), fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    h, w = resized.shape[:2]
    s = spec.stride
    h_pad, w_pad = -(-h // s) * s, -(-w // s) * s
    # Pad in raw pixel values so the pad normalizes like the demo's 128 (to 0 for the original).
    padded = cv2.copyMakeBorder(
        resized, 0, h_pad - h, 0, w_pad - w, cv2.BORDER_CONSTANT, value=(spec.pad_value,) * 3
    )
    raw = torch.from_numpy(padded).to(device or "cpu").permute(2, 0, 1)[None]  # (1, 3, h_pad, w_pad) uint8
    x = spec.normalize(raw, color=color)  # (1, 3, h_pad, w_pad) float32
    return x, Padding(image_size=(H, W), resized_size=(h, w), padded_size=(h_pad, w_pad), factor=factor)


def model_device(model: Any) -> torch.device:
    """The device of a model's first parameter or buffer ("cpu" for a model without any)."""
    if isinstance(model, torch.nn.Module):
        for t in model.parameters():
            return t.device
        for t in model.buffers():
            return t.device
    return torch.device("cpu")


def run_network(
    model: Any, x: Tensor, stage: int | None = None, all_stages: bool = False
) -> tuple[list[Tensor], int]:
    """Run the network once: the stacked maps [S^t | L^t] (N, 19 + 38, h, w) of the stages asked for.

    Paper Eq. 1-2. ``stage`` t (1-based) stops the network after stage t; ``all_stages``
    returns every stage up to it, else only the last. Returns a list of (N, 57, h, w) tensors,
    stage 1 first, and the number t of the last stage. No gradients are kept.
    """
    with torch.no_grad():
        out = model(x, n_stages=stage)
    if len(out.S) == 0:
        raise ValueError(f"{type(model).__name__} returned no stages")
    pairs = list(zip(out.S, out.L)) if all_stages else [(out.S[-1], out.L[-1])]
    stacked = []
    for S, L in pairs:
        if S.shape[1] != N_HEATMAPS or L.shape[1] != N_PAFS:
            raise ValueError(
                f"expected S with {N_HEATMAPS} and L with {N_PAFS} channels, "
                f"got {S.shape[1]} and {L.shape[1]}"
            )
        stacked.append(torch.cat([S, L], dim=1).float())
    return stacked, len(out.S)


def resize_maps(maps: Tensor, padding: Padding, stride: int = 8) -> Tensor:
    """Network-resolution maps -> image resolution: bicubic x stride, crop the padding, resize.

    The demo's three ``cv2.resize(INTER_CUBIC)`` steps, with torch's bicubic (the same
    kernel, a = -0.75, half-pixel centres) so it runs on any device. maps: (N, C, h, w) at
    stride ``stride``; returns (N, C, H, W) float32 at the original image size.
    """
    if maps.ndim != 4:
        raise ValueError(f"expected maps of shape (N, C, h, w), got {tuple(maps.shape)}")
    up = nnf.interpolate(maps.float(), scale_factor=stride, mode="bicubic", align_corners=False)
    h, w = padding.resized_size
    if up.shape[2] < h or up.shape[3] < w:
        raise ValueError(
            f"upsampled maps {tuple(up.shape[2:])} are smaller than the resized image {(h, w)}: "
            f"is the stride ({stride}) right?"
        )
    up = up[:, :, :h, :w]  # drop the padding (bottom, right)
    return nnf.interpolate(up, size=padding.image_size, mode="bicubic", align_corners=False)


@dataclass
class Maps:
    """Confidence maps and PAFs of one image at image resolution (what ``assembly.parse`` reads)."""

    S: np.ndarray  # (19, H, W) float32, channel 18 background
    L: np.ndarray  # (38, H, W) float32, channels per skeleton.Limb.paf_x / paf_y
    stage: int  # the stage t (1-based) S and L come from
    scales: tuple[float, ...]  # the scales averaged
    # Every stage's maps (S^1.., L^1..) when asked for (all_stages=True), else None. 57 floats
    # per pixel per stage: about 55 MB per stage for a 368 x 656 image.
    S_stages: list[np.ndarray] | None = field(default=None, repr=False)
    L_stages: list[np.ndarray] | None = field(default=None, repr=False)


def infer_maps(
    model: Any,
    image: np.ndarray,
    scales: Sequence[float] = (1.0,),
    color: str = "RGB",
    all_stages: bool = False,
    stage: int | None = None,
    device: torch.device | str | None = None,
) -> Maps:
    """S and L at image resolution, averaged over scales (the paper's multi-scale testing, Table 1).

    For each scale s: preprocess (height = box_size * s), run the network, ``resize_maps``;
    then the plain mean over scales (not the popular port's ``avg += avg + m / n``).
    model: any model with ``.input_spec``, ``.stride`` and ``forward(x, n_stages)``;
    image: uint8 (H, W, 3) in ``color`` order. ``stage`` t parses stage t (default the last);
    ``all_stages`` also keeps every stage's maps. ``device`` defaults to the model's.
    Returns ``Maps`` with numpy float32 (19, H, W) and (38, H, W).
    """
    image, scales, stage = check_image(image), check_scales(scales), check_stage(stage)
    model, device = check_model(model), check_device(device)
    device = torch.device(device) if device is not None else model_device(model)
    spec: InputSpec = model.input_spec
    total: list[Tensor] = []
    for s in scales:
        x, padding = preprocess(image, spec, scale=s, color=color, device=device)
        stacked, last_stage = run_network(model, x, stage, all_stages)
        per_stage = [resize_maps(m, padding, model.stride)[0] for m in stacked]  # each (57, H, W)
        total = per_stage if not total else [t + m for t, m in zip(total, per_stage)]
    mean = [(t / len(scales)).cpu().numpy() for t in total]  # the mean over scales, (57, H, W) each
    last = mean[-1]
    return Maps(
        S=np.ascontiguousarray(last[:N_HEATMAPS]),
        L=np.ascontiguousarray(last[N_HEATMAPS:]),
        stage=last_stage,
        scales=scales,
        S_stages=[np.ascontiguousarray(m[:N_HEATMAPS]) for m in mean] if all_stages else None,
        L_stages=[np.ascontiguousarray(m[N_HEATMAPS:]) for m in mean] if all_stages else None,
    )


@dataclass
class Poses:
    """What ``estimate`` found: people in OpenPose's keypoint layout, and the maps it parsed."""

    keypoints: np.ndarray  # (P, 18, 3) float32 [x, y, score] in image pixels, 0, 0, 0 for missing parts
    scores: np.ndarray  # (P,) float32 total score per person (parts + connections)
    maps: Maps  # the S and L that were parsed (image resolution)
    people: People  # the full parse, with every intermediate step in .steps

    def __len__(self) -> int:
        return len(self.scores)

    def to_json(self) -> dict:
        """OpenPose's JSON layout: {"version": 1.3, "people": [{"pose_keypoints_2d": [...]}]}."""
        from .io import openpose_json

        return openpose_json(self.keypoints)


def parsing_params_of(model: Any, params: ParsingParams | None = None) -> ParsingParams:
    """The parser thresholds to use with ``model``: ``params`` if given, else the model's own.

    A model file may name thresholds chosen for that network (``meta["parsing"]``, which
    ``weights.load_checkpoint`` sets as ``model.parsing_params``; the bundled model's were
    chosen by ``evaluate.tune_parsing`` on scenes it was never trained or validated on). Any
    other model gets ``ParsingParams()``, the reference demo's defaults (CMU's weights).
    """
    return params or getattr(model, "parsing_params", None) or ParsingParams()


def estimate(
    image: np.ndarray,
    model: Any = None,
    params: ParsingParams | None = None,
    scales: Sequence[float] = (1.0,),
    stage: int | None = None,
    color: str = "RGB",
    device: torch.device | str | None = None,
) -> Poses:
    """Image -> people: the one-call API (the paper's whole pipeline, Fig. 2).

    image: uint8 (H, W, 3) in ``color`` order ("RGB", or "BGR" for cv2.imread).
    model: a model object, a registry name (``weights.REGISTRY``) or None for the bundled
    model. params: the parser's thresholds; None takes the model's own (``parsing_params_of``).
    ``stage`` t parses stage t's maps instead of the last; ``scales`` are averaged.
    Returns ``Poses``: keypoints (P, 18, 3) [x, y, score] in image pixels, per-person
    scores, the maps and the parse.
    """
    check_image(image), check_scales(scales), check_stage(stage), check_device(device)  # before loading
    if model is None or isinstance(model, str):
        from .weights import load_model

        model = load_model(model, device=device or "cpu")
    params = parsing_params_of(model, params)
    maps = infer_maps(model, image, scales=scales, color=color, all_stages=False, stage=stage, device=device)
    people = parse(maps.S, maps.L, params)
    return Poses(keypoints=people.keypoints, scores=people.scores, maps=maps, people=people)
