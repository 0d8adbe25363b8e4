"""Every String input passes one check (issue 12, 6): control characters other than tab and
newline, or more than 10,000 characters, are INVALID_INPUT with the field, before anything
runs. A NUL byte in a note, a name, a code or a filter reached the database driver, which
refuses 0x00: INTERNAL_SERVER_ERROR."""

from __future__ import annotations

import pytest

from api.relay import encode_id
from domain.identity.model import StaffRole
from domain.identity.services import create_staff
from domain.locations.model import Location
from infra.db.models.orders import OrderRow
from infra.runtime import Runtime
from tests.support.api import Api, login
from tests.support.orders import PLACE, make_variants, order_input, receive
from tests.support.payloads import top_level_errors
from tests.support.shoppers import shopper

BAD_TEXT = ["nul\x00byte", "bell\x07", "escape\x1b[31m", "del\x7f", "x" * 10_001]


@pytest.mark.parametrize("text", BAD_TEXT)
async def test_a_bad_note_in_the_variables_is_refused_and_nothing_is_ordered(
    api: Api, runtime: Runtime, stores: dict[str, Location], text: str
) -> None:
    (mango,) = await make_variants(runtime, ("MANGO-T", "1kg", 1990))
    await receive(runtime, stores["SH-A"].id, mango, 5)
    member = await shopper(api, "texter")
    pickup = order_input([(mango, 1)], pickup=_gid(stores["SH-A"]), note=text)
    refused = (await member.api.data(PLACE, {"input": pickup}))["placeOrder"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_INPUT", ["note"])]
    assert refused["order"] is None
    assert await OrderRow.all().count() == 0
    # Tab and newline are text: the same order with them goes through.
    fine = order_input([(mango, 1)], pickup=_gid(stores["SH-A"]), note="ring\tthe bell\ntwice")
    placed = (await member.api.data(PLACE, {"input": fine}))["placeOrder"]
    assert placed["errors"] == [], placed


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (
            '{ variantByCode(code: "MANGO\\u0000") { id } }',
            ["code"],
        ),
        (
            '{ stockMovements(filter: {reference: "a\\u001Fb"}) { nodes { id } } }',
            ["filter", "reference"],
        ),
        (
            '{ products(first: 1, search: "' + "y" * 10_001 + '") { edges { cursor } } }',
            ["search"],
        ),
    ],
)
async def test_bad_text_in_the_document_is_refused_with_its_argument(
    api: Api, runtime: Runtime, document: str, field: list[str]
) -> None:
    await create_staff(runtime.auth, "admin-t", "correct-horse-battery", StaffRole.ADMIN, [])
    token = (await login(api, "admin-t", "correct-horse-battery"))["tokens"]["accessToken"]
    body = await api.as_(token)(document)
    assert top_level_errors(body) == [("INVALID_INPUT", field)], body


def _gid(location: Location) -> str:
    return encode_id("Location", location.id)


async def test_bad_text_in_a_mutation_document_is_the_payloads_error(api: Api) -> None:
    body = await api.data(
        'mutation { staffLogin(input: {username: "ad\\u0000min", password: "p"}) '
        "{ tokens { accessToken } errors { code field } } }"
    )
    assert body["staffLogin"] == {
        "tokens": None,
        "errors": [{"code": "INVALID_INPUT", "field": ["username"]}],
    }
