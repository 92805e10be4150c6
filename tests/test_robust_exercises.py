"""Issue 33: the exercise checker gives each learner function copies and says when it changed them.

Before, a function that gave the right answer but wrote into its input arrays passed all 13
checkers, and when such a function failed, the inputs the checker showed were the modified ones;
a function returning a meta tensor made the checker itself raise NotImplementedError.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from openpose_edu.exercises import EXERCISES, run


def _mutable(value: Any) -> bool:
    """An input a function could change in place: a non-empty array, tensor or list."""
    if isinstance(value, torch.Tensor):
        return value.numel() > 0
    if isinstance(value, np.ndarray):
        return value.size > 0
    return isinstance(value, list) and len(value) > 0


def _scribble(value: Any) -> None:
    """Change an input in place, as a sloppy learner's function would."""
    if isinstance(value, list):
        value.append(value[0])
        return
    with torch.no_grad():
        value[...] = True if value.dtype in (bool, torch.bool) else 7


def _first_mutable(case: dict[str, Any]) -> str | None:
    return next((k for k, v in case.items() if _mutable(v)), None)


# Conv parameters and the Gaussian take numbers and tuples only: nothing to change.
WITH_ARRAYS = [n for n, e in EXERCISES.items() if any(_first_mutable(c) for c in e.cases())]


def test_every_exercise_with_array_or_list_inputs_is_covered() -> None:
    assert set(EXERCISES) - set(WITH_ARRAYS) == {"conv_parameters", "gaussian"}


@pytest.mark.parametrize("name", WITH_ARRAYS)
def test_a_right_answer_that_writes_into_its_inputs_fails(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    exercise = EXERCISES[name]
    seen: list[dict] = []

    def sloppy(**kwargs: Any) -> Any:
        answer = exercise.reference(**kwargs)
        key = _first_mutable(kwargs)
        if key is not None:
            seen.append({key: kwargs[key]})
            _scribble(kwargs[key])
        return answer

    result = run(exercise, sloppy)
    assert not result.passed and result.hint and "in place" in result.hint
    key, given = next(iter(seen[-1].items()))
    assert f"changed its input {key}" in capsys.readouterr().out
    # The case shown is the original one: the function wrote into a copy.
    assert result.case is not None and result.case[key] is not given


@pytest.mark.parametrize("name", ["background", "masked_l2", "receptive_field", "greedy_matching"])
def test_a_failing_function_is_shown_the_inputs_it_was_given(name: str) -> None:
    exercise = EXERCISES[name]
    first = next(c for c in exercise.cases() if _first_mutable(c))
    key = _first_mutable(first)
    value = first[key]
    value = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
    before = np.array(value, dtype=object) if isinstance(value, list) else np.array(value)

    def breaks(**kwargs: Any) -> Any:
        _scribble(kwargs[key])
        raise IndexError("oops")

    def breaks_on_its_case(**kwargs: Any) -> Any:
        if _first_mutable(kwargs) != key:
            return exercise.reference(**kwargs)
        return breaks(**kwargs)

    result = run(exercise, breaks_on_its_case, verbose=False)
    assert not result.passed and "raised IndexError: oops" in result.message
    assert result.case is not None
    shown = result.case[key]
    shown = np.array(shown, dtype=object) if isinstance(shown, list) else np.asarray(shown)
    np.testing.assert_array_equal(shown, before)


@pytest.mark.parametrize("name", ["gaussian", "masked_l2"])
def test_a_meta_tensor_answer_is_a_failure_not_a_crash(name: str) -> None:
    exercise = next(e for n, e in EXERCISES.items() if name in n)

    def meta(**kwargs: Any) -> Any:
        return torch.empty(3, device="meta")

    result = run(exercise, meta, verbose=False)
    assert not result.passed and result.status == "failed"
    assert "tensor of shape (3,)" in result.message and "meta" in result.message


def test_the_reference_solutions_still_pass() -> None:
    for name, exercise in EXERCISES.items():
        assert run(exercise, exercise.reference, verbose=False).passed, name
