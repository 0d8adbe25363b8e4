"""The one GraphQL schema, with its request limits."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig

from api.extensions import CostLimiter, ErrorShaping, Metrics
from api.mutations.auth import AuthMutations
from api.mutations.catalog import CatalogMutations
from api.mutations.locations import LocationMutations
from api.queries import Query
from api.types.catalog import Category, Product, Variant
from api.types.identity import ApiKey, Device, StaffUser
from api.types.locations import Location
from infra.settings import Settings


@strawberry.type
class Mutation(AuthMutations, CatalogMutations, LocationMutations):
    pass


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    s = settings or Settings()
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[Product, Variant, Category, Location, StaffUser, Device, ApiKey],
        config=StrawberryConfig(auto_camel_case=True),
        extensions=[
            ErrorShaping,
            Metrics,
            lambda: QueryDepthLimiter(max_depth=s.graphql_max_depth),
            lambda: MaxTokensLimiter(max_token_count=s.graphql_max_tokens),
            lambda: MaxAliasesLimiter(max_alias_count=s.graphql_max_aliases),
            lambda: CostLimiter(max_cost=s.graphql_max_cost),
        ],
    )


def schema_sdl() -> str:
    return build_schema().as_str() + "\n"
