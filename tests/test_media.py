"""The example-media registry (openpose_edu.media): mirror, cache, download from 127.0.0.1.

Every download here is of files the test makes, served by a local HTTP server the test starts;
the real example files are only read from the mirror folder (../shared/examples), if present.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from _caffe_files import body, closed_port_url, files_in, serve

from openpose_edu import media
from openpose_edu.media import (
    MEDIA,
    MediaSpec,
    MediaUnavailable,
    example_or_fallback,
    load_example,
    media_path,
)


def _jpeg(seed: int = 0) -> tuple[bytes, np.ndarray]:
    """A small test-made JPEG and the RGB pixels it decodes to."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", rgb[..., ::-1])
    assert ok
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
    return data.tobytes(), decoded


JPEG, PIXELS = _jpeg()


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(cache of examples, empty mirror folder), with no real mirror in the way."""
    monkeypatch.setenv("OPENPOSE_EDU_CACHE", str(tmp_path / "cache"))
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("OPENPOSE_EDU_EXAMPLES", str(mirror))
    return tmp_path / "cache" / "examples", mirror


def register(monkeypatch: pytest.MonkeyPatch, url: str, data: bytes = JPEG) -> MediaSpec:
    """The example 'test-photo' -> test-photo.jpg at ``url``, with ``data``'s sha256 and size."""
    spec = MediaSpec(
        "test-photo", "test-photo.jpg", url, hashlib.sha256(data).hexdigest(), len(data), "test", "test"
    )
    monkeypatch.setitem(MEDIA, "test-photo", spec)
    return spec


def test_registry_lists_the_19_photos_and_the_video_pinned_to_one_commit() -> None:
    photos = [name for name, spec in MEDIA.items() if spec.is_photo]
    assert len(photos) == 19 and "video" in MEDIA and len(MEDIA) == 20
    assert sorted(media.EXAMPLE_PHOTOS) == sorted(photos)  # every photo once, in a teaching order
    for spec in MEDIA.values():
        assert spec.url.startswith(
            "https://raw.githubusercontent.com/CMU-Perceptual-Computing-Lab/openpose/"
            "5c5d96523ef917bd30301245fdc8343937cae48d/examples/media/"
        )
        assert spec.url.endswith("/" + spec.filename) and re.fullmatch("[0-9a-f]{64}", spec.sha256)
        assert spec.attribution and spec.licence
    assert "COCO" in MEDIA["COCO_val2014_000000000241"].attribution
    assert "OpenPose" in MEDIA["video"].attribution


def test_registry_agrees_with_the_mirror_readme() -> None:
    """Each README row (file, bytes, sha256) is the registered entry; and the files themselves match."""
    folder = media.examples_mirror()
    if folder is None or not (folder / "README.md").is_file():
        pytest.skip("no example mirror (set OPENPOSE_EDU_EXAMPLES or place ../shared/examples)")
    rows = re.findall(
        r"\| (\S+\.(?:jpg|avi)) \| [^|]+ \| ([\d,]+) \| ([0-9a-f]{64}) \|", (folder / "README.md").read_text()
    )
    assert {f: (int(n.replace(",", "")), h) for f, n, h in rows} == {
        s.filename: (s.size, s.sha256) for s in MEDIA.values()
    }
    for spec in MEDIA.values():
        assert media_path(spec.name, progress=False) == folder / spec.filename  # hash-checked


def test_real_example_photo_loads_as_rgb() -> None:
    if media.examples_mirror() is None:
        pytest.skip("no example mirror")
    image = load_example("COCO_val2014_000000000241")
    assert image.shape == (640, 480, 3) and image.dtype == np.uint8
    with pytest.raises(ValueError, match="is a video"):
        load_example("video")


def test_download_from_a_local_server_then_from_the_cache(dirs, monkeypatch) -> None:
    cache, _ = dirs
    hits: list[str] = []

    def counted(h) -> None:
        hits.append(h.path)
        body(JPEG)(h)

    with serve({"/media/test-photo.jpg": counted}) as url:
        register(monkeypatch, url + "/media/test-photo.jpg")
        path = media_path("test-photo", progress=False)
        assert path == cache / "test-photo.jpg" and path.read_bytes() == JPEG
        np.testing.assert_array_equal(load_example("test-photo"), PIXELS)  # second call: the cache
    assert hits == ["/media/test-photo.jpg"]
    assert files_in(cache) == ["test-photo.jpg"]


