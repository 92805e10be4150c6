"""The checker machinery: an ``Exercise`` (cases, the library's answer, the typical mistakes
with their hints), ``run`` (call the learner's function on every case, name the mistake its
output matches) and its ``Result``; plus the grid and the limb the checkers of notebooks 03, 04
and 07 build their cases on.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
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
    except (TypeError, ValueError, RuntimeError, NotImplementedError):  # e.g. a meta tensor has no data
        return False
    if x.shape != y.shape:
        return False
    return bool(np.allclose(x, y, atol=atol, rtol=1e-4, equal_nan=False))


SHOW_VALUES = 12  # a value with more elements is summarised (shape, range, first values), never printed whole


def _as_array(value: Any) -> np.ndarray | None:
    """``value`` as a numpy array when it is a tensor or an array, else None."""
    if isinstance(value, torch.Tensor):
        try:
            return value.detach().cpu().numpy()
        except (RuntimeError, NotImplementedError, TypeError):  # a meta tensor, a complex one ...
            return None
    if isinstance(value, np.ndarray):
        return value
    return None


def _show(value: Any) -> str:
    """A short description of a value: small arrays in full, large ones summarised on one line."""
    arr = _as_array(value)
    if arr is None and isinstance(value, torch.Tensor):
        return f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}, on {value.device}"
    if arr is not None:
        if arr.size <= SHOW_VALUES:
            with np.printoptions(precision=3, suppress=True, linewidth=100):
                return f"array of shape {arr.shape}: {np.array2string(arr, separator=', ')}"
        flat = arr.ravel()
        head = ", ".join(f"{v:.3g}" if np.issubdtype(arr.dtype, np.number) else str(v) for v in flat[:6])
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
            return f"array of shape {arr.shape} ({arr.dtype}), first values [{head}, ...]"
        finite = flat[np.isfinite(flat)] if np.issubdtype(arr.dtype, np.floating) else flat
        rng = (
            f"min {finite.min():.3g}, max {finite.max():.3g}, mean {finite.mean():.3g}"
            if finite.size
            else "no finite values"
        )
        return f"array of shape {arr.shape} ({arr.dtype}; {rng}), first values [{head}, ...]"
    if isinstance(value, (list, tuple)) and any(_as_array(v) is not None for v in value):
        kind = "list" if isinstance(value, list) else "tuple"
        return (
            f"{kind} of {len(value)}: ["
            + "; ".join(_show(v) for v in value[:4])
            + ("; ...]" if len(value) > 4 else "]")
        )
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + " ..."


def _difference(got: Any, expected: Any) -> str | None:
    """Why ``got`` is not ``expected`` when that can be said in one line (None, a shape, a length)."""
    if got is None:
        return "your function returned None: did it reach a `return` statement?"
    g, e = _as_array(got), _as_array(expected)
    if (
        g is None
        and isinstance(got, (list, tuple))
        and isinstance(expected, (list, tuple))
        and len(got) != len(expected)
    ):
        return f"you returned {len(got)} items, {len(expected)} were expected"
    if e is not None:
        try:
            g = np.asarray(got) if g is None else g
        except Exception:  # an object numpy cannot read
            return f"you returned {type(got).__name__}, an array of shape {e.shape} was expected"
        if g.shape != e.shape:
            return f"shape: yours {g.shape} != expected {e.shape}"
        if np.issubdtype(g.dtype, np.number) and np.issubdtype(e.dtype, np.number):
            diff = np.abs(g.astype(np.float64) - e.astype(np.float64))
            if diff.size and np.isfinite(diff).any():
                where = np.unravel_index(np.nanargmax(np.where(np.isfinite(diff), diff, -1)), diff.shape)
                return f"largest difference {np.nanmax(diff):.3g} at index {tuple(int(i) for i in where)}"
    return None


def _learner_line(err: BaseException) -> str:
    """The last line of the traceback that is the learner's code (not this package, not a library)."""
    package = str(Path(__file__).resolve().parents[1])
    frames = [
        f
        for f in traceback.extract_tb(err.__traceback__)
        if not str(Path(f.filename).resolve()).startswith(package)
        and "site-packages" not in f.filename
        and not f.filename.startswith("<frozen")
    ]
    if not frames:
        return ""
    f = frames[-1]
    where = "your cell" if "ipykernel" in f.filename or f.filename.startswith("<") else Path(f.filename).name
    return (
        f"\n  in {where}, line {f.lineno}, in {f.name}: {f.line}"
        if f.line
        else f"\n  in {where}, line {f.lineno}"
    )


