"""Test helpers: networks with realistic random weights, test-made weight files, a loopback server.

Nothing here touches the internet: downloads are served from 127.0.0.1 or file:// URLs.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from openpose_edu.model import OpenPoseConfig, OpenPoseNet, caffe_layers, he_normal_


def random_net(config: OpenPoseConfig, seed: int = 0) -> OpenPoseNet:
    """OpenPoseNet with He-normal weights and small random biases (activations stay O(1) over depth).

    The default init of nn.Conv2d shrinks the signal layer after layer; He-normal keeps every
    stage's maps at realistic magnitudes, so a 1e-4 tolerance is a meaningful test.
    """
    return he_normal_(OpenPoseNet(config), seed).eval()


def caffe_state_dict(net: OpenPoseNet, prefix: bool = False) -> dict[str, torch.Tensor]:
    """The body_pose_model.pth layout: bare Caffe names (``conv1_1.weight``), or with
    ``prefix=True`` Hzzone's module keys (``model0.conv1_1.weight``, ``model2_1.Mconv1_stage2_L1.weight``).
    """
    out: dict[str, torch.Tensor] = {}
    for name, m in caffe_layers(net).items():
        block = ""
        if prefix:
            if "stage" not in name and "_L" not in name:
                block = "model0."
            else:
                t = int(name.split("stage")[1][0]) if "stage" in name else 1
                block = f"model{t}_{name[-1]}."
        out[f"{block}{name}.weight"] = m.weight.detach().clone()
        out[f"{block}{name}.bias"] = m.bias.detach().clone()
    return out


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, Callable[[http.server.BaseHTTPRequestHandler], None]] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        route = self.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        route(self)

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass


def body(
    data: bytes, claimed_length: int | None = None
) -> Callable[[http.server.BaseHTTPRequestHandler], None]:
    """A route that answers 200 with ``data``; a larger ``claimed_length`` simulates a cut connection."""

    def send(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(claimed_length or len(data)))
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()
        h.close_connection = True

    return send


@contextmanager
def serve(routes: dict[str, Callable[[http.server.BaseHTTPRequestHandler], None]]) -> Iterator[str]:
    """Serve ``routes`` ({"/path": handler}) on 127.0.0.1 in a thread; yields the base URL."""
    handler = type("Handler", (_Handler,), {"routes": routes})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url(path: str = "/file.bin") -> str:
    """A loopback URL nobody listens on (the connection is refused at once, like no network)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}{path}"


def files_in(directory: Path) -> list[str]:
    """Every file name under ``directory`` (including hidden temporary ones)."""
    return sorted(p.name for p in directory.rglob("*") if p.is_file())
