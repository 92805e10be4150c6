"""The COCO-18 body skeleton of OpenPose: the single source of truth.

Part names and their heatmap channels, the 19 limbs (part pairs) in the order the
original inference code visits them, the two PAF channels of each limb, and drawing
colors. Every other module imports these; nothing else hard-codes them.

Facts (see docs/openpose_facts.md sections 1-2):

* Heatmap channel j (0..17) is part j; channel 18 is the background.
* PAF channels follow the *training* limb order of CMU's caffe_train, not the inference
  order; ``Limb.paf_x`` / ``Limb.paf_y`` give the real channels, so no code ever needs the
  ``mapIdx - 19`` trick of the original Python demo.
* Every PAF points from part ``a`` to part ``b`` (A -> B).

Explained in notebooks 01 and 04.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

PART_NAMES: tuple[str, ...] = (
    "Nose",
    "Neck",
    "RShoulder",
    "RElbow",
    "RWrist",
    "LShoulder",
    "LElbow",
    "LWrist",
    "RHip",
    "RKnee",
    "RAnkle",
    "LHip",
    "LKnee",
    "LAnkle",
    "REye",
    "LEye",
    "REar",
    "LEar",
)
N_PARTS = len(PART_NAMES)  # 18 body parts
BACKGROUND = N_PARTS  # heatmap channel 18 is the background
N_HEATMAPS = N_PARTS + 1  # 19 channels in S
PART_INDEX: dict[str, int] = {name: i for i, name in enumerate(PART_NAMES)}


@dataclass(frozen=True)
class Limb:
    """One limb type c: a directed part pair a -> b and its PAF channels (x, y) in L."""

    index: int  # position in the inference order (0..18)
    a: int  # part index of the source end
    b: int  # part index of the target end
    paf_x: int  # channel of L holding the x component
    paf_y: int  # channel of L holding the y component

    @property
    def name(self) -> str:
        return f"{PART_NAMES[self.a]}-{PART_NAMES[self.b]}"

    @property
    def channels(self) -> tuple[int, int]:
        return (self.paf_x, self.paf_y)


# (a, b, paf_x) in the inference order of OpenPose / the reference demo; paf_y = paf_x + 1.
_LIMB_TABLE: tuple[tuple[int, int, int], ...] = (
    (1, 2, 12),  # Neck-RShoulder
    (1, 5, 20),  # Neck-LShoulder
    (2, 3, 14),  # RShoulder-RElbow
    (3, 4, 16),  # RElbow-RWrist
    (5, 6, 22),  # LShoulder-LElbow
    (6, 7, 24),  # LElbow-LWrist
    (1, 8, 0),  # Neck-RHip
    (8, 9, 2),  # RHip-RKnee
    (9, 10, 4),  # RKnee-RAnkle
    (1, 11, 6),  # Neck-LHip
    (11, 12, 8),  # LHip-LKnee
    (12, 13, 10),  # LKnee-LAnkle
    (1, 0, 28),  # Neck-Nose
    (0, 14, 30),  # Nose-REye
    (14, 16, 34),  # REye-REar
    (0, 15, 32),  # Nose-LEye
    (15, 17, 36),  # LEye-LEar
    (2, 16, 18),  # RShoulder-REar
    (5, 17, 26),  # LShoulder-LEar
)
LIMBS: tuple[Limb, ...] = tuple(
    Limb(index=k, a=a, b=b, paf_x=x, paf_y=x + 1) for k, (a, b, x) in enumerate(_LIMB_TABLE)
)
N_LIMBS = len(LIMBS)  # 19 limb types C
N_PAFS = 2 * N_LIMBS  # 38 channels in L

# The ear-shoulder limbs (17, 18) are redundant connections: the reference assembly lets
# them complete a person but never start one. OpenPose also draws only the first 17 limbs.
REDUNDANT_LIMBS: frozenset[int] = frozenset({17, 18})
DRAWN_LIMBS: tuple[Limb, ...] = tuple(limb for limb in LIMBS if limb.index not in REDUNDANT_LIMBS)

# Limbs in the order of their PAF channels (the training order of caffe_train): TRAINING_ORDER[i]
# is the limb whose x component sits in channel 2 i.
TRAINING_ORDER: tuple[Limb, ...] = tuple(sorted(LIMBS, key=lambda limb: limb.paf_x))

# Left/right mirror of every part, for horizontal flips (Nose and Neck map to themselves).
FLIP_PARTS: tuple[int, ...] = tuple(
    PART_INDEX[name.replace("R", "#", 1).replace("L", "R", 1).replace("#", "L", 1)] if name[0] in "RL" else i
    for i, name in enumerate(PART_NAMES)
)

# COCO-17 keypoint order (the annotation files) and where each OpenPose part comes from.
COCO_PART_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
# OPENPOSE_FROM_COCO[j] = COCO index of OpenPose part j, or None for the Neck (the mean of
# the two shoulders: caffe_train's COCO_to_ours rule).
OPENPOSE_FROM_COCO: tuple[int | None, ...] = (0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)
NECK_FROM_COCO: tuple[int, int] = (5, 6)  # left_shoulder, right_shoulder

# Drawing colors (RGB, 0-255), one per part; a limb is drawn in the color of its index.
# The hue wheel of the OpenPose demo renderer.
COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0),
    (255, 85, 0),
    (255, 170, 0),
    (255, 255, 0),
    (170, 255, 0),
    (85, 255, 0),
    (0, 255, 0),
    (0, 255, 85),
    (0, 255, 170),
    (0, 255, 255),
    (0, 170, 255),
    (0, 85, 255),
    (0, 0, 255),
    (85, 0, 255),
    (170, 0, 255),
    (255, 0, 255),
    (255, 0, 170),
    (255, 0, 85),
    (255, 0, 0),
)


def limb_by_name(name: str) -> Limb:
    """The limb called ``"PartA-PartB"`` (e.g. ``"RShoulder-RElbow"``)."""
    for limb in LIMBS:
        if limb.name == name:
            return limb
    raise ValueError(f"no limb named {name!r}; limbs are {[limb.name for limb in LIMBS]}")


def part_index(name: str) -> int:
    """Heatmap channel of the part called ``name`` (e.g. ``"RWrist"`` -> 4)."""
    if name not in PART_INDEX:
        raise ValueError(f"no part named {name!r}; parts are {list(PART_NAMES)}")
    return PART_INDEX[name]


# ----------------------------------------------------------------------------- skeletons as data


@dataclass(frozen=True)
class Skeleton:
    """One body skeleton as data: what a model's maps mean (COCO18 or BODY25).

    parts: part names, heatmap channel j = part j, the background last (channel n_parts).
    limbs: the limb types in the order the parser visits them, each with its two PAF channels.
    redundant: indices of limbs that complete a person but never start one (ear-shoulder).
    flip: left/right mirror of every part. colors: one RGB colour per limb index.
    from_coco: COCO-17 index of each part, None for parts COCO lacks; ``mean_of_coco`` gives
    the COCO pairs whose mean makes a missing part (Neck = mean of the shoulders).
    """

    name: str
    parts: tuple[str, ...]
    limbs: tuple[Limb, ...]
    redundant: frozenset[int]
    flip: tuple[int, ...]
    colors: tuple[tuple[int, int, int], ...]
    from_coco: tuple[int | None, ...]
    mean_of_coco: dict[int, tuple[int, int]]

    @property
    def n_parts(self) -> int:
        return len(self.parts)

    @property
    def background(self) -> int:
        return self.n_parts

    @property
    def n_heatmaps(self) -> int:
        return self.n_parts + 1

    @property
    def n_limbs(self) -> int:
        return len(self.limbs)

    @property
    def n_pafs(self) -> int:
        return 2 * len(self.limbs)

    @property
    def drawn_limbs(self) -> tuple[Limb, ...]:
        return tuple(limb for limb in self.limbs if limb.index not in self.redundant)

    def limb_name(self, limb: Limb) -> str:
        return f"{self.parts[limb.a]}-{self.parts[limb.b]}"

    def part_index(self, name: str) -> int:
        if name not in self.parts:
            raise ValueError(f"no part named {name!r} in {self.name}; parts are {list(self.parts)}")
        return self.parts.index(name)


def _flip_of(names: tuple[str, ...]) -> tuple[int, ...]:
    """Mirror of each part: the part whose name swaps a leading R and L (others map to themselves)."""
    index = {n: i for i, n in enumerate(names)}
    return tuple(
        index[{"R": "L", "L": "R"}[n[0]] + n[1:]] if n[0] in "RL" else i for i, n in enumerate(names)
    )


def _hue_wheel(n: int) -> tuple[tuple[int, int, int], ...]:
    """n colours around the hue circle (the look of OpenPose's renderer), RGB 0-255."""

    return tuple(tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(i / n, 1.0, 1.0)) for i in range(n))  # type: ignore[misc]


