"""The used member codes: an insert that a unique nonce turns into "used before"."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.aftersales.member_code_ports import MemberCodeRepository
from domain.ids import new_id
from infra.db import sql
from infra.db.models.member_codes import MemberCodeUseRow


class TortoiseMemberCodeRepository(MemberCodeRepository):
    async def use(
        self, nonce: str, member_id: UUID, actor: str, used_at: datetime, expires_at: datetime
    ) -> bool:
        # ON CONFLICT, not a caught IntegrityError: a failed insert would abort PostgreSQL's
        # transaction. Two tills racing: the second waits for the first's commit, then skips.
        inserted = await sql.fetch(
            "INSERT INTO member_code_use (id, nonce, member_id, actor, used_at, expires_at) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (nonce) DO NOTHING RETURNING id",
            new_id(),
            nonce,
            member_id,
            actor,
            used_at,
            expires_at,
        )
        return bool(inserted)

    async def is_used(self, nonce: str) -> bool:
        return bool(await sql.fetch("SELECT 1 FROM member_code_use WHERE nonce = $1", nonce))

    async def delete_used_before(self, cutoff: datetime) -> int:
        return await MemberCodeUseRow.filter(used_at__lt=cutoff, expires_at__lt=cutoff).delete()
