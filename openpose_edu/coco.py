"""COCO keypoint format and scoring: OpenPose-18 <-> COCO-17, COCOeval's AP, per-keypoint errors.

The paper reports COCO keypoint AP (Sec. 3.2, Table 3-4): a detected person matches a labelled
one when their OKS exceeds a threshold; AP is averaged over OKS thresholds 0.50:0.05:0.95.

    OKS = sum_i exp(-d_i^2 / (2 s^2 k_i^2)) [v_i > 0] / sum_i [v_i > 0]

with d_i the pixel distance of keypoint i, s^2 the person's area and k_i COCO's per-keypoint
constants (pycocotools' ``kpt_oks_sigmas``, used as they are). OpenPose's 18 parts become COCO's
17 keypoints by dropping the Neck (``openpose_to_coco``).

This module knows nothing of networks: it turns keypoint arrays into COCO dicts
(``ground_truth_coco``, ``scenes_ground_truth``, ``detections_coco``) and scores detections
against labels (``coco_keypoint_ap``, ``keypoint_errors``, both at once ``keypoint_stats``).
Running a model over a data set is ``evaluate.py``'s.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from .skeleton import BODY25, COCO18, COCO_PART_NAMES, N_PARTS, Skeleton

PERSON_CATEGORY = 1  # COCO's person category: the one category with keypoints
STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")  # COCOeval.stats order


def coco_from(skeleton: Skeleton) -> tuple[int, ...]:
    """For each COCO-17 keypoint k, the part of ``skeleton`` it is (``skeleton.from_coco``)."""
    return tuple(skeleton.from_coco.index(k) for k in range(17))


def openpose_to_coco(keypoints: np.ndarray, skeleton: Skeleton = COCO18) -> np.ndarray:
    """OpenPose keypoints (..., J, 3) -> COCO-17 (..., 17, 3): reorder, drop the parts COCO lacks.

    COCO-18 (J = 18) loses its Neck; BODY_25 (J = 25, ``skeleton=BODY25``) its Neck, MidHip and
    six foot points (``foot_keypoints`` keeps those). The third value (visibility flag or
    score) is carried over unchanged.
    """
    keypoints = np.asarray(keypoints)
    J = skeleton.n_parts
    if keypoints.shape[-2:] != (J, 3):
        raise ValueError(f"expected {skeleton.name} keypoints of shape (..., {J}, 3), got {keypoints.shape}")
    return keypoints[..., coco_from(skeleton), :]


FOOT_PARTS: tuple[str, ...] = ("LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")


def foot_keypoints(keypoints: np.ndarray, skeleton: Skeleton = BODY25) -> np.ndarray:
    """BODY_25's six foot points (..., 6, 3) in ``FOOT_PARTS`` order (COCO-17 has no feet)."""
    keypoints = np.asarray(keypoints)
    return keypoints[..., [skeleton.part_index(n) for n in FOOT_PARTS], :]


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


def scenes_ground_truth(scenes: Sequence) -> dict:
    """COCO ground truth of synthetic scenes (``ground_truth_coco``): scene i is image i + 1,
    its labelled people the annotations, its unlabelled people's mask the ignore regions."""
    return ground_truth_coco(
        [s.image.shape[:2] for s in scenes],
        [np.asarray(s.keypoints) for s in scenes],
        [s.ignore for s in scenes],
    )


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
    image_ids: Sequence[int],
    keypoints: Sequence[np.ndarray],
    scores: Sequence[np.ndarray],
    skeleton: Skeleton = COCO18,
) -> list:
    """COCO result list from detected people: keypoints (P, J, 3) [x, y, score] of ``skeleton``
    (COCO-18 or BODY_25: its COCO-17 parts, ``openpose_to_coco``), scores (P,)."""
    results = []
    for image_id, kps, sc in zip(image_ids, keypoints, scores):
        kps = openpose_to_coco(np.asarray(kps, np.float64).reshape(-1, skeleton.n_parts, 3), skeleton)
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
        coco_ground_truth(ground_truth)  # still refuse a missing file
        return dict.fromkeys(STAT_NAMES, 0.0)
    return _summary(_coco_eval(ground_truth, detections, image_ids))


