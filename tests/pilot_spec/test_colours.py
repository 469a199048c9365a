"""One colour per arm (issue 16): by kind, the baseline grey whatever its kind, never two arms alike."""

from __future__ import annotations

from pilot_spec.colours import BASELINE_GREY, KIND_COLOURS, arm_colours, series_colours


def test_arms_are_coloured_by_kind_and_the_baseline_grey() -> None:
    pairs = [("none", "none"), ("rblock_s", "rblock_s"), ("dropout", "dropout")]
    assert arm_colours(pairs) == arm_colours(pairs, baseline="none")
    assert arm_colours(pairs, baseline="none") == {
        "none": BASELINE_GREY, "rblock_s": KIND_COLOURS["rblock_s"], "dropout": KIND_COLOURS["dropout"]
    }  # fmt: skip


def test_a_baseline_of_another_kind_is_grey_and_the_none_arm_takes_a_spare_colour() -> None:
    colours = arm_colours([("none", "none"), ("drop", "dropout"), ("rb", "rblock_s")], baseline="drop")
    assert colours["drop"] == BASELINE_GREY
    assert colours["none"] != BASELINE_GREY and colours["rb"] == KIND_COLOURS["rblock_s"]
    assert len(set(colours.values())) == 3


def test_two_arms_of_one_kind_differ() -> None:
    colours = arm_colours([("a", "rblock_s"), ("b", "rblock_s"), ("base", "none")], baseline="base")
    assert colours["a"] == KIND_COLOURS["rblock_s"] and colours["b"] not in (colours["a"], BASELINE_GREY)


def test_a_runs_own_series_are_distinct_and_never_the_baseline_grey() -> None:
    colours = series_colours(["test_acc", "train_acc", "test_loss", "train_loss"])
    assert len(set(colours.values())) == 4 and BASELINE_GREY not in colours.values()
    assert colours["test_acc"] == KIND_COLOURS["rblock_s"]
