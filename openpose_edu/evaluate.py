"""COCO keypoint AP of a model, per stage, and the parser thresholds that maximise it.

The paper reports COCO keypoint AP (Sec. 3.2, Table 3-4). The COCO format and the scoring (OKS,
COCOeval, OpenPose-18 -> COCO-17, per-keypoint errors) are ``coco.py``'s; this module runs a
model (or the ground-truth maps) over a data set, stage by stage, and scores what it finds.

Two data sets:
* the held-out synthetic validation set (``datasets.validation_scenes``: ``N_VAL`` scenes of the
  seed ``synthetic.VALIDATION_SEED``, which train.py refuses, so they are never trained on);
* any COCO-format annotation file + image folder (for example COCO val2017 with the CMU weights).

``python -m openpose_edu.evaluate`` prints AP, AP50, AP75 and AR; ``--stages all`` parses the
maps of every stage t = 1..T (refinement at work, notebook 05); ``--perfect-maps`` parses the
ground-truth maps instead of a network's: the ceiling a perfect network would reach;
``--per-keypoint`` adds which parts are missed and how far off the found ones are
(``coco.keypoint_errors``). The parser's thresholds are the model's own when its file names them
(``inference.parsing_params_of``), else the demo's; ``--parsing demo`` or a JSON object sets
others, and ``--tune-parsing`` scores a grid of them on scenes of ``SELECTION_SEED``
(``tune_parsing``), never on the validation scenes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .assembly import ParsingParams, parse
from .coco import (
    FOOT_PARTS,
    STAT_NAMES,
    coco_ground_truth,
    detections_coco,
    foot_keypoints,
    format_keypoint_errors,
    keypoint_stats,
    scenes_ground_truth,
)
from .datasets import N_VAL, VAL_SIZE, validation_scenes, validation_set
from .groundtruth import DEFAULT_TARGETS, TargetSpec
from .inference import Padding, infer_maps, output_spec_of, parsing_params_of, poses_from_maps, resize_maps
from .io import atomic_write, check_device, positive_int_arg, read_image, scale_arg
from .skeleton import N_HEATMAPS
from .synthetic import VALIDATION_SEED
from .weights import load_model

# Scenes for choosing between checkpoints and parser thresholds (``tune_parsing``): never a
# training seed of the bundled model, and not the validation seed, so the validation AP stays
# a held-out number.
SELECTION_SEED = 1000
# The thresholds ``tune_parsing`` tries by default: the demo's values (smooth_sigma 3,
# n_samples 10, min_above_fraction 0.8, paf_threshold 0.05) and looser ones around them.
TUNING_GRID: dict[str, tuple] = {
    "smooth_sigma": (2.0, 2.5, 3.0),
    "n_samples": (10, 20, 30),
    "min_above_fraction": (0.3, 0.4, 0.8),
    "paf_threshold": (0.01, 0.02, 0.05),
}

# ----------------------------------------------------------------------------- models on data sets


def _stages_of(model: Any, stages: str | Sequence[int] | None) -> list[int]:
    """None -> [T] (the last), "all" -> [1..T], a list -> itself, each checked to be in 1..T."""
    T = model.n_stages  # every model.PoseModel declares it
    if stages is None:
        return [T]
    if stages == "all":
        return list(range(1, T + 1))
    ts = [int(t) for t in stages]
    bad = [t for t in ts if not 1 <= t <= T]
    if bad or not ts:
        raise ValueError(
            f"stages must be in 1..{T} for this model (stages are numbered from 1), got {list(stages)}"
        )
    return ts


def predict(
    model: Any,
    images: Sequence[np.ndarray],
    stages: Sequence[int],
    color: str = "RGB",
    params: Any = None,
    scales: Sequence[float] = (1.0,),
    progress: bool = False,
    maps: Sequence[Any] | None = None,
) -> dict[int, tuple[list, list]]:
    """Detected people per stage: {t: ([keypoints (P, 18, 3)], [scores (P,)])} over ``images``.

    One forward pass per image keeps every stage's maps (``inference.infer_maps(all_stages=True)``);
    stage t's S^t, L^t are then parsed by ``inference.poses_from_maps``, exactly as
    ``estimate(..., stage=t)`` would (keypoints in image pixels). Stages are 1..T.
    params: None takes the model's own thresholds (``inference.parsing_params_of``).
    maps: the images' ``Maps`` (all_stages=True) when already computed: then nothing runs again.
    """
    params = parsing_params_of(model, params)
    out: dict[int, tuple[list, list]] = {t: ([], []) for t in stages}
    last = max(stages)
    if maps is not None and len(maps) != len(images):
        raise ValueError(f"got {len(maps)} maps for {len(images)} images")
    for i, image in enumerate(tqdm(images, disable=not progress, desc="evaluate")):
        if maps is not None:
            m = maps[i]
        else:
            m = infer_maps(model, image, scales=scales, color=color, all_stages=True, stage=last)
        for t in stages:
            poses = poses_from_maps(m, params, stage=t)
            out[t][0].append(np.asarray(poses.keypoints))
            out[t][1].append(np.asarray(poses.scores))
    return out


def _stats_per_stage(
    model: Any, gt: Any, found: dict[int, tuple[list, list]], ids: list[int], per_keypoint: bool
) -> dict[int, dict]:
    """{t: COCO stats} of ``predict``'s people, in the model's skeleton (``output_spec``): its
    COCO-17 parts are scored; a skeleton with feet (BODY_25) also reports, under "feet", how
    many of its six foot points were found per detected person (COCO-17 cannot score them)."""
    skeleton = output_spec_of(model).skeleton
    out = {}
    for t, (kps, scores) in found.items():
        out[t] = keypoint_stats(gt, detections_coco(ids, kps, scores, skeleton=skeleton), ids, per_keypoint)
        if all(name in skeleton.parts for name in FOOT_PARTS):
            feet = [foot_keypoints(np.asarray(k).reshape(-1, skeleton.n_parts, 3), skeleton) for k in kps]
            people = sum(len(f) for f in feet)
            found_points = sum(int((f[..., 2] > 0).sum()) for f in feet)
            out[t]["feet"] = {"people": people, "foot_points_per_person": found_points / max(people, 1)}
    return out


def evaluate_synthetic(
    model: Any,
    n: int = N_VAL,
    stages: str | Sequence[int] | None = None,
    params: Any = None,
    seed: int = VALIDATION_SEED,
    size: tuple[int, int] = VAL_SIZE,
    progress: bool = False,
    scales: Sequence[float] = (1.0,),
    per_keypoint: bool = False,
) -> dict[int, dict]:
    """COCO keypoint AP of ``model`` on the held-out synthetic scenes, per stage: {t: stats dict}.

    stages: None (the last), "all" (1..T) or a list of stage numbers. scales: the maps are
    averaged over these input scales before parsing (``inference.infer_maps``). per_keypoint:
    each stats dict also holds ``coco.keypoint_errors`` under "per_keypoint".
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be >= 1 scenes, got {n!r}: AP over no images is meaningless")
    scenes = validation_scenes(n, seed=seed, size=size)
    ts = _stages_of(model, stages)
    gt = scenes_ground_truth(scenes)
    images = [s.image for s in scenes]
    found = predict(model, images, ts, color="RGB", params=params, scales=scales, progress=progress)
    ids = list(range(1, len(scenes) + 1))
    return _stats_per_stage(model, gt, found, ids, per_keypoint)


