from __future__ import annotations

from typing import Any

from infra.runtime import Runtime
from tests.support.api import Api

LOGIN = """mutation($code: String!) { loginWithWechat(input: {appId: "wx-demo", code: $code}) {
  tokens { accessToken } created member { id status identities { kind masked verified } }
  errors { code message field } } }"""


async def test_wechat_login_then_phone_binding_merges_pos_member(
    api: Api, runtime: Runtime, stores: dict[str, Any], clerk_a: Api
) -> None:
    enrolled = await clerk_a.data(
        """mutation { enrolMember(input: {phone: "13800138000", posCard: "CARD-0001"}) {
        created member { id identities { kind masked } } errors { code message } } }"""
    )
    assert enrolled["enrolMember"]["created"] is True, enrolled
    pos_member = enrolled["enrolMember"]["member"]["id"]

    first = (await api.data(LOGIN, {"code": "test:openid-1:union-1"}))["loginWithWechat"]
    assert first["errors"] == [] and first["created"] is True, first
    again = (await api.data(LOGIN, {"code": "test:openid-1:union-1"}))["loginWithWechat"]
    assert again["created"] is False and again["member"]["id"] == first["member"]["id"]

    member = api.as_(first["tokens"]["accessToken"])
    bound = await member.data(
        """mutation { bindPhone(input: {wechatPhoneCode: "test-phone:+8613800138000"}) {
        member { id identities { kind masked verified } } errors { code message } } }"""
    )
    kinds = {i["kind"] for i in bound["bindPhone"]["member"]["identities"]}
    assert kinds == {"WECHAT_OPENID", "WECHAT_UNIONID", "PHONE", "POS_CARD"}, bound
    # the POS member's id now resolves to the survivor
    cs = await clerk_a.data("{ viewer { kind } }")
    assert cs["viewer"]["kind"] == "STAFF"
    me = await member.data("{ me { id consents { current { purpose granted } } } }")
    assert me["me"]["id"] == first["member"]["id"]
    assert pos_member != me["me"]["id"]


async def test_phone_code_login(api: Api, runtime: Runtime) -> None:
    sent = await api.data(
        """mutation { requestPhoneCode(input: {phone: "139 0013 9000"}) {
        expiresInSeconds errors { code message } } }"""
    )
    assert sent["requestPhoneCode"]["expiresInSeconds"] == 300, sent
    text = runtime.sms.outbox[-1].text  # type: ignore[attr-defined]
    code = text.split("code is ")[1][:6]
    login = await api.data(
        """mutation($c: String!) { loginWithPhone(input: {phone: "13900139000", code: $c}) {
        created member { identities { kind masked verified verifiedBy } } errors { code } } }""",
        {"c": code},
    )
    payload = login["loginWithPhone"]
    assert payload["created"] is True and payload["errors"] == []
    assert payload["member"]["identities"][0]["masked"] == "139****9000"
