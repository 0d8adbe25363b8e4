"""A member's birthday: set or cleared by the member (`setMyBirthday`, `clearMyBirthday`), or
set by CS for them (the desk's acting-for-a-member, audited there). Real dates only (Feb 29
allowed, with a leap year if the year is given), the year 1900 up to today. Engagement keeps a
copy in member facts ("MM-DD") from `MemberProfileChanged`, for segments and the BIRTHDAY
automation trigger."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain.errors import MemberError, MemberErrorCode
from domain.events import MemberProfileChanged
from domain.identity.model import Principal
from domain.locations.model import local_date
from domain.members.deps import MemberDeps
from domain.members.model import FIRST_BIRTH_YEAR, LEAP_YEAR, Birthday, Member
from domain.members.services import active_member
from domain.uow import UnitOfWork


def _invalid(message: str, name: str) -> MemberError:
    return MemberError(MemberErrorCode.INVALID_INPUT, message, ["input", name])


def clean_birthday(month: int, day: int, year: int | None, today: date) -> Birthday:
    """Every rule on a birthday, each error naming its field."""
    if not 1 <= month <= 12:
        raise _invalid("A month is 1-12.", "month")
    try:
        date(LEAP_YEAR, month, day)
    except ValueError:
        raise _invalid(f"Month {month} has no day {day}.", "day") from None
    if year is not None:
        if not FIRST_BIRTH_YEAR <= year <= today.year:
            raise _invalid(f"A year is {FIRST_BIRTH_YEAR}-{today.year}.", "year")
        try:
            born = date(year, month, day)
        except ValueError:
            raise _invalid(f"{year} has no {month:02d}-{day:02d}.", "day") from None
        if born > today:
            raise _invalid("A birthday is not in the future.", "day")
    return Birthday(month, day, year)


async def _change_in_uow(
    deps: MemberDeps, uow: UnitOfWork, member_id: UUID, birthday: Birthday | None
) -> Member:
    member = await active_member(uow, member_id)
    member.birthday, member.updated_at = birthday, deps.auth.clock.now()
    await uow.members.save(member)
    await deps.events.dispatch(uow, MemberProfileChanged(member.id))
    return member


async def set_birthday_in_uow(
    deps: MemberDeps, uow: UnitOfWork, member_id: UUID, month: int, day: int, year: int | None
) -> Member:
    """Set (or correct) the member's birthday in the caller's transaction."""
    # today on the brand's default clock: a member born today in Shanghai is born today
    today = local_date(deps.auth.clock.now(), None)
    return await _change_in_uow(deps, uow, member_id, clean_birthday(month, day, year, today))


async def set_my_birthday(
    deps: MemberDeps, principal: Principal, month: int, day: int, year: int | None
) -> Member:
    async with deps.auth.uow() as uow:
        return await set_birthday_in_uow(deps, uow, principal.id, month, day, year)


async def clear_my_birthday(deps: MemberDeps, principal: Principal) -> Member:
    """The member takes their birthday back: no more birthday automations."""
    async with deps.auth.uow() as uow:
        return await _change_in_uow(deps, uow, principal.id, None)
