"""One colour per arm in every chart of a pilot: the page's curves and panels, the reports' figures and the
compare page (issue 16, docs/design.md §4).

An arm is coloured by its regularizer kind, so that "rblock_s" looks the same in every pilot and on the
compare page; a second arm of one kind (other parameters) takes the next spare colour. The palette is
Okabe-Ito (distinguishable with the common colour-vision deficiencies), the baseline "none" is neutral grey,
and no arm is red: on these charts a colour names an arm, it does not grade it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

BASELINE_GREY = "#888888"
# By regularizer kind, in the design's order of the arms.
KIND_COLOURS: Mapping[str, str] = {
    "none": BASELINE_GREY,
    "dropout": "#CC79A7",  # reddish purple
    "spatial_dropout": "#56B4E9",  # sky blue
    "dropblock": "#009E73",  # bluish green
    "rdrop": "#E69F00",  # orange
    "rblock_b": "#6A3D9A",  # purple
    "rblock_s": "#0072B2",  # blue: the arm the product is about
}
# For a second arm of one kind, or a kind this table does not know.
SPARE_COLOURS = ("#000000", "#8C6D00", "#00564A", "#7A3B00", "#1B4F72", "#A0527F")
LAST_RESORT = "#333333"


def arm_colours(arms: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``(arm name, regularizer kind)`` pairs -> arm name -> colour, stable by kind, never two arms alike
    while spare colours last."""
    used: set[str] = set()
    out: dict[str, str] = {}
    spare = iter(SPARE_COLOURS)
    for arm, kind in arms:
        colour = KIND_COLOURS.get(kind)
        if colour is None or colour in used:
            colour = next((c for c in spare if c not in used), LAST_RESORT)
        used.add(colour)
        out[arm] = colour
    return out
