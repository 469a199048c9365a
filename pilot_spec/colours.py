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
# Mid tones first (they read on the light and the dark page alike), black last.
SPARE_COLOURS = ("#8C6D00", "#A0527F", "#00564A", "#7A3B00", "#1B4F72", "#000000")
LAST_RESORT = "#333333"


def arm_colours(arms: Iterable[tuple[str, str]], baseline: str | None = None) -> dict[str, str]:
    """``(arm name, regularizer kind)`` pairs -> arm name -> colour, stable by kind, never two arms alike
    while spare colours last.

    The arm named ``baseline`` is grey whatever its kind (a pilot whose baseline is dropout still shows its
    reference arm neutral); a "none" arm that is not the baseline then takes a spare colour. The colours
    depend on the arms' order only where two arms share a kind: every chart of a pilot passes them in the
    pilot's order.
    """
    pairs = list(arms)
    used: set[str] = {BASELINE_GREY} if baseline is not None and any(a == baseline for a, _ in pairs) else set()
    out: dict[str, str] = {}
    spare = iter(SPARE_COLOURS)
    for arm, kind in pairs:
        if arm == baseline:
            out[arm] = BASELINE_GREY
            continue
        colour = KIND_COLOURS.get(kind)
        if colour is None or colour in used:
            colour = next((c for c in spare if c not in used), LAST_RESORT)
        used.add(colour)
        out[arm] = colour
    return out


def series_colours(names: Iterable[str]) -> dict[str, str]:
    """Colours for several series of one run (its own curves: test and training accuracy and loss): the
    arms' colours from the product's blue back through the table, grey left out (it means the baseline),
    then the spare ones."""
    palette = [c for c in list(KIND_COLOURS.values())[::-1] if c != BASELINE_GREY] + list(SPARE_COLOURS)
    return {name: palette[i] if i < len(palette) else LAST_RESORT for i, name in enumerate(names)}
