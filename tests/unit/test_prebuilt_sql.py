"""The prebuilt SQL of the hot paths names its columns a second time, next to the Tortoise
models (`ORDER_COLUMNS` and the row mappers in infra/repositories/). This ties the two: a
column list names only the model's columns and all of them, a mapper reads only listed
columns, and every multi-row INSERT gives as many values as it names columns."""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from uuid import uuid4

import pytest
from tortoise.models import Model

from domain.aftersales.review_model import Review, ReviewStatus
from domain.outbox import Notification, OutboxMessage
from infra.db.models import MODEL_MODULES
from infra.repositories import outbox, reviews

REPOSITORIES = Path(__file__).resolve().parents[2] / "infra" / "repositories"

# Every module-level `*_COLUMNS` of infra/repositories: (module, name) -> its table's model,
# the functions that map a row selected with those columns, and the model's columns the list
# leaves out on purpose.
COLUMN_LISTS: dict[tuple[str, str], tuple[str, tuple[str, ...], frozenset[str]]] = {
    # The search columns are written by `index_for_search` and matched, never read into a row.
    ("catalog", "PRODUCT_COLUMNS"): (
        "ProductRow",
        ("_product",),
        frozenset({"search_names", "search_text"}),
    ),
    ("catalog", "VARIANT_COLUMNS"): ("VariantRow", ("_variant",), frozenset()),
    ("catalog", "CATEGORY_COLUMNS"): ("CategoryRow", ("_category",), frozenset()),
    ("catalog", "MEDIA_COLUMNS"): ("ProductMediaRow", ("_media",), frozenset()),
    ("inventory", "MOVEMENT_COLUMNS"): ("MovementRow", (), frozenset()),
    ("inventory", "RESERVATION_COLUMNS"): ("ReservationRow", (), frozenset()),
    ("locations", "LOCATION_COLUMNS"): ("LocationRow", ("_location",), frozenset()),
    # The account is found by member_id; its surrogate id is never read.
    ("loyalty", "ACCOUNT_COLUMNS"): ("PointsAccountRow", ("_account",), frozenset({"id"})),
    ("loyalty", "ENTRY_COLUMNS"): ("PointsEntryRow", ("_entry",), frozenset()),
    ("loyalty", "LOT_COLUMNS"): ("PointsLotRow", ("_lot",), frozenset()),
    ("loyalty", "HOLD_COLUMNS"): ("PointsHoldRow", ("_hold",), frozenset()),
    ("orders", "ORDER_COLUMNS"): ("OrderRow", ("_order",), frozenset()),
    ("orders", "LINE_COLUMNS"): ("OrderLineRow", ("_line",), frozenset()),
    ("orders", "EVENT_COLUMNS"): ("OrderEventRow", (), frozenset()),
    # A member price is found by variant and tier; its surrogate id is never read.
    ("member_prices", "MEMBER_PRICE_COLUMNS"): (
        "MemberPriceRow",
        ("_member_price",),
        frozenset({"id"}),
    ),
    ("outbox", "OUTBOX_COLUMNS"): ("OutboxMessageRow", (), frozenset()),
    ("promotions", "FLASH_SALE_COLUMNS"): ("FlashSaleRow", ("_sale",), frozenset()),
    ("reviews", "REVIEW_COLUMNS"): ("ReviewRow", ("_review",), frozenset()),
    ("till_returns", "SALE_LINE_COLUMNS"): ("PosSaleLineRow", (), frozenset()),
    ("coupons", "TEMPLATE_COLUMNS"): ("CouponTemplateRow", ("_template",), frozenset()),
    ("coupons", "COUPON_COLUMNS"): ("CouponRow", ("_coupon",), frozenset()),
    ("assists", "CAMPAIGN_COLUMNS"): ("AssistCampaignRow", ("_campaign",), frozenset()),
    ("assists", "TASK_COLUMNS"): ("AssistTaskRow", ("_task",), frozenset()),
    ("assists", "ASSIST_COLUMNS"): ("AssistRow", ("_assist",), frozenset()),
    ("assists", "REWARD_COLUMNS"): ("AssistRewardRow", ("_payout",), frozenset()),
    ("group_buys", "GROUP_BUY_CAMPAIGN_COLUMNS"): (
        "GroupBuyCampaignRow",
        ("_campaign",),
        frozenset(),
    ),
    ("group_buys", "GROUP_BUY_COLUMNS"): ("GroupBuyRow", ("_group",), frozenset()),
    ("group_buys", "GROUP_BUY_SEAT_COLUMNS"): ("GroupBuySeatRow", ("_seat",), frozenset()),
    ("guides", "BINDING_COLUMNS"): ("GuideBindingRow", ("_binding",), frozenset()),
    ("tags", "TAG_COLUMNS"): ("TagRow", ("_tag",), frozenset()),
    ("tags", "MEMBER_TAG_COLUMNS"): ("MemberTagRow", ("_member_tag",), frozenset()),
    ("segments", "SEGMENT_COLUMNS"): ("SegmentRow", ("_segment",), frozenset()),
    ("segments", "SEGMENT_SIZE_COLUMNS"): ("SegmentSizeRow", (), frozenset()),
    # The metrics rollups: written whole per day, read only as sums.
    ("metrics_rollups", "DAY_COLUMNS"): ("MetricsDayRow", (), frozenset()),
    ("metrics_rollups", "MEMBER_COLUMNS"): ("MetricsMemberDayRow", (), frozenset()),
    ("metrics_rollups", "HANDOVER_COLUMNS"): ("MetricsHandoverDayRow", (), frozenset()),
    ("metrics_rollups", "SUBSCRIPTION_COLUMNS"): ("MetricsSubscriptionDayRow", (), frozenset()),
    ("metrics_day_figures", "FIGURES_COLUMNS"): ("MetricsDayFiguresRow", (), frozenset()),
    ("metrics_ranges", "REACH_COLUMNS"): ("MetricsMemberReachRow", (), frozenset()),
    ("metrics_ranges", "MONTH_COLUMNS"): ("MetricsHandoverMonthRow", (), frozenset()),
    # A refresh writes the facts; the RFM scores only the nightly scoring.
    ("facts", "FACT_COLUMNS"): (
        "MemberFactsRow",
        (),
        frozenset({"r_score", "f_score", "m_score", "rfm_segment"}),
    ),
    ("automations", "SEND_COLUMNS"): ("AutomationSendRow", ("_send",), frozenset()),
    # member.tier: unused since migration 0014, kept nullable for rolling deploys
    ("members", "MEMBER_COLUMNS"): ("MemberRow", ("_member_of",), frozenset({"tier"})),
}


