"""Procedural multi-person scenes with exact COCO-18 keypoints: the bundled model's training data.

No data set can be downloaded where this package is built, yet the bundled model must be a
real network trained by ``train.py``. So this module *draws* its data: articulated 2D people
over cluttered backgrounds, with every keypoint known to the sub-pixel and every visibility
flag read back from the render. The paper trains on COCO (Sec. 3.2); these scenes keep what
matters for learning S* (Eq. 6-7) and L* (Eq. 8-9): many people of many sizes, overlaps,
crossing limbs, people cut by the border, occlusion, unlabelled people masked out (W(p),
Eq. 3-4), and clutter.

**The body model.** A person is a kinematic tree over the 18 OpenPose parts (skeleton.py):
the neck is the midpoint of the shoulders (the COCO -> OpenPose rule of caffe_train), hips hang
below the torso, upper/lower arms and legs are thick anti-aliased lines with joint angles
sampled in plausible ranges, and the head is an ellipse with eyes, nose and ears placed on a
cylinder turned by a yaw angle (features turned away are hidden behind the head). Sizes
(person height 25%-90% of the image height by default), body proportions, rotation and
colors vary per person. Everybody faces the camera (a simplification: no back views).

**The left/right cue** (the network cannot tell LElbow from RElbow without one):

* every right-side segment (right half of the torso, right arm, right leg) is a *dark shade*
  of the person's clothing color and the right limbs carry a *light stripe* along their middle;
  left-side segments are a *light tint* of the same color, and the left limbs a *dark stripe*;
* the right eye is red, the left eye blue; the right ear is a darker skin tone.

The sleeves are not the shirt's color (each channel moved by 128): an arm held in front of its
own torso half, the commonest pose, would otherwise vanish into it. (With sleeves the shirt's
color, and no stripe yet on the left limbs, the bundled model missed half of the left wrists.)

Why: facing the camera alone is ambiguous once people are rotated or limbs cross, and a purely
relative cue (darker vs lighter) fails on a lone arm whose partner is cut by the border. The
stripe is visible on a single limb (and marks it as a limb: with a stripe on the right limbs only,
a plain left limb looked like the plain sticks of the clutter, and the model missed left wrists
half as often again as right ones), the shading contrasts the two halves of one body, and the
eye colors settle the face parts, whose positions swap under head rotation.

**Visibility** follows COCO: 0 not labelled (outside the image; x = y = 0 then, as in COCO
files), 1 labelled but occluded, 2 visible. It is computed from the render, not guessed:
every shape is also drawn into a label buffer (1 + person * N_SEGMENTS + segment; 0 for
background and for occluders drawn over people), and a part is visible when the pixel under
it shows one of the segments that meet at that part (``PART_SEGMENTS``).

**Unlabelled people** (like COCO's people without keypoints) are drawn but not in
``keypoints``; the pixels they show (dilated a little) are ``ignore``, where the loss mask
W(p) is 0.

**Seeds.** Scene ``index`` of data seed ``seed`` comes from
``np.random.default_rng(np.random.SeedSequence([seed, index]))``: the same (seed, index)
gives the same scene on any machine and in any DataLoader worker. Training uses seeds in
``[0, VALIDATION_SEED)``; ``VALIDATION_SEED`` is reserved for the held-out set returned by
``datasets.validation_set`` and never used for training, so the two cannot overlap.

Coordinates: (x, y) in image pixels, pixel centers at integers (OpenCV's convention), so a
keypoint lies on pixel ``(round(y), round(x))``. Explained in the training notebook.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

import cv2
import numpy as np

from .skeleton import N_PARTS, PART_INDEX

VALIDATION_SEED = 2**32 - 1  # reserved for datasets.validation_set: training seeds are 0 .. 2**32 - 2

# Drawn segments of one person. PART_SEGMENTS says which of them may show a part.
SEGMENT_NAMES: tuple[str, ...] = (
    "torso_r",
    "torso_l",
    "neck",
    "hair",
    "head",
    "r_upper_arm",
    "r_forearm",
    "r_hand",
    "l_upper_arm",
    "l_forearm",
    "l_hand",
    "r_thigh",
    "r_shin",
    "r_foot",
    "l_thigh",
    "l_shin",
    "l_foot",
    "r_eye",
    "l_eye",
    "nose",
    "r_ear",
    "l_ear",
)
N_SEGMENTS = len(SEGMENT_NAMES)
SEGMENT_INDEX: dict[str, int] = {name: i for i, name in enumerate(SEGMENT_NAMES)}

# A part is visible when the pixel under it shows one of these segments of the same person.
PART_SEGMENTS: dict[str, tuple[str, ...]] = {
    "Nose": ("nose",),
    "Neck": ("torso_r", "torso_l", "neck"),
    "RShoulder": ("torso_r", "r_upper_arm"),
    "RElbow": ("r_upper_arm", "r_forearm"),
    "RWrist": ("r_forearm", "r_hand"),
    "LShoulder": ("torso_l", "l_upper_arm"),
    "LElbow": ("l_upper_arm", "l_forearm"),
    "LWrist": ("l_forearm", "l_hand"),
    "RHip": ("torso_r", "r_thigh"),
    "RKnee": ("r_thigh", "r_shin"),
    "RAnkle": ("r_shin", "r_foot"),
    "LHip": ("torso_l", "l_thigh"),
    "LKnee": ("l_thigh", "l_shin"),
    "LAnkle": ("l_shin", "l_foot"),
    "REye": ("r_eye",),
    "LEye": ("l_eye",),
    "REar": ("r_ear",),
    "LEar": ("l_ear",),
}
# (18, N_SEGMENTS) bool: OWNS[j, s] is True when segment s may show part j.
OWNS: np.ndarray = np.zeros((N_PARTS, N_SEGMENTS), dtype=bool)
for _part, _segs in PART_SEGMENTS.items():
    OWNS[PART_INDEX[_part], [SEGMENT_INDEX[s] for s in _segs]] = True

EYE_COLORS: dict[str, tuple[int, int, int]] = {"r_eye": (220, 40, 40), "l_eye": (40, 90, 230)}  # RGB
# The stripe along the middle of every limb: light on the right limbs, dark on the left ones.
STRIPE_COLORS: dict[str, tuple[int, int, int]] = {"r": (235, 235, 225), "l": (35, 30, 40)}

# Standard normal quantiles at (u + 0.5) / 256: a byte u -> a Gaussian sample (see make_scene).
_NORMAL_QUANTILES = np.array([NormalDist().inv_cdf((u + 0.5) / 256) for u in range(256)])
_AA = cv2.LINE_AA
_SHIFT = 4  # OpenCV fixed-point bits: coordinates are drawn to 1/16 pixel
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class SceneConfig:
    """Every knob of the scene generator; the defaults made the bundled model's data."""

    height_range: tuple[float, float] = (0.25, 0.9)  # person height / image height (log-uniform)
    p_empty: float = 0.04  # scenes with nobody: the network must also learn "no person"
    p_touching: float = 0.35  # a person is placed against an earlier one (overlaps, touching)
    p_rotated: float = 0.15  # a person rotated uniformly in +-90 deg (else ~N(0, 12 deg))
    p_arm_behind: float = 0.25  # an arm drawn behind the torso (self-occlusion)
    p_foreshorten: float = 0.3  # a limb shortened to 55-100% (out-of-plane motion)
    p_unlabelled: float = 0.25  # scenes with unlabelled (masked) people, to exercise W(p)
    max_unlabelled: int = 2
    min_visible: int = 3  # a labelled person shows at least this many parts, else unlabelled
    neck_margin: float = 0.03  # the neck stays this far (fraction of W, H) inside the image
    n_clutter: tuple[int, int] = (4, 18)  # background shapes (uniform count range)
    p_occluder: float = 0.35  # scenes with 1-2 shapes drawn over the people
    noise_std: tuple[float, float] = (0.0, 8.0)  # pixel noise, uniform std range (0..255 units)
    p_blur: float = 0.3  # a slight Gaussian blur (camera softness)


