"""Settings are read once from the environment, validated, and refuse surprises in production."""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from domain.aftersales.review_model import DEFAULT_BANNED_WORDS, clean_banned_words
from domain.members.ports import SmsKind
from domain.outbox import MESSAGE_KINDS
from infra import subscribe_templates
from infra.sms import TENCENT_SMS_ENDPOINT, TENCENT_SMS_REGIONS, TencentSmsConfig
from infra.subscribe_templates import DEV_TEMPLATES, SubscribeTemplate, TemplateError
from infra.wechatpay import (
    PRODUCTION_API_BASE,
    CertificateError,
    PlatformCertificate,
    WeChatPayConfig,
    read_certificates,
)

DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"
DEFAULT_SQLITE = "sqlite://var/omnishelf.sqlite3"
# Development-only keys (base64 of 32 bytes); production refuses them.
DEV_PII_MASTER_KEY = "ZGV2LW9ubHktcGlpLW1hc3Rlci1rZXktMzJieXRlcyE="
DEV_PII_HASH_KEY = "ZGV2LW9ubHktcGlpLWhhc2gta2V5LTMyLWJ5dGVzISE="
DEMO_WECHAT_APP = "wx-demo"
DEV_PAYMENT_SECRET = "dev-only-payment-webhook-secret"
PERSISTED_QUERY_MODES = ("off", "apq", "allowlist")
PAYMENT_PROVIDER_NAMES = ("wechatpay", "devpay")
WECHATPAY_PRODUCTION_HOSTS = (PRODUCTION_API_BASE, "https://api2.mch.weixin.qq.com")


class SettingsError(ValueError):
    """A setting is missing, malformed or unsafe; the message says which and how to fix it."""


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer; got {raw!r}.") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}; got {value}.")
    return value


def _keys(raw: str, name: str = "JWT_PREVIOUS_KEYS", shape: str = "kid:secret") -> dict[str, str]:
    """`name1:secret1,name2:secret2` (old JWT keys still accepted; WeChat app secrets)."""
    keys: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        kid, sep, secret = part.partition(":")
        if not sep or not kid or not secret:
            raise SettingsError(f"{name} must look like '{shape},{shape}2'.")
        keys[kid] = secret
    return keys


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw not in ("1", "0", "true", "false", "yes", "no"):
        raise SettingsError(f"{name} must be 1 or 0.")
    return raw in ("1", "true", "yes")


