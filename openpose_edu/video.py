"""Videos: every frame through the one inference path, OpenPose's per-frame JSON, rendered videos.

    python -m openpose_edu VIDEO --out DIR [--model NAME] [--maps S|L --map-index I --map-stage T]
                           [--max-frames N]
    python -m openpose_edu FRAME_DIR --video --out DIR ...

For a video ``clip.mp4`` (or a folder ``clip/`` of frame images, sorted by name) writes
``DIR/clip_000000000000_keypoints.json``, ... (one per frame, named as OpenPose's
``--write_json`` names them), ``DIR/clip_rendered.mp4`` (the skeletons drawn, Fig. 2e per
frame) and, with ``--maps``, ``DIR/clip_maps.mp4``: S^t_j (Eq. 1) or L^t_c (Eq. 2) of one
part j or limb c at stage t over each frame. The default model is the image path's
(``weights.DEFAULT_MODEL``, the small real COCO network): one network for photos and frames.

Video I/O is OpenCV's (``cv2.VideoCapture`` / ``cv2.VideoWriter``): the opencv-python-headless
wheel bundles FFmpeg, so it reads the usual containers and codecs (mp4/H.264, avi/MJPEG, webm)
and writes MPEG-4 Part 2 (``mp4v``) .mp4 files that VLC, ffmpeg and OpenCV itself play,
without a second dependency (PyAV, imageio-ffmpeg). Its one weakness, a silent ``False`` from
``isOpened()`` / ``read()`` on a corrupt file, is turned into a ValueError naming the file.

Every output is first written to a temporary name in the same folder (``.name.part.ext``) and
renamed into place (``os.replace``, atomic on one file system): an interrupted run leaves no
half-written file under a final name, and a video the encoder wrote short (a full disk) is an
error, never renamed into place. As on the image path, outputs are listed in the folder's
manifest (``io.MANIFEST``) before they are written, never replace an input or a file openpose_edu
did not write, and get distinct names across inputs (``x/clip.mp4``, ``y/clip.mp4`` -> ``clip``,
``clip_mp4``).
"""

from __future__ import annotations

import itertools
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
from .io import (
    check_out_folder,
    check_outputs,
    check_pixels,
    command_line,
    distinct_stems,
    header_size,
    is_regular_file,
    openpose_json,
    positive_int_arg,
    read_image,
    read_manifest,
    record_outputs,
    small_input_warning,
)
from .runtime import RUNTIMES, ThreadPolicy, compile_model
from .skeleton import COCO18, SKELETONS, Skeleton
from .viz import draw_people, paf_to_rgb, part_map
from .weights import REGISTRY

VIDEO_SUFFIXES: frozenset[str] = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})
DEFAULT_FPS = 10.0  # a folder of frames has no frame rate of its own


def is_video_input(path: str | Path) -> bool:
    """True for a video file (by its suffix, e.g. .mp4, .avi): the video path of the command line."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


# The options (of either path) whose next argument is their value, not an input.
_VALUE_OPTIONS = ("--out", "--model", "--device", "--stage", "--maps", "--map-index", "--map-stage")


def positional_args(argv: list[str]) -> list[str]:
    """The inputs among command-line arguments: not options, not an option's value (``--out x.mp4``)."""
    found, skip = [], False
    for i, a in enumerate(argv):
        if skip:
            skip = False
        elif a == "--":
            return found + argv[i + 1 :]
        elif a.startswith("-") and len(a) > 1:
            # argparse accepts a unique prefix (--ou x.mp4); --out=x.mp4 carries its own value
            skip = "=" not in a and len(a) > 2 and any(o.startswith(a) for o in _VALUE_OPTIONS)
        else:
            found.append(a)
    return found


def wants_video(argv: list[str]) -> bool:
    """Command-line arguments for the video path: ``--video`` (a folder of frames) or a video file
    among the inputs (an option's value such as ``--out results.mp4`` is not an input)."""
    return "--video" in argv or any(is_video_input(a) for a in positional_args(argv))


