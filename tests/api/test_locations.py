"""Locations over GraphQL: the store network, nearest-first search, hours and validation."""

from __future__ import annotations

import base64
import math
from typing import Any

from tests.support.api import Api

ERRORS = "errors { code field message }"
LOCATION = """id code name type status address city coordinates { latitude longitude }
  timezone openingHours { day ranges { opens closes } } pickupEnabled shipsOnline phone distance"""

LOCATION_CREATE = f"""mutation($input: LocationCreateInput!) {{
  locationCreate(input: $input) {{ location {{ {LOCATION} }} {ERRORS} }} }}"""
LOCATION_UPDATE = f"""mutation($input: LocationUpdateInput!) {{
  locationUpdate(input: $input) {{ location {{ {LOCATION} }} {ERRORS} }} }}"""
LOCATIONS = """query($near: NearInput, $types: [LocationType!], $pickupEnabled: Boolean,
                    $first: Int, $after: String) {
  locations(near: $near, types: $types, pickupEnabled: $pickupEnabled, first: $first,
            after: $after) {
    edges { cursor node { id code distance } }
    nodes { code }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  } }"""
LOCATION_BY_ID = f"query($id: ID!) {{ location(id: $id) {{ {LOCATION} }} }}"
LOCATION_BY_CODE = f"query($code: String!) {{ locationByCode(code: $code) {{ {LOCATION} }} }}"

EARTH_RADIUS_M = 6_371_008.8
NEAR_SH_B = {"latitude": 31.19, "longitude": 121.44}


def haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle metres, computed here independently of the application."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def hours(*days: tuple[str, list[tuple[str, str]]]) -> list[dict[str, Any]]:
    return [
        {"day": day, "ranges": [{"opens": o, "closes": c} for o, c in ranges]}
        for day, ranges in days
    ]


def location_input(code: str, lat: float = 31.2, lon: float = 121.4, **extra: Any) -> Any:
    return {
        "code": code,
        "name": f"Store {code}",
        "type": "STORE",
        "address": "88 Nanjing Rd",
        "city": "Shanghai",
        "latitude": lat,
        "longitude": lon,
        **extra,
    }


async def mutate(api: Api, query: str, field: str, variables: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await api.data(query, variables))[field]
    return payload


async def create_location(api: Api, code: str, **kwargs: Any) -> Any:
    payload = await mutate(
        api, LOCATION_CREATE, "locationCreate", {"input": location_input(code, **kwargs)}
    )
    assert payload["errors"] == [], payload
    return payload["location"]


async def update_location(api: Api, location_id: str, **changes: Any) -> dict[str, Any]:
    return await mutate(
        api, LOCATION_UPDATE, "locationUpdate", {"input": {"id": location_id, **changes}}
    )


async def locations(api: Api, **variables: Any) -> dict[str, Any]:
    connection: dict[str, Any] = (await api.data(LOCATIONS, variables))["locations"]
    return connection


async def location_codes(api: Api, **variables: Any) -> list[str]:
    connection = await locations(api, first=100, **variables)
    return [node["code"] for node in connection["nodes"]]


def only_error(payload: dict[str, Any]) -> tuple[str, list[str] | None]:
    assert payload["location"] is None, payload
    assert len(payload["errors"]) == 1, payload
    error = payload["errors"][0]
    assert error["message"], error
    return error["code"], error["field"]


async def rejected(api: Api, **fields: Any) -> tuple[str, list[str] | None]:
    """Try to create SH-X with the given fields; return the one error, check nothing was made."""
    payload = await mutate(
        api, LOCATION_CREATE, "locationCreate", {"input": location_input("SH-X", **fields)}
    )
    result = only_error(payload)
    assert (await api.data(LOCATION_BY_CODE, {"code": "SH-X"}))["locationByCode"] is None
    return result


# --------------------------------------------------------------------------- create / read


