"""The learner's own camera, stage by stage: an anywidget streaming webcam frames to the kernel.

The browser side (``_ESM``, a small ES module) calls ``navigator.mediaDevices.getUserMedia``,
draws the video on a canvas and sends one JPEG at a time to the kernel; it sends the next one
only when the kernel's answer to the previous one has arrived (and not more often than
``max_fps``), so frames are dropped while the kernel is busy and nothing ever queues. The
kernel side, ``process_frame``, runs the one inference path (``inference.estimate`` at the
chosen stage t: the stage's S^t, L^t (Eq. 1, 2) and the people parsed from them, Fig. 2) and
answers with the frame, the chosen map (S^t_j or L^t_c) and the people drawn, as a JPEG.
``process_frame`` needs no browser: tests and ``benchmarks/live.py`` call it directly.

No camera, or no permission: the widget shows the browser's reason in plain words.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch

from .inference import estimate, output_spec_of, preprocess
from .io import decode_image
from .runtime import ThreadPolicy, compile_model
from .video import MapView, overlay_map
from .viz import draw_people
from .weights import load_model
from .widgets.base import limb_options, part_options

_ESM = r"""
function render({ model, el }) {
  el.classList.add("openpose-camera");
  const bar = document.createElement("div");
  const button = document.createElement("button");
  button.className = "openpose-camera-toggle jupyter-button";
  button.textContent = "start camera";
  const info = document.createElement("span");
  info.className = "openpose-camera-info";
  info.style.marginLeft = "1em";
  bar.append(button, info);
  const picture = document.createElement("img");
  picture.className = "openpose-camera-picture";
  picture.style.maxWidth = "100%";
  picture.style.display = "block";
  const video = document.createElement("video");
  video.muted = true; video.playsInline = true; video.style.display = "none";
  const canvas = document.createElement("canvas");
  el.append(bar, picture, video);
  let stream = null, busy = false, last = 0, url = null;
  const times = [];

  function say(text) { info.textContent = text; model.set("message", text); model.save_changes(); }

  function sendFrame() {
    if (!stream || busy) return;  // kernel busy: this frame is dropped, never queued
    const now = performance.now();
    if (now - last < 1000 / model.get("max_fps")) return;
    if (!video.videoWidth) return;
    const w = model.get("width"), h = Math.round(w * video.videoHeight / video.videoWidth);
    canvas.width = w; canvas.height = h;
    canvas.getContext("2d").drawImage(video, 0, 0, w, h);
    busy = true; last = now;
    canvas.toBlob(async (blob) => {
      if (!blob || !stream) { busy = false; return; }
      const buf = await blob.arrayBuffer();
      model.send({ type: "frame" }, undefined, [buf]);
    }, "image/jpeg", 0.8);
  }

  function loop() { if (stream) { sendFrame(); requestAnimationFrame(loop); } }

  model.on("msg:custom", (msg, buffers) => {
    if (msg.type !== "result") return;
    busy = false;
    if (!stream) return;
    const blob = new Blob([buffers[0]], { type: "image/jpeg" });
    if (url) URL.revokeObjectURL(url);
    url = URL.createObjectURL(blob);
    picture.src = url;
    const now = performance.now();
    times.push(now);
    while (times.length && now - times[0] > 10000) times.shift();
    const fps = times.length > 1 ? (times.length - 1) * 1000 / (now - times[0]) : 0;
    model.set("fps", fps); model.save_changes();
    info.textContent = `${fps.toFixed(1)} frames/s, ${msg.people} people, kernel ${msg.ms.toFixed(0)} ms`;
  });

  async function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say("No camera here: this browser gives no camera access (it needs https or localhost).");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    } catch (e) {
      stream = null;
      const why = e && e.name === "NotAllowedError" ? "permission to use the camera was refused"
        : e && e.name === "NotFoundError" ? "no camera was found" : `the camera could not start (${e})`;
      say(`No camera: ${why}. The rest of the notebook works without one.`);
      return;
    }
    video.srcObject = stream;
    await video.play();
    button.textContent = "stop camera";
    model.set("running", true); model.save_changes();
    say("camera on, waiting for the first frame...");
    busy = false; loop();
  }

  function stop() {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null; busy = false;
    button.textContent = "start camera";
    model.set("running", false); model.save_changes();
    say("camera stopped");
  }

  button.addEventListener("click", () => (stream ? stop() : start()));
  return () => stop();
}
export default { render };
"""


@dataclass
class FrameResult:
    """What the kernel answers for one frame: the picture, the people, and where the time went."""

    jpeg: bytes  # the frame with the map and the people drawn
    keypoints: np.ndarray  # (P, J, 3) [x, y, score] in frame pixels (J: the model's skeleton)
    timings: dict[str, float] = field(default_factory=dict)  # seconds: decode, network+parse, render, encode


def decode_jpeg(data: bytes) -> np.ndarray:
    """JPEG bytes from the browser -> uint8 (H, W, 3) RGB. Raises ValueError if they are not an image."""
    try:  # empty bytes, a header over io.MAX_IMAGE_PIXELS, not an image: ValueError, before decoding
        image = decode_image(data, f"the {len(data)} bytes received")
    except ValueError as e:
        raise ValueError(f"cannot decode the {len(data)} bytes received as a JPEG image ({e})") from None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)  # a strided numpy copy took 1 ms of a frame


def encode_jpeg(rgb: np.ndarray, quality: int = 80) -> bytes:
    """uint8 (H, W, 3) RGB -> JPEG bytes."""
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"OpenCV cannot encode an image of shape {rgb.shape} as JPEG")
    return buf.tobytes()


def process_frame(model: Any, data: bytes, view: MapView, params: Any = None) -> FrameResult:
    """One camera frame through the pipeline at stage t (Fig. 2): JPEG in, JPEG out.

    decode -> ``estimate(frame, stage=t)`` (network to stage t, S^t and L^t, Eq. 1-2, then the
    parse, Eq. 10-15) -> the chosen map S^t_j / L^t_c and the people drawn -> JPEG. The people
    are those stage t's maps give: stage 1's are fewer and wronger than stage 6's.
    """

    t0 = time.perf_counter()
    frame = decode_jpeg(data)
    t1 = time.perf_counter()
    poses = estimate(frame, model=model, params=params, stage=view.stage)
    t2 = time.perf_counter()
    picture = draw_people(
        overlay_map(frame, poses.maps.S, poses.maps.L_grid, view), poses.keypoints, skeleton=poses.skeleton
    )
    t3 = time.perf_counter()
    jpeg = encode_jpeg(picture)
    t4 = time.perf_counter()
    timings = {"decode": t1 - t0, "network+parse": t2 - t1, "render": t3 - t2, "encode": t4 - t3}
    return FrameResult(jpeg=jpeg, keypoints=poses.keypoints, timings=timings)


def load_live_model(name: str = "tfpose-mobilenet-v2-small") -> tuple[Any, str]:
    """The small real network if its weights can be had, else the bundled one; and a note saying which."""

    try:
        return load_model(name), f"model: {name} (real COCO network)"
    except (OSError, ValueError, KeyError, ImportError) as e:
        note = (
            f"model: bundled (synthetic scenes only: it will not find real people). {name} unavailable: {e}"
        )
        return load_model(None), note


def camera_widget(model: Any = None, width: int = 640, max_fps: float = 15.0, runtime: str = "auto") -> Any:
    """The camera with controls: the widget, stage / map / part / limb choosers and the model note.

    model: a model object, or None for ``load_live_model()``. ``width``: frames are scaled to this
    width in the browser before they are sent. ``runtime``: "auto" (the compiled path,
    ``runtime.compile_model``, when openvino is installed), "openvino" or "eager"; the line
    under the picture says which runs. Threads per frame: ``runtime.ThreadPolicy``. Returns an
    ipywidgets VBox; ``.camera`` is the anywidget (its ``frames``, ``fps``, ``message`` and ``running`` traits
    show what happened), ``.model`` the model that runs.
    """
    import anywidget  # the notebook packages are imported where used: the command line needs none
    import ipywidgets as w
    import traitlets

    note = "model: given"
    if model is None:
        model, note = load_live_model()
    n_stages = int(getattr(model, "n_stages", 0) or 0) or _count_stages(model)
    model, runs = compile_model(model, runtime)
    policy = ThreadPolicy()

    class Camera(anywidget.AnyWidget):
        _esm = _ESM
        width = traitlets.Int(640).tag(sync=True)
        max_fps = traitlets.Float(15.0).tag(sync=True)
        fps = traitlets.Float(0.0).tag(sync=True)
        running = traitlets.Bool(False).tag(sync=True)
        message = traitlets.Unicode("").tag(sync=True)
        frames = traitlets.Int(0).tag(sync=True)
        people = traitlets.Int(0).tag(sync=True)

    camera = Camera(width=width, max_fps=max_fps)
    stage = w.IntSlider(value=n_stages, min=1, max=n_stages, description="stage t")
    kind = w.ToggleButtons(options=[("S (parts)", "S"), ("L (limbs)", "L")], value="S", description="map")
    skeleton = output_spec_of(model).skeleton  # the model's parts and limbs (COCO-18 or BODY_25)
    part = w.Dropdown(options=part_options(skeleton), description="part")  # the stage explorer's menus
    limb = w.Dropdown(options=limb_options(skeleton), description="limb")

    def on_msg(_widget: Any, content: dict, buffers: list) -> None:
        if content.get("type") != "frame" or not buffers:
            return
        index = part.value if kind.value == "S" else limb.value  # -1: all parts / all limbs
        view = MapView(kind.value, None if index < 0 else index, stage.value)
        start = time.perf_counter()
        try:
            with policy.frame():
                result = process_frame(model, bytes(buffers[0]), view)
        except Exception as e:  # noqa: BLE001 - every frame gets a reply: the browser waits for one
            camera.message = f"frame skipped: {(str(e) or type(e).__name__).splitlines()[0]}"
            camera.send({"type": "result", "people": 0, "ms": 0.0}, [b""])
            return
        camera.frames += 1
        camera.message = ""
        camera.people = len(result.keypoints)
        ms = 1000 * (time.perf_counter() - start)
        camera.send({"type": "result", "people": len(result.keypoints), "ms": ms}, [result.jpeg])

    camera.on_msg(on_msg)
    box = w.VBox([w.HTML(f"<small>{note}</small>"), w.HBox([stage, kind]), w.HBox([part, limb]), camera])
    box.children += (w.HTML(f"<small>{runs}</small>"),)  # which runtime runs the frames, last
    box.camera, box.stage, box.kind, box.part, box.limb = camera, stage, kind, part, limb
    box.model, box.policy = model, policy
    return box


def _count_stages(model: Any) -> int:
    """Number of stages T of a model: its forward's S list length on a small input."""

    x, _ = preprocess(np.zeros((64, 64, 3), np.uint8), model.input_spec)
    with torch.no_grad():
        return len(model(x).S)