def _same(a: Any, b: Any) -> bool:
    """Whether an input is unchanged: arrays and tensors bit for bit (NaN equal to NaN), containers
    element by element, modules by their parameters; anything else by ``==``."""
    try:
        if isinstance(a, torch.nn.Module) and isinstance(b, torch.nn.Module):
            sa, sb = a.state_dict(), b.state_dict()
            return sa.keys() == sb.keys() and all(_same(sa[k], sb[k]) for k in sa)
        if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
            if a.device.type == "meta" or b.device.type == "meta":
                return a.shape == b.shape and a.dtype == b.dtype
            a, b = a.detach().cpu().numpy(), b.detach().cpu().numpy()
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
            nan = a.dtype.kind in "fc" and b.dtype.kind in "fc"
            return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=nan))
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
        return bool(a == b) or (a != a and b != b)  # NaN == NaN here
    except Exception:  # noqa: BLE001 - an input we cannot compare is taken as unchanged
        return True


def _changed(case: dict[str, Any], given: dict[str, Any]) -> list[str]:
    """The names of the inputs the learner's function changed (it was given copies)."""
    return [k for k in case if not _same(case[k], given[k])]


def run(exercise: Exercise, fn: Callable[..., Any], verbose: bool = True) -> Result:
    """Run ``fn`` on every case of ``exercise``; print and return the verdict.

    ``fn`` (and the library's answer) get copies of each case's inputs, so a function that
    changes its inputs in place can change neither the other checks nor the inputs shown when it
    fails; changing them is itself a failure, with the names of the inputs it changed.
    """
    n = 0
    for case in exercise.cases():
        expected = exercise.reference(**copy.deepcopy(case))
        given = copy.deepcopy(case)
        try:
            got = fn(**given)
        except NotImplementedError as err:
            todo = str(err) or "replace the raise NotImplementedError with your code"
            msg = f"{exercise.name}: not implemented yet: {todo}"
            if verbose:
                print(msg)
            return Result(exercise.name, False, 0, "not implemented", message=msg)
        except Exception as err:  # the learner's bug: show it, do not stop the notebook
            tb = traceback.format_exception_only(type(err), err)[-1].strip()
            msg = (
                f"{exercise.name}: your function raised {tb} on case {n + 1}{_learner_line(err)}\n"
                + _inputs(case)
            )
            if verbose:
                print(msg)
            return Result(exercise.name, False, n, "failed", hint=None, message=msg, case=case)
        changed = _changed(case, given)
        if changed:
            names = ", ".join(changed)
            msg = (
                f"{exercise.name}: failed on case {n + 1}: your function changed its input {names} in "
                f"place; leave the inputs as they are and build the answer in a new array (x.copy(), "
                f"t.clone(), or an operation that returns a new array instead of +=, [...] =, .add_())\n"
                f"{_inputs(case)}"
            )
            if verbose:
                print(msg)
            hint = f"changed its input {names} in place"
            return Result(exercise.name, False, n, "failed", hint=hint, message=msg, case=case)
        if not _close(got, expected, exercise.atol):
            hint = exercise.generic_hint
            for text, wrong in exercise.mistakes:
                try:
                    if _close(got, wrong(**copy.deepcopy(case)), exercise.atol):
                        hint = text
                        break
                except Exception:  # a wrong variant may not apply to this case
                    continue
            why = _difference(got, expected)
            msg = (
                f"{exercise.name}: failed on case {n + 1}\n{_inputs(case)}\nexpected: {_show(expected)}\n"
                f"got: {_show(got)}\n" + (f"{why}\n" if why else "") + f"hint: {hint}"
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
