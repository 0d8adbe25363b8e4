"""Helpers shared by the test modules; a test module never imports another test module.

- `clock`: `MovableClock`, store-local dates.
- `db`: the test database URL, `count_sql`.
- `logs`: `PiiWatch`, which finds personal data in log lines.
- `api`: `Api` (GraphQL over the ASGI app), staff logins.
- `payloads`: reading typed and top-level error codes.
- `shoppers`: `Shopper`, a member logged in through WeChat.
- `members`: member login documents and helpers (SMS codes, phones).
- `catalog`, `orders`, `world`, `points`, `renewals`: setting up and driving each context.
- `ws`: graphql-transport-ws sessions against the served app.
- `processes`: a second API process for races across processes.
- `schema`: the operations of schema.graphql, for property-based runs.

The in-memory fakes of the domain's ports are in tests/fakes.
"""

from tests.support.clock import STORE_ZONE, MovableClock, local_date
from tests.support.db import count_sql, is_postgres, table_names, test_database_url
from tests.support.logs import PiiWatch

__all__ = [
    "STORE_ZONE",
    "MovableClock",
    "PiiWatch",
    "count_sql",
    "is_postgres",
    "local_date",
    "table_names",
    "test_database_url",
]
