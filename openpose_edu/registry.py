"""The registry of named weights and how a name becomes a checked file on disk.

``REGISTRY`` maps each name (bundled, cmu-coco, cmu-coco-pth, tfpose-mobilenet-v2-small,
cmu-body25) to a ``WeightSpec``: file name, download URLs, digest, size, licence, loader.
``fetch(name)`` finds the file: first in the mirror directory ``$OPENPOSE_EDU_MIRROR``, then in
the cache ``$OPENPOSE_EDU_CACHE`` (default ``~/.cache/openpose_edu``), then by download; the
hash is checked before anything is used, and a failed download leaves nothing behind. Loading a
file into a model is weights.py's (``load_model``). ``fetch_file`` is that mirror -> cache ->
download path for any registered file; the example-media registry (media.py) uses it too.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .io import atomic_write
from .model import ModelCard

# A download must finish within this many seconds (a server trickling bytes cannot hold fetch
# for hours); .part files older than this are left by a killed fetch and removed by the next.
DOWNLOAD_DEADLINE_S = 900.0
SIZE_MARGIN = 1 << 20  # bytes beyond a registered size before a download is cut off
# errno values of a failed write or rename on this machine, not of the network.
_LOCAL_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.EFBIG,
    errno.EEXIST,
    errno.ENOTEMPTY,
}
BUNDLED_PATH = Path(__file__).resolve().parent / "checkpoints" / "bundled.pt"
_CMU_LICENCE = (
    "CMU OpenPose licence: academic or non-profit non-commercial research use only "
    "(https://github.com/CMU-Perceptual-Computing-Lab/openpose/blob/master/LICENSE)"
)


@dataclass(frozen=True)
class WeightSpec:
    """One registered weights file: where it comes from, how to check it, how to load it."""

    name: str  # registry name, e.g. "cmu-coco"
    filename: str  # file name in the mirror / cache directories
    urls: tuple[str, ...]  # download locations, tried in order (current one first)
    sha256: str | None = None  # hex digest; at least one of sha256 / md5 for downloadable files
    md5: str | None = None  # only where the publisher gives no sha256 (CMU's caffemodel)
    size: int | None = None  # bytes, where known
    # Bytes a download may not exceed where the exact size is not published (its float32 weights
    # plus room for the container): every downloadable entry has ``size`` or ``max_size``, so an
    # endless body is cut off instead of filling the disk.
    max_size: int | None = None
    licence: str = ""
    attribution: str = ""
    loader: str = ""  # "module:function" called as function(path, device) -> model
    description: str = ""
    path: Path | None = None  # set for files that ship inside the package (no download)
    trained_on: str = "COCO"  # what the network has seen: "COCO" or "synthetic scenes"
    skeleton: str = "COCO18"  # skeleton.SKELETONS name; a loaded model checks it against its output_spec

    @property
    def card(self) -> ModelCard:
        """The model card every model loaded from this entry carries (``model.card``)."""
        return ModelCard(
            name=self.name,
            trained_on=self.trained_on,
            licence=self.licence,
            home=self.urls[0] if self.urls else "",
            skeleton=self.skeleton,
        )

    @property
    def algorithm(self) -> str:
        return "sha256" if self.sha256 else "md5"

    @property
    def digest(self) -> str | None:
        return self.sha256 or self.md5


REGISTRY: dict[str, WeightSpec] = {
    spec.name: spec
    for spec in (
        WeightSpec(
            name="bundled",
            filename="bundled.pt",
            urls=(),
            sha256="0be7f3e05343fc6269010dd38ace23d892969ce70d7f33c6ef8ce5c9afd14958",  # checked on load
            licence="MIT (trained by this package on synthetic scenes)",
            attribution="openpose_edu, trained with openpose_edu.train (see checkpoints/ model card)",
            loader="openpose_edu.weights:load_checkpoint_model",
            description="small network of the paper's family trained on synthetic.py's scenes",
            path=BUNDLED_PATH,
            trained_on="synthetic scenes only (openpose_edu.synthetic; it has never seen a photo)",
        ),
        WeightSpec(
            name="cmu-coco",
            filename="pose_iter_440000.caffemodel",
            urls=(
                "http://vcl.snu.ac.kr/OpenPose/models/pose/coco/pose_iter_440000.caffemodel",
                "http://posefs1.perception.cs.cmu.edu/OpenPose/models/pose/coco/pose_iter_440000.caffemodel",
                "http://posefs1.perception.cs.cmu.edu/Users/ZheCao/pose_iter_440000.caffemodel",
            ),
            md5="5156d31f670511fce9b4e28b403f2939",  # OpenPose CMakeLists.txt download_model
            # The network has 52,311,446 parameters (OpenPoseConfig.paper()): 209,245,784 bytes of
            # float32; the PyTorch conversion of this file is 209,267,595 bytes.
            max_size=212_000_000,
            licence=_CMU_LICENCE,
            attribution="Cao, Simon, Wei, Sheikh (CMU Perceptual Computing Lab): OpenPose COCO model",
            loader="openpose_edu.weights:load_caffemodel",
            description="CMU's original COCO network (pose_deploy_linevec.prototxt), Caffe weights",
        ),
        WeightSpec(
            name="cmu-body25",
            filename="pose_iter_584000.caffemodel",
            urls=(  # tried in order; each download is checked against the md5 below
                # OpenPose's CMakeLists.txt download_model("BODY_25") (CMU's current host)
                "http://vcl.snu.ac.kr/OpenPose/models/pose/body_25/pose_iter_584000.caffemodel",
                # CMU's models/getModels.sh and installation docs (the original host)
                "http://posefs1.perception.cs.cmu.edu/OpenPose/models/pose/body_25/pose_iter_584000.caffemodel",
                # public mirrors: Hugging Face camenduru/openpose at a fixed commit, the
                # Musical Gestures Toolbox's (University of Oslo) pose-models folder, and the
                # Dropbox copy a fork's getModels.sh names
                "https://huggingface.co/camenduru/openpose/resolve/f4a22b0e6fa2a4a2b1e2d50bd589e8bb11ebea7c/"
                "pose_iter_584000.caffemodel",
                "https://www.uio.no/ritmo/english/research/labs/fourms/software/musicalgesturestoolbox/"
                "mgt-python/pose-models/body25/pose_iter_584000.caffemodel",
                "https://www.dropbox.com/s/3x0xambj2rkyrap/pose_iter_584000.caffemodel?dl=1",
            ),
            md5="78287b57cf85fa89c03f1393d368e5b7",  # OpenPose CMakeLists.txt download_model("BODY_25")
            size=104_715_850,  # a public copy (docs/body25_facts.md); 26,166,084 float32 parameters
            licence=_CMU_LICENCE,
            attribution="Cao, Hidalgo, Simon, Wei, Sheikh (CMU Perceptual Computing Lab): OpenPose BODY_25",
            loader="openpose_edu.body25:load_caffemodel",
            description="CMU BODY_25 (2019, PAF-first; body_25/pose_deploy.prototxt), Caffe weights",
            skeleton="BODY25",
        ),
        WeightSpec(
            name="cmu-coco-pth",
            filename="body_pose_model.pth",
            urls=(
                "https://huggingface.co/lllyasviel/Annotators/resolve/main/body_pose_model.pth",
                "https://huggingface.co/lllyasviel/ControlNet/resolve/main/annotator/ckpts/body_pose_model.pth",
            ),
            sha256="25a948c16078b0f08e236bda51a385d855ef4c153598947c28c0d47ed94bb746",
            size=209_267_595,
            licence=_CMU_LICENCE,
            attribution="CMU's COCO model, converted to PyTorch by Hzzone/pytorch-openpose",
            loader="openpose_edu.weights:load_pth",
            description="CMU's original COCO network as a PyTorch state dict (bare Caffe layer names)",
        ),
        WeightSpec(
            name="tfpose-mobilenet-v2-small",
            filename="tf-pose-mobilenet_v2_small-graph_opt.pb",
            urls=(
                "https://raw.githubusercontent.com/ildoonet/tf-pose-estimation/"
                "9aaf34708e9863eeab9685a7ec52a45f3b576e2d/models/graph/mobilenet_v2_small/graph_opt.pb",
            ),
            sha256="428a9d6e7bfc0319e1ce4de8c0191a9111cd281bea6ae2b496fd42c92d574160",
            size=2_096_019,
            licence="Apache-2.0 (tf-pose-estimation)",
            attribution="Ildoo Kim and contributors, ildoonet/tf-pose-estimation: mobilenet_v2_small",
            loader="openpose_edu.formats.tfgraph:load_tfgraph",
            description="small real COCO-trained OpenPose network (MobileNetV2 backbone, 6 stages)",
        ),
    )
}


def weight_spec(name: str) -> WeightSpec:
    """The registered entry ``name``; a ValueError lists the registered names."""
    if name not in REGISTRY:
        raise ValueError(f"unknown weights {name!r}; registered names: {sorted(REGISTRY)}")
    return REGISTRY[name]


def cache_dir() -> Path:
    """Download cache: ``$OPENPOSE_EDU_CACHE``, default ``~/.cache/openpose_edu``."""
    return Path(os.environ.get("OPENPOSE_EDU_CACHE") or Path.home() / ".cache" / "openpose_edu").expanduser()


def mirror_dir() -> Path | None:
    """Directory of real files consulted before the network: ``$OPENPOSE_EDU_MIRROR`` (or None)."""
    path = os.environ.get("OPENPOSE_EDU_MIRROR")
    return Path(path).expanduser() if path else None


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB blocks (the CMU model is ~200 MB)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _matches(spec: Any, path: Path) -> tuple[bool, str]:
    if spec.digest is None:
        return True, ""
    actual = file_digest(path, spec.algorithm)
    return actual == spec.digest.lower(), actual


class _LocalWriteError(OSError):
    """Writing the downloaded bytes failed here (disk full, read-only), not on the network."""


def _expected(spec: WeightSpec) -> str:
    return f"{spec.size:,}" if spec.size else f"at most {spec.max_size:,}"


def _download(
    url: str, f: Any, spec: Any, progress: bool, timeout: float = 30.0, deadline: float | None = None
) -> None:
    """Stream ``url`` into the open file ``f`` (a temporary file) with a tqdm bar, checking its hash.

    Stops at the registered size (+ ``SIZE_MARGIN``) and at ``deadline`` seconds overall
    (default ``DOWNLOAD_DEADLINE_S``). Raises ValueError for wrong content (hash, size; naming
    expected and actual), _LocalWriteError when the file cannot be written, and
    OSError/URLError/TimeoutError on network failures; the caller deletes the temporary file.
    """
    deadline = DOWNLOAD_DEADLINE_S if deadline is None else deadline
    t_end = time.monotonic() + deadline
    limit = spec.size + SIZE_MARGIN if spec.size else spec.max_size
    h = hashlib.new(spec.algorithm)
    request = urllib.request.Request(url, headers={"User-Agent": "openpose_edu"})
    with urllib.request.urlopen(request, timeout=min(timeout, deadline)) as response:
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if limit is not None and length is not None and length > limit:
            raise ValueError(
                f"{spec.filename} at {url} is {length:,} bytes, expected {_expected(spec)}; not downloaded"
            )
        received = 0
        with tqdm(
            total=length or spec.size, unit="B", unit_scale=True, desc=spec.filename, disable=not progress
        ) as bar:
            # read1: what has arrived (up to 64 KiB), so a trickling server meets the deadline check
            read = getattr(response, "read1", response.read)
            for block in iter(lambda: read(1 << 16), b""):
                received += len(block)
                if limit is not None and received > limit:
                    raise ValueError(
                        f"{spec.filename} from {url}: more than {limit:,} bytes, expected {_expected(spec)}; "
                        "download stopped and discarded"
                    )
                if time.monotonic() > t_end:
                    raise TimeoutError(
                        f"{url}: not finished after {deadline:.0f} s ({received:,} bytes received); "
                        "the server is too slow"
                    )
                try:
                    f.write(block)
                except OSError as e:
                    raise _LocalWriteError(e.errno, e.strerror) from e
                h.update(block)
                bar.update(len(block))
    if length is not None and received != length:  # urllib returns a cut body without complaint
        raise ConnectionError(f"{url}: connection closed after {received:,} of {length:,} bytes")
    actual = h.hexdigest()
    if spec.digest is not None and actual != spec.digest.lower():
        raise ValueError(
            f"{spec.filename} downloaded from {url} has {spec.algorithm} {actual} ({received:,} bytes), "
            f"expected {spec.digest}" + (f" ({spec.size:,} bytes)" if spec.size else "") + "; file discarded"
        )


def _clean_stale_parts(folder: Path, filename: str, older_than: float) -> None:
    """Remove ``.<filename>.*.part`` files a killed fetch left (none can still be written to)."""
    now = time.time()
    for part in folder.glob(f".{filename}.*.part"):
        try:
            if now - part.stat().st_mtime > older_than:
                part.unlink()
        except OSError:
            pass


def fetch(name: str, progress: bool = True, deadline: float | None = None) -> Path:
    """Path of the registered file ``name``: mirror, then cache, then download (hash-checked).

    1. ``$OPENPOSE_EDU_MIRROR/<filename>`` if it exists (must match the hash; never modified).
    2. ``<cache_dir()>/<filename>`` if it exists and matches (a mismatching one is replaced).
    3. Each URL in turn, streamed to a temporary file in the cache directory, hash-checked, then
       renamed into place (atomic), so no half-written or wrong file is ever left under the name.
       Each download has ``deadline`` seconds (default ``DOWNLOAD_DEADLINE_S``) and stops at the
       registered size; ``.part`` files of killed fetches are removed first.
    """
    spec = weight_spec(name)
    if spec.path is not None:  # ships with the package
        return _packaged(spec)
    return fetch_file(spec, mirror_dir(), cache_dir(), progress, deadline)


def fetch_file(
    spec: Any,
    mirror: Path | None,
    cache: Path,
    progress: bool = True,
    deadline: float | None = None,
    mirror_var: str = "OPENPOSE_EDU_MIRROR",
) -> Path:
    """Mirror, then cache, then download (hash-checked, atomic) for any registered file ``spec``.

    ``spec`` needs ``name``, ``filename``, ``urls``, ``algorithm``, ``digest`` and ``size`` (a
    WeightSpec or media.MediaSpec); ``mirror_var`` is the environment variable that names
    ``mirror``, quoted in the messages. Raises ValueError for a wrong file (mirror or download)
    and ConnectionError when no URL could be downloaded, each saying where to put the file.
    """
    return (
        _from_mirror(spec, mirror, mirror_var)
        or _from_cache(spec, cache)
        or _download_to_cache(spec, mirror, progress, deadline, cache, mirror_var)
    )


def _packaged(spec: WeightSpec) -> Path:
    """A file that ships inside the package: there and unchanged, or a clear error."""
    name = spec.name
    if not spec.path.is_file():
        raise FileNotFoundError(
            f"the {name!r} checkpoint is missing at {spec.path}; it is made by the training "
            "helper (python -m openpose_edu.train) and ships with the package. Reinstall the "
            "package, or pass another registered name: " + ", ".join(sorted(set(REGISTRY) - {name}))
        )
    ok, actual = _matches(spec, spec.path)
    if not ok:
        raise ValueError(
            f"the {name!r} checkpoint {spec.path} is damaged: sha256 {actual}, expected {spec.digest}; "
            "reinstall the package (pip install --force-reinstall openpose_edu) or restore the file"
        )
    return spec.path


def _from_mirror(spec: Any, mirror: Path | None, mirror_var: str = "OPENPOSE_EDU_MIRROR") -> Path | None:
    """Step 1: ``$<mirror_var>/<filename>`` if it is there (it must match; never modified)."""
    if mirror is not None and (mirror / spec.filename).is_file():
        path = mirror / spec.filename
        ok, actual = _matches(spec, path)
        if not ok:
            raise ValueError(
                f"{path} (from {mirror_var}) has {spec.algorithm} {actual}, expected {spec.digest}; "
                f"replace it with the published file or unset {mirror_var}"
            )
        return path
    return None


def _from_cache(spec: Any, cache: Path | None = None) -> Path | None:
    """Step 2: the cached file if it matches (a mismatching one is removed, to be fetched again)."""
    name = spec.name
    cache = cache_dir() if cache is None else cache
    target = cache / spec.filename
    if target.exists() and not target.is_file():
        raise IsADirectoryError(
            f"{target} is a directory (or not a regular file), where the download of {name!r} belongs; "
            "remove it or set OPENPOSE_EDU_CACHE to another folder"
        )
    if target.is_file():
        ok, _ = _matches(spec, target)
        if ok:
            return target
        target.unlink()  # a corrupted or outdated cache entry: fetch it again
    return None


def _download_to_cache(
    spec: Any,
    mirror: Path | None,
    progress: bool,
    deadline: float | None,
    cache: Path | None = None,
    mirror_var: str = "OPENPOSE_EDU_MIRROR",
) -> Path:
    """Step 3: each URL in turn into the cache, atomically; the error says what failed and what to do."""
    name = spec.name
    cache = cache_dir() if cache is None else cache
    target = cache / spec.filename
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(
            e.errno, f"cannot create the cache folder {cache} ({e.strerror}); set OPENPOSE_EDU_CACHE"
        ) from None
    _clean_stale_parts(cache, spec.filename, DOWNLOAD_DEADLINE_S if deadline is None else deadline)
    failures: list[str] = []
    wrong_content = False
    for url in spec.urls:
        try:
            with atomic_write(target) as f:  # a temporary file renamed into place: complete or absent
                _download(url, f, spec, progress, deadline=deadline)
            return target
        except ValueError as e:  # wrong content: try the next URL, report if none is right
            failures.append(str(e))
            wrong_content = True
        except (OSError, http.client.HTTPException) as e:  # URLError, timeouts, cut connections
            if (
                isinstance(e, OSError)
                and e.errno in _LOCAL_ERRNOS
                and not isinstance(e, urllib.error.URLError)
            ):
                raise OSError(
                    e.errno,
                    f"cannot write the download of {name!r} to {cache} ({e.strerror or e}); "
                    "free disk space or set OPENPOSE_EDU_CACHE to a writable folder with room",
                ) from None
            failures.append(str(e) if url in str(e) else f"{url}: {e}")
    where = f"${mirror_var}/{spec.filename}" + (f" (= {mirror / spec.filename})" if mirror else "")
    # A wrong file is a content problem (ValueError); otherwise the network failed.
    raise (ValueError if wrong_content else ConnectionError)(
        f"could not get {spec.filename!r} for {name!r}:\n  "
        + "\n  ".join(failures or ["no download URL registered"])
        + f"\nDownload it yourself from {spec.urls[0] if spec.urls else '(no URL)'} "
        f"({spec.algorithm} {spec.digest}) and put it at {target} or at {where}."
    )
