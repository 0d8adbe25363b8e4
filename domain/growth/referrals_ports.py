"""Storage of referrals (tables `referral_program`, `referral_code`, `referral`,
`referral_month`, `referral_erased_identity`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.growth.referrals_model import (
    Referral,
    ReferralCounts,
    ReferralProgram,
    ReferralStatus,
)


class ReferralRepository(Protocol):
    async def add_program(self, program: ReferralProgram) -> None: ...
    async def get_program(
        self, program_id: UUID, *, lock: bool = False
    ) -> ReferralProgram | None: ...
    async def save_program(self, program: ReferralProgram) -> None: ...
    async def active_program(self) -> ReferralProgram | None:
        """The program in ACTIVE status, if any (at most one)."""
        ...

    async def programs(self, limit: int) -> list[ReferralProgram]:
        """Newest first."""
        ...

    async def put_code(self, member_id: UUID, code: str, at: datetime) -> None:
        """Store the member's code (nothing when it is stored already)."""
        ...

    async def member_of_code(self, code: str) -> UUID | None: ...

    async def add(self, referral: Referral) -> bool:
        """False when the invitee has a referral already (the first decision stands)."""
        ...

    async def of_invitee(self, invitee_id: UUID, *, lock: bool = False) -> Referral | None: ...
    async def save(self, referral: Referral) -> None: ...
    async def device_seen(self, device_hash: str) -> bool:
        """Whether an earlier referral came from this device."""
        ...

    async def of_referrer(
        self, referrer_id: UUID, limit: int, statuses: Sequence[ReferralStatus] = ()
    ) -> list[Referral]:
        """Newest first."""
        ...

    async def counts(self, referrer_id: UUID) -> ReferralCounts: ...
    async def take_month_slot(self, referrer_id: UUID, month: str, cap: int) -> bool:
        """Count one more reward of the referrer in `month` if it stays within `cap`: one
        conditional update, so concurrent hand-overs never go over."""
        ...

    async def remember_erased(self, identity_hashes: Sequence[str], at: datetime) -> None: ...
    async def any_erased(self, identity_hashes: Sequence[str]) -> bool: ...
