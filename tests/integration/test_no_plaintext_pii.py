"""No phone number, member card or WeChat id is stored in clear text anywhere.

The flows that handle identifiers run first (POS enrolment, WeChat login and phone binding,
SMS login, a CS reveal, lookups and searches); then every text-like column of every table
in the database (read from the catalog, so tables added later are covered too) is scanned.
"""

from __future__ import annotations

from typing import Any

from tortoise import connections

from api.relay import decode_id
from domain.identity.model import StaffRole
from domain.identity.services import create_staff
from domain.members.identifiers import lookup_namespace
from domain.members.model import IdentityKind
from infra.db.models.members import MemberIdentityRow, MemberRow, PhoneCodeRow
from infra.runtime import Runtime
from tests.support import is_postgres
from tests.support.api import Api, login

POS_PHONE, WECHAT_PHONE, SMS_PHONE = "13800138000", "13900139000", "13700137000"
CARD = "CARD-7788"
OPENID, UNIONID = "openid-pii-4711", "unionid-pii-4711"
SECRETS = [
    *(p for phone in (POS_PHONE, WECHAT_PHONE, SMS_PHONE) for p in (phone, f"86{phone}")),
    CARD,
    OPENID,
    UNIONID,
]

TEXT_TYPES_PG = ("text", "character varying", "character", "json", "jsonb")
TEXT_AFFINITY_SQLITE = ("CHAR", "CLOB", "TEXT", "JSON", "VARCHAR")