def _key_bytes(name: str, value: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError(f"{name} must be base64 (e.g. `openssl rand -base64 32`).") from None
    if len(raw) != 32:
        raise SettingsError(f"{name} must decode to 32 bytes; got {len(raw)}.")
    return raw


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = DEFAULT_SQLITE
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    jwt_secret: str = DEV_JWT_SECRET
    jwt_kid: str = "k1"
    jwt_previous_keys: dict[str, str] = field(default_factory=dict)
    jwt_issuer: str = "omnishelf"
    jwt_audience: str = "omnishelf-api"
    access_token_ttl: int = 900
    refresh_token_ttl: int = 30 * 86400
    login_limit_per_username: int = 10
    login_limit_per_address: int = 30
    login_window_seconds: int = 300
    max_body_bytes: int = 1_048_576
    graphql_max_depth: int = 12
    graphql_max_tokens: int = 3000
    graphql_max_aliases: int = 30
    graphql_max_cost: int = 20_000
    db_pool_size: int = 20
    run_jobs_in_process: bool = True
    automations_paused: bool = False  # AUTOMATIONS_PAUSED: run_automations does nothing
    pii_master_key: str = DEV_PII_MASTER_KEY
    pii_hash_key: str = DEV_PII_HASH_KEY
    wechat_apps: dict[str, str] = field(default_factory=dict)
    wechat_fake: bool = True
    sms_provider: str = "fake"
    tencent_sms: TencentSmsConfig | None = None  # SMS_PROVIDER=tencent
    notifier: str = "fake"
    wechat_templates_file: str | None = None
    wechat_templates: Mapping[str, SubscribeTemplate] = field(default_factory=dict)
    payment_secret: str = DEV_PAYMENT_SECRET
    payment_providers: tuple[str, ...] = ("devpay",)  # PAYMENT_PROVIDERS
    # DEVPAY_IN_PRODUCTION=1: benchmarks and the crash test, which run in production mode with
    # no WeChat Pay to reach, pay with devpay. Never on a real deployment.
    devpay_in_production: bool = False
    wechatpay: WeChatPayConfig | None = None  # the WECHATPAY_* settings, when enabled
    payment_timeout: int = 900
    pickup_window: int = 3 * 86400
    till_points_cap: int = 5_000  # a till sale earning more waits for approval
    ws_auth_check_seconds: float = 0.5  # an open WebSocket's credential is checked this often
    till_price_ceiling_percent: int = 200  # a till line charges at most this of catalog
    access_log: bool = True  # one `omnishelf.access` line per request and WebSocket
    metrics_token: str | None = None  # /metrics wants `Bearer <token>` when set
    metrics_refresh_seconds: int = 15  # the database gauges of /metrics are read this often
    persisted_queries: str = "apq"  # off | apq | allowlist (api/persisted.py)
    persisted_query_ttl: int = 7 * 86400  # an APQ document kept in Redis; 0: until evicted
    # A review holding one of these waits for CS (PENDING); REVIEW_BANNED_WORDS, comma-separated
    review_banned_words: tuple[str, ...] = clean_banned_words(DEFAULT_BANNED_WORDS)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        mode = e.get("OMNISHELF_ENV", "development")
        if mode not in ("development", "production", "test"):
            raise SettingsError("OMNISHELF_ENV must be development, production or test.")
        redis_url = e.get("REDIS_URL") or None
        providers = _payment_providers(e, mode)
        settings = cls(
            env=mode,
            database_url=e.get("DATABASE_URL") or DEFAULT_SQLITE,
            redis_url=redis_url,
            host=e.get("HOST", "127.0.0.1"),
            port=_int(e, "PORT", 8000, 1, 65535),
            log_level=e.get("LOG_LEVEL", "INFO").upper(),
            jwt_secret=e.get("JWT_SECRET") or DEV_JWT_SECRET,
            jwt_kid=e.get("JWT_KID") or "k1",
            jwt_previous_keys=_keys(e.get("JWT_PREVIOUS_KEYS", "")),
            jwt_issuer=e.get("JWT_ISSUER") or "omnishelf",
            jwt_audience=e.get("JWT_AUDIENCE") or "omnishelf-api",
            access_token_ttl=_int(e, "ACCESS_TOKEN_TTL", 900, 60, 86400),
            refresh_token_ttl=_int(e, "REFRESH_TOKEN_TTL", 30 * 86400, 3600, 365 * 86400),
            login_limit_per_username=_int(e, "LOGIN_LIMIT_PER_USERNAME", 10, 1, 10_000),
            login_limit_per_address=_int(e, "LOGIN_LIMIT_PER_ADDRESS", 30, 1, 100_000),
            login_window_seconds=_int(e, "LOGIN_WINDOW_SECONDS", 300, 1, 86400),
            max_body_bytes=_int(e, "MAX_BODY_BYTES", 1_048_576, 1024, 64 * 1_048_576),
            graphql_max_depth=_int(e, "GRAPHQL_MAX_DEPTH", 12, 2, 50),
            graphql_max_tokens=_int(e, "GRAPHQL_MAX_TOKENS", 3000, 100, 100_000),
            graphql_max_aliases=_int(e, "GRAPHQL_MAX_ALIASES", 30, 1, 1000),
            graphql_max_cost=_int(e, "GRAPHQL_MAX_COST", 20_000, 10, 10_000_000),
            db_pool_size=_int(e, "DB_POOL_SIZE", 20, 1, 500),
            run_jobs_in_process=redis_url is None,
            pii_master_key=e.get("PII_MASTER_KEY") or DEV_PII_MASTER_KEY,
            pii_hash_key=e.get("PII_HASH_KEY") or DEV_PII_HASH_KEY,
            wechat_apps=_keys(e.get("WECHAT_APPS", ""), "WECHAT_APPS", "appid:secret"),
            wechat_fake=_flag(e, "WECHAT_FAKE", default=mode != "production"),
            sms_provider=e.get("SMS_PROVIDER") or ("disabled" if mode == "production" else "fake"),
            tencent_sms=_tencent_sms(e) if e.get("SMS_PROVIDER") == "tencent" else None,
            notifier=e.get("NOTIFIER") or _default_notifier(e, mode),
            wechat_templates_file=e.get("WECHAT_TEMPLATES_FILE") or None,
            wechat_templates=_wechat_templates(e.get("WECHAT_TEMPLATES_FILE")),
            payment_secret=e.get("PAYMENT_WEBHOOK_SECRET") or DEV_PAYMENT_SECRET,
            payment_providers=providers,
            devpay_in_production=_flag(e, "DEVPAY_IN_PRODUCTION", default=False),
            wechatpay=_wechatpay(e, mode) if "wechatpay" in providers else None,
            payment_timeout=_int(e, "PAYMENT_TIMEOUT", 900, 60, 86400),
            pickup_window=_int(e, "PICKUP_WINDOW", 3 * 86400, 3600, 30 * 86400),
            till_points_cap=_int(e, "TILL_POINTS_CAP", 5_000, 0, 100_000_000),
            till_price_ceiling_percent=_int(e, "TILL_PRICE_CEILING_PERCENT", 200, 100, 1000),
            access_log=_flag(e, "ACCESS_LOG", default=True),
            automations_paused=_flag(e, "AUTOMATIONS_PAUSED", default=False),
            metrics_token=e.get("METRICS_TOKEN") or None,
            metrics_refresh_seconds=_int(e, "METRICS_REFRESH_SECONDS", 15, 0, 3600),
            persisted_queries=(e.get("PERSISTED_QUERIES") or "apq").strip().lower(),
            persisted_query_ttl=_int(e, "PERSISTED_QUERY_TTL", 7 * 86400, 0, 365 * 86400),
            review_banned_words=_banned_words(e),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError("LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR.")
        if not self.database_url.startswith(("sqlite://", "postgres://", "postgresql://")):
            raise SettingsError(
                "DATABASE_URL must start with sqlite:// or postgres://; "
                f"got {self.database_url.split(':', 1)[0]}://..."
            )
        if len(self.jwt_secret) < 32:
            raise SettingsError("JWT_SECRET must be at least 32 characters.")
        _key_bytes("PII_MASTER_KEY", self.pii_master_key)
        _key_bytes("PII_HASH_KEY", self.pii_hash_key)
        if self.sms_provider not in ("fake", "disabled", "tencent"):
            raise SettingsError("SMS_PROVIDER must be tencent, fake or disabled.")
        if self.sms_provider == "tencent" and self.tencent_sms is None:
            raise SettingsError("SMS_PROVIDER=tencent needs the TENCENT_SMS_* settings.")
        if self.metrics_token is not None and len(self.metrics_token) < 16:
            raise SettingsError("METRICS_TOKEN must be at least 16 characters (or unset).")
        if self.persisted_queries not in PERSISTED_QUERY_MODES:
            raise SettingsError("PERSISTED_QUERIES must be off, apq or allowlist.")
        if self.notifier not in ("wechat", "fake", "disabled"):
            raise SettingsError("NOTIFIER must be wechat, fake or disabled.")
        if self.notifier == "wechat" and (self.wechat_fake or not self.wechat_apps):
            raise SettingsError(
                "NOTIFIER=wechat needs the real WeChat gateway (WECHAT_FAKE=0 and WECHAT_APPS)."
            )
        if self.notifier == "wechat":
            _require_every_kind(self.wechat_templates_file, self.wechat_templates)
        if self.is_production:
            if self.jwt_secret == DEV_JWT_SECRET:
                raise SettingsError("Production refuses the development JWT_SECRET: set your own.")
            if self.is_sqlite:
                raise SettingsError("Production needs PostgreSQL: set DATABASE_URL=postgres://...")
            if not self.redis_url:
                raise SettingsError("Production needs Redis for jobs and limits: set REDIS_URL.")
            if DEV_PII_MASTER_KEY in (self.pii_master_key, self.pii_hash_key) or (
                DEV_PII_HASH_KEY in (self.pii_master_key, self.pii_hash_key)
            ):
                raise SettingsError("Production refuses the development PII keys: set your own.")
            if self.wechat_fake:
                raise SettingsError("Production refuses the fake WeChat gateway (WECHAT_FAKE=0).")
            if self.notifier == "fake":
                raise SettingsError(
                    "Production refuses the fake notifier (NOTIFIER=wechat, or disabled)."
                )
            if self.sms_provider == "fake":
                raise SettingsError("Production refuses the fake SMS sender.")
            if self.tencent_sms and not self.tencent_sms.endpoint.startswith("https://"):
                raise SettingsError("Production sends texts over HTTPS: TENCENT_SMS_ENDPOINT.")
            if self.payment_secret == DEV_PAYMENT_SECRET:
                raise SettingsError("Production refuses the development PAYMENT_WEBHOOK_SECRET.")
            if "devpay" in self.payment_providers and not self.devpay_in_production:
                raise SettingsError(
                    "Production refuses the devpay provider: PAYMENT_PROVIDERS=wechatpay."
                )
        if "wechatpay" in self.payment_providers and self.wechatpay is None:
            raise SettingsError("PAYMENT_PROVIDERS=wechatpay needs the WECHATPAY_* settings.")

    def subscribe_templates(self) -> Mapping[str, SubscribeTemplate]:
        """What each message kind renders to: the file's templates only when sending to WeChat;
        otherwise (the recording fake) the development defaults, overridden by the file's."""
        if self.notifier == "wechat":
            return self.wechat_templates
        return {**DEV_TEMPLATES, **self.wechat_templates}

    def pii_keys(self) -> tuple[bytes, bytes]:
        return (
            _key_bytes("PII_MASTER_KEY", self.pii_master_key),
            _key_bytes("PII_HASH_KEY", self.pii_hash_key),
        )

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.removeprefix("sqlite://").split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)


def _banned_words(e: Mapping[str, str]) -> tuple[str, ...]:
    """REVIEW_BANNED_WORDS: comma-separated (ASCII or full-width commas); unset: the
    Advertising Law's absolute words (`DEFAULT_BANNED_WORDS`); empty: none."""
    raw = e.get("REVIEW_BANNED_WORDS")
    if raw is None:
        return clean_banned_words(DEFAULT_BANNED_WORDS)
    return clean_banned_words(raw.replace("\uff0c", ",").split(","))


def _default_notifier(e: Mapping[str, str], mode: str) -> str:
    """WeChat subscribe messages with the real gateway; the recording fake in development;
    in production without a mini-program to send from, disabled."""
    real_gateway = not _flag(e, "WECHAT_FAKE", default=mode != "production")
    if real_gateway and e.get("WECHAT_APPS"):
        return "wechat"
    return "disabled" if mode == "production" else "fake"


def _wechat_templates(path: str | None) -> dict[str, SubscribeTemplate]:
    if not path:
        return {}
    try:
        return subscribe_templates.load(Path(path))
    except TemplateError as error:
        raise SettingsError(f"WECHAT_TEMPLATES_FILE: {error}.") from None


def _require_every_kind(path: str | None, templates: Mapping[str, SubscribeTemplate]) -> None:
    """Real subscribe messages need a template (or `enabled = false`) for every kind: a kind
    left out would fail each of its messages at delivery, long after start-up."""
    if not path:
        raise SettingsError(
            "NOTIFIER=wechat needs WECHAT_TEMPLATES_FILE: the subscribe-message template of "
            "each message kind (docs/wechat-templates.example.toml)."
        )
    missing = [kind for kind in MESSAGE_KINDS if kind not in templates]
    if missing:
        raise SettingsError(
            f"WECHAT_TEMPLATES_FILE has no template for {', '.join(missing)}: add one for "
            "each, or a table with `enabled = false` for a kind not to send."
        )


_SMS_TEMPLATE_ID = re.compile(r"[0-9]{1,20}")


def _tencent_sms(e: Mapping[str, str]) -> TencentSmsConfig:
    """SMS_PROVIDER=tencent: every TENCENT_SMS_* setting, checked before the first text."""
    values = {}
    for name in (
        "TENCENT_SMS_SECRET_ID",
        "TENCENT_SMS_SECRET_KEY",
        "TENCENT_SMS_SDK_APP_ID",
        "TENCENT_SMS_SIGN_NAME",
        "TENCENT_SMS_TEMPLATES",
    ):
        values[name] = e.get(name, "").strip()
        if not values[name]:
            raise SettingsError(f"SMS_PROVIDER=tencent needs {name}.")
    if not values["TENCENT_SMS_SDK_APP_ID"].isdigit():
        raise SettingsError("TENCENT_SMS_SDK_APP_ID is the SMS application's number (1400...).")
    templates = _keys(values["TENCENT_SMS_TEMPLATES"], "TENCENT_SMS_TEMPLATES", "KIND:template_id")
    for kind, template_id in templates.items():
        if kind not in SmsKind.__members__:
            raise SettingsError(
                f"TENCENT_SMS_TEMPLATES names {kind!r}; the kinds are {', '.join(SmsKind)}."
            )
        if not _SMS_TEMPLATE_ID.fullmatch(template_id):
            raise SettingsError(f"TENCENT_SMS_TEMPLATES: {kind}'s template id is a number.")
    # A login code needs its template; a marketing text (automations' SEND_SMS) is optional:
    # without its template those texts fail in the outbox and logins go on.
    missing = [kind.value for kind in (SmsKind.LOGIN_CODE,) if kind.value not in templates]
    if missing:
        raise SettingsError(f"TENCENT_SMS_TEMPLATES has no template for {', '.join(missing)}.")
    region = e.get("TENCENT_SMS_REGION") or TENCENT_SMS_REGIONS[0]
    if region not in TENCENT_SMS_REGIONS:
        raise SettingsError(f"TENCENT_SMS_REGION must be one of {', '.join(TENCENT_SMS_REGIONS)}.")
    endpoint = e.get("TENCENT_SMS_ENDPOINT") or TENCENT_SMS_ENDPOINT
    if not endpoint.startswith(("https://", "http://")):
        raise SettingsError("TENCENT_SMS_ENDPOINT must be an http(s):// URL.")
    return TencentSmsConfig(
        secret_id=values["TENCENT_SMS_SECRET_ID"],
        secret_key=values["TENCENT_SMS_SECRET_KEY"],
        sdk_app_id=values["TENCENT_SMS_SDK_APP_ID"],
        sign_name=values["TENCENT_SMS_SIGN_NAME"],
        templates=templates,
        region=region,
        endpoint=endpoint,
    )


def _payment_providers(e: Mapping[str, str], mode: str) -> tuple[str, ...]:
    """PAYMENT_PROVIDERS: the online providers payOrder accepts; devpay outside production,
    none in production until WeChat Pay is configured (in-store payment needs none)."""
    raw = e.get("PAYMENT_PROVIDERS")
    if raw is None:
        return () if mode == "production" else ("devpay",)
    names = tuple(dict.fromkeys(filter(None, (p.strip() for p in raw.split(",")))))
    unknown = [name for name in names if name not in PAYMENT_PROVIDER_NAMES]
    if unknown:
        raise SettingsError(
            f"PAYMENT_PROVIDERS names {', '.join(unknown)}; the providers are "
            f"{', '.join(PAYMENT_PROVIDER_NAMES)}."
        )
    return names


def wechatpay_credentials(env: Mapping[str, str] | None = None) -> WeChatPayConfig:
    """The WECHATPAY_* settings, a verification key not required: for `omnishelf wechatpay
    certificates`, which downloads the platform certificates to verify with."""
    e = os.environ if env is None else env
    return _wechatpay(e, e.get("OMNISHELF_ENV", "development"), verification_required=False)


def _wechatpay(
    e: Mapping[str, str], mode: str, *, verification_required: bool = True
) -> WeChatPayConfig:
    """PAYMENT_PROVIDERS=wechatpay: every WECHATPAY_* setting, the keys read and parsed now so
    a wrong file fails the start, not the first payment."""
    values = {}
    for name in (
        "WECHATPAY_MCHID",
        "WECHATPAY_MERCHANT_SERIAL",
        "WECHATPAY_PRIVATE_KEY_FILE",
        "WECHATPAY_APIV3_KEY",
        "WECHATPAY_NOTIFY_URL",
    ):
        values[name] = e.get(name, "").strip()
        if not values[name]:
            raise SettingsError(f"PAYMENT_PROVIDERS=wechatpay needs {name}.")
    if not values["WECHATPAY_MCHID"].isdigit():
        raise SettingsError("WECHATPAY_MCHID is the merchant number (digits).")
    apiv3_key = values["WECHATPAY_APIV3_KEY"].encode()
    if len(apiv3_key) != 32:
        raise SettingsError(
            f"WECHATPAY_APIV3_KEY is the 32-character APIv3 key; got {len(apiv3_key)} bytes."
        )
    notify_url = values["WECHATPAY_NOTIFY_URL"]
    if not notify_url.startswith("https://" if mode == "production" else ("https://", "http://")):
        raise SettingsError("WECHATPAY_NOTIFY_URL must be an https:// URL WeChat Pay can reach.")
    api_base = (e.get("WECHATPAY_API_BASE") or PRODUCTION_API_BASE).rstrip("/")
    if not api_base.startswith(("https://", "http://")):
        raise SettingsError("WECHATPAY_API_BASE must be an http(s):// URL.")
    if (
        mode == "production"
        and api_base not in WECHATPAY_PRODUCTION_HOSTS
        # make bench's fake WeChat Pay on this machine (README: never on a deployment)
        and not (
            _flag(e, "WECHATPAY_LOOPBACK_IN_PRODUCTION", default=False) and _loopback(api_base)
        )
    ):
        raise SettingsError(
            f"Production pays through WeChat Pay itself: WECHATPAY_API_BASE is "
            f"{PRODUCTION_API_BASE} (or unset)."
        )
    apps = _keys(e.get("WECHAT_APPS", ""), "WECHAT_APPS", "appid:secret")
    appid = e.get("WECHATPAY_APPID") or next(iter(apps), None)
    if appid is None and mode != "production":
        appid = DEMO_WECHAT_APP
    if not appid:
        raise SettingsError("PAYMENT_PROVIDERS=wechatpay needs WECHATPAY_APPID (or WECHAT_APPS).")
    private_key = _pem(values["WECHATPAY_PRIVATE_KEY_FILE"], "WECHATPAY_PRIVATE_KEY_FILE", True)
    if not isinstance(private_key, RSAPrivateKey):
        raise SettingsError("WECHATPAY_PRIVATE_KEY_FILE takes the merchant's private key.")
    public_key_id, public_key = _wechatpay_public_key(e)
    certificates = _wechatpay_certificates(e, mode)
    if verification_required and public_key is None and not certificates:
        raise SettingsError(
            "PAYMENT_PROVIDERS=wechatpay needs a key to verify WeChat Pay's signatures: "
            "WECHATPAY_PUBLIC_KEY_FILE and WECHATPAY_PUBLIC_KEY_ID (the WeChat Pay public key), "
            "WECHATPAY_PLATFORM_CERT_FILES (platform certificates), or both."
        )
    return WeChatPayConfig(
        mchid=values["WECHATPAY_MCHID"],
        appid=appid,
        merchant_serial=values["WECHATPAY_MERCHANT_SERIAL"],
        private_key=private_key,
        apiv3_key=apiv3_key,
        public_key_id=public_key_id,
        public_key=public_key,
        platform_certificates=certificates,
        notify_url=notify_url,
        api_base=api_base,
    )


def _wechatpay_public_key(e: Mapping[str, str]) -> tuple[str, RSAPublicKey | None]:
    """The "WeChat Pay public key" mode: WECHATPAY_PUBLIC_KEY_ID and its key, or neither."""
    path = e.get("WECHATPAY_PUBLIC_KEY_FILE", "").strip()
    key_id = e.get("WECHATPAY_PUBLIC_KEY_ID", "").strip()
    if not path and not key_id:
        return "", None
    if not path:
        raise SettingsError("WECHATPAY_PUBLIC_KEY_ID needs WECHATPAY_PUBLIC_KEY_FILE (its key).")
    if not key_id:
        raise SettingsError("WECHATPAY_PUBLIC_KEY_FILE needs WECHATPAY_PUBLIC_KEY_ID (its id).")
    if not key_id.startswith("PUB_KEY_ID_"):
        raise SettingsError("WECHATPAY_PUBLIC_KEY_ID is the public key's id (PUB_KEY_ID_...).")
    key = _pem(path, "WECHATPAY_PUBLIC_KEY_FILE", False)
    if not isinstance(key, RSAPublicKey):
        raise SettingsError("WECHATPAY_PUBLIC_KEY_FILE takes WeChat Pay's public key.")
    return key_id, key


def _wechatpay_certificates(e: Mapping[str, str], mode: str) -> tuple[PlatformCertificate, ...]:
    """The platform-certificate mode: WECHATPAY_PLATFORM_CERT_FILES, each certificate's serial
    read from itself. Production refuses an expired one (WeChat no longer signs with it)."""
    paths = [p.strip() for p in e.get("WECHATPAY_PLATFORM_CERT_FILES", "").split(",")]
    try:
        return read_certificates(
            filter(None, paths), now=datetime.now(UTC), refuse_expired=mode == "production"
        )
    except CertificateError as error:
        raise SettingsError(f"WECHATPAY_PLATFORM_CERT_FILES: {error}.") from None


def _loopback(api_base: str) -> bool:
    """A WeChat Pay on this machine (the benchmark's fake server)."""
    host = urlsplit(api_base).hostname or ""
    return host == "localhost" or host.startswith("127.")


def _pem(path: str, name: str, private: bool) -> RSAPrivateKey | RSAPublicKey:
    """An RSA key of at least 2048 bits from a PEM file, or a SettingsError naming `name`."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise SettingsError(f"{name}: cannot read {path} ({error.strerror}).") from None
    try:
        key = (
            serialization.load_pem_private_key(data, password=None)
            if private
            else serialization.load_pem_public_key(data)
        )
    except (ValueError, TypeError, UnsupportedAlgorithm):
        kind = "private" if private else "public"
        raise SettingsError(f"{name}: {path} is not a PEM RSA {kind} key.") from None
    if not isinstance(key, RSAPrivateKey | RSAPublicKey) or key.key_size < 2048:
        raise SettingsError(f"{name}: {path} is not an RSA key of 2048 bits or more.")
    return key
