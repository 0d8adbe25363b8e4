"""Reviews over the API: a member reviews a handed-over line once; moderation holds banned
words for CS, who publish or hide; the product page shows published reviews only, masked, in
a constant number of statements; nobody sees another member's unpublished reviews."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from api.relay import encode_id
from domain.aftersales.review_model import Review, ReviewStatus
from domain.catalog.model import Variant
from domain.identity.model import StaffRole
from domain.ids import new_id
from infra.runtime import Runtime
from tests.support import MovableClock, count_sql
from tests.support.api import Api, staff_api
from tests.support.orders import Story, make_variants, receive
from tests.support.payloads import codes
from tests.support.shoppers import Shopper, shopper

SUBMIT = """mutation($input: SubmitReviewInput!) { submitReview(input: $input) {
  review { id rating text photoUrls status heldFor moderationReason orderLineId }
  errors { code field message } } }"""
HIDE = """mutation($id: ID!, $reason: String!) { hideReview(input: {reviewId: $id, reason: $reason})
  { review { id status moderationReason } errors { code field message } } }"""
PUBLISH = """mutation($id: ID!) { publishReview(input: {reviewId: $id}) {
  review { id status } errors { code field message } } }"""
LINES = """query($id: ID!) { order(id: $id) { lines { id review { id status rating } } } }"""
PRODUCT = """query($id: ID!) { product(id: $id) { name rating { average count }
  reviews(first: 10) { edges { node { rating text photoUrls reviewer } } } } }"""
MY_REVIEWS = """{ me { reviews { edges { node { id status text moderationReason
  product { name } } } } } }"""
QUEUE = """query($status: ReviewStatus) { reviews(filter: {status: $status}) {
  edges { node { id status text heldFor } } pageInfo { hasNextPage } } }"""


@pytest.fixture
async def mango(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    (variant,) = await make_variants(runtime, ("M-1", "1kg", 1990))
    await receive(runtime, stores["SH-A"].id, variant, 50)
    return variant


@pytest.fixture
def story(
    client: httpx.AsyncClient,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    manager_a: Api,
) -> Story:
    return Story(client, runtime, stores, mango, manager_a)


@pytest.fixture
async def member(api: Api) -> Shopper:
    return await shopper(api, "open-reviewer", name="王小明")


@pytest.fixture
async def other(api: Api) -> Shopper:
    return await shopper(api, "open-other", name="Bob")


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "cs-agent", StaffRole.CS_AGENT, [])


def product_id(mango: Variant) -> str:
    return encode_id("Product", mango.product_id)


async def line_of(who: Shopper, order: dict[str, Any]) -> str:
    lines = (await who.api.data(LINES, {"id": order["id"]}))["order"]["lines"]
    line_id: str = lines[0]["id"]
    return line_id


async def submit(who: Shopper, line_id: str, **fields: Any) -> dict[str, Any]:
    data = {"orderLineId": line_id, "rating": 5, "text": "Sweet and fresh", **fields}
    payload: dict[str, Any] = (await who.api.data(SUBMIT, {"input": data}))["submitReview"]
    return payload


async def submitted(who: Shopper, line_id: str, **fields: Any) -> dict[str, Any]:
    payload = await submit(who, line_id, **fields)
    assert payload["errors"] == [], payload
    review: dict[str, Any] = payload["review"]
    return review


async def my_reviews(who: Shopper) -> list[dict[str, Any]]:
    edges = (await who.api.data(MY_REVIEWS))["me"]["reviews"]["edges"]
    return [edge["node"] for edge in edges]


async def product_page(caller: Api, mango: Variant) -> dict[str, Any]:
    found: dict[str, Any] = (await caller.data(PRODUCT, {"id": product_id(mango)}))["product"]
    return found


async def test_a_member_reviews_a_picked_up_line_once_and_the_product_page_shows_it(
    api: Api, story: Story, member: Shopper, mango: Variant
) -> None:
    order = await story.picked_up(member)
    line_id = await line_of(member, order)
    photo = "https://img.example.com/r/1.jpg"
    review = await submitted(member, line_id, rating=4, text=" Sweet and fresh ", photoUrls=[photo])
    assert review | {"id": None} == {
        "id": None,
        "rating": 4,
        "text": "Sweet and fresh",
        "photoUrls": [photo],
        "status": "PUBLISHED",
        "heldFor": None,  # CS only
        "moderationReason": None,
        "orderLineId": line_id,
    }

    again = await submit(member, line_id, rating=1, text="changed my mind")
    assert (codes(again), again["errors"][0]["field"], again["review"]) == (
        ["ALREADY_REVIEWED"],
        ["orderLineId"],
        None,
    )

    page = await product_page(api, mango)  # anonymous, as the mini-program's product page
    assert page["rating"] == {"average": 4.0, "count": 1}
    assert [e["node"] for e in page["reviews"]["edges"]] == [
        {"rating": 4, "text": "Sweet and fresh", "photoUrls": [photo], "reviewer": "王**"}
    ]
    lines = (await member.api.data(LINES, {"id": order["id"]}))["order"]["lines"]
    assert lines == [
        {"id": line_id, "review": {"id": review["id"], "status": "PUBLISHED", "rating": 4}}
    ]
    assert [(r["id"], r["product"]["name"]) for r in await my_reviews(member)] == [
        (review["id"], "Mango")
    ]


async def test_only_the_owner_reviews_and_only_handed_over_goods(
    story: Story, member: Shopper, other: Shopper, runtime: Runtime
) -> None:
    paid = await story.paid(member)
    refused = await submit(member, await line_of(member, paid))
    assert (codes(refused), refused["errors"][0]["field"]) == (
        ["ORDER_NOT_HANDED_OVER"],
        ["orderLineId"],
    )

    mine = await line_of(member, await story.picked_up(member))
    stranger = await submit(other, mine)  # another member's line reads as no line at all
    assert (codes(stranger), stranger["errors"][0]["field"]) == (["NOT_FOUND"], ["orderLineId"])
    made_up = await submit(other, encode_id("OrderLine", new_id()))
    assert codes(made_up) == ["NOT_FOUND"]
    wrong_type = await submit(other, encode_id("Order", new_id()))
    assert codes(wrong_type) == ["INVALID_ID"]
    assert await my_reviews(member) == [] and await my_reviews(other) == []


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"rating": 0}, "INVALID_RATING", ["rating"]),
        ({"rating": 6}, "INVALID_RATING", ["rating"]),
        ({"text": "好" * 1001}, "TEXT_TOO_LONG", ["text"]),
        ({"text": "fresh\x00"}, "INVALID_INPUT", ["text"]),
        (
            {"photoUrls": [f"https://img.example.com/{n}.jpg" for n in range(10)]},
            "TOO_MANY_ITEMS",
            ["photoUrls"],
        ),
        (
            {"photoUrls": ["https://img.example.com/1.jpg", "http://img.example.com/2.jpg"]},
            "INVALID_PHOTO_URL",
            ["photoUrls", "1"],
        ),
        ({"photoUrls": ["javascript:alert(1)"]}, "INVALID_PHOTO_URL", ["photoUrls", "0"]),
        ({"idempotencyKey": "k" * 101}, "INVALID_INPUT", ["idempotencyKey"]),
    ],
)
async def test_bad_input_is_a_typed_error_and_changes_nothing(
    story: Story, member: Shopper, fields: dict[str, Any], code: str, field: list[str]
) -> None:
    line_id = await line_of(member, await story.picked_up(member))
    refused = await submit(member, line_id, **fields)
    assert refused["review"] is None
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [(code, field)]
    assert await my_reviews(member) == []
    assert (await submitted(member, line_id))["status"] == "PUBLISHED"  # the line is still free


async def test_banned_words_wait_for_cs_who_publish_or_hide(
    api: Api, story: Story, member: Shopper, other: Shopper, cs: Api, mango: Variant
) -> None:
    order = await story.picked_up(member)
    line_id = await line_of(member, order)
    # The product page is asked twice first: a cached result must not outlive the review.
    for _ in range(2):
        assert (await product_page(api, mango))["rating"] == {"average": None, "count": 0}

    held = await submitted(member, line_id, rating=5, text="全网 最低 的价格!")
    assert held["status"] == "PENDING"
    assert (await product_page(api, mango))["reviews"]["edges"] == []
    # Nobody but the author and CS sees a review that is not published.
    assert await my_reviews(other) == []
    assert (await other.api(LINES, {"id": order["id"]}))["data"]["order"] is None
    assert [r["status"] for r in await my_reviews(member)] == ["PENDING"]

    queue = (await cs.data(QUEUE, {"status": "PENDING"}))["reviews"]["edges"]
    assert [(n["node"]["id"], n["node"]["heldFor"]) for n in queue] == [
        (held["id"], ["最", "全网最低"])
    ]
    assert (await cs.data(QUEUE, {"status": "PUBLISHED"}))["reviews"]["edges"] == []

    published = (await cs.data(PUBLISH, {"id": held["id"]}))["publishReview"]
    assert (published["errors"], published["review"]["status"]) == ([], "PUBLISHED")
    page = await product_page(api, mango)
    assert (page["rating"], len(page["reviews"]["edges"])) == ({"average": 5.0, "count": 1}, 1)

    hidden = await cs.data(HIDE, {"id": held["id"], "reason": "advertising claim"})
    assert hidden["hideReview"]["review"]["status"] == "HIDDEN"
    page = await product_page(api, mango)
    assert (page["rating"], page["reviews"]["edges"]) == ({"average": None, "count": 0}, [])
    assert [(r["status"], r["moderationReason"]) for r in await my_reviews(member)] == [
        ("HIDDEN", "advertising claim")
    ]

    twice = (await cs.data(HIDE, {"id": held["id"], "reason": "again"}))["hideReview"]
    assert (codes(twice), twice["review"]) == (["ILLEGAL_STATE"], None)
    blank = (await cs.data(HIDE, {"id": held["id"], "reason": " "}))["hideReview"]
    assert [(e["code"], e["field"]) for e in blank["errors"]] == [("INVALID_INPUT", ["reason"])]
    missing = (await cs.data(PUBLISH, {"id": encode_id("Review", new_id())}))["publishReview"]
    assert (codes(missing), missing["errors"][0]["field"]) == (["NOT_FOUND"], ["reviewId"])


async def test_one_review_per_line_whatever_the_race(story: Story, member: Shopper) -> None:
    """Two submissions at once: with one idempotency key both get the first's review; without,
    one is written and the other is ALREADY_REVIEWED."""
    keyed = await line_of(member, await story.picked_up(member))
    first, second = await asyncio.gather(
        *(submit(member, keyed, idempotencyKey="review-1") for _ in range(2))
    )
    assert first["errors"] == second["errors"] == []
    assert first["review"]["id"] == second["review"]["id"]

    bare = await line_of(member, await story.picked_up(member))
    answers = await asyncio.gather(*(submit(member, bare, text=f"try {n}") for n in range(4)))
    assert sorted(codes(a)[0] if a["errors"] else "OK" for a in answers) == [
        "ALREADY_REVIEWED",
        "ALREADY_REVIEWED",
        "ALREADY_REVIEWED",
        "OK",
    ]
    assert len(await my_reviews(member)) == 2

    reused = await submit(member, bare, idempotencyKey="review-1")  # the key, another request
    assert codes(reused) == ["IDEMPOTENCY_CONFLICT"]


PRODUCTS = """query($n: Int!) { products(first: $n) { edges { node { name
  rating { average count }
  reviews(first: 3) { edges { cursor node { rating text reviewer } } pageInfo { hasNextPage } }
} } } }"""


async def test_a_product_list_with_ratings_and_reviews_is_constant_in_statements(
    api: Api, runtime: Runtime, member: Shopper, clock: MovableClock
) -> None:
    variants = [(await make_variants(runtime, (f"P-{n}", "1kg", 100 + n)))[0] for n in range(8)]
    now = clock.now()
    async with runtime.unit_of_work() as uow:  # the reads are under test: rows set up directly
        for variant in variants:
            for stars in (5, 4, 4, 2):
                assert await uow.reviews.add(
                    Review(
                        new_id(),
                        member.key,
                        new_id(),
                        new_id(),
                        variant.product_id,
                        variant.id,
                        stars,
                        f"{stars} stars",
                        [],
                        ReviewStatus.PUBLISHED,
                        [],
                        now,
                        now,
                    )
                )

    async def statements(size: int) -> tuple[int, list[Any]]:
        with count_sql() as seen:
            edges = (await api.data(PRODUCTS, {"n": size}))["products"]["edges"]
        return len(seen), edges

    small, few = await statements(2)
    large, many = await statements(8)
    assert (len(few), len(many)) == (2, 8)
    assert small == large, (small, large)
    for edge in many:
        node = edge["node"]
        assert node["rating"] == {"average": 3.8, "count": 4}  # 15 / 4 = 3.75, half up
        reviews = node["reviews"]
        assert [e["node"]["rating"] for e in reviews["edges"]] == [2, 4, 4]  # newest first
        assert reviews["pageInfo"]["hasNextPage"] is True
        assert {e["node"]["reviewer"] for e in reviews["edges"]} == {"王**"}

    after = many[0]["node"]["reviews"]["edges"][-1]["cursor"]
    rest = await api.data(
        """query($id: ID!, $after: String) { product(id: $id) { reviews(first: 3, after: $after)
        { edges { node { rating } } pageInfo { hasNextPage } } } }""",
        {"id": encode_id("Product", variants[0].product_id), "after": after},
    )
    assert rest["product"]["reviews"] == {
        "edges": [{"node": {"rating": 5}}],
        "pageInfo": {"hasNextPage": False},
    }


MERGE = """mutation($source: ID!, $target: ID!) { mergeMembers(input: {sourceMemberId: $source,
  targetMemberId: $target, reason: "same person"}) { errors { code message } } }"""


async def test_a_merge_moves_reviews_to_the_surviving_member(
    api: Api, story: Story, member: Shopper, other: Shopper, cs: Api, mango: Variant
) -> None:
    line_id = await line_of(member, await story.picked_up(member))
    review = await submitted(member, line_id)
    merged = await cs.data(MERGE, {"source": member.id, "target": other.id})
    assert merged["mergeMembers"]["errors"] == []

    assert [r["id"] for r in await my_reviews(other)] == [review["id"]]
    reviewers = [
        e["node"]["reviewer"] for e in (await product_page(api, mango))["reviews"]["edges"]
    ]
    assert reviewers == ["B**"]


async def test_the_export_lists_reviews_and_an_erasure_empties_them(
    api: Api, story: Story, member: Shopper, cs: Api, mango: Variant
) -> None:
    photo = "https://img.example.com/r/2.jpg"
    review = await submitted(
        member, await line_of(member, await story.picked_up(member)), rating=3, photoUrls=[photo]
    )
    exported = await member.api.data("mutation { exportMyData { document errors { code } } }")
    [section] = exported["exportMyData"]["document"]["reviews"]
    assert (section["rating"], section["text"], section["photoUrls"], section["status"]) == (
        3,
        "Sweet and fresh",
        [photo],
        "PUBLISHED",
    )
    assert section["productId"] == str(mango.product_id)

    deleted = await member.api.data(
        "mutation { deleteMyAccount(input: {confirm: true}) { ok errors { code } } }"
    )
    assert deleted["deleteMyAccount"] == {"ok": True, "errors": []}
    page = await product_page(api, mango)
    assert (page["rating"], page["reviews"]["edges"]) == ({"average": None, "count": 0}, [])
    [left] = [e["node"] for e in (await cs.data(QUEUE, {"status": None}))["reviews"]["edges"]]
    assert left == {"id": review["id"], "status": "HIDDEN", "text": "", "heldFor": []}


NODE = """query($id: ID!) { node(id: $id) { id ... on Review { status rating } } }"""


async def test_node_shows_a_review_published_to_anyone_held_or_hidden_to_its_member_and_cs(
    api: Api, story: Story, member: Shopper, other: Shopper, cs: Api
) -> None:
    order = await story.picked_up(member)
    held = await submitted(member, await line_of(member, order), text="第一 好吃")
    assert held["status"] == "PENDING"

    async def seen_by(caller: Api) -> str | None:
        found = (await caller.data(NODE, {"id": held["id"]}))["node"]
        return None if found is None else str(found["status"])

    readers = {"member": member.api, "cs": cs, "other": other.api, "anonymous": api}
    assert {who: await seen_by(c) for who, c in readers.items()} == {
        "member": "PENDING",
        "cs": "PENDING",
        "other": None,
        "anonymous": None,
    }
    assert (await cs.data(PUBLISH, {"id": held["id"]}))["publishReview"]["errors"] == []
    assert {await seen_by(c) for c in readers.values()} == {"PUBLISHED"}
    hidden = (await cs.data(HIDE, {"id": held["id"], "reason": "advertising"}))["hideReview"]
    assert hidden["errors"] == []
    assert {who: await seen_by(c) for who, c in readers.items()} == {
        "member": "HIDDEN",
        "cs": "HIDDEN",
        "other": None,
        "anonymous": None,
    }
    assert (await api.data(NODE, {"id": encode_id("Review", new_id())}))["node"] is None
