"""Members as the tests meet them: logged in through WeChat, optionally with a phone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from api.relay import decode_id
from tests.support.api import Api

WECHAT_LOGIN = """
mutation($code: String!, $name: String) {
  loginWithWechat(input: {appId: "wx-demo", code: $code, displayName: $name}) {
    tokens { accessToken refreshToken } created member { id }
    errors { code message field }
  }
}"""

BIND_PHONE = """
mutation($code: String!) {
  bindPhone(input: {wechatPhoneCode: $code}) { member { id } errors { code message field } }
}"""


@dataclass
class Shopper:
    id: str  # the global id
    api: Api  # calls with the shopper's access token
    openid: str
    refresh: str  # the refresh token of the login

    @property
    def key(self) -> UUID:
        return decode_id(self.id, "Member")


async def wechat_login(api: Api, code: str, name: str | None = None) -> dict[str, Any]:
    """loginWithWechat on the "wx-demo" app, which must succeed; its payload. `name` is the
    WeChat nickname a new member is named with."""
    variables = {"code": code, "name": name}
    payload: dict[str, Any] = (await api.data(WECHAT_LOGIN, variables))["loginWithWechat"]
    assert payload["errors"] == [], payload
    return payload


async def shopper(
    api: Api, openid: str = "open-1", phone: str | None = None, name: str | None = None
) -> Shopper:
    """A member logged in through WeChat (the fake gateway takes "test:<openid>"), named
    `name` if new, with `phone` bound through WeChat's phone button if given."""
    payload = await wechat_login(api, f"test:{openid}", name)
    member = Shopper(
        payload["member"]["id"],
        api.as_(payload["tokens"]["accessToken"]),
        openid,
        payload["tokens"]["refreshToken"],
    )
    if phone is not None:
        bound = await member.api.data(BIND_PHONE, {"code": f"test-phone:{phone}"})
        assert bound["bindPhone"]["errors"] == [], bound
    return member
