"""Checked exercises: the learner writes one idea of the paper, the package checks it at once.

Each ``check_*`` calls the learner's function on many seeded random cases (edge cases first: a
part on the border, an unlabelled part, two people at one spot, a zero-length limb, an empty
candidate list) and compares it with the library's own implementation (groundtruth, assembly,
loss, torch's layers). It prints a verdict and returns a ``Result``:

* "passed on N cases";
* "not implemented yet: ..." when the function raises NotImplementedError (never raises, so a
  notebook with the stubs runs top to bottom);
* the first failing case (inputs, expected, got) and one hint: the checker also runs known-wrong
  variants (exp(-d^2 / 2 sigma^2), sum instead of max, an unnormalised limb vector, x/y swapped,
  the line integral without its end points, ...) and names the one the learner's output matches.

Exercises by notebook (CVPR 2017 numbering):
02 ``check_conv_parameters``; 03 ``check_gaussian`` (Eq. 6), ``check_max_over_people`` (Eq. 7),
``check_background``; 04 ``check_limb_field`` (Eq. 8), ``check_paf_average`` (Eq. 9),
``check_paf_channels`` (the training order); 05 ``check_receptive_field`` (Fig. 3, through
every stage); 06 ``check_masked_l2`` (Eq. 3),
``check_loss_over_stages`` (Eq. 5); 07 ``check_peaks`` (NMS), ``check_line_integral``
(Eq. 10-11), ``check_greedy_matching`` (Sec. 2.4). Building the pipeline: 02
``check_stage_forward`` (Eq. 1-2, the concat [L, S, F]), ``check_paf_first_forward`` (TPAMI 2019
Sec. 3.1), ``check_grid_to_pixels``; 07 ``check_limb_validity``, ``check_group_limbs`` (Eq. 15).
Reference solutions: ``solutions/``.

Modules: ``checker`` (Exercise, run, Result), ``maps`` (03, 04), ``network`` (02, 05), ``losses``
(06), ``parsing`` (07), ``forward`` (02), ``grouping`` (07); the names below are the
notebooks' (``exercises.check_gaussian``).
"""

from .checker import Exercise, Result, run
from .forward import (
    GRID_TO_PIXELS,
    PAF_FIRST_FORWARD,
    STAGE_FORWARD,
    check_grid_to_pixels,
    check_paf_first_forward,
    check_stage_forward,
)
from .grouping import GROUP_LIMBS, LIMB_VALIDITY, check_group_limbs, check_limb_validity
from .losses import LOSS_OVER_STAGES, MASKED_L2, check_loss_over_stages, check_masked_l2
from .maps import (
    BACKGROUND,
    GAUSSIAN,
    LIMB_FIELD,
    MAX_OVER_PEOPLE,
    PAF_AVERAGE,
    PAF_CHANNELS,
    check_background,
    check_gaussian,
    check_limb_field,
    check_max_over_people,
    check_paf_average,
    check_paf_channels,
)
from .network import (
    CONV_PARAMETERS,
    RECEPTIVE_FIELD,
    check_conv_parameters,
    check_receptive_field,
    measured_receptive_field,
    measured_stage_receptive_field,
    stage_kernels,
)
from .parsing import (
    GREEDY_MATCHING,
    LINE_INTEGRAL,
    PEAKS,
    check_greedy_matching,
    check_line_integral,
    check_peaks,
)

EXERCISES: dict[str, Exercise] = {
    e.name: e
    for e in (
        CONV_PARAMETERS, GAUSSIAN, MAX_OVER_PEOPLE, BACKGROUND, LIMB_FIELD, PAF_AVERAGE, PAF_CHANNELS,
        RECEPTIVE_FIELD, MASKED_L2, LOSS_OVER_STAGES, PEAKS, LINE_INTEGRAL, GREEDY_MATCHING,
        STAGE_FORWARD, PAF_FIRST_FORWARD, GRID_TO_PIXELS, LIMB_VALIDITY, GROUP_LIMBS,
    )
}  # fmt: skip

__all__ = [
    "EXERCISES",
    "GRID_TO_PIXELS",
    "GROUP_LIMBS",
    "LIMB_VALIDITY",
    "PAF_FIRST_FORWARD",
    "STAGE_FORWARD",
    "check_grid_to_pixels",
    "check_group_limbs",
    "check_limb_validity",
    "check_paf_first_forward",
    "check_stage_forward",
    "BACKGROUND",
    "CONV_PARAMETERS",
    "Exercise",
    "GAUSSIAN",
    "GREEDY_MATCHING",
    "LIMB_FIELD",
    "LINE_INTEGRAL",
    "LOSS_OVER_STAGES",
    "MASKED_L2",
    "MAX_OVER_PEOPLE",
    "PAF_AVERAGE",
    "PAF_CHANNELS",
    "PEAKS",
    "RECEPTIVE_FIELD",
    "Result",
    "check_background",
    "check_conv_parameters",
    "check_gaussian",
    "check_greedy_matching",
    "check_limb_field",
    "check_line_integral",
    "check_loss_over_stages",
    "check_masked_l2",
    "check_max_over_people",
    "check_paf_average",
    "check_paf_channels",
    "check_peaks",
    "check_receptive_field",
    "measured_receptive_field",
    "measured_stage_receptive_field",
    "run",
    "stage_kernels",
]
