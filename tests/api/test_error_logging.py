"""Expected client errors are logged at INFO by code, without a traceback or the message
(which may quote the input); strawberry logged each at ERROR with a traceback (issue 12, 7)."""

from __future__ import annotations

import logging

import pytest

from tests.support.api import Api

PHONE = "13912345678"
LOGIN_WITH_A_WRONG_TYPE = (
    f'mutation {{ loginWithPhone(input: {{phone: "{PHONE}", code: 12}}) {{ errors {{ code }} }} }}'
)


async def test_client_errors_are_info_without_traceback_or_input(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    calls = [
        ('{ staffUser(username: "x") { id } }', "UNAUTHENTICATED"),  # anonymous
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ products(first: ", "GRAPHQL_PARSE_FAILED"),  # a syntax error
        (LOGIN_WITH_A_WRONG_TYPE, "GRAPHQL_VALIDATION_FAILED"),  # echoes the phone
    ]
    for query, code in calls:
        body = await api(query)
        assert body["errors"][0]["extensions"]["code"] == code, body
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors == [], [(r.name, r.getMessage()) for r in errors]
    client = [r for r in caplog.records if r.getMessage() == "client error"]
    assert [r.code for r in client] == [code for _, code in calls]  # type: ignore[attr-defined]
    assert all(r.exc_info is None for r in client)
    assert not any(PHONE in r.getMessage() or PHONE in str(vars(r)) for r in caplog.records)
