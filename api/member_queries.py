"""Member reads: the member's own view, POS lookup, and the customer-service console."""

from __future__ import annotations

from uuid import UUID

import strawberry
from strawberry.types import Info

from api.arguments import page_args as _page
from api.arguments import top_level_error as _top_level
from api.context import Context
from api.permissions import (
    CanReadMembers,
    CanServeMembers,
    IsCustomerService,
    IsMember,
)
from api.relay import Connection, decode_id
from api.types.members import Member, MergeCandidate, PiiAccessEntry
from domain.aftersales.member_codes import lookup_by_member_code
from domain.engagement.tags import filter_tagged, members_tagged
from domain.errors import DomainError
from domain.identity.model import ApiScope, Principal
from domain.members import candidates
from domain.members.model import CandidateState
from domain.members.services import (
    lookup_member,
    pii_access_log,
    resolve_member,
    search_members,
)
from domain.pagination import Page


async def member_node(info: Info[Context, object], key: UUID) -> Member | None:
    """A member by id, following merges; members see only themselves, CS sees everyone."""
    principal: Principal | None = info.context.principal
    if principal is None:
        return None
    member = await resolve_member(info.context.runtime.repos.members, key)
    if member is None:
        return None
    allowed = (
        (principal.is_member and principal.id == member.id)
        or principal.has_pii_access
        or principal.has_scope(ApiScope.MEMBERS_READ)
    )
    return Member.for_viewer(member, principal) if allowed else None


@strawberry.input
class MemberLookupInput:
    phone: str | None = None
    pos_card: str | None = None
    member_code: str | None = strawberry.field(
        default=None,
        description="The code the member shows (`me { memberCode }`): the answer includes "
        "their points. Give one of `phone`, `posCard` or `memberCode`.",
    )


@strawberry.type
class MemberQueries:
    @strawberry.field(permission_classes=[IsMember], description="The logged-in member.")
    async def me(self, info: Info[Context, object]) -> Member | None:
        principal = info.context.principal
        assert principal is not None
        return await member_node(info, principal.id)

    @strawberry.field(
        permission_classes=[CanServeMembers],
        description="POS and store staff: the member behind a phone number or member card.",
    )
    async def lookup_member(
        self, info: Info[Context, object], input: MemberLookupInput
    ) -> Member | None:
        runtime, principal = info.context.runtime, info.context.principal
        assert principal is not None
        try:
            if input.member_code is not None:  # the member's consent: the till sees points
                shown = Member.from_domain(
                    await lookup_by_member_code(
                        runtime.member_codes,
                        principal,
                        input.member_code,
                        input.phone,
                        input.pos_card,
                    )
                )
                shown.shown_code = True
                return shown
            found = await lookup_member(runtime.members, input.phone, input.pos_card)
        except DomainError as error:
            raise _top_level(error) from None
        if found is None:
            return None
        member, identities = found
        info.context.loaders.identities_by_member.prime(member.id, identities)
        return Member.from_domain(member)

    @strawberry.field(
        permission_classes=[CanReadMembers],
        description="One search box: an exact phone or card number; the last 4 digits of a "
        "phone (at most 20 members, rate limited); an order number (its member); else a "
        "fragment of the name (CS; API keys with members:read see names masked). Identifiers "
        "are always masked: `revealIdentifiers` unmasks, logged. `tagIds`: only members "
        "carrying every one of these tags (alone, without `search`: every such member, by id); "
        "with `search` a page may hold fewer than `first` members: follow `hasNextPage`.",
    )
    async def members(
        self,
        info: Info[Context, object],
        search: str = "",
        first: int | None = None,
        after: str | None = None,
        tag_ids: list[strawberry.ID] | None = None,
    ) -> Connection[Member]:
        page = _page(first, after)
        principal = info.context.principal
        runtime = info.context.runtime
        try:
            tags = [decode_id(t, "Tag", "tagIds") for t in tag_ids or []]
            if tags and not search.strip():
                tagged = await members_tagged(runtime.member_facts, tags, page)
                found = await info.context.loaders.member.load_many(list(tagged.items))
                result = Page(
                    [m for m in found if m is not None],
                    [str(m.id) for m in found if m is not None],
                    tagged.has_next,
                    tagged.has_previous,
                )
            else:
                result = await search_members(runtime.members, search, page, principal)
            if tags and search.strip():
                keep = await filter_tagged(runtime.member_facts, [m.id for m in result.items], tags)
                result = Page(
                    [m for m in result.items if m.id in keep],
                    [k for m, k in zip(result.items, result.keys, strict=True) if m.id in keep],
                    result.has_next,
                    result.has_previous,
                )
        except DomainError as error:
            raise _top_level(error) from None
        return Connection[Member].from_page(result, lambda m: Member.for_viewer(m, principal))

    @strawberry.field(
        permission_classes=[CanReadMembers],
        description="A member by id; the id of a merged member gives its survivor (CS; API "
        "keys with members:read see the name masked).",
    )
    async def member(self, info: Info[Context, object], id: strawberry.ID) -> Member | None:
        try:
            key = decode_id(id, "Member")
        except DomainError as error:
            raise _top_level(error) from None
        return await member_node(info, key)

    @strawberry.field(
        permission_classes=[IsCustomerService],
        description="Phones claimed by one account and held by another (CS queue), oldest first.",
    )
    async def merge_candidates(
        self,
        info: Info[Context, object],
        state: CandidateState | None = CandidateState.OPEN,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[MergeCandidate]:
        principal = info.context.principal
        assert principal is not None
        try:
            result = await candidates.merge_candidates(
                info.context.runtime.members, principal, state, _page(first, after)
            )
        except DomainError as error:
            raise _top_level(error) from None
        return Connection[MergeCandidate].from_page(result, MergeCandidate.from_domain)

    @strawberry.field(
        permission_classes=[IsCustomerService],
        description="Unmasked reads of personal data, newest first: ADMIN sees everyone's "
        "(`mine: true`: their own), a CS agent always only their own reveals.",
    )
    async def pii_access_log(
        self,
        info: Info[Context, object],
        first: int | None = None,
        after: str | None = None,
        mine: bool = False,
    ) -> Connection[PiiAccessEntry]:
        page = _page(first, after)
        principal = info.context.principal
        assert principal is not None
        try:
            result = await pii_access_log(info.context.runtime.members, principal, page, mine)
        except DomainError as error:
            raise _top_level(error) from None
        return Connection[PiiAccessEntry].from_page(result, PiiAccessEntry.from_domain)
