"""Videos: every frame through the one inference path, OpenPose's per-frame JSON, rendered videos.

    python -m openpose_edu VIDEO --out DIR [--model NAME] [--maps S|L --map-index I --map-stage T]
    python -m openpose_edu FRAME_DIR --video --out DIR ...

For a video ``clip.mp4`` (or a folder ``clip/`` of frame images, sorted by name) writes
``DIR/clip_000000000000_keypoints.json``, ... (one per frame, named as OpenPose's
``--write_json`` names them), ``DIR/clip_rendered.mp4`` (the skeletons drawn, Fig. 2e per
frame) and, with ``--maps``, ``DIR/clip_maps.mp4``: S^t_j (Eq. 1) or L^t_c (Eq. 2) of one
part j or limb c at stage t over each frame.

Video I/O is OpenCV's (``cv2.VideoCapture`` / ``cv2.VideoWriter``): the opencv-python-headless
wheel bundles FFmpeg, so it reads the usual containers and codecs (mp4/H.264, avi/MJPEG, webm)
and writes MPEG-4 Part 2 (``mp4v``) .mp4 files that VLC, ffmpeg and OpenCV itself play,
without a second dependency (PyAV, imageio-ffmpeg). Its one weakness, a silent ``False`` from
``isOpened()`` / ``read()`` on a corrupt file, is turned into a ValueError naming the file.

Every output is first written to a temporary name in the same folder (``.name.part.ext``) and
renamed into place (``os.replace``, atomic on one file system): an interrupted run leaves no
half-written file under a final name.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from . import inference, weights  # module-qualified: tests replace inference.estimate, weights.load_model
from .io import command_line, openpose_json, read_image
from .runtime import RUNTIMES, ThreadPolicy, compile_model
from .skeleton import LIMBS, N_HEATMAPS, N_LIMBS
from .viz import draw_people, paf_to_rgb, part_map
from .weights import REGISTRY

VIDEO_SUFFIXES: frozenset[str] = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})
DEFAULT_FPS = 10.0  # a folder of frames has no frame rate of its own


def is_video_input(path: str | Path) -> bool:
    """True for a video file (by its suffix, e.g. .mp4, .avi): the video path of the command line."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def wants_video(argv: list[str]) -> bool:
    """Command-line arguments for the video path: ``--video`` (a folder of frames) or a video file."""
    return "--video" in argv or any(is_video_input(a) for a in argv if not a.startswith("-"))


@dataclass(frozen=True)
class MapView:
    """Which map to show: S^t_j (kind "S", index = part j, 18 background) or L^t_c (kind "L", limb c)."""

    kind: str = "S"  # "S" (confidence map, Eq. 1) or "L" (part affinity field, Eq. 2)
    index: int | None = None  # part 0..18 / limb 0..18; None: all parts (max) / all limbs
    stage: int | None = None  # the stage t (1-based); None: the last

    def __post_init__(self) -> None:
        if self.kind not in ("S", "L"):
            raise ValueError(f"kind must be 'S' (confidence maps) or 'L' (PAFs), got {self.kind!r}")
        top = N_HEATMAPS - 1 if self.kind == "S" else N_LIMBS - 1
        if self.index is not None and not 0 <= self.index <= top:
            raise ValueError(f"index for kind {self.kind!r} must be in 0..{top} or None, got {self.index}")
        if self.stage is not None and self.stage < 1:
            raise ValueError(f"stage must be >= 1 (stages are numbered from 1), got {self.stage}")


