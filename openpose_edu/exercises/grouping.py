"""Checkers of notebook 07's building exercises: the limb-validity rule of the parser and
grouping limbs into people (CVPR 2017 Sec. 2.4, Eq. 15: the independent limb matchings
assemble people where they share a candidate)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .. import assembly
from .checker import Exercise, Result, run

DEMO = assembly.ParsingParams()  # the demo's thresholds: the defaults of the cases


def _validity_cases() -> Iterator[dict[str, Any]]:
    base = {"paf_threshold": DEMO.paf_threshold, "min_above_fraction": DEMO.min_above_fraction}
    prior = DEMO.distance_prior
    nine = np.array([0.9] * 9 + [0.0])
    eight = np.array([0.9] * 8 + [0.0, 0.0])
    yield {"along": nine, "length": 50.0, "image_height": 368, "distance_prior": prior, **base}  # valid
    yield {
        "along": eight,
        "length": 50.0,
        "image_height": 368,
        "distance_prior": prior,
        **base,
    }  # 8/10: not > 0.8
    yield {
        "along": nine,
        "length": 300.0,
        "image_height": 368,
        "distance_prior": prior,
        **base,
    }  # prior -0.39
    yield {"along": nine * 0.3, "length": 300.0, "image_height": 368, "distance_prior": prior, **base}  # < 0
    yield {"along": np.full(10, 0.05), "length": 20.0, "image_height": 368, "distance_prior": prior, **base}
    yield {
        "along": nine * 0.3,
        "length": 300.0,
        "image_height": 368,
        "distance_prior": 0.0,
        **base,
    }  # no prior
    rng = np.random.default_rng(5)
    for _ in range(30):
        n = int(rng.choice([10, 20]))
        yield {
            "along": np.round(rng.uniform(-0.2, 1.0, n), 2),
            "length": float(rng.uniform(5, 400)),
            "image_height": int(rng.choice([184, 368])),
            "distance_prior": float(rng.choice([0.0, 0.5])),
            "paf_threshold": float(rng.choice([0.05, 0.1])),
            "min_above_fraction": float(rng.choice([0.5, 0.8])),
        }


def _validity(along, length, image_height, paf_threshold, min_above_fraction, distance_prior, **how):  # noqa: ANN001, ANN003, ANN202
    along = np.asarray(along, float)
    above = along >= paf_threshold if how.get("ge_threshold") else along > paf_threshold
    enough = (
        above.sum() >= min_above_fraction * len(along)
        if how.get("ge_fraction")
        else above.sum() > min_above_fraction * len(along)
    )
    prior = min(distance_prior * image_height / length - 1.0, 0.0) if distance_prior else 0.0
    score = along.mean() + (0.0 if how.get("no_prior") else prior)
    return bool(enough and (True if how.get("no_score") else score > 0))


LIMB_VALIDITY = Exercise(
    "limb_validity",
    _validity_cases,
    _validity,
    [
        (
            "the share of supporting samples must EXCEED min_above_fraction (the demo: more than 8 of 10)",
            lambda **c: _validity(**c, ge_fraction=True),
        ),
        (
            "the score includes the distance prior min(distance_prior * image_height / length - 1, 0), "
            "which penalises limbs longer than half the image",
            lambda **c: _validity(**c, no_prior=True),
        ),
        (
            "two tests, both needed: enough samples above paf_threshold AND a positive score (mean + prior)",
            lambda **c: _validity(**c, no_score=True),
        ),
        (
            "a sample supports the limb when it is > paf_threshold, not >=",
            lambda **c: _validity(**c, ge_threshold=True),
        ),
    ],
    "valid = (count(along > paf_threshold) > min_above_fraction * N) and (mean(along) + prior > 0)",
    atol=0,
)


def check_limb_validity(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """``fn(along, length, image_height, paf_threshold, min_above_fraction, distance_prior) -> bool``."""
    return run(LIMB_VALIDITY, fn, verbose)


def _grouping_cases() -> Iterator[dict[str, Any]]:
    yield {"connections": [], "n_candidates": 3}
    yield {"connections": [(0, 1)], "n_candidates": 3}
    yield {"connections": [(0, 1), (1, 2), (3, 4)], "n_candidates": 5}
    yield {"connections": [(0, 1), (2, 3), (1, 2)], "n_candidates": 4}  # a limb joins two fragments
    yield {"connections": [(4, 5), (0, 1), (5, 0)], "n_candidates": 7}
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(4, 12))
        m = int(rng.integers(1, n))
        yield {
            "connections": [tuple(int(v) for v in rng.choice(n, 2, replace=False)) for _ in range(m)],
            "n_candidates": n,
        }


def _first_appearance(labels: np.ndarray, connections: list[tuple[int, int]]) -> np.ndarray:
    """Renumber component labels 0, 1, ... in the order the connections first touch them; -1 if none."""
    out = np.full(len(labels), -1, dtype=np.int64)
    new: dict[int, int] = {}
    for a, b in connections:
        for c in (a, b):
            new.setdefault(int(labels[c]), len(new))
    for c in range(len(labels)):
        if int(labels[c]) in new:
            out[c] = new[int(labels[c])]
    return out


def _group_ref(connections: list[tuple[int, int]], n_candidates: int) -> np.ndarray:
    if not connections:
        return np.full(n_candidates, -1, dtype=np.int64)
    a, b = np.array(connections).T
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n_candidates, n_candidates))
    _, labels = connected_components(graph, directed=False)
    return _first_appearance(labels, connections)


def _group_no_merge(connections: list[tuple[int, int]], n_candidates: int) -> np.ndarray:
    person = np.full(n_candidates, -1, dtype=np.int64)
    n = 0
    for a, b in connections:
        if person[a] < 0 and person[b] < 0:
            person[a] = person[b] = n
            n += 1
        elif person[b] < 0:
            person[b] = person[a]
        elif person[a] < 0:
            person[a] = person[b]
    return person


def _group_each_new(connections: list[tuple[int, int]], n_candidates: int) -> np.ndarray:
    person = np.full(n_candidates, -1, dtype=np.int64)
    for k, (a, b) in enumerate(connections):
        person[a] = person[b] = k
    return person


GROUP_LIMBS = Exercise(
    "group_limbs",
    _grouping_cases,
    _group_ref,
    [
        (
            "when a limb joins two candidates that already belong to two different people, those two "
            "people are one: merge them",
            _group_no_merge,
        ),
        (
            "a limb sharing a candidate with an earlier one extends that person; it does not start a new one",
            _group_each_new,
        ),
    ],
    "limbs sharing a candidate are one person (connected components); number people 0, 1, ... in the "
    "order the connections first reach them, -1 for candidates in no limb",
    atol=0,
)


def check_group_limbs(fn: Callable[..., Any], verbose: bool = True) -> Result:
    """``fn(connections, n_candidates) -> (n_candidates,) person label``: limbs into people (Eq. 15)."""
    return run(GROUP_LIMBS, fn, verbose)