COCO18 = Skeleton(
    name="COCO18",
    parts=PART_NAMES,
    limbs=LIMBS,
    redundant=REDUNDANT_LIMBS,
    flip=FLIP_PARTS,
    colors=COLORS,
    from_coco=OPENPOSE_FROM_COCO,
    mean_of_coco={1: NECK_FROM_COCO},
)

# BODY_25 (CMU's poseParameters.cpp, docs/body25_facts.md): COCO-18's parts with
# MidHip (8) inserted and six foot points added; 26 limbs, PAF channels from POSE_MAP_INDEX.
BODY25_PART_NAMES: tuple[str, ...] = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
    "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
    "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)  # fmt: skip
_BODY25_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12),
    (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (2, 17), (5, 18), (14, 19),
    (19, 20), (14, 21), (11, 22), (22, 23), (11, 24),
)  # fmt: skip
_BODY25_PAF_X: tuple[int, ...] = (
    0, 14, 22, 16, 18, 24, 26, 6, 2, 4, 8, 10, 12, 30, 32, 36, 34, 38, 20, 28, 40, 42, 44, 46, 48, 50,
)  # fmt: skip
BODY25 = Skeleton(
    name="BODY25",
    parts=BODY25_PART_NAMES,
    limbs=tuple(
        Limb(index=k, a=a, b=b, paf_x=x, paf_y=x + 1)
        for k, ((a, b), x) in enumerate(zip(_BODY25_PAIRS, _BODY25_PAF_X, strict=True))
    ),
    redundant=frozenset({18, 19}),  # (2, 17) RShoulder-REar and (5, 18) LShoulder-LEar
    flip=_flip_of(BODY25_PART_NAMES),
    colors=_hue_wheel(len(_BODY25_PAIRS)),
    # COCO-17 has no MidHip (mean of the hips) and no feet.
    from_coco=(0, None, 6, 8, 10, 5, 7, 9, None, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3, *(None,) * 6),
    mean_of_coco={1: NECK_FROM_COCO, 8: (11, 12)},
)
SKELETONS: dict[str, Skeleton] = {s.name: s for s in (COCO18, BODY25)}
