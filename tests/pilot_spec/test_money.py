"""Money and numbers as a person reads them (pilot_spec.money): symbols, separators, no scientific notation."""

from __future__ import annotations

import math
import random
import re
from typing import Any

import pytest

from pilot_spec.money import (
    MINUS,
    MISSING,
    USD,
    Currency,
    format_money,
    format_number,
    format_percent,
    format_ratio,
)

EUR = Currency("EUR", "€")
CHF = Currency.parse("CHF")


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (0, "$0.00"),
        (0.0, "$0.00"),
        (-0.0, "$0.00"),
        (7.54, "$7.54"),
        (0.08, "$0.08"),
        (0.005, "$0.01"),  # half away from zero, on the number as written
        (0.125, "$0.13"),
        (2.675, "$2.68"),  # its binary value is 2.67499999...; a person rounds 2.675 up
        (999.99, "$999.99"),
        (999.995, "$1,000"),  # rounds into whole units: no "$1,000.00"
        (1234.5, "$1,235"),
        (1_702_198.52, "$1,702,199"),
        (1e15, "$1,000,000,000,000,000"),
        (-1234, f"{MINUS}$1,234"),
        (-7.5, f"{MINUS}$7.50"),
        (7.538e-05, "< $0.01"),  # the cost that showed as 7.538e-05
        (1e-300, "< $0.01"),
        (-0.001, f"> {MINUS}$0.01"),
        (-0.0049, f"> {MINUS}$0.01"),
        (math.inf, "$∞"),
        (-math.inf, f"{MINUS}$∞"),
        (math.nan, MISSING),
        (None, MISSING),
    ],
)
def test_format_money(amount: float | None, shown: str) -> None:
    assert format_money(amount) == shown


def test_money_in_other_currencies_and_signed() -> None:
    assert format_money(1234.5, EUR) == "€1,235"
    assert format_money(-12.3, EUR) == f"{MINUS}€12.30"
    assert format_money(12, CHF) == "CHF 12.00"  # a symbol of letters gets a space
    assert format_money(0.001, CHF) == "< CHF 0.01"
    assert format_money(12, signed=True) == "+$12.00"
    assert format_money(-12, signed=True) == f"{MINUS}$12.00"
    assert format_money(0, signed=True) == "$0.00"  # zero has no sign
    assert format_money(-0.001, signed=True) == f"> {MINUS}$0.01"


def test_money_takes_ints_and_numpy_like_scalars() -> None:
    class Scalar(float):
        """Like numpy.float64: a float subclass whose repr is not a plain number."""

        def __repr__(self) -> str:
            return f"np.float64({float(self)})"

    assert format_money(10**20) == "$100,000,000,000,000,000,000"
    assert format_money(Scalar(3.14159)) == "$3.14"
    assert format_number(Scalar(0.000123456)) == "0.000123"


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("USD:$", USD),
        ("EUR:€", EUR),
        (" GBP : £ ", Currency("GBP", "£")),
        ("CHF", Currency("CHF", "CHF")),
        ("SEK:kr", Currency("SEK", "kr")),
    ],
)
def test_currency_parse(text: str, currency: Currency) -> None:
    assert Currency.parse(text) == currency
    assert Currency.parse(str(currency)) == currency  # str() is the setting's form


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "3 capital letters"),
        ("dollars", "3 capital letters"),
        ("usd:$", "3 capital letters"),
        ("US:$", "3 capital letters"),
        ("USD:", "1 to 5 printable characters"),
        ("USD:$ $", "without spaces"),
        ("USD:dollars", "1 to 5 printable characters"),
        ("USD:\x00", "printable"),
    ],
)
def test_currency_parse_says_what_to_fix(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=r"CURRENCY must be CODE:SYMBOL such as USD:\$ or EUR:€") as error:
        Currency.parse(text)
    assert reason in str(error.value)
    assert repr(text) in str(error.value)


