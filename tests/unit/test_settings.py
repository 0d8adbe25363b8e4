from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from domain.inventory.reservations import MAX_TTL
from domain.ordering.payments import PAID_HOLD
from domain.outbox import MESSAGE_KINDS
from infra.settings import DEV_JWT_SECRET, Settings, SettingsError
from infra.subscribe_templates import DEV_TEMPLATES

EXAMPLE_TEMPLATES = Path(__file__).resolve().parents[2] / "docs" / "wechat-templates.example.toml"
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
    "WECHAT_TEMPLATES_FILE": str(EXAMPLE_TEMPLATES),
}
TENCENT = {
    "SMS_PROVIDER": "tencent",
    "TENCENT_SMS_SECRET_ID": "AKIDexample0123456789",
    "TENCENT_SMS_SECRET_KEY": "example-secret-key-0123456789",
    "TENCENT_SMS_SDK_APP_ID": "1400006666",
    "TENCENT_SMS_SIGN_NAME": "全渠道商店",
    "TENCENT_SMS_TEMPLATES": "LOGIN_CODE:1234567",
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
        ({"SMS_PROVIDER": "carrier-pigeon"}, "SMS_PROVIDER must be tencent, fake or disabled"),
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


# ---------------------------------------------------------------- WeChat subscribe templates


def test_production_sends_the_templates_of_its_file_only() -> None:
    settings = Settings.from_env(PRODUCTION)
    templates = settings.subscribe_templates()
    assert set(templates) == set(MESSAGE_KINDS)
    assert templates["ORDER_PAID"].template_id == "Xq1o3Kv7mP4sN2bR8tY6wE0uI9aD5fGhJkLzCxVbNm0"
    assert templates["ORDER_PAID"].miniprogram_state == "formal"


def test_sending_to_wechat_refuses_to_start_without_a_template_for_every_kind(
    tmp_path: Path,
) -> None:
    without_file = {k: v for k, v in PRODUCTION.items() if k != "WECHAT_TEMPLATES_FILE"}
    with pytest.raises(SettingsError, match="NOTIFIER=wechat needs WECHAT_TEMPLATES_FILE"):
        Settings.from_env(without_file)
    partial = tmp_path / "t.toml"
    text = EXAMPLE_TEMPLATES.read_text(encoding="utf-8")
    partial.write_text(text.split("[ORDER_REFUNDED]")[0], encoding="utf-8")
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({**PRODUCTION, "WECHAT_TEMPLATES_FILE": str(partial)})
    missing = (
        "ORDER_REFUNDED, REVIEW_INVITATION, AFTER_SALE_APPROVED, AFTER_SALE_REJECTED, "
        "AFTER_SALE_REFUNDED, INVOICE_ISSUED, SUBSCRIPTION_REMINDER, SUBSCRIPTION_SHORT"
    )
    assert f"no template for {missing}, SUBSCRIPTION_PAUSED" in str(refused.value)
    # A kind turned off is a choice, not an omission.
    kinds = list(MESSAGE_KINDS)
    off = "".join(f"[{k}]\nenabled = false\n" for k in kinds[kinds.index("ORDER_REFUNDED") :])
    partial.write_text(text.split("[ORDER_REFUNDED]")[0] + off, encoding="utf-8")
    settings = Settings.from_env({**PRODUCTION, "WECHAT_TEMPLATES_FILE": str(partial)})
    assert not settings.subscribe_templates()["SUBSCRIPTION_PAUSED"].enabled


def test_development_renders_the_default_templates_overridden_by_the_file(
    tmp_path: Path,
) -> None:
    assert Settings.from_env({}).subscribe_templates() == DEV_TEMPLATES
    file = tmp_path / "templates.json"
    file.write_text(
        json.dumps(
            {
                "miniprogram_state": "trial",
                "ORDER_PAID": {"template_id": "mine", "data": {"thing1": "{order_number}"}},
            }
        ),
        encoding="utf-8",
    )
    templates = Settings.from_env({"WECHAT_TEMPLATES_FILE": str(file)}).subscribe_templates()
    assert templates["ORDER_PAID"].template_id == "mine"
    assert templates["ORDER_PAID"].miniprogram_state == "trial"
    assert templates["ORDER_READY_FOR_PICKUP"] == DEV_TEMPLATES["ORDER_READY_FOR_PICKUP"]


def _paid(**table: object) -> dict[str, object]:
    return {"ORDER_PAID": {"template_id": "t", "data": {"thing1": "{order_number}"}, **table}}


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ({"ORDER_PAYED": {}}, "'ORDER_PAYED' is not a message kind; the kinds are ORDER_PAID"),
        (_paid(template_id=""), "ORDER_PAID.template_id is missing"),
        (_paid(data={}), "ORDER_PAID.data must map"),
        (_paid(data={"thingy1": "{total}"}), "ORDER_PAID.data.thingy1: 'thingy1' is not a WeChat"),
        (_paid(data={"thing1": "{totl}"}), "ORDER_PAID.data.thing1 uses {totl}, which"),
        (_paid(data={"thing1": "{total:>5}"}), "placeholders are plain field names"),
        (_paid(data={"thing1": "{total"}), "ORDER_PAID.data.thing1: "),
        (_paid(data={"time2": "{order_number}"}), "time2 takes one local_time field"),
        (_paid(data={"amount2": "共{total}"}), "amount2 takes one money field and nothing else"),
        (
            _paid(data={"phrase3": "已经支付成功"}),
            "phrase3 is '已经支付成功', which WeChat refuses",
        ),
        (_paid(data={"thing1": 3}), "ORDER_PAID.data.thing1 must be text"),
        (_paid(page="pages/x?id={code}"), "ORDER_PAID.page uses {code}"),
        (_paid(miniprogram_state="release"), "ORDER_PAID.miniprogram_state must be one of"),
        (_paid(lang="fr"), "ORDER_PAID.lang must be one of"),
        (_paid(enabled="no"), "ORDER_PAID.enabled must be true or false"),
        (_paid(templateid="t"), "ORDER_PAID: unknown setting 'templateid'"),
        ({"miniprogram_state": "prod"}, "miniprogram_state must be one of developer"),
        ({"ORDER_PAID": "t"}, "ORDER_PAID must be a table"),
    ],
)
def test_a_bad_template_stops_the_start_naming_the_place(
    tmp_path: Path, content: dict[str, object], complaint: str
) -> None:
    file = tmp_path / "templates.json"
    file.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"WECHAT_TEMPLATES_FILE": str(file)})
    assert str(refused.value).startswith("WECHAT_TEMPLATES_FILE: ")
    assert complaint in str(refused.value)


