"""`omnishelf seed`: load the demo data through the domain services; safe to run again.

Everything is looked up by its natural key first (location code, category slug, the first
SKU code of a product, username, a store's kiosk), so a second run creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.catalog.media import MediaDraft, add_media
from domain.catalog.model import Locale
from domain.catalog.services import ProductDraft, VariantDraft, create_category, create_product
from domain.identity.model import DeviceKind
from domain.identity.services import create_device, create_staff
from domain.inventory.stock import MAX_BATCH, BulkRow, bulk_set
from domain.locations.model import Location, LocationType
from domain.locations.services import create_location
from domain.members.model import Member
from domain.members.services import enrol_member
from infra.db.models.identity import DeviceRow
from infra.runtime import Runtime
from infra.seed_data import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    CATEGORIES,
    DEMO_PASSWORD,
    GRAPHQL_URL,
    LOCATIONS,
    MEDIA_BASE_URL,
    PRODUCTS,
    STAFF,
    STOCKED_TYPES,
    ProductSeed,
    demo_on_hand,
    variant_codes,
)
from infra.seed_history import refresh_numbers, seed_history
from infra.stock_import import SYSTEM_ACTOR, chunks


@dataclass
class Tally:
    created: int = 0
    existing: int = 0

    def report(self, what: str) -> None:
        print(f"{what}: {self.created} created, {self.existing} existing", flush=True)


async def seed(runtime: Runtime) -> int:
    locations = await seed_locations(runtime)
    categories = await seed_categories(runtime)
    await seed_products(runtime, categories)
    await seed_stock(runtime, locations)
    await seed_staff(runtime, locations)
    new_devices = await seed_devices(runtime, locations)
    members = await seed_members(runtime)
    history = await seed_history(runtime, locations, members)
    print(
        f"order history: {history.orders} orders for {history.members} members",
        flush=True,
    )
    if history.orders:  # today's shelf is the ERP's count again, so a second seed sets nothing
        await seed_stock(runtime, locations)
    await refresh_numbers(runtime)
    print_login_help(new_devices)
    return 0


def stock_rows(locations: dict[str, Location]) -> list[BulkRow]:
    """The demo quantity of every seeded variant at every store and warehouse."""
    return [
        BulkRow(location.code, code, demo_on_hand(location.code, location.type, code))
        for location in locations.values()
        if location.type in STOCKED_TYPES
        for code in variant_codes()
    ]


async def seed_stock(runtime: Runtime, locations: dict[str, Location]) -> None:
    """Absolute quantities through the ERP bulk sync, so a second seed sets nothing."""
    rows = stock_rows(locations)
    statuses: list[str] = []
    for batch in chunks(rows, MAX_BATCH):
        outcomes = await bulk_set(runtime.inventory, SYSTEM_ACTOR, batch)
        statuses.extend(outcome.status for outcome in outcomes)
    rejected = len(statuses) - statuses.count("SET") - statuses.count("UNCHANGED")
    if rejected:
        raise RuntimeError(f"seed: the bulk sync rejected {rejected} demo stock rows")
    stocked = sum(1 for loc in locations.values() if loc.type in STOCKED_TYPES)
    print(
        f"stock: {statuses.count('SET')} set, {statuses.count('UNCHANGED')} unchanged "
        f"({len(variant_codes())} variants at {stocked} locations)",
        flush=True,
    )


DEMO_MEMBERS = (  # (display name, phone, card): enrolled at a till, as a brand's CRM would be
    ("Li Na", "13800138000", "DEMO-0001"),
    ("Wang Wei", "13900139000", "DEMO-0002"),
    ("Zhang Min", "13700137000", None),
    ("Chen Jing", "13600136001", None),
    ("Liu Yang", "13600136002", None),
    ("Zhao Lei", "13600136003", None),
    ("Huang Li", "13600136004", None),
    ("Zhou Tao", "13600136005", None),
    ("Wu Fang", "13600136006", None),
    ("Xu Ming", "13600136007", None),
    ("Sun Hui", "13600136008", None),
    ("Ma Jun", "13600136009", None),
)


async def seed_members(runtime: Runtime) -> dict[str, Member]:
    """Members enrolled at the POS (by phone); a WeChat login that binds one of these phones
    merges."""
    tally = Tally()
    till = SYSTEM_ACTOR
    by_phone: dict[str, Member] = {}
    for name, phone, card in DEMO_MEMBERS:
        member, created = await enrol_member(runtime.members, till, phone, card, name)
        by_phone[phone] = member
        tally.created += created
        tally.existing += not created
    tally.report("members")
    return by_phone


async def seed_locations(runtime: Runtime) -> dict[str, Location]:
    tally = Tally()
    by_code: dict[str, Location] = {}
    for draft in LOCATIONS:
        location = await runtime.repos.locations.get_by_code(draft.code.upper())
        if location is None:
            location = await create_location(runtime.locations, draft)
            tally.created += 1
        else:
            tally.existing += 1
        by_code[location.code] = location
    tally.report("locations")
    return by_code


async def seed_categories(runtime: Runtime) -> dict[str, UUID]:
    tally = Tally()
    by_slug = {c.slug: c.id for c in await runtime.repos.catalog.list_categories()}
    for seed_category in CATEGORIES:
        if seed_category.slug in by_slug:
            tally.existing += 1
            continue
        category = await create_category(
            runtime.catalog, seed_category.name, seed_category.slug, None
        )
        by_slug[category.slug] = category.id
        tally.created += 1
    tally.report("categories")
    return by_slug


def _bilingual(chinese: str, english: str) -> tuple[tuple[Locale, str], ...]:
    return ((Locale.ZH_CN, chinese), (Locale.EN, english))


def product_draft(product: ProductSeed, category_id: UUID) -> ProductDraft:
    """The Chinese name is the display name; the English one is the EN translation."""
    variants = []
    for index, option in enumerate(product.options):
        chinese, english = product.variant_names(option)
        variants.append(
            VariantDraft(
                code=product.code(option),
                name=chinese,
                price=option.price,
                barcode=product.barcode(index),
                attributes=option.attribute_pairs(),
                names=_bilingual(chinese, english),
            )
        )
    return ProductDraft(
        name=product.chinese_name,
        description=product.description,
        slug=product.slug,
        category_id=category_id,
        variants=variants,
        names=_bilingual(product.chinese_name, product.name),
    )


async def seed_products(runtime: Runtime, categories: dict[str, UUID]) -> None:
    tally = Tally()
    variants = 0
    for product in PRODUCTS:
        first_code = product.code(product.options[0])
        if await runtime.repos.catalog.variant_by_code(first_code) is not None:
            tally.existing += 1
            continue
        created = await create_product(
            runtime.catalog, product_draft(product, categories[product.category])
        )
        for media in product.media:
            await add_media(
                runtime.catalog, created.id, MediaDraft(f"{MEDIA_BASE_URL}/{media.path}", media.alt)
            )
        tally.created += 1
        variants += len(product.options)
    tally.report("products")
    print(f"variants: {variants} created", flush=True)


async def seed_staff(runtime: Runtime, locations: dict[str, Location]) -> None:
    tally = Tally()
    for staff in STAFF:
        if await runtime.repos.staff.get_by_username(staff.username) is not None:
            tally.existing += 1
            continue
        store_ids = [locations[code].id for code in staff.store_codes]
        await create_staff(
            runtime.auth,
            staff.username,
            staff.password,
            staff.role,
            store_ids,
            staff.display_name,
        )
        tally.created += 1
    tally.report("staff")


async def has_kiosk(location: Location) -> bool:
    return await DeviceRow.filter(location_id=location.id, kind=DeviceKind.KIOSK.value).exists()


async def seed_devices(runtime: Runtime, locations: dict[str, Location]) -> list[str]:
    """One kiosk per store; returns a line per new device with its token (shown only now)."""
    tally = Tally()
    lines: list[str] = []
    stores = [loc for loc in locations.values() if loc.type is LocationType.STORE]
    for store in stores:
        if await has_kiosk(store):
            tally.existing += 1
            continue
        device, token = await create_device(runtime.auth, store.id, DeviceKind.KIOSK)
        lines.append(f"  {store.code:<10} {device.name:<20} {token}")
        tally.created += 1
    tally.report("kiosk devices")
    return lines


def print_login_help(new_devices: list[str]) -> None:
    mutation = (
        f'mutation {{ staffLogin(input: {{username: "{ADMIN_USERNAME}", '
        f'password: "{ADMIN_PASSWORD}"}}) '
        "{ tokens { accessToken } errors { code message } } }"
    )
    if new_devices:
        print("\nKiosk device tokens (shown once; use as `Authorization: Bearer <token>`):")
        print("\n".join(new_devices))
        devices_note = "Kiosk device tokens are printed above; they are not shown again."
    else:
        devices_note = (
            "Kiosk devices already existed; their tokens were printed by an earlier seed "
            "(`omnishelf create-device` makes a new one)."
        )
    print(
        "\nDemo data ready. Log in at "
        f"{GRAPHQL_URL}\n"
        f"  {mutation}\n"
        f"  admin: {ADMIN_USERNAME} / {ADMIN_PASSWORD}\n"
        f"  store staff: <store-code-lowercase>-manager and <store-code-lowercase>-clerk "
        f"(e.g. sh-xjh-manager), password {DEMO_PASSWORD}\n"
        f"  customer service: cs-agent / {DEMO_PASSWORD}\n"
        '  a shopper: loginWithWechat(input: {appId: "wx-demo", code: "test:any-openid"}), '
        'then bindPhone(input: {wechatPhoneCode: "test-phone:13800138000"}) merges in the '
        "POS member Li Na\n"
        f"  {devices_note}",
        flush=True,
    )
