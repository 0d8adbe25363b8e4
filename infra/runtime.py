"""Wiring in one place: the runtime builds every adapter from settings and starts/stops them."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

import httpx
from redis.asyncio import Redis

from domain.aftersales.deps import (
    AfterSaleDeps,
    DeskDeps,
    MemberCodeDeps,
    ReviewDeps,
    ReviewPolicy,
)
from domain.aftersales.desk import register_handlers as register_desk_handlers
from domain.aftersales.reviews import export_reviews
from domain.aftersales.reviews import register_handlers as register_review_handlers
from domain.aftersales.services import register_handlers as register_after_sale_handlers
from domain.catalog.deps import CatalogDeps
from domain.clock import Clock, SystemClock
from domain.engagement.automations import export_sends as export_automation_sends
from domain.engagement.automations_triggers import register_handlers as register_automation_handlers
from domain.engagement.deps import (
    AutomationDeps,
    AutomationPolicy,
    FactsDeps,
    MetricsDeps,
    SegmentDeps,
)
from domain.engagement.facts import register_facts_handlers
from domain.engagement.tags import register_tag_handlers
from domain.events import DataExporters, EventHandlers
from domain.growth.assists import register_handlers as register_assist_handlers
from domain.growth.deps import AssistDeps, GroupBuyDeps, GuideDeps, ReferralDeps
from domain.growth.exports import GROWTH_LISTS
from domain.growth.group_buys import register_handlers as register_group_buy_handlers
from domain.growth.guides import guide_exporter
from domain.growth.guides import register_handlers as register_guide_handlers
from domain.growth.referrals import referrals_exporter
from domain.growth.referrals import register_handlers as register_referral_handlers
from domain.identity.deps import AuthDeps, AuthPolicy
from domain.identity.ports import RateLimiter
from domain.inventory.deps import InventoryDeps
from domain.live import OrderAccess
from domain.locations.deps import LocationDeps
from domain.loyalty.deps import LoyaltyDeps
from domain.loyalty.model import PointsPolicy
from domain.loyalty.reactions import export_points_entries, points_exporter
from domain.loyalty.reactions import register_handlers as register_loyalty_handlers
from domain.members.deps import MemberDeps
from domain.members.model import IdentityKind
from domain.members.ports import SmsSender, WeChatGateway
from domain.members.services import openid_identity, resolve_member, wechat_openid
from domain.ordering.deps import OrderingDeps, OrderPolicy, ReconciliationDeps
from domain.ordering.lifecycle import export_orders
from domain.ordering.lifecycle import register_handlers as register_order_handlers
from domain.ordering.ports import PaymentProvider
from domain.outbox import Notifier, OutboxDeps
from domain.promotions.coupons import coupons_exporter
from domain.promotions.coupons import register_handlers as register_coupon_handlers
from domain.promotions.deps import CouponDeps, FlashSaleDeps, MemberPriceDeps
from domain.promotions.flash_sales import register_handlers as register_flash_sale_handlers
from domain.subscriptions.deps import SubscriptionDeps
from domain.subscriptions.prepaid import register_handlers as register_prepaid_handlers
from domain.subscriptions.reactions import export_subscriptions
from domain.subscriptions.reactions import register_handlers as register_subscription_handlers
from infra.cache import Caches
from infra.db.connection import start_database, stop_database
from infra.db.uow import ReadUnitOfWork, Repositories, TortoiseUnitOfWork
from infra.live import InProcessLiveEvents, LiveBus, RedisLiveEvents
from infra.notifier import DisabledNotifier, FakeNotifier, WeChatSubscribeNotifier
from infra.outbox_channels import ChannelNotifier
from infra.payments import DevPayAgreements, DevPayProvider
from infra.persisted_queries import ApqDocuments, RegisteredQueries
from infra.security.passwords import Argon2PasswordHasher
from infra.security.pii import AesGcmVault
from infra.security.ratelimit import MemoryRateLimiter, RedisRateLimiter
from infra.security.signing import HmacSigner
from infra.security.tokens import JwtAccessTokens
from infra.settings import DEMO_WECHAT_APP, Settings
from infra.sms import DisabledSms, FakeSmsSender, TencentSmsSender
from infra.wechat import FakeWeChatGateway, HttpWeChatGateway
from infra.wechatpay import WeChatPayClient, WeChatPayProvider


def _derived_key(settings: Settings, purpose: bytes) -> bytes:
    """A signing key per purpose, derived from JWT_SECRET (which production requires to be
    set, never the development one)."""
    return hmac.new(settings.jwt_secret.encode(), purpose, "sha256").digest()


@dataclass
class Runtime:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    fast_password_hashing: bool = False
    redis: Redis | None = None
    limiter: RateLimiter = field(default_factory=MemoryRateLimiter)
    live: LiveBus = field(default_factory=InProcessLiveEvents)
    # Where WeChat Pay requests go instead of the network (tests: the fake server's ASGI app).
    wechatpay_transport: httpx.AsyncBaseTransport | None = None
    # Set by the ordering context; until then `orderUpdated` finds no order.
    order_access: OrderAccess | None = None
    started: bool = False

    def __post_init__(self) -> None:
        s = self.settings
        self.caches = Caches()
        self.repos = Repositories(self.caches)
        self._reads = ReadUnitOfWork(self.caches)  # authentication's reads, through the caches
        self.tokens = JwtAccessTokens(
            clock=self.clock,
            secret=s.jwt_secret,
            kid=s.jwt_kid,
            previous_keys=s.jwt_previous_keys,
            issuer=s.jwt_issuer,
            audience=s.jwt_audience,
            ttl=timedelta(seconds=s.access_token_ttl),
        )
        self.hasher = Argon2PasswordHasher(fast=self.fast_password_hashing)
        self.vault = AesGcmVault(*s.pii_keys())
        self.wechat = self._wechat()
        self.sms = self._sms()
        self.notifier: Notifier = self._notifier()
        self.events = EventHandlers()
        self.exporters = DataExporters()
        self.agreements = DevPayAgreements()
        self.wechatpay = self._wechatpay()
        self.persisted_queries = RegisteredQueries(self.caches.persisted_queries, self.clock)
        self.apq_documents = ApqDocuments(lambda: self.redis, ttl=s.persisted_query_ttl)
        self._rebuild_deps()
        # Handlers of one event run in this order, which is the lock order (subscriptions,
        # orders, points accounts: docs/architecture.md): a merge moves them in that order.
        register_subscription_handlers(self.events, self.clock)
        register_prepaid_handlers(self.subscriptions)
        register_order_handlers(self.ordering)
        register_flash_sale_handlers(self.events)
        register_loyalty_handlers(self.loyalty)
        register_review_handlers(self.events, self.clock)
        register_desk_handlers(self.desk, self.events, self.exporters)
        register_after_sale_handlers(self.aftersales)
        register_coupon_handlers(self.events)
        register_assist_handlers(self.assists, self.events)
        register_group_buy_handlers(self.group_buys)
        register_referral_handlers(self.referrals, self.events)
        register_guide_handlers(self.guides, self.events)
        # Last: a merge's orders and points are the survivor's when its facts are recomputed.
        register_tag_handlers(self.events)
        register_facts_handlers(self.member_facts, self.events)
        register_automation_handlers(self.automations, self.events)
        self.exporters.register("points", points_exporter(self.loyalty.policy))
        self.exporters.register("referrals", referrals_exporter(self.referrals))
        self.exporters.register("guide", guide_exporter(self.guides))
        self.exporters.register_list("automationSends", export_automation_sends)
        self.exporters.register_list("orders", export_orders)
        self.exporters.register_list("pointsEntries", export_points_entries)
        self.exporters.register_list("subscriptions", export_subscriptions)
        self.exporters.register_list("reviews", export_reviews)
        self.exporters.register_list("coupons", coupons_exporter(self.clock))
        for name, exporter in GROWTH_LISTS.items():
            self.exporters.register_list(name, exporter)
        self.order_access = self.repos.orders

    def unit_of_work(self) -> TortoiseUnitOfWork:
        """One transaction; once it commits, the caches forget what it changed."""
        return TortoiseUnitOfWork(self.caches)

    def _wechat(self) -> WeChatGateway:
        s = self.settings
        if s.wechat_fake:
            return FakeWeChatGateway({DEMO_WECHAT_APP, *s.wechat_apps})
        return HttpWeChatGateway(apps=s.wechat_apps, clock=self.clock)

    def _sms(self) -> SmsSender:
        """SMS_PROVIDER: Tencent Cloud SMS, the development fake that logs, or a refusal."""
        s = self.settings
        if s.sms_provider == "tencent" and s.tencent_sms is not None:
            return TencentSmsSender(s.tencent_sms, self.clock)
        return FakeSmsSender(self.clock) if s.sms_provider == "fake" else DisabledSms()

    @property
    def notify_app(self) -> str | None:
        """The mini-program whose subscribe messages members receive: the first configured."""
        return next(iter(self.settings.wechat_apps), None)

    def _notifier(self) -> Notifier:
        """NOTIFIER: WeChat subscribe messages with the real gateway's cached access token,
        disabled (every message fails, kept in the outbox), or the fake that only records."""
        gateway, app = self.wechat, self.notify_app
        if self.settings.notifier == "disabled":
            return DisabledNotifier()
        if (
            self.settings.notifier == "wechat"
            and isinstance(gateway, HttpWeChatGateway)
            and app is not None
        ):
            return WeChatSubscribeNotifier(
                token_provider=lambda stale: gateway.access_token(app, stale=stale),
                templates=self.settings.subscribe_templates(),
            )
        return FakeNotifier(self.settings.subscribe_templates())

    def _wechatpay(self) -> WeChatPayClient | None:
        config = self.settings.wechatpay
        if config is None:
            return None
        return WeChatPayClient(config, self.clock, transport=self.wechatpay_transport)

    def _payment_providers(self) -> dict[str, PaymentProvider]:
        """PAYMENT_PROVIDERS: the providers payOrder and the webhooks accept, in that order
        (the first is payOrder's default)."""
        providers = dict[str, PaymentProvider]()
        for name in self.settings.payment_providers:
            if name == "devpay":
                providers[name] = self.devpay  # the same one refunds through
            elif name == "wechatpay" and self.wechatpay is not None:
                providers[name] = WeChatPayProvider(
                    self.wechatpay,
                    self.clock,
                    payer=lambda member_id, app_id: wechat_openid(self.members, member_id, app_id),
                )
        return providers

    def _rebuild_deps(self) -> None:
        s = self.settings
        self.auth = AuthDeps(
            uow=self.unit_of_work,
            clock=self.clock,
            hasher=self.hasher,
            tokens=self.tokens,
            limiter=self.limiter,
            policy=AuthPolicy(
                refresh_ttl=timedelta(seconds=s.refresh_token_ttl),
                login_limit_per_username=s.login_limit_per_username,
                login_limit_per_address=s.login_limit_per_address,
                login_window_seconds=s.login_window_seconds,
            ),
            reads=lambda: self._reads,
        )
        self.catalog = CatalogDeps(uow=self.unit_of_work, clock=self.clock)
        self.flash_sales = FlashSaleDeps(uow=self.unit_of_work, clock=self.clock)
        self.locations = LocationDeps(uow=self.unit_of_work, clock=self.clock)
        self.member_codes = MemberCodeDeps(
            uow=self.unit_of_work,
            clock=self.clock,
            signer=HmacSigner(_derived_key(s, b"member-code")),
            limiter=self.limiter,
        )
        self.inventory = InventoryDeps(
            uow=self.unit_of_work,
            clock=self.clock,
            member_codes=self.member_codes,
            events=self.events,
            till_price_ceiling_percent=s.till_price_ceiling_percent,
        )
        apps = [DEMO_WECHAT_APP] if s.wechat_fake and not s.wechat_apps else list(s.wechat_apps)
        self.members = MemberDeps(
            auth=self.auth,
            vault=self.vault,
            wechat=self.wechat,
            sms=self.sms,
            events=self.events,
            exporters=self.exporters,
            default_wechat_app=apps[0] if len(apps) == 1 else None,
        )
        self.loyalty = LoyaltyDeps(
            uow=self.unit_of_work,
            clock=self.clock,
            policy=PointsPolicy(till_points_cap=s.till_points_cap),
            events=self.events,
        )
        self.member_prices = MemberPriceDeps(
            uow=self.unit_of_work, clock=self.clock, policy=self.loyalty.policy
        )
        self.devpay = DevPayProvider(s.payment_secret)
        payments = self._payment_providers()
        self.ordering = OrderingDeps(
            uow=self.unit_of_work,
            clock=self.clock,
            inventory=self.inventory,
            payments=payments,
            refunds={
                n: p
                for n, p in payments.items()
                if isinstance(p, (DevPayProvider, WeChatPayProvider))
            },
            limiter=self.limiter,
            signer=HmacSigner(_derived_key(s, b"pickup-qr")),
            vault=self.vault,
            live=self.live,
            loyalty=self.loyalty,
            events=self.events,
            member_codes=self.member_codes,
            reads=lambda: self._reads,
            policy=OrderPolicy(
                payment_timeout=timedelta(seconds=s.payment_timeout),
                pickup_window=timedelta(seconds=s.pickup_window),
            ),
        )
        self.reconciliation = ReconciliationDeps(
            uow=self.unit_of_work,
            clock=self.clock,
            bills={n: p for n, p in payments.items() if isinstance(p, WeChatPayProvider)},
        )
        self.aftersales = AfterSaleDeps(
            uow=self.unit_of_work, clock=self.clock, ordering=self.ordering
        )
        self.subscriptions = SubscriptionDeps(
            uow=self.unit_of_work,
            clock=self.clock,
            ordering=self.ordering,
            agreements=self.agreements,
            vault=self.vault,
            events=self.events,
        )
        self.reviews = ReviewDeps(
            uow=self.unit_of_work,
            clock=self.clock,
            policy=ReviewPolicy(banned_words=s.review_banned_words),
        )
        self.desk = DeskDeps(
            uow=self.unit_of_work,
            clock=self.clock,
            vault=self.vault,
            members=self.members,
            subscriptions=self.subscriptions,
            ordering=self.ordering,
        )
        self.coupons = CouponDeps(uow=self.unit_of_work, clock=self.clock, limiter=self.limiter)
        self.assists = AssistDeps(
            uow=self.unit_of_work, clock=self.clock, coupons=self.coupons, loyalty=self.loyalty
        )
        self.group_buys = GroupBuyDeps(
            uow=self.unit_of_work, clock=self.clock, ordering=self.ordering, live=self.live
        )
        self.referrals = ReferralDeps(
            uow=self.unit_of_work,
            clock=self.clock,
            key=_derived_key(s, b"referral"),
            loyalty=self.loyalty,
            coupons=self.coupons,
        )
        self.guides = GuideDeps(
            uow=self.unit_of_work, clock=self.clock, key=_derived_key(s, b"guide")
        )
        self.member_facts = FactsDeps(uow=self.unit_of_work, clock=self.clock)
        self.metrics = MetricsDeps(uow=self.unit_of_work, clock=self.clock)
        self.segments = SegmentDeps(
            uow=self.unit_of_work,
            clock=self.clock,
            members=self.members,
            loyalty_policy=self.loyalty.policy,
        )
        self.automations = AutomationDeps(
            uow=self.unit_of_work,
            clock=self.clock,
            coupons=self.coupons,
            loyalty=self.loyalty,
            policy=AutomationPolicy(paused=s.automations_paused),
        )
        self.outbox_deps = OutboxDeps(
            uow=self.unit_of_work,
            clock=self.clock,
            notifier=ChannelNotifier(self.notifier, self.sms, self._phone_number),
            recipient=self._wechat_openid,
        )

    async def _wechat_openid(self, member_id: UUID | None) -> str | None:
        """The member's WeChat openid (for the configured app when there is one), or None; a
        merged member's messages go to the survivor, however many merges ago."""
        member = await resolve_member(self.repos.members, member_id) if member_id else None
        if member is None or member.data_key is None:
            return None
        identities = await self.repos.members.identities_of([member.id])
        app = self.notify_app or DEMO_WECHAT_APP
        found = openid_identity(identities, app, other_apps=True)
        return self.vault.decrypt(member.data_key, found.ciphertext) if found else None

    async def _phone_number(self, member_id: UUID | None) -> str | None:
        """The member's phone (E.164; their first linked), or None; a merged member's texts
        go to the survivor. Decrypted only here, for the SMS about to be sent."""
        member = await resolve_member(self.repos.members, member_id) if member_id else None
        if member is None or member.data_key is None:
            return None
        identities = await self.repos.members.identities_of([member.id])
        phones = sorted(
            (i for i in identities if i.kind is IdentityKind.PHONE), key=lambda i: i.linked_at
        )
        return self.vault.decrypt(member.data_key, phones[0].ciphertext) if phones else None

    async def start(self, *, database: bool = True) -> None:
        """Connect the database and Redis; idempotent so tests and the lifespan can share it."""
        if self.started:
            return
        if database:
            await start_database(self.settings)
        if self.settings.redis_url:
            self.redis = Redis.from_url(self.settings.redis_url)
            self.caches.share(self.redis)
            self.limiter = RedisRateLimiter(self.redis)
            self.live = RedisLiveEvents(self.redis)
            self._rebuild_deps()
        await self.live.start()
        self.started = True

    async def stop(self, *, database: bool = True) -> None:
        if not self.started:
            return
        await self.live.stop()
        if self.redis is not None:
            self.caches.share(None)
            await self.redis.aclose()
            self.redis = None
        if isinstance(self.wechat, HttpWeChatGateway):
            await self.wechat.aclose()
        if isinstance(self.notifier, WeChatSubscribeNotifier):
            await self.notifier.aclose()
        if isinstance(self.sms, TencentSmsSender):
            await self.sms.aclose()
        if self.wechatpay is not None:
            await self.wechatpay.aclose()
        if database:
            await stop_database()
        self.started = False
