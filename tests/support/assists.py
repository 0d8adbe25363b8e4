"""Friend-assist over GraphQL for tests: the operations, an ADMIN's campaign, a member's
task, an assist and a crowd of helpers."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.shoppers import Shopper, shopper

CAMPAIGN_FIELDS = """campaign { id name status taskHours newHelpersOnly
  thresholds { helpers reward { couponTemplateId points } }
  helperReward { couponTemplateId points } } errors { code field message }"""
CREATE = f"""mutation($i: AssistCampaignInput!) {{ createAssistCampaign(input: $i) {{
  {CAMPAIGN_FIELDS} }} }}"""
UPDATE = f"""mutation($i: UpdateAssistCampaignInput!) {{ updateAssistCampaign(input: $i) {{
  {CAMPAIGN_FIELDS} }} }}"""
END = f"""mutation($c: ID!) {{ endAssistCampaign(input: {{campaignId: $c}}) {{
  {CAMPAIGN_FIELDS} }} }}"""
CAMPAIGNS = """query($s: AssistCampaignStatus) { assistCampaigns(status: $s) {
  nodes { id name status } } }"""
TASK_FIELDS = """id status count nextThreshold expiresAt helpers { name assistedAt }
  campaign { id name }"""
START = f"""mutation($c: ID!) {{ startAssist(input: {{campaignId: $c}}) {{
  task {{ {TASK_FIELDS} }} errors {{ code field message }} }} }}"""
ASSIST = f"""mutation($t: ID!, $k: String) {{ assist(input: {{taskId: $t, idempotencyKey: $k}}) {{
  task {{ {TASK_FIELDS} }} errors {{ code field message }} }} }}"""
TASK = f"""query($id: ID!) {{ assistTask(id: $id) {{ {TASK_FIELDS} }} }}"""
MINE = f"""{{ me {{ assistTasks {{ {TASK_FIELDS} }} points {{ balance }}
  coupons {{ nodes {{ name }} }} }} }}"""


async def create(admin: Api, **changes: Any) -> dict[str, Any]:
    values = {
        "name": "3人助力得小样",
        "thresholds": [{"helpers": 3, "reward": {"points": 100}}],
        "taskHours": 72,
        **changes,
    }
    payload = (await admin.data(CREATE, {"i": values}))["createAssistCampaign"]
    assert payload["errors"] == [], payload
    campaign: dict[str, Any] = payload["campaign"]
    return campaign


async def start(member: Shopper, campaign: dict[str, Any]) -> dict[str, Any]:
    payload = (await member.api.data(START, {"c": campaign["id"]}))["startAssist"]
    assert payload["errors"] == [], payload
    task: dict[str, Any] = payload["task"]
    return task


async def assist(helper: Shopper, task: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = (await helper.api.data(ASSIST, {"t": task["id"], "k": key}))["assist"]
    return payload


async def helpers(api: Api, prefix: str, count: int) -> list[Shopper]:
    return [await shopper(api, f"{prefix}-{n}", name=f"王{n}号") for n in range(count)]
