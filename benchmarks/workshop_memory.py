"""The workshop app's kernel memory over many uploads (issue 33: it grew by ~144 MB per upload).

    OPENPOSE_EDU_MIRROR=../shared/weights python benchmarks/workshop_memory.py [--uploads 12]

Builds the app as ``apps/workshop.ipynb`` does (the small real COCO network and the bundled one,
the same sample images), then uploads ``--uploads`` different photos (skimage's sample photos,
resized and re-encoded as JPEG, each a different size) through the upload widget, the way a
browser's upload reaches the kernel, and prints the process's resident set size (VmRSS of
/proc/self/status) before the first upload and after each. The app keeps its sample images and
the latest upload; an earlier upload's maps (every stage, all 57 channels at the photo's size)
are dropped when the next one arrives, so the RSS stays flat.
"""

from __future__ import annotations

import argparse
import gc
import json
from datetime import datetime, timezone

import cv2
import matplotlib.cbook
import matplotlib.pyplot as plt
import numpy as np
from skimage import data

import openpose_edu
from openpose_edu import widgets
from openpose_edu.io import resize_to_height
from openpose_edu.synthetic import VALIDATION_SEED, make_scene


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def app_inputs() -> tuple[dict, dict]:
    """The models and images of apps/workshop.ipynb."""
    models = {}
    for name, label in (
        ("tfpose-mobilenet-v2-small", "tf-pose mobilenet v2 (COCO photos)"),
        ("bundled", "bundled (synthetic scenes only)"),
    ):
        try:
            models[label] = openpose_edu.load_model(name, progress=False)
        except (OSError, ValueError, RuntimeError) as error:
            print(f"{name}: not available ({error})")
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = resize_to_height(np.ascontiguousarray(plt.imread(f)))
    astronaut = resize_to_height(data.astronaut())
    images = {
        "astronaut": astronaut,
        "grace hopper": hopper,
        "two photos": np.concatenate([astronaut, hopper], 1),
    }
    images.update(
        {f"synthetic scene {i}": make_scene(VALIDATION_SEED, i, size=(256, 256)).image for i in (0, 6, 7)}
    )
    images["cameraman"] = resize_to_height(np.stack([data.camera()] * 3, axis=-1))
    return models, images


def upload_files(n: int) -> list[dict]:
    """``n`` JPEG uploads as FileUpload's value holds them: photos of different sizes."""
    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    files = []
    for i in range(n):
        photo = photos[i % len(photos)]
        h = 400 + 40 * i  # each a new size: nothing can be shared between them
        photo = cv2.resize(photo, (round(photo.shape[1] * h / photo.shape[0]), h))
        jpeg = cv2.imencode(".jpg", photo[..., ::-1])[1].tobytes()
        files.append({"name": f"photo{i}.jpg", "type": "image/jpeg", "size": len(jpeg),
                      "content": memoryview(jpeg), "last_modified": datetime.now(timezone.utc)})  # fmt: skip
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=12)
    args = parser.parse_args()
    models, images = app_inputs()
    app = widgets.workshop(models, images)
    upload = app.controls["upload"]
    gc.collect()
    rows = [("built", rss_mb())]
    for i, f in enumerate(upload_files(args.uploads)):
        upload.value = (f,)
        gc.collect()
        rows.append((f"upload {i + 1}", rss_mb()))
        print(f"{rows[-1][0]:>10}: {rows[-1][1]:7.0f} MB  ({app.status.value[:60]})", flush=True)
    print(json.dumps({"rss_mb": dict(rows), "images_in_menu": len(app.controls["image"].options)}))


if __name__ == "__main__":
    main()
