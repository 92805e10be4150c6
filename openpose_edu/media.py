"""The example-media registry: CMU's own example photos and video, fetched like the weights.

CMU's OpenPose demonstrates itself on 20 COCO 2014 validation photos and a street video in its
repository's ``examples/media/`` folder; 19 of the photos and the video are registered here
(``MEDIA``), pinned to one commit of that repository, with sha256, size, attribution and licence.
They are never part of this package: ``media_path(name)`` finds a file in the mirror folder
``$OPENPOSE_EDU_EXAMPLES`` first, then in the cache (``$OPENPOSE_EDU_CACHE/examples``), then
downloads it once with a progress bar and checks its hash (registry.fetch_file, the same code
as for the weights). Offline without a mirror it raises ``MediaUnavailable`` saying how to get
the files; ``example_or_fallback`` then returns a synthetic scene and a sentence saying so, so
that notebooks run top to bottom anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .io import read_image
from .registry import cache_dir, fetch_file
from .synthetic import make_scene

COMMIT = "5c5d96523ef917bd30301245fdc8343937cae48d"  # CMU-Perceptual-Computing-Lab/openpose
HOME = f"https://raw.githubusercontent.com/CMU-Perceptual-Computing-Lab/openpose/{COMMIT}/examples/media/"
MIRROR_VAR = "OPENPOSE_EDU_EXAMPLES"
COCO_TERMS = "https://cocodataset.org/#termsofuse"
_COCO_ATTRIBUTION = (
    "COCO 2014 validation images (Lin et al., Microsoft COCO, 2014), from Flickr, "
    "as distributed in CMU's OpenPose examples/media"
)
_COCO_LICENCE = (
    f"each photo under its own Flickr licence (Creative Commons variants, some non-commercial), "
    f"COCO terms of use: {COCO_TERMS}"
)
_VIDEO_ATTRIBUTION = "CMU's OpenPose examples (examples/media/video.avi)"
_VIDEO_LICENCE = (
    "OpenPose licence: non-commercial research use "
    "(https://github.com/CMU-Perceptual-Computing-Lab/openpose/blob/master/LICENSE)"
)


class MediaUnavailable(RuntimeError):
    """An example file is in no mirror or cache and could not be downloaded (one clear message)."""


@dataclass(frozen=True)
class MediaSpec:
    """One registered example file: where it lives, how to check it, whose it is."""

    name: str  # registry name: the photo's stem, or "video"
    filename: str  # file name in the mirror / cache folders
    url: str  # home, pinned to one commit of CMU's repository
    sha256: str
    size: int  # bytes
    attribution: str
    licence: str

    # The attributes registry.fetch_file reads (shared with WeightSpec).
    @property
    def urls(self) -> tuple[str, ...]:
        return (self.url,)

    @property
    def algorithm(self) -> str:
        return "sha256"

    @property
    def digest(self) -> str:
        return self.sha256

    @property
    def is_photo(self) -> bool:
        return self.filename.endswith(".jpg")


# (COCO image id or file, bytes, sha256), from the mirror folder's README (the tests check them
# against the README and the files).
_FILES = (
    ("000000000192", 230_425, "146520b06866c3b199697a6525a3d3d86cd6a5a99d175d7fc887319fafd7b62c"),
    ("000000000241", 107_714, "39df957040ee07907626207f3f80ae92e599b7b871034b1c4d677eda06a8bf1a"),
    ("000000000257", 208_764, "bb57fedcdbb1b4fa25302ba03bf9eb4a68464ea0be5234f3f78367f512892e6d"),
    ("000000000294", 75_635, "b92e3be3906b865498c8fdbcc139d3c04e90c6d889197434e4ed79c70b0eb17f"),
    ("000000000328", 159_712, "fae67f47646606b5223f29db83ad5ccc4374e4015c8152defa7476c7f33ee74b"),
    ("000000000338", 81_713, "e1ab2ec78f9f84c5971ac6021213a9ec6a9360b6fb1d3216f09850c8d053144f"),
    ("000000000360", 118_630, "a53abc1a1c0170490a9ad8d34a4548f49dae72f96852ea97748359e29ec8eb2f"),
    ("000000000395", 246_526, "ca09f5e2d747e2bcbed917fe688793d9996f457ac1e4150d7726259e299bbb3a"),
    ("000000000415", 118_150, "018bcbe9298485075ba53142a3822a5676cc7be7e09018d9e54c8eaeffcfa85b"),
    ("000000000428", 102_365, "1d8008508f0afb271d84b13ce0da7fd440047d400bf3612c5c151143438ed8ee"),
    ("000000000459", 194_898, "7fc910824a20229b4649e3dc47950cda468a96839ae827bf8edd9e3cc374cdc5"),
    ("000000000474", 131_485, "f13d726313942b23739ab85cb52082a8644778b995062ef808418fe45015188a"),
    ("000000000488", 105_570, "6129892cc173dca328479720f5be9746fee658a91ca346ad94fa4ba25f9d3615"),
    ("000000000536", 22_611, "f80c7e1eff918925bc6a2f327ab1bb0e2e9d3b7396aad1cbbbd942a9fdb7757d"),
    ("000000000544", 188_065, "0f333d9dcd7e6ce64dcfa07b9b3ce567d0ae71b2a8a546718e27290d37d47972"),
    ("000000000564", 130_509, "348688b9f1aa993fd97cca5d863fcdf5e36bc8dc37b3c36ea21a2f4cd20858e7"),
    ("000000000569", 129_689, "3075006d2d5f04b108483df95bdee9ef6dcbc92ccb6059f4b80f40dfda5f7f51"),
    ("000000000589", 96_802, "269cc4e54c2889e38b9f7d8f15cf360447326d48cbd091db6bf5a27e8b13ed84"),
    ("000000000623", 112_452, "c6b543632d9fcd7c8eda0f1238802406f085e6239b50fa2ecbe028bd7fa2b67c"),
    ("video.avi", 1_395_096, "b73a09ea84c950383e0c354efcca019c33fdc0019850a12cdf00bc1ea827a30b"),
)


def _spec(key: str, size: int, sha256: str) -> MediaSpec:
    photo = key.isdigit()
    filename = f"COCO_val2014_{key}.jpg" if photo else key
    return MediaSpec(
        name=filename.removesuffix(".jpg") if photo else "video",
        filename=filename,
        url=HOME + filename,
        sha256=sha256,
        size=size,
        attribution=_COCO_ATTRIBUTION if photo else _VIDEO_ATTRIBUTION,
        licence=_COCO_LICENCE if photo else _VIDEO_LICENCE,
    )


MEDIA: dict[str, MediaSpec] = {spec.name: spec for spec in (_spec(*row) for row in _FILES)}

# Teaching order: photos where the small real COCO network finds several full bodies come first
# (people with >= 12 of 18 parts at the last stage, then parts found; measured with
# estimate(..., model="tfpose-mobilenet-v2-small")), the portraits and empty scenes last.
EXAMPLE_PHOTOS: tuple[str, ...] = tuple(
    f"COCO_val2014_000000000{n}"
    for n in (241, 192, 257, 488, 536, 328, 544, 395, 338, 564, 415, 474, 569, 589, 294, 428, 459, 623, 360)
)

# The offline material: one synthetic scene with several people (synthetic.make_scene arguments).
FALLBACK_SCENE = {"seed": 0, "index": 3, "size": (368, 368), "max_people": 4}


def media_spec(name: str) -> MediaSpec:
    """The registered entry ``name``; a ValueError lists the registered names."""
    if name not in MEDIA:
        raise ValueError(f"unknown example {name!r}; registered names: {', '.join(MEDIA)}")
    return MEDIA[name]


def examples_mirror() -> Path | None:
    """Folder of the example files consulted first: ``$OPENPOSE_EDU_EXAMPLES`` (or None)."""
    path = os.environ.get(MIRROR_VAR)
    return Path(path).expanduser() if path else None


def examples_cache() -> Path:
    """Download cache of the example files: ``<registry.cache_dir()>/examples``."""
    return cache_dir() / "examples"


def media_path(name: str, progress: bool = True, deadline: float | None = None) -> Path:
    """Path of the example file ``name``: mirror, then cache, then a hash-checked download.

    Raises ``MediaUnavailable`` with one message (what failed, and how to get the files) when
    the file is in neither folder and cannot be downloaded, or when the mirror's copy or the
    download has the wrong sha256.
    """
    spec = media_spec(name)
    mirror = examples_mirror()
    try:
        return fetch_file(spec, mirror, examples_cache(), progress, deadline, MIRROR_VAR)
    except (OSError, ValueError) as e:  # ConnectionError is an OSError
        cause = str(e).split("\nDownload it yourself", 1)[0]
        raise MediaUnavailable(
            f"example {name!r} ({spec.filename}) is not available: {cause}\n"
            f"To get it, download {spec.url} (sha256 {spec.sha256}, {spec.size:,} bytes) into "
            f"{examples_cache()}, or set {MIRROR_VAR} to a folder holding the files of CMU's "
            f"OpenPose examples/media (currently {mirror or 'unset'})."
        ) from None


def load_example(name: str) -> np.ndarray:
    """The example photo ``name`` as (H, W, 3) uint8 RGB (fetched by ``media_path`` if needed)."""
    spec = media_spec(name)
    if not spec.is_photo:
        raise ValueError(f"{name!r} is a video; use media_path({name!r}) and openpose_edu.video.read_frames")
    return read_image(media_path(name))


def credit(name: str) -> str:
    """One line naming the example and whose it is (for captions and printouts)."""
    spec = media_spec(name)
    return f"{spec.filename}: {spec.attribution}; {spec.licence}"


def fallback_scene() -> np.ndarray:
    """The offline material: a synthetic scene with several people, (H, W, 3) uint8 RGB."""
    return make_scene(**FALLBACK_SCENE).image


def example_or_fallback(name: str) -> tuple[np.ndarray, str]:
    """The example photo and a sentence naming it, or (offline) a synthetic scene and a sentence saying so.

    Never raises for a missing file: notebooks call this so they run top to bottom anywhere.
    """
    try:
        image = load_example(name)
    except MediaUnavailable as e:
        reason = str(e).splitlines()[-1]
        return fallback_scene(), (
            f"CMU's example photo {name} is not on this machine, so this shows a synthetic scene "
            f"instead (openpose_edu.synthetic, {FALLBACK_SCENE}). {reason}"
        )
    return image, f"CMU's example photo {name} ({_COCO_ATTRIBUTION})."
