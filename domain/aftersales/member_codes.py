"""The member code at the till: a short-lived signed code the mini-program shows as a QR or
barcode (`me { memberCode }`). The till scans it to identify the member with their points
balance (`lookupMember(input: {memberCode})`); an order the till places (`placeOrder`) or a
till sale it records (`recordPosSales`) with the code may spend the member's points. The code
is the member's consent to one sale: its use is recorded under a unique key in that sale's
transaction, so a replay is refused.

A code is stateless until it is used: base32 (RFC 4648, no padding: 42 characters of A-Z and
2-7, QR alphanumeric mode and Code 128) of the member id (16 bytes), the expiry in Unix
seconds (4 bytes) and 6 bytes of an HMAC over both. Issuing writes nothing; a wrong signature
is refused before any database read, and wrong codes count against the device's rate limit."""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.aftersales.deps import MemberCodeDeps
from domain.errors import AfterSaleError, AfterSaleErrorCode
from domain.identity.model import Principal, PrincipalKind
from domain.members.model import Member, MemberStatus
from domain.members.services import surviving_member_in_uow
from domain.uow import UnitOfWork

_MEMBER, _EXPIRY, _MAC = 16, 4, 6  # bytes
# How long the record of a used code is kept: a code lives a minute and is refused once expired
# before its record is read, so the week only answers questions about a till's sales.
USES_KEPT = timedelta(days=7)


@dataclass(frozen=True)
class MemberCode:
    """A code as shown to the member, or as read back from a till."""

    code: str
    member_id: UUID  # as issued: a merge since then is followed when the code is used
    expires_at: datetime

    @property
    def nonce(self) -> str:
        """The code's unique key in the used-codes table."""
        return f"{self.member_id}:{int(self.expires_at.timestamp())}"


def issue_member_code(deps: MemberCodeDeps, member_id: UUID) -> MemberCode:
    expires_at = (deps.clock.now() + deps.policy.ttl).replace(microsecond=0)
    payload = member_id.bytes + int(expires_at.timestamp()).to_bytes(_EXPIRY, "big")
    raw = payload + _mac(deps, payload)
    code = base64.b32encode(raw).decode().rstrip("=")
    return MemberCode(code, member_id, expires_at)


def _mac(deps: MemberCodeDeps, payload: bytes) -> bytes:
    return bytes.fromhex(deps.signer.sign(f"member-code:{payload.hex()}"))[:_MAC]


def read_member_code(deps: MemberCodeDeps, code: str, field: str = "memberCode") -> MemberCode:
    """The code's member and expiry, if it is well formed, signed by us, and not expired."""
    read = decode_member_code(deps, code, field)
    _check_fresh(deps, read, field)
    return read


def decode_member_code(deps: MemberCodeDeps, code: str, field: str = "memberCode") -> MemberCode:
    """The code's member and expiry, if it is well formed and signed by us (expired or not:
    a retried sale is answered from its first recording, however late)."""
    text = code.strip().upper()
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != _MEMBER + _EXPIRY + _MAC or not hmac.compare_digest(
        raw[-_MAC:], _mac(deps, raw[:-_MAC])
    ):
        raise AfterSaleError(
            AfterSaleErrorCode.INVALID_MEMBER_CODE,
            "This is not a member code; ask the member to show it again.",
            [field],
        )
    expiry = int.from_bytes(raw[_MEMBER:-_MAC], "big")
    return MemberCode(text, UUID(bytes=raw[:_MEMBER]), datetime.fromtimestamp(expiry, UTC))


def _check_fresh(deps: MemberCodeDeps, read: MemberCode, field: str = "memberCode") -> None:
    if read.expires_at <= deps.clock.now():
        raise AfterSaleError(
            AfterSaleErrorCode.MEMBER_CODE_EXPIRED,
            "This member code has expired; the member's app shows a new one.",
            [field],
        )


def check_presenter(actor: Principal, field: str = "memberCode") -> None:
    """The till presents a member code: a POS or kiosk device or store staff, never a member
    (who signs in) or an integration."""
    if actor.kind not in (PrincipalKind.STAFF, PrincipalKind.DEVICE):
        raise AfterSaleError(
            AfterSaleErrorCode.FORBIDDEN, "Member codes are scanned at the till.", [field]
        )


async def lookup_by_member_code(
    deps: MemberCodeDeps,
    actor: Principal,
    code: str,
    phone: str | None = None,
    pos_card: str | None = None,
) -> Member:
    """The member behind a fresh, unused code (the survivor of a merge since it was issued).
    Wrong codes count against the device's limit; right ones are given back."""
    if phone is not None or pos_card is not None:
        raise AfterSaleError(
            AfterSaleErrorCode.INVALID_INPUT,
            "Give one of `phone`, `posCard` or `memberCode`.",
            ["memberCode"],
        )
    check_presenter(actor)
    key = f"member-code:{actor.label}"
    policy = deps.policy
    if await deps.limiter.hit(key, policy.lookups_per_device, policy.lookup_window_seconds):
        raise AfterSaleError(
            AfterSaleErrorCode.TOO_MANY_ATTEMPTS,
            "Too many wrong member codes from this till; wait a minute.",
            ["memberCode"],
        )
    read = read_member_code(deps, code)
    async with deps.uow() as uow:
        if await uow.member_codes.is_used(read.nonce):
            raise _used()
        member = await _member_of(uow, read)
    await deps.limiter.give_back(key)
    return member


async def use_member_code_in_uow(
    deps: MemberCodeDeps,
    uow: UnitOfWork,
    actor: Principal,
    read: MemberCode,
    member_id: UUID | None = None,
) -> Member:
    """Spend a decoded code inside the caller's transaction (which rolls the use back if the
    sale fails): the member it stands for, the survivor of a merge since it was issued. An
    expired code, or one of another member than `member_id` when the till names one, is
    refused."""
    check_presenter(actor)
    _check_fresh(deps, read)
    member = await _member_of(uow, read)
    if member_id is not None and member_id not in (member.id, read.member_id):
        raise AfterSaleError(
            AfterSaleErrorCode.INVALID_MEMBER_CODE,
            "This member code belongs to another member than `memberId`.",
            ["memberCode"],
        )
    if not await uow.member_codes.use(
        read.nonce, read.member_id, actor.label, deps.clock.now(), read.expires_at
    ):
        raise _used()
    return member


async def _member_of(uow: UnitOfWork, read: MemberCode) -> Member:
    member = await surviving_member_in_uow(uow, read.member_id)
    if member is None or member.status is not MemberStatus.ACTIVE:
        raise AfterSaleError(
            AfterSaleErrorCode.INVALID_MEMBER_CODE,
            "No active member has this code.",
            ["memberCode"],
        )
    return member


def _used() -> AfterSaleError:
    return AfterSaleError(
        AfterSaleErrorCode.MEMBER_CODE_USED,
        "This member code was used for a sale already; the member's app shows a new one.",
        ["memberCode"],
    )


async def purge_used_codes(deps: MemberCodeDeps) -> int:
    """Job: forget the codes used more than `USES_KEPT` ago (idempotent)."""
    async with deps.uow() as uow:
        return await uow.member_codes.delete_used_before(deps.clock.now() - USES_KEPT)
