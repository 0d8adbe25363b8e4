"""WeChat subscribe-message templates: the template each message kind uses, how the message's
fields fill the template's keys, and WeChat's rules for each key type.

Operators describe them in a file (`WECHAT_TEMPLATES_FILE`, TOML or JSON; the example covering
every kind is docs/wechat-templates.example.toml):

    miniprogram_state = "formal"        # every kind's default: developer, trial or formal
    [ORDER_READY_FOR_PICKUP]
    template_id = "<the id WeChat gave the template>"
    page = "pages/order/detail?id={order_id}"
    data = { character_string1 = "{order_number}", thing2 = "{store}", time3 = "{deadline}" }

A value is text with `{field}` placeholders. Each field is first written the way people read
its shape (money "¥129.00", store times "2027年1月5日 04:00"), then the whole value is cut to
what WeChat accepts for the key's type (a `thing` is at most 20 characters...). `parse` checks
everything it can at start-up, so a template WeChat would refuse stops the process rather
than failing every message of its kind.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from string import Formatter
from typing import Any
from urllib.parse import quote

from domain.outbox import MESSAGE_KINDS, FieldShape, MessageKind, OutboxMessage

MINIPROGRAM_STATES = ("developer", "trial", "formal")
LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")
ELLIPSIS = "…"

_KEY = re.compile(r"([a-z_]+?)(\d+)")


class TemplateError(ValueError):
    """A template, or the file that holds them, is wrong; the message names the place."""


@dataclass(frozen=True)
class KeyType:
    """What WeChat accepts in a key of one type (`thing2` is a `thing`)."""

    limit: int | None = None  # characters
    keep: re.Pattern[str] | None = None  # characters outside it are dropped
    shapes: frozenset[FieldShape] | None = None  # only one field of these shapes, or a literal
    ellipsis: bool = False  # a value cut short ends with "…" (text people read)


def _chars(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# From WeChat's subscribe-message documentation (subscribeMessage.send, "参数值限制").
KEY_TYPES: Mapping[str, KeyType] = {
    "thing": KeyType(limit=20, ellipsis=True),
    "character_string": KeyType(limit=32, keep=_chars(r"[!-~]")),  # letters, digits, symbols
    "number": KeyType(limit=32, keep=_chars(r"[0-9.]")),
    "letter": KeyType(limit=32, keep=_chars(r"[A-Za-z]")),
    "symbol": KeyType(limit=5, keep=_chars(r"[!-/:-@\[-`{-~]")),
    "time": KeyType(shapes=frozenset({FieldShape.LOCAL_TIME})),
    "date": KeyType(shapes=frozenset({FieldShape.DATE, FieldShape.LOCAL_TIME})),
    "amount": KeyType(shapes=frozenset({FieldShape.MONEY})),
    "phone_number": KeyType(limit=17, keep=_chars(r"[0-9+\-]")),
    "car_number": KeyType(limit=8),
    "name": KeyType(limit=10, ellipsis=True),  # 10 Chinese characters, or 20 Latin ones
    "phrase": KeyType(limit=5),  # at most 5 Chinese characters
}


@dataclass(frozen=True)
class SubscribeTemplate:
    kind: str
    template_id: str
    data: Mapping[str, str]  # template key -> value with {field} placeholders
    page: str | None = None  # with {field} placeholders, and {order_id} for order messages
    miniprogram_state: str = "formal"
    lang: str = "zh_CN"
    enabled: bool = True


Templates = Mapping[str, SubscribeTemplate]


def subscribe_message(
    template: SubscribeTemplate, message: OutboxMessage, openid: str | None
) -> dict[str, Any]:
    """The body of `subscribeMessage.send` for one message. Raises TemplateError when the
    message lacks a field its template needs (the notifying code and MESSAGE_KINDS differ)."""
    kind = MESSAGE_KINDS.get(message.kind)
    shapes = kind.fields if kind is not None else {}
    body: dict[str, Any] = {
        "touser": openid,
        "template_id": template.template_id,
    }
    page = _page(template, message)
    if page is not None:
        body["page"] = page
    body["data"] = {
        key: {"value": render_value(key, value, message.data, shapes)}
        for key, value in template.data.items()
    }
    body["miniprogram_state"] = template.miniprogram_state
    body["lang"] = template.lang
    return body


def _page(template: SubscribeTemplate, message: OutboxMessage) -> str | None:
    """The page the message opens, its values URL-encoded; none when the message lacks a
    value the page needs (the message still reaches the member, and opens the home page)."""
    if template.page is None:
        return None
    values = dict(message.data)
    if message.order_id is not None:
        values["order_id"] = str(message.order_id)
    if any(name not in values for name in _placeholders(template.page)):
        return None
    return _fill(template.page, lambda name: quote(values[name], safe=""))


def render_value(
    key: str, value: str, data: Mapping[str, str], shapes: Mapping[str, FieldShape]
) -> str:
    """One key's value: the fields written as people read them, cut to the key type's rule."""
    text = _fill(value, lambda name: readable(_field(data, name), shapes.get(name)))
    return fit(_key_type(key), text)


def readable(value: str, shape: FieldShape | None) -> str:
    """A field as people read it: money in yuan, dates and store times in Chinese."""
    try:
        if shape is FieldShape.MONEY:
            if not value.isdigit():
                raise ValueError(value)
            fen = int(value)
            return f"¥{fen // 100}.{fen % 100:02d}"
        if shape is FieldShape.LOCAL_TIME:
            moment = datetime.strptime(value, "%Y-%m-%d %H:%M")
            return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"
        if shape is FieldShape.DATE:
            day = date.fromisoformat(value)
            return f"{day.year}年{day.month}月{day.day}日"
    except ValueError:
        raise TemplateError(f"{value!r} is not a {shape} value") from None
    return value


def fit(key_type: KeyType, text: str) -> str:
    """Drops the characters the key type refuses and cuts the rest to its length."""
    if key_type.keep is not None:
        text = "".join(key_type.keep.findall(text))
    limit = key_type.limit
    if limit is not None and key_type is KEY_TYPES["name"] and text.isascii():
        limit *= 2
    if limit is None or len(text) <= limit:
        return text
    if key_type.ellipsis:
        return text[: limit - 1] + ELLIPSIS
    return text[:limit]


def _key_type(key: str) -> KeyType:
    match = _KEY.fullmatch(key)
    key_type = KEY_TYPES.get(match.group(1)) if match else None
    if key_type is None:
        types = ", ".join(KEY_TYPES)
        raise TemplateError(f"{key!r} is not a WeChat template key (<type><number>; {types})")
    return key_type


def _field(values: Mapping[str, str], name: str) -> str:
    if name not in values:
        raise TemplateError(f"the message has no field {name!r}")
    return values[name]


def _placeholders(text: str) -> list[str]:
    """The `{field}` names in a value; `{{` and `}}` are literal braces."""
    names = []
    try:
        parsed = list(Formatter().parse(text))
    except ValueError as error:
        raise TemplateError(f"{text!r}: {error} (write {{{{ and }}}} for braces)") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise TemplateError(f"{text!r}: placeholders are plain field names, like {{store}}")
        names.append(name)
    return names


def _fill(text: str, value_of: Callable[[str], str]) -> str:
    out = []
    for literal, name, _, _ in Formatter().parse(text):
        out.append(literal)
        if name is not None:
            out.append(value_of(name))
    return "".join(out)


# ---------------------------------------------------------------- the settings file


def load(path: Path) -> dict[str, SubscribeTemplate]:
    """Reads and checks a templates file (.toml or .json)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TemplateError(f"cannot read {path}: {error.strerror}") from None
    try:
        raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as error:
        raise TemplateError(f"{path} is not valid {path.suffix[1:].upper()}: {error}") from None
    if not isinstance(raw, dict):
        raise TemplateError(f"{path} must hold a table of message kinds")
    return parse(raw)


