"""Bootstrap confidence intervals for COCO keypoint AP over images, and which arms differ.

An AP measured on n held-out scenes is one draw: other scenes would give another number. The
percentile bootstrap (Efron 1979) resamples the scenes with replacement and recomputes AP each
time; the 2.5 % and 97.5 % quantiles are a 95 % interval. For two networks scored on the same
scenes, the same resamples give the distribution of their *difference* (a paired bootstrap), which
is what decides "A beats B": the difference is significant when its interval excludes 0. With
several training seeds per network, ``over_seeds`` resamples the seeds as well (a two-level
bootstrap), so that the intervals also hold the seed-to-seed spread.

AP here is COCOeval's (OKS thresholds 0.50:0.05:0.95, 101 recall points, ``pycocotools``
``accumulate``), recomputed from its per-image matches (``image_matches``) with each image weighted
by how often a resample drew it; with every weight 1 it equals COCOeval's own AP (tested).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

METRICS = ("AP", "AP50", "AP75")
_RECALLS = np.linspace(0.0, 1.0, 101)  # COCOeval's recThrs
_T50, _T75 = 0, 5  # indices of OKS 0.50 and 0.75 among 0.50:0.05:0.95


@dataclass
class ImageMatches:
    """COCOeval's per-detection outcome, pooled over images (all area ranges, at most 20 per image).

    image: (D,) image index 0..n-1 of each detection, sorted by descending score (stable);
    tp, fp: (T, D) bool at each of the T OKS thresholds (ignored detections are neither);
    n_gt: (n,) non-ignored ground-truth people per image.
    """

    image: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    n_gt: np.ndarray


def image_matches(ev: Any) -> ImageMatches:
    """The matches of a COCOeval (keypoints) that has run ``evaluate()``, in ``accumulate``'s order."""
    ids = list(ev.params.imgIds)
    max_det = ev.params.maxDets[-1]
    entries = ev.evalImgs[: len(ids)]  # category 1, area range "all": the first len(ids) entries
    image, scores, dtm, dtig = [], [], [], []
    n_gt = np.zeros(len(ids), dtype=np.int64)
    for i, e in enumerate(entries):
        if e is None:
            continue
        n_gt[i] = int(np.count_nonzero(np.asarray(e["gtIgnore"]) == 0))
        s = np.asarray(e["dtScores"][:max_det], dtype=np.float64)
        image.append(np.full(len(s), i))
        scores.append(s)
        dtm.append(np.asarray(e["dtMatches"])[:, :max_det])
        dtig.append(np.asarray(e["dtIgnore"])[:, :max_det])
    T = len(ev.params.iouThrs)
    if not scores:
        empty = np.zeros((T, 0), dtype=bool)
        return ImageMatches(np.zeros(0, np.int64), empty, empty, n_gt)
    order = np.argsort(-np.concatenate(scores), kind="mergesort")
    matched = np.concatenate(dtm, axis=1)[:, order] > 0
    ignored = np.concatenate(dtig, axis=1)[:, order].astype(bool)
    return ImageMatches(np.concatenate(image)[order], matched & ~ignored, ~matched & ~ignored, n_gt)


def _ap_from_weights(m: ImageMatches, weight: np.ndarray) -> dict[str, float]:
    """AP, AP50, AP75 with image i counted ``weight[i]`` times (COCOeval ``accumulate`` + ``summarize``)."""
    n_gt = float(np.dot(weight, m.n_gt))
    if n_gt == 0:
        return dict.fromkeys(METRICS, -1.0)  # COCO's "nothing to average"
    w = weight[m.image]  # (D,)
    tp = np.cumsum(m.tp * w, axis=1)  # (T, D)
    fp = np.cumsum(m.fp * w, axis=1)
    keep = w > 0  # detections of images not drawn add no point to the curve
    tp, fp = tp[:, keep], fp[:, keep]
    recall = tp / n_gt
    precision = tp / (tp + fp + np.spacing(1))
    precision = np.flip(np.maximum.accumulate(np.flip(precision, 1), axis=1), 1)  # the envelope
    q = np.zeros((tp.shape[0], _RECALLS.size))
    for t in range(tp.shape[0]):
        idx = np.searchsorted(recall[t], _RECALLS, side="left")
        ok = idx < recall.shape[1]
        q[t, ok] = precision[t, idx[ok]]
    return {"AP": float(q.mean()), "AP50": float(q[_T50].mean()), "AP75": float(q[_T75].mean())}


def average_precision(m: ImageMatches, images: Sequence[int] | np.ndarray | None = None) -> dict[str, float]:
    """{AP, AP50, AP75} over ``images`` (indices; default all): COCOeval's numbers on that subset."""
    weight = np.zeros(m.n_gt.size)
    if images is None:
        weight[:] = 1
    else:
        np.add.at(weight, np.asarray(images, dtype=np.int64), 1)
    return _ap_from_weights(m, weight)


