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