def tune_parsing(
    model: Any,
    grid: dict[str, Sequence] | None = None,
    n: int = N_VAL,
    seed: int = SELECTION_SEED,
    stage: int | None = None,
    scales: Sequence[float] = (1.0,),
    base: Any = None,
    progress: bool = False,
) -> list[tuple[Any, dict]]:
    """Parser thresholds for ``model``: every combination of ``grid`` scored by AP, best first.

    The parser's thresholds are hyperparameters of the whole system, and the right ones depend
    on the network's maps: CMU chose theirs on COCO for their network (the table in
    ``assembly.ParsingParams``), and a model trained toward narrower PAFs (the bundled model's
    one-cell L*) wants a looser line-integral test. Each of the ``n`` synthetic scenes of data
    seed ``seed`` (default ``SELECTION_SEED``, never the validation seed) goes through the
    network once (``inference.infer_maps``); its maps are then parsed with every combination.
    grid: {ParsingParams field: values} (default ``TUNING_GRID``); fields not in it keep
    ``base``'s values (default ``ParsingParams()``). Returns [(ParsingParams, stats dict)],
    sorted by AP, highest first (ties keep the grid's order).
    """
    if seed == VALIDATION_SEED:
        raise ValueError("tune_parsing on the validation seed would leave no held-out AP; use another seed")
    grid = dict(TUNING_GRID if grid is None else grid)
    base = base or ParsingParams()
    names = list(grid)
    candidates = [replace(base, **dict(zip(names, values))) for values in itertools.product(*grid.values())]
    if not candidates:
        raise ValueError(f"the grid {grid} has no combination (an empty list of values?)")
    scenes = validation_scenes(n, seed=seed)
    gt = scenes_ground_truth(scenes)
    skeleton = output_spec_of(model).skeleton
    found: list[tuple[list, list]] = [([], []) for _ in candidates]
    for scene in tqdm(scenes, disable=not progress, desc="tune parsing"):
        maps = infer_maps(model, scene.image, scales=scales, stage=stage)  # one forward pass per scene
        for (kps, scores), params in zip(found, candidates):
            poses = poses_from_maps(maps, params)
            kps.append(np.asarray(poses.keypoints))
            scores.append(np.asarray(poses.scores))
    ids = list(range(1, n + 1))
    results = [
        (p, keypoint_stats(gt, detections_coco(ids, *f, skeleton=skeleton), ids, False))
        for p, f in zip(candidates, found)
    ]
    return sorted(results, key=lambda r: -r[1]["AP"])