def _models() -> dict[str, type[Model]]:
    found: dict[str, type[Model]] = {}
    for name in MODEL_MODULES:
        for value in vars(importlib.import_module(name)).values():
            if inspect.isclass(value) and issubclass(value, Model) and value is not Model:
                found[value.__name__] = value
    return found


MODELS = _models()


def _columns_of(model: type[Model]) -> set[str]:
    return set(model._meta.fields_db_projection.values())


def _repository(name: str) -> ModuleType:
    return importlib.import_module(f"infra.repositories.{name}")


def _listed(value: object) -> tuple[str, ...]:
    """A column list is a tuple of names or one comma-separated string."""
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(","))
    assert isinstance(value, tuple)
    return value


def _keys_read(function: Callable[..., object]) -> set[str]:
    """The columns a mapper reads: `row["name"]` and `get("name")`."""
    tree = ast.parse(inspect.getsource(function))
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            keys.add(node.slice.value)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            keys.add(node.args[0].value)
    return {k for k in keys if isinstance(k, str)}


def test_every_column_list_is_registered_here() -> None:
    declared = {
        (path.stem, node.targets[0].id)
        for path in REPOSITORIES.glob("*.py")
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id.endswith("_COLUMNS")
    }
    assert declared == set(COLUMN_LISTS)


@pytest.mark.parametrize(("module", "name"), sorted(COLUMN_LISTS))
def test_a_column_list_names_every_column_of_its_model_and_no_other(module: str, name: str) -> None:
    model, _, left_out = COLUMN_LISTS[(module, name)]
    listed = _listed(getattr(_repository(module), name))
    assert len(set(listed)) == len(listed), f"{name} names a column twice"
    assert set(listed) == _columns_of(MODELS[model]) - left_out, f"{name} and {model} differ"


