"""The one GraphQL schema, with its request limits."""

from __future__ import annotations

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from api.aftersale_queries import AfterSaleQueries
from api.assist_queries import AssistQueries
from api.automation_queries import AutomationQueries
from api.checkout_quote import CheckoutQuoteQueries
from api.coupon_queries import CouponQueries
from api.desk_queries import DeskQueries
from api.document_guards import DocumentLimiter, VariableLimits
from api.execution import OmnishelfExecutionContext
from api.extensions import CostLimiter, ErrorShaping, Metrics, log_client_errors
from api.flash_sale_queries import FlashSaleQueries
from api.group_buy_queries import GroupBuyQueries
from api.guide_queries import GuideQueries
from api.inventory_queries import InventoryQueries
from api.lean import install as install_lean_resolvers
from api.member_queries import MemberQueries
from api.metrics_queries import MetricsQueries
from api.mutation_guards import guard_mutations
from api.mutations.aftersales import AfterSaleMutations
from api.mutations.assists import AssistMutations
from api.mutations.auth import AuthMutations
from api.mutations.automations import AutomationMutations
from api.mutations.catalog import CatalogMutations
from api.mutations.coupons import CouponMutations
from api.mutations.desk import ActForMemberMutations, DeskMutations
from api.mutations.flash_sales import FlashSaleMutations
from api.mutations.group_buys import GroupBuyMutations
from api.mutations.guides import GuideMutations
from api.mutations.inventory import InventoryMutations
from api.mutations.locations import LocationMutations
from api.mutations.member_prices import MemberPriceMutations
from api.mutations.members import MemberMutations
from api.mutations.metrics import MetricsMutations
from api.mutations.orders import OrderMutations
from api.mutations.points import PointsMutations
from api.mutations.referrals import ReferralMutations
from api.mutations.refunds import RefundMutations
from api.mutations.reviews import ReviewMutations
from api.mutations.segments import SegmentMutations
from api.mutations.subscriptions import SubscriptionMutations
from api.mutations.tags import TagMutations
from api.mutations.till_returns import TillReturnMutations
from api.order_queries import OrderQueries
from api.points_queries import PointsQueries
from api.queries import Query as CoreQuery
from api.reconciliation import ReconciliationMutations, ReconciliationQueries
from api.referral_queries import ReferralQueries
from api.response_cache import CatalogResponses
from api.review_queries import ReviewQueries
from api.segments_queries import SegmentQueries
from api.subscriptions import Subscription
from api.tags_queries import TagQueries
from api.till_return_queries import TillReturnQueries
from api.types.aftersales import AfterSale
from api.types.catalog import Category, Product, Variant
from api.types.identity import ApiKey, Device, StaffUser
from api.types.locations import Location
from api.types.members import Member
from api.types.orders import Order
from infra.settings import Settings


@strawberry.type
class Query(
    CoreQuery,
    MemberQueries,
    InventoryQueries,
    OrderQueries,
    PointsQueries,
    ReviewQueries,
    ReconciliationQueries,
    DeskQueries,
    AfterSaleQueries,
    TillReturnQueries,
    FlashSaleQueries,
    GroupBuyQueries,
    CouponQueries,
    CheckoutQuoteQueries,
    AssistQueries,
    ReferralQueries,
    GuideQueries,
    TagQueries,
    MetricsQueries,
    AutomationQueries,
    SegmentQueries,
):
    pass


@strawberry.type
class Mutation(
    AuthMutations,
    CatalogMutations,
    LocationMutations,
    MemberMutations,
    InventoryMutations,
    OrderMutations,
    PointsMutations,
    SubscriptionMutations,
    ReviewMutations,
    ReconciliationMutations,
    DeskMutations,
    ActForMemberMutations,
    AfterSaleMutations,
    TillReturnMutations,
    FlashSaleMutations,
    GroupBuyMutations,
    RefundMutations,
    CouponMutations,
    MemberPriceMutations,
    AssistMutations,
    ReferralMutations,
    GuideMutations,
    TagMutations,
    AutomationMutations,
    SegmentMutations,
    MetricsMutations,
):
    pass


def limit_rules(settings: Settings) -> list[type[ASTValidationRule]]:
    """The depth and alias limits as validation rules, made once per schema. ValidationCache
    keys on the rule classes, and QueryDepthLimiter / MaxAliasesLimiter make new classes per
    instance: as per-request extensions they made every validation a cache miss."""
    return [
        *QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
    ]


class OmnishelfSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Strawberry logs every error at ERROR with a traceback; a wrong code or a missing
        token is the client's, not ours."""
        log_client_errors(errors, execution_context)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    s = settings or Settings()
    rules = limit_rules(s)
    guard_mutations(Mutation)
    schema = OmnishelfSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[
            Product,
            Variant,
            Category,
            Location,
            StaffUser,
            Device,
            ApiKey,
            Member,
            Order,
            AfterSale,
        ],
        config=StrawberryConfig(auto_camel_case=True),
        execution_context_class=OmnishelfExecutionContext,
        extensions=[
            ErrorShaping,
            Metrics,
            lambda: AddValidationRules(rules),
            lambda: MaxTokensLimiter(max_token_count=s.graphql_max_tokens),
            lambda: CostLimiter(max_cost=s.graphql_max_cost),
            VariableLimits,
            CatalogResponses,  # after the checks of the request: it may skip execution
            lambda: DocumentLimiter(max_tokens=s.graphql_max_tokens),
            # Clients send the same few documents over and over: parse and validate once.
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
        ],
    )
    install_lean_resolvers(schema)
    return schema


def schema_sdl() -> str:
    return build_schema().as_str() + "\n"
