"""Issue 33: train's flags are bounded and checked, and Ctrl-C during a checkpoint write saves.

Before: ``--crop 100000``, ``--device cuda:abc``, ``--threads -1``, ``--out-dir`` a file, a
``--model`` JSON list or ``n_stages 100000`` ended in tracebacks (or at the allocator);
``--batch-size 100000`` hung generating scenes; ``--grad-clip -1`` was accepted and the loss
exploded; a Ctrl-C that landed inside ``torch.save`` surfaced as torch's RuntimeError, so the
finished steps were not saved (exit 1). Now each flag is one argparse line (exit 2) and the
Ctrl-C is taken once the checkpoint is written (exit 130, last.pt at the finished step).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_robust_train import _cli
from test_train import TinyScenes

from openpose_edu import train as train_module
from openpose_edu.model import OpenPoseConfig
from openpose_edu.weights import load_checkpoint


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--crop", "100000"], "'crop': 100000"),
        (["--batch-size", "100000"], "'batch_size': 100000"),
        (["--device", "cuda:abc"], "'device': 'cuda:abc'"),
        (["--threads", "-1"], "'threads': -1"),
        (["--grad-clip", "-1"], "'grad_clip': -1.0"),
        (["--grad-clip", "nan"], "'grad_clip': nan"),
        (["--lr", "inf"], "'lr': inf"),
    ],
)
def test_a_bad_flag_is_one_argument_error(argv: list[str], words: str, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        train_module.main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and words in err and "Traceback" not in err


def test_out_dir_a_file_and_model_json_not_an_object_are_argument_errors(tmp_path: Path, capsys) -> None:
    (tmp_path / "afile").write_text("x")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "huge.json").write_text(json.dumps({"n_stages": 100000}))
    (tmp_path / "kernel.json").write_text(json.dumps({"stage_kernel": 2001}))
    for argv, words in [
        (["--out-dir", str(tmp_path / "afile")], "exists and is not a directory"),
        (
            ["--model", str(tmp_path / "list.json")],
            "expected a JSON object of OpenPoseConfig fields, got a list",
        ),
        (["--model", str(tmp_path / "huge.json")], "OpenPoseConfig.n_stages must be in 0..32, got 100000"),
        (
            ["--model", str(tmp_path / "kernel.json")],
            "OpenPoseConfig.stage_kernel must be in 0..15, got 2001",
        ),
    ]:
        with pytest.raises(SystemExit) as e:
            train_module.main(argv)
        assert e.value.code == 2 and words in capsys.readouterr().err, argv


@settings(max_examples=40, deadline=None)
@given(
    field=st.sampled_from(["n_stages", "stage_kernel", "stage_width", "stage1_hidden", "stage_layers"]),
    value=st.integers(min_value=-(10**9), max_value=10**9),
)
def test_a_config_outside_its_bounds_never_reaches_the_allocator(field: str, value: int) -> None:
    try:
        cfg = OpenPoseConfig.small(**{field: value})
    except ValueError:
        return
    top = {"n_stages": 32, "stage_layers": 32, "stage_kernel": 15}.get(field, 4096)  # model.CONFIG_BOUNDS
    assert 0 <= getattr(cfg, field) <= top


def test_ctrl_c_inside_a_checkpoint_write_saves_the_finished_steps(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    real_save, calls = torch.save, []

    class Interrupted:
        """The checkpoint file, where a real Ctrl-C arrives while torch's C++ writer calls write()."""

        def __init__(self, f) -> None:
            self.f, self.sent = f, False

        def write(self, data) -> int:
            if not self.sent:
                self.sent = True
                os.kill(os.getpid(), signal.SIGINT)
            return self.f.write(data)

        def flush(self) -> None:
            self.f.flush()

    def save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the step-2 checkpoint: last.pt written, step_000002.pt being written
            f = Interrupted(f)
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    monkeypatch.setattr(train_module, "make_dataset", lambda cfg, stride: TinyScenes(8))
    assert train_module.main(_cli(tmp_path)) == 130
    out = capsys.readouterr().out
    assert "interrupted; the finished steps are in" in out
    run = tmp_path / "run"
    assert load_checkpoint(run / "last.pt")[1]["step"] == 2
    assert sorted(p.name for p in run.glob("*.pt")) == ["last.pt", "step_000002.pt"]
    assert not list(run.rglob("*.part"))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
