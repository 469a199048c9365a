"""Settings from the environment: names, JSON prices, embedded defaults, and SQLite paths pinned to one file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from backend.settings import Settings, resolve_sqlite_url
from pilot_spec.money import Currency

ENV_NAMES = (
    "DATABASE_URL",
    "BROKER_URL",
    "ARTIFACT_DIR",
    "DATA_ROOT",
    "PRICE_PER_HOUR",
    "HEARTBEAT_TIMEOUT_S",
    "MAX_ATTEMPTS",
    "RECONCILE_EVERY_S",
    "CURRENCY",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_embedded_defaults_resolve_against_the_current_directory(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.database_url == f"sqlite:///{tmp_path}/var/pilot.db"
    assert settings.broker_url == f"sqla+sqlite:///{tmp_path}/var/broker.db"
    assert (tmp_path / "var").is_dir()  # SQLite cannot create the folder of its file
    assert settings.artifact_dir == tmp_path / "var" / "artifacts"
    assert settings.data_root == tmp_path / "var" / "data"
    assert settings.price_per_hour == {"cpu": 0.05, "cuda": 2.5}
    assert (settings.heartbeat_timeout_s, settings.max_attempts, settings.reconcile_every_s) == (60.0, 3, 10.0)


def test_environment_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://pilot:secret@db:5432/pilot")
    monkeypatch.setenv("BROKER_URL", "redis://redis:6379/0")
    monkeypatch.setenv("ARTIFACT_DIR", "/shared/artifacts")
    monkeypatch.setenv("DATA_ROOT", "data")
    monkeypatch.setenv("PRICE_PER_HOUR", '{"cpu": 0.1, "cuda": 3, "cuda:NVIDIA H100 80GB HBM3": 4.5}')
    monkeypatch.setenv("HEARTBEAT_TIMEOUT_S", "30")
    monkeypatch.setenv("MAX_ATTEMPTS", "5")
    monkeypatch.setenv("RECONCILE_EVERY_S", "2.5")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://pilot:secret@db:5432/pilot"
    assert settings.broker_url == "redis://redis:6379/0"
    assert settings.artifact_dir == Path("/shared/artifacts") and settings.data_root == tmp_path / "data"
    assert settings.price_per_hour["cuda:NVIDIA H100 80GB HBM3"] == 4.5
    assert (settings.heartbeat_timeout_s, settings.max_attempts, settings.reconcile_every_s) == (30.0, 5, 2.5)


def test_price_for_a_device_prefers_its_full_name() -> None:
    settings = Settings(price_per_hour={"cpu": 0.1, "cuda": 2.0, "cuda:NVIDIA H100 80GB HBM3": 4.5})
    assert settings.price_for("cuda:NVIDIA H100 80GB HBM3") == 4.5
    assert settings.price_for("cuda:NVIDIA A10") == 2.0
    assert settings.price_for("cuda") == 2.0 and settings.price_for("cpu") == 0.1
    assert settings.price_for("mps") is None


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("PRICE_PER_HOUR", "not json"),
        ("PRICE_PER_HOUR", '{"cuda": -1}'),
        ("PRICE_PER_HOUR", '{"cuda": "cheap"}'),
        ("HEARTBEAT_TIMEOUT_S", "0"),
        ("MAX_ATTEMPTS", "0"),
    ],
)
def test_bad_values_are_rejected(monkeypatch: pytest.MonkeyPatch, env: str, value: str) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises((ValidationError, ValueError)):
        Settings()


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql+psycopg://postgres@127.0.0.1:5432/pilot",
        "redis://127.0.0.1:6379/0",
        "memory://",
    ],
)
def test_other_urls_pass_unchanged(url: str) -> None:
    assert resolve_sqlite_url(url) == url


def test_sqlite_urls_become_absolute(tmp_path: Path) -> None:
    assert resolve_sqlite_url("sqlite:///a/b.db?timeout=5") == f"sqlite:///{tmp_path}/a/b.db?timeout=5"
    assert (tmp_path / "a").is_dir()
    assert resolve_sqlite_url(f"sqlite+pysqlite:///{tmp_path}/c/d.db") == f"sqlite+pysqlite:///{tmp_path}/c/d.db"
    assert resolve_sqlite_url("sqla+sqlite:///q.db") == f"sqla+sqlite:///{tmp_path}/q.db"


def test_currency_is_code_and_symbol_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().currency == Currency("USD", "$")  # the default
    monkeypatch.setenv("CURRENCY", "EUR:€")
    assert Settings().currency == Currency("EUR", "€")
    monkeypatch.setenv("CURRENCY", " chf ".upper())
    assert Settings().currency == Currency("CHF", "CHF")  # a bare code is its own symbol


@pytest.mark.parametrize("value", ["dollars", "US:$", "USD:", "USD:$ $", "usd:$", ":$"])
def test_a_bad_currency_names_the_setting_and_the_fix(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CURRENCY", value)
    with pytest.raises(ValidationError) as error:
        Settings()
    message = str(error.value)
    assert "currency" in message and "CURRENCY must be CODE:SYMBOL such as USD:$ or EUR:€" in message, message