@pytest.mark.parametrize(("module", "name"), sorted(COLUMN_LISTS))
def test_a_mapper_reads_only_the_columns_it_was_selected_with(module: str, name: str) -> None:
    _, mappers, _ = COLUMN_LISTS[(module, name)]
    repository = _repository(module)
    listed = set(_listed(getattr(repository, name)))
    for mapper in mappers:
        assert _keys_read(getattr(repository, mapper)) <= listed, (mapper, name)


def _inserts(tree: ast.AST) -> list[tuple[ast.expr, ast.expr, ast.expr, int]]:
    """(table, columns, rows, line) of every `sql.insert(...)` and every batch of
    `sql.insert_all([(table, columns, rows), ...])`."""
    found = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("insert", "insert_all")
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "sql"
        ):
            continue
        if node.func.attr == "insert":
            table_arg, columns_arg, rows_arg = node.args
            found.append((table_arg, columns_arg, rows_arg, node.lineno))
            continue
        [batches] = node.args
        assert isinstance(batches, ast.List), f"line {node.lineno}: batches are not a list"
        for batch in batches.elts:
            assert isinstance(batch, ast.Tuple), f"line {node.lineno}: a batch is not a tuple"
            table_arg, columns_arg, rows_arg = batch.elts
            found.append((table_arg, columns_arg, rows_arg, batch.lineno))
    return found


def _insert_rows(repository: ModuleType) -> list[tuple[str, tuple[str, ...], int, int]]:
    """(table, columns, values per row, line) of every insert of the module."""
    tree = ast.parse(inspect.getsource(repository))
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    found = []
    for table_arg, columns_arg, rows_arg, line in _inserts(tree):
        assert isinstance(table_arg, ast.Constant)
        columns = (
            getattr(repository, columns_arg.id)
            if isinstance(columns_arg, ast.Name)
            else ast.literal_eval(columns_arg)
        )
        if isinstance(rows_arg, ast.Call) and isinstance(rows_arg.func, ast.Name):
            # rows built by a module function (one builder for two inserts)
            [returned] = [
                n for n in ast.walk(functions[rows_arg.func.id]) if isinstance(n, ast.Return)
            ]
            assert returned.value is not None
            rows_arg = returned.value
        assert isinstance(rows_arg, ast.ListComp | ast.List), f"line {line}"
        row = rows_arg.elt if isinstance(rows_arg, ast.ListComp) else rows_arg.elts[0]
        if isinstance(row, ast.Call) and isinstance(row.func, ast.Name):
            [returned] = [n for n in ast.walk(functions[row.func.id]) if isinstance(n, ast.Return)]
            assert returned.value is not None
            row = returned.value
        assert isinstance(row, ast.Tuple), f"line {line}: rows are not tuple literals"
        found.append((table_arg.value, _listed(columns), len(row.elts), line))
    return found


@pytest.mark.parametrize("module", sorted(p.stem for p in REPOSITORIES.glob("*.py")))
def test_an_insert_gives_one_value_per_named_column_of_its_table(module: str) -> None:
    tables = {model._meta.db_table: model for model in MODELS.values()}
    for table, columns, values, line in _insert_rows(_repository(module)):
        assert set(columns) <= _columns_of(tables[table]), (module, line)
        assert values == len(columns), (module, line)


def test_the_outbox_insert_binds_one_value_per_column() -> None:
    """The outbox writes its own INSERT (ON CONFLICT DO NOTHING), not `sql.insert`."""
    message = OutboxMessage.pending(Notification("K", None, None, {}, "k"), datetime.now(UTC))
    assert len(outbox._values(message)) == outbox._PER_ROW == len(outbox.OUTBOX_COLUMNS)


def test_the_review_insert_binds_one_value_per_column() -> None:
    """Reviews write their own INSERT (ON CONFLICT on the order line), not `sql.insert`."""
    now = datetime.now(UTC)
    review = Review(*(uuid4() for _ in range(6)), 5, "", [], ReviewStatus.PUBLISHED, [], now, now)
    assert len(reviews._values(review)) == len(reviews.REVIEW_COLUMNS)
    assert reviews.INSERT_REVIEW.count("$") == len(reviews.REVIEW_COLUMNS)
