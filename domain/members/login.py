"""Member login and phone binding: WeChat mini-program codes and SMS one-time codes."""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from domain.errors import MemberError, MemberErrorCode
from domain.events import MemberLoggedIn
from domain.identity.model import Principal, TokenPair
from domain.identity.services import issue_tokens
from domain.ids import new_id
from domain.members.candidates import queue_candidate
from domain.members.deps import MemberDeps
from domain.members.identifiers import normalise_phone
from domain.members.merge import merge_in_uow
from domain.members.model import Channel, IdentityKind, Member, PhoneCode, VerifiedBy
from domain.members.ports import SmsKind, SmsMessage, WeChatSession
from domain.members.services import (
    PhoneHeldElsewhere,
    active_member,
    bind_identifier,
    clean_display_name,
    find_member,
    identity_hash,
    link_identity,
    member_principal,
    new_member,
)
from domain.uow import UnitOfWork

CODE_RE = re.compile(r"^[0-9]{6}$")


@dataclass(frozen=True)
class Referred:
    """A login's referral code, the client's device fingerprint and a shopping guide's code
    (growth decides)."""

    code: str = ""
    device: str | None = None
    guide_code: str = ""


async def _referred(
    deps: MemberDeps,
    uow: UnitOfWork,
    member: Member,
    created: bool,
    referred: Referred | None,
    identifiers: list[tuple[IdentityKind, str, str]],
) -> None:
    """Tell growth of a login that named a referral or a guide's code; it records a refusal,
    never fails."""
    if referred is None or not (referred.code.strip() or referred.guide_code.strip()):
        return
    hashes = tuple(identity_hash(deps, kind, app, value) for kind, app, value in identifiers)
    event = MemberLoggedIn(
        member.id, created, referred.code, referred.device, hashes, referred.guide_code
    )
    await deps.events.dispatch(uow, event)


async def login_with_wechat(
    deps: MemberDeps,
    app_id: str,
    code: str,
    display_name: str | None = None,
    referred: Referred | None = None,
) -> tuple[Member, TokenPair, bool]:
    """wx.login() code -> the member (created on first login) and tokens; (.., created).
    `display_name` is the nickname the member typed in WeChat's nickname field: it names a
    member created now (a returning member keeps theirs)."""
    name = clean_display_name(display_name)
    if not deps.wechat.knows_app(app_id):
        raise MemberError(
            MemberErrorCode.UNKNOWN_APP,
            f"Mini-program {app_id[:40]!r} is not registered.",
            ["appId"],
        )
    session = await deps.wechat.code_to_session(app_id, code)  # outside any transaction
    for attempt in (1, 2):
        try:
            async with deps.auth.uow() as uow:
                member, created = await _member_for_wechat(deps, uow, app_id, session, name)
                used = [(IdentityKind.WECHAT_OPENID, app_id, session.openid)]
                if session.unionid:
                    used.append((IdentityKind.WECHAT_UNIONID, "", session.unionid))
                await _referred(deps, uow, member, created, referred, used)
                pair = await issue_tokens(deps.auth, uow, member_principal(member))
            return member, pair, created
        except MemberError as error:
            # A concurrent first login created the member a moment ago: use that one.
            if error.code is not MemberErrorCode.IDENTIFIER_TAKEN or attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _member_for_wechat(
    deps: MemberDeps, uow: UnitOfWork, app_id: str, session: WeChatSession, name: str
) -> tuple[Member, bool]:
    by_union = (
        await find_member(deps, uow, IdentityKind.WECHAT_UNIONID, session.unionid)
        if session.unionid
        else None
    )
    by_open = await find_member(deps, uow, IdentityKind.WECHAT_OPENID, session.openid, app_id)
    found = by_union or by_open
    member = found[0] if found else await new_member(deps, uow, Channel.MINI_PROGRAM, name)
    if by_union and by_open and by_union[0].id != by_open[0].id:
        # WeChat says both ids are one person: fold the openid's member into the union's.
        await merge_in_uow(
            deps, uow, by_open[0].id, member.id, "WeChat unionid and openid", "SYSTEM"
        )
    elif by_open is None:
        await link_identity(
            deps,
            uow,
            member,
            IdentityKind.WECHAT_OPENID,
            session.openid,
            VerifiedBy.WECHAT,
            app_id,
        )
    if session.unionid and by_union is None:
        await link_identity(
            deps, uow, member, IdentityKind.WECHAT_UNIONID, session.unionid, VerifiedBy.WECHAT
        )
    return member, found is None


