"""Jupyter servers for the browser tests (test_browser.py, test_browser_camera.py).

Each server starts on 127.0.0.1 with a random token in its own process group, with its own
Jupyter config folders under the test's tmp_path, and is stopped with its whole group (the
server and every kernel it started).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 40.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers (e.g. 403 or 404): the server is up
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"server at {url} did not answer within {timeout} s")


def serve(cmd: list[str], env: dict[str, str], cwd: Path, url: str) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_http(url)
        yield proc
    finally:
        # The whole group: the server and every kernel it started.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def jupyter_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in (
        "JUPYTER_CONFIG_DIR",
        "JUPYTER_RUNTIME_DIR",
        "JUPYTERLAB_SETTINGS_DIR",
        "JUPYTERLAB_WORKSPACES_DIR",
    ):
        path = tmp / name.lower()
        path.mkdir()
        env[name] = str(path)
    # Silence the news pop-up, which would cover the notebook.
    settings = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def jupyterlab(root: Path, env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """JupyterLab on ``root``: yields (base URL, token) while it runs."""
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in serve(cmd, env, root, f"{base}/api/status?token={token}"):
        yield base, token


def voila(notebook: Path, env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """Voila serving ``notebook`` (from its folder): yields (base URL, token) while it runs."""
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}",
        "--Voila.ip=127.0.0.1", f"--token={token}",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in serve(cmd, env, notebook.parent, f"{base}/"):
        yield base, token


def run_all_cells(page, base: str, token: str, notebook: str, idle_timeout_ms: float) -> None:  # noqa: ANN001
    """Open ``notebook`` in JupyterLab, wait for its kernel, run every cell."""
    page.goto(f"{base}/lab/tree/{notebook}?token={token}")
    page.get_by_text("Python 3 (ipykernel) | Idle").first.wait_for(timeout=idle_timeout_ms)
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=10_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
