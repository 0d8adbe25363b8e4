"""A member price (会员价): what members of one loyalty tier pay for one variant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class MemberPrice:
    variant_id: UUID
    tier: str  # one of loyalty's tier names (MEMBER, SILVER, GOLD, DIAMOND by default)
    price: int  # fen; a price above the list price is never charged (the list price is)
    updated_at: datetime
    updated_by: str