@dataclass(frozen=True)
class MapView:
    """Which map to show: S^t_j (kind "S", index = part j, 18 background) or L^t_c (kind "L", limb c)."""

    kind: str = "S"  # "S" (confidence map, Eq. 1) or "L" (part affinity field, Eq. 2)
    index: int | None = None  # part 0..J (J = background) / limb 0..C-1; None: all parts (max) / all limbs
    stage: int | None = None  # the stage t (1-based); None: the last

    def __post_init__(self) -> None:
        if self.kind not in ("S", "L"):
            raise ValueError(f"kind must be 'S' (confidence maps) or 'L' (PAFs), got {self.kind!r}")
        # The largest skeleton's range here; overlay_map checks against the maps it is given.
        top = max(s.n_heatmaps if self.kind == "S" else s.n_limbs for s in SKELETONS.values()) - 1
        if self.index is not None and not 0 <= self.index <= top:
            raise ValueError(f"index for kind {self.kind!r} must be in 0..{top} or None, got {self.index}")
        if self.stage is not None and self.stage < 1:
            raise ValueError(f"stage must be >= 1 (stages are numbered from 1), got {self.stage}")


def overlay_map(image: np.ndarray, S: np.ndarray, L: Any, view: MapView, alpha: float = 0.6) -> np.ndarray:
    """The frame with one map over it: S_j as a heat map (Sec. 2.2) or L_c as a color wheel (Sec. 2.3).

    image: uint8 (H, W, 3) RGB; S (J + 1, h, w), L (2C, h, w) of either skeleton at any
    resolution (resized to the image for display); L may be ``Maps.L_grid``, then a view of
    S or of one limb resizes none or two of its channels. Returns uint8 (H, W, 3) RGB.
    """

    h, w = image.shape[:2]
    if view.kind == "S":
        m = np.clip(part_map(S, view.index), 0.0, 1.0)
        m = cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        jet = cv2.applyColorMap((m * 255).astype(np.uint8), cv2.COLORMAP_JET)  # BGR
        color = cv2.cvtColor(jet, cv2.COLOR_BGR2RGB)
        a = np.float32(alpha) * m
    else:
        rgb = paf_to_rgb(L, view.index)  # limb c of the skeleton with L's channel count
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
        brightest = np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])  # (a reduce over 3 is slow)
        a = np.where(brightest > 0.05, np.float32(alpha), np.float32(0.0))
        color = (rgb * 255).astype(np.uint8)
    # image (1 - a) + color a, per pixel, rounded to uint8 in one OpenCV pass (camera speed)
    return cv2.blendLinear(np.ascontiguousarray(image), color, 1 - a, a)


def _frame_files(folder: Path) -> list[Path]:
    """The frames of a folder: its non-hidden regular files, sorted, minus files openpose_edu wrote."""
    ours = read_manifest(folder)
    try:
        inside = sorted(folder.iterdir())
    except OSError as e:
        raise OSError(e.errno, f"{folder}: cannot list the folder ({e.strerror})") from None
    return [p for p in inside if not p.name.startswith(".") and p.name not in ours and is_regular_file(p)]


def check_frame_sizes(files: list[Path]) -> None:
    """Refuse a folder whose frames differ in size (a video has one) or are over the pixel limit,
    from the files' headers, before any frame is decoded. Raises ValueError naming the frame."""
    first: tuple[int, int] | None = None
    for i, path in enumerate(files):
        try:
            with open(path, "rb") as f:
                size = header_size(f.read(1 << 18))  # the header is in the first bytes
        except OSError as e:
            raise OSError(e.errno, f"{path}: cannot read it ({e.strerror})") from None
        if size is None:
            continue  # a format only OpenCV reads: process_video checks its size after decoding
        check_pixels(*size, str(path))
        first = first or size
        if size != first:
            raise ValueError(_size_message(path, i, size, first))


def _size_message(path: Path, i: int, size: tuple[int, ...], first: tuple[int, ...]) -> str:
    return (
        f"{path}: frame {i + 1} is {size[0]}x{size[1]} (height x width) but the first frame is "
        f"{first[0]}x{first[1]}; the frames of one video must share one size: resize them"
    )


