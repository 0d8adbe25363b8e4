"""The pieces of GraphQL over HTTP that need no server: Accept negotiation's edge cases, the
status of a response without `data`, and which refused document is a parse failure."""

from __future__ import annotations

import pytest
from graphql import GraphQLError, GraphQLSyntaxError, parse

from api.extensions import document_error_code
from api.media_types import GRAPHQL_RESPONSE, JSON, error_body, negotiate, status_of


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("", JSON),
        ("   ", JSON),
        (f"{GRAPHQL_RESPONSE};q=abc, application/json;q=0.1", JSON),  # a malformed q: left out
        (f"{GRAPHQL_RESPONSE};q=abc", None),
        (f"{GRAPHQL_RESPONSE};q=7", GRAPHQL_RESPONSE),  # clamped to 1
        ("APPLICATION/GRAPHQL-RESPONSE+JSON", GRAPHQL_RESPONSE),
        ('application/json;q="0.5", */*;q=0.4', JSON),
        ("application/json;q=0.5, application/*;q=0.9", GRAPHQL_RESPONSE),
        (f"*/*;q=0.1, {GRAPHQL_RESPONSE};q=0.1", GRAPHQL_RESPONSE),  # a tie it names
        ("nonsense, /, json", None),
    ],
)
def test_negotiate(accept: str, chosen: str | None) -> None:
    assert negotiate(accept) == chosen


def test_a_response_without_data_is_400_or_500_only_in_graphql_response_json() -> None:
    refused = error_body("GRAPHQL_PARSE_FAILED", "Syntax Error", GRAPHQL_RESPONSE)
    assert refused == {
        "errors": [{"message": "Syntax Error", "extensions": {"code": "GRAPHQL_PARSE_FAILED"}}]
    }
    assert status_of(refused, GRAPHQL_RESPONSE) == 400
    crashed = error_body("INTERNAL_SERVER_ERROR", "Internal error.", GRAPHQL_RESPONSE)
    assert status_of(crashed, GRAPHQL_RESPONSE) == 500
    assert status_of({"data": None, "errors": crashed["errors"]}, GRAPHQL_RESPONSE) == 200
    legacy = error_body("GRAPHQL_PARSE_FAILED", "Syntax Error", JSON)
    assert legacy["data"] is None
    assert status_of(legacy, JSON) == 200


def _parse_error(document: str, **options: int) -> GraphQLError:
    with pytest.raises(GraphQLSyntaxError) as raised:
        parse(document, **options)  # type: ignore[arg-type]
    return raised.value


def test_only_a_syntax_error_is_a_parse_failure() -> None:
    assert document_error_code(_parse_error("{ a(")) == "GRAPHQL_PARSE_FAILED"
    wrapped = GraphQLError("located", original_error=_parse_error("}"))
    assert document_error_code(wrapped) == "GRAPHQL_PARSE_FAILED"
    # The parser's own limits refuse a size, as DocumentLimiter does.
    assert document_error_code(_parse_error("{ a b c d }", max_tokens=3)) == (
        "GRAPHQL_VALIDATION_FAILED"
    )
    nested = "{ a(x: " + "[" * 900 + "]" * 900 + ") }"
    assert document_error_code(_parse_error(nested)) == "GRAPHQL_VALIDATION_FAILED"
    assert document_error_code(GraphQLError("Cannot query field 'nope'.")) == (
        "GRAPHQL_VALIDATION_FAILED"
    )
