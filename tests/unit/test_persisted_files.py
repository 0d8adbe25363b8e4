"""Operations read from files are registered as the client sends them (infra/persisted_files.py).

The expected texts and hashes were made by Apollo Client 3.14.1 with graphql-js 16.15.0 in
Node 20 (`new InMemoryCache().transformDocument(document)`, then `print`, then SHA-256, as its
persisted-query link does), for each operation of DOCUMENT with the fragments it spreads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.persisted_files import PersistedFileError, operations_in
from infra.persisted_queries import sha256_hex

DOCUMENT = r'''query StoresNear($lat: Float!, $lon: Float!, $first: Int = 10 @deprecated) @live {
  locations(near: {latitude: $lat, longitude: $lon}, first: $first, filter: {types: [STORE, PICKUP_POINT], name: "a \"quoted\"\tname é"}) {
    edges { cursor node { ...StoreCard ... on Location @include(if: true) { code } } }
    pageInfo { hasNextPage }
  }
  me: viewer { __typename kind }
}
mutation Place($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } errors { code field message } } }
subscription Board($id: ID!) { pickupBoard(locationId: $id) { orderId status } }
{ products(first: 1, after: null, flag: false, ratio: 1.5e3) { edges { node { id } } } }
fragment StoreCard on Location { id name openingHours { day ...Hours } }
fragment Hours on OpeningHours { open close }
query WithBlock { search(text: """
  block
    string
""") { id } }
'''  # noqa: E501 - long on purpose: graphql-js puts a long field's arguments one per line

APOLLO_HASHES = {
    "StoresNear": "53969bc923b6be8e06f13d3cb35345de50ce4afc07897bc6127744b26cdf554c",
    "Place": "74718f8870be3f18b9e433d4dc24f5ab054c7ae1e889b999beec322dc504539d",
    "Board": "11e4ff837c65f2a90e1f25a05d37a6c11817555fc810d56707a18e92d96bdb72",
    None: "45ea2a78c5b9ae43753d81075efb0fe7de5faef99b0db0844a6efd7e488535f4",
    "WithBlock": "fec2dfbb229797eb0b0f13527b432db27cb9dc4b6fbbdfc077c3dafe514c2033",
}

STORES_NEAR = (
    "query StoresNear($lat: Float!, $lon: Float!, $first: Int = 10 @deprecated) @live {\n"
    "  locations(\n"
    "    near: {latitude: $lat, longitude: $lon}\n"
    "    first: $first\n"
    '    filter: {types: [STORE, PICKUP_POINT], name: "a \\"quoted\\"\\tname \u00e9"}\n'
    "  ) {\n"
    "    edges {\n"
    "      cursor\n"
    "      node {\n"
    "        ...StoreCard\n"
    "        ... on Location @include(if: true) {\n"
    "          code\n"
    "          __typename\n"
    "        }\n"
    "        __typename\n"
    "      }\n"
    "      __typename\n"
    "    }\n"
    "    pageInfo {\n"
    "      hasNextPage\n"
    "      __typename\n"
    "    }\n"
    "    __typename\n"
    "  }\n"
    "  me: viewer {\n"
    "    __typename\n"
    "    kind\n"
    "  }\n"
    "}\n"
    "\n"
    "fragment StoreCard on Location {\n"
    "  id\n"
    "  name\n"
    "  openingHours {\n"
    "    day\n"
    "    ...Hours\n"
    "    __typename\n"
    "  }\n"
    "  __typename\n"
    "}\n"
    "\n"
    "fragment Hours on OpeningHours {\n"
    "  open\n"
    "  close\n"
    "  __typename\n"
    "}"
)


def _read(tmp_path: Path, name: str, text: str, **options: bool) -> dict[str | None, str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return {op.name: op.document for op in operations_in([path], **options)}


def test_each_operation_is_printed_and_hashed_as_apollo_client_sends_it(tmp_path: Path) -> None:
    documents = _read(tmp_path, "app.graphql", DOCUMENT)
    assert {name: sha256_hex(text) for name, text in documents.items()} == APOLLO_HASHES
    assert documents["StoresNear"] == STORES_NEAR


def test_without_typename_the_selections_stay_as_written(tmp_path: Path) -> None:
    documents = _read(tmp_path, "app.graphql", "query Ping { me: viewer { kind } }", typename=False)
    assert documents == {"Ping": "query Ping {\n  me: viewer {\n    kind\n  }\n}"}


def test_fragments_are_found_in_the_other_files(tmp_path: Path) -> None:
    (tmp_path / "fragments.graphql").write_text("fragment F on Location { id }")
    (tmp_path / "query.graphql").write_text("query Q { locations { edges { node { ...F } } } }")
    [operation] = operations_in([tmp_path / "query.graphql", tmp_path / "fragments.graphql"])
    assert operation.document.endswith("fragment F on Location {\n  id\n  __typename\n}")


def test_a_fragment_defined_twice_differently_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.graphql").write_text("fragment F on Location { id }")
    (tmp_path / "b.graphql").write_text("fragment F on Location { code }")
    with pytest.raises(PersistedFileError, match="fragment F is defined twice"):
        operations_in([tmp_path / "a.graphql", tmp_path / "b.graphql"])


def test_manifests_are_taken_as_they_are(tmp_path: Path) -> None:
    body = "query Ping {\n  __typename\n}"
    apollo = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{"id": sha256_hex(body), "name": "Ping", "type": "query", "body": body}],
    }
    assert _read(tmp_path, "apollo.json", json.dumps(apollo)) == {"Ping": body}
    # graphql-codegen's persisted documents: a map of hash to document, names read from it.
    assert _read(tmp_path, "codegen.json", json.dumps({sha256_hex(body): body})) == {"Ping": body}