@pytest.mark.parametrize(
    ("value", "kwargs", "shown"),
    [
        (0, {}, "0"),
        (3, {}, "3"),
        (1234, {}, "1,234"),
        (1234567.8, {}, "1,234,568"),
        (12.345, {}, "12.3"),
        (1.2345, {}, "1.23"),
        (2.5, {}, "2.5"),  # no trailing zeros without fixed decimals
        (0.012345, {}, "0.0123"),
        (7.538e-05, {}, "0.0000754"),
        (9.996, {}, "10"),
        (-0.5, {}, f"{MINUS}0.5"),
        (1e-20, {}, "< 0.000000000001"),
        (-1e-20, {}, f"> {MINUS}0.000000000001"),
        (0.5, {"decimals": 2}, "0.50"),
        (1234.5, {"decimals": 1}, "1,234.5"),
        (0.0001, {"decimals": 2}, "0.00"),  # fixed decimals: the caller asked for that precision
        (1234.5678, {"significant": 6}, "1,234.57"),
        (3, {"signed": True}, "+3"),
        (-3, {"signed": True}, f"{MINUS}3"),
        (math.inf, {}, "∞"),
        (math.nan, {}, MISSING),
        (None, {}, MISSING),
    ],
)
def test_format_number(value: float | None, kwargs: dict[str, Any], shown: str) -> None:
    assert format_number(value, **kwargs) == shown


@pytest.mark.parametrize(
    ("value", "kwargs", "shown"),
    [
        (1.5, {}, "1.5×"),
        (1.15, {}, "1.15×"),
        (-1_702_198.52, {}, f"{MINUS}1,702,199×"),  # the ROI that read like money
        (0.004, {}, "0.004×"),
        (2, {"decimals": 2}, "2.00×"),
        (None, {}, MISSING),
    ],
)
def test_format_ratio(value: float | None, kwargs: dict[str, Any], shown: str) -> None:
    assert format_ratio(value, **kwargs) == shown


@pytest.mark.parametrize(
    ("fraction", "kwargs", "shown"),
    [
        (0.1234, {}, "12.3%"),
        (1, {}, "100.0%"),
        (0, {}, "0.0%"),
        (-0.5, {}, f"{MINUS}50.0%"),
        (0.00049, {}, "< 0.1%"),
        (-0.00049, {}, f"> {MINUS}0.1%"),
        (0.12345, {"decimals": 2}, "12.35%"),
        (0.5, {"decimals": 0}, "50%"),
        (12.5, {}, "1,250.0%"),
        (0.021, {"signed": True}, "+2.1%"),
        (-0.021, {"signed": True}, f"{MINUS}2.1%"),
        (math.nan, {}, MISSING),
        (None, {}, MISSING),
    ],
)
def test_format_percent(fraction: float | None, kwargs: dict[str, Any], shown: str) -> None:
    assert format_percent(fraction, **kwargs) == shown


SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")


def _read_back(text: str) -> float:
    """The number a person reads in a formatted string (the symbol, separators and marks dropped)."""
    digits = re.sub(r"[^0-9.]", "", text)
    return -float(digits) if MINUS in text else float(digits)


def test_no_magnitude_gives_scientific_notation_and_every_text_reads_back() -> None:
    """Across 600 orders of magnitude, signs and all four formats: positional notation, and the value shown
    is the value (within the rounding the format states)."""
    rng = random.Random(16)
    for _ in range(3000):
        value = rng.choice((-1, 1)) * 10 ** rng.uniform(-300, 300)
        texts = {
            "money": format_money(value, EUR),
            "number": format_number(value),
            "ratio": format_ratio(value),
            "percent": format_percent(value / 100),
        }
        for kind, text in texts.items():
            assert not SCIENTIFIC.search(text) and "e" not in text.lower(), (kind, value, text)
            if text.startswith(("<", ">")):
                assert abs(value) < 0.1, (kind, value, text)  # "< €0.01", "< 0.1%": too small to show, and said so
                continue
            shown = _read_back(text)
            tolerance = 0.5 if abs(value) >= 1000 or kind == "percent" else max(abs(value) * 0.01, 0.005)
            assert math.isclose(shown, value, rel_tol=0.01, abs_tol=tolerance), (kind, value, text)


def test_the_default_prices_read_as_money_per_device_hour_by_device_kind() -> None:
    from pilot_spec.money import price_list_text  # here: the module's import list is the number filters' too

    prices = {"cuda": 2.5, "cpu": 0.05, "cuda:NVIDIA H100 80GB HBM3": 4.0}  # a full device string is left out
    assert price_list_text(prices, USD) == "$0.05 per device-hour on a CPU, $2.50 on a GPU"
    assert price_list_text(prices, EUR, ["cuda"]) == "€2.50 per device-hour on a GPU"
    assert price_list_text({"cpu": 0.00001}, USD) == "< $0.01 per device-hour on a CPU"
    assert price_list_text({}, USD, ["cpu"]) == "no price per device-hour is set for cpu"