async def text_columns(postgres: bool) -> dict[str, list[str]]:
    """table -> its text, varchar and json columns, from the database's own catalog."""
    conn = connections.get("default")
    columns: dict[str, list[str]] = {}
    if postgres:
        rows = await conn.execute_query_dict(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        )
        for row in rows:
            if row["data_type"] in TEXT_TYPES_PG:
                columns.setdefault(row["table_name"], []).append(row["column_name"])
        return columns
    tables = await conn.execute_query_dict(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    for table in tables:
        name = table["name"]
        for column in await conn.execute_query_dict(f'PRAGMA table_info("{name}")'):
            declared = str(column["type"]).upper()
            # SQLite stores whatever it is given: untyped columns are scanned as well.
            if not declared or any(word in declared for word in TEXT_AFFINITY_SQLITE):
                columns.setdefault(name, []).append(column["name"])
    return columns


async def column_values(postgres: bool, table: str, column: str) -> list[str]:
    conn = connections.get("default")
    cast = f'"{column}"::text' if postgres else f'CAST("{column}" AS TEXT)'
    rows = await conn.execute_query_dict(
        f'SELECT {cast} AS v FROM "{table}" WHERE "{column}" IS NOT NULL'
    )
    return [str(row["v"]) for row in rows]


async def run_flows(api: Api, runtime: Runtime, clerk_a: Api) -> Any:
    enrolled = await clerk_a.data(
        f"""mutation {{ enrolMember(input: {{phone: "{POS_PHONE}", posCard: "{CARD.lower()}"}}) {{
        created member {{ id identities {{ masked }} }} errors {{ code }} }} }}"""
    )
    assert enrolled["enrolMember"]["created"] is True, enrolled
    found = await clerk_a.data(
        f'{{ lookupMember(input: {{posCard: "{CARD}"}}) {{ id identities {{ masked }} }} }}'
    )
    assert found["lookupMember"]["id"] == enrolled["enrolMember"]["member"]["id"]

    wechat = await api.data(
        """mutation($code: String!) { loginWithWechat(input: {appId: "wx-demo", code: $code}) {
        tokens { accessToken } member { id } errors { code } } }""",
        {"code": f"test:{OPENID}:{UNIONID}"},
    )
    member = api.as_(wechat["loginWithWechat"]["tokens"]["accessToken"])
    bound = await member.data(
        f"""mutation {{ bindPhone(input: {{wechatPhoneCode: "test-phone:+86{WECHAT_PHONE}"}}) {{
        errors {{ code }} }} }}"""
    )
    assert bound["bindPhone"]["errors"] == [], bound

    sent = await api.data(
        f'mutation {{ requestPhoneCode(input: {{phone: "{SMS_PHONE}"}}) {{ errors {{ code }} }} }}'
    )
    assert sent["requestPhoneCode"]["errors"] == []
    code = runtime.sms.outbox[-1].text.split("code is ")[1][:6]  # type: ignore[attr-defined]
    wrong = "000000" if code != "000000" else "111111"
    for attempt in (wrong, code):  # a failed try is recorded too
        phone_login = await api.data(
            f"""mutation($c: String!) {{ loginWithPhone(input: {{phone: "{SMS_PHONE}", code: $c}})
            {{ member {{ id }} errors {{ code }} }} }}""",
            {"c": attempt},
        )
    assert phone_login["loginWithPhone"]["errors"] == [], phone_login

    await create_staff(runtime.auth, "cs-agent", "long-enough-pw", StaffRole.CS_AGENT, [])
    cs = api.as_((await login(api, "cs-agent", "long-enough-pw"))["tokens"]["accessToken"])
    searched = await cs.data(f'{{ members(search: "{POS_PHONE}") {{ nodes {{ id }} }} }}')
    assert searched["members"]["nodes"], searched
    for member_id in (
        enrolled["enrolMember"]["member"]["id"],
        wechat["loginWithWechat"]["member"]["id"],
        phone_login["loginWithPhone"]["member"]["id"],
    ):
        revealed = await cs.data(
            """mutation($id: ID!) { revealIdentifiers(input: {memberId: $id,
            reason: "customer called about points"}) { identities { value } errors { code } } }""",
            {"id": member_id},
        )
        assert revealed["revealIdentifiers"]["errors"] == [], revealed
    exported = await member.data("mutation { exportMyData { errors { code } } }")
    assert exported["exportMyData"]["errors"] == []
    return wechat["loginWithWechat"]["member"]["id"]


async def test_no_identifier_is_stored_in_clear_text(
    api: Api, runtime: Runtime, clerk_a: Api
) -> None:
    wechat_member = await run_flows(api, runtime, clerk_a)
    postgres = is_postgres(runtime.settings.database_url)

    columns = await text_columns(postgres)
    assert {"ciphertext", "lookup_hash", "masked"} <= set(columns["member_identity"])
    assert "phone_hash" in columns["phone_code"]
    leaks = []
    scanned = 0
    for table, names in sorted(columns.items()):
        for column in names:
            for value in await column_values(postgres, table, column):
                scanned += 1
                for secret in SECRETS:
                    if secret.upper() in value.upper():
                        leaks.append(f"{table}.{column} holds {secret!r}: {value[:80]!r}")
    assert leaks == []
    assert scanned > 50  # the scan read real rows

    # What is stored instead: ciphertexts sealed with the owner's key, and keyed hashes.
    vault = runtime.vault
    expected = {
        (IdentityKind.PHONE, "", f"+86{POS_PHONE}"),
        (IdentityKind.PHONE, "", f"+86{WECHAT_PHONE}"),
        (IdentityKind.PHONE, "", f"+86{SMS_PHONE}"),
        (IdentityKind.POS_CARD, "", CARD),
        (IdentityKind.WECHAT_OPENID, "wx-demo", OPENID),
        (IdentityKind.WECHAT_UNIONID, "", UNIONID),
    }
    stored = {}
    for row in await MemberIdentityRow.all():
        owner = await MemberRow.get(id=row.member_id)
        assert owner.data_key is not None
        value = vault.decrypt(owner.data_key, row.ciphertext)
        stored[(row.kind, row.app_id, value)] = row
        assert row.lookup_hash == vault.lookup_hash(lookup_namespace(row.kind, row.app_id), value)
        assert row.ciphertext != value
    assert set(stored) == expected
    # the WeChat member absorbed nothing here, but holds its phone sealed with its own key
    phone_row = stored[(IdentityKind.PHONE, "", f"+86{WECHAT_PHONE}")]
    assert phone_row.member_id == decode_id(wechat_member, "Member")
    code_row = await PhoneCodeRow.get(phone_hash=vault.lookup_hash("phone", f"+86{SMS_PHONE}"))
    assert code_row.consumed_at is not None
