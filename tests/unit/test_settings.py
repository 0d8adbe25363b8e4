from __future__ import annotations

from datetime import timedelta

import pytest

from domain.inventory.reservations import MAX_TTL
from domain.ordering.payments import PAID_HOLD
from infra.settings import DEV_JWT_SECRET, Settings, SettingsError

PRODUCTION = {
    "OMNISHELF_ENV": "production",
    "DATABASE_URL": "postgres://app@db/omnishelf",
    "REDIS_URL": "redis://cache:6379/0",
    "JWT_SECRET": "a-real-production-secret-of-forty-chars!!",
    "PII_MASTER_KEY": "cHJvZHVjdGlvbi1tYXN0ZXIta2V5LTMyLWJ5dGVzISE=",
    "PII_HASH_KEY": "cHJvZHVjdGlvbi1oYXNoLWtleS0zMi1ieXRlcyEhISE=",
    "WECHAT_APPS": "wx1234567890:app-secret",
    "WECHAT_FAKE": "0",
    "PAYMENT_WEBHOOK_SECRET": "a-production-payment-secret",
}


def test_defaults_are_the_embedded_development_setup() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite://var/omnishelf.sqlite3"
    assert settings.redis_url is None and settings.run_jobs_in_process
    assert settings.port == 8000 and not settings.is_production


def test_production_accepts_real_settings() -> None:
    settings = Settings.from_env(PRODUCTION)
    assert settings.is_production and not settings.run_jobs_in_process


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"JWT_SECRET": ""}, "development JWT_SECRET"),
        ({"JWT_SECRET": DEV_JWT_SECRET}, "development JWT_SECRET"),
        ({"DATABASE_URL": "sqlite://var/x.sqlite3"}, "PostgreSQL"),
        ({"REDIS_URL": ""}, "REDIS_URL"),
        ({"PII_MASTER_KEY": ""}, "development PII keys"),
        ({"WECHAT_FAKE": "1"}, "fake WeChat"),
        ({"SMS_PROVIDER": "fake"}, "fake SMS"),
    ],
)
def test_production_refuses_development_choices(override: dict[str, str], complaint: str) -> None:
    with pytest.raises(SettingsError, match=complaint):
        Settings.from_env({**PRODUCTION, **override})


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"PORT": "eighty"}, "PORT must be an integer"),
        ({"PORT": "70000"}, "PORT must be between"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"JWT_SECRET": "short"}, "at least 32"),
        ({"JWT_PREVIOUS_KEYS": "nocolon"}, "JWT_PREVIOUS_KEYS"),
        ({"OMNISHELF_ENV": "staging"}, "OMNISHELF_ENV"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"PII_HASH_KEY": "not base64!"}, "PII_HASH_KEY must be base64"),
        ({"PII_MASTER_KEY": "c2hvcnQ="}, "32 bytes"),
        ({"WECHAT_APPS": "no-secret"}, "WECHAT_APPS"),
        ({"SMS_PROVIDER": "carrier-pigeon"}, "SMS_PROVIDER"),
        ({"PERSISTED_QUERIES": "safelist"}, "PERSISTED_QUERIES must be off, apq or allowlist"),
        ({"PERSISTED_QUERY_TTL": "-1"}, "PERSISTED_QUERY_TTL must be between"),
    ],
)
def test_malformed_settings_say_what_to_fix(env: dict[str, str], complaint: str) -> None:
    with pytest.raises(SettingsError, match=complaint):
        Settings.from_env(env)


def test_persisted_queries_default_to_apq_and_take_any_case() -> None:
    assert Settings.from_env({}).persisted_queries == "apq"
    assert Settings.from_env({"PERSISTED_QUERIES": " AllowList "}).persisted_queries == (
        "allowlist"
    )
    assert Settings.from_env({"PERSISTED_QUERY_TTL": "0"}).persisted_query_ttl == 0


def test_previous_jwt_keys_are_parsed() -> None:
    settings = Settings.from_env({"JWT_PREVIOUS_KEYS": "k0:" + "s" * 40 + ", old:" + "t" * 40})
    assert set(settings.jwt_previous_keys) == {"k0", "old"}


def test_notifier_is_wechat_with_the_real_gateway_and_production_refuses_the_fake() -> None:
    assert Settings.from_env(PRODUCTION).notifier == "wechat"
    no_app = {k: v for k, v in PRODUCTION.items() if k != "WECHAT_APPS"}
    assert Settings.from_env(no_app).notifier == "disabled"  # nothing to send from
    assert Settings.from_env({}).notifier == "fake"  # development: recorded only
    with pytest.raises(SettingsError, match="fake notifier"):
        Settings.from_env({**PRODUCTION, "NOTIFIER": "fake"})
    with pytest.raises(SettingsError, match="NOTIFIER must be"):
        Settings.from_env({"NOTIFIER": "carrier-pigeon"})
    with pytest.raises(SettingsError, match="real WeChat gateway"):
        Settings.from_env({"NOTIFIER": "wechat"})


def test_the_longest_pickup_window_holds_paid_goods_within_the_inventory_limit() -> None:
    """Ordering holds paid goods PAID_HOLD past the pickup deadline through the inventory's
    `extend_in_uow`, which refuses a hold longer than MAX_TTL: every window settings accept
    must fit, or marking such an order paid or ready would fail."""
    longest = Settings.from_env({"PICKUP_WINDOW": str(30 * 86400)}).pickup_window
    assert timedelta(seconds=longest) + PAID_HOLD <= MAX_TTL
    with pytest.raises(SettingsError):
        Settings.from_env({"PICKUP_WINDOW": str(30 * 86400 + 1)})
