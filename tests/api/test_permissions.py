"""Who may call what: anonymous callers, staff roles, store scoping, devices and API keys."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from api.relay import encode_id
from domain.identity.model import StaffRole
from domain.identity.services import create_staff
from infra.runtime import Runtime
from tests.conftest import HOURS
from tests.support.api import Api, login
from tests.support.payloads import codes

PASSWORD = "correct-horse-battery"

PRODUCT_CREATE = """
mutation($name: String!, $code: String!) {
  productCreate(input: {name: $name, variants: [{code: $code, name: $name, price: 990}]}) {
    product { name variants { code } }
    errors { code field message }
  }
}"""

STAFF_CREATE = """
mutation($input: StaffCreateInput!) {
  staffCreate(input: $input) {
    staff { username role stores { code } }
    errors { code field message }
  }
}"""

DEVICE_CREATE = """
mutation($locationId: ID!, $kind: DeviceKind!, $name: String) {
  deviceCreate(input: {locationId: $locationId, kind: $kind, name: $name}) {
    device { id kind name location { code } }
    token
    errors { code field message }
  }
}"""

DEVICE_REVOKE = "mutation($id: ID!) { deviceRevoke(input: {id: $id}) { ok errors { code } } }"

API_KEY_CREATE = """
mutation($name: String!, $scopes: [ApiScope!]!) {
  apiKeyCreate(input: {name: $name, scopes: $scopes}) {
    apiKey { id name prefix scopes revokedAt }
    secret
    errors { code field message }
  }
}"""

API_KEY_REVOKE = "mutation($id: ID!) { apiKeyRevoke(input: {id: $id}) { ok errors { code } } }"

LOCATION_CREATE = """
mutation {
  locationCreate(input: {code: "SH-C", name: "Store C", type: STORE, address: "3 Test Rd",
                         city: "Shanghai", latitude: 31.2, longitude: 121.5}) {
    location { code }
    errors { code field message }
  }
}"""

LOCATION_FIELDS = """
  id code name status pickupEnabled phone
  coordinates { latitude longitude }
  openingHours { day ranges { opens closes } }
