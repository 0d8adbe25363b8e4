"""The invariants `omnishelf doctor` checks, in the order it runs and reports them: one
set-based SQL statement each (`infra/doctor/check.py` says how they are written).

What each check relies on (the code that keeps it true):

  stock_ledger            every stock change writes its movement in the same transaction
                          (domain/inventory/stock.py, reservations.py, transfers.py)
  stock_reserved          `reserved` moves only with a reservation entering or leaving
                          ACTIVE/AT_RISK (domain/inventory/reservations.py)
  finished_reservations   checkout reserves as `order:<id>`; every exit from the
  open_reservations       stock-holding statuses commits or releases them
                          (domain/ordering/checkout.py, lifecycle.py)
  order_totals            the total and each line's coupon discount are priced once, at checkout, by
                          promotions' price_cart (domain/promotions/pricing.py)
  order_payments          paid = a SUCCEEDED payment (webhook, till, agreement), in the
                          transaction that marks the order paid; cancelling a paid order
                          and a payment arriving too late both record a refund
  refunds_within_paid     domain/ordering/refunds.py: a refund names its payment and is
                          recorded under the order's lock against what is left of it
  refund_submissions      process_refunds claims a refund (conditional update, one attempt
                          more) before each submission; till refunds stay at the till
                          until the store confirms them (confirmTillRefund)
  reconciliation          domain/ordering/reconcile.py: `omnishelf reconcile` and its daily
                          job store what a provider's bill and our books disagree on; each
                          is settled by hand (resolveReconciliationDifference)
  pickup_codes            a code row lives exactly while its order is READY_FOR_PICKUP
  order_points            placeOrder holds, payment posts, cancellation releases (unpaid)
                          or reverses (paid) the hold `order:<id>` (domain/loyalty/ledger.py)
  points_entries,         domain.loyalty.model.Account: balance = entries = lots - debt,
  points_lots,            held = open holds = lots' held
  points_holds
  outbox_delivery         domain/outbox/: SENT has sent_at, FAILED its error, PENDING and
                          SENDING wait for next_attempt_at (the claim lease)
  subscription_cycles     domain/subscriptions/renewals.py: cycle n+1 is claimed against
                          `sequence`, closing it advances `sequence`, one order per cycle
  after_sale_refunds      domain/aftersales/services.py: refunds under the order's lock,
                          each line's cumulative share of what was paid (line_shares)
  after_sale_quantities   requests are counted under the order's lock
  after_sale_stock        receive_return_in_uow books RETURN (+ ADJUSTMENT for damaged) in
                          the transaction that records the receipt
  after_sale_points       the refund returns redeemed points and reverses earned ones in
                          the same transaction (loyalty services)
  till_return_units       domain/inventory/till_returns.py: a till sale line's `returned`
                          rises by a conditional update (never past `quantity`), each
                          return's share cumulative, in the transaction that records it
  till_return_stock       receive_return_in_uow books RETURN (+ ADJUSTMENT for damaged)
                          under `pos-return:<id>` in that transaction
  reviews                 domain/aftersales/reviews.py: submit_review checks the member's
                          handed-over line and the stars; the unique key on order_line_id
                          keeps one per line; moderation moves between ReviewStatus values
  flash_sale_units        domain/promotions/flash_sales.py: the checkout takes from the
  flash_sale_orders       sale's and the member's counters and records the order's take in
                          one transaction; cancel_in_uow gives the take back
  coupon_issued           domain/promotions/coupons.py: `take_one` counts a coupon in the
                          transaction that inserts it (a conditional update, under the CHECK)
  coupon_member_limits    claims and codes take a slot 1..limit, unique per member
  coupon_orders           a coupon has one `order_id` column: HELD by one order
                          (conditional update), USED when that order is paid
  coupon_discounts        the checkout holds each coupon with its discount and writes the
                          same allocation on the order's lines, in one transaction
  assist_daily_cap        domain/growth/assists.py: an assist takes a slot 1..3 unique per
                          (helper, store-local day) in the transaction that counts it
  assist_rewards          the assist that makes a task's count N pays threshold N, under the
                          task row's lock (a conditional update), unique per threshold
  group_buy_seats         domain/growth/group_buys.py: a seat is a conditional update of the
                          group's counter in the seat's checkout (never past `size`), freed
                          with its order's cancellation while the group is open
  failed_group_refunds    fail_group_buys marks the group FAILED, then cancels each seat's
                          order (a paid one refunded) through ordering's cancel_by_system
  referral_rewards        domain/growth/referrals.py: the invitee's referral row is locked
                          when its first order is handed over, and every credit has a key
                          (`referral-reward:<id>:<side>`)
  guide_orders            domain/growth/guides.py: the order is attributed in its checkout's
                          transaction for the member who placed it; a merge moves both
  member_facts            domain/engagement/facts.py: each payment, cancellation and refund
                          recomputes its member's row in its transaction (merge: the
                          survivor's; erasure deletes it)
  member_facts_birthday   domain/members/birthday.py raises MemberProfileChanged in the
                          transaction that sets it; member facts recompute the row then
  automation_sends        domain/engagement/automations.py: a send is marked DONE in the
                          transaction of its grant (keyed) and its outbox message
"""

from __future__ import annotations

from infra.doctor import (
    aftersales,
    assists,
    automations,
    coupons,
    delivery,
    facts,
    group_buys,
    guides,
    inventory,
    loyalty,
    ordering,
    promotions,
    reconciliation,
    referrals,
    refunds,
    reviews,
    till_returns,
)
from infra.doctor.check import Check

CHECKS: tuple[Check, ...] = (
    *inventory.CHECKS,
    *ordering.CHECKS,
    *refunds.CHECKS,
    *reconciliation.CHECKS,
    *loyalty.CHECKS,
    *delivery.CHECKS,
    *aftersales.CHECKS,
    *till_returns.CHECKS,
    *reviews.CHECKS,
    *promotions.CHECKS,
    *coupons.CHECKS,
    *assists.CHECKS,
    *group_buys.CHECKS,
    *referrals.CHECKS,
    *guides.CHECKS,
    *facts.CHECKS,
    *automations.CHECKS,
)
NAMES = tuple(check.name for check in CHECKS)
