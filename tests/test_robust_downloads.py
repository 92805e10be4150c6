"""Issue 22, defect 9: ``weights.fetch`` against a local HTTP server (127.0.0.1, started by the test).

A good file is downloaded once and then served from the cache (the server sees one request); a
wrong checksum, a cut body, a body over the registered size, a server that trickles or stalls past
the deadline and a 404 each end with one clear message and leave nothing under the final name and
no ``.part`` file; stale ``.part`` files of a killed fetch are removed by the next one.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _caffe_files import body, files_in, serve

from openpose_edu import registry, weights
from openpose_edu.weights import REGISTRY, WeightSpec, fetch

DATA = os.urandom(200_000)  # a few 64 KiB blocks
Route = Callable[[http.server.BaseHTTPRequestHandler], None]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPENPOSE_EDU_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENPOSE_EDU_MIRROR", raising=False)
    return tmp_path / "cache"


def register(monkeypatch: pytest.MonkeyPatch, url: str, data: bytes = DATA) -> WeightSpec:
    """The registry entry 'test-file' -> test.bin at ``url``, with ``data``'s sha256 and size."""
    digest = hashlib.sha256(data).hexdigest()
    spec = WeightSpec("test-file", "test.bin", (url,), sha256=digest, size=len(data))
    monkeypatch.setitem(REGISTRY, "test-file", spec)
    return spec


def counted(route: Route, hits: list) -> Route:
    def handle(h: http.server.BaseHTTPRequestHandler) -> None:
        hits.append(h.path)
        route(h)

    return handle


def trickle(chunk: bytes, every_s: float, total: int, length: int | None) -> Route:
    """200, then ``chunk`` every ``every_s`` seconds up to ``total`` bytes (a slow server)."""

    def send(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        if length is not None:
            h.send_header("Content-Length", str(length))
        h.end_headers()
        sent = 0
        try:
            while sent < total:
                h.wfile.write(chunk)
                h.wfile.flush()
                sent += len(chunk)
                time.sleep(every_s)
        except OSError:  # the client gave up: what the test wants
            pass
        h.close_connection = True

    return send


def stall(release: threading.Event) -> Route:
    """200 and the first bytes, then nothing until the test ends."""

    def send(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(DATA)))
        h.end_headers()
        h.wfile.write(DATA[:1000])
        h.wfile.flush()
        release.wait(30)
        h.close_connection = True

    return send


