"""Member login over GraphQL: WeChat login codes "test:<openid>[:<unionid>]", SMS codes read from
the development sender's outbox, phone verification and binding.

The WeChat and SMS adapters are the development fakes (the external boundary): WeChat phone
codes are "test-phone:<number>", and the SMS text sits in `runtime.sms.outbox`."""

from __future__ import annotations

from typing import Any

from infra.runtime import Runtime
from tests.support.api import Api

APP = "wx-demo"

MEMBER_FIELDS = """
  id status createdChannel
  identities { kind appId masked verified verifiedBy }
"""

WECHAT_LOGIN = f"""
mutation($app: String!, $code: String!) {{
  loginWithWechat(input: {{appId: $app, code: $code}}) {{
    tokens {{ accessToken refreshToken }}
    created
    member {{ {MEMBER_FIELDS} }}
    errors {{ code message field }}
  }}
}}"""

REQUEST_CODE = """
mutation($phone: String!) {
  requestPhoneCode(input: {phone: $phone}) { expiresInSeconds errors { code message field } }
}"""

PHONE_LOGIN = f"""
mutation($phone: String!, $code: String!) {{
  loginWithPhone(input: {{phone: $phone, code: $code}}) {{
    tokens {{ accessToken refreshToken }}
    created
    member {{ {MEMBER_FIELDS} }}
    errors {{ code message field }}
  }}
}}"""

VERIFY_PHONE = f"""
mutation($phone: String!, $code: String!) {{
  verifyPhone(input: {{phone: $phone, code: $code}}) {{
    member {{ {MEMBER_FIELDS} }}
    errors {{ code message field }}
  }}
}}"""

BIND_PHONE = f"""
mutation($code: String!, $app: String) {{
  bindPhone(input: {{wechatPhoneCode: $code, appId: $app}}) {{
    member {{ {MEMBER_FIELDS} displayName }}
    merged
    errors {{ code message field }}
  }}
}}"""


REFRESH = """
mutation($t: String!) {
  refreshToken(input: {refreshToken: $t}) {
    tokens { accessToken refreshToken } errors { code message field }
  }
}"""

ME = f"{{ me {{ {MEMBER_FIELDS} }} }}"


PHONE = "13900139000"
PHONE_E164 = "+8613900139000"
OTHER_PHONE = "13800138000"


def kinds(member: dict[str, Any]) -> list[str]:
    return sorted(i["kind"] for i in member["identities"])


def identity(member: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [i for i in member["identities"] if i["kind"] == kind]
    assert len(found) == 1, member
    only: dict[str, Any] = found[0]
    return only


async def wechat_login(api: Api, code: str, app: str = APP) -> dict[str, Any]:
    data = await api.data(WECHAT_LOGIN, {"app": app, "code": code})
    payload: dict[str, Any] = data["loginWithWechat"]
    return payload


async def wechat_member(api: Api, code: str) -> tuple[Api, dict[str, Any]]:
    """A logged-in member (first WeChat login) and its login payload."""
    payload = await wechat_login(api, code)
    assert payload["errors"] == [] and payload["created"] is True, payload
    return api.as_(payload["tokens"]["accessToken"]), payload


async def request_code(api: Api, phone: str) -> dict[str, Any]:
    data = await api.data(REQUEST_CODE, {"phone": phone})
    payload: dict[str, Any] = data["requestPhoneCode"]
    return payload


def last_code(runtime: Runtime, phone_e164: str) -> str:
    sms = runtime.sms.outbox[-1]  # type: ignore[attr-defined]
    assert sms.phone_e164 == phone_e164, sms
    code: str = sms.text.split("code is ")[1][:6]
    assert code.isdigit() and len(code) == 6, sms.text
    return code


async def send_code(api: Api, runtime: Runtime, phone: str, phone_e164: str) -> str:
    sent = await request_code(api, phone)
    assert sent["errors"] == [] and sent["expiresInSeconds"] == 300, sent
    return last_code(runtime, phone_e164)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def phone_login(api: Api, phone: str, code: str) -> dict[str, Any]:
    data = await api.data(PHONE_LOGIN, {"phone": phone, "code": code})
    payload: dict[str, Any] = data["loginWithPhone"]
    return payload


async def verify_phone(member: Api, phone: str, code: str) -> dict[str, Any]:
    data = await member.data(VERIFY_PHONE, {"phone": phone, "code": code})
    payload: dict[str, Any] = data["verifyPhone"]
    return payload


async def bind_phone(member: Api, code: str, app: str | None = None) -> dict[str, Any]:
    data = await member.data(BIND_PHONE, {"code": code, "app": app})
    payload: dict[str, Any] = data["bindPhone"]
    return payload


async def refresh(api: Api, refresh_token: str) -> dict[str, Any]:
    data = await api.data(REFRESH, {"t": refresh_token})
    payload: dict[str, Any] = data["refreshToken"]
    return payload


async def forget_send_limits(runtime: Runtime) -> None:
    """The 60-second resend window runs on real time, not the test clock: start it afresh
    (as the per-test clean-up does) to stand for a minute having passed."""
    if runtime.redis is not None:
        await runtime.redis.flushdb()
    else:
        runtime.limiter._windows.clear()  # type: ignore[attr-defined]