@dataclass
class Person:
    """One drawn person: true joint positions, COCO keypoints, and how it was drawn."""

    joints: np.ndarray  # (18, 2) float32: x, y of every part in image pixels, even outside
    keypoints: np.ndarray  # (18, 3) float32: x, y, v (COCO flags; x = y = 0 where v = 0)
    labelled: bool  # False: drawn but unannotated, its pixels are in Scene.ignore
    height: float  # pixels, head top to feet when standing straight
    angle: float  # body rotation, degrees (0 = upright)
    colors: np.ndarray  # (N_SEGMENTS, 3) uint8 RGB fill color of each segment

    @property
    def n_visible(self) -> int:
        return int((self.keypoints[:, 2] == 2).sum())

    def __repr__(self) -> str:  # compact: the arrays would flood a notebook cell
        v = self.keypoints[:, 2]
        return (
            f"Person(labelled={self.labelled}, height={self.height:.0f}px, angle={self.angle:.0f}deg, "
            f"visible={int((v == 2).sum())}, occluded={int((v == 1).sum())}, outside={int((v == 0).sum())})"
        )


@dataclass
class Scene:
    """A rendered scene: the image, the labelled keypoints, the ignore mask, and its makings."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    keypoints: np.ndarray  # (P, 18, 3) float32 [x, y, v] of the P labelled people
    ignore: np.ndarray  # (H, W) bool: True on unlabelled people (loss mask W = 0 there)
    labels: np.ndarray  # (H, W) int32: 0 background/occluder, else 1 + person * N_SEGMENTS + segment
    people: list[Person] = field(default_factory=list)  # everybody drawn, in drawing order
    seed: int = 0
    index: int = 0

    @property
    def labelled_people(self) -> list[Person]:
        """The people of ``keypoints``, in the same order."""
        return [p for p in self.people if p.labelled]

    def __repr__(self) -> str:  # compact: the arrays would flood a notebook cell
        H, W = self.image.shape[:2]
        return (
            f"Scene(seed={self.seed}, index={self.index}, size=({H}, {W}), people={len(self.people)}, "
            f"labelled={self.keypoints.shape[0]}, ignored={100 * self.ignore.mean():.1f}% of pixels)"
        )

    def segment_at(self, x: float, y: float) -> tuple[int, str] | None:
        """(person index in ``people``, segment name) shown at pixel (x, y), or None."""
        label = int(self.labels[int(round(y)), int(round(x))])
        if label == 0:
            return None
        return (label - 1) // N_SEGMENTS, SEGMENT_NAMES[(label - 1) % N_SEGMENTS]


# ----------------------------------------------------------------------------------- geometry


def _rot(angle_deg: float) -> np.ndarray:
    a = math.radians(angle_deg)
    return np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=np.float64)


def _limb_dir(side: float, theta_deg: float) -> np.ndarray:
    """Unit vector at angle theta from straight down, turned outward to ``side`` (-1 right, +1 left)."""
    t = math.radians(theta_deg)
    return np.array([side * math.sin(t), math.cos(t)])


@dataclass
class _Pose:
    """Body-frame geometry of one person (pixels, y down, origin at the neck, before rotation)."""

    joints: np.ndarray  # (18, 2)
    head_center: np.ndarray  # (2,)
    head_r: float
    head_roll: float  # degrees
    yaw: float  # radians; > 0 turns the face toward the person's left (image right)
    widths: dict[str, float]  # line widths per segment name
    front: dict[str, bool]  # face features in front of the head
    arm_behind: tuple[bool, bool]  # right, left


def _sample_pose(rng: np.random.Generator, height: float, cfg: SceneConfig) -> _Pose:
    """Joint angles and proportions of one person in its body frame (person faces the viewer).

    The person's right is at negative x (image left, seen from the front). One function, read
    top to bottom (proportions, shoulders and hips, arms and legs, head, widths): its order is
    the order of the random draws every seed's scenes depend on, which helpers would hide.
    """
    h = height
    u = rng.uniform
    shoulder = u(0.09, 0.13) * h
    hip = u(0.05, 0.075) * h
    torso = u(0.27, 0.32) * h
    upper_arm, forearm = u(0.15, 0.19) * h, u(0.13, 0.17) * h
    thigh, shin = u(0.22, 0.26) * h, u(0.21, 0.25) * h
    head_r = u(0.06, 0.075) * h
    neck_len = u(0.05, 0.08) * h

    def fs() -> float:  # out-of-plane foreshortening of one limb
        return u(0.55, 1.0) if rng.random() < cfg.p_foreshorten else 1.0

    j = np.zeros((N_PARTS, 2))
    tilt = rng.normal(0.0, 5.0)  # shoulder line tilt, degrees
    sv = _rot(tilt) @ np.array([1.0, 0.0])  # unit vector toward the person's left shoulder
    j[PART_INDEX["RShoulder"]] = -shoulder * sv
    j[PART_INDEX["LShoulder"]] = shoulder * sv  # the neck (origin) is their midpoint
    lean = rng.normal(0.0, 7.0)
    down = _rot(lean) @ np.array([0.0, 1.0])
    mid_hip = torso * down
    hv = np.array([down[1], -down[0]])  # perpendicular to the spine, toward the left
    j[PART_INDEX["RHip"]] = mid_hip - hip * hv
    j[PART_INDEX["LHip"]] = mid_hip + hip * hv

    for side, s in ((-1.0, "R"), (1.0, "L")):
        # Arms: upper arm from across the chest (-35) to overhead (170); the elbow bends either way.
        theta = u(-35.0, 170.0) if rng.random() < 0.6 else rng.normal(15.0, 15.0)
        bend = u(-110.0, 150.0)
        sh = j[PART_INDEX[f"{s}Shoulder"]]
        el = sh + upper_arm * fs() * _limb_dir(side, theta)
        wr = el + forearm * fs() * _limb_dir(side, theta - bend)
        j[PART_INDEX[f"{s}Elbow"]], j[PART_INDEX[f"{s}Wrist"]] = el, wr
        # Legs: mostly standing, sometimes wide or crossing; knees bend a little either way.
        theta = rng.normal(8.0, 10.0) if rng.random() < 0.7 else u(-25.0, 60.0)
        knee_bend = rng.normal(0.0, 15.0) if rng.random() < 0.7 else u(-60.0, 40.0)
        hp = j[PART_INDEX[f"{s}Hip"]]
        kn = hp + thigh * fs() * _limb_dir(side, theta + lean * side)
        an = kn + shin * fs() * _limb_dir(side, theta + lean * side - knee_bend)
        j[PART_INDEX[f"{s}Knee"]], j[PART_INDEX[f"{s}Ankle"]] = kn, an

    # Head: a cylinder of radius head_r, rolled and turned by yaw; features at angles phi around it.
    roll = rng.normal(0.0, 12.0)
    yaw = rng.uniform(-1.2, 1.2) if rng.random() < 0.5 else rng.normal(0.0, 0.25)
    yaw = float(np.clip(yaw, -1.2, 1.2))
    hr = _rot(tilt + roll)
    head_center = hr @ np.array([0.0, -(neck_len + head_r)])
    front: dict[str, bool] = {}
    for name, phi, y_off in (
        ("REye", -0.62, -0.18),
        ("LEye", 0.62, -0.18),
        ("Nose", 0.0, 0.22),
        ("REar", -math.pi / 2, -0.05),
        ("LEar", math.pi / 2, -0.05),
    ):
        x = head_r * 0.88 * math.sin(phi + yaw)
        if "Ear" in name:
            x *= 1.12  # ears stick out of the face outline
        j[PART_INDEX[name]] = head_center + hr @ np.array([x, y_off * head_r])
        front[name] = math.cos(phi + yaw) > 0.05
    widths = {
        "upper_arm": max(2.0, u(0.045, 0.06) * h),
        "forearm": max(2.0, u(0.035, 0.05) * h),
        "thigh": max(2.0, u(0.06, 0.08) * h),
        "shin": max(2.0, u(0.045, 0.06) * h),
        "neck": max(2.0, 0.9 * head_r),
    }
    behind = (bool(rng.random() < cfg.p_arm_behind), bool(rng.random() < cfg.p_arm_behind))
    return _Pose(j, head_center, head_r, tilt + roll, yaw, widths, front, behind)


# ------------------------------------------------------------------------------------ drawing


class _Canvas:
    """The image and the label buffer, drawn together so the labels match the pixels."""

    def __init__(self, image: np.ndarray, labels: np.ndarray) -> None:
        self.image = image  # (H, W, 3) uint8 RGB
        self.labels = labels  # (H, W) int32

    @staticmethod
    def _fx(points: np.ndarray) -> np.ndarray:
        return np.round(np.asarray(points, dtype=np.float64) * _ONE).astype(np.int32)

    @staticmethod
    def _pt(point: np.ndarray) -> tuple[int, int]:
        # One point: plain Python is several times faster than numpy on two numbers.
        return round(float(point[0]) * _ONE), round(float(point[1]) * _ONE)

    def line(self, a: np.ndarray, b: np.ndarray, width: float, color, label: int) -> None:
        pa, pb = self._pt(a), self._pt(b)
        t = max(1, int(round(width)))
        # A thin anti-aliased line is a blend everywhere: lines under 3 px are drawn crisp.
        cv2.line(self.image, pa, pb, color, t, _AA if t >= 3 else cv2.LINE_8, _SHIFT)
        if label >= 0:
            cv2.line(self.labels, pa, pb, label, t, cv2.LINE_8, _SHIFT)

    def polygon(self, points: np.ndarray, color, label: int) -> None:
        p = self._fx(points)
        cv2.fillConvexPoly(self.image, p, color, _AA, _SHIFT)
        if label >= 0:
            cv2.fillConvexPoly(self.labels, p, label, cv2.LINE_8, _SHIFT)

    def ellipse(self, center: np.ndarray, axes: tuple[float, float], angle: float, color, label: int) -> None:
        c = self._pt(center)
        ax = (max(_ONE, int(round(axes[0] * _ONE))), max(_ONE, int(round(axes[1] * _ONE))))
        # Anti-aliasing blends the whole of a tiny shape: small ones are drawn crisp, so the pixel
        # under a keypoint shows its part's color.
        aa = _AA if min(ax) >= 2 * _ONE else cv2.LINE_8
        cv2.ellipse(self.image, c, ax, angle, 0, 360, color, -1, aa, _SHIFT)
        if label >= 0:
            cv2.ellipse(self.labels, c, ax, angle, 0, 360, label, -1, cv2.LINE_8, _SHIFT)


def _person_colors(rng: np.random.Generator) -> np.ndarray:
    """(N_SEGMENTS, 3) uint8 RGB: right side a dark shade, left side a light tint (the L/R cue)."""
    shirt = rng.uniform(0, 255, 3)
    pants = rng.uniform(0, 200, 3)
    skin = np.array([255, 205, 170]) * rng.uniform(0.35, 1.0) + rng.uniform(-15, 15, 3)
    hair = rng.uniform(10, 120) * np.array([1.0, 0.8, 0.6])
    shoes = rng.uniform(0, 90, 3)

    def dark(c: np.ndarray) -> np.ndarray:
        return 0.6 * c

    def light(c: np.ndarray) -> np.ndarray:
        return 0.6 * c + 0.4 * 255

    # Sleeves: the shirt's color moved half way round each channel (no extra random draw), so
    # every channel differs by 128 and an arm in front of its own torso half stays visible.
    sleeve = (shirt + 128.0) % 256.0
    colors = {
        "torso_r": dark(shirt),
        "torso_l": light(shirt),
        "neck": skin,
        "hair": hair,
        "head": skin,
        "r_upper_arm": dark(sleeve),
        "r_forearm": dark(sleeve),
        "r_hand": skin,
        "l_upper_arm": light(sleeve),
        "l_forearm": light(sleeve),
        "l_hand": skin,
        "r_thigh": dark(pants),
        "r_shin": dark(pants),
        "r_foot": shoes,
        "l_thigh": light(pants),
        "l_shin": light(pants),
        "l_foot": shoes,
        "r_eye": np.array(EYE_COLORS["r_eye"]),
        "l_eye": np.array(EYE_COLORS["l_eye"]),
        "nose": 0.7 * skin,
        "r_ear": 0.75 * skin,
        "l_ear": skin * 0.95 + 10,
    }
    return np.clip(np.stack([colors[n] for n in SEGMENT_NAMES]), 0, 255).astype(np.uint8)


def _draw_person(canvas: _Canvas, pose: _Pose, joints: np.ndarray, angle: float, colors, base: int) -> None:
    """Draw one person (joints already in image pixels, body rotated by ``angle`` degrees) back to front."""
    J = lambda name: joints[PART_INDEX[name]]
    col = {n: tuple(int(v) for v in colors[i]) for i, n in enumerate(SEGMENT_NAMES)}
    lab = {n: base + i for i, n in enumerate(SEGMENT_NAMES)}
    w = pose.widths

    def bone(side: str, seg: str, a: str, b: str) -> None:
        """Segment ``seg`` ("upper_arm", "forearm", "thigh", "shin") of one side, from part a
        to part b, with its side's stripe (the left/right cue)."""
        s = side[0].lower()
        name, pa, pb = f"{s}_{seg}", J(f"{side}{a}"), J(f"{side}{b}")
        canvas.line(pa, pb, w[seg], col[name], lab[name])
        _stripe(canvas, pa, pb, w[seg], STRIPE_COLORS[s])

    def limb(side: str) -> None:
        s, lo = side[0].lower(), side
        bone(side, "upper_arm", "Shoulder", "Elbow")
        bone(side, "forearm", "Elbow", "Wrist")
        canvas.ellipse(
            J(f"{lo}Wrist"), (0.6 * w["forearm"], 0.6 * w["forearm"]), 0, col[f"{s}_hand"], lab[f"{s}_hand"]
        )

    def leg(side: str) -> None:
        s, lo = side[0].lower(), side
        # The foot goes under the shin (a boot), so the ankle shows the shin or the foot.
        shin = J(f"{lo}Ankle") - J(f"{lo}Knee")
        foot_dir = shin / (np.linalg.norm(shin) + 1e-6)
        foot = J(f"{lo}Ankle") + 0.4 * w["shin"] * foot_dir
        angle = math.degrees(math.atan2(foot_dir[1], foot_dir[0])) + 90
        canvas.ellipse(foot, (0.75 * w["shin"], 0.5 * w["shin"]), angle, col[f"{s}_foot"], lab[f"{s}_foot"])
        bone(side, "thigh", "Hip", "Knee")
        bone(side, "shin", "Knee", "Ankle")

    # Which leg is in front: the parity of a number already drawn (the shirt color), a coin toss
    # that costs no extra random draw.
    legs = ["R", "L"] if colors[0, 0] % 2 else ["L", "R"]
    for side in legs:
        leg(side)
    for side, behind in zip(("R", "L"), pose.arm_behind):
        if behind:
            limb(side)
    _draw_torso(canvas, J, col, lab)
    _draw_head(canvas, pose, J, col, lab, angle + pose.head_roll)
    for side, behind in zip(("R", "L"), pose.arm_behind):
        if not behind:
            limb(side)


