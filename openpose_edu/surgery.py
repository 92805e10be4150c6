"""Weight surgery: a trained network made into a larger one that computes the same function.

The bundled model was not trained once: runs 1-3 trained a stride-8 network with 3x3 stage
kernels, then ``without_last_pool`` made it stride 4 (runs 4-5), ``with_stage_kernel`` grew its
stage kernels to 5x5 (run 6); ``grown`` widens one (run 7, tried, not bundled). Each keeps every weight,
and training went on from there (``train --init-from``). The history is in the model card
(openpose_edu/checkpoints/bundled.md); the network itself is ``model.OpenPoseNet``.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from .model import OpenPoseConfig, OpenPoseNet


def without_last_pool(net: OpenPoseNet) -> OpenPoseNet:
    """The same convolutions with the last max pool removed: output stride s -> s / 2.

    The last two VGG blocks become one (the bundled model's conv4_1, conv4_2 become conv3_3,
    conv3_4), so the maps have twice as many cells per side: (N, C, H/s, W/s) -> (N, C, 2H/s, 2W/s).
    Every weight is kept, in order. The layers after the removed pool now see the image at twice
    the density: their receptive field in pixels halves and a person looks twice as large to them,
    so the result must be fine-tuned (``train --init-from``) before it is any good. This is how the
    stride-4 bundled model started from the stride-8 one. Returns a new network on ``net``'s device.
    """
    c = net.config
    if len(c.vgg) < 2:
        raise ValueError("the network has one VGG block: there is no max pool left to remove")
    vgg = (*c.vgg[:-2], c.vgg[-2] + c.vgg[-1])
    config = replace(c, vgg=vgg, input=replace(c.input, stride=c.stride // 2))
    first = next(net.parameters())
    new = OpenPoseNet(config).to(device=first.device, dtype=first.dtype)
    names = list(new.state_dict())
    values = list(net.state_dict().values())  # registration order: the same convs, renamed
    new.load_state_dict(dict(zip(names, values, strict=True)))
    return new


def grown(net: OpenPoseNet, config: OpenPoseConfig, seed: int = 0) -> OpenPoseNet:
    """A larger member of the family that computes exactly the same function as ``net``.

    ``config`` may have more channels in any layer (VGG blocks, the CPM convs and so F, the stage
    widths) and larger kernels, but the same layers, stages, outputs and stride. Each old weight
    (C_out, C_in, k', k') lands in the first C_out x C_in channels and the centre of its new
    (C_out', C_in', k, k) kernel; what the old output channels would receive from the new input
    channels, or from a kernel's new outer ring, is zero. The new output channels start from
    PyTorch's default initialisation (seeded by ``seed``), so they see the image at once but
    nothing downstream sees them until training gives their outgoing weights a value. The
    concatenation [L, S, F] of stages 2..T keeps F last, so F's new channels are the last
    inputs of each Mconv1. Net2Net's idea (Chen et al., ICLR 2016), with zero weights where it
    copies units. Returns a new network on ``net``'s device; fine-tune it (``train --init-from``)
    to use what was added.
    """
    old_cfg = net.config
    if config.stride != old_cfg.stride or (config.n_stages, config.n_heatmaps, config.n_pafs) != (
        old_cfg.n_stages,
        old_cfg.n_heatmaps,
        old_cfg.n_pafs,
    ):
        raise ValueError(
            "grown keeps the stride, the number of stages and the outputs; only widths and kernels grow"
        )
    first = next(net.parameters())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        new = OpenPoseNet(config)
    new = new.to(device=first.device, dtype=first.dtype)
    target = new.state_dict()
    old = net.state_dict()
    if list(target) != list(old):
        raise ValueError(
            "grown needs the same layers (the same convs per VGG block, CPM and stage): "
            f"{len(old)} tensors in the network, {len(target)} in the config"
        )
    state = {}
    for name, value in old.items():
        big = target[name]
        if any(n < o for n, o in zip(big.shape, value.shape)) or big.ndim != value.ndim:
            raise ValueError(f"{name}: {tuple(value.shape)} cannot grow to {tuple(big.shape)}")
        out = big.clone()
        if value.ndim == 4:
            c_out, c_in, k, _ = value.shape
            ring = (big.shape[-1] - k) // 2
            out[:c_out] = 0  # old outputs: only old inputs, only the centre
            out[:c_out, :c_in, ring : ring + k, ring : ring + k] = value
        else:
            out[: value.shape[0]] = value  # biases
        state[name] = out
    new.load_state_dict(state)
    return new


def with_stage_kernel(net: OpenPoseNet, kernel: int) -> OpenPoseNet:
    """The same network with larger k x k convolutions in stages 2..T: a k' x k' kernel grown to k.

    Each Mconv kernel (C_out, C_in, k', k') is zero-padded around its centre to (C_out, C_in, k, k),
    and the 'same' padding grows with it, so the new network computes exactly the old function
    (the outer ring only ever multiplies by zero) while each of a refinement stage's k x k layers
    can now learn to look (k - k') / 2 cells further: the paper's argument for its 7x7 stages
    (7x7 in Fig. 3; Sec. 2.4: the large receptive field relates non-adjacent parts). Every other weight is
    kept as it is (``grown`` with only ``stage_kernel`` changed). This is how the 5x5 bundled
    model started from the 3x3 one; fine-tune it (``train --init-from``) to use the new reach.
    Returns a new network on ``net``'s device.
    """
    c = net.config
    if kernel % 2 != 1 or kernel < c.stage_kernel:
        raise ValueError(f"kernel must be odd and >= the current {c.stage_kernel}, got {kernel}")
    return grown(net, replace(c, stage_kernel=kernel))
