"""Issue 33: the image command line and the API, for the mistakes the last round left as tracebacks,
and images decoded only when their header says they fit (``io.MAX_IMAGE_PIXELS``).

Before: an unreadable input folder, an ``--out`` path component or an output name over 255 bytes
and SIGINT printed tracebacks; ``--model ''`` silently used the default; ``estimate(params=dict)``
and ``params="demo"`` raised AttributeError; ``ParsingParams(n_samples=10**7)`` allocated 55 GB; a
1.2 MB PNG of 20000x20000 peaked at 3.7 GB and a 3 GB file named .png was read whole.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_robust_cli import _wait_for_output
from test_robust_video import _frames, _run
from test_robust_workshop import png_header

from openpose_edu import __main__ as cli
from openpose_edu import estimate, load_model
from openpose_edu.assembly import ParsingParams
from openpose_edu.io import MAX_IMAGE_BYTES, decode_image, write_image

ROOT = Path(__file__).resolve().parents[1]
MODEL = load_model("bundled")
IMAGE = np.zeros((64, 64, 3), np.uint8)


@pytest.fixture
def one_image(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "a.png", _frames(1)[0])
    return folder


def test_an_unreadable_input_folder_is_one_line(one_image: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    real = Path.iterdir

    def iterdir(self: Path):
        if self == one_image:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)  # root reads any folder: chmod 000 cannot show it
    assert cli.main([str(one_image), "--out", str(tmp_path / "o"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"error: {one_image}: cannot read it (Permission denied)" in err and "Traceback" not in err


def test_names_over_255_bytes_are_refused_before_any_work(one_image: Path, tmp_path: Path, capsys) -> None:
    long_out = tmp_path / ("o" * 300)
    assert cli.main([str(one_image), "--out", str(long_out), "--no-progress"]) == 2
    assert "is 300 bytes, over the file system's limit of 255" in capsys.readouterr().err
    write_image(one_image / ("b" * 250 + ".png"), IMAGE)  # a 254-byte name: its temporary is cut short
    assert cli.main([str(one_image), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "would be 265 bytes, over the file system's 255" in capsys.readouterr().err


def test_an_empty_model_name_is_named(one_image: Path, tmp_path: Path, capsys) -> None:
    assert cli.main([str(one_image), "--model", "", "--out", str(tmp_path / "o"), "--no-progress"]) == 1
    assert "error: cannot load model '': --model is empty" in capsys.readouterr().err


def test_a_model_that_does_not_load_is_one_line_on_both_paths(
    one_image: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    """Images and videos say the same: the default model's failure with the offline way out, an
    empty --model by its name (not the default's) and without it."""
    from openpose_edu import weights

    clip = tmp_path / "clip"  # a folder of frames: the video path (--video)
    clip.mkdir()
    for i, frame in enumerate(_frames(2)):
        write_image(clip / f"{i}.png", frame)
    for inputs in ([str(one_image)], [str(clip), "--video"]):
        monkeypatch.setattr(
            weights, "load_model", lambda *a, **k: (_ for _ in ()).throw(OSError("no network"))
        )
        assert cli.main([*inputs, "--out", str(tmp_path / "o"), "--no-progress"]) == 1
        err = capsys.readouterr().err.strip()
        assert err == (
            f"error: cannot load model {weights.DEFAULT_MODEL!r}: no network (offline? '--model bundled' "
            "works without a download, on synthetic scenes only)"
        ), inputs
        monkeypatch.undo()
        assert cli.main([*inputs, "--model", "", "--out", str(tmp_path / "o"), "--no-progress"]) == 1
        assert capsys.readouterr().err.strip().startswith("error: cannot load model '': --model is empty"), (
            inputs
        )


def test_sigint_ends_the_image_cli_without_a_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i, f in enumerate(_frames(6)):
        write_image(folder / f"{i}.png", f)
    out = tmp_path / "out"
    proc = _run([str(folder), "--out", str(out), "--no-progress"], sleep=0.3)
    _wait_for_output(out, proc, 60)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "interrupted: the finished outputs are complete; run again to finish" in err
    assert not list(out.glob(".*.part"))


def test_params_may_be_a_dict_or_demo() -> None:
    assert len(estimate(IMAGE, model=MODEL, params={"peak_threshold": 0.1})) == 0
    assert len(estimate(IMAGE, model=MODEL, params="demo")) == 0


@settings(max_examples=30, deadline=None)
@given(
    params=st.one_of(
        st.text(max_size=6),
        st.integers(),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(
            st.sampled_from(["peak_threshold", "n_samples", "max_peaks", "bogus"]),
            st.one_of(st.integers(-(10**9), 10**9), st.floats(), st.text(max_size=3)),
            max_size=2,
        ),
    )
)
def test_any_params_value_runs_or_is_refused_clearly(params) -> None:
    try:
        estimate(IMAGE, model=MODEL, params=params)
    except (TypeError, ValueError) as e:
        assert "params" in str(e) or "parsing parameters" in str(e) or "must be" in str(e)


def test_n_samples_is_bounded_before_allocation() -> None:
    with pytest.raises(ValueError, match=r"n_samples must be an integer in 2..100"):
        ParsingParams(n_samples=10**7)


MEASURE = """
import json, sys
from openpose_edu.io import read_image
try:
    read_image(sys.argv[1])
    outcome = "read"
except (ValueError, OSError) as e:
    outcome = str(e)
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0] / 1024
print(json.dumps({"outcome": outcome, "peak_mb": hwm}))
"""


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (
            lambda p: p.write_bytes(png_header(20000, 20000)),
            "400,000,000 pixels, over the limit of 64,000,000",
        ),
        (lambda p: p.write_bytes(png_header(16000, 16000)), "over the limit of 64,000,000 pixels"),
        (lambda p: os.truncate(p, 3 << 30), f"over the limit of {MAX_IMAGE_BYTES:,} for an image"),
    ],
    ids=["20000x20000", "16000x16000", "3GB"],
)
def test_a_huge_image_is_refused_before_it_is_decoded(tmp_path: Path, make, words: str) -> None:
    path = tmp_path / "big.png"
    path.touch()
    make(path)  # the 3 GB file is sparse: no disk used
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, capture_output=True, text=True
    )
    r = json.loads(proc.stdout)
    assert words in r["outcome"], r
    assert r["peak_mb"] < 400, r  # the interpreter and the libraries; nothing of the image's size


def test_decode_image_refuses_a_bomb_in_memory() -> None:
    with pytest.raises(ValueError, match="over the limit of 64,000,000 pixels"):
        decode_image(png_header(9000, 9000), "upload")


def test_an_image_too_small_for_a_person_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_image(tmp_path / "dot.png", np.full((8, 12, 3), 200, np.uint8))
    assert (
        cli.main(
            [str(tmp_path / "dot.png"), "--model", "bundled", "--out", str(tmp_path / "o"), "--no-progress"]
        )
        == 0
    )
    assert "dot.png: 8x12 pixels (height x width) is under 32" in capsys.readouterr().err