def _draw_torso(canvas: _Canvas, J: Callable[[str], np.ndarray], col: dict, lab: dict) -> None:
    """The torso: two halves meeting on the spine, slightly larger than the joint quad so that
    shoulders, hips and neck lie inside it."""
    neck, mid_hip = J("Neck"), 0.5 * (J("RHip") + J("LHip"))
    spine = mid_hip - neck
    top = neck - 0.12 * spine
    bottom = mid_hip + 0.15 * spine
    for s, sh, hp in (("r", J("RShoulder"), J("RHip")), ("l", J("LShoulder"), J("LHip"))):
        out_s = sh + 0.25 * (sh - neck) - 0.12 * spine
        out_h = hp + 0.5 * (hp - mid_hip) + 0.15 * spine
        canvas.polygon(np.stack([top, out_s, out_h, bottom]), col[f"torso_{s}"], lab[f"torso_{s}"])


def _draw_head(
    canvas: _Canvas, pose: _Pose, J: Callable[[str], np.ndarray], col: dict, lab: dict, head_angle: float
) -> None:
    """Neck and head, turned by ``head_angle`` (the body's angle and the head roll); features
    turned away are hidden (not drawn): their parts become occluded."""
    up = _rot(head_angle) @ np.array([0.0, -1.0])  # toward the top of the head
    hc, r = pose.head_center, pose.head_r
    canvas.line(J("Neck"), hc, pose.widths["neck"], col["neck"], lab["neck"])
    for part, seg in (("REar", "r_ear"), ("LEar", "l_ear")):
        if not pose.front[part]:
            canvas.ellipse(J(part), (0.22 * r, 0.32 * r), head_angle, col[seg], lab[seg])
    canvas.ellipse(hc + 0.12 * r * up, (0.95 * r, 1.12 * r), head_angle, col["hair"], lab["hair"])
    canvas.ellipse(hc + 0.05 * r * -up, (0.85 * r, r), head_angle, col["head"], lab["head"])
    for part, seg, axes in (
        ("REar", "r_ear", (0.25, 0.33)),
        ("LEar", "l_ear", (0.25, 0.33)),
        ("REye", "r_eye", (0.17, 0.17)),
        ("LEye", "l_eye", (0.17, 0.17)),
    ):
        if pose.front[part]:
            canvas.ellipse(J(part), (axes[0] * r, axes[1] * r), head_angle, col[seg], lab[seg])
    canvas.ellipse(J("Nose"), (0.14 * r, 0.12 * r), head_angle, col["nose"], lab["nose"])