def _summary(ev: COCOeval) -> dict:
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
    if not detections:  # nobody matched: nothing to measure
        nan = float("nan")
        return {
            n: {"labelled": 0.0, "missed": nan, "median_px": nan, "p90_px": nan, "people": 0.0}
            for n in COCO_PART_NAMES
        }
    return _errors(_coco_eval(ground_truth, detections, image_ids), oks)


def _errors(ev: COCOeval, oks: float = 0.5) -> dict[str, dict[str, float]]:
    """``keypoint_errors`` of a COCOeval that has run ``evaluate()``."""
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


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _load_json(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"COCO annotation file not found: {path}")
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a JSON file ({e}); expected COCO person_keypoints JSON") from None
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply to be COCO annotations") from None


def _check_images(name: str, images: list) -> set[int]:
    """The image ids (integers, each once), refusing entries that are not objects."""
    ids: set[int] = set()
    for info in images:
        if not isinstance(info, dict):
            raise ValueError(f"{name}: an entry of 'images' is not an object: {str(info)[:80]}")
        image_id = info.get("id")
        if image_id is None:
            raise ValueError(f"{name}: an entry of 'images' has no 'id': {str(info)[:80]}")
        if not _is_int(image_id):
            raise ValueError(f"{name}: image id {str(image_id)[:40]} is not an integer, as COCO ids are")
        if image_id in ids:
            raise ValueError(f"{name}: image id {image_id} is listed twice in 'images'; ids must be unique")
        ids.add(image_id)
    return ids


def _check_annotation(where: str, ann: dict, image_ids: set[int]) -> None:
    """One person annotation: the fields COCOeval reads, with the types and ranges it assumes."""
    if "keypoints" not in ann:
        raise ValueError(f"{where} has no 'keypoints' field; expected 17 x (x, y, v) = 51 numbers")
    kp = ann["keypoints"]
    if not isinstance(kp, list) or len(kp) != 51 or not all(_is_number(v) for v in kp):
        got = f"{len(kp)} values" if isinstance(kp, list) else type(kp).__name__
        raise ValueError(f"{where} has keypoints of {got}; expected 17 x (x, y, v) = 51 finite numbers")
    if not _is_int(ann.get("image_id")) or ann["image_id"] not in image_ids:
        raise ValueError(f"{where} names image_id {ann.get('image_id')!r}, which 'images' does not list")
    missing = [k for k in ("bbox", "area") if k not in ann]  # COCOeval's OKS scale and region
    if missing:
        raise ValueError(f"{where} has no {' and no '.join(repr(k) for k in missing)} field")
    bbox = ann["bbox"]
    if (
        not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox))
        or min(bbox[2:]) < 0
    ):
        raise ValueError(f"{where} has bbox {str(bbox)[:60]}; expected [x, y, width, height], 4 numbers")
    if not _is_number(ann["area"]) or ann["area"] < 0:
        raise ValueError(f"{where} has area {str(ann['area'])[:40]}; expected a number >= 0")
    for key in ("num_keypoints", "iscrowd"):
        if key in ann and (not _is_int(ann[key]) or ann[key] < 0):
            raise ValueError(f"{where} has {key} {str(ann[key])[:40]}; expected an integer >= 0")
    if ann.get("category_id", PERSON_CATEGORY) != PERSON_CATEGORY:
        raise ValueError(
            f"{where} has category_id {str(ann['category_id'])[:40]}; keypoint annotations are of the "
            f"person category, id {PERSON_CATEGORY} (COCOeval would score them AP -1)"
        )


