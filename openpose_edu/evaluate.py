"""COCO keypoint AP (object keypoint similarity, OKS) of a model, with pycocotools.

The paper reports COCO keypoint AP (Sec. 3.2, Table 3-4): a detected person matches a labelled
one when their OKS exceeds a threshold; AP is averaged over OKS thresholds 0.50:0.05:0.95.

    OKS = sum_i exp(-d_i^2 / (2 s^2 k_i^2)) [v_i > 0] / sum_i [v_i > 0]

with d_i the pixel distance of keypoint i, s^2 the person's area and k_i COCO's per-keypoint
constants (pycocotools' ``kpt_oks_sigmas``, used as they are). OpenPose's 18 parts become COCO's
17 keypoints by dropping the Neck (``openpose_to_coco``).

Two data sets:
* the held-out synthetic validation set: ``N_VAL`` scenes of ``synthetic.make_scene`` with seed
  ``VAL_SEED`` (train.py refuses that seed, so these scenes are never trained on);
* any COCO-format annotation file + image folder (for example COCO val2017 with the CMU weights).

``python -m openpose_edu.evaluate`` prints AP, AP50, AP75 and AR; ``--stages all`` parses the
maps of every stage t = 1..T (refinement at work, notebook 05); ``--perfect-maps`` parses the
ground-truth maps instead of a network's: the ceiling a perfect network would reach;
``--per-keypoint`` adds which parts are missed and how far off the found ones are
(``keypoint_errors``). The parser's thresholds are the model's own when its file names them
(``inference.parsing_params_of``), else the demo's; ``--parsing demo`` or a JSON object sets
others, and ``--tune-parsing`` scores a grid of them on scenes of ``SELECTION_SEED``
(``tune_parsing``), never on the validation scenes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .io import atomic_write, scale_arg
from .skeleton import N_HEATMAPS, N_PARTS, OPENPOSE_FROM_COCO
from .synthetic import VALIDATION_SEED

VAL_SEED = VALIDATION_SEED  # the held-out synthetic validation scenes' seed (train.py refuses it)
N_VAL = 200  # validation scenes
VAL_SIZE = (256, 256)  # (H, W) of the validation scenes: the bundled model's input box
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

# COCO keypoint k is OpenPose part COCO_FROM_OPENPOSE[k] (the Neck, part 1, has no COCO keypoint).
COCO_FROM_OPENPOSE: tuple[int, ...] = tuple(OPENPOSE_FROM_COCO.index(k) for k in range(17))

STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")  # COCOeval.stats order


def openpose_to_coco(keypoints: np.ndarray) -> np.ndarray:
    """OpenPose-18 keypoints (..., 18, 3) -> COCO-17 (..., 17, 3): reorder, drop the Neck.

    The third value (visibility flag or score) is carried over unchanged.
    """
    keypoints = np.asarray(keypoints)
    if keypoints.shape[-2:] != (N_PARTS, 3):
        raise ValueError(f"expected OpenPose keypoints of shape (..., {N_PARTS}, 3), got {keypoints.shape}")
    return keypoints[..., COCO_FROM_OPENPOSE, :]


def ground_truth_coco(
    images: Sequence[tuple[int, int]],
    keypoints: Sequence[np.ndarray],
    ignore: Sequence[np.ndarray | None] | None = None,
) -> dict:
    """A COCO keypoint ground-truth dict from OpenPose-18 keypoints of several images.

    images: (H, W) per image; keypoints: (P, 18, 3) per image, [x, y, v] in pixels, v the COCO
    flag (0 not labelled). Each labelled person gets the area of the box around its labelled
    keypoints (synthetic people have no segmentation: this is CrowdPose's choice). ignore: an
    optional (H, W) bool mask per image, True on people that are not labelled; each connected
    region becomes an annotation with no keypoints, which COCOeval ignores, so detections there
    are neither rewarded nor punished (as COCO's own unlabelled people are).
    """
    import cv2

    if len(images) != len(keypoints):
        raise ValueError(f"{len(images)} image sizes but {len(keypoints)} keypoint arrays")
    out_images, annotations = [], []
    for image_id, ((H, W), kps) in enumerate(zip(images, keypoints), start=1):
        out_images.append({"id": image_id, "height": int(H), "width": int(W), "file_name": f"{image_id}.png"})
        for person in openpose_to_coco(np.asarray(kps, np.float64).reshape(-1, N_PARTS, 3)):
            labelled = person[:, 2] > 0
            if not labelled.any():
                continue
            x0, y0 = person[labelled, :2].min(0)
            x1, y1 = person[labelled, :2].max(0)
            w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
            flat = np.where(labelled[:, None], person, 0.0).reshape(-1)
            annotations.append(
                _annotation(len(annotations) + 1, image_id, flat, int(labelled.sum()), [x0, y0, w, h], w * h)
            )
        mask = None if ignore is None else ignore[image_id - 1]
        if mask is not None and np.any(mask):
            n, _, stats, _ = cv2.connectedComponentsWithStats(np.asarray(mask, np.uint8), connectivity=8)
            for x, y, w, h, area in stats[1:n]:
                annotations.append(
                    _annotation(len(annotations) + 1, image_id, np.zeros(51), 0, [x, y, w, h], float(area))
                )
    return {
        "images": out_images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "supercategory": "person"}],
    }


def _annotation(ann_id: int, image_id: int, flat: np.ndarray, n: int, bbox: list, area: float) -> dict:
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "keypoints": [float(v) for v in flat],
        "num_keypoints": n,
        "bbox": [float(v) for v in bbox],
        "area": float(area),
        "iscrowd": 0,
    }


def detections_coco(
    image_ids: Sequence[int], keypoints: Sequence[np.ndarray], scores: Sequence[np.ndarray]
) -> list:
    """COCO result list from detected OpenPose-18 people: keypoints (P, 18, 3) [x, y, score], scores (P,)."""
    results = []
    for image_id, kps, sc in zip(image_ids, keypoints, scores):
        kps = openpose_to_coco(np.asarray(kps, np.float64).reshape(-1, N_PARTS, 3))
        for person, score in zip(kps, np.asarray(sc, np.float64).reshape(-1)):
            found = person[:, 2] > 0
            # COCO wants a visibility-like third value; unfound parts sit at (0, 0) with 0.
            flat = np.where(found[:, None], np.concatenate([person[:, :2], np.ones((17, 1))], 1), 0.0)
            results.append(
                {
                    "image_id": int(image_id),
                    "category_id": 1,
                    "keypoints": [float(v) for v in flat.reshape(-1)],
                    "score": float(score),
                }
            )
    return results


def coco_keypoint_ap(
    ground_truth: dict | str | Path, detections: list, image_ids: Iterable[int] | None = None
) -> dict:
    """COCO keypoint AP/AR (COCOeval, OKS with COCO's sigmas) as a dict of floats in 0..1.

    ground_truth: a COCO dict or the path of a COCO annotation JSON; detections: the result
    list of ``detections_coco``; image_ids: evaluate only these images (default: all images of
    the ground truth). Returns {"AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm",
    "ARl"} (-1 where COCO has nothing to average, e.g. no medium people). pycocotools' prints
    are captured, not shown.
    """
    if not detections:
        _coco_ground_truth(ground_truth)  # still refuse a missing file
        return dict.fromkeys(STAT_NAMES, 0.0)
    return _summary(_coco_eval(ground_truth, detections, image_ids))


def _summary(ev: Any) -> dict:
    """AP/AR of a COCOeval that has run ``evaluate()`` (``coco_keypoint_ap``'s dict)."""
    with contextlib.redirect_stdout(io.StringIO()):
        ev.accumulate()
        ev.summarize()
    return {name: float(v) for name, v in zip(STAT_NAMES, ev.stats)}


def keypoint_errors(
    ground_truth: dict | str | Path,
    detections: list,
    image_ids: Iterable[int] | None = None,
    oks: float = 0.5,
) -> dict[str, dict[str, float]]:
    """What the detections get wrong, per COCO keypoint: missed parts and pixel errors.

    Each labelled person is paired with the detection COCOeval matched to it at OKS ``oks``
    (the same matching AP uses). Per keypoint name (``skeleton.COCO_PART_NAMES``) returns
    {"labelled": labelled parts of matched people, "missed": fraction of them the detection
    lacks, "median_px" / "p90_px": distance of the found ones, "people": the share of labelled
    people that were matched at all}. Reading it beside AP says whether a network loses AP by
    missing parts (one side more than the other, a PAF it never learned) or by placing them.
    """
    from .skeleton import COCO_PART_NAMES

    if not detections:  # nobody matched: nothing to measure
        nan = float("nan")
        return {
            n: {"labelled": 0.0, "missed": nan, "median_px": nan, "p90_px": nan, "people": 0.0}
            for n in COCO_PART_NAMES
        }
    return _errors(_coco_eval(ground_truth, detections, image_ids), oks)


def _errors(ev: Any, oks: float = 0.5) -> dict[str, dict[str, float]]:
    """``keypoint_errors`` of a COCOeval that has run ``evaluate()``."""
    from .skeleton import COCO_PART_NAMES

    t = int(np.argmin(np.abs(ev.params.iouThrs - oks)))
    all_areas = ev.params.areaRng[0]
    labelled, found, dist = np.zeros(17), np.zeros(17), [[] for _ in range(17)]
    n_people = n_matched = 0
    for e in ev.evalImgs:
        if e is None or e["aRng"] != all_areas:
            continue
        for g, ignored, d in zip(e["gtIds"], e["gtIgnore"], e["gtMatches"][t]):
            if ignored:
                continue
            n_people += 1
            if not d:
                continue
            n_matched += 1
            gk = np.asarray(ev.cocoGt.anns[g]["keypoints"], np.float64).reshape(17, 3)
            dk = np.asarray(ev.cocoDt.anns[int(d)]["keypoints"], np.float64).reshape(17, 3)
            lab, hit = gk[:, 2] > 0, (gk[:, 2] > 0) & (dk[:, 2] > 0)
            labelled += lab
            found += hit
            for k in np.flatnonzero(hit):
                dist[k].append(float(np.hypot(*(gk[k, :2] - dk[k, :2]))))
    out = {}
    for k, name in enumerate(COCO_PART_NAMES):
        dk = np.asarray(dist[k]) if dist[k] else np.full(1, np.nan)
        out[name] = {
            "labelled": float(labelled[k]),
            "missed": float(1 - found[k] / labelled[k]) if labelled[k] else float("nan"),
            "median_px": float(np.median(dk)),
            "p90_px": float(np.quantile(dk, 0.9)),
            "people": n_matched / max(n_people, 1),
        }
    return out


def format_keypoint_errors(errors: dict[str, dict[str, float]]) -> str:
    """``keypoint_errors`` as a text table, one line per keypoint."""
    first = next(iter(errors.values()), {"people": 0.0})
    lines = [
        f"people matched at OKS 0.5: {first['people']:.3f}",
        "keypoint       labelled  missed  median px  p90 px",
    ]
    for name, e in errors.items():
        lines.append(
            f"{name:14s} {e['labelled']:8.0f} {e['missed']:7.3f} {e['median_px']:10.2f} {e['p90_px']:7.2f}"
        )
    return "\n".join(lines)


def check_coco_annotations(ground_truth: dict | str | Path) -> dict:
    """Read and check a COCO person_keypoints file (or dict): what pycocotools needs, with clear errors.

    Refuses (ValueError naming the file, and the annotation id where there is one): a file that
    is not JSON, no ``images`` / ``annotations`` lists, duplicate image ids, an annotation without
    ``keypoints`` or with other than 17 * 3 numbers, or naming an image that is not listed.
    Returns the dataset dict (a copy: pycocotools changes it).
    """
    name = "the annotation dict" if isinstance(ground_truth, dict) else str(ground_truth)
    if isinstance(ground_truth, dict):
        data = json.loads(json.dumps(ground_truth))
    else:
        path = Path(ground_truth)
        if not path.is_file():
            raise FileNotFoundError(f"COCO annotation file not found: {path}")
        try:
            data = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: not a JSON file ({e}); expected COCO person_keypoints JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError(
            f"{name}: not COCO annotations: expected an object with 'images' and 'annotations' lists"
        )
    if not isinstance(data.get("annotations"), list):
        raise ValueError(f"{name}: not COCO annotations: no 'annotations' list")
    ids: set = set()
    for info in data["images"]:
        image_id = info.get("id") if isinstance(info, dict) else None
        if image_id is None:
            raise ValueError(f"{name}: an entry of 'images' has no 'id': {str(info)[:80]}")
        if image_id in ids:
            raise ValueError(f"{name}: image id {image_id} is listed twice in 'images'; ids must be unique")
        ids.add(image_id)
    for k, ann in enumerate(data["annotations"]):
        ann_id = ann.get("id", f"#{k}") if isinstance(ann, dict) else f"#{k}"
        where = f"{name}: annotation {ann_id}"
        if not isinstance(ann, dict):
            raise ValueError(f"{where} is not an object")
        if "keypoints" not in ann:
            raise ValueError(f"{where} has no 'keypoints' field; expected 17 x (x, y, v) = 51 numbers")
        kp = ann["keypoints"]
        if not isinstance(kp, list) or len(kp) != 51 or not all(isinstance(v, (int, float)) for v in kp):
            got = f"{len(kp)} values" if isinstance(kp, list) else type(kp).__name__
            raise ValueError(f"{where} has keypoints of {got}; expected 17 x (x, y, v) = 51 numbers")
        if ann.get("image_id") not in ids:
            raise ValueError(f"{where} names image_id {ann.get('image_id')!r}, which 'images' does not list")
        missing = [k for k in ("bbox", "area") if k not in ann]  # COCOeval's OKS scale and region
        if missing:
            raise ValueError(f"{where} has no {' and no '.join(repr(k) for k in missing)} field")
        ann.setdefault("num_keypoints", sum(v > 0 for v in kp[2::3]))  # COCO's definition
        ann.setdefault("iscrowd", 0)
    data.setdefault("categories", [{"id": 1, "name": "person"}])
    return data


def _coco_ground_truth(ground_truth: dict | str | Path) -> Any:
    from pycocotools.coco import COCO

    data = check_coco_annotations(ground_truth)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = data
        gt.createIndex()
        return gt


def _coco_eval(ground_truth: dict | str | Path, detections: list, image_ids: Iterable[int] | None) -> Any:
    """A COCOeval (keypoints, OKS) that has run ``evaluate()``: per-image matches in ``evalImgs``."""
    from pycocotools.cocoeval import COCOeval

    gt = _coco_ground_truth(ground_truth)
    ids = sorted(gt.getImgIds()) if image_ids is None else sorted(int(i) for i in image_ids)
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(json.loads(json.dumps(detections)))
        ev = COCOeval(gt, dt, iouType="keypoints")
        ev.params.imgIds = ids
        ev.evaluate()
    return ev


def _stats(ground_truth: dict | str | Path, detections: list, ids: list, per_keypoint: bool) -> dict:
    """``coco_keypoint_ap``, plus ``keypoint_errors`` under "per_keypoint" when asked (one COCOeval)."""
    if not detections:  # nothing for COCOeval to match: the public functions' empty answers
        stats: dict[str, Any] = coco_keypoint_ap(ground_truth, [], ids)
        errors = keypoint_errors(ground_truth, [], ids)
    else:
        ev = _coco_eval(ground_truth, detections, ids)
        stats, errors = _summary(ev), _errors(ev) if per_keypoint else {}
    return {**stats, "per_keypoint": errors} if per_keypoint else stats


# ----------------------------------------------------------------------------- models on data sets


def scenes_ground_truth(scenes: Sequence) -> dict:
    """COCO ground truth of synthetic scenes (``ground_truth_coco``): scene i is image i + 1,
    its labelled people the annotations, its unlabelled people's mask the ignore regions."""
    return ground_truth_coco(
        [s.image.shape[:2] for s in scenes],
        [np.asarray(s.keypoints) for s in scenes],
        [s.ignore for s in scenes],
    )


def validation_scenes(n: int = N_VAL, seed: int = VAL_SEED, size: tuple[int, int] = VAL_SIZE) -> list:
    """The held-out synthetic validation set: ``synthetic.make_scene(seed, i, size)`` for i < n."""
    from .synthetic import make_scene

    return [make_scene(seed, i, size=size) for i in range(n)]


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
) -> dict[int, tuple[list, list]]:
    """Detected people per stage: {t: ([keypoints (P, 18, 3)], [scores (P,)])} over ``images``.

    One forward pass per image keeps every stage's maps (``inference.infer_maps(all_stages=True)``);
    stage t's S^t, L^t are then parsed by ``inference.poses_from_maps``, exactly as
    ``estimate(..., stage=t)`` would (keypoints in image pixels). Stages are 1..T.
    params: None takes the model's own thresholds (``inference.parsing_params_of``).
    """
    from tqdm.auto import tqdm

    from .inference import infer_maps, parsing_params_of, poses_from_maps

    params = parsing_params_of(model, params)
    out: dict[int, tuple[list, list]] = {t: ([], []) for t in stages}
    last = max(stages)
    for image in tqdm(images, disable=not progress, desc="evaluate"):
        maps = infer_maps(model, image, scales=scales, color=color, all_stages=True, stage=last)
        for t in stages:
            poses = poses_from_maps(maps, params, stage=t)
            out[t][0].append(np.asarray(poses.keypoints))
            out[t][1].append(np.asarray(poses.scores))
    return out


def evaluate_synthetic(
    model: Any,
    n: int = N_VAL,
    stages: str | Sequence[int] | None = None,
    params: Any = None,
    seed: int = VAL_SEED,
    size: tuple[int, int] = VAL_SIZE,
    progress: bool = False,
    scales: Sequence[float] = (1.0,),
    per_keypoint: bool = False,
) -> dict[int, dict]:
    """COCO keypoint AP of ``model`` on the held-out synthetic scenes, per stage: {t: stats dict}.

    stages: None (the last), "all" (1..T) or a list of stage numbers. scales: the maps are
    averaged over these input scales before parsing (``inference.infer_maps``). per_keypoint:
    each stats dict also holds ``keypoint_errors`` under "per_keypoint".
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be >= 1 scenes, got {n!r}: AP over no images is meaningless")
    scenes = validation_scenes(n, seed=seed, size=size)
    ts = _stages_of(model, stages)
    gt = scenes_ground_truth(scenes)
    images = [s.image for s in scenes]
    found = predict(model, images, ts, color="RGB", params=params, scales=scales, progress=progress)
    ids = list(range(1, len(scenes) + 1))
    return {t: _stats(gt, detections_coco(ids, *found[t]), ids, per_keypoint) for t in ts}


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
    import itertools
    from dataclasses import replace

    from tqdm.auto import tqdm

    from .assembly import ParsingParams
    from .inference import infer_maps, poses_from_maps

    if seed == VAL_SEED:
        raise ValueError("tune_parsing on the validation seed would leave no held-out AP; use another seed")
    grid = dict(TUNING_GRID if grid is None else grid)
    base = base or ParsingParams()
    names = list(grid)
    candidates = [replace(base, **dict(zip(names, values))) for values in itertools.product(*grid.values())]
    if not candidates:
        raise ValueError(f"the grid {grid} has no combination (an empty list of values?)")
    scenes = validation_scenes(n, seed=seed)
    gt = scenes_ground_truth(scenes)
    found: list[tuple[list, list]] = [([], []) for _ in candidates]
    for scene in tqdm(scenes, disable=not progress, desc="tune parsing"):
        maps = infer_maps(model, scene.image, scales=scales, stage=stage)  # one forward pass per scene
        for (kps, scores), params in zip(found, candidates):
            poses = poses_from_maps(maps, params)
            kps.append(np.asarray(poses.keypoints))
            scores.append(np.asarray(poses.scores))
    ids = list(range(1, n + 1))
    results = [(p, _stats(gt, detections_coco(ids, *f), ids, False)) for p, f in zip(candidates, found)]
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
    seed: int = VAL_SEED,
    size: tuple[int, int] = VAL_SIZE,
    variant: str = "paper",
    progress: bool = False,
    stride: int = 8,
    sigma: float = 7.0,
    limb_width: float = 8.0,
    per_keypoint: bool = False,
) -> dict:
    """COCO keypoint AP of a perfect network on the synthetic validation scenes: the ceiling.

    Parses the ground-truth maps S*, L* (Eq. 6-9, ``variant`` as in training) on the stride-8
    grid, upsampled to the image exactly as ``inference.infer_maps`` upsamples network output.
    No network can do better with this stride, these targets and this parser, so a model's AP
    is best read beside this number: the gap is the network's, the rest is the representation's
    (peaks quantized by the stride, short limbs such as nose-eye that no grid point of Eq. 8's
    rectangle falls on, parts of a person the COCO-18 tree cannot join). Stats dict.

    stride, sigma (S*'s Gaussian) and limb_width (L*'s half-width), in image pixels, ask what
    another representation would allow: stride 4 with sigma 3.5 and limb_width 4 is what the
    same network sees when it runs on the image enlarged twice (``scales=(2,)``).
    per_keypoint: the stats dict also holds ``keypoint_errors`` under "per_keypoint".
    """
    import torch
    from tqdm.auto import tqdm

    from .assembly import ParsingParams, parse
    from .inference import Padding, resize_maps
    from .synthetic import validation_set

    params = params or ParsingParams()
    data = validation_set(n, size=size, variant=variant, stride=stride, sigma=sigma, limb_width=limb_width)
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
    return _stats(gt, detections_coco(ids, keypoints, scores), ids, per_keypoint)


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
    per_keypoint: each stats dict also holds ``keypoint_errors`` under "per_keypoint".
    """
    import cv2

    annotations, images = Path(annotations), Path(images)
    if max_images is not None and (isinstance(max_images, bool) or max_images < 1):
        raise ValueError(f"max_images must be None (all) or >= 1, got {max_images}")
    if not images.is_dir():
        raise FileNotFoundError(f"COCO image folder not found: {images}")
    gt = _coco_ground_truth(annotations)
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
        bgr = cv2.imread(str(images / info["file_name"]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(
                f"cannot read image {images / info['file_name']} (named in {annotations})"
            )
        pictures.append(bgr)
    ts = _stages_of(model, stages)
    found = predict(model, pictures, ts, color="BGR", params=params, scales=scales, progress=progress)
    return {t: _stats(gt.dataset, detections_coco(ids, *found[t]), ids, per_keypoint) for t in ts}


def format_table(results: dict[int | str, dict]) -> str:
    """Per-stage AP table as text (stages 1..T; a str key is printed as it is)."""
    lines = ["stage     AP   AP50   AP75     AR"]
    for t, r in results.items():
        lines.append(f"{t:>5} {r['AP']:6.3f} {r['AP50']:6.3f} {r['AP75']:6.3f} {r['AR']:6.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m openpose_edu.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="registry name (default: bundled) or a checkpoint .pt file")
    p.add_argument(
        "--stages",
        type=_stages_arg,
        default=None,
        help="'all', or comma-separated stage numbers (default: the last)",
    )
    p.add_argument(
        "--n", type=_positive_int, default=N_VAL, help="synthetic validation scenes (default %(default)s)"
    )
    p.add_argument(
        "--scales", type=scale_arg, nargs="+", default=[1.0], help="input scales averaged (default: 1)"
    )
    p.add_argument(
        "--coco-annotations", default=None, help="COCO person_keypoints JSON (instead of synthetic)"
    )
    p.add_argument("--coco-images", default=None, help="folder of the images the JSON names")
    p.add_argument(
        "--max-images", type=_positive_int, default=None, help="evaluate only the first N COCO images"
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    p.add_argument(
        "--perfect-maps",
        action="store_true",
        help="no model: parse the ground-truth S*, L* of the synthetic scenes (the AP ceiling)",
    )
    p.add_argument("--stride", type=int, default=8, help="with --perfect-maps: the maps' grid (default 8)")
    p.add_argument("--sigma", type=float, default=7.0, help="with --perfect-maps: S*'s sigma, pixels")
    p.add_argument("--limb-width", type=float, default=8.0, help="with --perfect-maps: L*'s half-width (px)")
    p.add_argument("--variant", default="paper", help="with --perfect-maps: 'paper' or 'released' targets")
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
    args = p.parse_args(argv)
    params = _parsing_arg(p, args.parsing)
    if args.tune_parsing:
        return _tune(p, args, params)
    if args.perfect_maps:
        ceiling = evaluate_perfect_maps(
            n=args.n,
            params=params,
            seed=VAL_SEED if args.seed is None else args.seed,
            progress=True,
            variant=args.variant,
            stride=args.stride,
            sigma=args.sigma,
            limb_width=args.limb_width,
            per_keypoint=args.per_keypoint,
        )
        results: dict = {"S*,L*": ceiling}
    else:
        try:
            results = _evaluate_model(p, args, params)
        except (ValueError, FileNotFoundError) as e:  # a bad annotation file or image folder: one line
            print(f"error: {e}", file=sys.stderr)
            return 1
    print(format_table(results))
    last = list(results.values())[-1]
    if "per_keypoint" in last:
        print(format_keypoint_errors(last["per_keypoint"]))
    if args.json:
        with atomic_write(args.json, "w") as f:
            json.dump({str(t): r for t, r in results.items()}, f, indent=1)
    return 0


def _parsing_arg(p: argparse.ArgumentParser, value: str) -> Any:
    """--parsing: None (the model's own), ParsingParams() ('demo') or ParsingParams from JSON."""
    from .assembly import ParsingParams

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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _load(args: argparse.Namespace) -> Any:
    """--model: a registry name, a weights file (.pt, .pth, .caffemodel, .pb) or None (bundled)."""
    from .weights import load_model

    return load_model(args.model, device=args.device)


def _tune(p: argparse.ArgumentParser, args: argparse.Namespace, base: Any) -> int:
    """--tune-parsing: the grid's best thresholds on the selection scenes, printed and as JSON."""
    from .inference import parsing_params_of

    seed = SELECTION_SEED if args.seed is None else args.seed
    if seed == VAL_SEED:
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
        seed=VAL_SEED if args.seed is None else args.seed,
        progress=True,
        scales=args.scales,
        per_keypoint=args.per_keypoint,
    )


if __name__ == "__main__":
    raise SystemExit(main())
