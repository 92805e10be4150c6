"""Issue 22, defect 10: training that is resumed, interrupted (Ctrl-C) or diverges (NaN).

Tiny runs (a 32-pixel crop, a 3-stage network of a few hundred weights, 4-6 steps) on the
procedural scenes of tests/test_train.py. What must hold: a resumed run continues at the
checkpoint's step and ends with the weights of an uninterrupted run; Ctrl-C leaves a valid
checkpoint (or none) and never half a file; history.jsonl never holds a step twice; a NaN loss
stops the run with a clear error (exit 1 on the command line); a changed hyper-parameter on
resume is refused by name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_train import TinyScenes, quick, tiny_config

from openpose_edu import train as train_module
from openpose_edu.train import train
from openpose_edu.weights import load_checkpoint


class Interrupting(torch.utils.data.Dataset):
    """TinyScenes that raise KeyboardInterrupt (Ctrl-C) at the ``at``-th item read (0-based)."""

    def __init__(self, at: int, n: int = 4) -> None:
        self.data, self.at, self.reads = TinyScenes(n), at, 0

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> dict:
        self.reads += 1
        if self.reads - 1 == self.at:
            raise KeyboardInterrupt
        return self.data[i]


class WithNaN(TinyScenes):
    """TinyScenes whose item ``bad`` has a NaN in its target S* (the loss of that step is NaN)."""

    def __init__(self, bad: int = 4, n: int = 6) -> None:
        super().__init__(n)
        self.items[bad] = {**self.items[bad], "S": self.items[bad]["S"].clone()}
        self.items[bad]["S"][0, 0, 0] = float("nan")


def history_steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "history.jsonl").read_text().splitlines()]


def leftovers(run: Path) -> list[str]:
    return sorted(p.name for p in run.rglob("*.part"))


def test_ctrl_c_then_resume_continues_at_the_step_with_no_step_twice(tmp_path: Path) -> None:
    data = TinyScenes(4)
    straight = train(quick(tmp_path / "a", steps=6), model_config=tiny_config(), dataset=data, progress=False)
    cfg = quick(tmp_path / "b", steps=6)  # checkpoints every 2 steps, a history record every step
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C while step 4's images are read (batch size 2)
        train(cfg, model_config=tiny_config(), dataset=Interrupting(at=6), progress=False)
    run = Path(cfg.out_dir)
    _, extra = load_checkpoint(run / "last.pt")  # written by the Ctrl-C, loads cleanly
    assert extra["step"] == 3 and [r["step"] for r in extra["history"]] == [1, 2, 3]
    assert history_steps(run) == [1, 2, 3] and leftovers(run) == []

    resumed = train(cfg, resume=run / "last.pt", dataset=data, progress=False)
    assert [r["step"] for r in resumed.history] == [1, 2, 3, 4, 5, 6]
    assert history_steps(run) == [1, 2, 3, 4, 5, 6]  # the redone steps are not written twice
    assert load_checkpoint(run / "last.pt")[1]["step"] == 6
    for key, value in straight.model.state_dict().items():  # the same weights as without Ctrl-C
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert [r["total"] for r in resumed.history] == [r["total"] for r in straight.history]


def test_ctrl_c_before_the_first_step_writes_nothing(tmp_path: Path) -> None:
    cfg = quick(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, model_config=tiny_config(), dataset=Interrupting(at=0), progress=False)
    run = Path(cfg.out_dir)
    assert not (run / "last.pt").exists() and leftovers(run) == []
    assert history_steps(run) == []


def test_ctrl_c_while_a_checkpoint_is_written_keeps_the_previous_one(tmp_path: Path, monkeypatch) -> None:
    """Interrupted inside torch.save (every save from the third on): last.pt stays the step-2 file."""
    real_save, calls = torch.save, []

    def save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) >= 3:  # step 4's last.pt, and the Ctrl-C handler's own attempt
            f.write(b"half a checkpoint")
            raise KeyboardInterrupt
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    cfg = quick(tmp_path, steps=4)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, model_config=tiny_config(), dataset=TinyScenes(4), progress=False)
    monkeypatch.setattr(torch, "save", real_save)
    run = Path(cfg.out_dir)
    assert load_checkpoint(run / "last.pt")[1]["step"] == 2
    assert sorted(p.name for p in run.glob("*.pt")) == ["last.pt", "step_000002.pt"]
    assert leftovers(run) == []


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    cfg = quick(tmp_path, steps=4)
    with pytest.raises(FloatingPointError, match=r"the loss is nan at step 3: training diverged; lower --lr"):
        train(cfg, model_config=tiny_config(), dataset=WithNaN(), progress=False)  # step 3: items 4, 5
    net, extra = load_checkpoint(Path(cfg.out_dir) / "last.pt")
    assert extra["step"] == 2
    assert all(torch.isfinite(p).all() for p in net.parameters())


def _cli(tmp_path: Path, *extra: str) -> list[str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "tiny.json").write_text(json.dumps(tiny_config().to_dict()))
    return [
        *("--steps", "4", "--batch-size", "2", "--crop", "32", "--warmup", "2", "--log-every", "1"),
        *("--checkpoint-every", "2", "--tensorboard", "false", "--out-dir", str(tmp_path / "run")),
        *("--model", str(tmp_path / "tiny.json"), "--no-progress", *extra),
    ]


def test_command_line_nan_exits_1_and_ctrl_c_exits_130(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(train_module, "make_dataset", lambda cfg, stride: WithNaN())
    assert train_module.main(_cli(tmp_path)) == 1
    assert "error: the loss is nan at step 3" in capsys.readouterr().out
    monkeypatch.setattr(train_module, "make_dataset", lambda cfg, stride: Interrupting(at=3))
    assert train_module.main(_cli(tmp_path / "k")) == 130
    out = capsys.readouterr().out
    assert "interrupted" in out and "--resume" in out
    assert load_checkpoint(tmp_path / "k" / "run" / "last.pt")[1]["step"] == 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"lr": 1e-2}, "lr 0.001 -> 0.01"),
        ({"batch_size": 4}, "batch_size 2 -> 4"),
        ({"crop": 64}, "crop 32 -> 64"),
        ({"sigma": 3.0}, "sigma 7.0 -> 3.0"),
    ],
)
def test_resume_with_a_changed_hyper_parameter_names_it(tmp_path: Path, change: dict, words: str) -> None:
    cfg = quick(tmp_path, steps=2)
    train(cfg, model_config=tiny_config(), dataset=TinyScenes(4), progress=False)
    before = (Path(cfg.out_dir) / "last.pt").read_bytes()
    with pytest.raises(ValueError, match=f"other hyper-parameters: {words}; resume with the checkpoint's"):
        train(quick(tmp_path, steps=4, **change), resume=Path(cfg.out_dir) / "last.pt", dataset=TinyScenes(4))
    assert (Path(cfg.out_dir) / "last.pt").read_bytes() == before  # the stored run is untouched
    # more steps, another log cadence: allowed
    more = train(
        quick(tmp_path, steps=3, log_every=3), resume=Path(cfg.out_dir) / "last.pt", dataset=TinyScenes(4)
    )
    assert [r["step"] for r in more.history] == [1, 2, 3]


def test_command_line_config_errors_are_argument_errors(tmp_path: Path, capsys) -> None:
    for argv, words in [
        (["--steps", "0"], "invalid TrainConfig values {'steps': 0}"),
        (["--crop", "30"], "crop >= 16 and a multiple of 8"),
        (["--tensorboard", "flase"], "expected true/false"),
        (["--model", str(tmp_path / "none.json")], "--model must be 'bundled', 'paper' or a JSON file"),
    ]:
        with pytest.raises(SystemExit) as e:
            train_module.main(argv)
        assert e.value.code == 2 and words in capsys.readouterr().err, argv