def format_tuning(results: list[tuple[Any, dict]], top: int = 10, grid: dict | None = None) -> str:
    """The best ``top`` rows of ``tune_parsing``'s result as a table of the tuned fields and AP."""
    names = list(TUNING_GRID if grid is None else grid)
    lines = ["  ".join(f"{n:>18}" for n in names) + "      AP   AP50   AP75     AR"]
    for params, r in results[:top]:
        values = "  ".join(f"{getattr(params, n)!s:>18}" for n in names)
        lines.append(f"{values}  {r['AP']:6.3f} {r['AP50']:6.3f} {r['AP75']:6.3f} {r['AR']:6.3f}")
    return "\n".join(lines)


def evaluate_perfect_maps(
    n: int = N_VAL,
    params: Any = None,
    seed: int = VALIDATION_SEED,
    size: tuple[int, int] = VAL_SIZE,
    progress: bool = False,
    spec: TargetSpec = DEFAULT_TARGETS,
    per_keypoint: bool = False,
) -> dict:
    """COCO keypoint AP of a perfect network on the synthetic validation scenes: the ceiling.

    Parses the ground-truth maps S*, L* (Eq. 6-9, drawn under ``spec``) on the stride-8
    grid, upsampled to the image exactly as ``inference.infer_maps`` upsamples network output.
    No network can do better with this stride, these targets and this parser, so a model's AP
    is best read beside this number: the gap is the network's, the rest is the representation's
    (peaks quantized by the stride, short limbs such as nose-eye that no grid point of Eq. 8's
    rectangle falls on, parts of a person the COCO-18 tree cannot join). Stats dict.

    ``spec`` (a ``groundtruth.TargetSpec``: stride, sigma, limb width in image pixels, variant)
    asks what another representation would allow: stride 4 with sigma 3.5 and limb_width 4 is what
    the same network sees when it runs on the image enlarged twice (``scales=(2,)``);
    ``TargetSpec.of(model)`` gives the targets a model was trained toward.
    per_keypoint: the stats dict also holds ``coco.keypoint_errors`` under "per_keypoint".
    """
    params = params or ParsingParams()
    data = validation_set(n, size=size, seed=seed, spec=spec)
    scenes = [data.scene(i) for i in range(n)]
    gt = scenes_ground_truth(scenes)
    H, W = data.size
    padding = Padding(image_size=(H, W), resized_size=(H, W), padded_size=(H, W), factor=1.0)
    keypoints, scores = [], []
    for scene in tqdm(scenes, disable=not progress, desc="perfect maps"):
        item = data.make_targets(torch.from_numpy(scene.keypoints), torch.from_numpy(scene.ignore))
        maps = resize_maps(torch.cat([item["S"], item["L"]])[None], padding, data.stride)[0].numpy()
        people = parse(maps[:N_HEATMAPS], maps[N_HEATMAPS:], params)
        keypoints.append(np.asarray(people.keypoints))
        scores.append(np.asarray(people.scores))
    ids = list(range(1, n + 1))
    return keypoint_stats(gt, detections_coco(ids, keypoints, scores), ids, per_keypoint)