async def bind_wechat_phone(
    deps: MemberDeps, principal: Principal, phone_code: str, app_id: str | None
) -> tuple[Member, bool]:
    """The mini-program phone-number button: WeChat vouches for the number. Returns the
    member as it is after the binding, and whether the phone's holder was merged into it."""
    app = _app_for(deps, app_id)
    phone = normalise_phone(await deps.wechat.phone_number(app, phone_code))
    return await _bind_phone(deps, principal, phone, VerifiedBy.WECHAT)


async def _bind_phone(
    deps: MemberDeps, principal: Principal, number: str, proof: VerifiedBy
) -> tuple[Member, bool]:
    """A proven phone to the member; a holder with its own platform identity goes to CS's
    queue (PHONE_IN_USE) instead of being merged away. The member is read again after a
    merge, which may have given it the holder's name."""
    try:
        async with deps.auth.uow() as uow:
            member = await active_member(uow, principal.id)
            merged = await bind_identifier(
                deps, uow, member, IdentityKind.PHONE, number, proof, principal.label
            )
            if merged:
                member = await active_member(uow, principal.id)
    except PhoneHeldElsewhere as held:
        await queue_candidate(deps, principal.id, held)
        raise
    return member, merged


def _app_for(deps: MemberDeps, app_id: str | None) -> str:
    if app_id is not None:
        if not deps.wechat.knows_app(app_id):
            raise MemberError(MemberErrorCode.UNKNOWN_APP, "Unknown mini-program.", ["appId"])
        return app_id
    if deps.default_wechat_app is not None:
        return deps.default_wechat_app
    raise MemberError(MemberErrorCode.INVALID_INPUT, "Say which mini-program (`appId`).", ["appId"])


