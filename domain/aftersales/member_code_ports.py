"""The port of the member codes at the till: the record of codes used (see `member_codes`)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID


class MemberCodeRepository(Protocol):
    async def use(
        self, nonce: str, member_id: UUID, actor: str, used_at: datetime, expires_at: datetime
    ) -> bool:
        """Record the code's use; False when it was used before (its nonce is unique)."""
        ...

    async def is_used(self, nonce: str) -> bool: ...
    async def delete_used_before(self, cutoff: datetime) -> int:
        """Delete the uses recorded before `cutoff` of codes that expired before it too (a
        code that could still be shown keeps its record); how many went."""
        ...