def parse(raw: Mapping[str, Any]) -> dict[str, SubscribeTemplate]:
    """The templates of a parsed file: top-level `miniprogram_state` and `lang` are every
    kind's defaults; each other key is a message kind's table."""
    state = _choice(raw.get("miniprogram_state", "formal"), "miniprogram_state", MINIPROGRAM_STATES)
    lang = _choice(raw.get("lang", "zh_CN"), "lang", LANGS)
    templates = {}
    for name, table in raw.items():
        if name in ("miniprogram_state", "lang"):
            continue
        kind = MESSAGE_KINDS.get(name)
        if kind is None:
            known = ", ".join(MESSAGE_KINDS)
            raise TemplateError(f"{name!r} is not a message kind; the kinds are {known}")
        if not isinstance(table, dict):
            raise TemplateError(f"{name} must be a table (template_id, page, data)")
        templates[name] = _template(kind, table, state, lang)
    return templates


_TEMPLATE_KEYS = ("template_id", "page", "data", "miniprogram_state", "lang", "enabled")


def _template(
    kind: MessageKind, table: Mapping[str, Any], state: str, lang: str
) -> SubscribeTemplate:
    where = kind.name
    unknown = sorted(set(table) - set(_TEMPLATE_KEYS))
    if unknown:
        known = ", ".join(_TEMPLATE_KEYS)
        raise TemplateError(f"{where}: unknown setting {unknown[0]!r} (settings: {known})")
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise TemplateError(f"{where}.enabled must be true or false")
    if not enabled:
        return SubscribeTemplate(kind.name, "", {}, enabled=False)
    template_id = table.get("template_id")
    if not isinstance(template_id, str) or not template_id.strip():
        raise TemplateError(f"{where}.template_id is missing (or set enabled = false)")
    page = table.get("page")
    if page is not None:
        if not isinstance(page, str) or not page.strip():
            raise TemplateError(f"{where}.page must be a mini-program path")
        page_fields = {*kind.fields, *(["order_id"] if kind.about_order else [])}
        _check_names(f"{where}.page", page, page_fields)
    data = table.get("data")
    if not isinstance(data, dict) or not data:
        raise TemplateError(f"{where}.data must map the template's keys to values")
    for key, value in data.items():
        _check_value(kind, f"{where}.data.{key}", key, value)
    return SubscribeTemplate(
        kind=kind.name,
        template_id=template_id.strip(),
        data=dict(data),
        page=page,
        miniprogram_state=_choice(
            table.get("miniprogram_state", state), f"{where}.miniprogram_state", MINIPROGRAM_STATES
        ),
        lang=_choice(table.get("lang", lang), f"{where}.lang", LANGS),
    )


