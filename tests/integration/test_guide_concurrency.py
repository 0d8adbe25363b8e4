"""First touches racing on PostgreSQL, through concurrent API requests (each its own
transaction on its own pooled connection, half of them in a second API process): the
member's binding is one insert that gives way on its primary key, so shares of several
guides opened at once leave one guide, every answer names that guide, and none fails."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from domain.identity.model import StaffRole
from infra.db.models.guides import GuideBindingRow
from infra.db.models.identity import StaffUserRow
from infra.runtime import Runtime
from tests.support import is_postgres
from tests.support.api import Api, staff_api
from tests.support.processes import second_api
from tests.support.shoppers import Shopper, shopper

SHARE = "{ guideShare { code } }"
BIND = """mutation($c: String!) { bindGuide(input: {guideCode: $c}) {
  bound guide { staffName } errors { code } } }"""


@pytest.fixture(autouse=True)
def postgres_only(runtime: Runtime) -> None:
    if not is_postgres(runtime.settings.database_url):
        pytest.skip("concurrency is decided by PostgreSQL's unique keys")


async def _codes(api: Api, runtime: Runtime, stores: dict[str, Any], count: int) -> list[str]:
    codes = []
    for n in range(count):
        store = stores["SH-A" if n % 2 else "SH-B"]
        clerk = await staff_api(api, runtime, f"race-guide-{n}", StaffRole.STORE_CLERK, [store])
        codes.append((await clerk.data(SHARE))["guideShare"]["code"])
    return codes


async def test_first_touches_at_once_leave_one_guide(
    api: Api, runtime: Runtime, stores: dict[str, Any]
) -> None:
    """Half of the shares are opened through a second API process."""
    if not runtime.settings.redis_url:
        pytest.skip("two API processes share PostgreSQL and Redis")
    codes = await _codes(api, runtime, stores, 6)
    async with second_api(runtime.settings) as other:

        async def there(who: Shopper, code: str) -> dict[str, Any]:
            response = await other.post(
                "/graphql",
                json={"query": BIND, "variables": {"c": code}},
                headers={"Authorization": f"Bearer {who.api.token}"},
            )
            body: dict[str, Any] = response.json()
            return body

        for round_ in range(3):  # a race is won by chance: run a few
            who = await shopper(api, f"race-member-{round_}")
            answers = await asyncio.gather(
                *(there(who, c) if n % 2 else who.api(BIND, {"c": c}) for n, c in enumerate(codes))
            )
            await _one_guide(who, answers)


async def _one_guide(who: Shopper, answers: list[dict[str, Any]]) -> None:
    """Every answer a success, one of them the binding, all naming the guide that won."""
    payloads = [a["data"]["bindGuide"] for a in answers]
    assert [p["errors"] for p in payloads] == [[]] * len(answers), answers
    assert sum(p["bound"] for p in payloads) == 1
    [row] = await GuideBindingRow.filter(member_id=who.key)
    name = (await StaffUserRow.get(id=row.staff_id)).display_name
    assert {p["guide"]["staffName"] for p in payloads} == {name}


async def test_a_login_and_a_bind_at_once_leave_one_guide(
    api: Api, runtime: Runtime, stores: dict[str, Any]
) -> None:
    first, second = await _codes(api, runtime, stores, 2)
    who = await shopper(api, "race-login")
    login = """mutation($code: String!, $g: String) { loginWithWechat(input: {appId: "wx-demo",
      code: $code, guideCode: $g}) { member { id } errors { code } } }"""

    answers = await asyncio.gather(
        api(login, {"code": "test:race-login", "g": first}), who.api(BIND, {"c": second})
    )

    assert answers[0]["data"]["loginWithWechat"]["errors"] == [], answers
    assert answers[1]["data"]["bindGuide"]["errors"] == [], answers
    assert await GuideBindingRow.filter(member_id=who.key).count() == 1