def _stripe(canvas: _Canvas, a: np.ndarray, b: np.ndarray, width: float, color: tuple[int, int, int]) -> None:
    """A limb's stripe: a line over the middle of the limb, clear of both joints."""
    t = max(1.0, 0.3 * width)
    if 0.3 * float(np.linalg.norm(b - a)) > 0.5 * t + 1.5:  # too short a limb: its joints come first
        canvas.line(a + 0.3 * (b - a), a + 0.7 * (b - a), t, color, -1)


def _background(rng: np.random.Generator, H: int, W: int, cfg: SceneConfig) -> np.ndarray:
    """(H, W, 3) uint8: a color gradient with a smooth texture, a fine texture, and clutter shapes."""
    # Gradient and smooth texture are made on a coarse grid and upsampled once: a linear ramp
    # stays linear under interpolation, and full-size float arithmetic would cost more than
    # all the drawing.
    cells = int(rng.integers(3, 12))
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    a = rng.uniform(0, 2 * math.pi)
    g = np.linspace(0.0, 1.0, cells)
    ramp = math.cos(a) * g[None, :] + math.sin(a) * g[:, None]  # (cells, cells)
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    coarse = c0 + ramp[..., None] * (c1 - c0) + rng.uniform(10, 60) * rng.uniform(-1, 1, (cells, cells, 3))
    coarse = np.clip(coarse, 0, 255).astype(np.float32)
    img = cv2.resize(coarse, (W, H), interpolation=cv2.INTER_CUBIC)  # (H, W, 3) float32
    if rng.random() < 0.5:  # a fine, blocky texture (tiles, fabric): local contrast everywhere
        k = int(rng.integers(12, 48))
        fine = rng.uniform(-1, 1, (k, k, 3)).astype(np.float32) * rng.uniform(5, 30)
        img += cv2.resize(fine, (W, H), interpolation=cv2.INTER_NEAREST)
    img = np.clip(img, 0, 255).astype(np.uint8)
    n = int(rng.integers(cfg.n_clutter[0], cfg.n_clutter[1] + 1))
    _clutter(rng, img, None, n, max_size=0.25)
    return img