def resample_counts(rng: np.random.Generator, n: int, n_boot: int) -> np.ndarray:
    """(n_boot, n) int: how often each of n items is drawn in each bootstrap resample (n draws each)."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)


def bootstrap_ap(m: ImageMatches, images: Sequence[int] | np.ndarray, counts: np.ndarray) -> dict[str, Any]:
    """AP of ``images`` and of each resample of them: {"point": {metric: float}, "boot": {metric: (B,)}}.

    counts: (B, len(images)) from ``resample_counts``. Use the same counts for every network
    scored on these images, so that ``paired_differences`` compares like with like.
    """
    images = np.asarray(images, dtype=np.int64)
    boot = {k: np.empty(len(counts)) for k in METRICS}
    for b, c in enumerate(counts):
        weight = np.zeros(m.n_gt.size)
        np.add.at(weight, images, c)
        for k, v in _ap_from_weights(m, weight).items():
            boot[k][b] = v
    return {"point": average_precision(m, images), "boot": boot}


def over_seeds(per_seed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A two-level bootstrap: (n_seeds, B) resampled values of one arm -> (B,) with seeds resampled too.

    Replicate b averages n_seeds seeds drawn with replacement, each scored on scene resample b.
    The scene bootstrap alone says nothing of how much another seed would have changed the
    network; drawing the seeds as well widens each interval by the seed-to-seed spread.
    """
    per_seed = np.asarray(per_seed, dtype=np.float64)
    n, B = per_seed.shape
    pick = rng.integers(0, n, size=(B, n))  # (B, n) seed indices
    return per_seed[pick, np.arange(B)[:, None]].mean(axis=1)


def interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The percentile interval of bootstrap ``samples`` (B,) at ``level``."""
    lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def paired_differences(
    boot: Mapping[str, Mapping[str, np.ndarray]],
    point: Mapping[str, Mapping[str, float]],
    level: float = 0.95,
) -> list[dict[str, Any]]:
    """Every pair (a, b) of arms, every metric: a - b with the interval of its paired bootstrap.

    boot: {arm: {metric: (B,) resampled values}}, all on the same resamples; point: {arm: {metric:
    value}}. Returns [{"a", "b", "metric", "diff", "ci": [lo, hi]}] in the arms' order.
    """
    names = list(boot)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            for k in METRICS:
                lo, hi = interval(np.asarray(boot[a][k]) - np.asarray(boot[b][k]), level)
                out.append(
                    {
                        "a": a,
                        "b": b,
                        "metric": k,
                        "diff": round(point[a][k] - point[b][k], 4),
                        "ci": [round(lo, 4), round(hi, 4)],
                    }
                )
    return out


def differing_pairs(
    differences: Sequence[Mapping[str, Any]], metric: str = "AP"
) -> list[tuple[str, str, float]]:
    """The pairs whose interval of the difference excludes 0: [(better arm, worse arm, difference)]."""
    out = []
    for d in differences:
        if d["metric"] != metric:
            continue
        lo, hi = d["ci"]
        if lo > 0:
            out.append((d["a"], d["b"], float(d["diff"])))
        elif hi < 0:
            out.append((d["b"], d["a"], -float(d["diff"])))
    return out


def conclusion(differences: Sequence[Mapping[str, Any]], metric: str = "AP", where: str = "") -> str:
    """One sentence that says what the intervals allow: which arms beat which, or no difference."""
    pairs = differing_pairs(differences, metric)
    n_pairs = sum(d["metric"] == metric for d in differences)
    place = f" {where}" if where else ""
    if not pairs:
        return (
            f"{metric}{place}: no difference at this budget; every one of the {n_pairs} pairwise 95 % "
            "intervals of the difference includes 0."
        )
    said = "; ".join(f"{a} beats {b} by {d:.3f}" for a, b, d in pairs)
    return (
        f"{metric}{place}: {said} (the 95 % bootstrap interval of the difference lies above 0); "
        f"the other {n_pairs - len(pairs)} of {n_pairs} pairs show no difference at this budget."
    )


def pair_verdict(differences: Sequence[Mapping[str, Any]], a: str, b: str, metric: str = "AP") -> str:
    """One pair's answer: the difference a - b in ``metric``, its 95 % interval, and what it allows.

    "a beats b" when the interval lies above 0, "b beats a" when below, else "no difference at
    this budget". The pair may be stored either way round in ``differences``.
    """
    for d in differences:
        if d["metric"] != metric or {d["a"], d["b"]} != {a, b}:
            continue
        sign = 1.0 if d["a"] == a else -1.0
        diff = sign * float(d["diff"])
        lo, hi = sorted(sign * float(x) for x in d["ci"])
        if lo > 0:
            verdict = f"{a} beats {b}"
        elif hi < 0:
            verdict = f"{b} beats {a}"
        else:
            verdict = "no difference at this budget (the interval includes 0)"
        return f"{metric} {a} minus {b}: {diff:+.3f}, 95 % interval [{lo:+.3f}, {hi:+.3f}]: {verdict}"
    raise KeyError(f"no {metric} difference between {a!r} and {b!r} in these results")
