"""Command line: estimate poses in images, write drawn images and OpenPose JSON.

    python -m openpose_edu IMAGE_OR_DIR ... [--model NAME] [--out DIR] [--scales 0.5 1 1.5 2] [--stage T]

For every image (a directory means every file directly inside it) writes
``DIR/<name>_keypoints.json`` (OpenPose's format) and ``DIR/<name>_rendered.png`` (the
skeletons drawn). Files that cannot be read (missing, empty, not an image, corrupt) are
reported on stderr by name and skipped; the others are still processed. Exit code 0 when
every image was processed, 1 when some failed, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .assembly import ParsingParams
from .weights import REGISTRY


def find_images(inputs: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """Files to process and error messages: a directory gives its non-hidden files (sorted)."""
    files: list[Path] = []
    errors: list[str] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            if not inside:
                errors.append(f"{path}: the directory has no files")
            files += inside
        elif path.exists():
            files.append(path)
        else:
            errors.append(f"{path}: no such file or directory")
    return files, errors


def load_cli_model(name: str | None, device: str) -> Any:
    """A registry name (None: the bundled model) or the path of a weights file -> model (eval mode)."""
    from .weights import load_model

    return load_model(name, device=device)


def run(
    inputs: Sequence[str | Path],
    model: Any,
    out_dir: str | Path,
    scales: Sequence[float] = (1.0,),
    stage: int | None = None,
    params: ParsingParams | None = None,
    device: str | None = None,
    progress: bool = True,
) -> int:
    """Process every input with ``model``; write JSON and drawn images to ``out_dir``.

    Returns the exit code: 0 if every image was processed, 1 if any input failed (each
    failure is reported on stderr with its file name).
    """
    from .inference import estimate
    from .io import read_image, write_image, write_openpose_json
    from .viz import draw_people

    files, errors = find_images(inputs)
    for message in errors:
        print(f"error: {message}", file=sys.stderr)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    failed = len(errors)
    used: set[str] = set()
    bar = tqdm(files, desc="images", unit="img", disable=not progress or not files, file=sys.stderr)
    for path in bar:
        bar.set_postfix_str(path.name)
        try:
            image = read_image(path, color="RGB")
            poses = estimate(image, model=model, params=params, scales=scales, stage=stage, device=device)
        except (OSError, ValueError, TypeError) as e:
            failed += 1
            message = str(e) if str(path) in str(e) else f"{path}: {e}"
            tqdm.write(f"error: {message}", file=sys.stderr)
            continue
        # OpenPose names outputs by the file's stem; a second "a" (a.jpg beside a.png) keeps its suffix.
        stem = path.stem if path.stem not in used else f"{path.stem}_{path.suffix.lstrip('.')}"
        used.add(stem)
        write_openpose_json(out / f"{stem}_keypoints.json", poses.keypoints)
        write_image(out / f"{stem}_rendered.png", draw_people(image, poses.keypoints, color="RGB"))
    done = len(files) - (failed - len(errors))
    print(
        f"{done} of {len(files) + len(errors)} inputs processed, {failed} failed; output in {out}",
        file=sys.stderr,
    )
    return 1 if failed else 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m openpose_edu",
        description="Estimate multi-person 2D poses (OpenPose, Cao et al. CVPR 2017) in images: "
        "writes <name>_keypoints.json (OpenPose format) and <name>_rendered.png per image.",
    )
    parser.add_argument("inputs", nargs="+", help="image files or directories of images")
    parser.add_argument(
        "--model",
        default=None,
        help=f"registry name ({', '.join(REGISTRY)}) or a checkpoint file; default: the bundled model",
    )
    parser.add_argument("--out", default="openpose_out", help="output directory (default: openpose_out)")
    parser.add_argument(
        "--scales",
        type=float,
        nargs="+",
        default=[1.0],
        help="scales to average, e.g. 0.5 1 1.5 2 (the demo's); default 1",
    )
    parser.add_argument("--stage", type=int, default=None, help="parse stage T's maps (default: the last)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if any(s <= 0 for s in args.scales):
        parser.error(f"--scales must be positive, got {args.scales}")
    if args.stage is not None and args.stage < 1:
        parser.error(f"--stage must be >= 1, got {args.stage}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m openpose_edu`` and the ``openpose-edu`` script."""
    from . import video  # videos and folders of frames (--video): their own path, video.py

    if video.wants_video(list(sys.argv[1:] if argv is None else argv)):
        return video.main(list(sys.argv[1:] if argv is None else argv))
    args = parse_args(argv)
    files, errors = find_images(args.inputs)
    if not files:
        for message in errors:
            print(f"error: {message}", file=sys.stderr)
        print("error: no input files", file=sys.stderr)
        return 1
    try:
        model = load_cli_model(args.model, args.device)
    except (OSError, ValueError, KeyError, ImportError) as e:
        print(f"error: cannot load model {args.model or 'bundled'!r}: {e}", file=sys.stderr)
        return 1
    return run(
        args.inputs,
        model,
        args.out,
        scales=args.scales,
        stage=args.stage,
        device=args.device,
        progress=not args.no_progress,
    )


if __name__ == "__main__":
    sys.exit(main())
