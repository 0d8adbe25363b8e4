"""The customer-service desk's mutations: internal notes, e-invoice requests."""

from __future__ import annotations

from datetime import date
from typing import cast
from uuid import UUID

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.context import Context
from api.errors import AfterSaleUserError, MemberUserError, SubscriptionUserError
from api.mutations import actor, mutate
from api.mutations.members import ConsentChangeInput, ConsentsPayload, MemberPayload
from api.mutations.subscriptions import SubscriptionPayload
from api.permissions import IsCustomerService, IsMember, IsStaff
from api.relay import decode_any_id, decode_id
from api.types.desk import InvoiceRequest, StaffNote
from api.types.members import Consents, Member
from api.types.subscriptions import Subscription
from domain.aftersales import acting, desk
from domain.aftersales.desk_model import NoteSubject
from domain.members.privacy import ConsentChange


@strawberry.input
class AddNoteInput:
    subject_id: strawberry.ID = strawberry.field(description="A Member's or an Order's id.")
    text: str


@strawberry.type
class AddNotePayload:
    note: StaffNote | None = None
    errors: list[AfterSaleUserError] = strawberry.field(default_factory=list)


@strawberry.input
class RequestInvoiceInput:
    order_id: strawberry.ID
    title: str = strawberry.field(description="A person's name or a company's, as invoiced.")
    tax_id: str | None = strawberry.field(
        default=None, description="A company's tax id (15-20 letters and digits)."
    )
    email: str = strawberry.field(description="Where the e-invoice is sent.")


@strawberry.input
class MarkInvoiceIssuedInput:
    id: strawberry.ID
    invoice_number: str


@strawberry.type
class InvoiceRequestPayload:
    invoice: InvoiceRequest | None = None
    errors: list[AfterSaleUserError] = strawberry.field(default_factory=list)


def _subject(global_id: str) -> tuple[NoteSubject, UUID]:
    """A note's subject: a Member's or an Order's global id (else INVALID_ID)."""
    field = ["input", "subjectId"]
    key = decode_id(global_id, ("Member", "Order"), field)
    kind = decode_any_id(global_id, field)[0]
    return (NoteSubject.ORDER if kind == "Order" else NoteSubject.MEMBER), key


@strawberry.type
class DeskMutations:
    @strawberry.mutation(
        permission_classes=[IsStaff],
        description="An internal note on a member or an order (CS, ADMIN; store staff on their "
        "stores' orders). Members never see notes.",
    )
    async def add_note(self, info: Info[Context, object], input: AddNoteInput) -> AddNotePayload:
        deps, caller = info.context.runtime.desk, actor(info)
        return await mutate(
            AddNotePayload,
            AfterSaleUserError,
            lambda: desk.add_note(deps, caller, *_subject(input.subject_id), input.text),
            lambda note: AddNotePayload(note=StaffNote.from_domain(note)),
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="The member asks for an e-invoice (发票) of a paid order of theirs, once "
        "per order.",
    )
    async def request_invoice(
        self, info: Info[Context, object], input: RequestInvoiceInput
    ) -> InvoiceRequestPayload:
        deps, caller = info.context.runtime.desk, actor(info)
        return await mutate(
            InvoiceRequestPayload,
            AfterSaleUserError,
            lambda: desk.request_invoice(
                deps,
                caller,
                decode_id(input.order_id, "Order", ["input", "orderId"]),
                input.title,
                input.tax_id,
                input.email,
            ),
            lambda request: InvoiceRequestPayload(invoice=InvoiceRequest.opened(info, request)),
        )

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="The invoicing system (CS, ADMIN) records the issued invoice's number.",
    )
    async def mark_invoice_issued(
        self, info: Info[Context, object], input: MarkInvoiceIssuedInput
    ) -> InvoiceRequestPayload:
        deps, caller = info.context.runtime.desk, actor(info)
        return await mutate(
            InvoiceRequestPayload,
            AfterSaleUserError,
            lambda: desk.mark_invoice_issued(
                deps,
                caller,
                decode_id(input.id, "InvoiceRequest", ["input", "id"]),
                input.invoice_number,
            ),
            lambda request: InvoiceRequestPayload(invoice=InvoiceRequest.opened(info, request)),
        )


# ---------------------------------------------------------------- acting for a member
# One design for every act (domain/aftersales/acting.py): a CS mutation named `...ForMember`
# (or `...MemberAccount`/`exportMemberData`) with the member's id and a reason; the change and
# the staff action record are one transaction; errors are the owning context's.


@strawberry.input
class ConsentsForMemberInput:
    member_id: strawberry.ID
    changes: list[ConsentChangeInput]
    policy_version: str
    reason: str = strawberry.field(description="Why, e.g. the ticket; it is logged.")


@strawberry.input
class BirthdayForMemberInput:
    member_id: strawberry.ID
    month: int
    day: int
    year: int | None = None
    reason: str = strawberry.field(description="Why, e.g. the ticket; it is logged.")