def unsized(data: bytes) -> Route:
    """200 with no Content-Length: the body ends when the connection closes."""

    def send(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.end_headers()
        try:
            h.wfile.write(data)
        except OSError:
            pass
        h.close_connection = True

    return send


def test_good_file_is_downloaded_once_then_cached(cache: Path, monkeypatch) -> None:
    hits: list = []
    with serve({"/w/test.bin": counted(body(DATA), hits)}) as url:
        register(monkeypatch, url + "/w/test.bin")
        path = fetch("test-file", progress=False)
        assert path == cache / "test.bin" and path.read_bytes() == DATA
        assert fetch("test-file", progress=False) == path  # from the cache
    assert hits == ["/w/test.bin"]  # the second call did not reach the server
    assert files_in(cache) == ["test.bin"]


def test_wrong_checksum_is_named_and_nothing_is_kept(cache: Path, monkeypatch) -> None:
    other = bytes(reversed(DATA))
    with serve({"/test.bin": body(other)}) as url:
        spec = register(monkeypatch, url + "/test.bin")
        with pytest.raises(ValueError, match=f"has sha256 {hashlib.sha256(other).hexdigest()}") as e:
            fetch("test-file", progress=False)
    assert f"expected {spec.sha256}" in str(e.value) and "file discarded" in str(e.value)
    assert files_in(cache) == []  # no test.bin, no .part


def test_cut_body_says_how_much_came(cache: Path, monkeypatch) -> None:
    with serve({"/test.bin": body(DATA[:5000], claimed_length=len(DATA))}) as url:
        register(monkeypatch, url + "/test.bin")
        with pytest.raises(ConnectionError, match=f"connection closed after 5,000 of {len(DATA):,} bytes"):
            fetch("test-file", progress=False)
    assert files_in(cache) == []


def test_body_over_the_registered_size_is_refused(cache: Path, monkeypatch) -> None:
    monkeypatch.setattr(registry, "SIZE_MARGIN", 1000)
    big = DATA + os.urandom(100_000)
    with serve({"/a.bin": body(big), "/b.bin": unsized(big)}) as url:
        register(monkeypatch, url + "/a.bin")  # announced by Content-Length: refused before the body
        announced = f"is {len(big):,} bytes, expected {len(DATA):,}; not downloaded"
        with pytest.raises(ValueError, match=announced):
            fetch("test-file", progress=False)
        register(monkeypatch, url + "/b.bin")  # not announced: cut off at size + margin
        with pytest.raises(ValueError, match=f"more than {len(DATA) + 1000:,} bytes.*download stopped"):
            fetch("test-file", progress=False)
    assert files_in(cache) == []


def test_trickling_server_is_cut_off_at_the_deadline(cache: Path, monkeypatch) -> None:
    route = trickle(b"x" * 512, every_s=0.05, total=len(DATA), length=len(DATA))
    with serve({"/test.bin": route}) as url:
        register(monkeypatch, url + "/test.bin")
        t0 = time.monotonic()
        with pytest.raises(ConnectionError, match="not finished after 1 s .* the server is too slow"):
            fetch("test-file", progress=False, deadline=1.0)
        assert time.monotonic() - t0 < 4  # 200 kB at 10 kB/s: 20 s; one 64 KiB read() alone 6.5 s
    assert files_in(cache) == []


def test_stalled_server_times_out(cache: Path, monkeypatch) -> None:
    release = threading.Event()
    with serve({"/test.bin": stall(release)}) as url:
        register(monkeypatch, url + "/test.bin")
        t0 = time.monotonic()
        try:
            with pytest.raises(ConnectionError, match=r"test\.bin: timed out"):
                fetch("test-file", progress=False, deadline=1.0)
        finally:
            release.set()
        assert time.monotonic() - t0 < 5
    assert files_in(cache) == []


def test_404_names_the_url_and_where_to_put_the_file(cache: Path, monkeypatch) -> None:
    with serve({}) as url:
        register(monkeypatch, url + "/missing/test.bin")
        with pytest.raises(ConnectionError, match="HTTP Error 404") as e:
            fetch("test-file", progress=False)
    message = str(e.value)
    assert f"{url}/missing/test.bin" in message and str(cache / "test.bin") in message
    assert "OPENPOSE_EDU_MIRROR" in message
    assert not cache.exists() or files_in(cache) == []


def test_stale_part_files_are_removed_fresh_ones_kept(cache: Path, monkeypatch) -> None:
    cache.mkdir()
    stale, fresh = cache / ".test.bin.killed.part", cache / ".test.bin.running.part"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    old = time.time() - weights.DOWNLOAD_DEADLINE_S - 60
    os.utime(stale, (old, old))
    with serve({"/test.bin": body(DATA)}) as url:
        register(monkeypatch, url + "/test.bin")
        fetch("test-file", progress=False)
    assert files_in(cache) == sorted([fresh.name, "test.bin"])  # a fetch still within its deadline


def test_a_directory_at_the_target_is_a_local_error(cache: Path, monkeypatch) -> None:
    (cache / "test.bin").mkdir(parents=True)
    register(monkeypatch, "http://127.0.0.1:9/test.bin")
    with pytest.raises(IsADirectoryError, match="is a directory.*OPENPOSE_EDU_CACHE"):
        fetch("test-file", progress=False)


def test_every_download_has_a_bound_on_its_size() -> None:
    """Issue 33: cmu-coco and cmu-body25 had none: an endless body filled the disk until the deadline."""
    for name, spec in REGISTRY.items():
        if spec.urls and spec.path is None:
            assert spec.size or spec.max_size, name
    assert REGISTRY["cmu-body25"].size == 104_715_850
    assert 209_245_784 < REGISTRY["cmu-coco"].max_size < 1.02 * 209_245_784  # its float32 weights


def test_an_endless_body_is_cut_off_at_max_size(cache: Path, monkeypatch) -> None:
    big = DATA + os.urandom(100_000)
    with serve({"/b.bin": unsized(big)}) as url:
        spec = WeightSpec("test-file", "test.bin", (url + "/b.bin",), md5="0" * 32, max_size=len(DATA))
        monkeypatch.setitem(REGISTRY, "test-file", spec)
        with pytest.raises(
            ValueError, match=f"more than {len(DATA):,} bytes, expected at most {len(DATA):,}"
        ):
            fetch("test-file", progress=False)
    assert files_in(cache) == []
