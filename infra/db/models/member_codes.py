"""The member codes spent at the till (after-sales context; `domain/aftersales/member_codes`)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class MemberCodeUseRow(Model):
    id = fields.UUIDField(primary_key=True)
    nonce = fields.CharField(max_length=64, unique=True)  # a replay finds its first use
    member_id = fields.UUIDField()  # as issued; a merge since then does not move it
    actor = fields.CharField(max_length=100)
    used_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()

    class Meta:
        table = "member_code_use"