def test_the_mirror_comes_before_the_network(dirs, monkeypatch) -> None:
    cache, mirror = dirs
    (mirror / "test-photo.jpg").write_bytes(JPEG)
    register(monkeypatch, closed_port_url("/test-photo.jpg"))  # any download would fail
    assert media_path("test-photo", progress=False) == mirror / "test-photo.jpg"
    assert not cache.exists()


def test_wrong_file_in_the_mirror_is_one_clear_message(dirs, monkeypatch) -> None:
    _, mirror = dirs
    (mirror / "test-photo.jpg").write_bytes(JPEG[:-10])
    register(monkeypatch, closed_port_url("/test-photo.jpg"))
    with pytest.raises(MediaUnavailable, match="from OPENPOSE_EDU_EXAMPLES.* has sha256 ") as e:
        media_path("test-photo", progress=False)
    assert e.value.__cause__ is None and e.value.__suppress_context__  # no chained traceback
    assert (mirror / "test-photo.jpg").read_bytes() == JPEG[:-10]  # the mirror is never modified


def test_hash_mismatch_download_is_named_and_discarded(dirs, monkeypatch) -> None:
    cache, _ = dirs
    other = JPEG[::-1]
    with serve({"/test-photo.jpg": body(other)}) as url:
        spec = register(monkeypatch, url + "/test-photo.jpg")
        with pytest.raises(MediaUnavailable) as e:
            media_path("test-photo", progress=False)
    message = str(e.value)
    assert (
        f"has sha256 {hashlib.sha256(other).hexdigest()}" in message and f"expected {spec.sha256}" in message
    )
    assert spec.url in message  # where to get it
    assert files_in(cache) == []  # neither the file nor a .part


def test_cut_connection_says_how_much_came_and_keeps_nothing(dirs, monkeypatch) -> None:
    cache, _ = dirs
    with serve({"/test-photo.jpg": body(JPEG[:300], claimed_length=len(JPEG))}) as url:
        register(monkeypatch, url + "/test-photo.jpg")
        with pytest.raises(MediaUnavailable, match=f"connection closed after 300 of {len(JPEG):,} bytes"):
            media_path("test-photo", progress=False)
    assert files_in(cache) == []


def test_offline_without_a_mirror_says_how_to_get_the_files(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENPOSE_EDU_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENPOSE_EDU_EXAMPLES", raising=False)
    url = closed_port_url("/media/test-photo.jpg")
    spec = register(monkeypatch, url)
    with pytest.raises(MediaUnavailable) as e:
        media_path("test-photo", progress=False)
    message = str(e.value)
    assert isinstance(e.value, RuntimeError)
    assert url in message and spec.sha256 in message and "OPENPOSE_EDU_EXAMPLES" in message
    assert str(tmp_path / "cache" / "examples") in message
    assert message.count("Download it yourself") == 0  # one message, not the weights' one pasted in

    image, sentence = example_or_fallback("test-photo")  # notebooks: never a traceback
    np.testing.assert_array_equal(image, media.fallback_scene())
    assert "synthetic scene" in sentence and "test-photo" in sentence and "OPENPOSE_EDU_EXAMPLES" in sentence


def test_example_or_fallback_names_the_real_photo(dirs, monkeypatch) -> None:
    _, mirror = dirs
    (mirror / "test-photo.jpg").write_bytes(JPEG)
    register(monkeypatch, closed_port_url("/test-photo.jpg"))
    image, sentence = example_or_fallback("test-photo")
    np.testing.assert_array_equal(image, PIXELS)
    assert "test-photo" in sentence and "synthetic" not in sentence


def test_unknown_name_lists_the_registered_ones() -> None:
    with pytest.raises(ValueError, match="COCO_val2014_000000000241"):
        media_path("astronaut")


def test_environment_points_at_the_shared_examples_when_present() -> None:
    shared = Path(__file__).resolve().parents[2] / "shared" / "examples"
    if not shared.is_dir() or "OPENPOSE_EDU_EXAMPLES" not in os.environ:
        pytest.skip("no ../shared/examples beside the project")
    assert Path(os.environ["OPENPOSE_EDU_EXAMPLES"]).resolve() == shared.resolve()