def evaluate_coco(
    model: Any,
    annotations: str | Path,
    images: str | Path,
    stages: str | Sequence[int] | None = None,
    params: Any = None,
    max_images: int | None = None,
    progress: bool = False,
    scales: Sequence[float] = (1.0,),
    per_keypoint: bool = False,
) -> dict[int, dict]:
    """COCO keypoint AP of ``model`` on a COCO-format annotation file + image folder, per stage.

    scales: input scales averaged before parsing (the released demo averages 0.5-2 on COCO; the
        paper's explicit scale search, x0.7, 1, 1.3, is for MPII, Sec. 3.1).
    per_keypoint: each stats dict also holds ``coco.keypoint_errors`` under "per_keypoint".
    """
    annotations, images = Path(annotations), Path(images)
    if max_images is not None and (isinstance(max_images, bool) or max_images < 1):
        raise ValueError(f"max_images must be None (all) or >= 1, got {max_images}")
    if not images.is_dir():
        raise FileNotFoundError(f"COCO image folder not found: {images}")
    gt = coco_ground_truth(annotations)
    ids = sorted(gt.getImgIds(catIds=gt.getCatIds(catNms=["person"])) or gt.getImgIds())[:max_images]
    if not ids:
        raise ValueError(f"{annotations} lists no images: nothing to evaluate (AP would be meaningless)")
    if not any(a["num_keypoints"] > 0 for a in gt.loadAnns(gt.getAnnIds(imgIds=ids))):
        raise ValueError(
            f"{annotations}: none of the {len(ids)} images has an annotated person (num_keypoints > 0): "
            "AP is undefined (COCOeval would print -1); give annotations with keypoints"
        )
    pictures = []
    for info in gt.loadImgs(ids):
        name = info.get("file_name")
        if not isinstance(name, str) or not name or Path(name).name != name:
            raise ValueError(
                f"{annotations}: image {info['id']} has file_name {name!r}; expected the name of a file "
                f"in {images}"
            )
        try:
            pictures.append(read_image(images / name, color="BGR"))  # bounded: io.MAX_IMAGE_PIXELS
        except (OSError, ValueError) as e:
            raise type(e)(f"cannot read image {images / name} (named in {annotations}): {e}") from None
    ts = _stages_of(model, stages)
    found = predict(model, pictures, ts, color="BGR", params=params, scales=scales, progress=progress)
    return _stats_per_stage(model, gt.dataset, found, ids, per_keypoint)