async def test_admin_creates_a_location_with_hours_and_timezone(admin: Api, api: Api) -> None:
    created = await create_location(
        admin,
        " sh-c ",
        lat=31.2397,
        lon=121.4998,
        type="PICKUP_POINT",
        timezone="Europe/London",
        openingHours=hours(
            ("sun", [("18:00", "24:00")]),
            ("mon", [("14:00", "18:00"), ("09:00", "12:00")]),
            ("tue", [("09:00", "12:00"), ("12:00", "18:00")]),
        ),
        pickupEnabled=True,
        phone=" 021-5555 ",
    )
    assert base64.b64decode(created["id"]).decode().startswith("Location:")
    assert created["code"] == "SH-C"
    assert created["type"] == "PICKUP_POINT"
    assert created["status"] == "ACTIVE"
    assert created["coordinates"] == {"latitude": 31.2397, "longitude": 121.4998}
    assert created["timezone"] == "Europe/London"
    # Weekdays in week order, ranges sorted.
    assert created["openingHours"] == hours(
        ("mon", [("09:00", "12:00"), ("14:00", "18:00")]),
        ("tue", [("09:00", "12:00"), ("12:00", "18:00")]),
        ("sun", [("18:00", "24:00")]),
    )
    assert created["pickupEnabled"] is True
    assert created["shipsOnline"] is False
    assert created["phone"] == "021-5555"
    assert created["distance"] is None

    by_code = (await api.data(LOCATION_BY_CODE, {"code": "sh-c"}))["locationByCode"]
    assert by_code == created
    by_id = (await api.data(LOCATION_BY_ID, {"id": created["id"]}))["location"]
    assert by_id == created


async def test_defaults_of_location_create(admin: Api) -> None:
    created = await create_location(admin, "WH-9", type="WAREHOUSE")
    assert created["timezone"] == "Asia/Shanghai"
    assert created["openingHours"] == []
    assert created["pickupEnabled"] is False
    assert created["phone"] is None


async def test_location_lookups_of_unknown_things_are_null(
    api: Api, stores: dict[str, Any]
) -> None:
    assert (await api.data(LOCATION_BY_CODE, {"code": "NOPE"}))["locationByCode"] is None
    assert (await api.data(LOCATION_BY_CODE, {"code": ""}))["locationByCode"] is None
    missing = base64.b64encode(b"Location:0190a000-0000-7000-8000-000000000000").decode()
    assert (await api.data(LOCATION_BY_ID, {"id": missing}))["location"] is None
    sh_a = (await api.data(LOCATION_BY_CODE, {"code": "SH-A"}))["locationByCode"]
    assert sh_a["name"] == "Store SH-A"
    assert (await api.data(LOCATION_BY_ID, {"id": sh_a["id"]}))["location"] == sh_a


async def test_location_writes_need_the_right_role(api: Api, clerk_a: Api, manager_a: Api) -> None:
    callers = ((api, "UNAUTHENTICATED"), (clerk_a, "FORBIDDEN"), (manager_a, "FORBIDDEN"))
    for caller, code in callers:
        body = await caller(LOCATION_CREATE, {"input": location_input("SH-X")})
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    assert (await api.data(LOCATION_BY_CODE, {"code": "SH-X"}))["locationByCode"] is None


# --------------------------------------------------------------------------- nearest first


