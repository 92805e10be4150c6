"""Every exercise: the reference solution passes, typical wrong solutions fail with their hint."""

import pytest
from exercise_mistakes import MISTAKES

from openpose_edu import exercises
from solutions import nb02, nb03, nb04, nb05, nb06, nb07

SOLUTIONS = {
    "conv_parameters": nb02.conv_parameters,
    "gaussian": nb03.gaussian,
    "max_over_people": nb03.max_over_people,
    "background": nb03.background,
    "limb_field": nb04.limb_field,
    "paf_average": nb04.paf_average,
    "paf_channels": nb04.paf_channels,
    "receptive_field": nb05.receptive_field,
    "masked_l2": nb06.masked_l2,
    "loss_over_stages": nb06.loss_over_stages,
    "peaks": nb07.peaks,
    "line_integral": nb07.line_integral,
    "greedy_matching": nb07.greedy_matching,
    "stage_forward": nb02.stage_forward,
    "paf_first_forward": nb02.paf_first_forward,
    "grid_to_pixels": nb02.grid_to_pixels,
    "limb_validity": nb07.limb_validity,
    "group_limbs": nb07.group_limbs,
}


def test_at_least_eighteen_exercises_each_with_a_solution_and_two_mistakes() -> None:
    assert len(exercises.EXERCISES) >= 18
    assert set(SOLUTIONS) == set(exercises.EXERCISES) == set(MISTAKES)
    assert all(len(m) >= 2 for m in MISTAKES.values())


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_reference_solution_passes(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = getattr(exercises, f"check_{name}")(SOLUTIONS[name])
    assert result.passed and result.n_cases > 0
    assert f"passed on {result.n_cases} cases" in capsys.readouterr().out


@pytest.mark.parametrize("name, k", [(n, k) for n, m in sorted(MISTAKES.items()) for k in range(len(m))])
def test_wrong_solution_fails_with_its_hint(name: str, k: int) -> None:
    wrong, word = MISTAKES[name][k]
    result = getattr(exercises, f"check_{name}")(wrong, verbose=False)
    assert not result.passed and result.status == "failed"
    assert result.hint is not None and word in result.hint, result.message


def test_stub_reports_not_implemented_without_raising(capsys: pytest.CaptureFixture[str]) -> None:
    def stub(*args: object, **kwargs: object) -> None:
        raise NotImplementedError

    result = exercises.check_gaussian(stub)
    assert result.status == "not implemented" and not result.passed
    assert "not implemented yet" in capsys.readouterr().out


def test_a_crash_is_reported_not_raised() -> None:
    result = exercises.check_background(lambda parts: parts.nosuch, verbose=False)
    assert result.status == "failed" and "AttributeError" in result.message


def test_receptive_field_is_measured_on_real_layers() -> None:
    assert exercises.measured_receptive_field([7, 7, 7, 7, 7, 1, 1]) == 31


def test_stage_kernels_are_read_off_the_paper_network() -> None:
    from openpose_edu.model import OpenPoseConfig

    kernels = exercises.stage_kernels(OpenPoseConfig.paper())
    assert kernels == [[3, 3, 3, 1, 1]] + [[7, 7, 7, 7, 7, 1, 1]] * 5


def test_stage_receptive_field_counts_every_path_into_the_last_stage() -> None:
    from openpose_edu.model import OpenPoseConfig

    paper = exercises.stage_kernels(OpenPoseConfig.paper())
    # Stage 1 (three 3x3): 7 cells; each 7x7 stage adds 30; the old "two stages = 61" took stage 1 as 7x7.
    seen = [exercises.measured_stage_receptive_field(paper[:t]) for t in range(1, 7)]
    assert seen == [7, 37, 67, 97, 127, 157]
    # The direct path F -> stage 2 alone sees 31 cells: the concat with S^1, L^1 is what reaches 37.
    assert exercises.measured_receptive_field(paper[1]) == 31


def test_paf_channel_rule_agrees_with_the_skeleton() -> None:
    from openpose_edu.skeleton import LIMBS, PART_NAMES, TRAINING_ORDER

    order = [(PART_NAMES[lb.a], PART_NAMES[lb.b]) for lb in TRAINING_ORDER]
    for limb in LIMBS:
        assert nb04.paf_channels(order, (PART_NAMES[limb.a], PART_NAMES[limb.b])) == limb.channels
