"""Referrals over the API: a program, an invitee logging in with a code, a first order handed
over (the steps the referral tests share)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from domain.catalog.model import Variant
from infra.runtime import Runtime
from tests.support.api import Api
from tests.support.orders import complete, lid, order_input, pay_online, pickup_of, placed, stepped
from tests.support.shoppers import Shopper

ERRORS = "errors { code field message }"
PROGRAM = """id name status monthlyCap referrerPoints inviteePoints inviteePointsPerYuan
  referrerCouponTemplateId inviteeCouponTemplateId"""
CREATE_PROGRAM = f"""mutation($i: CreateReferralProgramInput!) {{
  createReferralProgram(input: $i) {{ program {{ {PROGRAM} }} {ERRORS} }} }}"""
SHARE = "{ me { referral { code sharePath scene } } }"
REFERRAL = "status reason referrerRewarded inviteeId referrerId"
MINE = f"""{{ me {{ referrals {{ invited rewarded pending items {{ {REFERRAL} }}
  referredBy {{ {REFERRAL} }} }} }} }}"""
LOGIN = """mutation($code: String!, $ref: String, $device: String) {
  loginWithWechat(input: {appId: "wx-demo", code: $code, referralCode: $ref,
    deviceFingerprint: $device}) {
    tokens { accessToken } created member { id } errors { code message field } } }"""
POINTS = "{ me { points { balance } } }"


def program_input(runtime: Runtime, **fields: Any) -> dict[str, Any]:
    now = runtime.clock.now()
    return {
        "name": "老带新",
        "startsAt": (now - timedelta(days=1)).isoformat(),
        "endsAt": (now + timedelta(days=90)).isoformat(),
        "monthlyCap": 10,
        "referrerPoints": 500,
        "inviteePoints": 100,
        **fields,
    }


async def create_program(admin: Api, runtime: Runtime, **fields: Any) -> dict[str, Any]:
    data = await admin.data(CREATE_PROGRAM, {"i": {"program": program_input(runtime, **fields)}})
    payload: dict[str, Any] = data["createReferralProgram"]
    assert payload["errors"] == [], payload
    program: dict[str, Any] = payload["program"]
    return program


async def code_of(who: Shopper) -> str:
    code: str = (await who.api.data(SHARE))["me"]["referral"]["code"]
    return code


async def invited(
    api: Api, openid: str, code: str | None, device: str | None = None
) -> tuple[Shopper, bool]:
    """loginWithWechat with a referral code: it must succeed whatever growth decides."""
    variables = {"code": f"test:{openid}", "ref": code, "device": device}
    payload = (await api.data(LOGIN, variables))["loginWithWechat"]
    assert payload["errors"] == [], payload
    token = payload["tokens"]["accessToken"]
    return Shopper(payload["member"]["id"], api.as_(token), openid, ""), payload["created"]


async def referrals_of(caller: Api) -> dict[str, Any]:
    found: dict[str, Any] = (await caller.data(MINE))["me"]["referrals"]
    return found


async def balance(who: Shopper) -> int:
    points: int = (await who.api.data(POINTS))["me"]["points"]["balance"]
    return points


async def handed_over(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clerk: Api,
    who: Shopper,
    stores: dict[str, Any],
    variant: Variant,
) -> dict[str, Any]:
    """A pickup order of one unit, paid, prepared, ready and picked up."""
    order = await placed(who.api, order_input([(variant, 1)], pickup=lid(stores, "SH-A")))
    await pay_online(client, runtime, who, order)
    await stepped(clerk, "startPreparingOrder", order["id"])
    await stepped(clerk, "markOrderReadyForPickup", order["id"])
    code = (await pickup_of(who, order))["code"]
    done = await complete(clerk, stores, code)
    assert done["errors"] == [] and done["order"]["status"] == "PICKED_UP", done
    return order
