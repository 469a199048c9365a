"""The templates' money and number filters (frontend.number_filters over pilot_spec.money)."""

from __future__ import annotations

import pytest
from jinja2 import Environment

from frontend.number_filters import register
from pilot_spec.money import MINUS, Currency


@pytest.fixture
def env() -> Environment:
    return register(Environment(autoescape=True), Currency("EUR", "€"))


def render(env: Environment, source: str, **context: object) -> str:
    return env.from_string(source).render(**context)


def test_money_uses_the_registered_currency(env: Environment) -> None:
    assert render(env, "{{ cost | money }}", cost=7.538e-05) == "&lt; €0.01"  # autoescaped, as on a page
    assert render(env, "{{ net | money(signed=True) }}", net=1234.5) == "+€1,235"
    assert render(env, "{{ net | money }}", net=-1234) == f"{MINUS}€1,234"
    assert render(env, "{{ missing | money }}", missing=None) == "–"


def test_money_prefers_the_filter_argument_then_the_context(env: Environment) -> None:
    assert render(env, "{{ x | money }}", x=2, currency="GBP:£") == "£2.00"
    assert render(env, "{{ x | money }}", x=2, currency={"code": "CHF", "symbol": "CHF"}) == "CHF 2.00"
    assert render(env, "{{ x | money(c) }}", x=2, c=Currency("USD", "$"), currency="GBP:£") == "$2.00"
    assert render(env, "{{ x | money }}", x=2, currency=None) == "€2.00"


def test_the_default_currency_is_dollars() -> None:
    assert render(register(Environment()), "{{ 1234567.891 | money }}") == "$1,234,568"


def test_number_ratio_and_percent(env: Environment) -> None:
    assert render(env, "{{ x | number }}", x=7.538e-05) == "0.0000754"
    assert render(env, "{{ x | number(2) }}", x=0.5) == "0.50"
    assert render(env, "{{ x | ratio }}", x=-1_702_198.52) == f"{MINUS}1,702,199×"
    assert render(env, "{{ x | percent }}", x=0.1234) == "12.3%"
    assert render(env, "{{ x | percent(2, signed=True) }}", x=0.021) == "+2.10%"
