"""The checker's feedback rules: a wrong shape names both shapes, None is said to be None, a
crash shows the learner's own line, and no tensor is ever printed whole."""

from __future__ import annotations

import numpy as np
import pytest

from openpose_edu import exercises
from solutions import nb03, nb06


def test_a_wrong_shape_names_both_shapes() -> None:
    def transposed(x, y, grid_size, sigma):  # noqa: ANN001, ANN202
        return nb03.gaussian(x, y, grid_size, sigma).T

    result = exercises.check_gaussian(transposed, verbose=False)
    assert "shape: yours (5, 4) != expected (4, 5)" in result.message


def test_returning_none_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    def no_return(x, y, grid_size, sigma):  # noqa: ANN001, ANN202
        nb03.gaussian(x, y, grid_size, sigma)

    result = exercises.check_gaussian(no_return)
    assert not result.passed and "returned None" in result.message
    assert "returned None" in capsys.readouterr().out


def test_an_exception_shows_the_learners_line() -> None:
    def crash(x, y, grid_size, sigma):  # noqa: ANN001, ANN202
        rows = grid_size[7]  # the learner's bug
        return rows

    result = exercises.check_gaussian(crash, verbose=False)
    assert "IndexError" in result.message
    assert "rows = grid_size[7]" in result.message and "crash" in result.message


def test_an_exception_in_a_notebook_cell_names_the_cell() -> None:
    scope: dict = {}
    code = compile("def f(x, y, grid_size, sigma):\n    return 1 / 0\n", "/tmp/ipykernel_1/123.py", "exec")
    exec(code, scope)  # noqa: S102
    result = exercises.check_gaussian(scope["f"], verbose=False)
    assert "ZeroDivisionError" in result.message and "in your cell, line 2" in result.message


def test_no_tensor_is_printed_whole() -> None:
    def doubled(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        return nb06.loss_over_stages(*args, **kwargs) * 2

    result = exercises.check_loss_over_stages(doubled, verbose=False)
    assert not result.passed
    assert len(result.message.splitlines()) < 20, result.message  # it was about 560 lines
    for name in exercises.EXERCISES:
        for case in exercises.EXERCISES[name].cases():
            text = exercises.checker._inputs(case)
            assert len(text.splitlines()) <= 4 * len(case) + 1, (name, text)
            break


def test_large_arrays_are_summarised_small_ones_shown() -> None:
    show = exercises.checker._show
    big = show(np.arange(10_000, dtype=np.float32).reshape(100, 100))
    assert "shape (100, 100)" in big and "max 1e+04" in big and len(big) < 300
    assert show(np.array([1.0, 2.0])) == "array of shape (2,): [1., 2.]"