def _clutter(
    rng: np.random.Generator, img: np.ndarray, labels: np.ndarray | None, n: int, max_size: float
) -> None:
    """Draw n random shapes (rectangles, ellipses, bars, triangles) up to ``max_size`` of the image.

    With ``labels``, the shapes also write label 0 there: whatever they cover is occluded.
    """
    H, W = img.shape[:2]
    s = min(H, W)
    for _ in range(n):
        color = tuple(int(v) for v in rng.uniform(0, 255, 3))
        kind = int(rng.integers(4))
        c = rng.uniform([0, 0], [W, H])
        size = rng.uniform(0.03, max_size) * s
        targets = [(img, color, cv2.LINE_AA)] + ([] if labels is None else [(labels, 0, cv2.LINE_8)])
        if kind == 0:
            pts = _Canvas._fx(c + rng.uniform(-size, size, (2, 2)))
            p0, p1 = pts.min(0), pts.max(0)
            for t, col, lt in targets:
                cv2.rectangle(t, tuple(p0), tuple(p1), col, -1, lt, _SHIFT)
        elif kind == 1:
            ax = (int(size * _ONE), int(rng.uniform(0.3, 1.0) * size * _ONE))
            for t, col, lt in targets:
                cv2.ellipse(t, _Canvas._pt(c), ax, float(rng.uniform(0, 180)), 0, 360, col, -1, lt, _SHIFT)
        elif kind == 2:  # limb-like bars: hard negatives for the PAFs
            d = _limb_dir(1.0, rng.uniform(0, 360)) * size
            th = int(rng.integers(2, max(3, int(0.06 * s))))
            for t, col, lt in targets:
                cv2.line(t, _Canvas._pt(c - d), _Canvas._pt(c + d), col, th, lt, _SHIFT)
        else:
            pts = _Canvas._fx(c + rng.uniform(-size, size, (3, 2)))
            for t, col, lt in targets:
                cv2.fillConvexPoly(t, pts, col, lt, _SHIFT)


