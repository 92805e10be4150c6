"""Command line: estimate poses in images, write drawn images and OpenPose JSON.

    python -m openpose_edu IMAGE_OR_DIR ... [--model NAME] [--out DIR] [--scales 0.5 1 1.5 2] [--stage T]
    python -m openpose_edu VIDEO ... --out DIR [--maps S|L] ...   (videos: video.py)

For every image (a directory means every regular file directly inside it) writes
``DIR/<name>_keypoints.json`` (OpenPose's format) and ``DIR/<name>_rendered.png`` (the
skeletons drawn). Every image is processed on its own: one that cannot be read or processed
(missing, not a regular file, empty, not an image, corrupt, too large, a write error) is
reported on stderr by name and the others are still processed; a summary ends the run.
Outputs get unique names (``a.png`` and ``a.jpg`` -> ``a`` and ``a_jpg``; ``x/a.png`` and
``y/a.png`` -> ``a`` and ``a_png``), are written atomically (a temporary file renamed into
place) and never replace an input or a file that openpose_edu did not write (the output
folder's ``.openpose_edu_outputs.json`` lists the files earlier runs wrote). Exit code 0
when every image was processed, 1 when some failed, 2 for bad arguments (one line each;
``--debug`` shows tracebacks).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import inference  # module-qualified: tests replace inference.estimate
from .assembly import ParsingParams
from .io import MANIFEST as MANIFEST  # re-exported: the manifest's name, for tests and users
from .io import (
    MAX_SCALE,
    MAX_SCALES,
    check_device,
    check_out_folder,
    check_outputs,
    command_line,
    distinct_stems,
    is_regular_file,
    read_image,
    read_manifest,
    record_outputs,
    scale_arg,
    small_input_warning,
    stage_arg,
    write_image,
    write_openpose_json,
)
from .runtime import RUNTIMES, compile_model
from .viz import draw_people
from .weights import DEFAULT_MODEL as DEFAULT_MODEL  # re-exported: the command line's network
from .weights import REGISTRY, cli_model_error, load_cli_model

OUTPUT_SUFFIXES = ("_keypoints.json", "_rendered.png")


def find_images(inputs: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """Files to process and error messages: a directory gives its non-hidden regular files (sorted).

    Files that earlier runs wrote into a directory (its manifest) are not inputs; a path that is
    not a regular file (FIFO, device, socket) is refused without opening it; the same file named
    twice is processed once.
    """
    files: list[Path] = []
    errors: list[str] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            files.append(path)

    for item in inputs:
        path = Path(item)
        try:
            is_dir = path.is_dir()
            ours = read_manifest(path) if is_dir else set()
            names = sorted(path.iterdir()) if is_dir else []
        except OSError as e:  # unreadable or untraversable folder, a name too long, ...
            errors.append(f"{path}: cannot read it ({e.strerror or e}); check its permissions")
            continue
        if is_dir:
            inside = [p for p in names if not p.name.startswith(".") and p.name not in ours]
            regular = [p for p in inside if is_regular_file(p)]
            for p in inside:
                if not is_regular_file(p) and not p.is_dir():
                    errors.append(f"{p}: not a regular file (a FIFO, device or socket), skipped")
            if not regular:
                errors.append(f"{path}: the directory has no image files")
            for p in regular:
                add(p)
        elif path.exists():
            if is_regular_file(path):
                add(path)
            else:
                errors.append(f"{path}: not a regular file (a FIFO, device or socket); give an image file")
        else:
            errors.append(f"{path}: no such file or directory")
    return files, errors


def output_names(files: Sequence[Path]) -> dict[Path, str]:
    """A distinct output stem per image: its stem, else ``stem_suffix``, ``parent_stem_suffix``, ``..._2``."""
    return distinct_stems((p, p.stem, p.suffix.lstrip("."), p.parent.name) for p in files)


def check_out_dir(out_dir: str | Path, files: Sequence[Path], names: dict[Path, str]) -> Path:
    """Validate the output folder before any work: creatable, writable, and no output on an input
    or on a file that openpose_edu did not write. Raises ValueError naming the path and what to do."""
    out = check_out_folder(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a directory; give a folder for the outputs")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".openpose_edu_probe.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ValueError(
            f"--out {out}: cannot write there ({e.strerror or e}); choose a writable folder"
        ) from None
    check_outputs(out, [f"{names[p]}{suffix}" for p in files for suffix in OUTPUT_SUFFIXES], files)
    return out


def _record_outputs(out: Path, names: dict[Path, str]) -> None:
    """Add this run's output names to the folder's manifest (before writing them)."""
    record_outputs(out, [f"{n}{suffix}" for n in names.values() for suffix in OUTPUT_SUFFIXES])


def _message(path: Path, e: BaseException) -> str:
    text = str(e) or type(e).__name__
    if isinstance(e, MemoryError) or (isinstance(e, RuntimeError) and "alloc" in text.lower()):
        text = f"out of memory ({text.splitlines()[0]}); try a smaller --scales or a smaller image"
    return text if str(path) in text else f"{path}: {text}"


def run(
    inputs: Sequence[str | Path],
    model: Any,
    out_dir: str | Path,
    scales: Sequence[float] = (1.0,),
    stage: int | None = None,
    params: ParsingParams | None = None,
    device: str | None = None,
    progress: bool = True,
    debug: bool = False,
) -> int:
    """Process every input with ``model``; write JSON and drawn images to ``out_dir``.

    Returns the exit code: 0 if every image was processed, 1 if any input failed (each
    failure is reported on stderr with its file name; ``debug`` adds its traceback), 2 when
    ``out_dir`` cannot be used (nothing is processed then).
    """

    files, errors = find_images(inputs)
    for message in errors:
        print(f"error: {message}", file=sys.stderr)
    names = output_names(files)
    try:
        out = check_out_dir(out_dir, files, names)
        _record_outputs(out, names)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    failed: list[Path] = []
    bar = tqdm(files, desc="images", unit="img", disable=not progress or not files, file=sys.stderr)
    for path in bar:
        bar.set_postfix_str(path.name)
        try:
            image = read_image(path, color="RGB")
            if (small := small_input_warning(*image.shape[:2], str(path))) is not None:
                tqdm.write(small, file=sys.stderr)
            poses = inference.estimate(
                image, model=model, params=params, scales=scales, stage=stage, device=device
            )
            write_openpose_json(out / f"{names[path]}_keypoints.json", poses.keypoints, poses.skeleton)
            drawn = draw_people(image, poses.keypoints, color="RGB", skeleton=poses.skeleton)
            write_image(out / f"{names[path]}_rendered.png", drawn)
        except Exception as e:  # noqa: BLE001 - one image's failure, whatever it is, must not end the batch
            failed.append(path)
            tqdm.write(f"error: {_message(path, e)}", file=sys.stderr)
            if debug:
                tqdm.write(traceback.format_exc(), file=sys.stderr)
    renamed = [f"{p} -> {n}" for p, n in names.items() if n != p.stem]
    if renamed:
        print("outputs named apart: " + "; ".join(renamed), file=sys.stderr)
    n_failed = len(failed) + len(errors)
    print(
        f"{len(files) - len(failed)} of {len(files) + len(errors)} inputs processed, {n_failed} failed"
        + (f" ({', '.join(p.name for p in failed)})" if failed else "")
        + f"; output in {out}",
        file=sys.stderr,
    )
    return 1 if n_failed else 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = command_line(
        "Estimate multi-person 2D poses (OpenPose, Cao et al. CVPR 2017) in images: "
        "writes <name>_keypoints.json (OpenPose format) and <name>_rendered.png per image.",
        inputs="image files or directories of images",
        model=f"registry name ({', '.join(REGISTRY)}) or a weights file; default: {DEFAULT_MODEL}, "
        "a small real COCO network (downloaded once, 2 MB). 'bundled' works offline but was trained "
        "on synthetic scenes only: on photos it finds phantom people",
    )
    parser.epilog = (
        "Videos: give a video file (.mp4, .avi, .mov, ...) or a folder of frames with --video: "
        "<stem>_<frame>_keypoints.json per frame and <stem>_rendered.mp4, with the same default "
        "model; --maps S|L (with --map-index I, --map-stage T) also writes <stem>_maps.mp4, a "
        "confidence map or PAF over every frame; --max-frames N stops early. "
        "Options of the video path: python -m openpose_edu clip.mp4 --help"
    )
    parser.add_argument(
        "--scales",
        type=scale_arg,
        nargs="+",
        default=[1.0],
        help=f"scales to average, e.g. 0.5 1 1.5 2 (the demo's); default 1; at most {MAX_SCALES}, "
        f"each <= {MAX_SCALE}",
    )
    parser.add_argument(
        "--stage", type=stage_arg, default=None, help="parse stage T's maps (default: the last)"
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    parser.add_argument(
        "--runtime", choices=RUNTIMES, default="eager",
        help="eager PyTorch (default), openvino (compiled once per input size: faster for many "
        "images of one size; pip install openpose_edu[fast]) or auto (openvino when installed)",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--debug", action="store_true", help="show tracebacks (for bug reports)")
    args = parser.parse_args(argv)
    if len(args.scales) > MAX_SCALES:
        parser.error(f"--scales: give at most {MAX_SCALES} scales, got {len(args.scales)}")
    return args


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds: temporary files are removed, no final name is half-written


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m openpose_edu`` and the ``openpose-edu`` script."""
    from . import video  # videos and folders of frames (--video): their own path, video.py

    args_list = list(sys.argv[1:] if argv is None else argv)
    if argv is None:  # the real command line (not a test calling main): SIGTERM/SIGHUP unwind like Ctrl-C
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _terminate)
    try:
        if video.wants_video(args_list):
            return video.main(args_list)
        return _run_cli(parse_args(argv))
    except KeyboardInterrupt:  # every temporary is gone by now (the stack unwound through them)
        print("\ninterrupted: the finished outputs are complete; run again to finish", file=sys.stderr)
        return 130
    finally:  # every file is complete now: a signal during shutdown ends the process plainly
        if argv is None:
            for sig in (signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)


def _run_cli(args: argparse.Namespace) -> int:
    """``main`` after the arguments: find the images, check --out, load the model, run."""
    files, errors = find_images(args.inputs)
    if not files:
        for message in errors:
            print(f"error: {message}", file=sys.stderr)
        print("error: no input files", file=sys.stderr)
        return 1
    try:  # before the model loads: a bad --out costs nothing
        check_out_dir(args.out, files, output_names(files))

        check_device(args.device)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        model = load_cli_model(args.model, args.device)
    except Exception as e:  # noqa: BLE001 - one line for the user, the traceback behind --debug
        if args.debug:
            raise
        print(cli_model_error(args.model, e), file=sys.stderr)
        return 1
    print(f"model: {model.card.summary()}", file=sys.stderr)
    model, runs = compile_model(model, args.runtime)
    print(runs, file=sys.stderr)
    return run(
        args.inputs,
        model,
        args.out,
        scales=args.scales,
        stage=args.stage,
        device=args.device,
        progress=not args.no_progress,
        debug=args.debug,
    )


if __name__ == "__main__":
    sys.exit(main())
