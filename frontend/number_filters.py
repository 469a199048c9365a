"""Jinja filters for money and numbers: the templates' side of ``pilot_spec.money`` (issue 16).

``register(env, currency)`` adds ``money``, ``number``, ``ratio`` and ``percent`` (and the global
``default_prices(kinds)``: the ``PRICE_PER_HOUR`` a blank price uses, in words), so that a template
writes ``{{ cost | money }}`` and never ``{{ cost }}`` (which printed ``7.538e-05``) or a format string of
its own. ``money`` uses, in this order: the currency given to the filter (``{{ x | money(currency) }}``),
a ``currency`` in the template's context (a page that read it from the API), the one ``register`` was
given (the ``CURRENCY`` setting). The formatting itself lives in ``pilot_spec.money``, one rule for the
pages and the reports.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from pilot_spec.money import (
    DEFAULT_CURRENCY,
    Currency,
    format_money,
    format_number,
    format_percent,
    format_ratio,
    price_list_text,
)


def _currency_of(value: Any) -> Currency | None:
    """A Currency from what a context may hold: a Currency, "EUR:€", or the API's {"code", "symbol"}."""
    if isinstance(value, Currency):
        return value
    if isinstance(value, str):
        return Currency.parse(value)
    if isinstance(value, dict) and {"code", "symbol"} <= value.keys():
        return Currency(code=str(value["code"]), symbol=str(value["symbol"]))
    return None


def register(env: Environment, currency: Currency = DEFAULT_CURRENCY) -> Environment:
    """Add the number filters to ``env``; ``currency`` is the one amounts get when nothing else names one."""

    @pass_context
    def money(context: Context, amount: float | None, currency_: Any = None, *, signed: bool = False) -> str:
        chosen = _currency_of(currency_) or _currency_of(context.get("currency")) or currency
        return format_money(amount, chosen, signed=signed)

    @pass_context
    def default_prices(context: Context, kinds: Any = None) -> str:
        """The default price per device-hour (``PRICE_PER_HOUR``, a ``prices`` in the context) of ``kinds``."""
        chosen = _currency_of(context.get("currency")) or currency
        prices = context.get("prices")
        return price_list_text(prices if isinstance(prices, dict) else {}, chosen, kinds or None)

    env.globals.update(default_prices=default_prices)
    env.filters.update(
        money=money,
        number=format_number,
        ratio=format_ratio,
        percent=format_percent,
    )
    return env