# ------------------------------------------------------------------------------------ scenes


def _visibility(joints: np.ndarray, labels: np.ndarray, person: int) -> np.ndarray:
    """(18,) COCO flags of one person from the label buffer: 0 outside, 1 occluded, 2 visible."""
    H, W = labels.shape
    ij = np.round(joints).astype(np.int64)  # (18, 2) x, y pixel
    inside = (ij[:, 0] >= 0) & (ij[:, 0] < W) & (ij[:, 1] >= 0) & (ij[:, 1] < H)
    lab = labels[np.clip(ij[:, 1], 0, H - 1), np.clip(ij[:, 0], 0, W - 1)] - 1  # (18,)
    same = (lab >= 0) & (lab // N_SEGMENTS == person)
    owned = OWNS[np.arange(N_PARTS), np.clip(lab, 0, None) % N_SEGMENTS]
    return np.where(inside, np.where(same & owned, 2, 1), 0).astype(np.float32)


def make_scene(
    seed: int,
    index: int,
    size: tuple[int, int] = (256, 256),
    max_people: int = 6,
    config: SceneConfig | None = None,
    noise: bool = True,
) -> Scene:
    """Render scene ``index`` of data seed ``seed``: an image with exact keypoints and an ignore mask.

    The ground truth the paper takes from COCO (Sec. 3.2): keypoints (P, 18, 3) float32 [x, y, v]
    in image pixels with COCO flags (v: 0 outside the image, 1 occluded, 2 visible), the image
    (H, W, 3) uint8 RGB, and ignore (H, W) bool (unlabelled people, W(p) = 0 of Eq. 3-4).
    ``noise=False`` skips only the final pixel noise and blur (the same scene otherwise).
    Deterministic: ``SeedSequence([seed, index])``. Explained in the training notebook.
    """
    cfg = config or SceneConfig()
    H, W = check_size(size)
    if not isinstance(max_people, int | np.integer) or max_people < 0:
        raise ValueError(f"max_people must be an int >= 0, got {max_people!r}")
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0, got seed={seed}, index={index}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))

    image = _background(rng, H, W, cfg)
    labels = np.zeros((H, W), dtype=np.int32)
    canvas = _Canvas(image, labels)
    people: list[Person] = []
    centers: list[np.ndarray] = []
    for p, (height, labelled) in enumerate(_heights(rng, H, max_people, cfg)):
        pose = _sample_pose(rng, height, cfg)
        joints, angle, center = _place(rng, pose, height, centers, (H, W), cfg)
        colors = _person_colors(rng)
        _draw_person(canvas, pose, joints, angle, colors, 1 + p * N_SEGMENTS)
        centers.append(center)
        people.append(
            Person(
                joints=joints.astype(np.float32),
                keypoints=np.zeros((N_PARTS, 3), np.float32),
                labelled=labelled,
                height=float(height),
                angle=float(angle),
                colors=colors,
            )
        )

    if people and rng.random() < cfg.p_occluder:
        _clutter(rng, image, labels, int(rng.integers(1, 3)), max_size=0.12)

    for p, person in enumerate(people):
        v = _visibility(person.joints, labels, p)
        person.keypoints = np.concatenate([person.joints * (v[:, None] > 0), v[:, None]], axis=1).astype(
            np.float32
        )
        if person.labelled and person.n_visible < cfg.min_visible:
            person.labelled = False  # barely seen: unannotated (and masked), as in COCO
    ignore = _ignore_mask(labels, people)
    if noise:
        image = _camera(rng, image, cfg)

    kps = [person.keypoints for person in people if person.labelled]
    keypoints = np.stack(kps) if kps else np.zeros((0, N_PARTS, 3), np.float32)
    return Scene(image, keypoints, ignore, labels, people, int(seed), int(index))