def _check_value(kind: MessageKind, where: str, key: str, value: Any) -> None:
    try:
        key_type = _key_type(key)
    except TemplateError as error:
        raise TemplateError(f"{where}: {error}") from None
    if not isinstance(value, str) or not value:
        raise TemplateError(f'{where} must be text, e.g. "{{{next(iter(kind.fields))}}}"')
    names = _check_names(where, value, set(kind.fields))
    if key_type.shapes is not None and names:
        shapes = {kind.fields[n] for n in names}
        literal = _fill(value, lambda _: "")
        if len(names) > 1 or literal or not shapes <= key_type.shapes:
            wanted = " or ".join(sorted(s.lower() for s in key_type.shapes))
            fits = [n for n, s in kind.fields.items() if s in key_type.shapes]
            raise TemplateError(
                f"{where} takes one {wanted} field and nothing else "
                f"({', '.join('{' + n + '}' for n in fits) or f'{kind.name} has none'})"
            )
    if not names and fit(key_type, value) != value:
        raise TemplateError(f"{where} is {value!r}, which WeChat refuses for this key type")


def _check_names(where: str, text: str, allowed: set[str]) -> list[str]:
    try:
        names = _placeholders(text)
    except TemplateError as error:
        raise TemplateError(f"{where}: {error}") from None
    for name in names:
        if name not in allowed:
            raise TemplateError(
                f"{where} uses {{{name}}}, which this kind does not carry; "
                f"it carries {', '.join(sorted(allowed))}"
            )
    return names