@strawberry.input
class ActForMemberInput:
    member_id: strawberry.ID
    reason: str = strawberry.field(description="Why, e.g. the ticket; it is logged.")


@strawberry.input
class DeleteMemberAccountInput:
    member_id: strawberry.ID
    reason: str
    confirm: bool


@strawberry.type
class ExportMemberDataPayload:
    document: JSON | None = strawberry.field(
        default=None, description="The member's export (written to the PII access log)."
    )
    errors: list[MemberUserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteMemberAccountPayload:
    ok: bool = False
    errors: list[MemberUserError] = strawberry.field(default_factory=list)


@strawberry.input
class PauseSubscriptionForMemberInput:
    member_id: strawberry.ID
    id: strawberry.ID = strawberry.field(description="A subscription of that member.")
    until: date | None = None
    reason: str


@strawberry.input
class CancelSubscriptionForMemberInput:
    member_id: strawberry.ID
    id: strawberry.ID = strawberry.field(description="A subscription of that member.")
    reason: str = strawberry.field(description="The cancellation's reason; it is logged.")


def _acting(info: Info[Context, object], member_id: str, reason: str) -> acting.ActingFor:
    key = decode_id(member_id, "Member", ["input", "memberId"])
    return acting.ActingFor(actor(info), key, reason)


def _subscription_id(value: str) -> UUID:
    return decode_id(value, "Subscription", ["input", "id"])


@strawberry.type
class ActForMemberMutations:
    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="CS records or withdraws consents as the member asked (channel CS).",
    )
    async def update_consents_for_member(
        self, info: Info[Context, object], input: ConsentsForMemberInput
    ) -> ConsentsPayload:
        deps = info.context.runtime.desk
        changes = [ConsentChange(c.purpose, c.granted) for c in input.changes]
        return await mutate(
            ConsentsPayload,
            MemberUserError,
            lambda: acting.update_consents_for(
                deps, _acting(info, input.member_id, input.reason), changes, input.policy_version
            ),
            lambda records: ConsentsPayload(consents=Consents.from_domain(records)),
        )

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="CS sets the member's birthday as the member told them.",
    )
    async def set_birthday_for_member(
        self, info: Info[Context, object], input: BirthdayForMemberInput
    ) -> MemberPayload:
        deps = info.context.runtime.desk
        return await mutate(
            MemberPayload,
            MemberUserError,
            lambda: acting.set_birthday_for(
                deps,
                _acting(info, input.member_id, input.reason),
                input.month,
                input.day,
                input.year,
            ),
            lambda member: MemberPayload(member=Member.from_domain(member)),
        )

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="CS reads the member's data export for them (PII access log).",
    )
    async def export_member_data(
        self, info: Info[Context, object], input: ActForMemberInput
    ) -> ExportMemberDataPayload:
        deps = info.context.runtime.desk
        return await mutate(
            ExportMemberDataPayload,
            MemberUserError,
            lambda: acting.export_for(deps, _acting(info, input.member_id, input.reason)),
            lambda document: ExportMemberDataPayload(document=cast(JSON, document)),
        )

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="CS deletes the member's account at their request: the same erasure as "
        "`deleteMyAccount`. Cannot be undone.",
    )
    async def delete_member_account(
        self, info: Info[Context, object], input: DeleteMemberAccountInput
    ) -> DeleteMemberAccountPayload:
        deps = info.context.runtime.desk
        return await mutate(
            DeleteMemberAccountPayload,
            MemberUserError,
            lambda: acting.delete_account_for(
                deps, _acting(info, input.member_id, input.reason), input.confirm
            ),
            lambda _: DeleteMemberAccountPayload(ok=True),
        )

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="CS pauses a member's subscription for them.",
    )
    async def pause_subscription_for_member(
        self, info: Info[Context, object], input: PauseSubscriptionForMemberInput
    ) -> SubscriptionPayload:
        deps = info.context.runtime.desk
        return await mutate(
            SubscriptionPayload,
            SubscriptionUserError,
            lambda: acting.pause_subscription_for(
                deps,
                _acting(info, input.member_id, input.reason),
                _subscription_id(input.id),
                input.until,
            ),
            lambda s: SubscriptionPayload(subscription=Subscription.from_domain(s)),
        )

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="CS cancels a member's subscription for them (a prepaid plan's unused "
        "deliveries are refunded).",
    )
    async def cancel_subscription_for_member(
        self, info: Info[Context, object], input: CancelSubscriptionForMemberInput
    ) -> SubscriptionPayload:
        deps = info.context.runtime.desk
        return await mutate(
            SubscriptionPayload,
            SubscriptionUserError,
            lambda: acting.cancel_subscription_for(
                deps, _acting(info, input.member_id, input.reason), _subscription_id(input.id)
            ),
            lambda s: SubscriptionPayload(subscription=Subscription.from_domain(s)),
        )
