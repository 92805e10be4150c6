"""README's two set-up commands: the first installs what the notebooks need (not the test tools)
and opens JupyterLab at the repository's root; the second is the test command .ci/run runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_TOOLS = ("pytest", "hypothesis", "nbval", "playwright", "ruff")


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_second_verbatim() -> None:
    commands = _setup_commands()
    assert len(commands) == 2, commands
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_first_command_installs_the_notebooks_extra_with_the_pins_and_opens_the_root() -> None:
    first = _setup_commands()[0]
    assert '-e ".[notebooks]"' in first and "-c requirements.txt" in first
    assert "-r requirements.txt" not in first
    assert "--ServerApp.root_dir=." in first and first.endswith("notebooks/01_pipeline.ipynb")
    pyproject = (ROOT / "pyproject.toml").read_text()
    extras = dict(re.findall(r"^(notebooks|test) = \[(.*)\]$", pyproject, flags=re.M))
    assert not [tool for tool in TEST_TOOLS if tool in extras["notebooks"]]
    assert all(tool in extras["test"] for tool in TEST_TOOLS)  # the test command installs those
    pinned = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^torch==", pinned, flags=re.M)  # the pin -c applies (a CPU wheel, not CUDA's)
