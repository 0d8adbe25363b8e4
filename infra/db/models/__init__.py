"""Tortoise models, one module per bounded context. Alembic revisions are the schema."""

MODEL_MODULES = [
    "infra.db.models.identity",
    "infra.db.models.catalog",
    "infra.db.models.locations",
    "infra.db.models.members",
    "infra.db.models.inventory",
    "infra.db.models.outbox",
    "infra.db.models.orders",
    "infra.db.models.reconciliation",
    "infra.db.models.loyalty",
    "infra.db.models.subscriptions",
    "infra.db.models.aftersales",
    "infra.db.models.persisted",
    "infra.db.models.reviews",
    "infra.db.models.desk",
    "infra.db.models.member_codes",
    "infra.db.models.till_returns",
    "infra.db.models.promotions",
    "infra.db.models.coupons",
    "infra.db.models.member_prices",
    "infra.db.models.referrals",
]