def test_an_unreadable_templates_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="WECHAT_TEMPLATES_FILE: cannot read"):
        Settings.from_env({"WECHAT_TEMPLATES_FILE": str(tmp_path / "absent.toml")})
    broken = tmp_path / "t.toml"
    broken.write_text("[ORDER_PAID\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="is not valid TOML"):
        Settings.from_env({"WECHAT_TEMPLATES_FILE": str(broken)})


# ---------------------------------------------------------------- Tencent Cloud SMS


def test_tencent_sms_settings() -> None:
    config = Settings.from_env({**PRODUCTION, **TENCENT}).tencent_sms
    assert config is not None
    assert (config.sdk_app_id, config.sign_name, config.region) == (
        "1400006666",
        "全渠道商店",
        "ap-guangzhou",
    )
    assert config.templates == {"LOGIN_CODE": "1234567"}
    assert config.endpoint == "https://sms.tencentcloudapi.com"
    assert "example-secret-key" not in repr(config)


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"TENCENT_SMS_SECRET_ID": ""}, "SMS_PROVIDER=tencent needs TENCENT_SMS_SECRET_ID"),
        ({"TENCENT_SMS_SECRET_KEY": " "}, "needs TENCENT_SMS_SECRET_KEY"),
        ({"TENCENT_SMS_SDK_APP_ID": ""}, "needs TENCENT_SMS_SDK_APP_ID"),
        ({"TENCENT_SMS_SIGN_NAME": ""}, "needs TENCENT_SMS_SIGN_NAME"),
        ({"TENCENT_SMS_TEMPLATES": ""}, "needs TENCENT_SMS_TEMPLATES"),
        ({"TENCENT_SMS_SDK_APP_ID": "app-1"}, "TENCENT_SMS_SDK_APP_ID is the SMS application"),
        ({"TENCENT_SMS_TEMPLATES": "LOGIN_CODE"}, "TENCENT_SMS_TEMPLATES must look like"),
        ({"TENCENT_SMS_TEMPLATES": "LOGIN:1234567"}, "names 'LOGIN'; the kinds are LOGIN_CODE"),
        ({"TENCENT_SMS_TEMPLATES": "LOGIN_CODE:abc"}, "LOGIN_CODE's template id is a number"),
        ({"TENCENT_SMS_REGION": "ap-shanghai"}, "TENCENT_SMS_REGION must be one of"),
        ({"TENCENT_SMS_ENDPOINT": "sms.example"}, "TENCENT_SMS_ENDPOINT must be an http"),
    ],
)
def test_tencent_sms_settings_are_checked_at_start(
    override: dict[str, str], complaint: str
) -> None:
    with pytest.raises(SettingsError, match=complaint):
        Settings.from_env({**TENCENT, **override})


def test_production_sends_texts_over_https_only() -> None:
    local = {**PRODUCTION, **TENCENT, "TENCENT_SMS_ENDPOINT": "http://127.0.0.1:9000"}
    with pytest.raises(SettingsError, match="HTTPS"):
        Settings.from_env(local)
    assert Settings.from_env({**TENCENT, "TENCENT_SMS_ENDPOINT": "http://127.0.0.1:9000"})
