"""Money and numbers as a person reads them: a currency symbol, thousands separators, never ``7.538e-05``.

Every layer that shows an amount, a ratio or a plain number (the pages, the HTML and PDF reports, the CLI)
formats it here, so that "$1,234" in the report and on the page is one rule, not two (issue 16):

- :func:`format_money`: the currency's symbol, thousands separators, cents below 1,000 and whole units
  from there on; an amount too small to show in cents is "< $0.01", never "$0.00" (it is not zero) and
  never scientific notation; a negative amount is "−$1,234" (a true minus sign, U+2212).
- :func:`format_ratio`: a ratio with its "×" (so an ROI of −1,702,198 reads as a ratio, not money).
- :func:`format_percent`: a fraction as a percentage ("12.3%"), optionally signed for differences.
- :func:`format_number`: any number in positional notation, with enough digits to be read.

Rounding is half away from zero on the number as written (0.125 → 0.13), as a person rounds, not on its
binary approximation (which would give 0.12). A missing or NaN value is "–" (nothing to show).
:class:`Currency` is what the ``CURRENCY`` setting holds ("USD:$", "EUR:€", "CHF"), parsed with a message
that says what to fix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal

MINUS = "\N{MINUS SIGN}"
MISSING = "\N{EN DASH}"
# Amounts from this size on are shown in whole units: cents on $12,345.67 are noise to a reader.
WHOLE_UNITS_FROM = 1000
# The most decimals format_number writes: beyond them a value is shown as "< 0.000000000001".
MAX_DECIMALS = 12

_CODE = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class Currency:
    """A currency: its ISO 4217 ``code`` ("USD") and the ``symbol`` written before amounts ("$")."""

    code: str
    symbol: str

    def __post_init__(self) -> None:
        if not _CODE.fullmatch(self.code):
            raise ValueError(f"the currency code must be 3 capital letters (ISO 4217, e.g. USD), not {self.code!r}")
        if not self.symbol or len(self.symbol) > 5 or any(c.isspace() or not c.isprintable() for c in self.symbol):
            raise ValueError(
                f"the currency symbol must be 1 to 5 printable characters without spaces (e.g. $), not {self.symbol!r}"
            )

    @classmethod
    def parse(cls, text: str) -> Currency:
        """``"CODE:SYMBOL"`` ("USD:$", "EUR:€") or a bare ``"CODE"`` (the code is then the symbol: "CHF 12")."""
        code, sep, symbol = text.strip().partition(":")
        try:
            return cls(code=code.strip(), symbol=symbol.strip() if sep else code.strip())
        except ValueError as error:
            raise ValueError(f"CURRENCY must be CODE:SYMBOL such as USD:$ or EUR:€ (got {text!r}): {error}") from None

    def __str__(self) -> str:
        return f"{self.code}:{self.symbol}"

    def prefix(self) -> str:
        """What goes before the digits: "$", or "CHF " (a space after a symbol made of letters)."""
        return f"{self.symbol} " if self.symbol[-1].isalpha() else self.symbol


USD = Currency("USD", "$")
DEFAULT_CURRENCY = USD


def _rounded(value: float, decimals: int) -> Decimal:
    """``value`` rounded half away from zero at ``decimals`` places, from its shortest decimal repr.

    ``float()`` first: numpy's scalars repr as "np.float64(0.5)"; ints are exact as they are.
    """
    exact = Decimal(value) if isinstance(value, int) else Decimal(repr(float(value)))
    # Enough digits for the whole result (1e300 with cents has 303): the default context holds 28.
    digits = Context(prec=max(exact.adjusted(), 0) + decimals + 2)
    return exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP, context=digits)


def _grouped(magnitude: Decimal, decimals: int) -> str:
    """A non-negative Decimal with thousands separators and exactly ``decimals`` places (never an exponent)."""
    return f"{magnitude:,.{decimals}f}"


def _signed(text: str, negative: bool, signed: bool) -> str:
    if negative:
        return MINUS + text
    return f"+{text}" if signed else text


def _missing(value: float | None) -> bool:
    return value is None or math.isnan(value)


def format_money(amount: float | None, currency: Currency = DEFAULT_CURRENCY, *, signed: bool = False) -> str:
    """``1234.5`` → "$1,234", ``7.54`` → "$7.54", ``7.5e-05`` → "< $0.01", ``-1234`` → "−$1,234".

    ``signed`` writes "+" before a positive amount (a gain against a baseline). Zero is "$0.00".
    """
    if amount is None or math.isnan(amount):
        return MISSING
    prefix = currency.prefix()
    negative = amount < 0
    if math.isinf(amount):
        return _signed(f"{prefix}∞", negative, signed)
    cents = _rounded(abs(amount), 2)
    if cents == 0 and amount != 0:
        # Not zero, and too small for cents: say so instead of "$0.00" or 7.5e-05.
        return f"> {MINUS}{prefix}0.01" if negative else f"< {prefix}0.01"
    decimals = 0 if cents >= WHOLE_UNITS_FROM else 2
    magnitude = _rounded(abs(amount), decimals)
    return _signed(prefix + _grouped(magnitude, decimals), negative and magnitude != 0, signed and magnitude != 0)


def _auto_decimals(magnitude: float, significant: int) -> int:
    """Decimals that show ``significant`` digits of a number below 10**significant, none above."""
    if magnitude == 0:
        return 0
    exponent = math.floor(math.log10(magnitude))
    return min(max(significant - 1 - exponent, 0), MAX_DECIMALS)


def format_number(
    value: float | None, decimals: int | None = None, *, significant: int = 3, signed: bool = False
) -> str:
    """A number in positional notation with thousands separators, never scientific notation.

    With ``decimals`` the number has exactly that many places (``format_number(0.5, 2)`` → "0.50").
    Without, it keeps ``significant`` significant digits below 10**significant and drops trailing zeros:
    ``7.538e-05`` → "0.0000754", ``12.345`` → "12.3", ``1234567.8`` → "1,234,568", ``2.50`` → "2.5".
    """
    if _missing(value):
        return MISSING
    assert value is not None
    negative = value < 0
    if math.isinf(value):
        return _signed("∞", negative, signed)
    places = decimals if decimals is not None else _auto_decimals(abs(value), significant)
    magnitude = _rounded(abs(value), places)
    if magnitude == 0 and value != 0 and decimals is None:
        smallest = _grouped(Decimal(1).scaleb(-MAX_DECIMALS), MAX_DECIMALS)
        return f"> {MINUS}{smallest}" if negative else f"< {smallest}"
    text = _grouped(magnitude, places)
    if decimals is None and "." in text:
        text = text.rstrip("0").rstrip(".")
    return _signed(text, negative and magnitude != 0, signed and magnitude != 0)


def format_ratio(value: float | None, *, decimals: int | None = None) -> str:
    """A ratio with "×": ``1.5`` → "1.5×", ``-1702198.52`` → "−1,702,199×", ``0.004`` → "0.004×"."""
    if _missing(value):
        return MISSING
    return f"{format_number(value, decimals)}×"


def format_percent(fraction: float | None, decimals: int = 1, *, signed: bool = False) -> str:
    """A fraction as a percentage: ``0.1234`` → "12.3%", ``-0.5`` → "−50.0%", ``0.0001`` → "< 0.1%".

    ``signed`` writes "+" before a positive value (a difference). A nonzero fraction that would round to
    zero says how small it is instead of claiming "0.0%".
    """
    if _missing(fraction):
        return MISSING
    assert fraction is not None
    percent = fraction * 100
    if math.isinf(percent):
        return _signed("∞%", percent < 0, signed)
    magnitude = _rounded(abs(percent), decimals)
    if magnitude == 0 and percent != 0:
        smallest = _grouped(Decimal(1).scaleb(-decimals), decimals)
        return f"> {MINUS}{smallest}%" if percent < 0 else f"< {smallest}%"
    return _signed(_grouped(magnitude, decimals) + "%", percent < 0 and magnitude != 0, signed and magnitude != 0)


# How the price text names a device kind (the kinds of pilot_spec.device; another kind is shown as it is).
DEVICE_KIND_NAMES = {"cpu": "CPU", "cuda": "GPU"}


def price_list_text(
    prices: Mapping[str, float], currency: Currency = DEFAULT_CURRENCY, kinds: Iterable[str] | None = None
) -> str:
    """The price per device-hour of each device kind: "$0.05 per device-hour on a CPU, $2.50 on a GPU".

    ``prices`` is the ``PRICE_PER_HOUR`` setting (by kind, or by full device string, which this leaves out);
    ``kinds`` limits it to those kinds (the ones a pilot ran on). The default price the form's blank field and
    the pilot page's costs use (issue 16: the effective price is shown, not hidden behind "blank: default").
    """
    wanted = None if kinds is None else set(kinds)
    by_kind = sorted(
        (kind, price) for kind, price in prices.items() if ":" not in kind and (wanted is None or kind in wanted)
    )
    if not by_kind:
        return "no price per device-hour is set for " + (", ".join(sorted(wanted)) if wanted else "any device")
    parts = [f"{format_money(price, currency)} on a {DEVICE_KIND_NAMES.get(kind, kind)}" for kind, price in by_kind]
    parts[0] = parts[0].replace(" on a ", " per device-hour on a ", 1)
    return ", ".join(parts)