"""

LOCATION_UPDATE = f"""
mutation($input: LocationUpdateInput!) {{
  locationUpdate(input: $input) {{
    location {{ {LOCATION_FIELDS} }}
    errors {{ code field message }}
  }}
}}"""

LOCATION = f"query($id: ID!) {{ location(id: $id) {{ {LOCATION_FIELDS} }} }}"

PRODUCTS = "{ products(first: 10) { nodes { name } } }"

NEW_HOURS = [{"day": "mon", "ranges": [{"opens": "08:00", "closes": "20:00"}]}]


# ---------------------------------------------------------------- helpers


def gid(type_name: str, entity: Any) -> str:
    return str(encode_id(type_name, entity.id))


def assert_denied(body: dict[str, Any], field: str, code: str) -> None:
    """A top-level error with `code` at `field`, and no data for that field."""
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
    assert body["errors"][0]["path"] == [field]
    assert body["data"] is None or body["data"].get(field) is None


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def create_product(caller: Api, name: str = "Tea", code: str = "TEA-1") -> dict[str, Any]:
    return await caller(PRODUCT_CREATE, {"name": name, "code": code})


async def staff_client(api: Api, runtime: Runtime, name: str, role: StaffRole) -> Api:
    """A logged-in staff user without stores (ADMIN or CS_AGENT)."""
    await create_staff(runtime.auth, name, PASSWORD, role, [])
    result = await login(api, name, PASSWORD)
    assert result["errors"] == [], result
    return api.as_(result["tokens"]["accessToken"])


async def staff_create(admin: Api, **fields: Any) -> dict[str, Any]:
    data = await admin.data(STAFF_CREATE, {"input": {"password": PASSWORD, **fields}})
    payload: dict[str, Any] = data["staffCreate"]
    return payload


async def update_location(caller: Api, location_id: str, **patch: Any) -> dict[str, Any]:
    return await caller(LOCATION_UPDATE, {"input": {"id": location_id, **patch}})


async def read_location(api: Api, location_id: str) -> dict[str, Any]:
    location: dict[str, Any] = (await api.data(LOCATION, {"id": location_id}))["location"]
    return location


async def create_device(admin: Api, location_id: str, kind: str = "KIOSK") -> dict[str, Any]:
    data = await admin.data(
        DEVICE_CREATE, {"locationId": location_id, "kind": kind, "name": "Front kiosk"}
    )
    payload: dict[str, Any] = data["deviceCreate"]
    assert payload["errors"] == [], payload
    return payload


# ---------------------------------------------------------------- anonymous callers


async def test_anonymous_writes_are_unauthenticated(api: Api, stores: dict[str, Any]) -> None:
    assert_denied(await create_product(api), "productCreate", "UNAUTHENTICATED")
    body = await api(
        STAFF_CREATE,
        {"input": {"username": "eve", "password": PASSWORD, "role": "ADMIN"}},
    )
    assert_denied(body, "staffCreate", "UNAUTHENTICATED")
    body = await api(DEVICE_CREATE, {"locationId": gid("Location", stores["SH-A"]), "kind": "POS"})
    assert_denied(body, "deviceCreate", "UNAUTHENTICATED")


async def test_anonymous_can_list_products(api: Api, admin: Api) -> None:
    assert (await create_product(admin))["data"]["productCreate"]["errors"] == []
    assert (await api.data(PRODUCTS))["products"]["nodes"] == [{"name": "Tea"}]


# ---------------------------------------------------------------- staff roles


async def test_clerk_cannot_create_products(clerk_a: Api, api: Api) -> None:
    assert_denied(await create_product(clerk_a), "productCreate", "FORBIDDEN")
    assert (await api.data(PRODUCTS))["products"]["nodes"] == []


async def test_cs_agent_and_clerk_cannot_create_devices(
    api: Api, runtime: Runtime, clerk_a: Api, stores: dict[str, Any]
) -> None:
    cs_agent = await staff_client(api, runtime, "cs-agent", StaffRole.CS_AGENT)
    variables = {"locationId": gid("Location", stores["SH-A"]), "kind": "POS"}
    for caller in (cs_agent, clerk_a):
        assert_denied(await caller(DEVICE_CREATE, variables), "deviceCreate", "FORBIDDEN")


async def test_manager_cannot_create_staff_or_api_keys(manager_a: Api) -> None:
    body = await manager_a(
        STAFF_CREATE,
        {"input": {"username": "eve", "password": PASSWORD, "role": "ADMIN"}},
    )
    assert_denied(body, "staffCreate", "FORBIDDEN")
    body = await manager_a(API_KEY_CREATE, {"name": "mine", "scopes": ["CATALOG_WRITE"]})
    assert_denied(body, "apiKeyCreate", "FORBIDDEN")


# ---------------------------------------------------------------- devices


async def test_device_token_is_a_store_bound_identity_that_can_be_revoked(
    api: Api, admin: Api, stores: dict[str, Any]
) -> None:
    sh_a = gid("Location", stores["SH-A"])
    created = await create_device(admin, sh_a)
    assert created["device"]["kind"] == "KIOSK"
    assert created["device"]["location"] == {"code": "SH-A"}
    device = api.as_(created["token"])

    seen = await device.data("{ viewer { kind role device { name location { code } } } }")
    assert seen["viewer"] == {
        "kind": "DEVICE",
        "role": None,
        "device": {"name": "Front kiosk", "location": {"code": "SH-A"}},
    }
    assert_denied(await create_product(device), "productCreate", "FORBIDDEN")
    body = await update_location(device, sh_a, pickupEnabled=False)
    assert_denied(body, "locationUpdate", "FORBIDDEN")
    assert (await read_location(api, sh_a))["pickupEnabled"] is True

    revoked = await admin.data(DEVICE_REVOKE, {"id": created["device"]["id"]})
    assert revoked["deviceRevoke"] == {"ok": True, "errors": []}
    assert_401(await device.raw("{ viewer { kind } }"))
    again = await admin.data(DEVICE_REVOKE, {"id": created["device"]["id"]})
    assert again["deviceRevoke"] == {"ok": False, "errors": [{"code": "NOT_FOUND"}]}


async def test_device_token_is_not_accepted_with_a_changed_character(
    api: Api, admin: Api, stores: dict[str, Any]
) -> None:
    token = (await create_device(admin, gid("Location", stores["SH-A"])))["token"]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert_401(await api.as_(flipped).raw("{ viewer { kind } }"))


# ---------------------------------------------------------------- API keys


async def test_api_key_acts_within_its_scopes_until_revoked(api: Api, admin: Api) -> None:
    data = await admin.data(API_KEY_CREATE, {"name": "erp", "scopes": ["CATALOG_WRITE"]})
    created = data["apiKeyCreate"]
    assert created["errors"] == []
    assert created["apiKey"]["scopes"] == ["CATALOG_WRITE"]
    assert created["apiKey"]["revokedAt"] is None
    secret = created["secret"]
    assert secret.startswith(created["apiKey"]["prefix"])
    key = api.as_(secret)

    seen = await key.data("{ viewer { kind role scopes staff { username } } }")
    assert seen["viewer"] == {
        "kind": "API_KEY",
        "role": None,
        "scopes": ["CATALOG_WRITE"],
        "staff": None,
    }
    made = (await create_product(key))["data"]["productCreate"]
    assert made["errors"] == []
    assert made["product"] == {"name": "Tea", "variants": [{"code": "TEA-1"}]}
    assert_denied(await key(LOCATION_CREATE), "locationCreate", "FORBIDDEN")

    revoked = await admin.data(API_KEY_REVOKE, {"id": created["apiKey"]["id"]})
    assert revoked["apiKeyRevoke"] == {"ok": True, "errors": []}
    assert_401(await key.raw(PRODUCTS))


async def test_api_key_without_catalog_write_cannot_create_products(api: Api, admin: Api) -> None:
    data = await admin.data(API_KEY_CREATE, {"name": "reader", "scopes": ["CATALOG_READ"]})
    key = api.as_(data["apiKeyCreate"]["secret"])
    assert_denied(await create_product(key), "productCreate", "FORBIDDEN")


async def test_api_key_needs_a_scope(admin: Api) -> None:
    data = await admin.data(API_KEY_CREATE, {"name": "nothing", "scopes": []})
    payload = data["apiKeyCreate"]
    assert payload["secret"] is None and payload["apiKey"] is None
    assert payload["errors"][0]["code"] == "INVALID_INPUT"
    assert payload["errors"][0]["field"] == ["scopes"]


# ---------------------------------------------------------------- store scoping


async def test_manager_changes_hours_and_pickup_of_own_store(
    api: Api, manager_a: Api, stores: dict[str, Any]
) -> None:
    sh_a = gid("Location", stores["SH-A"])

    body = await update_location(
        manager_a, sh_a, openingHours=NEW_HOURS, pickupEnabled=False, phone="021-5555-0101"
    )

    payload = body["data"]["locationUpdate"]
    assert payload["errors"] == []
    stored = await read_location(api, sh_a)
    assert payload["location"] == stored
    assert stored["openingHours"] == NEW_HOURS
    assert stored["pickupEnabled"] is False
    assert stored["phone"] == "021-5555-0101"


async def test_manager_cannot_touch_another_store(
    api: Api, manager_a: Api, stores: dict[str, Any]
) -> None:
    sh_b = gid("Location", stores["SH-B"])
    before = await read_location(api, sh_b)

    body = await update_location(manager_a, sh_b, openingHours=NEW_HOURS, pickupEnabled=False)

    payload = body["data"]["locationUpdate"]
    assert payload["location"] is None
    assert codes(payload) == ["FORBIDDEN"]
    assert await read_location(api, sh_b) == before
    assert before["pickupEnabled"] is True
    assert len(before["openingHours"]) == len(HOURS)


async def test_manager_cannot_move_own_store(
    api: Api, manager_a: Api, stores: dict[str, Any]
) -> None:
    sh_a = gid("Location", stores["SH-A"])
    before = await read_location(api, sh_a)

    for patch in ({"latitude": 31.0}, {"name": "Renamed"}, {"status": "CLOSED"}):
        # Mixed with an allowed field, the whole update is refused.
        body = await update_location(manager_a, sh_a, pickupEnabled=False, **patch)
        payload = body["data"]["locationUpdate"]
        assert payload["location"] is None
        assert codes(payload) == ["FORBIDDEN"]
        assert payload["errors"][0]["field"] == list(patch)

    assert await read_location(api, sh_a) == before


async def test_clerk_cannot_update_locations(
    api: Api, clerk_a: Api, stores: dict[str, Any]
) -> None:
    sh_a = gid("Location", stores["SH-A"])
    before = await read_location(api, sh_a)
    body = await update_location(clerk_a, sh_a, pickupEnabled=False)
    assert_denied(body, "locationUpdate", "FORBIDDEN")
    assert await read_location(api, sh_a) == before


async def test_admin_changes_anything(api: Api, admin: Api, stores: dict[str, Any]) -> None:
    sh_b = gid("Location", stores["SH-B"])

    body = await update_location(
        admin,
        sh_b,
        name="Store B (new)",
        latitude=31.2,
        longitude=121.4,
        status="CLOSED",
        openingHours=NEW_HOURS,
        pickupEnabled=False,
    )

    payload = body["data"]["locationUpdate"]
    assert payload["errors"] == []
    stored = await read_location(api, sh_b)
    assert payload["location"] == stored
    assert stored["name"] == "Store B (new)"
    assert stored["coordinates"] == {"latitude": 31.2, "longitude": 121.4}
    assert stored["status"] == "CLOSED"
    assert stored["openingHours"] == NEW_HOURS
    assert stored["pickupEnabled"] is False


# ---------------------------------------------------------------- staffCreate


async def test_store_roles_need_stores(admin: Api) -> None:
    for role in ("STORE_CLERK", "STORE_MANAGER"):
        payload = await staff_create(admin, username="carol", role=role)
        assert payload["staff"] is None
        assert codes(payload) == ["INVALID_INPUT"]
        assert payload["errors"][0]["field"] == ["storeIds"]


async def test_duplicate_username_is_refused(admin: Api) -> None:
    assert (await staff_create(admin, username="carol", role="CS_AGENT"))["errors"] == []
    for spelling in ("carol", "Carol"):
        payload = await staff_create(admin, username=spelling, role="CS_AGENT")
        assert payload["staff"] is None
        assert codes(payload) == ["DUPLICATE_USERNAME"]
        assert payload["errors"][0]["field"] == ["username"]


async def test_store_ids_must_be_location_ids(admin: Api, stores: dict[str, Any]) -> None:
    not_base64 = "not an id!"
    not_a_location = gid("Product", stores["SH-A"])
    for bad in (not_base64, not_a_location):
        payload = await staff_create(admin, username="carol", role="STORE_CLERK", storeIds=[bad])
        assert payload["staff"] is None
        assert codes(payload) == ["INVALID_ID"], payload
        assert payload["errors"][0]["field"] == ["storeIds", "0"]

    missing = base64.b64encode(b"Location:00000000-0000-4000-8000-000000000000").decode()
    payload = await staff_create(admin, username="carol", role="STORE_CLERK", storeIds=[missing])
    assert codes(payload) == ["NOT_FOUND"]


async def test_created_clerk_logs_in_and_sees_its_store(
    api: Api, admin: Api, stores: dict[str, Any]
) -> None:
    payload = await staff_create(
        admin, username="carol", role="STORE_CLERK", storeIds=[gid("Location", stores["SH-B"])]
    )
    assert payload["errors"] == []
    assert payload["staff"] == {
        "username": "carol",
        "role": "STORE_CLERK",
        "stores": [{"code": "SH-B"}],
    }

    result = await login(api, "carol", PASSWORD)
    assert result["errors"] == []
    carol = api.as_(result["tokens"]["accessToken"])
    seen = await carol.data("{ viewer { kind role stores { code } staff { username } } }")
    assert seen["viewer"] == {
        "kind": "STAFF",
        "role": "STORE_CLERK",
        "stores": [{"code": "SH-B"}],
        "staff": {"username": "carol"},
    }
