"""The stage-order experiment's results.json, and notebook 11 reading it (not typing its numbers)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from openpose_edu import intervals
from openpose_edu.refinement import ARMS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "refinement_2017_vs_2019" / "results.json"
NOTEBOOK = ROOT / "notebooks" / "11_2017_vs_2019.ipynb"
# Notebook 11's experiment section: the cells this experiment owns.
EXPERIMENT_CELLS = ("bf2a9754", "e7f2a504", "a7e35c01", "a7e35c02", "a7e35c03")


@pytest.fixture(scope="module")
def results() -> dict:
    return json.loads(RESULTS.read_text())


def _section() -> list:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c for c in nb.cells if c.get("id") in EXPERIMENT_CELLS]
    assert [c.id for c in cells] == list(EXPERIMENT_CELLS), "the experiment cells, in this order"
    return cells


def _outputs(cells: list) -> str:
    return "".join(o.get("text", "") for c in cells if c.cell_type == "code" for o in c.outputs)


def test_results_hold_every_arm_and_seed_with_settings(results: dict) -> None:
    s = results["settings"]
    assert s["arms"] == ARMS and len(s["seeds"]) >= 2 and s["n_val"] >= 200 and s["n_crowded"] > 0
    assert {"steps", "batch_size", "lr", "size", "n_boot"} <= set(s)
    runs = {(r["arm"], r["seed"]) for r in results["runs"]}
    missing = {(m["arm"], m["seed"]) for m in results["missing"]}
    assert runs | missing == {(a, seed) for a in ARMS for seed in s["seeds"]} and not runs & missing
    assert {a for a, _ in runs} == set(ARMS)  # every arm has at least one finished run
    for r in results["runs"]:
        assert r["steps"] == s["steps"] and r["seconds"] > 0  # the same budget for every run
    for arm in ARMS.values():
        assert arm in [{"order": a["order"], "block": a["block"]} for a in results["arms"].values()]
    for a in results["arms"].values():
        for sub in ("all", "crowded"):
            for k in intervals.METRICS:
                x = a["AP"][sub][k]
                assert x["ci"][0] <= x["mean"] <= x["ci"][1]
        assert a["parameters"] > 0 and a["GMACs_368"] > 0 and a["cpu_ms_368"] > 0
    n_pairs = len(ARMS) * (len(ARMS) - 1) // 2
    assert len(results["differences"]["all"]) == n_pairs * len(intervals.METRICS)


def test_notebook_reads_the_numbers_from_results_json(results: dict) -> None:
    cells = _section()
    source = "\n".join(c.source for c in cells)
    assert "results.json" in source and "json.loads" in source
    out = _outputs(cells)
    for name, a in results["arms"].items():
        ap = a["AP"]["all"]["AP"]
        shown = f"{ap['mean']:.3f} [{ap['ci'][0]:.3f}, {ap['ci'][1]:.3f}]"
        assert shown in out, f"{name}: {shown} not in the notebook's output"
        assert f"{a['parameters']:,}" in out
    for m in results["missing"]:  # unfinished runs are said, not hidden
        assert f"{m['arm']} seed {m['seed']}" in out
    typed = [n for n in re.findall(r"\d+\.\d{3}", source)]
    assert not typed, f"numbers typed into the experiment cells: {typed}"


def test_notebook_conclusion_is_the_functions(results: dict) -> None:
    out = _outputs(_section())
    s = results["settings"]
    for sub, where, metric in [
        ("all", f"on all {s['n_val']} held-out scenes", "AP"),
        ("crowded", f"on the {s['n_crowded']} crowded scenes", "AP"),
        ("all", f"on all {s['n_val']} held-out scenes", "AP50"),
    ]:
        assert intervals.conclusion(results["differences"][sub], metric, where) in out
    # Table 5's key pair and the block change, each answered by the function
    for a, b in [("3 PAF -> 3 CM", "3 CM -> 3 PAF"), ("4 PAF -> 2 CM, 2019 block", "4 PAF -> 2 CM")]:
        assert intervals.pair_verdict(results["differences"]["all"], a, b) in out
