"""The 2019 paper's parser: every candidate connection of every limb type, best first, one union.

TPAMI 2019 (arXiv 1812.08008) Sec. 3.5 changes how the 2017 parser's pieces are put together
(the CVPR 2017 parser is ``assembly.parse``: one greedy bipartite matching per limb type, then
the connections grouped limb type by limb type, CVPR Sec. 2.4):

    score_all_limbs(peaks, L)         every candidate pair of every limb type and its line integral
                                      (Eq. 10-11 of the CVPR paper; TPAMI Eq. 10-11), as in 2017
    rank_connections(limbs)           ONE list of all valid pairs of all limb types, sorted by
                                      PAF score (plus ``part_weight`` x the two part scores)
    join_fragments(peaks, ranked)     walk the list once: each pair creates a person, joins a
                                      person, closes a loop inside one, or merges two fragments
    parse_2019(S, L)                  the steps chained -> ``assembly.People`` (+ ``GlobalSteps``)

Why: with redundant PAF connections (limbs that close loops in the skeleton tree, e.g. the
shoulder-ear pairs of COCO-18 and BODY_25) the graph is no longer a tree, so the 2017 order
(limb type by limb type, from the root) is no longer natural; the global order decides the most
certain connections first, whatever their type, and lets two person fragments built from
different ends meet (merge) when a later connection joins them and they share no part type.

The cases of one connection a -> b of limb c (TPAMI Sec. 3.5, as CMU's code writes them,
``pafVectorIntoPeopleVector``):

1. neither a nor b in a person: a new person {a, b};
2. one end in a person whose slot for the other part type is free: the other end joins;
   taken slot: skipped (an earlier, more certain connection filled it);
3. both ends in the same person: a redundant connection closing a loop; its PAF score is added;
4. both ends in two people with no part type in common: the two fragments merge (a union);
   a part type in common: skipped.

Afterwards people with fewer than ``min_parts`` parts or a mean score below
``min_mean_score`` are dropped, as in ``assembly.group_people``.

What the paper says and CMU's code does differ in one detail: the code sorts by
``PAF score + 0.1 (S_a + S_b)`` ("avoid connecting high PAFs on very low-confident keypoints"),
the text by the PAF score; ``part_weight`` chooses (0.1 the code, 0 the text).

CMU's C++ CPU grouping (``connectBodyPartsCpu`` / ``createPeopleVector``, what OpenPose runs
without a GPU) is neither parser: it visits limb types in ``POSE_BODY_PART_PAIRS`` order
(root first), matches each greedily like the 2017 demo (sorted by PAF score, each candidate
once, at most min(nA, nB)), and then, for each chosen connection, appends b to the FIRST person
holding a (even if that person already has a part of b's type: it is overwritten), else starts
a new person; it never merges two fragments; the redundant ear-shoulder pairs only fill an
empty slot of a person holding the other end (adding no score and no part count); a part type
with no candidates at all starts one single-part person per candidate of the other end. Its
BODY_25 person count leaves out the six foot parts. ``assembly.parse`` is the 2017 Python demo's
grouping (limb order, merges allowed); this module is the 2019 one.
Explained in notebook 11.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .assembly import (
    LimbScores,
    ParsingParams,
    Peaks,
    People,
    candidates_and_scores,
)
from .skeleton import COCO18, Skeleton

PART_WEIGHT = 0.1  # CMU's pafPtrIntoVector: sort by PAF + 0.1 (S_a + S_b); the paper's text: 0

# The decision taken for one ranked connection (``GlobalSteps.decision``).
NEW, JOIN, LOOP, MERGE, SLOT_TAKEN, OVERLAP = range(6)
DECISIONS: tuple[str, ...] = (
    "new person",
    "joins a person",
    "closes a loop (same person)",
    "merges two fragments",
    "skipped: slot taken",
    "skipped: fragments share a part type",
)


@dataclass
class RankedConnections:
    """Every valid candidate pair of every limb type, in the order the 2019 parser visits them.

    Row r is limb type ``limb[r]`` (index into skeleton.limbs) from candidate ``a[r]`` to
    ``b[r]`` (ids into ``Peaks``), with line-integral score ``paf_score[r]`` (E plus distance
    prior, as ``LimbScores.score``) and sort key ``key[r]``; rows sorted by key, highest first.
    """

    limb: np.ndarray  # (R,) int64
    a: np.ndarray  # (R,) int64 candidate ids
    b: np.ndarray  # (R,) int64
    paf_score: np.ndarray  # (R,) float64
    key: np.ndarray  # (R,) float64 paf_score + part_weight (S_a + S_b)

    def __len__(self) -> int:
        return len(self.limb)


def rank_connections(
    peaks: Peaks, limbs: list[LimbScores], part_weight: float = PART_WEIGHT
) -> RankedConnections:
    """One list of all valid pairs of all limb types, sorted by PAF score (TPAMI Sec. 3.5).

    ``limbs``: ``score_all_limbs``'s result (one LimbScores per limb type, nA x nB). A pair
    enters when it is valid (enough samples above ``paf_threshold``, score > 0: the 2017
    test). Sort key: ``score + part_weight (S_a + S_b)`` (``PART_WEIGHT``: CMU's code; 0: the
    paper's text), ties kept in limb order then row-major. Vectorized; returns RankedConnections.
    """
    rows = []
    for k, s in enumerate(limbs):
        i, j = np.nonzero(s.valid & (s.score > 0))
        rows.append((np.full(len(i), k), s.a[i], s.b[j], s.score[i, j]))
    if rows:
        limb, a, b, score = (np.concatenate(x) for x in zip(*rows))
    else:
        limb = a = b = np.zeros(0, np.int64)
        score = np.zeros(0)
    score = score.astype(np.float64)
    key = score + part_weight * (peaks.score[a].astype(np.float64) + peaks.score[b])
    order = np.argsort(-key, kind="stable")
    return RankedConnections(
        limb=limb[order].astype(np.int64),
        a=a[order].astype(np.int64),
        b=b[order].astype(np.int64),
        paf_score=score[order],
        key=key[order],
    )


@dataclass
class GlobalSteps:
    """The intermediate results of ``parse_2019``, for replaying it one decision at a time.

    ``decision[r]`` (a code of ``DECISIONS``) is what connection r of ``ranked`` did and
    ``person[r]`` the person row it touched (-1 when skipped); ``n_people[r]`` counts the live
    fragments after it.
    """

    peaks: Peaks
    limbs: list[LimbScores]
    ranked: RankedConnections
    decision: np.ndarray  # (R,) int8
    person: np.ndarray  # (R,) int64
    n_people: np.ndarray  # (R,) int64

    def describe(self, r: int, skeleton: Skeleton = COCO18) -> str:
        """One line for decision r (0-based): limb, candidates, score and what happened."""
        rc = self.ranked
        limb = skeleton.limbs[int(rc.limb[r])]
        return (
            f"{r + 1}. {skeleton.limb_name(limb)}: candidates {int(rc.a[r])} -> {int(rc.b[r])}  "
            f"E = {rc.paf_score[r]:.3f}  {DECISIONS[int(self.decision[r])]}"
        )


@dataclass
class _Fragments:
    """People while the ranked connections arrive: candidate ids per person (-1: none)."""

    part_score: np.ndarray
    n_parts: int
    owner: np.ndarray = field(init=False)
    rows: list[np.ndarray] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)
    alive: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.owner = np.full(len(self.part_score), -1, dtype=np.int64)

    def connect(self, pa: int, pb: int, a: int, b: int, s: float) -> tuple[int, int]:
        """Connection a (part pa) -> b (part pb), score s: (decision code, person row or -1)."""
        ra, rb = int(self.owner[a]), int(self.owner[b])
        if ra < 0 and rb < 0:  # case 1
            row = np.full(self.n_parts, -1, dtype=np.int64)
            row[pa], row[pb] = a, b
            self.owner[a] = self.owner[b] = len(self.rows)
            self.rows.append(row)
            self.totals.append(float(self.part_score[a] + self.part_score[b] + s))
            self.alive.append(True)
            return NEW, len(self.rows) - 1
        if ra < 0 or rb < 0:  # case 2
            r, new, slot = (ra, b, pb) if ra >= 0 else (rb, a, pa)
            if self.rows[r][slot] >= 0:
                return SLOT_TAKEN, -1
            self.rows[r][slot] = new
            self.owner[new] = r
            self.totals[r] += float(self.part_score[new] + s)
            return JOIN, r
        if ra == rb:  # case 3: a redundant connection inside one person
            self.totals[ra] += s
            return LOOP, ra
        keep, gone = min(ra, rb), max(ra, rb)  # case 4: the union of two fragments
        if np.any((self.rows[keep] >= 0) & (self.rows[gone] >= 0)):
            return OVERLAP, -1
        taken = self.rows[gone] >= 0
        self.rows[keep][taken] = self.rows[gone][taken]
        self.owner[self.rows[gone][taken]] = keep
        self.totals[keep] += self.totals[gone] + s
        self.alive[gone] = False
        return MERGE, keep


def join_fragments(
    peaks: Peaks, limbs: list[LimbScores], ranked: RankedConnections, skeleton: Skeleton = COCO18
) -> tuple[list[np.ndarray], list[float], GlobalSteps]:
    """Walk the ranked connections once (the four cases of the module docstring).

    Sequential by nature (each decision depends on the earlier ones), O(1) per connection but
    a merge (O(J)). Returns the live people's candidate-id rows (J,), their total scores
    (parts' S + connections' E) and the ``GlobalSteps`` that replay the walk.
    """
    groups = _Fragments(peaks.score.astype(np.float64), skeleton.n_parts)
    R = len(ranked)
    decision = np.zeros(R, np.int8)
    person = np.full(R, -1, np.int64)
    n_people = np.zeros(R, np.int64)
    live = 0
    for r in range(R):
        limb = skeleton.limbs[int(ranked.limb[r])]
        d, p = groups.connect(limb.a, limb.b, int(ranked.a[r]), int(ranked.b[r]), float(ranked.paf_score[r]))
        live += 1 if d == NEW else (-1 if d == MERGE else 0)
        decision[r], person[r], n_people[r] = d, p, live
    steps = GlobalSteps(peaks, limbs, ranked, decision, person, n_people)
    rows = [row for row, ok in zip(groups.rows, groups.alive) if ok]
    totals = [t for t, ok in zip(groups.totals, groups.alive) if ok]
    return rows, totals, steps


def parse_2019(
    S: object,
    L: object,
    params: ParsingParams | None = None,
    skeleton: Skeleton = COCO18,
    part_weight: float = PART_WEIGHT,
) -> People:
    """Maps to people with the TPAMI 2019 parser (Sec. 3.5): peaks, line integrals, one global
    ranking of all connections, one walk that creates, joins, loops and merges fragments.

    S: (J+1, H, W), L: (2C, H, W) of ``skeleton`` at image resolution (numpy or torch), as
    ``assembly.parse`` takes them; the same ``ParsingParams`` (peaks, line integral, and the
    final ``min_parts`` / ``min_mean_score`` filter). Returns ``People`` whose ``.steps`` is a
    ``GlobalSteps``; people in order of creation.
    """
    params = params or ParsingParams()
    peaks, limbs = candidates_and_scores(S, L, params, skeleton)
    ranked = rank_connections(peaks, limbs, part_weight)
    rows, totals, steps = join_fragments(peaks, limbs, ranked, skeleton)
    ids = np.array(rows, dtype=np.int64).reshape(-1, skeleton.n_parts)
    counts = (ids >= 0).sum(axis=1)
    scores = np.array(totals, dtype=np.float64)
    keep = (counts >= params.min_parts) & (scores >= params.min_mean_score * np.maximum(counts, 1))
    people = People.from_part_ids(peaks, ids[keep], scores[keep])
    people.steps = steps  # type: ignore[assignment]  # GlobalSteps: the 2019 walk
    return people