async def test_near_returns_nearest_first_with_distance_in_metres(
    api: Api, stores: dict[str, Any]
) -> None:
    connection = await locations(api, near=NEAR_SH_B)
    assert [node["code"] for node in connection["nodes"]] == ["SH-B", "SH-A", "WH-1"]
    for edge in connection["edges"]:
        store = stores[edge["node"]["code"]]
        expected = haversine(
            NEAR_SH_B["latitude"],
            NEAR_SH_B["longitude"],
            store.point.latitude,
            store.point.longitude,
        )
        assert abs(edge["node"]["distance"] - expected) < 1.0, (edge, expected)
    distances = [edge["node"]["distance"] for edge in connection["edges"]]
    assert distances == sorted(distances)
    assert 300 < distances[0] < 1_000  # SH-B is a few hundred metres away
    assert 40_000 < distances[2] < 60_000  # the warehouse is out of town

    # From next to SH-A, SH-A comes first.
    near_a = {"latitude": 31.2305, "longitude": 121.4738}
    assert await location_codes(api, near=near_a) == ["SH-A", "SH-B", "WH-1"]
    first = (await locations(api, near=near_a))["edges"][0]["node"]
    assert first["distance"] < 20

    # Without `near` there is no distance, and the order is by code.
    connection = await locations(api)
    assert [node["code"] for node in connection["nodes"]] == ["SH-A", "SH-B", "WH-1"]
    assert {edge["node"]["distance"] for edge in connection["edges"]} == {None}


async def test_filters_by_type_and_pickup(api: Api, stores: dict[str, Any]) -> None:
    assert await location_codes(api, near=NEAR_SH_B, types=["STORE"]) == ["SH-B", "SH-A"]
    assert await location_codes(api, types=["WAREHOUSE"]) == ["WH-1"]
    assert await location_codes(api, types=["WAREHOUSE", "STORE"]) == ["SH-A", "SH-B", "WH-1"]
    assert await location_codes(api, types=["PICKUP_POINT"]) == []
    assert await location_codes(api, near=NEAR_SH_B, pickupEnabled=True) == ["SH-B", "SH-A"]
    assert await location_codes(api, pickupEnabled=False) == ["WH-1"]
    assert await location_codes(api, types=["WAREHOUSE"], pickupEnabled=True) == []


