"""The SQL of the raw baselines (bench.raw): each statement once, with $n placeholders."""

from __future__ import annotations

SESSION = "SELECT revoked_at FROM auth_session WHERE id = $1"
DEVICE = "SELECT id, location_id, kind, revoked_at FROM device WHERE token_hash = $1"
CLAIM = (
    "INSERT INTO idempotency_record (id, scope, key, fingerprint, created_at) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, key) DO NOTHING RETURNING id"
)
VARIANTS = "SELECT id, product_id, code, name, price_amount, status FROM variant WHERE id = ANY($1)"
PRODUCTS_BY_ID = "SELECT id, name, status FROM product WHERE id = ANY($1)"
LOCATION = "SELECT id, name, status, pickup_enabled FROM location WHERE id = $1"
RESERVE = (
    "UPDATE stock_level SET reserved = reserved + $3 WHERE location_id = $1 AND variant_id = $2 "
    "AND on_hand - reserved - safety_stock >= $3"
)
RESERVATIONS = (
    "INSERT INTO stock_reservation (id, owner, location_id, variant_id, quantity, state, "
    "expires_at, created_at) SELECT unnest($1::uuid[]), $2, $3, unnest($4::uuid[]), "
    "unnest($5::int[]), 'ACTIVE', $6, $7"
)
MOVEMENTS = (
    "INSERT INTO stock_movement (id, location_id, variant_id, kind, on_hand_delta, "
    "reserved_delta, reason, reference, actor, created_at) SELECT unnest($1::uuid[]), $2, "
    "unnest($3::uuid[]), $4, unnest($5::int[]), unnest($6::int[]), $7, $8, $9, $10"
)
ORDER = (
    "INSERT INTO customer_order (id, number, member_id, channel, fulfilment, location_id, "
    "status, currency, total, note, created_at, updated_at, payment_deadline, at_risk, "
    "reminder_sent, points_redeemed, points_discount) VALUES ($1, $2, $3, 'MINI_PROGRAM', "
    "'PICKUP', $4, 'PENDING_PAYMENT', 'CNY', $5, '', $6, $6, $7, false, false, $8, $9)"
)
LINES = (
    "INSERT INTO order_line (id, order_id, variant_id, product_id, sku, name, unit_price, "
    "quantity, list_price) SELECT unnest($1::uuid[]), $2, unnest($3::uuid[]), "
    "unnest($4::uuid[]), unnest($5::text[]), unnest($6::text[]), unnest($7::bigint[]), 1, "
    "unnest($8::bigint[])"
)
# The price of a cart (domain/promotions/pricing.py): the member's tier and points, then the
# tier's member prices of the cart's variants.
POINTS_OF = "SELECT balance, held, tier FROM points_account WHERE member_id = $1"
MEMBER_PRICES = (
    "SELECT variant_id, price FROM member_price WHERE tier = $1 AND variant_id = ANY($2)"
)
# Coupons at checkout (domain/promotions/coupons_checkout.py): the coupon with its template's
# rules, then its conditional hold for the order (AVAILABLE and valid now -> HELD).
COUPON = (
    "SELECT c.member_id, c.status, c.valid_from, c.valid_until, t.kind, t.amount_off, "
    "t.threshold, t.scope, t.stackable_with_points FROM coupon c "
    "JOIN coupon_template t ON t.id = c.template_id WHERE c.id = $1"
)
# The quote's offers: every coupon the member may use now, with its template's rules.
COUPONS_OF = (
    "SELECT c.id, c.valid_until, t.kind, t.amount_off, t.threshold, t.scope FROM coupon c "
    "JOIN coupon_template t ON t.id = c.template_id WHERE c.member_id = $1 "
    "AND c.status = 'AVAILABLE' AND c.valid_from <= $2 AND c.valid_until > $2 "
    "ORDER BY c.valid_until, c.id"
)
HOLD_COUPON = (
    "UPDATE coupon SET status = 'HELD', order_id = $2, discount = $5 WHERE id = $1 "
    "AND member_id = $3 AND status = 'AVAILABLE' AND valid_from <= $4 AND valid_until > $4"
)
LINES_WITH_COUPON = (
    "INSERT INTO order_line (id, order_id, variant_id, product_id, sku, name, unit_price, "
    "quantity, list_price, coupon_discount) SELECT unnest($1::uuid[]), $2, unnest($3::uuid[]), "
    "unnest($4::uuid[]), unnest($5::text[]), unnest($6::text[]), unnest($7::bigint[]), 1, "
    "unnest($8::bigint[]), unnest($9::bigint[])"
)
EVENT = (
    "INSERT INTO order_event (id, order_id, from_status, to_status, actor, reason, at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7)"
)
COMPLETE_KEY = "UPDATE idempotency_record SET result = $3::jsonb WHERE scope = $1 AND key = $2"
ORDER_TO_PAY = (
    "SELECT member_id, status, number, payment_deadline, total - points_discount AS due "
    "FROM customer_order WHERE id = $1"
)
NEW_PAYMENT = (
    "INSERT INTO order_payment (id, order_id, kind, provider, provider_ref, method, amount, "
    "currency, status, created_at) VALUES ($1, $2, 'PAYMENT', $6, $3, 'ONLINE', $4, "
    "'CNY', 'PENDING', $5)"
)
PAYMENTS_OF = "SELECT provider, status, created_at, amount FROM order_payment WHERE order_id = $1"
OPENID = (
    "SELECT m.data_key, i.ciphertext FROM member m JOIN member_identity i ON i.member_id = m.id "
    "WHERE m.id = $1 AND m.status = 'ACTIVE' AND i.kind = 'WECHAT_OPENID' AND i.app_id = $2"
)
PAYMENT_BY_REF = (
    "SELECT id, order_id, kind, amount, currency FROM order_payment "
    "WHERE provider = $2 AND provider_ref = $1"
)
PAYMENT_DONE = (
    "UPDATE order_payment SET status = 'SUCCEEDED', completed_at = $2 "
    "WHERE id = $1 AND status = 'PENDING'"
)
LOCK_ORDER = (
    "SELECT status, member_id, number, location_id, total - points_discount AS due "
    "FROM customer_order WHERE id = $1 FOR UPDATE"
)
MOVE_ORDER = "UPDATE customer_order SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2"
PAID = (
    "UPDATE customer_order SET status = 'PAID', updated_at = $2, paid_at = $2 "
    "WHERE id = $1 AND status = 'PENDING_PAYMENT'"
)
READY = (
    "UPDATE customer_order SET status = 'READY_FOR_PICKUP', updated_at = $2, "
    "pickup_deadline = $3 WHERE id = $1 AND status = 'PREPARING'"
)
EXTEND = (
    "UPDATE stock_reservation SET expires_at = $2 WHERE owner = $1 "
    "AND state IN ('ACTIVE', 'AT_RISK')"
)
HOLD_BY_OWNER = "SELECT id, member_id, amount, state, allocations FROM points_hold WHERE owner = $1"
OUTBOX = (
    "INSERT INTO outbox_message (id, kind, member_id, order_id, data, dedupe_key, status, "
    "attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, 'PENDING', "
    "0, $7, $7) ON CONFLICT (dedupe_key) DO NOTHING"
)
NEW_CODE = (
    "INSERT INTO pickup_code (id, order_id, location_id, code, deadline) VALUES "
    "($1, $2, $3, $4, $5) ON CONFLICT (location_id, code) DO NOTHING RETURNING id"
)
ORDER_CODE = (
    "SELECT o.status, o.member_id, p.code FROM customer_order o "
    "LEFT JOIN pickup_code p ON p.order_id = o.id WHERE o.id = $1"
)
CODE_AT = "SELECT order_id FROM pickup_code WHERE location_id = $1 AND code = $2"
COMMIT_RESERVATIONS = (
    "UPDATE stock_reservation SET state = 'COMMITTED' WHERE owner = $1 "
    "AND state IN ('ACTIVE', 'AT_RISK') RETURNING location_id, variant_id, quantity"
)
TAKE_RESERVED = (
    "UPDATE stock_level SET on_hand = on_hand - $3, reserved = reserved - $3 "
    "WHERE location_id = $1 AND variant_id = $2 AND on_hand >= $3 AND reserved >= $3"
)
DROP_CODE = "DELETE FROM pickup_code WHERE order_id = $1"
LOCK_ACCOUNT = (
    "SELECT balance, held, debt, growth_value, tier FROM points_account "
    "WHERE member_id = $1 FOR UPDATE"
)
ENTRY_BY_KEY = "SELECT 1 FROM points_entry WHERE member_id = $1 AND idempotency_key = $2"
GROWTH = (
    "INSERT INTO growth_record (id, member_id, amount, at, reference) VALUES ($1, $2, $3, $4, $5)"
)
GROWTH_SUM = "SELECT COALESCE(sum(amount), 0) FROM growth_record WHERE member_id = $1 AND at >= $2"
LOT = (
    "INSERT INTO points_lot (id, member_id, amount, remaining, held, earned_at, expires_at, "
    "source) VALUES ($1, $2, $3, $3, 0, $4, $5, $6)"
)
ENTRY = (
    "INSERT INTO points_entry (id, member_id, kind, amount, held_change, balance_after, "
    "held_after, source, actor, reason, idempotency_key, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
)
ACCOUNT = (
    "UPDATE points_account SET balance = $2, held = $3, debt = $4, growth_value = $5, "
    "tier = $6 WHERE member_id = $1"
)
SPENDABLE = (
    "SELECT id, remaining FROM points_lot WHERE member_id = $1 AND remaining > 0 "
    "ORDER BY expires_at, id"
)
EARMARK = "UPDATE points_lot SET remaining = remaining - $2, held = held + $2 WHERE id = $1"
SPEND_HELD = "UPDATE points_lot SET held = held - $2 WHERE id = $1"
NEW_HOLD = (
    "INSERT INTO points_hold (id, member_id, owner, amount, state, allocations, created_at) "
    "VALUES ($1, $2, $3, $4, 'OPEN', $5::jsonb, $6)"
)
POST_HOLD = "UPDATE points_hold SET state = 'POSTED' WHERE id = $1"
VARIANT = "SELECT id, name, status FROM variant WHERE id = $1"
LEVELS = (
    "SELECT location_id, on_hand - reserved - safety_stock AS available FROM stock_level "
    "WHERE variant_id = $1"
)
NETWORK = (
    "SELECT id, code, name, address, latitude, longitude, pickup_enabled FROM location "
    "WHERE status = 'ACTIVE'"
)
MEMBER = "SELECT status, merged_into_id FROM member WHERE id = $1"
MY_ORDERS = (
    "SELECT id, number, status, created_at, total FROM customer_order WHERE member_id = $1 "
    "ORDER BY id DESC LIMIT 21"
)
LINES_OF = (
    "SELECT order_id, variant_id, name, quantity FROM order_line WHERE order_id = ANY($1) "
    "ORDER BY id"
)
PRODUCT_NAMES = "SELECT id, name FROM product WHERE id = ANY($1)"
PRODUCT_PAGE = "SELECT id, name FROM product WHERE status = 'ACTIVE' ORDER BY id LIMIT 21"
MARKETING_CONSENT = (
    "SELECT granted FROM consent_record WHERE member_id = $1 AND purpose = 'MARKETING_WECHAT' "
    "ORDER BY recorded_at DESC, id DESC LIMIT 1"
)
ONLINE_TOTALS = (
    "SELECT s.variant_id, SUM(GREATEST(s.on_hand - s.reserved - s.safety_stock, 0)) "
    "FROM stock_level s JOIN location l ON l.id = s.location_id "
    "WHERE s.variant_id = ANY($1) AND l.ships_online AND l.status = 'ACTIVE' "
    "GROUP BY s.variant_id"
)
VARIANTS_OF = (
    "SELECT id, product_id, code, name, price_amount FROM variant "
    "WHERE product_id = ANY($1) AND status = 'ACTIVE' ORDER BY id"
)
POS_TX = (
    "INSERT INTO pos_transaction (id, location_id, transaction_id, summary, created_at) "
    "VALUES ($1, $2, $3, $4::jsonb, $5) ON CONFLICT (location_id, transaction_id) DO NOTHING "
    "RETURNING id"
)
TAKE_FOR_SALE = (
    "UPDATE stock_level SET on_hand = on_hand - LEAST(on_hand, $3) WHERE location_id = $1 "
    "AND variant_id = $2 RETURNING on_hand, reserved"
)
POS_DONE = (
    "UPDATE pos_transaction SET summary = $3::jsonb WHERE location_id = $1 AND transaction_id = $2"
)
MEMBER_EXISTS = "SELECT 1 FROM member WHERE id = $1"
# The order's attribution to the member's shopping guide (none in the bench: one statement).
GUIDE_ORDER = (
    "INSERT INTO guide_order (order_id, member_id, staff_id, store_id, placed_at) "
    "SELECT $1, member_id, staff_id, store_id, $2 FROM guide_binding "
    "WHERE member_id = $3 ON CONFLICT (order_id) DO NOTHING"
)
