"""Typical wrong solutions of the exercises, each with a word its checker's hint must contain."""

import numpy as np
import torch

from openpose_edu.skeleton import LIMBS, PART_INDEX, PART_NAMES
from solutions import nb03, nb04, nb06, nb07


def _g(x, y, grid_size, spread, swap=False):  # noqa: ANN001, ANN202
    h, w = grid_size
    xs, ys = 3.5 + 8 * np.arange(w), 3.5 + 8 * np.arange(h)
    if swap:
        x, y = y, x
    return np.exp(-((xs[None, :] - x) ** 2 + (ys[:, None] - y) ** 2) / spread)


def _people(points, labelled, grid_size, sigma, reduce, all_people=False):  # noqa: ANN001, ANN202
    maps = [nb03.gaussian(x, y, grid_size, sigma) for (x, y), ok in zip(points, labelled) if ok or all_people]
    return reduce(np.stack(maps), axis=0) if maps else np.zeros(grid_size)


def _paf_sum(A, B, grid_size, limb_width):  # noqa: ANN001, ANN202
    return sum(
        (nb04.limb_field(a, b, grid_size, limb_width) for a, b in zip(A, B)), np.zeros((2, *grid_size))
    )


def _paf_last(A, B, grid_size, limb_width):  # noqa: ANN001, ANN202
    out = np.zeros((2, *grid_size))
    for a, b in zip(A, B):
        f = nb04.limb_field(a, b, grid_size, limb_width)
        out = np.where((f != 0).any(0), f, out)
    return out


def _integral(paf, a, b, n_samples, ends=True, normalise=True):  # noqa: ANN001, ANN202
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    if not d.any():
        return 0.0
    u = d / np.hypot(*d) if normalise else d
    t = np.linspace(0, 1, n_samples) if ends else np.linspace(0, 1, n_samples + 2)[1:-1]
    p = np.rint(a + t[:, None] * d).astype(int)
    return float(np.mean(paf[0, p[:, 1], p[:, 0]] * u[0] + paf[1, p[:, 1], p[:, 0]] * u[1]))


def _match_rows(score, valid):  # noqa: ANN001, ANN202
    out, used = [], set()
    for i in range(score.shape[0]):
        for j in np.argsort(-score[i], kind="stable"):
            if valid[i, j] and j not in used:
                out.append((i, int(j)))
                used.add(int(j))
                break
    return out


def _stage_eq1_order(L_prev, S_prev, F, phi, rho):  # noqa: ANN001, ANN202
    x = torch.cat([F, S_prev, L_prev], dim=1)  # Eq. 1's argument order, not the network's
    return phi(x), rho(x)


def _stage_swapped(L_prev, S_prev, F, phi, rho):  # noqa: ANN001, ANN202
    x = torch.cat([L_prev, S_prev, F], dim=1)
    return rho(x), phi(x)


def _paf_first_lf(F, phis, rhos):  # noqa: ANN001, ANN202
    L = [phis[0](F)]
    for phi in phis[1:]:
        L.append(phi(torch.cat([L[-1], F], dim=1)))
    S = [rhos[0](torch.cat([F, L[-1]], dim=1))]
    for rho in rhos[1:]:
        S.append(rho(torch.cat([F, S[-1], L[-1]], dim=1)))
    return L, S


def _paf_first_l1(F, phis, rhos):  # noqa: ANN001, ANN202
    L = [phis[0](F)]
    for phi in phis[1:]:
        L.append(phi(torch.cat([F, L[-1]], dim=1)))
    S = [rhos[0](torch.cat([F, L[0]], dim=1))]
    for rho in rhos[1:]:
        S.append(rho(torch.cat([F, S[-1], L[0]], dim=1)))
    return L, S


def _valid_ge(along, length, image_height, paf_threshold, min_above_fraction, distance_prior):  # noqa: ANN001, ANN202
    along = np.asarray(along, float)
    prior = min(distance_prior * image_height / length - 1, 0) if distance_prior else 0
    return bool((along > paf_threshold).mean() >= min_above_fraction and along.mean() + prior > 0)


def _valid_no_prior(along, length, image_height, paf_threshold, min_above_fraction, distance_prior):  # noqa: ANN001, ANN202
    along = np.asarray(along, float)
    return bool((along > paf_threshold).sum() > min_above_fraction * len(along) and along.mean() > 0)


def _group_first_end_only(connections, n_candidates):  # noqa: ANN001, ANN202
    person, n = -np.ones(n_candidates, dtype=np.int64), 0
    for a, b in connections:
        if person[a] == -1 and person[b] == -1:
            person[a] = person[b] = n
            n += 1
        elif person[a] != -1:
            person[b] = person[a] if person[b] == -1 else person[b]
        else:
            person[a] = person[b]
    return person


def _group_new_each(connections, n_candidates):  # noqa: ANN001, ANN202
    person = -np.ones(n_candidates, dtype=np.int64)
    for k, (a, b) in enumerate(connections):
        person[[a, b]] = k
    return person


def _match_all(score, valid):  # noqa: ANN001, ANN202
    return nb07.greedy_matching(score, np.ones_like(valid))