def _choice(value: Any, where: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise TemplateError(f"{where} must be one of {', '.join(choices)}; got {value!r}")
    return str(value)


# ---------------------------------------------------------------- development defaults


def _dev(kind: str, page: str | None, **data: str) -> tuple[str, dict[str, Any]]:
    table: dict[str, Any] = {"template_id": f"tmpl-{kind.lower()}", "data": data}
    if page is not None:
        table["page"] = page
    return kind, table


_ORDER_PAGE = "pages/order/detail?id={order_id}"
_SUBSCRIPTION_PAGE = "pages/subscription/detail?id={subscription}"
_COUPONS_PAGE = "pages/coupons/index"

# What the recording fake renders in development and tests (template ids `tmpl-<kind>`);
# `NOTIFIER=wechat` never uses them: real templates come from WECHAT_TEMPLATES_FILE.
DEV_TEMPLATES: Templates = parse(
    {
        "miniprogram_state": "developer",
        **dict(
            [
                _dev(
                    "ORDER_PAID",
                    _ORDER_PAGE,
                    character_string1="{order_number}",
                    amount2="{total}",
                    phrase3="已支付",
                ),
                _dev(
                    "ORDER_READY_FOR_PICKUP",
                    _ORDER_PAGE,
                    character_string1="{order_number}",
                    thing2="{store}",
                    character_string3="{code}",
                    time4="{deadline}",
                ),
                _dev(
                    "PICKUP_REMINDER",
                    _ORDER_PAGE,
                    character_string1="{order_number}",
                    time2="{deadline}",
                    thing3="请在截止时间前到店取货",
                ),
                _dev(
                    "ORDER_CANCELLED",
                    _ORDER_PAGE,
                    character_string1="{order_number}",
                    thing2="{reason}",
                    phrase3="已取消",
                ),
                _dev(
                    "ORDER_UNCLAIMED",
                    _ORDER_PAGE,
                    character_string1="{order_number}",
                    thing2="{reason}",
                    phrase3="超时未取",
                ),
                _dev(
                    "ORDER_REFUNDED",
                    _ORDER_PAGE,
                    character_string1="{order_number}",
                    amount2="{amount}",
                    thing3="{reason}",
                ),
                _dev(
                    "REVIEW_INVITATION",
                    _ORDER_PAGE,
                    character_string1="{order_number}",
                    thing2="邀请您评价本次购物",
                ),
                _dev(
                    "AFTER_SALE_APPROVED",
                    _ORDER_PAGE,
                    character_string1="{order_number}",
                    phrase2="售后已同意",
                ),
                _dev(
                    "AFTER_SALE_REJECTED",
                    _ORDER_PAGE,
                    character_string1="{order_number}",
                    thing2="{reason}",
                    phrase3="售后未通过",
                ),
                _dev(
                    "AFTER_SALE_REFUNDED",
                    _ORDER_PAGE,
                    character_string1="{order_number}",
                    amount2="{amount}",
                    phrase3="退款成功",
                ),
                _dev(
                    "INVOICE_ISSUED",
                    _ORDER_PAGE,
                    character_string1="{order_number}",
                    character_string2="{invoice_number}",
                    phrase3="发票已开具",
                ),
                _dev(
                    "SUBSCRIPTION_REMINDER",
                    _SUBSCRIPTION_PAGE,
                    date1="{date}",
                    amount2="{total}",
                    thing3="周期购即将下单",
                ),
                _dev(
                    "SUBSCRIPTION_SHORT",
                    _SUBSCRIPTION_PAGE,
                    date1="{date}",
                    thing2="{reason}",
                ),
                _dev(
                    "SUBSCRIPTION_PAUSED",
                    _SUBSCRIPTION_PAGE,
                    thing1="{reason}",
                    phrase2="已暂停",
                ),
                _dev(
                    "COUPON_EXPIRING",
                    _COUPONS_PAGE,
                    thing1="{coupon}",
                    date2="{expires}",
                    thing3="优惠券即将过期",
                ),
                _dev("AUTOMATION_MESSAGE", _COUPONS_PAGE, thing1="{text}", thing2="会员关怀"),
            ]
        ),
    }
)
