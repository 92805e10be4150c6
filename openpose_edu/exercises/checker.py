"""The checker machinery: an ``Exercise`` (cases, the library's answer, the typical mistakes
with their hints), ``run`` (call the learner's function on every case, name the mistake its
output matches) and its ``Result``; plus the grid and the limb the checkers of notebooks 03, 04
and 07 build their cases on.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .. import groundtruth
from ..skeleton import LIMBS

# The cases' grid stride and their usual sigma and PAF half-width: the training targets' defaults.
STRIDE = groundtruth.DEFAULT_TARGETS.stride
SIGMA = groundtruth.DEFAULT_TARGETS.sigma
LIMB_WIDTH = groundtruth.DEFAULT_TARGETS.limb_width
LIMB = LIMBS[0]  # Neck -> RShoulder, the limb the PAF and line-integral cases use; any would do


@dataclass
class Result:
    """What a checker found. ``status``: "passed", "failed" or "not implemented"."""

    name: str
    passed: bool
    n_cases: int
    status: str
    hint: str | None = None
    message: str = ""
    case: dict[str, Any] | None = field(default=None, repr=False)

    def __bool__(self) -> bool:
        return self.passed


@dataclass
class Exercise:
    """One exercise: cases, the library's answer, and the typical mistakes with their hints."""

    name: str
    cases: Callable[[], Iterator[dict[str, Any]]]
    reference: Callable[..., Any]
    mistakes: list[tuple[str, Callable[..., Any]]]
    generic_hint: str
    atol: float = 1e-4


def _close(a: Any, b: Any, atol: float) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return False
        return all(_close(x, y, atol) for x, y in zip(a, b))
    try:
        x = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
        y = np.asarray(b.detach().cpu() if isinstance(b, torch.Tensor) else b, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if x.shape != y.shape:
        return False
    return bool(np.allclose(x, y, atol=atol, rtol=1e-4, equal_nan=False))


def _show(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        with np.printoptions(precision=3, suppress=True, linewidth=100, threshold=200):
            return f"array of shape {value.shape}:\n{value}"
    return repr(value)


def run(exercise: Exercise, fn: Callable[..., Any], verbose: bool = True) -> Result:
    """Run ``fn`` on every case of ``exercise``; print and return the verdict."""
    n = 0
    for case in exercise.cases():
        expected = exercise.reference(**case)
        try:
            got = fn(**case)
        except NotImplementedError as err:
            todo = str(err) or "replace the raise NotImplementedError with your code"
            msg = f"{exercise.name}: not implemented yet: {todo}"
            if verbose:
                print(msg)
            return Result(exercise.name, False, 0, "not implemented", message=msg)
        except Exception as err:  # the learner's bug: show it, do not stop the notebook
            tb = traceback.format_exception_only(type(err), err)[-1].strip()
            msg = f"{exercise.name}: your function raised {tb} on case {n + 1}:\n" + _inputs(case)
            if verbose:
                print(msg)
            return Result(exercise.name, False, n, "failed", hint=None, message=msg, case=case)
        if not _close(got, expected, exercise.atol):
            hint = exercise.generic_hint
            for text, wrong in exercise.mistakes:
                try:
                    if _close(got, wrong(**case), exercise.atol):
                        hint = text
                        break
                except Exception:  # a wrong variant may not apply to this case
                    continue
            msg = (
                f"{exercise.name}: failed on case {n + 1}\n{_inputs(case)}\nexpected: {_show(expected)}\n"
                f"got: {_show(got)}\nhint: {hint}"
            )
            if verbose:
                print(msg)
            return Result(exercise.name, False, n, "failed", hint=hint, message=msg, case=case)
        n += 1
    msg = f"{exercise.name}: passed on {n} cases"
    if verbose:
        print(msg)
    return Result(exercise.name, True, n, "passed", message=msg)


def _inputs(case: dict[str, Any]) -> str:
    return "inputs:\n" + "\n".join(f"  {k} = {_show(v)}" for k, v in case.items())


def grid_xy(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) input-pixel centres of the cells of an (h, w) grid at stride ``STRIDE``."""
    return groundtruth.grid_points(w, STRIDE).numpy(), groundtruth.grid_points(h, STRIDE).numpy()