def _heights(rng: np.random.Generator, H: int, max_people: int, cfg: SceneConfig) -> list[tuple[float, bool]]:
    """(height in pixels, labelled) of everybody to draw, smallest (farthest) first.

    0..max_people labelled people and, in some scenes, 1..max_unlabelled unlabelled ones; heights
    log-uniform in ``cfg.height_range`` of H (unlabelled people mostly small, like COCO's crowds).
    """
    n = 0 if (max_people == 0 or rng.random() < cfg.p_empty) else int(rng.integers(1, max_people + 1))
    n_unl = int(rng.integers(1, cfg.max_unlabelled + 1)) if rng.random() < cfg.p_unlabelled else 0
    lo, hi = cfg.height_range
    specs = []  # (height, labelled)
    for k in range(n + n_unl):
        frac = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        if k >= n:  # unlabelled people are mostly small, like COCO's unannotated crowds
            frac = math.exp(rng.uniform(math.log(lo * 0.6), math.log((lo + hi) / 2)))
        specs.append((frac * H, k < n))
    specs.sort(key=lambda s: s[0])  # small (far) people first, large (near) ones drawn over them
    return specs


def _place(
    rng: np.random.Generator,
    pose: _Pose,
    height: float,
    centers: list[np.ndarray],
    size: tuple[int, int],
    cfg: SceneConfig,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Rotate ``pose`` and put it in the image: (joints (18, 2) in pixels, angle in degrees, centre).

    Some people stand against an earlier one (``cfg.p_touching``); the neck stays inside the
    image. Moves ``pose.head_center`` with the body.
    """
    H, W = size
    angle = rng.uniform(-90, 90) if rng.random() < cfg.p_rotated else rng.normal(0.0, 12.0)
    R = _rot(angle)
    body = pose.joints @ R.T  # (18, 2) rotated about the neck
    box_mid = 0.5 * (body.min(0) + body.max(0))
    if centers and rng.random() < cfg.p_touching:
        other = centers[int(rng.integers(len(centers)))]
        center = other + rng.normal(0, 1, 2) * np.array([0.25, 0.1]) * height
    else:
        center = rng.uniform([-0.05 * W, -0.05 * H], [1.05 * W, 1.05 * H])
    # The neck (the origin of ``body``) lands at ``offset``. Keep it inside the image: a person
    # cut above the hips has no neck, and the COCO-18 tree falls apart into pieces (an arm,
    # a leg) of fewer than 4 parts that no parser following the paper can group.
    margin = cfg.neck_margin * np.array([W, H])
    offset = np.clip(center - box_mid, margin, np.array([W, H]) - margin)
    pose.head_center = R @ pose.head_center + offset
    return body + offset, angle, center


def _ignore_mask(labels: np.ndarray, people: list[Person]) -> np.ndarray:
    """(H, W) bool: the pixels the unlabelled people show, dilated by 2 (W(p) = 0 there, Eq. 3-4)."""
    ignore = np.zeros(labels.shape, dtype=bool)
    unl = [p for p, person in enumerate(people) if not person.labelled]
    if unl:
        unlabelled = np.zeros(1 + len(people) * N_SEGMENTS, dtype=bool)  # label -> unlabelled?
        for p in unl:
            unlabelled[1 + p * N_SEGMENTS : 1 + (p + 1) * N_SEGMENTS] = True
        mask = unlabelled[labels]
        ignore = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    return ignore


def _camera(rng: np.random.Generator, image: np.ndarray, cfg: SceneConfig) -> np.ndarray:
    """The camera's softness and noise: a slight blur (sometimes), then Gaussian pixel noise."""
    std = rng.uniform(*cfg.noise_std)
    if rng.random() < cfg.p_blur:
        image = cv2.GaussianBlur(image, (3, 3), rng.uniform(0.3, 0.9))
    if std > 0:
        # Gaussian noise through a 256-entry quantile table: random bytes are far cheaper
        # than full-size float normals, and 256 levels are plenty for 0..255 pixels.
        lut = np.round(_NORMAL_QUANTILES * std).astype(np.int16)
        noise_px = cv2.LUT(rng.integers(0, 256, image.shape, dtype=np.uint8), lut)
        image = cv2.add(image, noise_px, dtype=cv2.CV_8U)  # saturating: stays in 0..255
    return image


def check_size(size: Sequence[int]) -> tuple[int, int]:
    """A scene size (H, W) as two ints, both >= 32 pixels (ValueError otherwise)."""
    if len(size) != 2 or min(int(size[0]), int(size[1])) < 32:
        raise ValueError(f"size must be (H, W) with both >= 32 pixels, got {size!r}")
    return int(size[0]), int(size[1])


# ------------------------------------------------------------------------------------ samples


def write_samples(
    out_dir: str | Path, seed: int = 0, indices: Sequence[int] = (0, 1, 2, 3), size=(368, 368)
) -> list[Path]:
    """Write scenes as PNG images (for the README and the notebooks); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in indices:
        scene = make_scene(seed, i, size)
        path = out / f"synthetic_{seed}_{i}.png"
        cv2.imwrite(str(path), cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write synthetic OpenPose training scenes as PNG files.")
    parser.add_argument("--write-samples", metavar="DIR", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--indices", type=int, nargs="+", default=[0, 1, 2, 3], help="scene indices")
    parser.add_argument("--size", type=int, nargs=2, default=(368, 368), metavar=("H", "W"))
    args = parser.parse_args(argv)
    for path in write_samples(args.write_samples, args.seed, args.indices, tuple(args.size)):
        print(path)


if __name__ == "__main__":
    main()