def read_frames(path: str | Path) -> tuple[Iterator[np.ndarray], int, float]:
    """A video file or a folder of frame images -> (RGB uint8 frames, frame count, frames per second).

    Raises FileNotFoundError for a missing path and ValueError (naming it) for a file OpenCV
    cannot open or decode, a FIFO or device (never opened: it would block), a folder with no
    images or with frames of different sizes, and frames over ``io.MAX_IMAGE_PIXELS``. The count
    of a video is its header's.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    if path.is_dir():
        files = _frame_files(path)
        if not files:
            raise ValueError(f"{path}: the folder has no frame images")
        check_frame_sizes(files)
        return (read_image(p) for p in files), len(files), DEFAULT_FPS
    if not is_regular_file(path):
        raise ValueError(f"{path}: not a regular file (a FIFO, device or socket); give a video file")
    cap = cv2.VideoCapture(str(path))
    if cap.isOpened():
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        try:
            check_pixels(h, w, str(path))
        except ValueError:
            cap.release()
            raise
    ok, first = cap.read() if cap.isOpened() else (False, None)
    if not ok:
        cap.release()
        raise ValueError(f"{path}: OpenCV cannot read a video frame from it (not a video, or corrupt)")
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps if np.isfinite(fps) and 0 < fps <= 1000 else DEFAULT_FPS

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


def write_json_atomic(path: Path, keypoints: np.ndarray, skeleton: Skeleton = COCO18) -> Path:
    """OpenPose's JSON for one frame, written to a temporary name then renamed (never half-written)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(openpose_json(keypoints, skeleton)))
    return path


class VideoWriter:
    """cv2.VideoWriter (mp4v) of RGB frames to a temporary name, renamed to ``path`` by ``close()``.

    ``close`` reads the finished file back: OpenCV only warns when a frame cannot be written (a
    full disk, a size the codec refuses), so a file with fewer frames than were written, or one
    that does not open, is an error (OSError) and is deleted, never renamed into place.
    """

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        self.path, self.tmp, self.size, self.n = path, _part_name(path), size, 0
        self.tmp.unlink(missing_ok=True)  # a temporary a killed run left (the name is ours)
        self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self.writer.isOpened():
            self.abort()
            raise ValueError(f"{path}: OpenCV cannot open a video writer (mp4v, {size[0]}x{size[1]})")

    def write(self, rgb: np.ndarray) -> None:
        self.writer.write(np.ascontiguousarray(rgb[..., ::-1]))
        self.n += 1

    def close(self) -> None:
        self.writer.release()
        cap = cv2.VideoCapture(str(self.tmp))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
        cap.release()
        if n != self.n:
            self.tmp.unlink(missing_ok=True)
            raise OSError(
                f"{self.path}: the video encoder wrote {n} of {self.n} frames (a full disk, or a "
                f"frame size of {self.size[0]}x{self.size[1]} that mp4v cannot encode); nothing written"
            )
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.writer.release()
        self.tmp.unlink(missing_ok=True)


def video_outputs(name: str, count: int, maps: bool) -> list[str]:
    """The file names a video ``name`` of ``count`` frames writes (OpenPose's per-frame JSON names)."""
    videos = [f"{name}_rendered.mp4"] + ([f"{name}_maps.mp4"] if maps else [])
    return videos + [_json_name(name, i) for i in range(count)]


def _json_name(name: str, i: int) -> str:
    return f"{name}_{i:012d}_keypoints.json"


