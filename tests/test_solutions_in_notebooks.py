"""A learner's notebook: every stub replaced by its reference solution, the WHOLE notebook run.

What a learner does: paste the solution into the stub cell (the stub is only the function:
no test plumbing shows in it) and run the notebook top to bottom in a kernel. Every check
cell must then print "passed" and no cell may fail. test_exercise_notebooks.py runs only the
exercise cells (fast); this runs each notebook 02-07 in full, as nbval does with the stubs.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {
    "02_the_network": "nb02",
    "03_confidence_maps": "nb03",
    "04_part_affinity_fields": "nb04",
    "05_stage_refinement": "nb05",
    "06_loss_and_masks": "nb06",
    "07_assembly": "nb07",
}
STUB = re.compile(r"def (my_\w+)\((.*?)\):\n    raise NotImplementedError\([^\n]*\)(?:\n|$)", re.S)


def with_solutions(nb: nbformat.NotebookNode, module: str) -> int:
    """Replace every stub ``def my_x(...): raise NotImplementedError`` by the solution's source."""
    solutions = importlib.import_module(f"solutions.{module}")
    header = "\n".join(
        line for line in inspect.getsource(solutions).splitlines() if line.startswith(("import ", "from "))
    )
    # A solution that builds on an earlier one calls the learner's own version of it (my_x).
    stubbed = [
        m.group(1)[len("my_") :] for c in nb.cells if c.cell_type == "code" for m in STUB.finditer(c.source)
    ]
    n = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        match = STUB.search(cell.source)
        if not match:
            continue
        name = match.group(1)[len("my_") :]
        source = inspect.getsource(getattr(solutions, name)).replace(f"def {name}(", f"def my_{name}(", 1)
        helpers = [
            inspect.getsource(f)
            for helper, f in inspect.getmembers(solutions, inspect.isfunction)
            if helper.startswith("_") and f"{helper}(" in source
        ]
        source = "\n\n".join([*helpers, source])  # the helpers it calls, pasted with it
        for other in stubbed:
            source = re.sub(rf"(?<![\w.]){other}\(", f"my_{other}(", source)
        body = STUB.sub(lambda _, src=source: src, cell.source, count=1)
        cell.source = header + "\n\n" + body
        n += 1
    return n


@pytest.mark.slow
@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_whole_notebook_with_the_solutions_pasted_in(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    n_stubs = with_solutions(nb, NOTEBOOKS[name])
    assert n_stubs >= 1, f"{name}: no exercise stub found"
    assert "NotImplementedError" not in "".join(c.source for c in nb.cells if c.cell_type == "code")
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}
    ).execute()
    verdicts = [
        "".join(o.get("text", "") for o in c.outputs)
        for c in nb.cells
        if c.cell_type == "code" and "exercises.check_" in c.source
    ]
    assert len(verdicts) == n_stubs, verdicts
    for verdict in verdicts:
        assert "passed" in verdict and "failed" not in verdict and "not implemented" not in verdict, verdict


def test_stubs_show_no_test_plumbing() -> None:
    """A stub cell is the function the learner writes and nothing else (no environment switch)."""
    for name in NOTEBOOKS:
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        stubs = [c.source for c in nb.cells if c.cell_type == "code" and STUB.search(c.source)]
        assert stubs, name
        for source in stubs:
            assert "environ" not in source and "solutions" not in source and "import os" not in source, source
            assert STUB.fullmatch(source.strip() + "\n") or source.strip().startswith("def my_"), source