def check_coco_annotations(ground_truth: dict | str | Path) -> dict:
    """Read and check a COCO person_keypoints file (or dict): what pycocotools needs, with clear errors.

    Refuses (ValueError naming the file, and the annotation id where there is one): a file that
    is not JSON (or nested too deeply), no ``images`` / ``annotations`` lists, image ids that are
    not integers or are listed twice, annotation ids missing, not integers, 0 (pycocotools'
    matcher reads 0 as "unmatched": AP 0.835 for perfect detections) or repeated (AP 0.006), and
    an annotation without 17 * 3 finite keypoint numbers, naming an image that is not listed,
    without a ``bbox`` of 4 numbers or a numeric ``area``, or of a category other than person (1).
    Returns the dataset dict (a copy: pycocotools changes it).
    """
    name = "the annotation dict" if isinstance(ground_truth, dict) else str(ground_truth)
    if isinstance(ground_truth, dict):
        try:
            data = json.loads(json.dumps(ground_truth))
        except (TypeError, ValueError, RecursionError) as e:
            raise ValueError(f"{name}: not JSON-like COCO annotations ({e})") from None
    else:
        data = _load_json(Path(ground_truth))
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError(
            f"{name}: not COCO annotations: expected an object with 'images' and 'annotations' lists"
        )
    if not isinstance(data.get("annotations"), list):
        raise ValueError(f"{name}: not COCO annotations: no 'annotations' list")
    image_ids = _check_images(name, data["images"])
    ann_ids: set[int] = set()
    for k, ann in enumerate(data["annotations"]):
        ann_id = ann.get("id", f"#{k}") if isinstance(ann, dict) else f"#{k}"
        where = f"{name}: annotation {str(ann_id)[:40]}"
        if not isinstance(ann, dict):
            raise ValueError(f"{where} is not an object")
        if not _is_int(ann.get("id")) or ann["id"] < 1:
            raise ValueError(
                f"{where}: every annotation needs an integer 'id' >= 1 (pycocotools reads id 0 as "
                f"'no match'), got {str(ann.get('id'))[:40]}"
            )
        if ann["id"] in ann_ids:
            raise ValueError(
                f"{where}: annotation id {ann['id']} is used twice; ids must be unique "
                "(COCOeval matches detections to annotations by id)"
            )
        ann_ids.add(ann["id"])
        _check_annotation(where, ann, image_ids)
        ann.setdefault("num_keypoints", sum(v > 0 for v in ann["keypoints"][2::3]))  # COCO's definition
        ann.setdefault("iscrowd", 0)
        ann.setdefault("category_id", PERSON_CATEGORY)
    data.setdefault("categories", [{"id": PERSON_CATEGORY, "name": "person"}])
    return data


def coco_ground_truth(ground_truth: dict | str | Path) -> COCO:
    """A pycocotools ``COCO`` index of checked annotations (``check_coco_annotations``), quietly."""
    data = check_coco_annotations(ground_truth)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = data
        gt.createIndex()
        return gt


def _coco_eval(
    ground_truth: dict | str | Path, detections: list, image_ids: Iterable[int] | None
) -> COCOeval:
    """A COCOeval (keypoints, OKS) that has run ``evaluate()``: per-image matches in ``evalImgs``."""
    gt = coco_ground_truth(ground_truth)
    ids = sorted(gt.getImgIds()) if image_ids is None else sorted(int(i) for i in image_ids)
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(json.loads(json.dumps(detections)))
        ev = COCOeval(gt, dt, iouType="keypoints")
        ev.params.imgIds = ids
        ev.evaluate()
    return ev


def keypoint_stats(
    ground_truth: dict | str | Path, detections: list, ids: Sequence[int], per_keypoint: bool = False
) -> dict:
    """``coco_keypoint_ap``, plus ``keypoint_errors`` under "per_keypoint" when asked (one COCOeval)."""
    if not detections:  # nothing for COCOeval to match: the public functions' empty answers
        stats: dict[str, Any] = coco_keypoint_ap(ground_truth, [], ids)
        errors = keypoint_errors(ground_truth, [], ids)
    else:
        ev = _coco_eval(ground_truth, detections, ids)
        stats, errors = _summary(ev), _errors(ev) if per_keypoint else {}
    return {**stats, "per_keypoint": errors} if per_keypoint else stats