async def test_pagination_over_locations_sorted_by_distance(admin: Api, api: Api) -> None:
    # Twelve locations on a meridian, 0.01° (about 1.1 km) apart, created out of order.
    order = [5, 0, 11, 3, 8, 1, 10, 2, 7, 4, 9, 6]
    for index in order:
        await create_location(admin, f"L{index:02d}", lat=30.0 + index * 0.01, lon=120.0)
    origin = {"latitude": 29.99, "longitude": 120.0}

    seen: list[tuple[str, float]] = []
    pages = []
    after = None
    while True:
        connection = await locations(api, near=origin, first=5, after=after)
        info = connection["pageInfo"]
        pages.append((len(connection["edges"]), info["hasNextPage"], info["hasPreviousPage"]))
        seen.extend((e["node"]["code"], e["node"]["distance"]) for e in connection["edges"])
        assert info["endCursor"] == connection["edges"][-1]["cursor"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
        assert len(pages) < 5, "pagination does not end"

    assert pages == [(5, True, False), (5, True, True), (2, False, True)]
    assert [code for code, _ in seen] == [f"L{i:02d}" for i in range(12)]
    for index, (_, distance) in enumerate(seen):
        assert abs(distance - haversine(29.99, 120.0, 30.0 + index * 0.01, 120.0)) < 1.0

    # Past the end: empty.
    connection = await locations(api, near=origin, first=5, after=info["endCursor"])
    assert connection["edges"] == []
    assert connection["pageInfo"]["hasNextPage"] is False


async def test_pagination_with_equal_distances_loses_nothing(admin: Api, api: Api) -> None:
    for code in ("E-4", "E-1", "E-3", "E-6", "E-2", "E-5"):
        await create_location(admin, code, lat=31.0, lon=121.0)
    near = {"latitude": 31.01, "longitude": 121.0}
    seen: list[str] = []
    after = None
    for _ in range(5):
        connection = await locations(api, near=near, first=4, after=after)
        seen.extend(node["code"] for node in connection["nodes"])
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == ["E-1", "E-2", "E-3", "E-4", "E-5", "E-6"]


async def test_pagination_without_near_is_by_code(admin: Api, api: Api) -> None:
    for code in ("C-3", "C-1", "C-2"):
        await create_location(admin, code)
    first = await locations(api, first=2)
    assert [node["code"] for node in first["nodes"]] == ["C-1", "C-2"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await locations(api, first=2, after=first["pageInfo"]["endCursor"])
    assert [node["code"] for node in rest["nodes"]] == ["C-3"]
    assert rest["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": rest["edges"][0]["cursor"],
        "endCursor": rest["edges"][0]["cursor"],
    }


# --------------------------------------------------------------------------- validation


async def test_invalid_coordinates(admin: Api, api: Api) -> None:
    assert await rejected(admin, lat=91) == ("INVALID_COORDINATES", ["latitude"])
    assert await rejected(admin, lat=-90.5) == ("INVALID_COORDINATES", ["latitude"])
    assert await rejected(admin, lon=181) == ("INVALID_COORDINATES", ["longitude"])
    assert await rejected(admin, lat=1e308) == ("INVALID_COORDINATES", ["latitude"])
    # The edges of the range are fine.
    await create_location(admin, "POLE", lat=90, lon=-180)

    body = await api(LOCATIONS, {"near": {"latitude": 91, "longitude": 0}})
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_COORDINATES"]


async def test_invalid_timezone(admin: Api) -> None:
    for zone in ("Mars/Olympus", "asia/shanghai", "", "Asia", "../etc/passwd", "x" * 300):
        assert await rejected(admin, timezone=zone) == ("INVALID_TIMEZONE", ["timezone"]), zone


async def test_invalid_opening_hours(admin: Api) -> None:
    cases = {
        "overlap": (hours(("mon", [("09:00", "13:00"), ("12:00", "18:00")])), "mon"),
        "25:00": (hours(("tue", [("09:00", "25:00")])), "tue"),
        "24:30": (hours(("tue", [("09:00", "24:30")])), "tue"),
        "9:00": (hours(("wed", [("9:00", "18:00")])), "wed"),
        "backwards": (hours(("thu", [("18:00", "09:00")])), "thu"),
        "empty range": (hours(("fri", [("09:00", "09:00")])), "fri"),
        "funday": (hours(("funday", [("09:00", "18:00")])), "funday"),
        "Monday": (hours(("Monday", [("09:00", "18:00")])), "Monday"),
        "five ranges": (
            hours(("sat", [(f"{h:02d}:00", f"{h:02d}:30") for h in range(8, 13)])),
            "sat",
        ),
    }
    for name, (opening_hours, day) in cases.items():
        result = await rejected(admin, openingHours=opening_hours)
        assert result == ("INVALID_OPENING_HOURS", ["openingHours", day]), name

    # One weekday given twice, and more entries than weekdays.
    twice = hours(("mon", [("09:00", "12:00")]), ("mon", [("13:00", "18:00")]))
    assert await rejected(admin, openingHours=twice) == ("INVALID_INPUT", ["openingHours"])
    eight = hours(*[(day, []) for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "x")])
    assert await rejected(admin, openingHours=eight) == ("TOO_MANY_ITEMS", ["openingHours"])


async def test_invalid_text_fields(admin: Api) -> None:
    assert await rejected(admin, name="  ") == ("INVALID_INPUT", ["name"])
    assert await rejected(admin, city="") == ("INVALID_INPUT", ["city"])
    assert await rejected(admin, address="x" * 301) == ("INVALID_INPUT", ["address"])
    assert await rejected(admin, phone="1" * 31) == ("INVALID_INPUT", ["phone"])
    # Codes are upper-cased, and must still fit: "ß" becomes "SS".
    for code in ("X" * 33, "ß" * 20):
        payload = await mutate(
            admin, LOCATION_CREATE, "locationCreate", {"input": location_input(code)}
        )
        assert only_error(payload) == ("INVALID_INPUT", ["code"]), code


async def test_duplicate_code(admin: Api, api: Api, stores: dict[str, Any]) -> None:
    for code in ("SH-A", " sh-a "):
        payload = await mutate(
            admin, LOCATION_CREATE, "locationCreate", {"input": location_input(code)}
        )
        assert only_error(payload) == ("DUPLICATE_CODE", ["code"])
    assert await location_codes(api) == ["SH-A", "SH-B", "WH-1"]
    assert (await api.data(LOCATION_BY_CODE, {"code": "SH-A"}))["locationByCode"]["name"] == (
        "Store SH-A"
    )


# --------------------------------------------------------------------------- updates


async def test_admin_updates_a_location(admin: Api, api: Api, stores: dict[str, Any]) -> None:
    sh_a = (await api.data(LOCATION_BY_CODE, {"code": "SH-A"}))["locationByCode"]
    payload = await update_location(
        admin,
        sh_a["id"],
        name="Flagship",
        latitude=31.1881,
        openingHours=hours(("sat", [("10:00", "20:00")])),
        phone="",
    )
    assert payload["errors"] == []
    updated = payload["location"]
    assert updated["name"] == "Flagship"
    assert updated["coordinates"] == {"latitude": 31.1881, "longitude": 121.4737}
    assert updated["openingHours"] == hours(("sat", [("10:00", "20:00")]))
    assert updated["phone"] is None
    assert updated["code"] == "SH-A"
    assert updated["address"] == sh_a["address"]

    # Rejected changes leave the location as it was.
    for changes, expected in (
        ({"latitude": 95}, ("INVALID_COORDINATES", ["latitude"])),
        ({"timezone": "Nowhere/Town"}, ("INVALID_TIMEZONE", ["timezone"])),
        ({"openingHours": hours(("mon", [("25:00", "26:00")]))}, None),
    ):
        result = only_error(await update_location(admin, sh_a["id"], **changes))
        if expected is not None:
            assert result == expected
        else:
            assert result[0] == "INVALID_OPENING_HOURS"
    assert (await api.data(LOCATION_BY_ID, {"id": sh_a["id"]}))["location"] == updated


async def test_store_manager_changes_only_hours_of_own_store(
    manager_a: Api, api: Api, stores: dict[str, Any]
) -> None:
    sh_a = (await api.data(LOCATION_BY_CODE, {"code": "SH-A"}))["locationByCode"]
    sh_b = (await api.data(LOCATION_BY_CODE, {"code": "SH-B"}))["locationByCode"]
    new_hours = hours(("sun", [("10:00", "16:00")]))

    payload = await update_location(manager_a, sh_a["id"], openingHours=new_hours, phone="110")
    assert payload["errors"] == []
    assert payload["location"]["openingHours"] == new_hours

    assert only_error(await update_location(manager_a, sh_a["id"], name="Mine")) == (
        "FORBIDDEN",
        ["name"],
    )
    assert only_error(await update_location(manager_a, sh_b["id"], openingHours=new_hours)) == (
        "FORBIDDEN",
        ["id"],
    )
    after_b = (await api.data(LOCATION_BY_ID, {"id": sh_b["id"]}))["location"]
    assert after_b == sh_b


async def test_a_closed_location_disappears_from_the_list(
    admin: Api, api: Api, stores: dict[str, Any]
) -> None:
    sh_b = (await api.data(LOCATION_BY_CODE, {"code": "SH-B"}))["locationByCode"]
    payload = await update_location(admin, sh_b["id"], status="CLOSED")
    assert payload["errors"] == []
    assert payload["location"]["status"] == "CLOSED"

    assert await location_codes(api) == ["SH-A", "WH-1"]
    assert await location_codes(api, near=NEAR_SH_B) == ["SH-A", "WH-1"]
    assert await location_codes(api, near=NEAR_SH_B, types=["STORE"], pickupEnabled=True) == [
        "SH-A"
    ]
    # It is still on record.
    assert (await api.data(LOCATION_BY_ID, {"id": sh_b["id"]}))["location"]["status"] == "CLOSED"

    payload = await update_location(admin, sh_b["id"], status="ACTIVE")
    assert payload["errors"] == []
    assert await location_codes(api, near=NEAR_SH_B) == ["SH-B", "SH-A", "WH-1"]