def format_table(results: dict[int | str, dict]) -> str:
    """Per-stage AP table as text (stages 1..T; a str key is printed as it is)."""
    feet = any("feet" in r for r in results.values())
    lines = ["stage     AP   AP50   AP75     AR" + ("  feet/person" if feet else "")]
    for t, r in results.items():
        line = f"{t:>5} {r['AP']:6.3f} {r['AP50']:6.3f} {r['AP75']:6.3f} {r['AR']:6.3f}"
        if "feet" in r:  # BODY_25's foot points, outside COCO-17: how many were found
            line += f"  {r['feet']['foot_points_per_person']:11.2f}"
        lines.append(line)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m openpose_edu.evaluate``: print (and --json write) AP per stage; 0 on success."""
    p = _parser()
    args = p.parse_args(argv)
    params = _parsing_arg(p, args.parsing)
    if args.json:
        _check_json_out(p, Path(args.json))
    try:
        if args.tune_parsing:
            return _tune(p, args, params)
        if args.perfect_maps:
            results: dict = {"S*,L*": _perfect_maps(p, args, params)}
        else:
            results = _evaluate_model(p, args, params)
    except (ValueError, OSError) as e:  # a bad annotation file, image folder or model file: one line
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    print(format_table(results))
    last = list(results.values())[-1]
    if "per_keypoint" in last:
        print(format_keypoint_errors(last["per_keypoint"]))
    if args.json:
        return _write_json(args.json, {str(t): r for t, r in results.items()})
    return 0


def _check_json_out(p: argparse.ArgumentParser, path: Path) -> None:
    """--json: a file we can create, checked before the work (not after an hour of it)."""
    if path.is_dir():
        p.error(f"--json {path}: is a directory; give a file name, e.g. {path / 'ap.json'}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        p.error(f"--json {path}: cannot create a file in {folder} (missing or not writable)")


def _write_json(path: str, data: Any) -> int:
    try:
        with atomic_write(path, "w") as f:
            json.dump(data, f, indent=1)
    except OSError as e:
        print(f"error: --json {path}: cannot write it ({e.strerror or e})", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    """The command line's flags (``main``)."""
    p = argparse.ArgumentParser(prog="python -m openpose_edu.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="registry name (default: bundled) or a checkpoint .pt file")
    p.add_argument(
        "--stages",
        type=_stages_arg,
        default=None,
        help="'all', or comma-separated stage numbers (default: the last)",
    )
    p.add_argument(
        "--n", type=positive_int_arg, default=N_VAL, help="synthetic validation scenes (default %(default)s)"
    )
    p.add_argument(
        "--scales", type=scale_arg, nargs="+", default=[1.0], help="input scales averaged (default: 1)"
    )
    p.add_argument(
        "--coco-annotations", default=None, help="COCO person_keypoints JSON (instead of synthetic)"
    )
    p.add_argument("--coco-images", default=None, help="folder of the images the JSON names")
    p.add_argument(
        "--max-images", type=positive_int_arg, default=None, help="evaluate only the first N COCO images"
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    p.add_argument(
        "--perfect-maps",
        action="store_true",
        help="no model: parse the ground-truth S*, L* of the synthetic scenes (the AP ceiling)",
    )
    d = DEFAULT_TARGETS
    p.add_argument(
        "--stride",
        type=int,
        default=d.stride,
        help=f"with --perfect-maps: the maps' grid (default {d.stride})",
    )
    p.add_argument("--sigma", type=float, default=d.sigma, help="with --perfect-maps: S*'s sigma, pixels")
    p.add_argument(
        "--limb-width", type=float, default=d.limb_width, help="with --perfect-maps: L*'s half-width (px)"
    )
    p.add_argument("--variant", default=d.variant, help="with --perfect-maps: 'paper' or 'released' targets")
    p.add_argument(
        "--parsing",
        default="model",
        help="parser thresholds: 'model' (the model file's own, else the demo's; default), 'demo' "
        "(ParsingParams()), or a JSON object of ParsingParams fields",
    )
    p.add_argument(
        "--tune-parsing",
        action="store_true",
        help=f"try TUNING_GRID's thresholds on --n scenes of seed --seed (default {SELECTION_SEED}) "
        "and print the best",
    )
    p.add_argument("--seed", type=int, default=None, help="scene seed (default: validation; tuning: 1000)")
    p.add_argument(
        "--per-keypoint",
        action="store_true",
        help="also print, for the last stage, each keypoint's missed fraction and pixel error",
    )
    return p


def _perfect_maps(p: argparse.ArgumentParser, args: argparse.Namespace, params: Any) -> dict:
    """--perfect-maps: the ground-truth maps' AP (``evaluate_perfect_maps``) with the flags' targets."""
    try:
        spec = TargetSpec(
            stride=args.stride, sigma=args.sigma, limb_width=args.limb_width, variant=args.variant
        )
    except ValueError as e:  # one line: TargetSpec names the field (stride, sigma, limb_width, variant)
        p.error(f"--perfect-maps targets (--stride, --sigma, --limb-width, --variant): {e}")
    return evaluate_perfect_maps(
        n=args.n,
        params=params,
        seed=VALIDATION_SEED if args.seed is None else args.seed,
        progress=True,
        spec=spec,
        per_keypoint=args.per_keypoint,
    )


def _parsing_arg(p: argparse.ArgumentParser, value: str) -> Any:
    """--parsing: None (the model's own), ParsingParams() ('demo') or ParsingParams from JSON."""
    if value == "model":
        return None
    if value == "demo":
        return ParsingParams()
    try:
        return ParsingParams.from_dict(json.loads(value))
    except (json.JSONDecodeError, TypeError, ValueError) as e:
        p.error(f"--parsing must be 'model', 'demo' or a JSON object of ParsingParams fields: {e}")


def _stages_arg(value: str | list[int] | None) -> str | list[int] | None:
    """--stages: None (the last), 'all', or comma-separated stage numbers (>= 1) -> a list."""
    if value is None or value == "all" or isinstance(value, list):
        return value
    try:
        stages = [int(t) for t in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'all' or stage numbers like 1,6, got {value!r}") from None
    if any(t < 1 for t in stages):
        raise argparse.ArgumentTypeError(f"stages are numbered from 1, got {value!r}")
    return stages


def _tune(p: argparse.ArgumentParser, args: argparse.Namespace, base: Any) -> int:
    """--tune-parsing: the grid's best thresholds on the selection scenes, printed and as JSON."""
    seed = SELECTION_SEED if args.seed is None else args.seed
    if seed == VALIDATION_SEED:
        p.error("--tune-parsing on the validation seed would leave no held-out AP; use another --seed")
    model = _load(args)
    stages = _stages_arg(args.stages)
    if stages is not None and (stages == "all" or len(stages) != 1):
        p.error("--tune-parsing tunes one stage; give --stages T")
    results = tune_parsing(
        model,
        n=args.n,
        seed=seed,
        stage=stages[0] if stages else None,
        scales=args.scales,
        base=base or parsing_params_of(model),
        progress=True,
    )
    print(format_tuning(results))
    print("best:", json.dumps(results[0][0].to_dict()))
    if args.json:
        rows = [{"params": q.to_dict(), **{k: r[k] for k in STAT_NAMES}} for q, r in results]
        with atomic_write(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


def _load(args: argparse.Namespace) -> Any:
    """--model and --device -> the model, or a ValueError of one line (unknown name, bad file, device)."""
    try:
        check_device(args.device)
        return load_model(args.model, device=args.device)
    except Exception as e:  # noqa: BLE001 - any loader failure (pickle, torch, protobuf) is one line
        first = (str(e) or type(e).__name__).splitlines()[0]
        raise ValueError(f"cannot load model {args.model or 'bundled'!r}: {first}") from None


def _evaluate_model(p: argparse.ArgumentParser, args: argparse.Namespace, params: Any) -> dict[int, dict]:
    """The command line's model run: --model on COCO (both --coco-* given) or on synthetic scenes."""
    model = _load(args)
    stages = _stages_arg(args.stages)
    try:
        _stages_of(model, stages)
    except ValueError as e:
        p.error(f"--stages: {e}")
    if args.coco_annotations or args.coco_images:
        if not (args.coco_annotations and args.coco_images):
            p.error("give both --coco-annotations and --coco-images")
        return evaluate_coco(
            model,
            args.coco_annotations,
            args.coco_images,
            stages,
            params=params,
            max_images=args.max_images,
            progress=True,
            scales=args.scales,
            per_keypoint=args.per_keypoint,
        )
    return evaluate_synthetic(
        model,
        n=args.n,
        stages=stages,
        params=params,
        seed=VALIDATION_SEED if args.seed is None else args.seed,
        progress=True,
        scales=args.scales,
        per_keypoint=args.per_keypoint,
    )


if __name__ == "__main__":
    raise SystemExit(main())