def process_video(
    source: str | Path,
    model: Any,
    out_dir: str | Path,
    view: MapView | None = None,
    params: Any = None,
    device: str | None = None,
    progress: bool = True,
    max_frames: int | None = None,
    name: str | None = None,
    inputs: list[Path] | None = None,
    manifest: bool = False,
    policy: ThreadPolicy | None = None,
) -> dict[str, Any]:
    """Every frame of ``source`` through ``estimate`` (Fig. 2 a-e); write JSON per frame and videos.

    With ``view`` also a maps video (S^t_j or L^t_c over each frame); ``max_frames`` stops after
    the first N frames. ``name``: the outputs' stem
    (default the source's); ``inputs``: every input of the run (no output may replace one, nor
    the source's own file or frames). ``manifest`` (the command line's): the outputs are also
    checked against and listed in the folder's manifest (``io.MANIFEST``) before any work, so an
    output never replaces a file openpose_edu did not write. Returns a summary:
    frames, people per frame, seconds, fps and the paths written. Raises ValueError on an
    unreadable input or a refused output, OSError when a file cannot be written (a full disk).
    ``model`` may be the compiled path (``runtime.compile_model``); threads per frame follow
    ``runtime.ThreadPolicy`` (``policy``: one to keep across calls, default a new one).
    """

    source = Path(source)
    frames, count, fps = read_frames(source)
    if max_frames is not None:
        frames, count = itertools.islice(frames, max_frames), min(count, max_frames)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = name or _stem(source)
    taken = list(inputs or []) + ([source] if source.is_file() else _frame_files(source))
    planned = video_outputs(stem, count, view is not None)
    check_outputs(out, planned, taken, manifest=manifest)
    if manifest:
        record_outputs(out, planned)
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
                if (small := small_input_warning(*frame.shape[:2], f"{source} frames")) is not None:
                    tqdm.write(small, file=sys.stderr)
                writers.append(VideoWriter(rendered_path, fps, size))
                if view is not None:
                    writers.append(VideoWriter(maps_path, fps, size))
            elif (frame.shape[1], frame.shape[0]) != writers[0].size:
                raise ValueError(_size_message(source, i, frame.shape, writers[0].size[::-1]))
            if i >= count and manifest:  # more frames than the header said: check and record each
                check_outputs(out, [_json_name(stem, i)], taken)
                record_outputs(out, [_json_name(stem, i)])
            with policy.frame():  # the threads for this frame's network and maps
                poses = inference.estimate(frame, model=model, params=params, device=device)
            write_json_atomic(out / _json_name(stem, i), poses.keypoints, poses.skeleton)
            writers[0].write(draw_people(frame, poses.keypoints, skeleton=poses.skeleton))
            if view is not None:
                maps = (
                    poses.maps
                    if view.stage is None
                    else inference.infer_maps(model, frame, stage=view.stage, device=device)
                )
                drawn = overlay_map(frame, maps.S, maps.L_grid, view)
                writers[1].write(draw_people(drawn, poses.keypoints, skeleton=poses.skeleton))
            people.append(len(poses))
            bar.set_postfix(people=len(poses))
        for w in writers:
            w.close()
    except BaseException:
        for w in writers:
            w.abort()
        for path in (rendered_path, maps_path):  # a writer a signal stopped before it was listed
            _part_name(path).unlink(missing_ok=True)
        raise
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
        model=f"registry name ({', '.join(REGISTRY)}) or a weights file; default: {weights.DEFAULT_MODEL}, "
        "the same small real COCO network as for images (downloaded once, 2 MB)",
    )
    parser.add_argument("--video", action="store_true", help="treat folders as the frames of one video")
    parser.add_argument("--maps", choices=("S", "L"), default=None, help="also write a maps video: S or L")
    parser.add_argument("--map-index", type=int, default=None, help="part (S) or limb (L) index; default all")
    parser.add_argument("--map-stage", type=int, default=None, help="stage t of the maps video; default last")
    parser.add_argument(
        "--max-frames", type=positive_int_arg, default=None, help="only the first N frames (default all)"
    )
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
        check_out_folder(args.out)
    except ValueError as e:
        parser.error(str(e))
    try:
        model = weights.load_cli_model(args.model, args.device)
    except (OSError, ValueError, KeyError, ImportError, RuntimeError) as e:
        print(weights.cli_model_error(args.model, e), file=sys.stderr)
        return 1
    print(f"model: {model.card.summary()}", file=sys.stderr)
    model, runs = compile_model(model, args.runtime)
    print(runs, file=sys.stderr)
    failed = 0
    sources = [Path(a) for a in args.inputs]
    names = unique_names(sources)
    for source in sources:
        try:
            summary = process_video(
                source, model, args.out, view, device=args.device, progress=not args.no_progress,
                max_frames=args.max_frames, name=names[source], inputs=sources, manifest=True,
            )  # fmt: skip
        except Exception as e:  # noqa: BLE001 - one video's failure, whatever it is, must not end the run
            failed += 1
            text = str(e) or type(e).__name__
            print(f"error: {text if str(source) in text else f'{source}: {text}'}", file=sys.stderr)
            continue
        print(
            f"{source}: {summary['frames']} frames, {summary['fps']:.2f} frames/s, "
            f"{np.mean(summary['people']) if summary['people'] else 0:.1f} people per frame on average, "
            f"output in {args.out}" + (f" (named {names[source]})" if names[source] != _stem(source) else ""),
            file=sys.stderr,
        )
    return 1 if failed else 0


def _stem(source: Path) -> str:
    return source.name if source.is_dir() else source.stem


def unique_names(sources: list[Path]) -> dict[Path, str]:
    """A distinct output stem per input, as the image path names them (``clip`` and ``clip_mp4``,
    ``x/clip.mp4`` and ``y/clip.mp4``): two inputs never write into one another's files."""
    suffix = {s: "frames" if s.is_dir() else s.suffix.lstrip(".") for s in sources}
    return distinct_stems((s, _stem(s), suffix[s], s.resolve().parent.name) for s in sources)