def _peaks_strict(heatmap, threshold):  # noqa: ANN001, ANN202
    p = np.pad(heatmap, 1)
    c = p[1:-1, 1:-1]
    keep = (c > threshold) & (c > p[:-2, 1:-1]) & (c > p[2:, 1:-1]) & (c > p[1:-1, :-2]) & (c > p[1:-1, 2:])
    y, x = np.nonzero(keep)
    return np.column_stack([x, y])


# exercise name -> [(wrong function, word the hint must contain), ...]
MISTAKES = {
    "conv_parameters": [
        (lambda c_in, c_out, k: c_in * c_out * k * k, "bias"),
        (lambda c_in, c_out, k: c_in * c_out * k + c_out, "k * k"),
    ],
    "gaussian": [
        (lambda x, y, grid_size, sigma: _g(x, y, grid_size, 2 * sigma**2), "2 sigma^2"),
        (lambda x, y, grid_size, sigma: _g(x, y, grid_size, sigma**2, swap=True), "swapped"),
    ],
    "max_over_people": [
        (
            lambda points, labelled, grid_size, sigma: _people(points, labelled, grid_size, sigma, np.sum),
            "sum",
        ),
        (
            lambda points, labelled, grid_size, sigma: _people(
                points, labelled, grid_size, sigma, np.max, True
            ),
            "unlabelled",
        ),
    ],
    "background": [
        (lambda parts: np.clip(1 - parts.sum(0), 0, None), "sum"),
        (lambda parts: parts.max(0), "minus"),
    ],
    "limb_field": [
        (
            lambda a, b, grid_size, limb_width: (
                nb04.limb_field(a, b, grid_size, limb_width) * np.hypot(*(np.asarray(b) - a))
            ),
            "normalised",
        ),
        (lambda a, b, grid_size, limb_width: nb04.limb_field(a, b, grid_size, limb_width)[::-1], "swapped"),
    ],
    "paf_average": [(_paf_sum, "sum"), (_paf_last, "overwrites")],
    "paf_channels": [
        (lambda training_order, limb: nb04.paf_channels(training_order, limb)[::-1], "swapped"),
        (
            lambda training_order, limb: tuple(c + 2 for c in nb04.paf_channels(training_order, limb)),
            "from 1",
        ),
        (
            lambda training_order, limb: (training_order.index(limb), training_order.index(limb) + 1),
            "two channels",
        ),
        (lambda training_order, limb: (2 * PART_INDEX[limb[0]], 2 * PART_INDEX[limb[0]] + 1), "per part"),
        (
            lambda training_order, limb: nb04.paf_channels(
                [(PART_NAMES[lb.a], PART_NAMES[lb.b]) for lb in LIMBS], limb
            ),
            "inference order",
        ),
    ],
    "receptive_field": [
        (lambda stages: 1 + sum(k - 1 for k in stages[-1]), "directly"),
        (lambda stages: 1 + len(stages) * sum(k - 1 for k in stages[-1]), "like the last"),
        (lambda stages: sum(1 + sum(k - 1 for k in ks) for ks in stages), "add the stages"),
        (lambda stages: sum(sum(ks) for ks in stages), "add the kernel"),
    ],
    "masked_l2": [
        (lambda prediction, target, W: float(((prediction - target) ** 2).sum()), "mask"),
        (lambda prediction, target, W: float((W * (prediction - target) ** 2).mean()), "mean"),
    ],
    "loss_over_stages": [
        (
            lambda S_stages, L_stages, S_star, L_star, W: nb06.loss_over_stages(
                S_stages[-1:], L_stages[-1:], S_star, L_star, W
            ),
            "last stage",
        ),
        (
            lambda S_stages, L_stages, S_star, L_star, W: sum(nb06.masked_l2(s, S_star, W) for s in S_stages),
            "PAF branch",
        ),
    ],
    "peaks": [
        (_peaks_strict, "plateau"),
        (lambda heatmap, threshold: nb07.peaks(heatmap, threshold)[:, ::-1], "swapped"),
    ],
    "line_integral": [
        (lambda paf, a, b, n_samples: _integral(paf, a, b, n_samples, ends=False), "end points"),
        (lambda paf, a, b, n_samples: _integral(paf, a, b, n_samples, normalise=False), "normalised"),
    ],
    "greedy_matching": [(_match_all, "not valid"), (_match_rows, "row by row")],
    "stage_forward": [(_stage_eq1_order, "order of the channels"), (_stage_swapped, "phi makes the PAFs")],
    "paf_first_forward": [(_paf_first_lf, "F first"), (_paf_first_l1, "LAST PAF stage")],
    "grid_to_pixels": [
        (lambda g, stride: stride * np.asarray(g, float), "top-left corner"),
        (lambda g, stride: stride * (np.asarray(g, float) + 0.5), "(stride - 1) / 2"),
    ],
    "limb_validity": [(_valid_ge, "EXCEED"), (_valid_no_prior, "distance prior")],
    "group_limbs": [(_group_first_end_only, "merge them"), (_group_new_each, "extends that person")],
}