def login_code_sms(code: str, ttl: timedelta) -> SmsMessage:
    """The login-code text; a provider's template takes the code and the minutes, in order."""
    minutes = str(int(ttl.total_seconds() // 60))
    return SmsMessage(
        SmsKind.LOGIN_CODE,
        (code, minutes),
        f"Your omnishelf code is {code}. It expires in {minutes} minutes.",
    )


def _code_hash(deps: MemberDeps, phone: str, code: str) -> str:
    return deps.vault.lookup_hash("phone-code", f"{phone}:{code}")


async def request_phone_code(deps: MemberDeps, phone: str, client_address: str) -> timedelta:
    """Text a 6-digit code; returns how long it stays valid. Sends are rate limited."""
    number = normalise_phone(phone)
    phone_hash = deps.vault.lookup_hash("phone", number)
    policy = deps.policy
    for key, limit, window in (
        (f"sms:resend:{phone_hash}", 1, policy.code_resend_seconds),
        (f"sms:phone:{phone_hash}", policy.codes_per_phone, policy.code_window_seconds),
        (f"sms:addr:{client_address}", policy.codes_per_address, policy.code_window_seconds),
    ):
        wait = await deps.auth.limiter.hit(key, limit, window)
        if wait:
            raise MemberError(
                MemberErrorCode.TOO_MANY_REQUESTS,
                f"Too many codes requested. Try again in {wait} seconds.",
                ["phone"],
            )
    code = f"{secrets.randbelow(1_000_000):06d}"
    now = deps.auth.clock.now()
    async with deps.auth.uow() as uow:
        await uow.members.add_phone_code(
            PhoneCode(
                id=new_id(),
                phone_hash=phone_hash,
                code_hash=_code_hash(deps, number, code),
                expires_at=now + policy.code_ttl,
                attempts=0,
                created_at=now,
            )
        )
    await deps.sms.send(number, login_code_sms(code, policy.code_ttl))
    return policy.code_ttl


async def consume_phone_code(deps: MemberDeps, phone: str, code: str) -> str:
    """Check and spend the latest code sent to the phone; returns the E.164 number."""
    number = normalise_phone(phone)
    phone_hash = deps.vault.lookup_hash("phone", number)
    now = deps.auth.clock.now()
    wrong_left: int | None = None
    async with deps.auth.uow() as uow:
        sent = await uow.members.latest_phone_code(phone_hash)
        if sent is None:
            raise _code_error(MemberErrorCode.INVALID_CODE, "No code was sent to this phone.")
        if sent.consumed_at is not None:
            raise _code_error(MemberErrorCode.CODE_ALREADY_USED, "This code was already used.")
        if sent.expires_at <= now:
            raise _code_error(MemberErrorCode.CODE_EXPIRED, "This code expired; ask for a new one.")
        # The comparison is counted before it is made, in one conditional update (committed
        # even when the code is wrong): read-then-count let 300 concurrent guesses compare
        # 21-40 times.
        if not await uow.members.claim_code_attempt(sent.id, deps.policy.code_max_attempts):
            now_used = await uow.members.latest_phone_code(phone_hash)
            if now_used is not None and now_used.consumed_at is not None:
                raise _code_error(MemberErrorCode.CODE_ALREADY_USED, "This code was already used.")
            raise _code_error(
                MemberErrorCode.TOO_MANY_ATTEMPTS, "Too many wrong codes; ask for a new one."
            )
        good = CODE_RE.fullmatch(code.strip()) is not None and hmac.compare_digest(
            sent.code_hash, _code_hash(deps, number, code.strip())
        )
        if not good:
            wrong_left = deps.policy.code_max_attempts - sent.attempts - 1
        elif not await uow.members.consume_phone_code(sent.id, now):
            raise _code_error(MemberErrorCode.CODE_ALREADY_USED, "This code was already used.")
    if wrong_left is not None:
        raise _code_error(
            MemberErrorCode.INVALID_CODE, f"Wrong code; {max(wrong_left, 0)} tries left."
        )
    return number


def _code_error(code: MemberErrorCode, message: str) -> MemberError:
    return MemberError(code, message, ["code"])


async def login_with_phone(
    deps: MemberDeps,
    phone: str,
    code: str,
    channel: Channel = Channel.H5,
    referred: Referred | None = None,
) -> tuple[Member, TokenPair, bool]:
    """H5 and kiosk login by SMS code; a first login creates the member."""
    number = await consume_phone_code(deps, phone, code)
    async with deps.auth.uow() as uow:
        found = await find_member(deps, uow, IdentityKind.PHONE, number)
        member = found[0] if found else await new_member(deps, uow, channel)
        await bind_identifier(
            deps, uow, member, IdentityKind.PHONE, number, VerifiedBy.SMS, "SYSTEM"
        )
        used = [(IdentityKind.PHONE, "", number)]
        await _referred(deps, uow, member, found is None, referred, used)
        pair = await issue_tokens(deps.auth, uow, member_principal(member))
    return member, pair, found is None


async def verify_phone(
    deps: MemberDeps, principal: Principal, phone: str, code: str
) -> tuple[Member, bool]:
    """Bind a phone proven by SMS to the logged-in member (merging its old owner in); as
    `bind_wechat_phone`."""
    number = await consume_phone_code(deps, phone, code)
    return await _bind_phone(deps, principal, number, VerifiedBy.SMS)


async def purge_phone_codes(deps: MemberDeps) -> int:
    """Job: forget codes a day after they expired (idempotent)."""
    async with deps.auth.uow() as uow:
        return await uow.members.delete_phone_codes_before(
            deps.auth.clock.now() - timedelta(days=1)
        )
