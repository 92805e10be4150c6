"""Caffe prototxt layers as data: ``CaffeLayer`` and the text of one ``layer { ... }`` block.

Shared by both network families (``model.OpenPoseConfig`` and ``body25.Body25Config`` each list
their own layers); ``formats.caffe`` reads and writes the files with them. No framework needed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaffeLayer:
    """One layer of the prototxt: enough to write it and to match it to a torch module."""

    name: str  # Caffe layer name, e.g. "Mconv1_stage2_L1" (also the torch module name)
    type: str  # "Convolution", "ReLU", "Pooling" or "Concat"
    bottoms: tuple[str, ...]
    top: str
    num_output: int = 0  # Convolution only
    kernel: int = 0  # Convolution / Pooling
    pad: int = 0  # Convolution only
    c_in: int = 0  # Convolution only (not written; the weight blob's second axis)
    lr_mult: float = 1.0  # the training prototxt's learning-rate multiplier (4 for stages >= 2)


def render_layer(layer: CaffeLayer, deploy_only: bool = False) -> str:
    """One ``layer { ... }`` block of a prototxt, in the style of CMU's files.

    deploy_only=False: as in pose_deploy_linevec.prototxt (COCO), whose convolutions keep the
    training file's lr_mult/decay_mult params and weight/bias fillers. deploy_only=True: as in
    body_25/pose_deploy.prototxt, which has neither (the two files differ only there).
    """
    lines = ["layer {", f'  name: "{layer.name}"', f'  type: "{layer.type}"']
    lines += [f'  bottom: "{b}"' for b in layer.bottoms]
    if layer.name == layer.top or layer.type != "Concat":
        lines.append(f'  top: "{layer.top}"')
    else:
        lines += [f'  # top: "{layer.name}"', f'  top: "{layer.top}"']  # as in CMU's file
    if layer.type == "Convolution":
        lr = layer.lr_mult
        if not deploy_only:
            lines += ["  param {", f"    lr_mult: {lr:.1f}", "    decay_mult: 1", "  }"]
            lines += ["  param {", f"    lr_mult: {2 * lr:.1f}", "    decay_mult: 0", "  }"]
        lines += ["  convolution_param {", f"    num_output: {layer.num_output}"]
        lines += [f"    pad: {layer.pad}", f"    kernel_size: {layer.kernel}"]
        if not deploy_only:
            lines += ["    weight_filler {", '      type: "gaussian"', "      std: 0.01", "    }"]
            lines += ["    bias_filler {", '      type: "constant"', "    }"]
        lines.append("  }")
    elif layer.type == "Pooling":
        lines += ["  pooling_param {", "    pool: MAX", "    kernel_size: 2", "    stride: 2", "  }"]
    elif layer.type == "Concat":
        lines += ["  concat_param {", "    axis: 1", "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"
