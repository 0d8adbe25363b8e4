"""Every scenario of `python -m bench run`: what it measures, in which unit, against which
baseline, and the project's targets (reported next to the results, met or not)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    """`text` as the guide says it; checked on `impl` at `concurrency` (None: the level with
    the highest throughput)."""

    text: str
    impl: str
    concurrency: int | None = None
    min_rate: float | None = None
    max_p99_ms: float | None = None
    min_ratio: float | None = None  # of the raw baseline's throughput (or `versus`'s)
    versus: str | None = None  # the scenario `min_ratio` compares with, same impl and level


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    unit: str  # what one operation is
    about: str
    # http (vs raw), inproc (domain vs raw), or scale: the module bench/<name>.py run by itself
    # in its own process and database (its JSON has its own shape; its section of
    # docs/performance.md is written by hand, not generated)
    kind: str = "http"
    per_request: bool = False  # throughput and latency per request, not per operation
    variants: tuple[str, ...] = ("",)
    targets: tuple[Target, ...] = field(default=())

    @property
    def impls(self) -> tuple[str, str]:
        return ("http", "raw") if self.kind == "http" else ("domain", "raw")


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "place_order",
            "placeOrder, pickup, 2 lines",
            "orders",
            "A member places a pickup order for two random variants (1 unit each) at a random "
            "store, with a fresh idempotency key.",
            targets=(
                Target(
                    "placeOrder pickup (2 lines) ≥ 300 orders/s at 32 clients, p99 < 100 ms",
                    "http",
                    32,
                    min_rate=300,
                    max_p99_ms=100,
                ),
            ),
        ),
        Scenario(
            "place_order_coupon",
            "placeOrder with one coupon",
            "orders",
            "place_order's checkout with one coupon of the member's (¥3 off, no threshold): "
            "priced with the coupon's template, held for the order by a conditional update in "
            "its transaction. Each order uses a fresh coupon (its own crowd of 256 members "
            "holding 120 each; a run's coupons are given back before the next run). The "
            "baseline reads the coupon with its template in one statement and holds it.",
            targets=(
                Target(
                    "placeOrder with one coupon ≥ 80 % of placeOrder without (at 32 clients)",
                    "http",
                    32,
                    min_ratio=0.8,
                    versus="place_order",
                ),
            ),
        ),
        Scenario(
            "place_order_points",
            "placeOrder with points redeemed",
            "orders",
            "The same checkout, paying 200 points (2 yuan): the points are held on the "
            "member's lots in the order's transaction.",
        ),
        Scenario(
            "checkout_quote",
            "checkoutQuote, 2 lines with points",
            "quotes",
            "A member prices the cart of place_order_points (2 random variants, a random "
            "store, 200 points) without reserving anything: list and member prices (a third "
            "of the variants have one for the member's tier), the most points redeemable, "
            "the amount due, and every coupon the member holds as an offer (these members hold "
            "none). The baseline reads the session, the variants and their products, the "
            "points account, the tier's member prices and the member's coupons.",
            targets=(Target("checkoutQuote ≥ 500 quotes/s at 8 clients", "http", 8, min_rate=500),),
        ),
        Scenario(
            "checkout_quote_coupons",
            "checkoutQuote offering three coupons",
            "quotes",
            "checkout_quote by members holding three coupons (their own crowd): the quote lists "
            "them best first, each with what it takes off or why not (one applies, one's "
            "threshold is not reached, one is for the till). The baseline reads them with their "
            "templates as checkout_quote's does.",
        ),
        Scenario(
            "pickup_story",
            "The pickup story",
            "stories",
            "placeOrder → payOrder → the provider's signed webhook → the clerk's "
            "startPreparingOrder → markOrderReadyForPickup → the member reads the pickup code "
            "→ the clerk's completePickup with it (stock committed, points earned): 7 "
            "requests per story.",
        ),
        Scenario(
            "availability",
            "Variant.availability(near:) for shoppers",
            "requests",
            "A logged-in shopper asks where a random variant is in stock near a random point "
            "of central Shanghai (pickup stores, 5 nearest, no quantities).",
            targets=(
                Target(
                    "shopper Variant.availability(near:) ≥ 1,000 requests/s",
                    "http",
                    None,
                    min_rate=1000,
                ),
            ),
        ),
        Scenario(
            "my_orders",
            "me { orders(first: 20) { lines { variant { product } } } }",
            "requests",
            "A member with 22 orders reads their 20 newest with lines, variants and products.",
            targets=(
                Target(
                    "my orders ≥ 750 requests/s at 8 clients, p99 < 50 ms (uncached)",
                    "http",
                    8,
                    min_rate=750,
                    max_p99_ms=50,
                ),
            ),
        ),
        Scenario(
            "products",
            "products(first: 20) { variants }",
            "requests",
            "A logged-in shopper lists the first 20 products with their variants and prices.",
            targets=(
                Target(
                    "products(first: 20) { variants } ≥ 740 requests/s at 8 clients",
                    "http",
                    8,
                    min_rate=740,
                ),
            ),
        ),
        Scenario(
            "products_stock",
            "products(first: 20) { variants { totalAvailable } }",
            "requests",
            "A logged-in shopper lists the first 20 products with their variants and what the "
            "online channels can sell of each (summed over the stores that ship online, a "
            "quarter of them): stock changes all the time, so no response cache can answer.",
            targets=(
                Target(
                    "products with stock ≥ 750 requests/s at 8 clients, p99 < 50 ms (uncached)",
                    "http",
                    8,
                    min_rate=750,
                    max_p99_ms=50,
                ),
            ),
        ),
        Scenario(
            "pos_sale",
            "POS sale recording",
            "sales",
            "A store's POS device records a till sale of two items; every other sale names a "
            "member, who earns points on it.",
        ),
        Scenario(
            "points_earn",
            "Points earned through the API",
            "entries",
            "A CS agent's adjustPoints(+100) with an idempotency key: one ledger credit (a new "
            "lot). Check-in cannot loop (once a day per member); earning on hand-over and on "
            "till sales is measured inside pickup_story and pos_sale.",
        ),
        Scenario(
            "points_redeem",
            "Points redeemed at checkout",
            "redemptions",
            "Redeeming as it happens: placeOrder holds 200 points, payOrder and the payment "
            "webhook spend them (3 requests per redemption).",
        ),
        Scenario(
            "mixed",
            "Mixed traffic",
            "requests",
            "User actions drawn at random: 30 % products, 25 % availability, 15 % my orders, "
            "10 % checkout (placeOrder + payOrder + webhook; 1 in 5 with points), 8 % a "
            "pickup step on one of the client's paid orders (prepare, ready, or code + "
            "hand-over), 7 % POS sales, 5 % CS points adjustments. Throughput and latency "
            "are per request.",
            per_request=True,
        ),
        Scenario(
            "wechatpay_notify",
            "WeChat Pay payment notifications",
            "notifications",
            "WeChat Pay's TRANSACTION.SUCCESS notification at POST /webhooks/payments/wechatpay "
            "for an order with a pending WeChat Pay payment: the signature over the raw body "
            "checked with WeChat Pay's public key, the resource decrypted (AEAD_AES_256_GCM), "
            "merchant, app and amount matched, the order paid once (answered 204). Each "
            "notification pays an order of its own, prepared before the run with its payment "
            "and signed with the fake WeChat Pay's keys (bench/prepared.py). The baseline does "
            "the same signature check and decryption by hand, then the SQL of the devpay "
            "webhook's baseline.",
            targets=(
                Target(
                    "WeChat Pay notifications (verify + decrypt + pay) ≥ 300/s on 2 cores",
                    "http",
                    None,
                    min_rate=300,
                ),
            ),
        ),
        Scenario(
            "wechatpay_pay_order",
            "payOrder with WeChat Pay (JSAPI)",
            "payments",
            'A member\'s payOrder(provider: "wechatpay") for one of their pending orders '
            "(prepared before the run): the signed JSAPI prepay request to the fake WeChat Pay "
            "server (tests/fakes/wechatpay_server.py, its own process on this machine), its "
            "signed answer verified, the payment row written and wx.requestPayment's "
            "parameters signed (paySign). The baseline reads the order, its payments and the "
            "member's openid, makes the same signed request, verifies the answer, signs and "
            "inserts the payment.",
            targets=(
                Target(
                    "payOrder with WeChat Pay ≥ 200/s against the fake server",
                    "http",
                    None,
                    min_rate=200,
                ),
            ),
        ),
        Scenario(
            "points_ledger",
            "Points ledger: domain services vs raw SQL",
            "operations",
            "In process, no HTTP: `earn` is one credit of 100 points with a fresh key; `redeem` "
            "a hold of 100 points then its posting (two transactions). `spread` over a crowd "
            "of members, `hot` on one member (every operation waits for the same account row "
            "lock).",
            kind="inproc",
            variants=("earn-spread", "earn-hot", "redeem-spread", "redeem-hot"),
            targets=(
                Target(
                    "points-ledger writes ≥ 40 % of their raw baseline", "domain", 32, min_ratio=0.4
                ),
            ),
        ),
        Scenario(
            "reservations",
            "Stock reservations: domain services vs raw SQL",
            "reservations",
            "In process, no HTTP: `reserve` of 1 unit for a new owner, `hot` on one variant "
            "(one row lock), `spread` over the catalogue.",
            kind="inproc",
            variants=("hot", "spread"),
            targets=(
                Target(
                    "stock reservations ≥ 40 % of their raw baseline", "domain", 32, min_ratio=0.4
                ),
            ),
        ),
        Scenario(
            "flash_sale",
            "Flash sale on one hot SKU: domain services vs raw SQL",
            "orders",
            "In process, no HTTP (bench/flash_sale.py): placeOrder of 1 unit of one SKU at one "
            "store during its flash sale, 64 members taking turns: the member's counter, the "
            "sale's counter, the shelf's stock_level row and the store's pickup counter are "
            "the same rows for every order. Raw: the member's and the sale's counters, the "
            "conditional stock update and the reservation insert by hand. Before timing, "
            "1,000 buyers at once for 100 units must give exactly 100 orders and 900 "
            "FLASH_SALE_SOLD_OUT (the run fails otherwise).",
            kind="inproc",
            variants=("hot",),
            targets=(
                Target(
                    "flash sale on one SKU at one store ≥ 500 orders/s at 32 clients, p99 < 250 ms",
                    "domain",
                    32,
                    min_rate=500,
                    max_p99_ms=250,
                ),
            ),
        ),
        Scenario(
            "group_buy",
            "Group-buys: joins and payments, domain services vs raw SQL",
            "orders",
            "In process, no HTTP (bench/group_buy.py): one seat of a group-buy of five per "
            "operation, a join (or the open of a new group) and its till payment, the fifth "
            "completing the group; each client fills groups of its own. Raw: the member's seat "
            "count, the seat, the group's counter, the stock and the reservation, then the "
            "paid counter, by hand. After the run no group may hold more seats than its size.",
            kind="inproc",
            variants=("hot",),
            targets=(
                Target(
                    "group-buy joins + payments ≥ 200/s at 32 clients", "domain", 32, min_rate=200
                ),
            ),
        ),
        Scenario(
            "metrics_year",
            "metrics for a year by day, from rollups: domain vs raw SQL",
            "queries",
            "In process, no HTTP (bench/metrics_year.py): `metrics` for the last 366 days by day "
            "over every store, from a year of rollups seeded directly (10 stores, 2 channels, "
            "25 buyers a day each out of 5,000, 15 distinct hand-over durations a day each). "
            "Raw: the same rollup tables read by hand with asyncpg (per day and in total).",
            kind="inproc",
            variants=("year",),
            targets=(
                Target(
                    "metrics for a year by day from rollups < 50 ms p99",
                    "domain",
                    1,
                    max_p99_ms=50,
                ),
            ),
        ),
        Scenario(
            "engagement_scale",
            "Engagement at scale: facts + RFM rebuild, a segment's size, an automation run",
            "members",
            "In process (bench/engagement_scale.py, its own database): N members (100,000 "
            "in `make bench`, 10,000 with --quick) and 5 N orders over two years seeded in "
            "set-based SQL; rebuild_member_facts (facts, RFM, automatic tags) next to its "
            "statements by hand; a segment of about a fifth of the members counted 20 times; a "
            "NO_ORDER_FOR_DAYS win-back run over a tenth of them, then over all, under "
            "tracemalloc. The issue's figures (1,000,000 members: rebuild < 10 min on 2 cores, "
            "a segment of 200,000 counted < 1 s, an automation run in bounded memory) are "
            "judged by hand in docs/performance.md.",
            kind="scale",
        ),
    )
}

HTTP = [s for s in SCENARIOS.values() if s.kind == "http"]
