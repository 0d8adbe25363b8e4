"""Group-buys over GraphQL, shared by tests/api/test_group_buys.py and the race across two API
processes (tests/api/test_group_buy_races.py): the documents, a campaign's terms, opening,
joining and reading a group."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.catalog.model import Variant
from infra.runtime import Runtime
from tests.support.api import Api
from tests.support.orders import lid, vid
from tests.support.shoppers import Shopper, shopper

CAMPAIGN = """id price { amount } groupSize timeLimitMinutes perMemberLimit locationIds delivery
  unitsOffered unitsTaken cancelReason variant { code }"""
GROUP = """id status size remaining seatsTaken expiresAt campaignId
  members { label leader paid }"""
CREATE = f"""mutation($input: CreateGroupBuyCampaignInput!) {{
  createGroupBuyCampaign(input: $input) {{ campaign {{ {CAMPAIGN} }}
  errors {{ code field message }} }} }}"""
CANCEL_CAMPAIGN = f"""mutation($input: CancelGroupBuyCampaignInput!) {{
  cancelGroupBuyCampaign(input: $input) {{ campaign {{ {CAMPAIGN} }}
  errors {{ code field message }} }} }}"""
SEAT = f"""group {{ {GROUP} }} order {{ id status total {{ amount }} }}
  errors {{ code field message }}"""
OPEN = f"mutation($input: OpenGroupInput!) {{ openGroup(input: $input) {{ {SEAT} }} }}"
JOIN = f"mutation($input: JoinGroupInput!) {{ joinGroup(input: $input) {{ {SEAT} }} }}"
READ_GROUP = f"query($id: ID!) {{ group(id: $id) {{ {GROUP} }} }}"
LIST = f"query($a: Boolean) {{ groupBuyCampaigns(active: $a) {{ {CAMPAIGN} }} }}"


def terms(
    runtime: Runtime,
    stores: dict[str, Any],
    variant: Variant,
    *,
    size: int = 3,
    price: int = 3900,
    limit: int = 1,
    units: int = 30,
    where: tuple[str, ...] = ("SH-A",),
    minutes: int = 24 * 60,
    starts_in: timedelta = timedelta(0),
) -> dict[str, Any]:
    starts = runtime.clock.now() + starts_in
    return {
        "variantId": vid(variant),
        "price": price,
        "groupSize": size,
        "timeLimitMinutes": minutes,
        "perMemberLimit": limit,
        "startsAt": starts.isoformat(),
        "endsAt": (starts + timedelta(days=7)).isoformat(),
        "unitsOffered": units,
        "locationIds": [lid(stores, c) for c in where],
    }


async def created(admin: Api, campaign_terms: dict[str, Any]) -> dict[str, Any]:
    payload = (await admin.data(CREATE, {"input": campaign_terms}))["createGroupBuyCampaign"]
    assert payload["errors"] == [], payload
    campaign: dict[str, Any] = payload["campaign"]
    return campaign


def pickup(stores: dict[str, Any], code: str = "SH-A") -> dict[str, Any]:
    return {"pickup": {"locationId": lid(stores, code)}}


async def open_group(
    who: Shopper, campaign: dict[str, Any], stores: dict[str, Any]
) -> dict[str, Any]:
    payload: dict[str, Any] = (
        await who.api.data(
            OPEN, {"input": {"campaignId": campaign["id"], "fulfilment": pickup(stores)}}
        )
    )["openGroup"]
    return payload


async def join(
    who: Shopper, group_id: str, stores: dict[str, Any], code: str = "SH-A"
) -> dict[str, Any]:
    payload: dict[str, Any] = (
        await who.api.data(
            JOIN, {"input": {"groupId": group_id, "fulfilment": pickup(stores, code)}}
        )
    )["joinGroup"]
    return payload


async def group_of(api: Api, group_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await api.data(READ_GROUP, {"id": group_id}))["group"]
    return found


async def members(api: Api, count: int, prefix: str = "m") -> list[Shopper]:
    return [await shopper(api, f"{prefix}-{n}", name=f"Zhang{n}") for n in range(count)]