def overlay_map(
    image: np.ndarray, S: np.ndarray, L: np.ndarray, view: MapView, alpha: float = 0.6
) -> np.ndarray:
    """The frame with one map over it: S_j as a heat map (Sec. 2.2) or L_c as a color wheel (Sec. 2.3).

    image: uint8 (H, W, 3) RGB; S (19, h, w), L (38, h, w) at any resolution (resized to the
    image for display). Returns uint8 (H, W, 3) RGB.
    """

    h, w = image.shape[:2]
    if view.kind == "S":
        m = np.clip(part_map(S, view.index), 0.0, 1.0)
        m = cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        heat = cv2.applyColorMap((m * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
        a = (alpha * m)[..., None]
        out = image * (1 - a) + heat * a
    else:
        rgb = paf_to_rgb(L, LIMBS[view.index] if view.index is not None else None)
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
        a = alpha * (rgb.max(axis=-1, keepdims=True) > 0.05)
        out = image * (1 - a) + rgb * 255 * a
    return np.clip(out, 0, 255).astype(np.uint8)


def read_frames(path: str | Path) -> tuple[Iterator[np.ndarray], int, float]:
    """A video file or a folder of frame images -> (RGB uint8 frames, frame count, frames per second).

    Raises FileNotFoundError for a missing path and ValueError (naming it) for a file OpenCV
    cannot open or decode, or a folder with no images. The count of a video is its header's.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise ValueError(f"{path}: the folder has no frame images")
        return (read_image(p) for p in files), len(files), DEFAULT_FPS
    cap = cv2.VideoCapture(str(path))
    ok, first = cap.read() if cap.isOpened() else (False, None)
    if not ok:
        cap.release()
        raise ValueError(f"{path}: OpenCV cannot read a video frame from it (not a video, or corrupt)")
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = cap.get(cv2.CAP_PROP_FPS) or DEFAULT_FPS

    def frames() -> Iterator[np.ndarray]:
        try:
            frame = first
            while frame is not None:
                yield np.ascontiguousarray(frame[..., ::-1])
                ok, frame = cap.read()
                frame = frame if ok else None
        finally:
            cap.release()

    return frames(), max(count, 1), float(fps)


def _part_name(final: Path) -> Path:
    return final.with_name(f".{final.stem}.part{final.suffix}")


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A temporary path beside ``final``; renamed to ``final`` only when the block ends without error."""
    tmp = _part_name(final)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json_atomic(path: Path, keypoints: np.ndarray) -> Path:
    """OpenPose's JSON for one frame, written to a temporary name then renamed (never half-written)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(openpose_json(keypoints)))
    return path


class VideoWriter:
    """cv2.VideoWriter (mp4v) of RGB frames to a temporary name, renamed to ``path`` by ``close()``."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        self.path, self.tmp = path, _part_name(path)
        self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self.writer.isOpened():
            raise ValueError(f"{path}: OpenCV cannot open a video writer (mp4v, {size[0]}x{size[1]})")

    def write(self, rgb: np.ndarray) -> None:
        self.writer.write(np.ascontiguousarray(rgb[..., ::-1]))

    def close(self) -> None:
        self.writer.release()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.writer.release()
        self.tmp.unlink(missing_ok=True)


def process_video(
    source: str | Path,
    model: Any,
    out_dir: str | Path,
    view: MapView | None = None,
    params: Any = None,
    device: str | None = None,
    progress: bool = True,
    policy: ThreadPolicy | None = None,
) -> dict[str, Any]:
    """Every frame of ``source`` through ``estimate`` (Fig. 2 a-e); write JSON per frame and videos.

    With ``view`` also a maps video (S^t_j or L^t_c over each frame). Returns a summary: frames,
    people per frame, seconds, fps and the paths written. Raises ValueError on an unreadable input.
    ``model`` may be the compiled path (``runtime.compile_model``); threads per frame follow
    ``runtime.ThreadPolicy`` (``policy``: one to keep across calls, default a new one).
    """

    source = Path(source)
    frames, count, fps = read_frames(source)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = source.stem if source.is_file() else source.name
    rendered_path, maps_path = out / f"{stem}_rendered.mp4", out / f"{stem}_maps.mp4"
    writers: list[VideoWriter] = []
    people: list[int] = []
    policy = policy or ThreadPolicy()
    start = time.perf_counter()
    bar = tqdm(frames, total=count, desc=stem, unit="frame", disable=not progress, file=sys.stderr)
    try:
        for i, frame in enumerate(bar):
            if not writers:
                size = (frame.shape[1], frame.shape[0])
                writers.append(VideoWriter(rendered_path, fps, size))
                if view is not None:
                    writers.append(VideoWriter(maps_path, fps, size))
            with policy.frame():  # the threads for this frame's network and maps
                poses = inference.estimate(frame, model=model, params=params, device=device)
            write_json_atomic(out / f"{stem}_{i:012d}_keypoints.json", poses.keypoints)
            writers[0].write(draw_people(frame, poses.keypoints))
            if view is not None:
                maps = (
                    poses.maps
                    if view.stage is None
                    else inference.infer_maps(model, frame, stage=view.stage, device=device)
                )
                writers[1].write(draw_people(overlay_map(frame, maps.S, maps.L, view), poses.keypoints))
            people.append(len(poses))
            bar.set_postfix(people=len(poses))
    except BaseException:
        for w in writers:
            w.abort()
        raise
    for w in writers:
        w.close()
    seconds = time.perf_counter() - start
    return {
        "frames": len(people),
        "people": people,
        "seconds": seconds,
        "fps": len(people) / seconds if seconds > 0 else float("inf"),
        "rendered": rendered_path,
        "maps": maps_path if view is not None else None,
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m openpose_edu VIDEO --out DIR``: the video path of the command line."""

    parser = command_line(
        "Estimate poses in every frame of a video (or a folder of frames): OpenPose's "
        "<stem>_<frame:012d>_keypoints.json per frame, <stem>_rendered.mp4 and optionally <stem>_maps.mp4.",
        inputs="video files, or folders of frame images",
        model=f"registry name ({', '.join(REGISTRY)}) or a weights file",
    )
    parser.add_argument("--video", action="store_true", help="treat folders as the frames of one video")
    parser.add_argument("--maps", choices=("S", "L"), default=None, help="also write a maps video: S or L")
    parser.add_argument("--map-index", type=int, default=None, help="part (S) or limb (L) index; default all")
    parser.add_argument("--map-stage", type=int, default=None, help="stage t of the maps video; default last")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument(
        "--runtime", choices=RUNTIMES, default="eager",
        help="eager PyTorch (default), openvino (compiled once per frame size: faster on a CPU; "
        "pip install openpose_edu[fast]) or auto (openvino when installed)",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        view = MapView(args.maps, args.map_index, args.map_stage) if args.maps else None
    except ValueError as e:
        parser.error(str(e))
    try:
        model = weights.load_model(args.model, device=args.device)
    except (OSError, ValueError, KeyError, ImportError) as e:
        print(f"error: cannot load model {args.model or 'bundled'!r}: {e}", file=sys.stderr)
        return 1
    model, runs = compile_model(model, args.runtime)
    print(runs, file=sys.stderr)
    failed = 0
    for source in args.inputs:
        try:
            summary = process_video(
                source, model, args.out, view, device=args.device, progress=not args.no_progress
            )
        except (OSError, ValueError) as e:
            failed += 1
            print(f"error: {e}", file=sys.stderr)
            continue
        print(
            f"{source}: {summary['frames']} frames, {summary['fps']:.2f} frames/s, output in {args.out}",
            file=sys.stderr,
        )
    return 1 if failed else 0
